package transport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/obsbox/obsbox/installer/shell"
	"golang.org/x/crypto/ssh"
)

// unpackScript runs as root with the tarball on stdin ($1 the folder of
// unpacked trees, $2 the tarball's sha256, $3 how many leading path
// elements to strip, $4 the line that ends what comes before the tarball:
// a sudo password sudo did not ask for). It unpacks while the bytes arrive
// and hashes them on the way, into a private folder; only when the whole
// stream matched the sha256 does the tree get its name, $1/$2. A stream
// that ends early (a dropped connection, Ctrl-C) fails tar or the hash,
// and the trap removes the partial tree. The bytes never touch a file
// another user can reach: root reads them from the channel itself.
const unpackScript = `printf '%s\n' obsbox-supervisor-started >&2
l=
while [ "$l" != "$4" ]; do IFS= read -r l || exit 125; done
set -eu
umask 077
P=$1
mkdir -m 700 -- "$P" 2>/dev/null || :
if [ -L "$P" ] || [ ! -d "$P" ] || [ ! -O "$P" ]; then echo "$P is not a folder of root's; remove it" >&2; exit 3; fi
chmod 700 -- "$P"
d=$(mktemp -d -- "$P/.part.XXXXXX")
trap 'rm -rf -- "$d"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
mkdir -- "$d/tree"
mkfifo -- "$d/fifo"
sha256sum < "$d/fifo" > "$d/sum" &
s=$!
tee -- "$d/fifo" | tar -xzf - -C "$d/tree" --strip-components="$3" --no-same-owner --no-same-permissions
wait "$s"
read -r got _ < "$d/sum"
[ "$got" = "$2" ] || { echo 'the tarball arrived incomplete or damaged (sha256 mismatch)' >&2; exit 4; }
rm -rf -- "$P/$2"
mv -- "$d/tree" "$P/$2"`

// Unpack streams a release tarball of size bytes from r to a root process
// on the host that unpacks it while the bytes arrive, into dir/<sha256>
// (a folder only root can open). Nothing is staged, nothing is read twice,
// and the tree gets its name only once every byte matched sha256, so a
// tree with that name is always whole. Each call has its own channel, so
// several tarballs stream side by side, each with its own window.
// Cancelling ctx, or StallTimeout without a byte taken, closes the channel:
// the host's side then fails and removes what it unpacked. progress, if
// not nil, is called with the bytes sent so far, never after Unpack returns.
func (c *Conn) Unpack(ctx context.Context, r io.Reader, size int64, dir, sha256 string, strip int, progress func(written int64)) error {
	c.roundTrips.Add(1)
	what := "streaming " + shortSum(sha256)
	if len(sha256) != 64 || strings.Trim(sha256, "0123456789abcdef") != "" {
		return fmt.Errorf("%s: %q is not a sha256", what, sha256)
	}
	if strip < 0 || strip > 9 || size < 0 || !strings.HasPrefix(dir, "/") {
		return fmt.Errorf("%s: bad arguments (strip %d, size %d, folder %q)", what, strip, size, dir)
	}
	st := &tarballStream{what: what, dir: dir, size: size,
		src:    &countingReader{ctx: ctx, r: io.LimitReader(r, size), progress: progress, sent: &c.bytesSent},
		stderr: &stderrFilter{tail: tailBuffer{max: stderrKept}}}
	st.taken.r = st.src
	defer st.src.stop() // after the session is closed: the channel's copy may be in a read
	sess, release, err := c.session(ctx, what)
	if err != nil {
		return err
	}
	defer release()

	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic("no randomness: " + err.Error())
	}
	start := "obsbox-unpack-" + hex.EncodeToString(nonce[:])
	command, prefix := asRoot(c.cfg.User, c.cfg.SudoPassword, "/bin/sh -c "+shell.Quote(unpackScript)+
		" obsbox-unpack "+shell.Join(dir, sha256, strconv.Itoa(strip), start))
	// The session copies stdin to the channel and closes it at the end:
	// that EOF is how the host knows the stream is complete.
	sess.Stdin = io.MultiReader(strings.NewReader(string(prefix)+start+"\n"), &st.taken)
	sess.Stderr = st.stderr

	begun := time.Now()
	if err := c.start(ctx, sess, what, command); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	err = c.watchStream(ctx, st, done)
	c.log.Debug("streamed tarball", "host", c.cfg.Host, "sha256", sha256, "bytes", size,
		"duration", time.Since(begun), "err", err)
	return err
}

// tarballStream is one Unpack under way.
type tarballStream struct {
	what, dir string
	size      int64
	src       *countingReader
	taken     takenReader // what the session took of src
	stderr    *stderrFilter
}

// watchStream waits for the stream's command to end and says what its end
// means. It gives up when ctx ends, or when the host has taken no byte for
// StallTimeout (a *StallError); once everything is sent, the host has
// StallTimeout to finish. The caller's deferred Close then ends the
// command on the host.
func (c *Conn) watchStream(ctx context.Context, st *tarballStream, done <-chan error) error {
	stall := c.cfg.StallTimeout
	tick := time.NewTicker(max(stall/stallChecks, time.Millisecond))
	defer tick.Stop()
	still := quietCount{last: st.taken.n.Load()}
	for {
		select {
		case err := <-done:
			return c.streamEnded(st, err)
		case <-ctx.Done():
			return fmt.Errorf("%s cancelled: %w", st.what, context.Cause(ctx))
		case <-tick.C:
			if !still.stalled(st.taken.n.Load()) {
				continue
			}
			if aerr := c.alive(); aerr != nil {
				return aerr
			}
			step := "sending"
			if st.taken.eof.Load() {
				step = "unpacking the last bytes"
			}
			c.log.Warn("host stopped taking the stream; channel closed", "host", c.cfg.Host, "op", st.what, "step", step, "after", stall)
			return &StallError{Host: c.cfg.Host, Op: st.what, Step: step, After: stall}
		}
	}
}

// streamEnded is what the command's own end (Session.Wait's error, once
// the session has also stopped reading src) means: nil when the tree is
// in place, else why not.
func (c *Conn) streamEnded(st *tarballStream, err error) error {
	short := st.taken.eof.Load() && st.src.count() != st.size
	var exit *ssh.ExitError
	switch {
	case err == nil && st.src.count() == st.size:
		return nil
	case err == nil || short:
		return fmt.Errorf("%s: the local file ended after %d of %d bytes", st.what, st.src.count(), st.size)
	case errors.As(err, &exit):
		if !st.stderr.sawStart() && c.cfg.User != "root" {
			return sudoFailure(c.cfg.User, c.cfg.SudoPassword != "", exit.ExitStatus(), st.stderr.String())
		}
		msg := lastLines(st.stderr.String(), 3)
		if msg == "" {
			msg = fmt.Sprintf("exit code %d", exit.ExitStatus())
		}
		return fmt.Errorf("%s into %s: %s", st.what, st.dir, msg)
	default:
		return c.connErr(st.what, err)
	}
}

// takenReader counts what the session took from stdin, for the stall
// watch, and notes the end.
type takenReader struct {
	r   io.Reader
	n   atomic.Int64
	eof atomic.Bool
}

func (t *takenReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n.Add(int64(n))
	if err == io.EOF {
		t.eof.Store(true)
	}
	return n, err
}

func shortSum(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}
