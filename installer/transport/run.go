package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/obsbox/obsbox/installer/shell"
	"golang.org/x/crypto/ssh"
)

// abandonWait is how long a cancelled Run waits for the host to confirm
// that the script was stopped.
const abandonWait = 5 * time.Second

// stderrKept is how much of a script's stderr is kept for errors.
const stderrKept = 64 << 10

// ExitError is a script that ran and failed.
type ExitError struct {
	Host   string
	Code   int    // exit status; 128+n when killed by signal n
	Signal string // e.g. "KILL", when killed by a signal
	Stderr string // the end of what the script wrote to stderr
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("script failed with exit code %d", e.Code)
	if e.Signal != "" {
		msg = fmt.Sprintf("script killed by signal %s", e.Signal)
	}
	if tail := lastLines(e.Stderr, 5); tail != "" {
		return msg + ": " + tail
	}
	return msg + " (no error output)"
}

// lastLines joins the last n non-empty lines of s on one line.
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// startMarker is the supervisor's first line on stderr. Seeing it proves
// that sudo (or the login) let the command run; it is removed from the
// stderr callers see.
const startMarker = "obsbox-supervisor-started\n"

// supervisor runs a script as root on the host. The command line holds
// only this fixed text, the script's length ($1) and a random line ($2):
// the script itself comes on stdin after that line, so nothing of it shows
// in /proc/*/cmdline or sudo's log, and any size fits. Whatever stdin holds
// before the line (a sudo password sudo did not ask for) is skipped. The
// script is kept in a file only root can read, and run from there.
//
// sshd sends a signal only to the process it started, and closing the
// channel stops nothing that does not read or write, so a script abandoned
// on timeout or Ctrl-C would go on changing the host behind the installer's
// back. Here the script runs in its own process group with stdin from
// /dev/null, and a watchdog reads the channel's stdin (fd 3): when the
// installer closes it, or the connection dies, the whole group is
// terminated. The watchdog drains what else comes on stdin. sudo passes
// on the SIGPIPE it gets when the connection drops: trapped like the other
// signals, so the script file goes with the supervisor.
const supervisor = `printf '%s\n' obsbox-supervisor-started >&2
l=
while [ "$l" != "$2" ]; do IFS= read -r l || exit 125; done
f=$(mktemp /tmp/obsbox-script.XXXXXX) || exit 125
trap 'rm -f "$f"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
head -c "$1" > "$f" || exit 125
if [ "$(wc -c < "$f")" -ne "$1" ]; then echo 'obsbox: the script did not arrive whole' >&2; exit 125; fi
exec 3<&0
if command -v setsid >/dev/null 2>&1; then setsid /bin/sh "$f" </dev/null 3<&- &
else /bin/sh "$f" </dev/null 3<&- &
fi
p=$!
(while read -r _; do :; done <&3
kill -TERM -"$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
i=0; while [ $i -lt 10 ] && kill -0 -"$p" 2>/dev/null; do sleep 1; i=$((i+1)); done
kill -KILL -"$p" 2>/dev/null) >/dev/null 2>&1 &
w=$!
exec 3<&-
wait "$p"; rc=$?
kill "$w" 2>/dev/null
exit "$rc"`

// remoteCommand is the command line sent to sshd to run script as root,
// and what to write first on its stdin: the sudo password line (when
// sudo asks), the start line and the script. Anything written on stdin
// after that is drained; closing stdin stops the script. sshd runs the
// command with the login shell.
//
// LC_ALL=C keeps sudo's messages (and the script's tools) in English so
// failures can be recognised. With a sudo password, -S reads it from stdin,
// -p with an empty prompt keeps stderr clean, and -k ignores cached
// credentials so sudo always consumes the password line.
func remoteCommand(user, sudoPassword, script string) (command string, stdin []byte) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic("no randomness: " + err.Error())
	}
	start := "obsbox-script-" + hex.EncodeToString(nonce[:])
	command, stdin = asRoot(user, sudoPassword, "/bin/sh -c "+shell.Quote(supervisor)+" obsbox "+strconv.Itoa(len(script))+" "+start)
	return command, append(stdin, start+"\n"+script...)
}

// asRoot is the command line that runs run (a command line) as root when
// logged in as user, and what stdin must hold before anything else: the
// sudo password line, when there is one.
func asRoot(user, sudoPassword, run string) (command string, stdin []byte) {
	switch {
	case user == "root":
		return "env LC_ALL=C " + run, nil
	case sudoPassword == "":
		return "env LC_ALL=C sudo -n -- " + run, nil
	default:
		return "env LC_ALL=C sudo -S -p '' -k -- " + run, []byte(sudoPassword + "\n")
	}
}

// Run runs script with /bin/sh as root on the host (through sudo for other
// users) and returns its stdout. A script that exits non-zero gives an
// *ExitError (with whatever stdout it wrote); when sudo refuses, the error
// says why and what to set. Each Run is one round trip. The script travels
// on stdin, not on the command line; still, secrets go up as files.
// When ctx ends or CommandTimeout passes, the script's whole process group
// on the host is terminated.
func (c *Conn) Run(ctx context.Context, script string) ([]byte, error) {
	c.roundTrips.Add(1)
	command, stdin := remoteCommand(c.cfg.User, c.cfg.SudoPassword, script)
	ctx, cancel := context.WithTimeoutCause(ctx, c.cfg.CommandTimeout,
		fmt.Errorf("timed out after %s", c.cfg.CommandTimeout))
	defer cancel()
	sess, release, err := c.session(ctx, "script")
	if err != nil {
		return nil, err
	}
	defer release()
	// stdin stays open while the script runs: closing it is how the
	// supervisor learns that the script was abandoned.
	in, err := sess.StdinPipe()
	if err != nil {
		return nil, c.connErr("opening session", err)
	}
	// One goroutine owns stdin: x/crypto's channel must not be closed for
	// writing while a write is under way. A write blocks only while the
	// script has not all arrived (nothing runs yet then), and ends with
	// the session.
	var closeIn sync.Once
	closeAsked := make(chan struct{})
	closeStdin := func() { closeIn.Do(func() { close(closeAsked) }) }
	var stdout bytes.Buffer
	stderr := &stderrFilter{tail: tailBuffer{max: stderrKept}}
	if c.cfg.User != "root" && c.cfg.SudoPassword != "" {
		// sudo asks again after a wrong password; an EOF makes it give up
		// instead of waiting for the command timeout.
		stderr.onRetry = closeStdin
	}
	sess.Stdout = &stdout
	sess.Stderr = stderr

	start := time.Now()
	if err := c.start(ctx, sess, "starting script", command); err != nil {
		return nil, err
	}
	// Written aside: when sudo refuses, nothing reads the script, and the
	// session's end, not a blocked write, tells what happened.
	go func() {
		in.Write(stdin)
		<-closeAsked
		in.Close()
	}()
	defer closeStdin() // the goroutine ends with the run
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		closeStdin()
		select {
		case <-done: // the supervisor stopped the script
		case <-time.After(abandonWait):
		}
		c.log.Debug("script abandoned", "host", c.cfg.Host, "script", firstLine(script), "err", context.Cause(ctx))
		return nil, fmt.Errorf("script %q: %w", firstLine(script), context.Cause(ctx))
	}
	c.log.Debug("ran script", "host", c.cfg.Host, "script", firstLine(script), "bytes", len(script),
		"duration", time.Since(start), "err", err)

	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return stdout.Bytes(), nil
	case errors.As(err, &exit):
		if !stderr.sawStart() && c.cfg.User != "root" {
			return nil, sudoFailure(c.cfg.User, c.cfg.SudoPassword != "", exit.ExitStatus(), stderr.String())
		}
		return stdout.Bytes(), &ExitError{Host: c.cfg.Host, Code: exit.ExitStatus(), Signal: exit.Signal(),
			Stderr: stderr.String()}
	case errors.As(err, &missing):
		return nil, c.connErr("script ended without an exit status", err)
	default:
		return nil, c.connErr("running script", err)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// stderrFilter keeps the end of the command's stderr without the
// supervisor's start marker, and watches what comes before the marker
// (sudo's own messages) for a password retry.
type stderrFilter struct {
	mu      sync.Mutex
	pending []byte // before the marker
	started bool
	tail    tailBuffer
	onRetry func()
}

func (f *stderrFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started {
		return f.tail.Write(p)
	}
	f.pending = append(f.pending, p...)
	if i := bytes.Index(f.pending, []byte(startMarker)); i >= 0 {
		f.started = true
		f.tail.Write(f.pending[:i])
		f.tail.Write(f.pending[i+len(startMarker):])
		f.pending = nil
		return len(p), nil
	}
	if f.onRetry != nil && bytes.Contains(f.pending, []byte("Sorry, try again")) {
		go f.onRetry()
		f.onRetry = nil
	}
	if len(f.pending) > stderrKept {
		f.pending = f.pending[len(f.pending)-stderrKept:]
	}
	return len(p), nil
}

func (f *stderrFilter) sawStart() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started
}

func (f *stderrFilter) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started {
		return string(f.pending)
	}
	return f.tail.String()
}

// CheckPrivilege verifies that scripts really run as root, before anything
// is changed: for a non-root user it proves sudo works with the
// configuration given, and names the problem when it does not.
func (c *Conn) CheckPrivilege(ctx context.Context) error {
	out, err := c.Run(ctx, "id -u")
	if err != nil {
		return err // Run names the host and, for sudo, what to fix
	}
	if uid := strings.TrimSpace(string(out)); uid != "0" {
		how := "logging in as root"
		if c.cfg.User != "root" {
			how = "sudo as user " + c.cfg.User
		}
		return fmt.Errorf("scripts run through %s have uid %q, not 0 (root)", how, uid)
	}
	return nil
}

// sudoFailure turns sudo's complaint into an error that says what to do.
func sudoFailure(user string, passwordGiven bool, code int, stderr string) error {
	s := strings.ToLower(stderr)
	has := func(subs ...string) bool {
		for _, sub := range subs {
			if strings.Contains(s, sub) {
				return true
			}
		}
		return false
	}
	switch {
	case passwordGiven && has("incorrect password", "sorry, try again"):
		return fmt.Errorf("sudo refused the password for user %s; check ssh.sudo_password", user)
	case !passwordGiven && has("a password is required", "a terminal is required", "no password was provided", "askpass"):
		return fmt.Errorf("user %s needs a password for sudo; set ssh.sudo_password", user)
	case has("not in the sudoers", "is not allowed to", "may not run sudo"):
		return fmt.Errorf("user %s may not run commands as root with sudo; add it to the sudoers (or log in as root)", user)
	case has("must have a tty"):
		return fmt.Errorf("sudo for user %s requires a terminal (Defaults requiretty); remove requiretty for this user", user)
	case code == 127 && has("sudo"):
		return fmt.Errorf("sudo is not installed, and user %s is not root; install sudo or log in as root", user)
	}
	detail := lastLines(stderr, 3)
	if detail == "" {
		detail = fmt.Sprintf("exit code %d", code)
	}
	return fmt.Errorf("cannot become root with sudo as user %s: %s", user, detail)
}
