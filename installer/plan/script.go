package plan

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
)

// ExitCheckFailed is the apply script's exit code when a component's own
// tool rejected the new configuration; nothing on the host changed then.
const ExitCheckFailed = 3

// CheckFailedMarker starts the line naming the component whose check failed.
const CheckFailedMarker = "@@obsbox check-failed "

// DoneMarker is the apply script's last line on success.
const DoneMarker = "@@obsbox done"

const scriptHeader = `set -eu
umask 022
export LC_ALL=C
S=%s
C=$(mktemp -d /var/tmp/obsbox-apply.XXXXXX)
trap 'rm -rf "$C"' EXIT
install_file() { # staged-name dest mode owner:group
	cp "$S/$1" "$2.obsbox-tmp" && chmod "$3" "$2.obsbox-tmp" && chown "$4" "$2.obsbox-tmp" && mv -f "$2.obsbox-tmp" "$2"
}
install_tree() { # extracted-name dest
	rm -rf "$2.obsbox-tmp" && mv "$C/$1" "$2.obsbox-tmp" && rm -rf "$2" && mv "$2.obsbox-tmp" "$2"
}
switch_link() { # target link
	ln -sfn "$1" "$2.obsbox-tmp" && mv -Tf "$2.obsbox-tmp" "$2"
}
`

// Script returns the shell that performs the plan as root. Everything that
// can fail without changing the host (checksums, extraction, configuration
// checks) runs first; the record of what will be created is written before
// anything is created, so an interrupted run can always be undone.
func (h *Host) Script() string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...); b.WriteByte('\n') }
	fmt.Fprintf(&b, scriptHeader, q(h.staging))

	// 1. The staged files are what the controller sent.
	if len(h.allStaged()) > 0 {
		w("cd \"$S\"")
		w("sha256sum -c --quiet --strict <<'OBSBOX_SUMS' || { echo 'staged files do not match their checksums' >&2; exit 1; }")
		for _, n := range h.allStaged() {
			w("%s  %s", n, n)
		}
		w("OBSBOX_SUMS")
		w("cd /")
	}

	// 2. New binaries, extracted aside, all at once: unpacking is most of a
	// fresh install's time on the host.
	for _, t := range h.trees {
		d := "$C/" + treeTmp(t.component)
		w("mkdir %q && { tar -xzf \"$S/%s\" -C %q --strip-components=1 --no-same-owner --no-same-permissions & echo $! > %q; }", d, t.staged, d, d+".pid")
	}
	for _, t := range h.trees {
		d := "$C/" + treeTmp(t.component)
		w("wait $(cat %q) || { echo 'unpacking %s %s failed' >&2; exit 1; }", d+".pid", t.component, t.version)
		w("chmod -R u+rwX,go+rX,go-w %q", d)
		for _, bin := range t.binaries {
			w("[ -x %q ] || { echo 'bundle %s %s has no executable %s' >&2; exit 1; }", d+"/"+bin, t.component, t.version, bin)
		}
		w("echo %s > %q", t.staged, d+"/.obsbox-bundle")
	}

	// 3. Each component's own tool checks the configuration that is about to go live.
	for _, c := range h.checks {
		d := "$C/cfg-" + c.component
		w("mkdir %q", d)
		w("if [ -d %s ]; then cp -a %s/. %q/; fi", q(c.configDir), q(c.configDir), d)
		rels := make([]string, 0, len(c.files))
		for rel := range c.files {
			rels = append(rels, rel)
		}
		sort.Strings(rels)
		for _, rel := range rels {
			if name := c.files[rel]; name == "" {
				w("rm -f %q", d+"/"+rel)
			} else {
				w("mkdir -p %q && cp \"$S/%s\" %q", path.Dir(d+"/"+rel), name, d+"/"+rel)
			}
		}
		bin := c.bin
		if !strings.HasPrefix(bin, "$C/") {
			bin = q(bin)
		} else {
			bin = fmt.Sprintf("%q", bin)
		}
		args := make([]string, len(c.args))
		for i, a := range c.args {
			args[i] = q(a)
		}
		w("if ! (cd %q && %s/%s %s) >\"$C/check.out\" 2>&1; then", d, bin, c.tool, strings.Join(args, " "))
		w("  echo %s", q(CheckFailedMarker+c.component+" "+c.tool+" "+strings.Join(c.args, " ")))
		w("  cat \"$C/check.out\"; exit %d", ExitCheckFailed)
		w("fi")
	}

	// 4. The record first: whatever happens next, uninstall knows what is ours.
	if h.Record != nil {
		writeRecord(&b, h.Record)
	}
	b.WriteString(h.beforeChanges()) // for uninstall: shadow backups saved, kept data adopted (before_changes.go)

	// 5. The changes, in plan order; the services come last. Version
	// switches wait for their rollout.
	reloaded := false
	for _, a := range h.Actions {
		if a.Rollout {
			continue
		}
		if a.Kind == "service" && h.daemonReload && !reloaded {
			w("systemctl daemon-reload")
			reloaded = true
		}
		for _, line := range a.sh {
			w("%s", line)
		}
	}
	if h.daemonReload && !reloaded {
		w("systemctl daemon-reload")
	}

	// 6. Staged files are spent.
	if len(h.allStaged()) > 0 {
		w("cd \"$S\" && rm -f %s", strings.Join(h.allStaged(), " "))
	}
	w("echo %s", q(DoneMarker))
	return b.String()
}

// allStaged lists every staged name the script uses, sorted.
func (h *Host) allStaged() []string {
	seen := map[string]bool{}
	for _, a := range h.Actions {
		for _, line := range a.sh {
			if strings.HasPrefix(line, "install_file ") {
				f := strings.Fields(line)
				seen[strings.Trim(f[1], "'")] = true
			}
		}
	}
	for _, t := range h.trees {
		seen[t.staged] = true
	}
	for _, c := range h.checks {
		for _, n := range c.files {
			if n != "" {
				seen[n] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func writeRecord(b *strings.Builder, rec *hoststate.Record) {
	fmt.Fprintf(b, "[ -d %[1]s ] || { mkdir %[1]s && chmod 755 %[1]s; }\n", path.Dir(hoststate.RecordPath))
	fmt.Fprintf(b, "cat > %s.obsbox-tmp <<'OBSBOX_RECORD'\n", hoststate.RecordPath)
	b.Write(rec.Marshal())
	fmt.Fprintf(b, "OBSBOX_RECORD\n")
	fmt.Fprintf(b, "chmod 600 %[1]s.obsbox-tmp && mv -f %[1]s.obsbox-tmp %[1]s\n", hoststate.RecordPath)
}

// RolloutScript switches component c to its new version and restarts it.
// The record then names the new version, and the old one as previous.
func (h *Host) RolloutScript(c string) string {
	r := h.rollouts[c]
	h.Record.Components[c] = hoststate.ComponentRecord{Version: r.to, Previous: r.from, Ungated: true}
	return h.switchScript(c, r.to)
}

// RollbackScript switches component c back to the version it ran before
// the rollout, and restarts it.
func (h *Host) RollbackScript(c string) string {
	r := h.rollouts[c]
	h.Record.Components[c] = r.before
	return h.switchScript(c, r.from)
}

func (h *Host) switchScript(c, version string) string {
	var b strings.Builder
	fmt.Fprintf(&b, scriptHeader, q(h.staging))
	writeRecord(&b, h.Record)
	link := component.CurrentLink(c)
	unit := component.UnitName(c)
	fmt.Fprintf(&b, "switch_link %s %s\n", q(version), q(link))
	fmt.Fprintf(&b, "systemctl reset-failed %s 2>/dev/null || true\n", unit)
	if hook := h.hooks[unit]; hook != "" {
		fmt.Fprintf(&b, "systemctl stop %s\n%s\nsystemctl start %s\n", unit, hook, unit)
	} else {
		fmt.Fprintf(&b, "systemctl restart %s\n", unit)
	}
	fmt.Fprintf(&b, "echo %s\n", q(DoneMarker))
	return b.String()
}
