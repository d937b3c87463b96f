package hoststate

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func probeUnpacked(t *testing.T, l layout) map[string]bool {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", ProbeRequest{}.script(l)).Output()
	if err != nil {
		t.Fatalf("probe script: %v", err)
	}
	s, err := ParseProbe(out)
	if err != nil {
		t.Fatal(err)
	}
	return s.Unpacked
}

// TestProbeUnpacked: whole trees in root's folder of unpacked tarballs are
// seen by their sha256; partial trees, other names and files are not, and
// nothing is, when the folder is a symlink.
func TestProbeUnpacked(t *testing.T) {
	root := t.TempDir()
	l := testLayout(root)
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	mustDir(t, l.unpacked+"/"+a)
	mustDir(t, l.unpacked+"/.part.x1Y2z3")
	mustDir(t, l.unpacked+"/"+strings.Repeat("A", 64))
	mustWrite(t, l.unpacked+"/"+b, "a file, not a tree")
	got := probeUnpacked(t, l)
	if len(got) != 1 || !got[a] {
		t.Errorf("got %v, want only %s", got, a)
	}

	elsewhere := root + "/elsewhere"
	mustDir(t, elsewhere+"/"+a)
	if err := os.RemoveAll(l.unpacked); err != nil {
		t.Fatal(err)
	}
	mustLink(t, elsewhere, l.unpacked)
	if got := probeUnpacked(t, l); len(got) != 0 {
		t.Errorf("through a symlink: %v", got)
	}
}
