package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/shell"
)

// TestFinding2_StepsQuoteEveryValue renders every step with a hostile
// value in each field: the value appears only as one quoted word, and the
// lines are valid shell.
func TestFinding2_StepsQuoteEveryValue(t *testing.T) {
	const v = "x'$(touch CANARY)`touch CANARY`\n;CANARY"
	rec := &hoststate.Record{Format: 1, Paths: []string{"/etc/obsbox/a"}, Components: map[string]hoststate.ComponentRecord{}}
	steps := []Step{
		CreateGroup{Name: v}, CreateGroup{Name: v, KeptID: true},
		CreateUser{Name: v, Group: v, Comment: v}, CreateUser{Name: v, Group: v, Comment: v, KeptID: true},
		MakeDir{Path: v, Mode: 0o750, Owner: v, Group: v}, MakeDir{Path: v, Mode: 0o750, Owner: v, Group: v, Replace: true},
		SetMode{Path: v, Mode: 0o644, Owner: v, Group: v},
		InstallFile{Staged: v, Dest: v, Mode: 0o600, Owner: v, Group: v},
		InstallTree{Component: v, Version: v, Staged: v, Dest: v},
		SwitchLink{Target: v, Link: v},
		EnableUnit{Unit: v}, RestartUnit{Unit: v}, ReloadUnit{Unit: v}, StopUnit{Unit: v}, ResetUnits{Units: []string{v, v}},
		RemovePath{Path: v}, RemoveTree{Path: v}, RemoveEmptyDir{Path: v}, RemoveApplyDir{Path: v},
		DeleteUser{Name: v}, DeleteUser{Name: v, LeaveGroup: true}, DeleteGroup{Name: v},
		RestoreShadowBackups{}, WriteKeptNote{Component: "prometheus", Why: keptByApply}, WriteRecord{Record: rec},
	}
	quoted := []string{shell.Quote(v), shell.Quote("tree-" + v), shell.Quote(v + ":" + v), shell.Quote("unit " + v + " is still active after stop")}
	for _, s := range steps {
		text := strings.Join(render(s), "\n")
		rest := text
		for _, w := range quoted {
			rest = strings.ReplaceAll(rest, w, "")
		}
		if strings.Contains(rest, "CANARY") {
			t.Errorf("%T renders a value outside its quotes:\n%s", s, text)
		}
		cmd := exec.Command("sh", "-n")
		cmd.Stdin = strings.NewReader(text + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%T: sh -n: %v: %s\n%s", s, err, out, text)
		}
	}
	// Fixed names are values too: quoted like any other.
	for s, want := range map[Step]string{
		CreateUser{Name: "obsbox-prometheus", Group: "obsbox-prometheus", Comment: "obsbox prometheus"}: "getent passwd 'obsbox-prometheus' >/dev/null || useradd --system --gid 'obsbox-prometheus' --no-create-home --home-dir '/nonexistent' --shell '/usr/sbin/nologin' --comment 'obsbox prometheus' 'obsbox-prometheus'",
		CreateGroup{Name: "obsbox-prometheus", KeptID: true}:                                            "getent group 'obsbox-prometheus' >/dev/null || groupadd --system $obsbox_gid 'obsbox-prometheus'",
		EnableUnit{Unit: "obsbox-prometheus.service"}:                                                   "systemctl --no-reload enable --quiet 'obsbox-prometheus.service'",
		ReloadUnit{Unit: "obsbox-prometheus.service"}:                                                   "systemctl reload 'obsbox-prometheus.service'",
	} {
		if got := strings.Join(render(s), "\n"); got != want {
			t.Errorf("%T:\n got %s\nwant %s", s, got, want)
		}
	}
}

// TestFinding2_KindMarshalsToTheSameWords: --json keeps its words.
func TestFinding2_KindMarshalsToTheSameWords(t *testing.T) {
	for k, want := range map[Kind]string{KindUser: "user", KindGroup: "group", KindDir: "dir", KindFile: "file",
		KindBinaries: "binaries", KindLink: "link", KindUnit: "unit", KindService: "service",
		KindRollout: "rollout", KindData: "data", KindPath: "path", KindNote: "note"} {
		b, err := json.Marshal(Action{Op: OpCreate, Kind: k, Target: "/x"})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b); got != `{"op":"create","kind":"`+want+`","target":"/x"}` {
			t.Errorf("%s marshals as %s", want, got)
		}
	}
}

// TestFinding2_StagedNamesComeFromSteps: the files the script takes are the
// ones its steps install and its checks read, whatever else was staged.
func TestFinding2_StagedNamesComeFromSteps(t *testing.T) {
	h := &Host{stagedFiles: map[string]stagedFile{"a": {}, "b": {}, "c": {}, "unused": {}}}
	h.Actions = []Action{
		{Kind: KindFile, step: InstallFile{Staged: "b", Dest: "/etc/obsbox/x"}},
		{Kind: KindBinaries, step: InstallTree{Component: "prometheus", Staged: "a", Dest: "/opt/obsbox/prometheus/1"}},
		{Kind: KindUnit, step: EnableUnit{Unit: "install_file 'unused'"}},
	}
	h.checks = []check{{files: map[string]string{"x.yml": "c", "gone.yml": ""}}}
	if got := strings.Join(h.allStaged(), ","); got != "a,b,c" {
		t.Errorf("staged names %s, want a,b,c", got)
	}
	if trees := h.trees(); len(trees) != 1 || trees[0].Staged != "a" {
		t.Errorf("trees %+v", trees)
	}
}

// A kept data folder is its service user's, who may have left a link at
// the note's temporary or final name: root's note follows neither, and
// the file a link points to keeps its content and mode.
func TestKeptNoteFollowsNoLink(t *testing.T) {
	for _, at := range []string{KeptNoteName + ".obsbox-tmp", KeptNoteName} {
		t.Run(at, func(t *testing.T) {
			dir := t.TempDir()
			data, victim := filepath.Join(dir, "data"), filepath.Join(dir, "victim")
			if err := os.Mkdir(data, 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(victim, filepath.Join(data, at)); err != nil {
				t.Fatal(err)
			}
			script := strings.Join(render(WriteKeptNote{Component: "prometheus", Why: keptByUninstall}), "\n")
			script = strings.ReplaceAll(script, catalog.DataDir("prometheus"), data)
			if out, err := exec.Command("/bin/sh", "-eu", "-c", script).CombinedOutput(); err != nil {
				t.Fatalf("%v: %s\n%s", err, out, script)
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious" {
				t.Errorf("the link's target was written: %q", b)
			}
			if fi, _ := os.Stat(victim); fi.Mode().Perm() != 0o600 {
				t.Errorf("the link's target's mode changed to %v", fi.Mode())
			}
			fi, err := os.Lstat(filepath.Join(data, KeptNoteName))
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
				t.Fatalf("the note: %v %v, want a regular file, mode 644", fi, err)
			}
			if b, _ := os.ReadFile(filepath.Join(data, KeptNoteName)); !strings.Contains(string(b), "time series database") {
				t.Errorf("the note says:\n%s", b)
			}
			if _, err := os.Lstat(filepath.Join(data, KeptNoteName+".obsbox-tmp")); err == nil {
				t.Errorf("the temporary name is left behind")
			}
		})
	}
}

// Taking over a kept data folder hands exactly what the old ids owned to
// the new account (root's entries stay root's) and changes links, not what
// they point at. Run as root only (CI is): it changes owners.
func TestAdoptKeptDataChangesOnlyTheOldIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changes file owners: run as root")
	}
	dir := t.TempDir()
	data, victim := filepath.Join(dir, "data"), filepath.Join(dir, "victim")
	for _, d := range []string{data, filepath.Join(data, "sub")} {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"sub/f": "x", "rootfile": "r", KeptNoteName: "note"}
	for rel, content := range files {
		if err := os.WriteFile(filepath.Join(data, rel), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(victim, []byte("v"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(data, "link")); err != nil {
		t.Fatal(err)
	}
	const oldID = 4242 // no account here; the new one is nobody (65534)
	for _, rel := range []string{"", "sub", "sub/f", KeptNoteName, "link"} {
		if err := os.Lchown(filepath.Join(data, rel), oldID, oldID); err != nil {
			t.Fatal(err)
		}
	}
	script := (&Host{}).adoptKeptData("prometheus")
	script = strings.ReplaceAll(script, catalog.DataDir("prometheus"), data)
	script = strings.ReplaceAll(script, catalog.UserName("prometheus"), "65534")
	if out, err := exec.Command("/bin/sh", "-eu", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s\n%s", err, out, script)
	}
	owner := func(p string) string {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
	}
	for _, rel := range []string{"", "sub", "sub/f", "link"} {
		if got := owner(filepath.Join(data, rel)); got != "65534:65534" {
			t.Errorf("%s/%s is %s, want the new account's 65534:65534", data, rel, got)
		}
	}
	if got := owner(filepath.Join(data, "rootfile")); got != "0:0" {
		t.Errorf("root's file became %s", got)
	}
	if got := owner(victim); got != "0:0" {
		t.Errorf("the link's target became %s", got)
	}
	if _, err := os.Lstat(filepath.Join(data, KeptNoteName)); err == nil {
		t.Errorf("the note is still there")
	}
}
