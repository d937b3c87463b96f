//go:build e2e

package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/obsbox/obsbox/e2e/harness"
)

// stallingTar stands in for tar on the stalled host, for the tarball
// stream only (the unpack's "tar -xzf -"): it hands the real tar the first
// 2 MB, then reads nothing more without closing its input, so sshd keeps
// answering while the stream stops being taken, as on a wedged host or
// disk. Every other tar runs as it is. (dd, not head -c: head holds back
// what it read until its buffer is full.)
const stallingTar = `#!/bin/sh
case "$1 $2" in
"-xzf -") { dd bs=4k count=500 status=none; exec sleep 900; } | /usr/bin/tar "$@" ;;
*) exec /usr/bin/tar "$@" ;;
esac
`

// TestStall is issue 11 finding 7: a host whose sshd answers but that
// stops taking an upload fails with a clear reason within a bounded time;
// the other host converges and the run exits 1 naming the stalled host.
func TestStall(t *testing.T) {
	s := newStack(t, 2)
	s.webhook = "http://" + harness.BridgeAddress() + ":1/"
	s.writeInventory(invData{})

	setup := "cat > /usr/local/bin/tar <<'EOF'\n" + stallingTar + "EOF\n" +
		"chmod 755 /usr/local/bin/tar && [ \"$(command -v tar)\" = /usr/local/bin/tar ]"
	if out, err := s.c.SSH("h2", setup); err != nil {
		t.Fatalf("making h2's unpacking stall: %v %s", err, out)
	}

	start := time.Now()
	r := obsboxWithin(t, 5*time.Minute, s.env(), "-i", s.inv, "--no-progress", "apply")
	took := time.Since(start)
	out := r.stdout + r.stderr
	t.Logf("the run with h2 stalled: %s", r)
	if r.code != 1 {
		t.Fatalf("apply with a stalled host should exit 1: %s", r)
	}
	if !regexpMatch(`(?m)^h2\s+FAILED`, r.stdout) || !strings.Contains(out, "h2: upload failed") {
		t.Errorf("the summary should name h2 and the upload: %s", r)
	}
	if !regexpMatch(`h2: upload failed: .*streaming [0-9a-f]+… stalled while sending: no progress for 30s`, out) ||
		!strings.Contains(out, "node_exporter-1.8.2.linux-amd64.tar.gz") {
		t.Errorf("the reason should name the file, say the upload stalled and for how long: %s", r)
	}
	if !regexpMatch(`(?m)^h1\s+ok`, r.stdout) {
		t.Errorf("h1 should have converged: %s", r)
	}
	// The default deadline is 30s without progress; everything else in this
	// run takes seconds. Generous: it only has to be bounded.
	if took > 3*time.Minute {
		t.Errorf("apply took %s with a stalled host", took)
	}
	eventually(t, 60*time.Second, "Prometheus on h1 ready", func() error {
		var v any
		if err := getJSON("http://"+s.c.Hosts[0].Address+":9090/api/v1/status/buildinfo", &v); err != nil {
			return err
		}
		return nil
	})

	// With tar working again, the next apply finishes h2: what the stall
	// left behind does not get in the way.
	restore := "rm -f /usr/local/bin/tar && (pkill -x sleep || true) && (pkill -x dd || true)"
	if out, err := s.c.SSH("h2", restore); err != nil {
		t.Fatalf("restoring h2's tar: %v %s", err, out)
	}
	if r := obsboxWithin(t, 5*time.Minute, s.env(), "-i", s.inv, "--no-progress", "apply"); r.code != 0 {
		t.Fatalf("apply after the unpacking recovered: %s", r)
	}
	if out, err := s.c.SSH("h2", "systemctl is-active obsbox-node-exporter.service"); err != nil || strings.TrimSpace(out) != "active" {
		t.Errorf("node_exporter on h2: %q %v", out, err)
	}
}

// waitSSHD waits until sshd at address accepts connections again after a
// reload or restart: sshd re-executes and refuses meanwhile, and obsbox
// does not retry a refused connection.
func waitSSHD(t *testing.T, address string) {
	t.Helper()
	eventually(t, 30*time.Second, "sshd on "+address+" listening", func() error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(address, "22"), time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// obsboxWithin runs obsbox like obsbox() but kills it after timeout, so a
// run that hangs fails the test instead of the suite's deadline.
func obsboxWithin(t *testing.T, timeout time.Duration, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, obsboxBin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var outb, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outb, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: outb.String(), stderr: errb.String()}
	if ctx.Err() != nil {
		t.Fatalf("obsbox %s still running after %s (killed): %s", strings.Join(args, " "), timeout, r)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running obsbox %v: %v", args, err)
	}
	t.Logf("obsbox %s -> exit %d in %.1fs", strings.Join(args, " "), r.code, time.Since(start).Seconds())
	return r
}
