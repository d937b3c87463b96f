package plan

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/hoststate"
)

// ExitCheckFailed is the apply script's exit code when a component's own
// tool rejected the new configuration; nothing on the host changed then.
const ExitCheckFailed = 3

// CheckFailedMarker starts the line naming the component whose check failed.
const CheckFailedMarker = "@@obsbox check-failed "

// DoneMarker is the apply script's last line on success.
const DoneMarker = "@@obsbox done"

// scriptHeader starts every root script. $S is the login user's staging
// folder, which that user can change at any time: root reads each staged
// file once, into its own private folder $C, and uses only that copy.
// cleanup also removes the run's staged secrets, whatever way the script
// ends (signals included).
const scriptHeader = `set -eu
umask 022
export LC_ALL=C
S=%s
C=$(mktemp -d /var/tmp/obsbox-apply.XXXXXX)
cleanup() { rm -rf "$C"%s; }
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
take() { # staged-name max-bytes: root's own copy of a staged file
	if [ -L "$S/$1" ] || [ ! -f "$S/$1" ]; then echo "staged file $1 is missing or not a regular file" >&2; exit 1; fi
	dd if="$S/$1" of="$C/in/$1" iflag=nofollow,nonblock,count_bytes count="$2" bs=1M status=none || { echo "cannot read staged file $1" >&2; exit 1; }
}
install_file() { # staged-name dest mode owner group
	install -T -m "$3" -o "$4" -g "$5" "$C/in/$1" "$2.obsbox-tmp" && mv -f "$2.obsbox-tmp" "$2"
}
install_tree() { # extracted-name dest
	rm -rf "$2.obsbox-tmp" && mv "$C/$1" "$2.obsbox-tmp" && rm -rf "$2" && mv "$2.obsbox-tmp" "$2"
}
switch_link() { # target link
	ln -sfn "$1" "$2.obsbox-tmp" && mv -Tf "$2.obsbox-tmp" "$2"
}
`

// inC is a path inside the script's private folder $C, as one shell word.
func inC(rel string) string { return `"$C"/` + q(rel) }

// inS is a path inside the staging folder $S, as one shell word.
func inS(name string) string { return `"$S"/` + q(name) }

// header is scriptHeader for this host: what cleanup removes besides $C.
func (h *Host) header() string {
	var rm strings.Builder
	for _, n := range h.allStaged() {
		if h.stagedFiles[n].secret {
			rm.WriteString(" " + inS(n))
		}
	}
	extra := ""
	if rm.Len() > 0 {
		extra = "; rm -f" + rm.String()
	}
	return fmt.Sprintf(scriptHeader, q(h.staging), extra)
}

// Script returns the shell that performs the plan as root. Everything that
// can fail without changing the host (checksums, extraction, configuration
// checks) runs first; the record of what will be created is written before
// anything is created, so an interrupted run can always be undone.
func (h *Host) Script() string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...); b.WriteByte('\n') }
	b.WriteString(h.header())

	// 1. Root's own copies of the staged files are what the controller
	// sent; from here on the login user's files are never opened again.
	// Staged secrets leave the staging folder as soon as they are copied.
	if staged := h.allStaged(); len(staged) > 0 {
		w("mkdir -m 700 %s", inC("in"))
		for _, n := range staged {
			f := h.stagedFiles[n]
			w("take %s %d", q(n), f.size+1) // one byte more than expected shows a longer file
			if f.secret {
				w("rm -f %s", inS(n))
			}
		}
		w("(cd %s && sha256sum -c --quiet --strict) <<'OBSBOX_SUMS' || { echo 'staged files do not match their checksums' >&2; exit 1; }", inC("in"))
		for _, n := range staged {
			w("%s  %s", h.stagedFiles[n].sha256, n)
		}
		w("OBSBOX_SUMS")
	}
	// Secrets an earlier, killed run left behind (names are per run).
	w("if [ -d \"$S\" ] && [ ! -L \"$S\" ]; then find \"$S\" -maxdepth 1 -type f -name 'secret-*' -delete 2>/dev/null || true; fi")

	// 2. New binaries, extracted aside, all at once: unpacking is most of a
	// fresh install's time on the host.
	// A tree unpacked on arrival is taken as hard links (no copy): it stays
	// whole in UnpackedDir for a later run until this one has succeeded.
	trees := h.trees()
	if slices.ContainsFunc(trees, func(t InstallTree) bool { return t.Unpacked }) {
		w("if [ -L %[1]s ] || [ ! -O %[1]s ]; then echo %[2]s >&2; exit 1; fi",
			q(hoststate.UnpackedDir), q(hoststate.UnpackedDir+" is a link or not owned by root"))
	}
	for _, t := range trees {
		d := t.tmp()
		if t.Unpacked {
			u := q(hoststate.UnpackedDir + "/" + t.Staged)
			w("if [ ! -d %s ] || [ -L %s ]; then echo %s >&2; exit 1; fi",
				u, u, q(t.Component+" "+t.Version+" is not unpacked in "+hoststate.UnpackedDir))
			w("cp -al %s %s", u, inC(d))
			continue
		}
		w("mkdir %s && { tar -xzf %s -C %s --strip-components=%d --no-same-owner --no-same-permissions & echo $! > %s; }",
			inC(d), inC("in/"+t.Staged), inC(d), t.Strip, inC(d+".pid"))
	}
	for _, t := range trees {
		d := t.tmp()
		if !t.Unpacked {
			w("wait $(cat %s) || { echo %s >&2; exit 1; }", inC(d+".pid"), q("unpacking "+t.Component+" "+t.Version+" failed"))
		}
		w("chmod -R u+rwX,go+rX,go-w %s", inC(d))
		for _, bin := range t.Binaries {
			w("[ -x %s ] || { echo %s >&2; exit 1; }", inC(d+"/"+bin), q("bundle "+t.Component+" "+t.Version+" has no executable "+bin))
		}
		w("echo %s > %s", q(t.Staged), inC(d+"/.obsbox-bundle"))
	}

	// Key pairs: the host's key, which never left it, and its new certificate.
	for _, k := range h.keyPairs {
		w("%s", buildKeyPair(k.step, k.key, k.certStaged))
	}

	// 3. Each component's own tool checks the configuration that is about to go live.
	made := map[string]bool{}
	for _, c := range h.checks {
		d := "cfg-" + c.component
		if !made[d] {
			made[d] = true
			w("mkdir %s", inC(d))
		} else {
			w("rm -rf %s && mkdir %s", inC(d), inC(d))
		}
		w("if [ -d %s ]; then cp -a %s/. %s/; fi", q(c.configDir), q(c.configDir), inC(d))
		rels := make([]string, 0, len(c.files))
		for rel := range c.files {
			rels = append(rels, rel)
		}
		sort.Strings(rels)
		for _, rel := range rels {
			if name := c.files[rel]; name == "" {
				w("rm -f %s", inC(d+"/"+rel))
			} else {
				w("mkdir -p %s && cp %s %s", inC(path.Dir(d+"/"+rel)), inC("in/"+name), inC(d+"/"+rel))
			}
		}
		for _, rel := range sortedKeys(c.built) {
			w("mkdir -p %s && cp %s %s", inC(path.Dir(d+"/"+rel)), inC(c.built[rel]), inC(d+"/"+rel))
		}
		var tool string
		if rel, ok := strings.CutPrefix(c.bin, "$C/"); ok {
			tool = inC(rel + "/" + c.tool)
		} else {
			tool = q(c.bin + "/" + c.tool)
		}
		args := make([]string, len(c.args))
		for i, a := range c.args {
			args[i] = q(a)
		}
		w("if ! (cd %s && %s %s) >\"$C/check.out\" 2>&1; then", inC(d), tool, strings.Join(args, " "))
		w("  echo %s", q(CheckFailedMarker+c.component+" "+c.tool+" "+strings.Join(c.args, " ")))
		w("  cat \"$C/check.out\"; exit %d", ExitCheckFailed)
		w("fi")
	}

	// 4. The record first: whatever happens next, uninstall knows what is ours.
	if h.Record != nil {
		writeSteps(&b, WriteRecord{Record: h.Record})
	}
	b.WriteString(h.beforeChanges()) // for uninstall: shadow backups saved, kept data adopted (before_changes.go)

	// 5. The changes, in plan order; the services come last. Version
	// switches wait for their rollout.
	reloaded := false
	reload := ResetUnits{Units: h.resetUnits}
	for _, a := range h.Actions {
		if a.Rollout {
			continue
		}
		if a.Kind == KindService && h.daemonReload && !reloaded {
			writeSteps(&b, reload)
			reloaded = true
		}
		writeSteps(&b, a.step)
	}
	if h.daemonReload && !reloaded {
		writeSteps(&b, reload)
	}

	// 6. Staged files and unpacked trees are spent (trees of other runs'
	// plans too: this host has what its inventory asks for now).
	if staged := h.allStaged(); len(staged) > 0 {
		words := make([]string, len(staged))
		for i, n := range staged {
			words[i] = inS(n)
		}
		w("rm -f %s", strings.Join(words, " "))
	}
	w("rm -rf %s", q(hoststate.UnpackedDir))
	w("echo %s", q(DoneMarker))
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// allStaged lists every staged name the script uses, sorted: those its
// steps install (files, and the tarballs of trees) and those its checks read.
func (h *Host) allStaged() []string {
	seen := map[string]bool{}
	for _, a := range h.Actions {
		switch s := a.step.(type) {
		case InstallFile:
			seen[s.Staged] = true
		case InstallTree:
			if !s.Unpacked {
				seen[s.Staged] = true
			}
		}
	}
	for _, c := range h.checks {
		for _, n := range c.files {
			if n != "" {
				seen[n] = true
			}
		}
	}
	for _, k := range h.keyPairs {
		seen[k.certStaged] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// trees are the release trees the script unpacks, in plan order.
func (h *Host) trees() []InstallTree {
	var out []InstallTree
	for _, a := range h.Actions {
		if t, ok := a.step.(InstallTree); ok {
			out = append(out, t)
		}
	}
	return out
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
	b.WriteString(fmt.Sprintf(scriptHeader, q(h.staging), ""))
	unit := catalog.UnitName(c)
	writeSteps(&b, WriteRecord{Record: h.Record}, SwitchLink{Target: version, Link: catalog.CurrentLink(c)},
		RestartUnit{Unit: unit, Hook: h.hooks[unit]})
	fmt.Fprintf(&b, "echo %s\n", q(DoneMarker))
	return b.String()
}

// StagingDir is the login user's staging folder the script reads from.
func (h *Host) StagingDir() string { return h.staging }
