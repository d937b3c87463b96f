//go:build e2e

package e2e_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/obsbox/obsbox/e2e/harness"
)

// bg is an obsbox run in the background whose output is read as it comes.
type bg struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   bytes.Buffer
	lines chan string
	done  chan struct{}
	code  int
}

func (s *stack) start(args ...string) *bg {
	s.t.Helper()
	cmd := exec.Command(obsboxBin(s.t), append([]string{"-i", s.inv, "--no-progress"}, args...)...)
	cmd.Env = append(os.Environ(), s.env()...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	b := &bg{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			b.mu.Lock()
			b.out.WriteString(sc.Text() + "\n")
			b.mu.Unlock()
			select {
			case b.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			b.code = ee.ExitCode()
		}
		pw.Close()
		time.Sleep(100 * time.Millisecond)
		close(b.done)
	}()
	return b
}

// waitLine returns the first line matching re, or "" when the run ends first.
func (b *bg) waitLine(t *testing.T, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-b.lines:
			if re.MatchString(l) {
				return l
			}
		case <-b.done:
			return ""
		case <-deadline:
			t.Fatalf("no line matching %s within %s; output so far:\n%s", re, timeout, b.output())
		}
	}
}

func (b *bg) wait() (int, string) {
	<-b.done
	return b.code, b.output()
}

func (b *bg) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

func noPartOrRename(t *testing.T, what, out string) {
	t.Helper()
	if strings.Contains(out, ".part") || strings.Contains(strings.ToLower(out), "renaming") {
		t.Errorf("%s mentions a .part file or a rename:\n%s", what, out)
	}
}

// applyDirs lists the obsbox-apply.* folders on every host, with their owner.
func (s *stack) applyDirs() map[string]string {
	s.t.Helper()
	out := map[string]string{}
	for _, h := range s.c.Hosts {
		o, err := s.c.SSH(h.Name, `for d in /var/tmp/obsbox-apply.*; do [ -e "$d" ] && stat -c '%n %U' "$d"; done; true`)
		if err != nil {
			s.t.Fatalf("%s: %v", h.Name, err)
		}
		out[h.Name] = strings.TrimSpace(o)
	}
	return out
}

// TestConcurrency is issue 11's acceptance for findings 11, 12 and 13: runs
// at once on the same hosts, an interrupted upgrade, and leftovers.
func TestConcurrency(t *testing.T) {
	s := newStack(t, 3)
	s.webhook = "http://" + harness.BridgeAddress() + ":1/"
	s.writeInventory(invData{NodeExporter: "1.5.0", Alertmanager: "0.25.0"})

	t.Run("a second apply while one runs fails each host naming the holder", func(t *testing.T) {
		first := s.start("apply")
		// The first run holds the locks once it announces uploads.
		if first.waitLine(t, regexp.MustCompile(`to upload$`), 3*time.Minute) == "" {
			code, out := first.wait()
			t.Fatalf("first apply ended early (exit %d):\n%s", code, out)
		}
		second := s.obsbox("apply")
		code, out := first.wait()
		t.Logf("first apply:\n%s", out)
		t.Logf("second apply: %s", second)
		if code != 0 {
			t.Fatalf("first apply: exit %d", code)
		}
		if second.code != 1 {
			t.Errorf("second apply: exit %d, want 1", second.code)
		}
		holder := regexp.MustCompile(`locked by \S+@\S+ \(pid ` + itoa(first.cmd.Process.Pid) + `, obsbox apply\) since \d{4}-`)
		for _, h := range s.c.Hosts {
			if !regexp.MustCompile(`(?m)^` + h.Name + ` failed during .*` + holder.String()).MatchString(second.stdout) {
				t.Errorf("second apply does not fail %s naming the first run as holder", h.Name)
			}
		}
		noPartOrRename(t, "first apply", out)
		noPartOrRename(t, "second apply", second.String())
	})

	t.Run("two applies at once, one waiting: both converge, a third changes nothing", func(t *testing.T) {
		s.webhook = "http://" + harness.BridgeAddress() + ":2/" // a configuration change to converge
		s.writeInventory(invData{NodeExporter: "1.5.0", Alertmanager: "0.25.0"})
		a := s.start("--lock-timeout", "5m", "apply")
		b := s.start("--lock-timeout", "5m", "apply")
		ca, oa := a.wait()
		cb, ob := b.wait()
		t.Logf("a:\n%s\nb:\n%s", oa, ob)
		if ca != 0 || cb != 0 {
			t.Fatalf("exit codes %d and %d, want 0 and 0", ca, cb)
		}
		if !strings.Contains(oa+ob, "waiting up to 5m0s for the lock held by") {
			t.Errorf("neither run says it waited for the other")
		}
		noPartOrRename(t, "the applies", oa+ob)
		r := s.obsbox("plan", "--detailed-exitcode")
		if r.code != 0 {
			t.Errorf("a third run would change something: %s", r)
		}
	})

	t.Run("SIGINT during an upgrade keeps what passed its gate; apply finishes it", func(t *testing.T) {
		up := s.start("upgrade", "node_exporter=1.8.2")
		line := up.waitLine(t, regexp.MustCompile(`: node_exporter upgraded and healthy$`), 5*time.Minute)
		if line == "" {
			code, out := up.wait()
			t.Fatalf("upgrade ended before a host passed its gate (exit %d):\n%s", code, out)
		}
		up.cmd.Process.Signal(syscall.SIGINT)
		code, out := up.wait()
		t.Logf("interrupted upgrade:\n%s", out)
		passed := strings.SplitN(line, ":", 2)[0]
		if code != 130 {
			t.Errorf("exit %d, want 130", code)
		}
		if n := strings.Count(strings.ToLower(out), "interrupted"); n != 1 {
			t.Errorf("the output says interrupted %d times, want once", n)
		}
		for _, bad := range []string{"rolled back", "switched back", "FAILED", "context canceled", "failed the"} {
			if strings.Contains(out, bad) {
				t.Errorf("the output says %q", bad)
			}
		}
		h, err := s.c.Host(passed)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := nodeExporterVersion(h.Address); v != "1.8.2" {
			t.Errorf("%s passed its gate, but runs node_exporter %q", passed, v)
		}
		if v, _ := nodeExporterVersion(s.c.Hosts[2].Address); v == "1.8.2" && passed != s.c.Hosts[2].Name {
			t.Logf("note: the interrupt came after h3 was switched too")
		}
		pids := s.mainPIDs()

		// Leftovers: a fake one of root's, and a user's that is not obsbox's.
		for _, h := range s.c.Hosts {
			if _, err := s.c.SSH(h.Name, "mkdir -m 700 /var/tmp/obsbox-apply.Fake01 && echo x > /var/tmp/obsbox-apply.Fake01/f"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.c.SSH(s.c.Hosts[1].Name, "su deploy -c 'mkdir /var/tmp/obsbox-apply.User01'"); err != nil {
			t.Fatal(err)
		}
		t.Logf("apply folders before the next run: %v", s.applyDirs())
		plan := s.obsbox("plan")
		if !strings.Contains(plan.stdout, "/var/tmp/obsbox-apply.Fake01") {
			t.Errorf("plan does not mention the leftover work folder:\n%s", plan)
		}
		if strings.Contains(plan.stdout, "User01") {
			t.Errorf("plan would remove a folder that is not obsbox's:\n%s", plan)
		}

		r := s.obsbox("apply")
		t.Logf("apply after the interrupt: %s", r)
		if r.code != 0 {
			t.Fatalf("apply after the interrupt: exit %d", r.code)
		}
		s.allNodeExporters(t, "1.8.2")
		k := passed + "/obsbox-node-exporter.service"
		if after := s.mainPIDs(); after[k] != pids[k] {
			t.Errorf("%s passed its gate before the interrupt and must not restart again", passed)
		}
		for host, dirs := range s.applyDirs() {
			want := ""
			if host == s.c.Hosts[1].Name {
				want = "/var/tmp/obsbox-apply.User01 deploy"
			}
			if dirs != want {
				t.Errorf("%s: apply folders after the next run: %q, want %q", host, dirs, want)
			}
		}
		if r := s.obsbox("plan", "--detailed-exitcode"); r.code != 0 {
			t.Errorf("the rollout is not finished: %s", r)
		}
	})

	t.Run("uninstall leaves no lock file", func(t *testing.T) {
		if r := s.obsbox("uninstall", "--yes"); r.code != 0 {
			t.Fatalf("uninstall: %s", r)
		}
		for _, h := range s.c.Hosts {
			if o, _ := s.c.SSH(h.Name, "ls -d /run/obsbox.lock /var/tmp/obsbox-apply.* 2>/dev/null; true"); strings.TrimSpace(o) != "" &&
				strings.TrimSpace(o) != "/var/tmp/obsbox-apply.User01" {
				t.Errorf("%s: left after uninstall: %s", h.Name, o)
			}
		}
	})
}
