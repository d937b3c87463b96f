package transport

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func withLockPath(t *testing.T) string {
	t.Helper()
	old := LockPath
	LockPath = filepath.Join(t.TempDir(), "obsbox.lock")
	t.Cleanup(func() { LockPath = old })
	return LockPath
}

// A second run against a locked host fails at once, naming the holder.
func TestFinding11_LockHeldFailsSecondRunNamingHolder(t *testing.T) {
	path := withLockPath(t)
	f := newFixture(t)
	first, second := f.dial(t), f.dial(t)
	l, err := first.Lock(context.Background(), "alice@ctl (pid 42, obsbox apply) since 2025-01-02T03:04:05Z", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "alice@ctl") {
		t.Fatalf("lock file holds %q, want the holder's name", b)
	}
	_, err = second.Lock(context.Background(), "bob@other", 0, nil)
	var busy *LockBusyError
	if !errors.As(err, &busy) {
		t.Fatalf("second lock: got %v, want a LockBusyError", err)
	}
	if !strings.Contains(err.Error(), "locked by alice@ctl (pid 42, obsbox apply) since 2025-01-02T03:04:05Z") {
		t.Fatalf("error does not name the holder: %v", err)
	}
}

// A waiting run gets the lock when the holder lets go, and learns it waited.
func TestFinding11_LockWaitsForHolder(t *testing.T) {
	withLockPath(t)
	f := newFixture(t)
	first, second := f.dial(t), f.dial(t)
	l, err := first.Lock(context.Background(), "alice@ctl", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	told := make(chan string, 1)
	got := make(chan error, 1)
	var l2 *Lock
	go func() {
		var err error
		l2, err = second.Lock(context.Background(), "bob@other", time.Minute, func(h string) { told <- h })
		got <- err
	}()
	if h := <-told; h != "alice@ctl" {
		t.Fatalf("told of holder %q", h)
	}
	l.Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	defer l2.Release()
	if !l2.Contended {
		t.Fatal("Contended is false after waiting")
	}
}

// A holder whose connection died (controller killed, network gone) holds
// nothing: the next run takes the lock over.
func TestFinding11_LockOfDeadHolderIsTakenOver(t *testing.T) {
	withLockPath(t)
	f := newFixture(t)
	first := f.dial(t)
	l, err := first.Lock(context.Background(), "alice@ctl", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.srv.dropAll()
	select {
	case <-l.Lost():
	case <-time.After(30 * time.Second):
		t.Fatal("the lock was not reported lost when the connection dropped")
	}
	second := f.dial(t)
	var l2 *Lock
	waitFor(t, "the dead holder's lock to be released", func() bool {
		var err error
		l2, err = second.Lock(context.Background(), "bob@other", 0, nil)
		return err == nil
	})
	l2.Release()
}

// Uninstall deletes the lock file while holding it; a run waiting on the
// deleted file must not believe it holds the lock while a third one makes a
// new file.
func TestFinding11_LockFileDeletedByHolder(t *testing.T) {
	path := withLockPath(t)
	f := newFixture(t)
	a, b, c := f.dial(t), f.dial(t), f.dial(t)
	la, err := a.Lock(context.Background(), "a", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan string, 1)
	got := make(chan *Lock, 1)
	go func() {
		l, err := b.Lock(context.Background(), "b", time.Minute, func(h string) { waiting <- h })
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	<-waiting
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	la.Release()
	lb := <-got
	if lb == nil {
		t.FailNow()
	}
	defer lb.Release()
	if _, err := c.Lock(context.Background(), "c", 0, nil); err == nil {
		t.Fatal("a third run got the lock while the second holds it")
	}
}

// A run that finds the lock free but just let go of, or never emptied by a
// dead holder, is told so: its state read may predate the holder's last change.
func TestFinding11_LockRecentlyReleasedIsContended(t *testing.T) {
	path := withLockPath(t)
	f := newFixture(t)
	c := f.dial(t)
	l, err := c.Lock(context.Background(), "first", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Contended {
		t.Fatal("the first lock ever is contended")
	}
	l.Release()
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("released lock file still holds %q", b)
	}
	l, err = c.Lock(context.Background(), "second", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Contended {
		t.Fatal("a lock let go of a moment ago is not contended")
	}
	l.Release()
	// An old, emptied file is not.
	old := time.Now().Add(-time.Minute)
	os.Chtimes(path, old, old)
	l, err = c.Lock(context.Background(), "third", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Contended {
		t.Fatal("a lock let go of long ago is contended")
	}
	l.Release()
}

// A script run under the lock (the state probe) comes back whole in the
// lock's own session, while the lock is held; one that fails lets go of it.
func TestIssue17_LockAndRunReadsUnderTheLock(t *testing.T) {
	withLockPath(t)
	f := newFixture(t)
	a, b := f.dial(t), f.dial(t)
	before := a.Stats().RoundTrips
	// Output with a "ran"-like line, a case pattern's ")" and no final newline.
	script := "printf 'ran 0 999\\nline two\\n'; case x in x) printf 'end' ;; esac"
	l, out, err := a.LockAndRun(context.Background(), "a", 0, nil, script)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ran 0 999\nline two\nend"; string(out) != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if n := a.Stats().RoundTrips - before; n != 1 {
		t.Errorf("%d round trips for the lock and the script, want 1", n)
	}
	var busy *LockBusyError
	if _, err := b.Lock(context.Background(), "b", 0, nil); !errors.As(err, &busy) {
		t.Fatalf("the lock is not held after LockAndRun: %v", err)
	}
	l.Release()

	_, _, err = a.LockAndRun(context.Background(), "a", 0, nil, "echo broken >&2; exit 3")
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 3 || !strings.Contains(exit.Stderr, "broken") {
		t.Fatalf("a failing script: %v, want exit 3 with its stderr", err)
	}
	l2, err := b.Lock(context.Background(), "b", 0, nil)
	if err != nil {
		t.Fatalf("the lock was kept after the script failed: %v", err)
	}
	l2.Release()
	if left, _ := filepath.Glob("/tmp/obsbox-locked.*"); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
