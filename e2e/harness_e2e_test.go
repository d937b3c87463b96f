//go:build e2e

package e2e_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/obsbox/obsbox/e2e/harness"
)

// TestHarnessHosts checks what every other e2e test relies on: hosts boot to a
// running systemd, answer ssh as root, deploy and secure with the sudo rules the
// tests expect, carry their own host keys, and leave nothing behind.
func TestHarnessHosts(t *testing.T) {
	harness.Prereqs(t)
	began := time.Now()
	c, err := harness.Up(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Up(2) took %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() { c.Down() })

	if len(c.Hosts) != 2 || c.Hosts[0].Name != "h1" || c.Hosts[1].Name != "h2" {
		t.Fatalf("hosts = %v, want h1 and h2", c.Hosts)
	}
	checks := []struct {
		name, user, cmd string
		want            string // trimmed stdout; "" means only success matters
		fail            bool   // the command must fail
	}{
		{"systemd running", "root", "systemctl is-system-running", "running", false},
		{"root is root", "root", "id -u", "0", false},
		{"sshd enabled", "root", "systemctl is-enabled ssh", "enabled", false},
		{"deploy passwordless sudo", "deploy", "sudo -n id -u", "0", false},
		{"secure sudo -n refused", "secure", "sudo -n true", "", true},
		{"secure sudo with password", "secure", "echo " + harness.SecurePassword + " | sudo -S -p '' id -u", "0", false},
		{"secure sudo wrong password", "secure", "echo wrong | sudo -S -p '' true", "", true},
	}
	hostKeys := map[string]string{}
	for _, h := range c.Hosts {
		for _, tc := range checks {
			out, err := c.SSHAs(tc.user, h.Name, tc.cmd)
			switch {
			case tc.fail && err == nil:
				t.Errorf("%s %s: %q succeeded, want failure", h.Name, tc.name, tc.cmd)
			case !tc.fail && err != nil:
				t.Errorf("%s %s: %v", h.Name, tc.name, err)
			case tc.want != "" && strings.TrimSpace(out) != tc.want:
				t.Errorf("%s %s: %q printed %q, want %q", h.Name, tc.name, tc.cmd, strings.TrimSpace(out), tc.want)
			}
		}
		if out, err := c.SSH(h.Name, "hostname"); err != nil || strings.TrimSpace(out) != h.Name {
			t.Errorf("%s: hostname = %q, %v", h.Name, out, err)
		}
		// The harness's known_hosts must hold exactly this host's key.
		strict := exec.Command("ssh", "-F", "/dev/null", "-i", c.KeyPath, "-o", "BatchMode=yes",
			"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+c.KnownHostsPath,
			"-o", "GlobalKnownHostsFile=/dev/null", "root@"+h.Address, "true")
		if out, err := strict.CombinedOutput(); err != nil {
			t.Errorf("%s: ssh with strict host key checking against %s: %v: %s", h.Name, c.KnownHostsPath, err, out)
		}
		key, err := c.SSH(h.Name, "cat /etc/ssh/ssh_host_ed25519_key.pub")
		if err != nil {
			t.Fatal(err)
		}
		hostKeys[h.Name] = strings.Fields(key)[1]
	}
	if hostKeys["h1"] == hostKeys["h2"] {
		t.Errorf("h1 and h2 share host key %s: keys are not generated per host", hostKeys["h1"])
	}

	// A host reaches another over the bridge, and a server on the bridge address.
	if _, err := c.SSH("h1", "timeout 5 bash -c 'echo > /dev/tcp/"+c.Hosts[1].Address+"/22'"); err != nil {
		t.Errorf("h1 cannot reach h2's sshd: %v", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(harness.BridgeAddress(), "0"))
	if err != nil {
		t.Fatalf("listen on the bridge address: %v", err)
	}
	defer ln.Close()
	go func() {
		if conn, err := ln.Accept(); err == nil {
			conn.Write([]byte("hello from the bridge\n"))
			conn.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if out, err := c.SSH("h1", "timeout 5 curl -s telnet://"+harness.BridgeAddress()+":"+port+" </dev/null"); err != nil || !strings.Contains(out, "hello from the bridge") {
		t.Errorf("h1 cannot reach a server on %s: %q, %v", harness.BridgeAddress(), out, err)
	}

	// A stopped host is unreachable; started again it keeps its disk and key.
	began = time.Now()
	if err := c.StopHost("h2"); err != nil {
		t.Fatal(err)
	}
	t.Logf("StopHost took %s", time.Since(began).Round(time.Millisecond))
	if _, err := c.SSH("h2", "true"); err == nil {
		t.Error("ssh to h2 succeeded while it was stopped")
	}
	began = time.Now()
	if err := c.StartHost("h2"); err != nil {
		t.Fatal(err)
	}
	t.Logf("StartHost took %s", time.Since(began).Round(time.Millisecond))
	out, err := c.SSH("h2", "systemctl is-system-running; cat /etc/ssh/ssh_host_ed25519_key.pub")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(out, "\n"); lines[0] != "running" || strings.Fields(lines[1])[1] != hostKeys["h2"] {
		t.Errorf("h2 after restart printed %q, want running and its old host key", out)
	}

	began = time.Now()
	if err := c.Down(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Down took %s", time.Since(began).Round(time.Millisecond))
	names := make([]string, len(c.Hosts))
	for i, h := range c.Hosts {
		names[i] = harness.MachineName(h.Name)
	}
	if procs := nspawnProcesses(t, names); len(procs) > 0 {
		t.Errorf("systemd-nspawn still running after Down: %v", procs)
	}
	// Under the bridge lock no other host set is adding or removing the
	// bridge: it is gone, or another set's hosts are on it.
	lock, err := os.OpenFile(harness.BridgeLock(), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	bridge := harness.Bridge()
	members, _ := exec.Command("ip", "-o", "link", "show", "master", bridge).CombinedOutput()
	for _, m := range names {
		if strings.Contains(string(members), "vb-"+m+"@") || strings.Contains(string(members), "vb-"+m+":") {
			t.Errorf("%s's veth left on the bridge after Down: %s", m, members)
		}
	}
	if err := exec.Command("ip", "link", "show", bridge).Run(); err == nil && strings.TrimSpace(string(members)) == "" {
		t.Errorf("bridge %s still exists after Down, with no host of any set on it", bridge)
	}
}

// nspawnProcesses lists live systemd-nspawn processes of these machines.
func nspawnProcesses(t *testing.T, machines []string) []string {
	t.Helper()
	paths, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue // exited meanwhile, or a zombie
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if filepath.Base(args[0]) != "systemd-nspawn" {
			continue
		}
		for i, a := range args {
			if a == "-M" && i+1 < len(args) && slices.Contains(machines, args[i+1]) {
				found = append(found, strings.Join(args, " "))
			}
		}
	}
	return found
}
