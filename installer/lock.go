package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"
)

// ErrInterrupted is the cause a run's context is cancelled with on Ctrl-C
// or SIGTERM. Any cancelled run context counts as an interruption.
var ErrInterrupted = errors.New("interrupted")

// holder is what a run writes into each host's lock for others to read:
// who, from where, which command, since when. No secrets.
func (r *Run) holder() string {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	cmd := r.Opts.Command
	if cmd == "" {
		cmd = "obsbox"
	}
	return fmt.Sprintf("%s@%s (pid %d, %s) since %s", who, host, os.Getpid(), cmd,
		r.started.UTC().Format(time.RFC3339))
}

// lockHost takes the host's run lock. It runs beside the state probe, so
// it costs no serial round trip; the caller reads the state again when
// this run had to wait, since the holder may have changed the host.
func (r *Run) lockHost(ctx context.Context, h *HostRun) error {
	onWait := func(holder string) {
		fmt.Fprintf(r.Opts.Out, "%s: waiting up to %s for the lock held by %s\n", h.Host.Name, r.Opts.LockTimeout, holder)
	}
	l, err := h.Conn.Lock(ctx, r.lockHolder, r.Opts.LockTimeout, onWait)
	if err != nil {
		return err
	}
	h.lock = l
	return nil
}

// hostContext is ctx, also ended when the host's lock is lost: no work
// goes on without the lock.
func (h *HostRun) hostContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if h.lock == nil {
		return ctx, func() {}
	}
	hctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-h.lock.Lost():
			cancel(fmt.Errorf("%s: the session holding the host's lock ended", h.Host.Name))
		case <-hctx.Done():
		}
	}()
	return hctx, func() { cancel(nil) }
}

func (h *HostRun) releaseLock() {
	if h.lock != nil {
		h.lock.Release()
	}
}

// interrupted reports whether the run itself was stopped (Ctrl-C, SIGTERM).
func interrupted(ctx context.Context) bool { return ctx.Err() != nil }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return strings.Replace(many, "%d", fmt.Sprint(n), 1)
}
