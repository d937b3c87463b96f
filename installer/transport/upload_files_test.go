package transport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fileOf(name, content string) File {
	s := sha256.Sum256([]byte(content))
	return File{Name: name, Content: []byte(content), SHA256: hex.EncodeToString(s[:])}
}

// TestUploadFiles: many small files arrive in one round trip, whole, 0600,
// with no working folder left behind.
func TestUploadFiles(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	files := []File{fileOf("a1", "alpha\n"), fileOf("secret-b2", "bravo"), fileOf("c3", "")}
	var last int64
	if err := c.UploadFiles(context.Background(), files, func(n int64) { last = n }); err != nil {
		t.Fatal(err)
	}
	for _, fl := range files {
		p := filepath.Join(c.StagingDir(), fl.Name)
		got, err := os.ReadFile(p)
		if err != nil || string(got) != string(fl.Content) {
			t.Errorf("%s: %q %v", fl.Name, got, err)
		}
		if st, _ := os.Stat(p); st != nil && st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", fl.Name, st.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(c.StagingDir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left in staging: %s", e.Name())
		}
	}
	if st, _ := os.Stat(c.StagingDir()); st.Mode().Perm() != 0o700 {
		t.Errorf("staging mode %v", st.Mode().Perm())
	}
	if s := c.Stats(); s.RoundTrips != 1 || s.BytesSent != int64(len("alpha\nbravo")) || last != s.BytesSent {
		t.Errorf("stats %+v, progress %d", s, last)
	}
}

// TestUploadFilesChecksum: a file whose sha256 does not match is not placed,
// and neither is any other file of the stream.
func TestUploadFilesChecksum(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	bad := fileOf("d4", "delta")
	bad.Content = []byte("DELTA")
	err := c.UploadFiles(context.Background(), []File{fileOf("e5", "echo"), bad}, nil)
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("got %v", err)
	}
	for _, n := range []string{"d4", "e5"} {
		if _, err := os.Stat(filepath.Join(c.StagingDir(), n)); err == nil {
			t.Errorf("%s was placed", n)
		}
	}
}

// TestUploadFilesRefuses names that are paths, and a staging folder that is a symlink.
func TestUploadFilesRefuses(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	for _, n := range []string{"../x", "a/b", ".sums", "", "x y"} {
		if err := c.UploadFiles(context.Background(), []File{fileOf(n, "x")}, nil); err == nil {
			t.Errorf("%q accepted", n)
		}
	}
	os.RemoveAll(c.StagingDir())
	other := t.TempDir()
	if err := os.Symlink(other, c.StagingDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(c.StagingDir()) }) // the folder is shared by the package's tests
	err := c.UploadFiles(context.Background(), []File{fileOf("f6", "foxtrot")}, nil)
	if err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "f6")); err == nil {
		t.Errorf("written through the symlink")
	}
}
