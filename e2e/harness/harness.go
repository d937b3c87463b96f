// Package harness boots real test hosts for obsbox's end-to-end tests:
// Debian machines under systemd-nspawn with systemd as PID 1 and sshd, on the
// bridge obsbr0 (see e2e/hosts.sh, which does the work), and serves the locally
// built release bundles as a mirror. It is compiled only by e2e tests.
//
// A Cluster holds flock on its host set's run lock (/run/obsbox-e2e.lock by
// default) from Up to Down, so runs on one machine never share or tear down
// each other's hosts. Another set (OBSBOX_E2E_STATE, _LOCK, _MACHINES,
// _MACHINE_PREFIX, _FIRST_HOST) can run beside it on the same bridge.
package harness

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SecurePassword is the sudo password of user "secure" on every host. User
// "deploy" has passwordless sudo; root, deploy and secure all accept KeyPath.
const SecurePassword = "obsbox-secure-pw"

// Host flavours: the Debian release a test host runs.
const (
	Bookworm = "bookworm" // Debian 12, systemd 252; the default
	Trixie   = "trixie"   // Debian 13, systemd 257
)

// Flavours lists every host flavour hosts.sh can boot.
var Flavours = []string{Bookworm, Trixie}

// Host is one test machine.
type Host struct {
	Name    string // h1, h2, ...
	Address string // PREFIX.11, PREFIX.12, ...
	Flavour string // Bookworm or Trixie
}

// Cluster is a set of running test hosts owned by this process.
type Cluster struct {
	Hosts          []Host
	KeyPath        string // private key accepted for root, deploy and secure
	KnownHostsPath string // every host's freshly generated keys, as written at Up

	lock *os.File
}

// Up boots fresh bookworm hosts h1..hn, waiting for the run lock if another run
// holds it (up to OBSBOX_E2E_LOCK_WAIT seconds, default 1800). Leftovers of a
// run that died are removed first. Call Down when done.
func Up(n int) (*Cluster, error) {
	return up(n, "")
}

// UpWith is Up with one host per flavour given, in order: UpWith(Bookworm,
// Trixie, Trixie) boots h1 on bookworm, h2 and h3 on trixie.
func UpWith(flavours ...string) (*Cluster, error) {
	if len(flavours) == 0 {
		return nil, errors.New("harness: UpWith needs at least one flavour")
	}
	for _, f := range flavours {
		if !slices.Contains(Flavours, f) {
			return nil, fmt.Errorf("harness: unknown host flavour %q (have %s)", f, strings.Join(Flavours, ", "))
		}
	}
	return up(len(flavours), strings.Join(flavours, ","))
}

func up(n int, flavours string) (*Cluster, error) {
	lock, err := takeRunLock()
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		KeyPath:        filepath.Join(cacheDir(), "id_ed25519"),
		KnownHostsPath: filepath.Join(stateDir(), "known_hosts"),
		lock:           lock,
	}
	args := []string{"up", strconv.Itoa(n)}
	if flavours != "" {
		args = append(args, flavours)
	}
	out, err := hostsScript(args...)
	if err != nil {
		c.release()
		return nil, err
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			c.release()
			return nil, fmt.Errorf("harness: unexpected line %q from hosts.sh up", line)
		}
		c.Hosts = append(c.Hosts, Host{Name: f[0], Address: f[1], Flavour: f[2]})
	}
	if len(c.Hosts) != n {
		err := fmt.Errorf("harness: hosts.sh up %d reported %d hosts", n, len(c.Hosts))
		if derr := c.Down(); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, err
	}
	return c, nil
}

// Down stops and removes the hosts and releases the run lock. Calling it again
// does nothing.
func (c *Cluster) Down() error {
	if c.lock == nil {
		return nil
	}
	defer c.release()
	_, err := hostsScript("down")
	return err
}

// StopHost powers a host off (orderly shutdown); its disk is kept for StartHost.
func (c *Cluster) StopHost(name string) error {
	if _, err := c.Host(name); err != nil {
		return err
	}
	_, err := hostsScript("stop", name)
	return err
}

// StartHost boots a stopped host and waits until systemd reports it running.
func (c *Cluster) StartHost(name string) error {
	if _, err := c.Host(name); err != nil {
		return err
	}
	_, err := hostsScript("start", name)
	return err
}

// Host finds a host by name or address.
func (c *Cluster) Host(nameOrAddress string) (Host, error) {
	for _, h := range c.Hosts {
		if h.Name == nameOrAddress || h.Address == nameOrAddress {
			return h, nil
		}
	}
	return Host{}, fmt.Errorf("harness: no test host %q in this cluster", nameOrAddress)
}

// SSH runs cmd as root on a host (by name or address) with the system ssh client
// and returns its stdout; on failure the error carries the exit status and stderr.
func (c *Cluster) SSH(host, cmd string) (string, error) {
	return c.SSHAs("root", host, cmd)
}

// SSHAs is SSH as another user (deploy, secure).
func (c *Cluster) SSHAs(user, host, cmd string) (string, error) {
	h, err := c.Host(host)
	if err != nil {
		return "", err
	}
	ssh := exec.Command("ssh", "-F", "/dev/null", "-i", c.KeyPath,
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		user+"@"+h.Address, cmd)
	var stdout, stderr bytes.Buffer
	ssh.Stdout, ssh.Stderr = &stdout, &stderr
	if err := ssh.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ssh %s@%s %q: %v: %s", user, h.Name, cmd, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func (c *Cluster) release() {
	if c.lock != nil {
		c.lock.Close() // closing the descriptor drops the flock
		c.lock = nil
	}
}

// BridgeAddress is this machine's address on the test bridge: a server a test
// starts there (a webhook receiver, say) is reachable from every host.
func BridgeAddress() string { return prefix() + ".1" }

// UnusedAddress is an address on the test bridge that no host of any set
// gets (they start at .11): a host there never answers.
func UnusedAddress() string { return prefix() + ".9" }

// Bridge is the test bridge's name; several host sets may share it.
func Bridge() string { return envOr("OBSBOX_E2E_BRIDGE", "obsbr0") }

// BridgeLock is the lock under which the bridge is made and removed.
func BridgeLock() string { return envOr("OBSBOX_E2E_BRIDGE_LOCK", "/run/obsbox-e2e-bridge.lock") }

// MachineName is the machine name a host of this set boots under (its
// veth is vb-<machine name>).
func MachineName(host string) string { return os.Getenv("OBSBOX_E2E_MACHINE_PREFIX") + host }

// MirrorDir is where e2e/build-bundles.sh lays out the release bundles, in the
// upstream download layout.
func MirrorDir() string { return filepath.Join(cacheDir(), "mirror") }

// BuildBundles runs e2e/build-bundles.sh, which builds what the mirror lacks
// (minutes the first time, about a second once everything is cached).
func BuildBundles() error {
	cmd := exec.Command("bash", filepath.Join(scriptDir(), "build-bundles.sh"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("harness: build-bundles.sh: %v\n%s", err, tail(out.String(), 40))
	}
	return nil
}

// ServeMirror serves MirrorDir over HTTP on 127.0.0.1 for obsbox's bundles.mirror
// and returns its base URL and a function that stops it.
func ServeMirror() (url string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("harness: cannot listen on 127.0.0.1 for the bundle mirror: %v", err))
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(MirrorDir())), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }
}

// Prereqs skips the test when hosts cannot be booted here (not root, not Linux,
// tools missing); with CI=true it fails instead, as a missing prerequisite in CI
// is a broken pipeline, not a reason to pass.
func Prereqs(t testing.TB) {
	t.Helper()
	var missing []string
	if runtime.GOOS != "linux" {
		missing = append(missing, "Linux (have "+runtime.GOOS+")")
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"systemd-nspawn", "ssh", "ssh-keygen", "ip", "flock", "setsid", "mount", "chroot"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	for _, f := range Flavours {
		if _, err := os.Stat(filepath.Join(cacheDir(), "rootfs-"+f, ".obsbox-rootfs-complete")); err != nil {
			if _, err := exec.LookPath("debootstrap"); err != nil {
				missing = append(missing, "debootstrap (no cached rootfs-"+f+")")
			}
			break
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "e2e prerequisites missing: " + strings.Join(missing, ", ") + " (run e2e/prereqs.sh as root)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func takeRunLock() (*os.File, error) {
	path := envOr("OBSBOX_E2E_LOCK", "/run/obsbox-e2e.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("harness: open run lock: %w", err)
	}
	wait := 1800 * time.Second
	if s := os.Getenv("OBSBOX_E2E_LOCK_WAIT"); s != "" {
		secs, err := strconv.Atoi(s)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("harness: OBSBOX_E2E_LOCK_WAIT=%q is not a number of seconds", s)
		}
		wait = time.Duration(secs) * time.Second
	}
	deadline := time.Now().Add(wait)
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("harness: flock %s: %w", path, err)
		}
		if pid := byHandHolder(); pid != "" {
			f.Close()
			return nil, fmt.Errorf("harness: test hosts started by hand with e2e/hosts.sh up are running (lock holder PID %s); run e2e/hosts.sh down first", pid)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("harness: %s is still held after %s by another e2e run (see e2e/hosts.sh status; hosts started by hand end with e2e/hosts.sh down)", path, wait)
		}
		if !told {
			fmt.Fprintf(os.Stderr, "harness: waiting for %s, held by another e2e run\n", path)
			told = true
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// byHandHolder returns the PID of the process `hosts.sh up` leaves holding the
// run lock, if it is alive: such hosts stay until someone runs down, so waiting
// for them is pointless.
func byHandHolder() string {
	b, err := os.ReadFile(filepath.Join(stateDir(), "run.env"))
	if err != nil {
		return ""
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = strings.Trim(v, "'")
		}
	}
	pid, start := vars["HOLDER_PID"], vars["HOLDER_START"]
	if pid == "" || start == "" {
		return ""
	}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ""
	}
	// Fields after "(comm) ": state is the 1st, starttime the 20th.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 20 || fields[0] == "Z" || fields[19] != start {
		return ""
	}
	return pid
}

// hostsScript runs e2e/hosts.sh under our lock and returns its stdout.
func hostsScript(args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{filepath.Join(scriptDir(), "hosts.sh")}, args...)...)
	cmd.Env = append(os.Environ(), "OBSBOX_E2E_LOCKED=1", "OBSBOX_E2E_OWNER_PID="+strconv.Itoa(os.Getpid()))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("harness: hosts.sh %s: %v\n%s", strings.Join(args, " "), err, tail(stderr.String(), 40))
	}
	return stdout.String(), nil
}

// scriptDir is e2e/ in the source tree; OBSBOX_E2E_DIR overrides it.
func scriptDir() string {
	if d := os.Getenv("OBSBOX_E2E_DIR"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func cacheDir() string { return envOr("OBSBOX_E2E_CACHE", "/var/cache/obsbox-e2e") }
func stateDir() string { return envOr("OBSBOX_E2E_STATE", "/run/obsbox-e2e") }
func prefix() string   { return envOr("OBSBOX_E2E_PREFIX", "10.99.0") }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
