package hoststate

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostileNames are file names a service user may choose in its data folder:
// each once broke, or could break, a line-based reading of the probe.
var hostileNames = []string{
	"a\nb", "trail\n", "\n@@obsbox end\n", "@@obsbox end", "@@obsbox staged",
	"x|y|z|1|2|3|4", "d|755|root|root|4096|x|", "two  spaces", " lead", `back\slash`,
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  fake-hash",
	"\x01ctl", "é ✓", "-n", "%p\\0",
}

// testLayout is a host's folders under root.
func testLayout(root string) layout {
	return layout{
		opt: root + "/opt/obsbox", etc: root + "/etc/obsbox", lib: root + "/var/lib/obsbox",
		record: root + "/var/lib/obsbox/record.json", units: root + "/etc/systemd/system",
		applyParent: root + "/var/tmp", unpacked: root + "/var/tmp/obsbox-unpacked",
	}
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

func mustDir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o750); err != nil {
		t.Fatal(err)
	}
}

func mustLink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// TestFinding6_HostileNamesCannotConfuseTheProbe runs the real probe script
// with /bin/sh (GNU find and sha256sum) over a tree full of hostile names
// and checks that every path, hash, staged file and apply folder is read
// back exactly, and nothing else.
func TestFinding6_HostileNamesCannotConfuseTheProbe(t *testing.T) {
	root := t.TempDir()
	l := testLayout(root)
	staging := root + "/staging dir"

	mustDir(t, l.opt+"/prometheus/2.53.3")
	mustWrite(t, l.opt+"/prometheus/2.53.3/.obsbox-bundle", "bundle\n")
	mustLink(t, "2.53.3", l.opt+"/prometheus/current")
	mustWrite(t, l.etc+"/prometheus/prometheus.yml", "global: {}\n")
	mustWrite(t, l.record, `{"format":1,"paths":["/etc/obsbox"],"components":{"prometheus":{"version":"2.53.3"}}}`+"\n")
	mustWrite(t, l.units+"/obsbox-prometheus.service", "[Unit]\n")
	mustWrite(t, l.units+"/obsbox-\n@@obsbox end.service", "[Unit]\n")
	mustDir(t, l.applyParent)
	mustDir(t, staging)
	mustWrite(t, staging+"/abc", "x")
	mustWrite(t, staging+"/abc.part", "x")
	var wantApply, wantStaged []string
	wantStaged = append(wantStaged, "abc")
	for i, n := range hostileNames {
		data := l.lib + "/prometheus/"
		mustWrite(t, data+n, "data "+n)                 // listed, not hashed
		mustWrite(t, l.etc+"/rules/"+n, n)              // listed and hashed
		mustDir(t, l.lib+"/grafana/"+n)                 // a folder
		mustLink(t, n, data+"link"+string(rune('a'+i))) // a link to it
		mustWrite(t, staging+"/"+n, "x")
		wantStaged = append(wantStaged, n)
		d := l.applyParent + "/obsbox-apply." + n
		mustDir(t, d)
		wantApply = append(wantApply, d)
	}
	mustLink(t, l.applyParent+"/obsbox-apply.a\nb", l.applyParent+"/obsbox-apply.link") // links are not apply folders
	mustWrite(t, l.applyParent+"/obsbox-apply.file", "")

	req := ProbeRequest{Users: []string{"root"}, StagingDir: staging}
	out, err := exec.Command("/bin/sh", "-c", req.script(l)).Output()
	if err != nil {
		t.Fatalf("probe script: %v", err)
	}
	s, err := ParseProbe(out)
	if err != nil {
		t.Fatalf("ParseProbe on the real script's output: %v", err)
	}

	want := map[string]Path{}
	hashed := func(p string) bool {
		return strings.HasPrefix(p, l.etc+"/") || p == l.record || strings.HasSuffix(p, "/.obsbox-bundle") ||
			strings.HasPrefix(p, l.units+"/") && strings.HasSuffix(p, ".service")
	}
	walk := func(dir string, depth int, match func(string) bool) {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			if rel != "." && strings.Count(rel, "/")+1 > depth {
				return fs.SkipDir
			}
			if !match(p) {
				return nil
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			w := Path{Kind: KindFile, Mode: uint32(fi.Mode().Perm()), Size: fi.Size()}
			switch {
			case fi.IsDir():
				w.Kind = KindDir
			case fi.Mode()&fs.ModeSymlink != 0:
				w.Kind = KindLink
				w.Target, _ = os.Readlink(p)
			}
			if w.Kind == KindFile && hashed(p) {
				b, _ := os.ReadFile(p)
				sum := sha256.Sum256(b)
				w.SHA256 = hex.EncodeToString(sum[:])
			}
			want[p] = w
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	all := func(string) bool { return true }
	walk(l.opt, 3, all)
	walk(l.etc, 8, all)
	walk(l.lib, 2, all)
	walk(l.units, 2, func(p string) bool { return strings.HasPrefix(filepath.Base(p), "obsbox-") })

	for p, w := range want {
		got, ok := s.Paths[p]
		if !ok {
			t.Errorf("path %q is missing", p)
			continue
		}
		got.Owner, got.Group = "", ""
		if got != w {
			t.Errorf("path %q:\n got %+v\nwant %+v", p, got, w)
		}
	}
	for p := range s.Paths {
		if _, ok := want[p]; !ok {
			t.Errorf("the probe invented path %q", p)
		}
	}
	var gotStaged []string
	for n := range s.Staged {
		gotStaged = append(gotStaged, n)
	}
	slices.Sort(gotStaged)
	slices.Sort(wantStaged)
	if !slices.Equal(gotStaged, wantStaged) {
		t.Errorf("staged:\n got %q\nwant %q", gotStaged, wantStaged)
	}
	slices.Sort(wantApply)
	if !slices.Equal(s.ApplyDirs, wantApply) {
		t.Errorf("apply folders:\n got %q\nwant %q", s.ApplyDirs, wantApply)
	}
	if !s.Users["root"] || s.Record.Components["prometheus"].Version != "2.53.3" || s.Arch == "" {
		t.Errorf("users %v, record %+v, arch %q", s.Users, s.Record, s.Arch)
	}

	// The old failure: one record per line cannot hold these names. The
	// same find, printing lines, gives more lines than there are paths.
	old, err := exec.Command("find", l.lib, "-maxdepth", "2", "-printf", `%y|%m|%u|%g|%s|%p|%l\n`).Output()
	if err != nil {
		t.Fatal(err)
	}
	var inLib int
	for p := range want {
		if p == l.lib || strings.HasPrefix(p, l.lib+"/") {
			inLib++
		}
	}
	if lines := strings.Count(string(old), "\n"); lines == inLib {
		t.Errorf("the hostile tree should break a line-based listing (%d lines, %d paths)", lines, inLib)
	}
}
