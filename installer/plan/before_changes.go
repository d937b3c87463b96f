package plan

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/obsbox/obsbox/installer/catalog"
)

// beforeChanges is shell the apply script runs right after writing the
// record and before it creates anything, for the sake of a later uninstall:
// it saves shadow's backup files before obsbox's first useradd, and takes
// over data folders an earlier `uninstall --keep-data` left.
func (h *Host) beforeChanges() string {
	var b strings.Builder
	if h.createsAccounts() {
		b.WriteString(clearStaleShadowLocks())
		b.WriteString(saveShadowBackups())
	}
	if h.Record != nil {
		var comps []string
		for c := range h.Record.Components {
			comps = append(comps, c)
		}
		slices.Sort(comps)
		for _, c := range comps {
			b.WriteString(h.adoptKeptData(c))
		}
	}
	return b.String()
}

func (h *Host) createsAccounts() bool {
	for _, a := range h.Actions {
		switch a.step.(type) {
		case CreateUser, CreateGroup:
			return true
		}
	}
	return false
}

// saveShadowBackups copies shadow's backup files (or notes their absence)
// into BeforeDir once, with the checksums of the user database they back
// up: uninstall restores them only if the database is back to that state.
func saveShadowBackups() string {
	tmp := q(BeforeDir + ".obsbox-tmp")
	var live []string
	for _, f := range shadowLive {
		live = append(live, q(f))
	}
	return fmt.Sprintf(`if [ ! -d %[1]s ]; then
rm -rf %[2]s && mkdir -m 700 %[2]s
for f in %[3]s; do n=${f##*/}; if [ -f "$f" ]; then cp -p "$f" %[2]s/"$n"; else : > %[2]s/"$n.absent"; fi; done
(cd / && for f in %[4]s; do [ ! -f "$f" ] || sha256sum "$f"; done) > %[2]s/live.sha256
mv %[2]s %[1]s
fi
`, q(BeforeDir), tmp, strings.Join(shadowBackups, " "), strings.Join(live, " "))
}

// adoptKeptData takes over component c's data folder kept by `uninstall
// --keep-data`: the user and group come back with their old ids when those
// are free, files that belonged to the old ids go to the new ones, and the
// note goes. The plan's own group and user steps create the accounts,
// with the kept ids as an option, so they stay as apply makes them; getent
// then skips the plan's steps later on.
func (h *Host) adoptKeptData(c string) string {
	d := catalog.DataDir(c)
	user := catalog.UserName(c)
	var group, account Step
	for _, a := range h.Actions {
		if a.Component != c {
			continue
		}
		switch s := a.step.(type) {
		case CreateGroup:
			s.KeptID = true
			group = s
		case CreateUser:
			s.KeptID = true
			account = s
		}
	}
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...); b.WriteByte('\n') }
	w("if [ -f %s ]; then", q(path.Join(d, KeptNoteName)))
	w("ou=$(stat -c %%u %[1]s); og=$(stat -c %%g %[1]s)", q(d))
	if group != nil {
		w(`obsbox_gid=; getent group "$og" >/dev/null || obsbox_gid="--gid $og"`)
		writeSteps(&b, group)
	}
	if account != nil {
		w(`obsbox_uid=; getent passwd "$ou" >/dev/null || obsbox_uid="--uid $ou"`)
		writeSteps(&b, account)
	}
	// Only what the old ids owned changes hands; root's entries stay root's.
	// chown -R walks the tree from each folder's own descriptor and -h
	// changes links, not what they point at: whoever holds the old ids now
	// (another account may have been given them) cannot steer it elsewhere
	// by swapping a folder for a link, as they could between find and chown.
	w(`if [ "$ou" != 0 ] && [ "$(id -u %[1]s)" != "$ou" ]; then chown -R -h --from="$ou" %[1]s %[2]s; fi`, q(user), q(d))
	w(`if [ "$og" != 0 ] && [ "$(getent group %[1]s | cut -d: -f3)" != "$og" ]; then chown -R -h --from=":$og" :%[1]s %[2]s; fi`, q(user), q(d))
	w("rm -f %s", q(path.Join(d, KeptNoteName)))
	w("fi")
	return b.String()
}

// clearStaleShadowLocks removes the lock files useradd, groupadd, userdel
// and groupdel leave when they are killed (an interrupted run): a stale
// /etc/passwd.lock makes every later user change on the host fail, and its
// /etc/passwd.PID companion is litter. A lock whose process still runs stays.
func clearStaleShadowLocks() string {
	return `for f in /etc/passwd /etc/shadow /etc/group /etc/gshadow /etc/subuid /etc/subgid; do
	for l in "$f".[0-9]*; do
		[ -f "$l" ] || continue
		p=${l##*.}
		case "$p" in *[!0-9]*) continue ;; esac
		kill -0 "$p" 2>/dev/null || rm -f "$l"
	done
	if [ -f "$f.lock" ]; then
		p=$(cat "$f.lock" 2>/dev/null || true)
		case "$p" in '' | *[!0-9]*) ;; *) kill -0 "$p" 2>/dev/null || rm -f "$f.lock" ;; esac
	fi
done
`
}
