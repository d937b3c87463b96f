package plan_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/plan"
)

// nul joins probe fields as the scripts print them, each ended by NUL.
func nul(f ...string) string { return strings.Join(f, "\x00") + "\x00" }

// TestFinding6_RemovalProbeReadsHostileNames runs the real removal probe
// with /bin/sh over recorded folders in which a service user left
// *.obsbox-tmp files with hostile names: each is read back exactly.
func TestFinding6_RemovalProbeReadsHostileNames(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	file := filepath.Join(root, "conf.yml")
	oddFile := filepath.Join(root, "odd\n@@obsbox end")
	staging := filepath.Join(root, "staging")
	for _, d := range []string{data, staging} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var wantTmp []string
	for _, n := range []string{"a\nb", "@@obsbox end", "\n@@obsbox end\n", "x|y", "two  spaces", `back\slash`, "trail\n"} {
		p := filepath.Join(data, n+".obsbox-tmp")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		wantTmp = append(wantTmp, p)
	}
	for _, p := range []string{file, oddFile, file + ".obsbox-tmp", oddFile + ".obsbox-tmp"} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantTmp = append(wantTmp, file+".obsbox-tmp", oddFile+".obsbox-tmp")
	slices.Sort(wantTmp)

	rec := &hoststate.Record{Paths: []string{data, file, oddFile}}
	out, err := exec.Command("/bin/sh", "-c", plan.RemovalProbe(rec, staging)).Output()
	if err != nil {
		t.Fatalf("removal probe: %v", err)
	}
	f, err := plan.ParseRemovalProbe(out)
	if err != nil {
		t.Fatalf("ParseRemovalProbe on the real script's output: %v", err)
	}
	if !slices.Equal(f.TmpFiles, wantTmp) {
		t.Errorf("leftovers:\n got %q\nwant %q", f.TmpFiles, wantTmp)
	}
	for p, k := range map[string]hoststate.Kind{data: hoststate.KindDir, file: hoststate.KindFile, oddFile: hoststate.KindFile} {
		if f.Kinds[p] != k {
			t.Errorf("kind of %q: %q, want %q", p, f.Kinds[p], k)
		}
	}
	if !f.Staging {
		t.Errorf("the staging folder was not seen")
	}
}
