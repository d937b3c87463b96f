package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stallTimeout is the deadline the stall tests inject; they wait for
// results only up to a generous multiple of it.
const stallTimeout = 100 * time.Millisecond

// within returns what f returns, failing the test when f has not returned
// after a hundred stall timeouts: without a deadline it would never return.
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(100 * stallTimeout):
		t.Fatalf("%s still blocked after %s: no deadline", what, 100*stallTimeout)
		panic("unreachable")
	}
}

func TestFinding7_StalledSFTPFailsTheHost(t *testing.T) {
	t.Run("stall in the middle of a write", func(t *testing.T) {
		f := newFixture(t)
		f.cfg.StallTimeout = stallTimeout
		c := f.dial(t)
		// The SFTP server answers the opening and the first writes, then
		// stops reading, as a stopped sftp-server does; sshd still answers.
		f.srv.sftpStallAt.Store(256 << 10)
		const size = 8 << 20
		err := within(t, "upload", func() error {
			return c.Upload(context.Background(), io.LimitReader(rand.Reader, size), size, "big.bin", nil)
		})
		var stall *StallError
		if !errors.As(err, &stall) {
			t.Fatalf("want a *StallError, got %v", err)
		}
		if want := "upload of big.bin stalled while writing: no progress for 100ms"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		if s := c.Stats(); s.BytesSent >= size {
			t.Errorf("the whole file went out: %+v", s)
		}
		// The host is still there: scripts run, and the next upload opens a
		// new SFTP session.
		if _, err := c.Run(context.Background(), "true"); err != nil {
			t.Fatalf("run after the stall: %v", err)
		}
		f.srv.sftpStallAt.Store(-1)
		if err := c.Upload(context.Background(), strings.NewReader("ok"), 2, "after", nil); err != nil {
			t.Fatalf("upload on a new SFTP session: %v", err)
		}
		if got, _ := os.ReadFile(filepath.Join(c.StagingDir(), "after")); string(got) != "ok" {
			t.Errorf("got %q", got)
		}
	})

	t.Run("stall before the first answer", func(t *testing.T) {
		f := newFixture(t)
		f.cfg.StallTimeout = stallTimeout
		f.srv.sftpStallAt.Store(0) // accepts the subsystem, never answers
		c := f.dial(t)
		err := within(t, "upload", func() error {
			return c.Upload(context.Background(), strings.NewReader("x"), 1, "x", nil)
		})
		want := "opening SFTP stalled while waiting for the SFTP server's first answer: no progress for 100ms"
		if err == nil || err.Error() != want {
			t.Fatalf("error %v, want %q", err, want)
		}
		// Closing does not wait for the server that stopped answering.
		if err := within(t, "close", c.Close); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	t.Run("close after a stall does not hang", func(t *testing.T) {
		f := newFixture(t)
		f.cfg.StallTimeout = stallTimeout
		c := f.dial(t)
		f.srv.sftpStallAt.Store(64 << 10)
		err := within(t, "upload", func() error {
			return c.Upload(context.Background(), io.LimitReader(rand.Reader, 4<<20), 4<<20, "big.bin", nil)
		})
		if !strings.Contains(err.Error(), "stalled") {
			t.Fatalf("got %v", err)
		}
		within(t, "close", c.Close)
	})

	t.Run("session open and script start", func(t *testing.T) {
		f := newFixture(t)
		f.cfg.StallTimeout = stallTimeout
		c := f.dial(t)
		f.srv.holdExec.Store(true)
		res := within(t, "run", func() error { _, err := c.Run(context.Background(), "true"); return err })
		if want := "starting script stalled: no progress for 100ms"; res == nil || res.Error() != want {
			t.Errorf("exec with no answer: %v, want %q", res, want)
		}
		f.srv.holdExec.Store(false)
		f.srv.holdChannels.Store(true)
		res = within(t, "run", func() error { _, err := c.Run(context.Background(), "true"); return err })
		if want := "opening a session stalled: no progress for 100ms"; res == nil || res.Error() != want {
			t.Errorf("channel open with no answer: %v, want %q", res, want)
		}
		res = within(t, "upload", func() error { return c.Upload(context.Background(), strings.NewReader("x"), 1, "x", nil) })
		if res == nil || !strings.Contains(res.Error(), "opening SFTP stalled while opening a session") {
			t.Errorf("SFTP channel open with no answer: %v", res)
		}
	})
}

func TestFinding7_SlowUploadIsNotFailed(t *testing.T) {
	f := newFixture(t)
	f.cfg.StallTimeout = 250 * time.Millisecond
	c := f.dial(t)
	// 4 KiB every 2 ms: a 32 KiB write is acknowledged about every 16 ms,
	// and the whole file takes several stall timeouts.
	f.srv.sftpSlow.Store(int64(2 * time.Millisecond))
	data := make([]byte, 2<<20)
	rand.Read(data)
	start := time.Now()
	if err := c.Upload(context.Background(), bytes.NewReader(data), int64(len(data)), "slow.bin", nil); err != nil {
		t.Fatalf("a slow upload whose bytes keep moving failed: %v", err)
	}
	// Sleeps only add time, so this cannot flake: it proves the upload
	// really outlasted the stall timeout.
	if took := time.Since(start); took < 2*f.cfg.StallTimeout {
		t.Fatalf("the upload took %s, not several stall timeouts: the test proves nothing", took)
	}
	got, err := os.ReadFile(filepath.Join(c.StagingDir(), "slow.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded content differs (%v)", err)
	}
}
