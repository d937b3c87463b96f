package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/obsbox/obsbox/installer/transport"
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

// lockHost takes the host's run lock and reads the host's state under it,
// in the lock's session.
func (r *Run) lockHost(ctx context.Context, h *HostRun, wait time.Duration) error {
	onWait := func(holder string) {
		fmt.Fprintf(r.Opts.Out, "%s: waiting up to %s for the lock held by %s\n", h.Host.Name, r.Opts.LockTimeout.Round(time.Second), holder)
	}
	l, out, err := h.Conn.LockAndRun(ctx, r.lockHolder, wait, onWait, probeScript(h))
	var exit *transport.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("reading the host's state: %w", err)
	}
	if err != nil {
		return err
	}
	if err := h.readState(out); err != nil {
		l.Release()
		return err
	}
	h.lock = l
	return nil
}

// settleLocks deals with hosts another run held when the probe ran (only
// with a lock timeout). Waiting while holding other hosts could deadlock
// two runs, so this run lets go of every lock it holds and takes them all
// again in host-name order, waiting for each; runs that wait all wait in
// the same order, and one that found every host free never waits. Each
// host's state is read again under its new lock: other runs may have
// changed any host.
func (r *Run) settleLocks(ctx context.Context) {
	var busy []*HostRun
	for _, h := range r.Hosts {
		if h.Result.err == nil && h.lockBusy {
			busy = append(busy, h)
		}
	}
	if len(busy) == 0 || ctx.Err() != nil {
		return
	}
	var hosts []*HostRun
	for _, h := range r.Hosts {
		if h.Result.err == nil {
			h.releaseLock()
			h.lock = nil
			hosts = append(hosts, h)
		}
	}
	slices.SortFunc(hosts, func(a, b *HostRun) int { return strings.Compare(a.Host.Name, b.Host.Name) })
	deadline := time.Now().Add(r.Opts.LockTimeout)
	for _, h := range hosts {
		if err := r.timed(h, func() error { return r.lockHost(ctx, h, max(0, time.Until(deadline))) }); err != nil {
			if interrupted(ctx) {
				h.interrupt("lock")
			} else {
				h.fail("lock", err)
				fmt.Fprintf(r.Opts.Out, "%s: lock failed: %s\n", h.Host.Name, err)
			}
		}
		h.lockBusy = false
	}
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
			cancel(errors.New("the session holding the host's lock ended"))
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
