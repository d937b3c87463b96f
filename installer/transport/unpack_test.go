package transport

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// releaseTarball is a tarball shaped like a release: one top folder, an
// executable and a file big enough to take several channel windows.
func releaseTarball(t *testing.T) (data []byte, sum string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	big := make([]byte, 5<<20) // random: more than a channel window, even compressed
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	for _, f := range []struct {
		name string
		mode int64
		body []byte
	}{{"tool-1.0/tool", 0o755, []byte("#!/bin/sh\necho tool\n")}, {"tool-1.0/data.bin", 0o644, big}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	tw.Close()
	gz.Close()
	s := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(s[:])
}

func partsLeft(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".part.*"))
	return m
}

// TestUnpack: the tree arrives unpacked under its sha256, stripped, with
// every byte counted, one round trip, and nothing partial left.
func TestUnpack(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	data, sum := releaseTarball(t)
	dir := filepath.Join(t.TempDir(), "unpacked")
	var last int64
	if err := c.Unpack(context.Background(), bytes.NewReader(data), int64(len(data)), dir, sum, 1, func(n int64) { last = n }); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, sum, "tool"))
	if err != nil || !strings.Contains(string(got), "echo tool") {
		t.Fatalf("tool: %q %v", got, err)
	}
	if st, err := os.Stat(filepath.Join(dir, sum, "data.bin")); err != nil || st.Size() != 5<<20 {
		t.Errorf("data.bin: %v %v", st, err)
	}
	if st, _ := os.Stat(dir); st == nil || st.Mode().Perm() != 0o700 {
		t.Errorf("folder mode: %v", st)
	}
	if p := partsLeft(t, dir); len(p) > 0 {
		t.Errorf("left: %v", p)
	}
	if s := c.Stats(); s.RoundTrips != 1 || s.BytesSent != int64(len(data)) || last != s.BytesSent {
		t.Errorf("stats %+v, progress %d", s, last)
	}
	// Again: the new tree replaces the old one whole.
	os.WriteFile(filepath.Join(dir, sum, "stray"), []byte("x"), 0o600)
	if err := c.Unpack(context.Background(), bytes.NewReader(data), int64(len(data)), dir, sum, 1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, sum, "stray")); err == nil {
		t.Errorf("the old tree was kept")
	}
}

// TestUnpackRefusesDamage: bytes that do not match the sha256, a source
// that ends early, or one that is not a tarball leave no tree and nothing
// partial behind.
func TestUnpackRefusesDamage(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	data, sum := releaseTarball(t)
	dir := filepath.Join(t.TempDir(), "unpacked")
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 0xff
	other := sha256.Sum256([]byte("other"))
	cases := []struct {
		name string
		r    io.Reader
		size int64
		sum  string
		want string
	}{
		{"flipped byte", bytes.NewReader(flipped), int64(len(data)), sum, ""},
		{"another sum", bytes.NewReader(data), int64(len(data)), hex.EncodeToString(other[:]), "sha256"},
		{"source ends early", bytes.NewReader(data[:len(data)/3]), int64(len(data)), sum, "ended after"},
		{"not a tarball", strings.NewReader("plain text\n"), 11, sum, ""},
	}
	for _, tc := range cases {
		err := c.Unpack(context.Background(), tc.r, tc.size, dir, tc.sum, 1, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v", tc.name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, tc.sum)); err == nil {
			t.Errorf("%s: a tree was named", tc.name)
		}
		if p := partsLeft(t, dir); len(p) > 0 {
			t.Errorf("%s: left %v", tc.name, p)
		}
	}
	for _, bad := range []string{"", "abc", strings.Repeat("g", 64)} {
		if err := c.Unpack(context.Background(), bytes.NewReader(data), int64(len(data)), dir, bad, 1, nil); err == nil {
			t.Errorf("sha256 %q accepted", bad)
		}
	}
}

// TestUnpackRefusesForeignFolder: a folder for the trees that is a symlink
// is not written through.
func TestUnpackRefusesForeignFolder(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	data, sum := releaseTarball(t)
	base := t.TempDir()
	target := filepath.Join(base, "elsewhere")
	os.Mkdir(target, 0o700)
	dir := filepath.Join(base, "unpacked")
	os.Symlink(target, dir)
	err := c.Unpack(context.Background(), bytes.NewReader(data), int64(len(data)), dir, sum, 1, nil)
	if err == nil || !strings.Contains(err.Error(), "not a folder of root's") {
		t.Fatalf("got %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(target, "*")); len(m) > 0 {
		t.Errorf("written through the symlink: %v", m)
	}
}

// blockingReader gives its first chunk, then blocks until released.
type blockingReader struct {
	first   []byte
	release chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if len(b.first) > 0 {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	<-b.release
	return 0, errors.New("released")
}

// TestUnpackCancel: Ctrl-C mid-stream returns at once, and the host side
// removes what it had unpacked.
func TestUnpackCancel(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	data, sum := releaseTarball(t)
	dir := filepath.Join(t.TempDir(), "unpacked")
	br := &blockingReader{first: data[:len(data)/2], release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Unpack(ctx, br, int64(len(data)), dir, sum, 1, nil) }()
	waitFor(t, "the host to start unpacking", func() bool { return len(partsLeft(t, dir)) > 0 })
	cancel()
	close(br.release) // a file's read does not block; this one must not either once cancelled
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Unpack did not return after cancel")
	}
	waitFor(t, "the partial tree to go", func() bool { return len(partsLeft(t, dir)) == 0 })
	if _, err := os.Stat(filepath.Join(dir, sum)); err == nil {
		t.Errorf("a tree was named")
	}
}

// TestUnpackStall: a host that stops taking bytes is given up after the
// stall timeout, with an error that says so. (This server's stuck reader
// never sees the channel close, so what the host removes then is
// TestUnpackCancel's.)
func TestUnpackStall(t *testing.T) {
	f := newFixture(t)
	f.cfg.StallTimeout = 300 * time.Millisecond
	c := f.dial(t)
	data, sum := releaseTarball(t)
	dir := filepath.Join(t.TempDir(), "unpacked")
	f.srv.execStallAt.Store(int64(len(data) / 2))
	err := c.Unpack(context.Background(), bytes.NewReader(data), int64(len(data)), dir, sum, 1, nil)
	var stall *StallError
	if !errors.As(err, &stall) || stall.Host != "h1" || stall.Step != "sending" {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, sum)); err == nil {
		t.Errorf("a tree was named")
	}
}

// TestUnpackThroughSudo: through sudo the stream arrives whole whether
// sudo reads the password line or leaves it unread (NOPASSWD), and a user
// sudo refuses gets sudo's reason, as for scripts.
func TestUnpackThroughSudo(t *testing.T) {
	const pw = "obsbox-secure-pw"
	data, sum := releaseTarball(t)
	for _, tt := range []struct {
		name, password, wantErr string
		env                     []string
	}{
		{"password read", pw, "", []string{"FAKE_SUDO_PASSWORD=" + pw}},
		{"password left unread", pw, "", nil},
		{"passwordless", "", "", nil},
		{"not a sudoer", "", "may not run commands as root", []string{"FAKE_SUDO_DENY=1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := fakeSudoEnv(t, tt.env...)
			f := newFixture(t, withEnv(env...))
			f.cfg.User, f.cfg.SudoPassword = "deploy", tt.password
			c := f.dial(t)
			dir := filepath.Join(t.TempDir(), "unpacked")
			err := c.Unpack(context.Background(), bytes.NewReader(data), int64(len(data)), dir, sum, 1, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, sum, "tool")); err != nil {
				t.Error(err)
			}
		})
	}
}
