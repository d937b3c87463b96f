//go:build e2e

package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/obsbox/obsbox/e2e/harness"
)

// TestConnectionFaults: a host with nothing listening, unknown and changed
// host keys, ssh-agent, and a passphrase-protected key typed at a prompt.
func TestConnectionFaults(t *testing.T) {
	s := newStack(t, 2)
	s.webhook = "http://" + harness.BridgeAddress() + ":1/"
	// A third host whose address answers nothing: no machine is booted there.
	dead := harness.Host{Name: "h9", Address: harness.UnusedAddress()}
	hosts := append(append([]harness.Host{}, s.c.Hosts...), dead)

	t.Run("an unreachable host fails alone", func(t *testing.T) {
		// h9 in third place gets the secure user's settings; it never gets that far.
		s.writeInventory(invData{Hosts: hosts})
		r := s.obsbox("apply")
		if r.code != 1 {
			t.Fatalf("apply with an unreachable host should exit 1: %s", r)
		}
		if !regexpMatch(`(?m)^h9\s+FAILED`, r.stdout) || !strings.Contains(r.stdout, "h9 failed during connect") {
			t.Errorf("summary should name h9 and why: %s", r)
		}
		for _, h := range s.c.Hosts {
			if !regexpMatch(`(?m)^`+h.Name+`\s+ok`, r.stdout) {
				t.Errorf("%s should have converged: %s", h.Name, r)
			}
		}
		eventually(t, 60*time.Second, "h1 and h2 targets up", func() error {
			got, err := nodeTargets("http://" + s.c.Hosts[0].Address + ":9090")
			if err != nil {
				return err
			}
			if got["h1"] != "up" || got["h2"] != "up" {
				return fmt.Errorf("%v", got)
			}
			return nil
		})
	})

	s.writeInventory(invData{})
	known := filepath.Join(s.dir, "known_hosts")

	t.Run("an unknown host key is refused with its fingerprint", func(t *testing.T) {
		os.WriteFile(known, nil, 0o600)
		r := s.obsbox("plan")
		if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "SHA256:") || !strings.Contains(r.stdout+r.stderr, "accept") {
			t.Fatalf("unknown key should be refused with fingerprint and the way to accept it: %s", r)
		}
		r = s.obsbox("plan", "--accept-new-host-keys")
		if r.code != 0 {
			t.Fatalf("plan --accept-new-host-keys: %s", r)
		}
		b, _ := os.ReadFile(known)
		if n := strings.Count(string(b), "\n"); n < 2 {
			t.Errorf("known_hosts should now hold both hosts' keys:\n%s", b)
		}
		if r := s.obsbox("plan"); r.code != 0 {
			t.Errorf("recorded keys should be trusted: %s", r)
		}
	})

	t.Run("a changed host key is always refused", func(t *testing.T) {
		if _, err := s.c.SSH("h2", "rm -f /etc/ssh/ssh_host_*key* && ssh-keygen -A >/dev/null && systemctl restart ssh"); err != nil {
			t.Fatal(err)
		}
		waitSSHD(t, s.c.Hosts[1].Address)
		r := s.obsbox("plan", "--accept-new-host-keys")
		out := r.stdout + r.stderr
		if r.code != 1 || !strings.Contains(out, "h2") || !strings.Contains(strings.ToLower(out), "changed") {
			t.Fatalf("a changed key must be refused even with --accept-new-host-keys: %s", r)
		}
		if !regexpMatch(`(?m)^\s*h1 \(`, r.stdout) {
			t.Errorf("h1 should still be planned: %s", r)
		}
	})
	s.resetKnownHosts()
	// h2's key changed above: take its new one.
	os.WriteFile(known, filterKnownHosts(t, known, s.c.Hosts[1].Address), 0o600)
	if r := s.obsbox("plan", "--accept-new-host-keys"); r.code != 0 {
		t.Fatalf("re-trusting h2: %s", r)
	}

	t.Run("sudo that needs a password nobody gave", func(t *testing.T) {
		src, _ := os.ReadFile(s.inv)
		os.WriteFile(s.inv, bytes.Replace(src, []byte(`ssh { user = "deploy" }`), []byte(`ssh { user = "secure" }`), 1), 0o644)
		defer s.writeInventory(invData{})
		r := s.obsbox("apply")
		out := r.stdout + r.stderr
		if r.code != 1 || !strings.Contains(out, "h2") || !strings.Contains(out, "secure") || !strings.Contains(out, "sudo_password") {
			t.Fatalf("a user whose sudo needs a password must be refused clearly: %s", r)
		}
		if !strings.Contains(out, "h2 failed during connect") {
			t.Errorf("the sudo problem must be found while connecting, before anything is read or changed: %s", r)
		}
	})

	t.Run("ssh-agent", func(t *testing.T) {
		home := t.TempDir() // no default keys here: only the agent can authenticate
		sock := filepath.Join(t.TempDir(), "agent.sock")
		agent := exec.Command("ssh-agent", "-D", "-a", sock)
		if err := agent.Start(); err != nil {
			t.Fatal(err)
		}
		defer agent.Process.Kill()
		eventually(t, 10*time.Second, "agent socket", func() error { _, err := os.Stat(sock); return err })
		if out, err := exec.Command("ssh-add", s.c.KeyPath).CombinedOutput(); err != nil {
			// ssh-add needs the socket in its environment.
			cmd := exec.Command("ssh-add", s.c.KeyPath)
			cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
			if out2, err2 := cmd.CombinedOutput(); err2 != nil {
				t.Fatalf("ssh-add: %v %s %s", err2, out, out2)
			}
		}
		src, _ := os.ReadFile(s.inv)
		noKey := strings.Replace(string(src), `private_key = "`+s.c.KeyPath+`"`, "", 1)
		os.WriteFile(s.inv, []byte(noKey), 0o644)
		defer s.writeInventory(invData{})
		r := obsbox(t, append(s.env(), "HOME="+home, "SSH_AUTH_SOCK="+sock), "-i", s.inv, "--no-progress", "plan")
		if r.code != 0 {
			t.Fatalf("plan through ssh-agent: %s", r)
		}
		r = obsbox(t, append(s.env(), "HOME="+home, "SSH_AUTH_SOCK="), "-i", s.inv, "--no-progress", "plan")
		if r.code == 0 {
			t.Fatalf("without agent or key files the plan cannot authenticate: %s", r)
		}
	})

	t.Run("passphrase-protected key asked on the terminal", func(t *testing.T) {
		key := filepath.Join(t.TempDir(), "id_pass")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "open sesame", "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
		pub, _ := os.ReadFile(key + ".pub")
		for _, h := range s.c.Hosts {
			if _, err := s.c.SSH(h.Name, fmt.Sprintf("echo %q >> /root/.ssh/authorized_keys && for u in deploy secure; do echo %q >> /home/$u/.ssh/authorized_keys; done", strings.TrimSpace(string(pub)), strings.TrimSpace(string(pub)))); err != nil {
				t.Fatal(err)
			}
		}
		src, _ := os.ReadFile(s.inv)
		os.WriteFile(s.inv, bytes.Replace(src, []byte(s.c.KeyPath), []byte(key), 1), 0o644)
		defer s.writeInventory(invData{})

		// Without a terminal: a clear error, not a hang.
		r := obsbox(t, append(s.env(), "SSH_AUTH_SOCK="), "-i", s.inv, "--no-progress", "plan")
		if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "passphrase") {
			t.Fatalf("without a terminal the passphrase cannot be asked: %s", r)
		}
		// On a terminal: asked once, typed, and every host connects.
		out, code := runOnPTY(t, append(os.Environ(), s.env()...), "open sesame\n",
			obsboxBin(t), "-i", s.inv, "--no-progress", "plan")
		if code != 0 {
			t.Fatalf("plan with the passphrase typed: exit %d\n%s", code, out)
		}
		if n := strings.Count(out, "Enter passphrase"); n != 1 {
			t.Errorf("asked %d times for one key:\n%s", n, out)
		}
	})
}

func regexpMatch(re, s string) bool {
	return regexpMust(re).MatchString(s)
}

// filterKnownHosts drops every line about addr.
func filterKnownHosts(t *testing.T, path, addr string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" && !strings.HasPrefix(line, addr+" ") {
			keep = append(keep, line)
		}
	}
	return []byte(strings.Join(keep, "\n") + "\n")
}

// runOnPTY runs a command with a new pseudo-terminal as its controlling
// terminal, types input once a prompt appears, and returns all it printed.
func runOnPTY(t *testing.T, env []string, input string, name string, args ...string) (string, int) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		typed := false
		for {
			k, err := master.Read(buf)
			out.Write(buf[:k])
			if !typed && strings.Contains(out.String(), "passphrase") {
				master.Write([]byte(input))
				typed = true
			}
			if err != nil {
				close(done)
				return
			}
		}
	}()
	err = cmd.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return out.String(), code
}
