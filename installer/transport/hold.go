package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/obsbox/obsbox/installer/shell"
	"golang.org/x/crypto/ssh"
)

// LockPath is the host's run lock: on tmpfs, so a reboot clears it. Tests
// point it elsewhere.
var LockPath = "/run/obsbox.lock"

// lockScript takes an exclusive flock on $L and holds it until the
// supervisor ends the script (the controller closed stdin, died, or the
// connection dropped): the lock never outlives its holder. It prints
// "busy HOLDER" when another run holds the lock, then "locked" or
// "timeout HOLDER". After the flock it checks that the file locked is still
// the one at $L, since uninstall deletes the file while holding it. A
// holder empties the file as it lets go; "locked recent" says the previous
// holder let go moments ago or died without emptying it (Lock.Contended:
// only logged now, as the installer reads the state under the lock).
//
// The script given to LockAndRun runs in a subshell once the lock is held
// (its stdout framed by "ran RC BYTES", its stderr on the session's), so a
// state read under the lock costs no round trip of its own and nothing can
// change the host between the read and the lock.
const lockScript = `L=%s; W=%d; ID=%s
umask 022
command -v flock >/dev/null 2>&1 || { echo 'flock (util-linux) is not installed' >&2; exit 1; }
holder() { head -c 512 "$L" 2>/dev/null | tr -cd '[:print:]'; }
t0=$(date +%%s); end=$(( t0 + W )); said=
while :; do
	[ ! -L "$L" ] || { echo "$L is a symbolic link; refusing to lock through it" >&2; exit 1; }
	existed=; [ -e "$L" ] && existed=1
	exec 9<>"$L" || exit 1
	if ! flock -n 9; then
		[ -n "$said" ] || { echo "busy $(holder)"; said=1; }
		left=$(( end - $(date +%%s) ))
		if [ "$left" -le 0 ] || ! flock -w "$left" 9; then echo "timeout $(holder)"; exit 0; fi
	fi
	[ "$(stat -L -c %%d:%%i /dev/fd/9)" = "$(stat -c %%d:%%i "$L" 2>/dev/null)" ] && break
	exec 9<&-
done
recent=
if [ -n "$existed" ] && { [ -s "$L" ] || [ "$(stat -c %%Y "$L")" -ge $(( t0 - 3 )) ]; }; then recent=' recent'; fi
s=; o=
trap 'truncate -s 0 /dev/fd/9 2>/dev/null; [ -z "$s" ] || kill "$s" 2>/dev/null; [ -z "$o" ] || rm -f "$o"; exit 0' TERM HUP INT PIPE
printf '%%s\n' "$ID" > "$L"
echo "locked$recent"
if [ -n "%s" ]; then
	o=$(mktemp /tmp/obsbox-locked.XXXXXX) || exit 1
	(
%s
) >"$o" </dev/null 9<&-; rc=$?
	printf 'ran %%d %%d\n' "$rc" "$(wc -c <"$o")"; cat "$o"; rm -f "$o"; o=
fi
# sleep in the background, without the lock: wait returns at once on TERM.
while :; do sleep 3600 </dev/null >/dev/null 2>&1 9<&- & s=$!; wait "$s"; done`

// LockBusyError is a host locked by another run.
type LockBusyError struct {
	Host   string
	Holder string        // what the holder wrote: who, where, since when
	Waited time.Duration // how long this run waited; 0 = it did not
}

func (e *LockBusyError) Error() string {
	who := e.Holder
	if who == "" {
		who = "another obsbox run (it has not written its name yet)"
	}
	if e.Waited > 0 {
		return fmt.Sprintf("still locked after waiting %s, by %s; nothing on this host was changed", e.Waited, who)
	}
	return fmt.Sprintf("locked by %s; nothing on this host was changed (wait for it with --lock-timeout)", who)
}

// Lock is a host's run lock, held by a root session open for the run's life.
type Lock struct {
	conn    *Conn
	in      io.WriteCloser
	release sync.Once
	done    chan struct{} // closed when the session ended
	// Contended: another run held the lock first or let go of it moments
	// ago, so what was read about the host before the lock may be stale.
	Contended bool
}

// Lock takes the host's run lock, waiting up to wait for another holder to
// let go; holder (who, where, since when; no secrets) is written into the
// lock file for others to read. onWait, when not nil, is told the current
// holder once when this run has to wait. A lock that could not be had is a
// *LockBusyError.
func (c *Conn) Lock(ctx context.Context, holder string, wait time.Duration, onWait func(holder string)) (*Lock, error) {
	l, _, err := c.LockAndRun(ctx, holder, wait, onWait, "")
	return l, err
}

// LockAndRun is Lock, then runs script as root under the lock in the same
// session and returns its stdout: one round trip for both. A script that
// fails is an *ExitError and the lock is let go; "" runs nothing.
func (c *Conn) LockAndRun(ctx context.Context, holder string, wait time.Duration, onWait func(holder string), script string) (*Lock, []byte, error) {
	c.roundTrips.Add(1)
	if err := c.alive(); err != nil {
		return nil, nil, err
	}
	run, body := "", ":" // an empty subshell would not parse
	if script != "" {
		run, body = "1", script
	}
	lock := fmt.Sprintf(lockScript, shell.Quote(LockPath), int(wait.Round(time.Second)/time.Second), shell.Quote(oneLine(holder)), run, body)
	command, stdin := remoteCommand(c.cfg.User, c.cfg.SudoPassword, lock)
	sess, err := c.client.NewSession()
	if err != nil {
		return nil, nil, c.connErr("opening the lock session", err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, nil, c.connErr("opening the lock session", err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, nil, c.connErr("opening the lock session", err)
	}
	stderr := &stderrFilter{tail: tailBuffer{max: stderrKept}}
	if stdin != nil {
		stderr.onRetry = func() { in.Close() }
	}
	sess.Stderr = stderr
	if err := sess.Start(command); err != nil {
		sess.Close()
		return nil, nil, c.connErr("starting the lock session", err)
	}
	l := &Lock{conn: c, in: in, done: make(chan struct{})}
	if stdin != nil {
		if _, err := in.Write(stdin); err != nil {
			sess.Close()
			return nil, nil, c.connErr("starting the lock session", err)
		}
	}
	// A "ran" line comes with the script's exit code and stdout, read here
	// before the line is passed on.
	type lockLine struct {
		text string
		ran  bool
		rc   int
		out  []byte
	}
	lines := make(chan lockLine, 4)
	go func() {
		defer close(lines)
		br := bufio.NewReader(out)
		for {
			text, err := br.ReadString('\n')
			if err != nil {
				return
			}
			l := lockLine{text: strings.TrimSuffix(text, "\n")}
			var n int
			if _, err := fmt.Sscanf(l.text, "ran %d %d", &l.rc, &n); err == nil && strings.HasPrefix(l.text, "ran ") {
				l.ran, l.out = true, make([]byte, n)
				if _, err := io.ReadFull(br, l.out); err != nil {
					return
				}
			}
			lines <- l
		}
	}()
	var exitErr error
	go func() {
		exitErr = sess.Wait()
		sess.Close()
		close(l.done)
	}()

	start := time.Now()
	var scriptTimeout <-chan time.Time // from the lock on, the script has CommandTimeout
	for {
		select {
		case <-scriptTimeout:
			l.Release()
			return nil, nil, fmt.Errorf("script %q under the lock: timed out after %s", firstLine(script), c.cfg.CommandTimeout)
		case got, ok := <-lines:
			if !ok {
				<-l.done
				return nil, nil, c.lockFailure(exitErr, stderr)
			}
			line := got.text
			switch {
			case line == "locked" || line == "locked recent":
				l.Contended = l.Contended || line == "locked recent"
				c.log.Debug("locked", "host", c.cfg.Host, "waited", time.Since(start), "contended", l.Contended)
				if script == "" {
					return l, nil, nil
				}
				scriptTimeout = time.After(c.cfg.CommandTimeout)
			case got.ran:
				c.log.Debug("ran script under the lock", "host", c.cfg.Host, "script", firstLine(script),
					"bytes", len(script), "duration", time.Since(start), "rc", got.rc)
				if got.rc != 0 {
					l.Release()
					return nil, got.out, &ExitError{Host: c.cfg.Host, Code: got.rc, Stderr: stderr.String()}
				}
				return l, got.out, nil
			case strings.HasPrefix(line, "busy "):
				if wait <= 0 {
					l.Release()
					return nil, nil, &LockBusyError{Host: c.cfg.Host, Holder: strings.TrimPrefix(line, "busy ")}
				}
				l.Contended = true
				if onWait != nil {
					onWait(strings.TrimPrefix(line, "busy "))
				}
			case strings.HasPrefix(line, "timeout "):
				l.Release()
				return nil, nil, &LockBusyError{Host: c.cfg.Host, Holder: strings.TrimPrefix(line, "timeout "),
					Waited: time.Since(start).Round(time.Second)}
			}
		case <-ctx.Done():
			l.Release()
			return nil, nil, fmt.Errorf("taking the lock: %w", context.Cause(ctx))
		}
	}
}

func (c *Conn) lockFailure(err error, stderr *stderrFilter) error {
	if aerr := c.alive(); aerr != nil {
		return aerr
	}
	var exit *ssh.ExitError
	if !stderr.sawStart() && c.cfg.User != "root" && errors.As(err, &exit) {
		return sudoFailure(c.cfg.User, c.cfg.SudoPassword != "", exit.ExitStatus(), stderr.String())
	}
	msg := lastLines(stderr.String(), 3)
	if msg == "" && err != nil {
		msg = err.Error()
	}
	return fmt.Errorf("taking the lock %s failed: %s", LockPath, msg)
}

// Lost is closed when the lock's session ends: after Release, or when the
// host or the connection ended it. Work under the lock must stop then.
func (l *Lock) Lost() <-chan struct{} { return l.done }

// Release lets go of the lock: closing stdin makes the supervisor end the
// holding script, which closes the lock file. It waits briefly for that.
func (l *Lock) Release() {
	l.release.Do(func() {
		l.in.Close()
		select {
		case <-l.done:
		case <-time.After(abandonWait):
		}
	})
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
