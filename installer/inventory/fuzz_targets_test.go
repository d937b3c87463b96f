package inventory

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFinding10_MakeFuzzRunsEveryTargetAndCountsExecs: `make fuzz` runs
// every fuzz target in the tree, bounds the minimizer (whose 60s default
// outlasted the run and stopped it fuzzing), and fails a target that
// executed too few inputs.
func TestFinding10_MakeFuzzRunsEveryTargetAndCountsExecs(t *testing.T) {
	root := filepath.Join("..", "..")
	script, err := os.ReadFile(filepath.Join(root, "scripts", "fuzz.sh"))
	if err != nil {
		t.Fatalf("make fuzz has no runner: %v", err)
	}
	s := string(script)
	for _, want := range []string{"-fuzzminimizetime=", "FUZZMIN", `execs: \([0-9]*\)`} {
		if !strings.Contains(s, want) {
			t.Errorf("scripts/fuzz.sh lacks %q", want)
		}
	}
	fuzzFunc := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
	found := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(p))
		for _, m := range fuzzFunc.FindAllStringSubmatch(string(b), -1) {
			found++
			if !regexp.MustCompile(`"\./` + regexp.QuoteMeta(filepath.ToSlash(dir)) + `/ ` + m[1] + `( [^"]*)?"`).MatchString(s) {
				t.Errorf("%s (%s) is not run by scripts/fuzz.sh", m[1], p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 5 {
		t.Errorf("found %d fuzz targets; the probe, record, removal probe and tarball parsers each need one", found)
	}
}
