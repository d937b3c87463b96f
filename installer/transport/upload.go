package transport

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/obsbox/obsbox/installer/shell"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// removeTimeout bounds the cleanup of a half-written file after a failed
// upload: the connection may be what failed.
const removeTimeout = 5 * time.Second

// Upload writes size bytes from r to remotePath in the staging folder, as
// the login user, over SFTP. remotePath is relative to StagingDir() or an
// absolute path inside it. The data goes to "<name>.part" first and is
// renamed into place only when complete, so a file with the final name is
// always whole. progress, if not nil, is called with the bytes written so
// far, never after Upload returns. Cancelling ctx stops the upload and
// removes the partial file. When the host answers nothing for StallTimeout
// (a stalled sftp-server, say) the upload fails with a *StallError and the
// SFTP session is closed; the next upload opens a new one.
func (c *Conn) Upload(ctx context.Context, r io.Reader, size int64, remotePath string, progress func(written int64)) error {
	c.roundTrips.Add(1)
	final, err := c.stagingPath(remotePath)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("upload %s: negative size %d", final, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("upload %s: %w", final, err)
	}
	s, err := c.sftpSession(ctx)
	if err != nil {
		return err
	}
	src := &countingReader{ctx: ctx, r: io.LimitReader(r, size), progress: progress, sent: &c.bytesSent}
	defer src.stop()
	err = c.watch(ctx, s, "upload of "+path.Base(final), func(st *step) error {
		return c.upload(ctx, s, src, size, final, st)
	})
	if s.isAborted() {
		c.dropSFTP(s)
	}
	return err
}

// upload is Upload's work on the host; watch gives up on it when the host
// stops answering.
func (c *Conn) upload(ctx context.Context, s *sftpSession, src *countingReader, size int64, final string, st *step) error {
	client := s.client
	if dir := path.Dir(final); dir != c.staging {
		st.set("creating " + dir)
		if err := client.MkdirAll(dir); err != nil {
			return c.connErr("creating "+dir, err)
		}
	}

	start := time.Now()
	part := final + ".part"
	st.set("creating " + path.Base(part))
	f, err := client.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return c.connErr("creating "+part, err)
	}
	fail := func(op string, err error) error {
		if s.isAborted() {
			return err // the session is gone; watch has the reason
		}
		st.set("removing " + path.Base(part))
		f.Close()
		c.removeQuietly(client, part)
		if ctx.Err() != nil {
			return fmt.Errorf("upload %s cancelled: %w", final, context.Cause(ctx))
		}
		return c.connErr(op, err)
	}
	st.set("setting the mode of " + path.Base(part))
	if err := f.Chmod(0o600); err != nil {
		return fail("chmod "+part, err)
	}
	st.set("writing")
	n, err := f.ReadFromWithConcurrency(src, 0)
	if err != nil {
		return fail("writing "+part, err)
	}
	if n != size {
		return fail("writing "+part, fmt.Errorf("source ended after %d of %d bytes", n, size))
	}
	st.set("closing " + path.Base(part))
	if err := f.Close(); err != nil {
		return fail("closing "+part, err)
	}
	if err := ctx.Err(); err != nil {
		return fail("renaming "+part, err)
	}
	st.set("renaming " + path.Base(part) + " into place")
	if err := rename(client, part, final); err != nil {
		return fail("renaming "+part, err)
	}
	c.log.Debug("uploaded file", "host", c.cfg.Host, "path", final, "bytes", size, "duration", time.Since(start))
	return nil
}

// stagingPath resolves remotePath and refuses anything outside staging.
func (c *Conn) stagingPath(remotePath string) (string, error) {
	p := remotePath
	if !path.IsAbs(p) {
		p = path.Join(c.staging, p)
	}
	p = path.Clean(p)
	if !strings.HasPrefix(p, c.staging+"/") {
		return "", fmt.Errorf("upload destination %q is outside the staging folder %s", remotePath, c.staging)
	}
	return p, nil
}

// rename replaces newname atomically where the server supports it.
func rename(client *sftp.Client, oldname, newname string) error {
	if _, ok := client.HasExtension("posix-rename@openssh.com"); ok {
		return client.PosixRename(oldname, newname)
	}
	if err := client.Remove(newname); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return client.Rename(oldname, newname)
}

func (c *Conn) removeQuietly(client *sftp.Client, p string) {
	done := make(chan error, 1)
	go func() { done <- client.Remove(p) }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("could not remove partial upload", "host", c.cfg.Host, "path", p, "err", err)
		}
	case <-time.After(removeTimeout):
		c.log.Warn("could not remove partial upload: no answer", "host", c.cfg.Host, "path", p)
	}
}

// countingReader counts bytes as they go out and stops at cancellation,
// and for good once stop is called.
type countingReader struct {
	ctx      context.Context
	r        io.Reader
	n        int64
	progress func(int64)
	sent     interface{ Add(int64) int64 }

	mu      sync.Mutex
	stopped bool
}

func (cr *countingReader) Read(p []byte) (int, error) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.stopped {
		return 0, errAbandoned
	}
	if err := cr.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := cr.r.Read(p)
	if n > 0 {
		cr.n += int64(n)
		cr.sent.Add(int64(n))
		if cr.progress != nil {
			cr.progress(cr.n)
		}
	}
	return n, err
}

// count is how many bytes went out.
func (cr *countingReader) count() int64 {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.n
}

// stop ends reading: an abandoned upload's goroutine must not touch the
// caller's reader or progress callback after Upload returned.
func (cr *countingReader) stop() {
	cr.mu.Lock()
	cr.stopped = true
	cr.mu.Unlock()
}

// sftpSession opens the connection's SFTP session on first use and makes
// sure the staging folder is safe to write into. Every step is watched:
// a host that accepts the subsystem and then says nothing fails here.
func (c *Conn) sftpSession(ctx context.Context) (*sftpSession, error) {
	c.sftpMu.Lock()
	defer c.sftpMu.Unlock()
	if c.sftp != nil {
		return c.sftp, nil
	}
	if err := c.alive(); err != nil {
		return nil, err
	}
	s := &sftpSession{}
	if err := c.watch(ctx, s, "opening SFTP", func(st *step) error { return c.openSFTP(s, st) }); err != nil {
		s.abort(nil)
		return nil, err
	}
	c.sftp = s
	return s, nil
}

func (c *Conn) openSFTP(s *sftpSession, st *step) error {
	st.set("opening a session")
	sess, err := c.client.NewSession()
	if err != nil {
		return c.connErr("opening the SFTP session", err)
	}
	if !s.attach(sess) {
		return errAbandoned
	}
	s.heard.Add(1)
	pw, err := sess.StdinPipe()
	if err != nil {
		return c.connErr("opening the SFTP session", err)
	}
	pr, err := sess.StdoutPipe()
	if err != nil {
		return c.connErr("opening the SFTP session", err)
	}
	noSFTP := func(err error) error {
		if aerr := c.alive(); aerr != nil {
			return aerr
		}
		return fmt.Errorf("cannot start SFTP (is the sftp subsystem enabled in sshd_config?): %w", err)
	}
	st.set("starting the sftp subsystem")
	if err := sess.RequestSubsystem("sftp"); err != nil {
		return noSFTP(err)
	}
	s.heard.Add(1)
	st.set("waiting for the SFTP server's first answer")
	client, err := sftp.NewClientPipe(heardReader{r: pr, n: &s.heard}, pw,
		sftp.UseConcurrentWrites(true), sftp.MaxConcurrentRequestsPerFile(64))
	if err != nil {
		return noSFTP(err)
	}
	s.client = client
	st.set("checking the staging folder")
	return c.prepareStaging(client)
}

// dropSFTP forgets an aborted session so the next upload opens a new one.
func (c *Conn) dropSFTP(s *sftpSession) {
	c.sftpMu.Lock()
	defer c.sftpMu.Unlock()
	if c.sftp == s {
		c.sftp = nil
	}
}

// prepareStaging creates the staging folder 0700, or checks that an
// existing one is a real folder owned by the login user and closed to
// others: /var/tmp is shared, and another local user who owned this folder
// could swap a file between its upload and the root-side checksum check.
func (c *Conn) prepareStaging(client *sftp.Client) error {
	dir := c.staging
	mkErr := client.Mkdir(dir)
	fi, err := client.Lstat(dir)
	if err != nil {
		if mkErr != nil {
			err = mkErr
		}
		return c.connErr("creating staging folder "+dir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir() {
		return fmt.Errorf("staging path %s exists and is not a folder (%s); remove it", dir, fi.Mode().Type())
	}
	// The login user's uid is what a file it creates gets.
	var suffix [8]byte
	rand.Read(suffix[:])
	probe := path.Join(dir, ".owner-probe-"+hex.EncodeToString(suffix[:]))
	f, err := client.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fmt.Errorf("cannot write into staging folder %s (owned by another user?): %w", dir, err)
	}
	pfi, statErr := f.Stat()
	f.Close()
	client.Remove(probe)
	if statErr != nil {
		return c.connErr("checking staging folder "+dir, statErr)
	}
	dirOwner, mine := ownerUID(fi), ownerUID(pfi)
	if dirOwner != mine {
		return fmt.Errorf("staging folder %s belongs to uid %d, not to the login user %s (uid %d); remove it",
			dir, dirOwner, c.cfg.User, mine)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := client.Chmod(dir, 0o700); err != nil {
			return c.connErr("chmod 0700 "+dir, err)
		}
	}
	return nil
}

func ownerUID(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		return int64(st.UID)
	}
	return -1
}

// File is one small file for UploadFiles.
type File struct {
	Name    string // one path element inside the staging folder
	Content []byte
	SHA256  string // of Content, hex
}

// batchScript receives a tar on stdin as the login user and places its
// files in the staging folder ($1). It makes the same checks on the folder
// as the SFTP side (a real folder, the login user's, 0700), unpacks into a
// private folder beside the files, checks every file's sha256 there and
// only then renames each into place, so a file with its final name is
// always whole and what was sent.
const batchScript = `set -eu
umask 077
s=$1
mkdir -m 700 -- "$s" 2>/dev/null || :
if [ -L "$s" ] || [ ! -d "$s" ]; then echo "staging path $s exists and is not a folder; remove it" >&2; exit 3; fi
if [ ! -O "$s" ]; then echo "staging folder $s belongs to another user, not to the login user; remove it" >&2; exit 3; fi
chmod 700 -- "$s"
d=$(mktemp -d -- "$s/.batch.XXXXXXXX")
trap 'rm -rf -- "$d"' EXIT
tar -x -f - -C "$d" --no-same-owner --no-same-permissions
cd -- "$d"
sha256sum -c --quiet --strict .sums >&2 || { echo 'the files arrived damaged (sha256 mismatch)' >&2; exit 4; }
while IFS= read -r l; do f=${l#*  }; mv -f -- "$f" "$s/$f"; done < .sums`

// UploadFiles writes files into the staging folder in one stream: one tar
// over one command, run as the login user like SFTP, so many small files
// cost one round trip instead of several each. The host checks each file's
// sha256 before it gets its final name. progress, if not nil, is called
// with the content bytes sent so far.
func (c *Conn) UploadFiles(ctx context.Context, files []File, progress func(written int64)) error {
	if len(files) == 0 {
		return nil
	}
	c.roundTrips.Add(1)
	var sums strings.Builder
	var total int64
	for _, f := range files {
		if !validStagedName(f.Name) {
			return fmt.Errorf("upload: %q is not a plain file name for the staging folder", f.Name)
		}
		if len(f.SHA256) != 64 || strings.Trim(f.SHA256, "0123456789abcdef") != "" {
			return fmt.Errorf("upload %s: %q is not a sha256", f.Name, f.SHA256)
		}
		fmt.Fprintf(&sums, "%s  %s\n", f.SHA256, f.Name)
		total += int64(len(f.Content))
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.cfg.CommandTimeout,
		fmt.Errorf("timed out after %s", c.cfg.CommandTimeout))
	defer cancel()
	sess, release, err := c.session(ctx, fmt.Sprintf("upload of %d files", len(files)))
	if err != nil {
		return err
	}
	defer release()
	pr, pw := io.Pipe()
	sess.Stdin = pr
	stderr := &tailBuffer{max: stderrKept}
	sess.Stderr = stderr
	start := time.Now()
	command := "env LC_ALL=C /bin/sh -c " + shell.Quote(batchScript) + " obsbox-upload " + shell.Quote(c.staging)
	if err := c.start(ctx, sess, "starting the upload", command); err != nil {
		pw.Close()
		return err
	}
	go func() { pw.CloseWithError(writeBatch(pw, files, sums.String(), &c.bytesSent, progress)) }()
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		pr.CloseWithError(context.Cause(ctx))
		sess.Close()
		return fmt.Errorf("upload of %d files: %w", len(files), context.Cause(ctx))
	}
	c.log.Debug("uploaded files", "host", c.cfg.Host, "files", len(files), "bytes", total, "duration", time.Since(start), "err", err)
	if err != nil {
		var exit *ssh.ExitError
		if errors.As(err, &exit) {
			msg := lastLines(stderr.String(), 3)
			if msg == "" {
				msg = fmt.Sprintf("exit code %d", exit.ExitStatus())
			}
			return fmt.Errorf("upload of %d files into %s: %s", len(files), c.staging, msg)
		}
		return c.connErr(fmt.Sprintf("upload of %d files", len(files)), err)
	}
	return nil
}

// writeBatch writes the tar UploadFiles sends: the checksum list, then the files.
func writeBatch(w io.Writer, files []File, sums string, sent interface{ Add(int64) int64 }, progress func(int64)) error {
	tw := tar.NewWriter(w)
	hdr := func(name string, size int) *tar.Header {
		return &tar.Header{Name: name, Size: int64(size), Mode: 0o600, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
	}
	if err := tw.WriteHeader(hdr(".sums", len(sums))); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, sums); err != nil {
		return err
	}
	var n int64
	for _, f := range files {
		if err := tw.WriteHeader(hdr(f.Name, len(f.Content))); err != nil {
			return err
		}
		if _, err := tw.Write(f.Content); err != nil {
			return err
		}
		n += int64(len(f.Content))
		sent.Add(int64(len(f.Content)))
		if progress != nil {
			progress(n)
		}
	}
	return tw.Close()
}

// validStagedName: what the planner names staged files (a sha256 or a
// keyed secret name), never a path or a dot file.
func validStagedName(name string) bool {
	if name == "" || name[0] == '.' || len(name) > 200 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
