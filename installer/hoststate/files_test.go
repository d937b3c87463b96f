package hoststate

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestFinding1_DiffScriptQuotesPaths runs the diff phase's file reader in a
// shell on names built to break out of quotes or forge the answer: nothing
// runs, and each file's bytes come back exactly.
func TestFinding1_DiffScriptQuotesPaths(t *testing.T) {
	dir := t.TempDir()
	const pwned = "PWNED" // relative: names may not hold a slash
	names := []string{
		"cpu'; touch " + pwned + "; '.yml",
		"cpu$(touch " + pwned + ").yml",
		"cpu`touch " + pwned + "`.yml",
		"two\nlines.yml",
		"@@obsbox end",
	}
	contents := []string{
		"@@obsbox end\n@@obsbox file 0\n",
		"no newline at the end",
		"",
		"a\n\n\nb\n",
		"'\"$(x)\n",
	}
	var paths []string
	for i, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(contents[i]), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	paths = append(paths, filepath.Join(dir, "missing'$(touch "+pwned+")"))
	cmd := exec.Command("sh", "-c", FilesScript(paths))
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, pwned)); err == nil {
		t.Fatalf("a file name ran a command")
	}
	got, err := ParseFiles(out, len(paths))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range contents {
		if got[i] == nil || *got[i] != want {
			t.Errorf("%q: got %v, want %q", names[i], got[i], want)
		}
	}
	if got[len(paths)-1] != nil {
		t.Errorf("a missing file came back with content %q", *got[len(paths)-1])
	}
	for _, bad := range []string{fields("@@obsbox file", "0", "AAAA"), "junk\n", fields("@@obsbox file", "7", "", "@@obsbox end"),
		fields("@@obsbox file", "0", "!!", "@@obsbox end"), fields("@@obsbox file", "0", "", "@@obsbox file", "0", "", "@@obsbox end"),
		"@@obsbox file 0\nAAAA\n@@obsbox end\n"} {
		if _, err := ParseFiles([]byte(bad), 1); err == nil {
			t.Errorf("parsed a malformed answer: %q", bad)
		}
	}
}
