package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// defaultStallTimeout is how long an SFTP operation may go without a byte
// from the host before the host is given up.
const defaultStallTimeout = 30 * time.Second

// StallError is an operation that the host stopped answering: its sshd may
// still answer keepalives, but nothing came back for the stall timeout.
type StallError struct {
	Host  string
	Op    string // "upload of 3f2a…", "opening SFTP"
	Step  string // what was being waited for: "writing", "renaming into place"
	After time.Duration
}

func (e *StallError) Error() string {
	msg := e.Op + " stalled"
	if e.Step != "" {
		msg += " while " + e.Step
	}
	return fmt.Sprintf("%s: no progress for %s", msg, e.After)
}

// sftpSession is the connection's SFTP subsystem and a count of what the
// host has sent back on it: bytes that keep arriving tell a slow link from
// a stalled one.
type sftpSession struct {
	client *sftp.Client
	heard  atomic.Int64

	mu      sync.Mutex
	sess    *ssh.Session
	aborted bool
	reason  error // the stall that aborted it, if one did
}

// attach records the session's channel; false when the session was
// aborted while the channel was being opened (it is closed then).
func (s *sftpSession) attach(sess *ssh.Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		go sess.Close()
		return false
	}
	s.sess = sess
	return true
}

// abort closes the subsystem's channel so that every request still waiting
// on it fails. The close is sent in the background: a write to a stuck
// connection can block, and Conn.Close ends it at the latest.
func (s *sftpSession) abort(reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		return
	}
	s.aborted, s.reason = true, reason
	if s.sess != nil {
		go s.sess.Close()
	}
}

func (s *sftpSession) isAborted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.aborted
}

func (s *sftpSession) abortReason() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// heardReader counts the bytes the host sends on the subsystem.
type heardReader struct {
	r io.Reader
	n *atomic.Int64
}

func (h heardReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n.Add(int64(n))
	return n, err
}

// step is what an operation is waiting for, for the error when it stalls.
type step struct {
	mu   sync.Mutex
	name string
}

func (st *step) set(name string) {
	st.mu.Lock()
	st.name = name
	st.mu.Unlock()
}

func (st *step) get() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.name
}

// stallChecks is how many times per stall timeout the watch looks for
// progress.
const stallChecks = 8

// quietCount tells, from a count read once per check, when it has not
// moved for a whole stall timeout (stallChecks checks in a row).
type quietCount struct {
	last  int64
	quiet int
}

func (q *quietCount) stalled(n int64) bool {
	if n != q.last {
		q.last, q.quiet = n, 0
		return false
	}
	q.quiet++
	return q.quiet >= stallChecks
}

// watch runs op against s and returns op's error, or a *StallError once the
// host has sent nothing on s for StallTimeout while op waited. s is then
// aborted so op's goroutine ends too, and the caller never waits on a host
// that stopped answering. When ctx ends, op gets removeTimeout to clean up
// before it is abandoned the same way.
func (c *Conn) watch(ctx context.Context, s *sftpSession, what string, op func(*step) error) error {
	st := &step{}
	done := make(chan error, 1)
	go func() { done <- op(st) }()

	stall := c.cfg.StallTimeout
	tick := time.NewTicker(max(stall/stallChecks, time.Millisecond))
	defer tick.Stop()
	still := quietCount{last: s.heard.Load()}
	ctxDone := ctx.Done()
	var grace <-chan time.Time
	for {
		select {
		case err := <-done:
			if err != nil {
				if r := s.abortReason(); r != nil {
					return r // a concurrent operation found the session stalled
				}
			}
			return err
		case <-ctxDone:
			ctxDone = nil
			grace = time.After(removeTimeout)
		case <-grace:
			s.abort(nil)
			return fmt.Errorf("%s cancelled: %w", what, context.Cause(ctx))
		case <-tick.C:
			if !still.stalled(s.heard.Load()) {
				continue
			}
			err := &StallError{Host: c.cfg.Host, Op: what, Step: st.get(), After: stall}
			s.abort(err)
			c.log.Warn("host stopped answering; SFTP session closed", "host", c.cfg.Host, "op", what,
				"step", err.Step, "after", stall)
			if aerr := c.alive(); aerr != nil {
				return aerr
			}
			return err
		}
	}
}

// await runs one request that the host answers at once (a channel open, an
// exec request) and gives up after StallTimeout without an answer, or when
// ctx ends. The request's goroutine ends when the answer comes or the
// connection closes.
func (c *Conn) await(ctx context.Context, what string, req func() error) error {
	done := make(chan error, 1)
	go func() { done <- req() }()
	timer := time.NewTimer(c.cfg.StallTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, context.Cause(ctx))
	case <-timer.C:
		if aerr := c.alive(); aerr != nil {
			return aerr
		}
		return &StallError{Host: c.cfg.Host, Op: what, After: c.cfg.StallTimeout}
	}
}

// errAbandoned marks errors of work that was given up on; they never
// reach a caller, which already has the reason.
var errAbandoned = errors.New("abandoned")

// openSession opens a session channel, bounded like await; a session that
// opens after it was given up on is closed.
func (c *Conn) openSession(ctx context.Context) (*ssh.Session, error) {
	var mu sync.Mutex
	var sess *ssh.Session
	gaveUp := false
	err := c.await(ctx, "opening a session", func() error {
		s, err := c.client.NewSession()
		if err != nil {
			return c.connErr("opening session", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if gaveUp {
			s.Close()
			return errAbandoned
		}
		sess = s
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		gaveUp = true
		if sess != nil {
			sess.Close()
		}
		return nil, err
	}
	return sess, nil
}

// session takes one of the connection's session slots (maxSessions) and
// opens a session channel; release closes the channel and frees the slot.
// what names the work in the error when it never starts.
func (c *Conn) session(ctx context.Context, what string) (sess *ssh.Session, release func(), err error) {
	if err := c.alive(); err != nil {
		return nil, nil, err
	}
	select {
	case c.sessions <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("%s not started: %w", what, context.Cause(ctx))
	case <-c.done:
		return nil, nil, c.alive()
	}
	if sess, err = c.openSession(ctx); err != nil {
		<-c.sessions
		return nil, nil, err
	}
	return sess, func() { sess.Close(); <-c.sessions }, nil
}

// start starts command on sess, bounded like await; what names it in errors.
func (c *Conn) start(ctx context.Context, sess *ssh.Session, what, command string) error {
	return c.await(ctx, what, func() error {
		if err := sess.Start(command); err != nil {
			return c.connErr(what, err)
		}
		return nil
	})
}
