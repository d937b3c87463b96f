package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder captures what Check reports instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Errorf(format string, args ...any) { r.errors = append(r.errors, format) }

func TestCheckComparesAndUpdates(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "x.golden")
	saved := *Update
	t.Cleanup(func() { *Update = saved })

	*Update = true
	Check(t, file, []byte("one\n"))
	if b, err := os.ReadFile(file); err != nil || string(b) != "one\n" {
		t.Fatalf("-update did not write the file: %q %v", b, err)
	}
	*Update = false
	Check(t, file, []byte("one\n"))
	r := &recorder{TB: t}
	Check(r, file, []byte("two\n"))
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "differs from") {
		t.Errorf("a difference was not reported: %v", r.errors)
	}
	if d := Diff(file, []byte("one\n"), []byte("two\n")); !strings.Contains(d, "-one") || !strings.Contains(d, "+two") {
		t.Errorf("diff: %q", d)
	}
}
