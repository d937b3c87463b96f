package plan_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/plan"
)

// The harness runs a rendered apply script with a real /bin/sh, as a normal
// user, with every command replaced by a stub on PATH. A stub logs its
// argv; the commands that only touch files (mkdir, cp, dd, rm, ...) really
// run when every absolute path they get lies inside the test's folders, and
// do nothing otherwise. touch always runs: no apply script calls it, so a
// file it made or a logged touch is an injected command.

const stubScript = `#!/bin/sh
n=${0##*/}
{ printf '%s' "$n"; for a in "$@"; do printf '\037%s' "$a"; done; printf '\036'; } >> "$STUB_LOG"
case $n in
mktemp) d="$STUB_ROOT/apply"; "$STUB_REAL/mkdir" -m 700 "$d" && echo "$d"; exit ;;
touch) exec "$STUB_REAL/touch" "$@" ;;
systemctl|getent|chown|useradd|groupadd|runuser|id|kill) exit 0 ;;
esac
copied() { printf 'copied\037%s\037%s\036' "$1" "$("$STUB_REAL/sha256sum" < "$1" | "$STUB_REAL/cut" -d' ' -f1)" >> "$STUB_LOG"; }
if [ "$n" = cp ]; then
	# What the checks copy: the source's hash, for the test.
	for a in "$@"; do [ -f "$a" ] && copied "$a"; break; done
fi
if [ "$n" = install ]; then
	# Owners are root's business: the harness runs as anyone.
	for a in "$@"; do shift; case $a in -o|-g) skip=1 ;; *) [ -n "${skip:-}" ] && skip= || set -- "$@" "$a" ;; esac; done
	# What install_file installs: the source (last but one) and its hash.
	src=; for a in "$@"; do prev=$src; src=$a; done; [ -f "$prev" ] && copied "$prev"
fi
for a in "$@"; do
	case $a in if=*|of=*) a=${a#*=} ;; esac
	case $a in /*) case $a in "$STUB_ROOT"/*|"$STUB_STAGING"/*) ;; *) exit 0 ;; esac ;; esac
done
"$STUB_REAL/$n" "$@"; rc=$?
if [ "$n" = sha256sum ] && [ -n "$STUB_SWAP" ]; then
	# The login user swaps every staged file right after the check.
	for f in "$STUB_STAGING"/*; do [ -f "$f" ] && printf 'ATTACKER\n' > "$f"; done
fi
exit $rc
`

var stubbed = []string{"mktemp", "touch", "systemctl", "getent", "chown", "useradd", "groupadd", "runuser", "id", "kill",
	"mkdir", "cp", "install", "dd", "rm", "mv", "chmod", "cat", "ln", "find", "sha256sum", "tar", "cut", "sleep", "stat"}

type harness struct {
	root, staging string
	log           [][]string // one argv per call
	code          int
	out           string
}

// runScript runs script in the harness with the plan's uploads staged.
func runScript(t *testing.T, p *plan.Host, script string, swap bool) *harness {
	t.Helper()
	root := t.TempDir()
	h := &harness{root: root, staging: p.StagingDir()}
	bin, real := filepath.Join(root, "bin"), filepath.Join(root, "real")
	for _, d := range []string{bin, real, h.staging, filepath.Join(root, "cwd")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range stubbed {
		lp, err := exec.LookPath(n)
		if err != nil {
			t.Skipf("no %s here: %v", n, err)
		}
		if err := os.Symlink(lp, filepath.Join(real, n)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, n), []byte(stubScript), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range p.Uploads {
		if err := os.WriteFile(filepath.Join(h.staging, u.Name), u.Content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(root, "log")
	// Only a hang (a FIFO read without nonblock) meets this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Dir = filepath.Join(root, "cwd")
	cmd.Env = []string{"PATH=" + bin, "STUB_ROOT=" + root, "STUB_REAL=" + real, "STUB_LOG=" + logPath, "STUB_STAGING=" + h.staging}
	if swap {
		cmd.Env = append(cmd.Env, "STUB_SWAP=1")
	}
	out, err := cmd.CombinedOutput()
	h.out = string(out)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		h.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(logPath)
	for _, rec := range strings.Split(string(raw), "\x1e") {
		if rec != "" {
			h.log = append(h.log, strings.Split(rec, "\x1f"))
		}
	}
	return h
}

// calls returns the logged argvs of command name.
func (h *harness) calls(name string) [][]string {
	var out [][]string
	for _, argv := range h.log {
		if argv[0] == name {
			out = append(out, argv[1:])
		}
	}
	return out
}

// noInjection fails when anything ran a command hidden in a value.
func (h *harness) noInjection(t *testing.T) {
	t.Helper()
	if c := h.calls("touch"); len(c) > 0 {
		t.Errorf("a value ran a command: touch %q\noutput:\n%s", c, h.out)
	}
	filepath.Walk(h.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), "CANARY") {
			t.Errorf("a value ran a command: %s exists", p)
		}
		return nil
	})
}

// hostileNames are rule file names a user could choose; each would create
// a CANARY file if a shell ran what is in it.
var hostileNames = []string{
	"cpu$(touch CANARY1).yml",
	"mem`touch CANARY2`.yml",
	"disk'$(touch CANARY3)'.yml",
	"net work\n$(touch CANARY4).yml",
	`q"$(touch CANARY5)".yml`,
}

// hostilePlan is mon-1, converged, with a rule file for each hostile name
// to create and one hostile name recorded from an earlier run to remove.
func hostilePlan(t *testing.T, staging string, edit ...func(*component.Spec)) *plan.Host {
	t.Helper()
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	first := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)
	userDir := path.Join(catalog.ConfigDir("prometheus"), "rules", "user")
	gone := path.Join(userDir, "old$(touch CANARY6)'x'.yml")
	st.Record.Paths = append(st.Record.Paths, gone)
	st.Paths[gone] = hoststate.Path{Kind: hoststate.KindFile, Mode: 0o640, Owner: "root", Group: "obsbox-prometheus"}
	for _, s := range sp {
		if s.Component != "prometheus" {
			continue
		}
		for _, e := range edit {
			e(s)
		}
		for i, n := range hostileNames {
			s.Files = append(s.Files, component.File{Path: path.Join(userDir, n), Content: []byte("groups: [] # " + hostileNames[i] + "\n"),
				Mode: 0o640, Owner: "root", Group: "obsbox-prometheus", Effect: component.EffectReload})
		}
	}
	return build(t, plan.Input{Host: "mon-1", Specs: sp, State: st, StagingDir: staging})
}

// Finding 1: paths in the apply script were quoted with Go's %q, i.e. shell
// double quotes, in which $(...) and backticks run. A real shell runs the
// script with hostile rule file names; nothing in them may run, and each
// name must reach the commands as exactly one word.
func TestFinding1_HostileFileNamesRunNothing(t *testing.T) {
	root := t.TempDir()
	staging := filepath.Join(root, "staging dir $(touch CANARY0)")
	p := hostilePlan(t, staging)
	script := p.Script()
	shellSyntax(t, script)

	// The whole script, as apply runs it: it stops at promtool, which the
	// harness does not have, after the checks' copies of the hostile files.
	h := runScript(t, p, script, false)
	h.noInjection(t)
	if h.code != plan.ExitCheckFailed {
		t.Fatalf("want the script to reach the configuration check (exit %d), got exit %d:\n%s", plan.ExitCheckFailed, h.code, h.out)
	}
	copied := map[string]bool{}
	for _, argv := range h.calls("cp") {
		copied[argv[len(argv)-1]] = true
	}
	removed := map[string]bool{}
	for _, argv := range h.calls("rm") {
		for _, a := range argv {
			removed[a] = true
		}
	}
	apply := filepath.Join(h.root, "apply")
	for _, n := range hostileNames {
		if want := apply + "/cfg-prometheus/rules/user/" + n; !copied[want] {
			t.Errorf("the check's copy of %q did not get the name as one word; cp calls: %q", n, h.calls("cp"))
		}
	}
	if want := apply + "/cfg-prometheus/rules/user/old$(touch CANARY6)'x'.yml"; !removed[want] {
		t.Errorf("the check's removal did not get the name as one word; rm calls: %q", h.calls("rm"))
	}

	// The same plan without the check (the harness has no promtool) and
	// without the record (writing it needs root) runs to its end.
	p = hostilePlan(t, staging, func(s *component.Spec) { s.Check = nil })
	p.Record = nil
	h = runScript(t, p, p.Script(), false)
	h.noInjection(t)
	if h.code != 0 || !strings.Contains(h.out, plan.DoneMarker) {
		t.Fatalf("exit %d:\n%s", h.code, h.out)
	}
	dests := map[string]bool{}
	for _, argv := range h.calls("install") {
		dests[argv[len(argv)-1]] = true
	}
	for _, n := range hostileNames {
		if want := path.Join(catalog.ConfigDir("prometheus"), "rules", "user", n) + ".obsbox-tmp"; !dests[want] {
			t.Errorf("install_file did not get %q as one word; install calls: %q", want, h.calls("install"))
		}
	}
}

// Finding 3: the script checked the staged files' sha256 in the login
// user's folder and then reopened them there (tar, checks, install_file),
// so that user could swap them after the check. Here every staged file is
// replaced right after the checksum check: what the script installs must
// still be the genuine content.
func TestFinding3_StagedFileSwapAfterCheck(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	first := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)
	genuine := map[string]bool{}
	for _, s := range sp {
		s.Unit = append(append([]byte{}, s.Unit...), "# changed\n"...) // every unit file changes
		genuine[sum(s.Unit)] = true
		s.Check = nil // the harness has no promtool; the swap window is the same
	}
	for _, s := range sp {
		for i, f := range s.Files {
			if f.Sensitive {
				s.Files[i].Content = append(append([]byte{}, f.Content...), '\n')
				genuine[sum(s.Files[i].Content)] = true
			}
		}
	}
	p := build(t, plan.Input{Host: "mon-1", Specs: sp, State: st, StagingDir: filepath.Join(t.TempDir(), "staging")})
	p.Record = nil // writing the record needs root; it plays no part here
	script := p.Script()
	h := runScript(t, p, script, true)
	installed := 0
	for _, argv := range h.log {
		if argv[0] != "copied" {
			continue
		}
		if !genuine[argv[2]] {
			t.Errorf("root copied %s with content %s, which is not what the controller sent", argv[1], argv[2])
		}
		installed++
	}
	if installed == 0 || h.code != 0 || !strings.Contains(h.out, plan.DoneMarker) {
		t.Fatalf("the script did not install anything (exit %d):\n%s", h.code, h.out)
	}
	// No command but take reads the staging folder.
	for _, l := range strings.Split(script, "\n") {
		if strings.Contains(l, "$S") && !strings.HasPrefix(l, "take ") && !strings.HasPrefix(l, "rm -f \"$S\"/") &&
			!strings.HasPrefix(l, "cleanup() {") && !strings.Contains(l, "-name 'secret-*' -delete") &&
			!strings.Contains(l, `"$S/$1"`) {
			t.Errorf("the script reads the staging folder outside take: %s", l)
		}
	}
}

// Finding 3: a staged file root copies may be a symlink, a FIFO or a
// folder; root refuses it, without hanging and without following a link.
func TestFinding3_TakeRefusesWhatIsNotARegularFile(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "web-1")
	first := build(t, plan.Input{Host: "web-1", Specs: sp, State: emptyState()})
	st := converged(sp, first.Record)
	for _, s := range sp {
		s.Unit = append(append([]byte{}, s.Unit...), "# changed\n"...)
	}
	for _, kind := range []string{"symlink", "fifo", "folder"} {
		t.Run(kind, func(t *testing.T) {
			p := build(t, plan.Input{Host: "web-1", Specs: sp, State: st, StagingDir: filepath.Join(t.TempDir(), "staging")})
			p.Record = nil
			if len(p.Uploads) != 1 {
				t.Fatalf("uploads: %d", len(p.Uploads))
			}
			name := p.Uploads[0].Name
			// The login user's swap lands between take's checks and its read.
			script := strings.Replace(p.Script(), "\tdd if=", "\tprepare; dd if=", 1)
			genuine := filepath.Join(p.StagingDir(), name)
			prep := "prepare() { rm -f " + q(genuine) + " && "
			switch kind {
			case "symlink":
				prep += "ln -s " + q(filepath.Join(p.StagingDir(), "target")) + " " + q(genuine) + "; }\n"
			case "fifo":
				prep += "/usr/bin/mkfifo " + q(genuine) + "; }\n"
			case "folder":
				prep += "mkdir " + q(genuine) + "; }\n"
			}
			os.MkdirAll(p.StagingDir(), 0o700)
			os.WriteFile(filepath.Join(p.StagingDir(), "target"), p.Uploads[0].Content, 0o600)
			i := strings.Index(script, "take() {")
			h := runScript(t, p, script[:i]+prep+script[i:], false)
			if h.code == 0 || strings.Contains(h.out, plan.DoneMarker) {
				t.Errorf("a staged %s was accepted:\n%s", kind, h.out)
			}
			if len(h.calls("systemctl")) > 0 {
				t.Errorf("the script went on after refusing a staged %s", kind)
			}
		})
	}
}

// Finding 3: a failed apply leaves no staged secret in the staging folder;
// non-secret staged files stay for the next run.
func TestFinding3_FailedApplyLeavesNoStagedSecret(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	p := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState(), StagingDir: filepath.Join(t.TempDir(), "staging")})
	secrets := 0
	for _, u := range p.Uploads {
		if strings.HasPrefix(u.Name, plan.SecretPrefix) {
			secrets++
		}
	}
	if secrets == 0 {
		t.Fatal("the plan stages no secret")
	}
	// Fail right after the copies, and again with a signal, as an interrupt does.
	for _, stop := range []string{"exit 1", "kill -TERM $$"} {
		script := p.Script()
		i := strings.Index(script, "OBSBOX_SUMS\n") + len("OBSBOX_SUMS\n")
		line := stop + "\n"
		if strings.HasPrefix(stop, "kill") {
			line = `"$STUB_REAL/kill" -TERM $$` + "\n"
		}
		script = script[:i] + line + script[i:]
		h := runScript(t, p, script, false)
		if h.code == 0 {
			t.Fatalf("%s: the script did not fail", stop)
		}
		left, _ := os.ReadDir(p.StagingDir())
		kept := 0
		for _, e := range left {
			if strings.HasPrefix(e.Name(), plan.SecretPrefix) {
				t.Errorf("%s: staged secret %s left behind", stop, e.Name())
			} else {
				kept++
			}
		}
		if kept == 0 {
			t.Errorf("%s: the non-secret staged files went too; the next run would send them again", stop)
		}
		if _, err := os.Stat(filepath.Join(h.root, "apply")); err == nil {
			t.Errorf("%s: the private folder was left behind", stop)
		}
	}
}

// Finding 5: staged names were the sha256 of the content, so a secret
// file's plain hash showed on root's command line. A secret's name is a
// keyed hash; the upload still carries the real checksum for the check.
func TestFinding5_SecretStagedNamesRevealNothing(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	p := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	again := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	secret := map[string]bool{}
	for _, s := range sp {
		for _, f := range s.Files {
			if f.Sensitive {
				secret[sum(f.Content)] = true
			}
		}
	}
	if len(secret) == 0 {
		t.Fatal("no secret file in the plan")
	}
	for i, u := range p.Uploads {
		if !secret[u.SHA256] {
			if u.Name != u.SHA256 {
				t.Errorf("a non-secret file is staged as %s, not by its sha256: a rerun would send it again", u.Name)
			}
			continue
		}
		if !strings.HasPrefix(u.Name, plan.SecretPrefix) || strings.Contains(u.Name, u.SHA256) || u.SHA256 != sum(u.Content) {
			t.Errorf("secret staged as %s (sha256 %s)", u.Name, u.SHA256)
		}
		if again.Uploads[i].Name != u.Name {
			t.Errorf("one run names a secret two ways: %s, %s", u.Name, again.Uploads[i].Name)
		}
		if !strings.Contains(p.Script(), "rm -f \"$S\"/"+q(u.Name)+"\n") {
			t.Errorf("the secret %s is not removed from staging right after root copied it", u.Name)
		}
	}
	// A secret staged by an earlier run (another key) is sent again.
	st := emptyState()
	for s := range secret {
		st.Staged[s] = true
	}
	if n := len(build(t, plan.Input{Host: "mon-1", Specs: sp, State: st}).Uploads); n != len(p.Uploads) {
		t.Errorf("uploads: %d, want %d", n, len(p.Uploads))
	}
}

func q(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
