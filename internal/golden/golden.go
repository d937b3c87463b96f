// Package golden compares test output with files under testdata/ and
// rewrites them when the tests run with -update. Every package's golden
// tests use it, so the flag means the same everywhere.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
)

// Update is the -update flag: rewrite the golden files instead of comparing.
var Update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Check compares got with the file, or writes it (and its folder) under -update.
// A difference is reported as a unified diff from the file to got.
func Check(t testing.TB, file string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("differs from %s (go test -update accepts it):\n%s", file, Diff(file, want, got))
	}
}

// Diff is the unified diff from want (the file) to got.
func Diff(file string, want, got []byte) string {
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(want)), B: difflib.SplitLines(string(got)),
		FromFile: file, ToFile: "got", Context: 3,
	})
	return d
}
