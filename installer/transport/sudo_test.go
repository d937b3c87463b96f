package transport

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obsbox/obsbox/installer/shell"
)

func TestRemoteCommand(t *testing.T) {
	sup := shell.Quote(supervisor)
	tests := []struct {
		name, user, password, script string
		wantPrefix, wantPassword     string
	}{
		{"root runs the shell directly", "root", "", "echo hi", `env LC_ALL=C /bin/sh -c ` + sup + ` obsbox 7 `, ""},
		{"root ignores a sudo password", "root", "pw", "echo hi", `env LC_ALL=C /bin/sh -c ` + sup + ` obsbox 7 `, ""},
		{"passwordless sudo never prompts", "deploy", "", "echo hi", `env LC_ALL=C sudo -n -- /bin/sh -c ` + sup + ` obsbox 7 `, ""},
		{"sudo password goes on stdin only", "secure", "s3cret 'x'", "echo hi",
			`env LC_ALL=C sudo -S -p '' -k -- /bin/sh -c ` + sup + ` obsbox 7 `, "s3cret 'x'\n"},
		{"the length counts bytes", "root", "", "echo é\n", `env LC_ALL=C /bin/sh -c ` + sup + ` obsbox 8 `, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, stdin := remoteCommand(tt.user, tt.password, tt.script)
			start, ok := strings.CutPrefix(cmd, tt.wantPrefix)
			if !ok || !strings.HasPrefix(start, "obsbox-script-") || strings.ContainsAny(start, " '\n") {
				t.Fatalf("command\n got %s\nwant %s<start line>", cmd, tt.wantPrefix)
			}
			if want := tt.wantPassword + start + "\n" + tt.script; string(stdin) != want {
				t.Errorf("stdin = %q, want %q", stdin, want)
			}
			if tt.password != "" && strings.Contains(cmd, tt.password) {
				t.Error("the sudo password is on the command line")
			}
			if again, _ := remoteCommand(tt.user, tt.password, tt.script); again == cmd {
				t.Error("the start line must differ from run to run")
			}
		})
	}
}

// runSupervisor starts the supervisor locally as sshd would, with stdin
// as remoteCommand frames it preceded by before, and returns it running.
func runSupervisor(t *testing.T, script, before string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	_, framed := remoteCommand("root", "", script)
	start, _, _ := strings.Cut(string(framed), "\n")
	cmd := exec.Command("/bin/sh", "-c", supervisor, "obsbox", strconv.Itoa(len(script)), start)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	return cmd, &framedStdin{in: in, first: before + string(framed)}
}

type framedStdin struct {
	in    io.WriteCloser
	first string
}

func (f *framedStdin) Write(p []byte) (int, error) { return f.in.Write(p) }
func (f *framedStdin) Close() error                { return f.in.Close() }

// While stdin stays open, the supervisor passes the exit status, stdout and
// stderr through, and gives the script an empty stdin even when unread
// input (a password sudo did not ask for, or anything after the script) is
// waiting.
func TestSupervisor(t *testing.T) {
	tests := []struct {
		script, before, after, stdout, stderr string
		code                                  int
	}{
		{"echo out; echo err >&2; exit 7", "", "", "out\n", startMarker + "err\n", 7},
		{"true", "", "", "", startMarker, 0},
		{"cat; echo read nothing", "a password\n", "more input\n", "read nothing\n", startMarker, 0},
		// The shell's own "Killed" report comes or not, as its SIGCHLD and
		// wait meet: only the status and the marker are the supervisor's.
		{"kill -KILL $$", "", "", "", startMarker, 137},
		{"printf '%s' \"$(cat /proc/$$/cmdline | tr '\\0' ' ')\"; # no script text in argv", "", "", "", startMarker, 0},
		{strings.Repeat("# a script larger than any command line may be\n", 10000) + "echo big", "", "", "big\n", startMarker, 0},
	}
	for _, tt := range tests {
		t.Run(firstLine(tt.script), func(t *testing.T) {
			var stdout, stderr strings.Builder
			cmd, in := runSupervisor(t, tt.script, tt.before)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go io.WriteString(in, in.(*framedStdin).first+tt.after)
			err := cmd.Wait() // closes stdin only after the exit
			code := 0
			if exit, ok := err.(*exec.ExitError); ok {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			want := tt.stdout
			if strings.Contains(tt.script, "cmdline") {
				// The script's own argv: the shell and the private file.
				if strings.Contains(stdout.String(), "no script text") || !strings.Contains(stdout.String(), "/tmp/obsbox-script.") {
					t.Errorf("the script's command line is %q", stdout.String())
				}
				want = stdout.String()
			}
			gotErr := stderr.String()
			if strings.HasPrefix(tt.script, "kill -KILL") {
				gotErr = strings.TrimSuffix(gotErr, "Killed\n")
			}
			if code != tt.code || stdout.String() != want || gotErr != tt.stderr {
				t.Errorf("got code %d, stdout %q, stderr %q; want %d, %q, %q",
					code, stdout.String(), stderr.String(), tt.code, want, tt.stderr)
			}
		})
	}
}

// The private copy of the script is root's alone and is gone afterwards.
func TestSupervisorKeepsScriptPrivate(t *testing.T) {
	var stdout strings.Builder
	cmd, in := runSupervisor(t, `stat -c '%a' "$0"; echo "$0"`, "")
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go io.WriteString(in, in.(*framedStdin).first)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	mode, file, _ := strings.Cut(strings.TrimSpace(stdout.String()), "\n")
	if mode != "600" {
		t.Errorf("the script's file has mode %s, want 600", mode)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("the script's file %s is still there: %v", file, err)
	}
}

// Closing stdin is how an abandoned script is stopped, also while it is
// still arriving.
func TestSupervisorStopsScriptWhenStdinCloses(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd, in := runSupervisor(t, "sleep 300 & echo $! > "+pidFile+"; sleep 301", "")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, in.(*framedStdin).first)
	waitFor(t, "the script to start", func() bool {
		b, err := os.ReadFile(pidFile)
		return err == nil && strings.HasSuffix(string(b), "\n")
	})
	in.Close()
	err := cmd.Wait()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 143 {
		t.Errorf("supervisor ended with %v, want exit 143 (SIGTERM)", err)
	}
	b, _ := os.ReadFile(pidFile)
	pid := strings.TrimSpace(string(b))
	waitFor(t, "the background process "+pid+" to end", func() bool { return gone(pid) })

	// Cut off half way through the script: nothing runs.
	marker := filepath.Join(t.TempDir(), "ran")
	script := "touch " + marker + "\n" + strings.Repeat("#", 1000)
	cmd, in = runSupervisor(t, script, "")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := in.(*framedStdin).first
	io.WriteString(in, first[:len(first)-500])
	in.Close()
	if err := cmd.Wait(); err == nil {
		t.Error("a script cut short ran")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a script cut short ran")
	}
}

func TestSudoFailure(t *testing.T) {
	tests := []struct {
		name          string
		passwordGiven bool
		code          int
		stderr, want  string
	}{
		{"password needed, none given", false, 1, "sudo: a password is required\n",
			"user secure needs a password for sudo; set ssh.sudo_password"},
		{"password needed, terminal message", false, 1,
			"sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper\n",
			"user secure needs a password for sudo; set ssh.sudo_password"},
		{"wrong password", true, 1, "Sorry, try again.\nsudo: no password was provided\nsudo: 1 incorrect password attempt\n",
			"sudo refused the password for user secure; check ssh.sudo_password"},
		{"not in sudoers", false, 1, "secure is not in the sudoers file.\n",
			"user secure may not run commands as root with sudo; add it to the sudoers (or log in as root)"},
		{"not allowed this command", true, 1, "Sorry, user secure is not allowed to execute '/bin/sh -c id -u' as root on h3.\n",
			"user secure may not run commands as root with sudo; add it to the sudoers (or log in as root)"},
		{"requiretty", false, 1, "sudo: sorry, you must have a tty to run sudo\n",
			"sudo for user secure requires a terminal (Defaults requiretty); remove requiretty for this user"},
		{"sudo missing", false, 127, "sh: 1: sudo: not found\n",
			"sudo is not installed, and user secure is not root; install sudo or log in as root"},
		{"anything else is passed on", false, 1, "sudo: unable to resolve host h3\nsudo: PAM account management error\n",
			"cannot become root with sudo as user secure: sudo: unable to resolve host h3; sudo: PAM account management error"},
		{"silent failure", false, 1, "", "cannot become root with sudo as user secure: exit code 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sudoFailure("secure", tt.passwordGiven, tt.code, tt.stderr)
			if err.Error() != tt.want {
				t.Errorf("\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// fakeSudo is a stand-in for sudo, NOT the real one: enough of its
// options and messages to test how the transport drives it (password on
// stdin, never in argv). It logs its arguments and runs the command with an
// `id` that reports root. Real sudo is tested on the e2e hosts.
const fakeSudo = `#!/bin/sh
echo "$*" >> "$FAKE_SUDO_LOG"
nonint= stdin=
while [ $# -gt 0 ]; do
  case "$1" in
    -n) nonint=1; shift ;;
    -S) stdin=1; shift ;;
    -k) shift ;;
    -p) shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
if [ -n "$FAKE_SUDO_DENY" ]; then echo "$USER is not in the sudoers file." >&2; exit 1; fi
if [ -n "$FAKE_SUDO_PASSWORD" ]; then
  if [ -n "$nonint" ]; then echo "sudo: a password is required" >&2; exit 1; fi
  if [ -z "$stdin" ]; then echo "sudo: a terminal is required to read the password" >&2; exit 1; fi
  # Like sudo: up to three tries, each read from stdin.
  tries=0
  while :; do
    if ! IFS= read -r pw; then
      echo "sudo: no password was provided" >&2
      [ $tries -gt 0 ] && echo "sudo: $tries incorrect password attempt" >&2
      exit 1
    fi
    [ "$pw" = "$FAKE_SUDO_PASSWORD" ] && break
    tries=$((tries+1))
    if [ $tries -ge 3 ]; then echo "sudo: 3 incorrect password attempts" >&2; exit 1; fi
    echo "Sorry, try again." >&2
  done
fi
FAKE_UID=0 exec "$@"
`

const fakeID = `#!/bin/sh
if [ "$1" = "-u" ]; then echo "${FAKE_UID:-1000}"; else echo "uid=${FAKE_UID:-1000}"; fi
`

func fakeSudoEnv(t *testing.T, extra ...string) (env []string, argvLog string) {
	t.Helper()
	bin := t.TempDir()
	for name, body := range map[string]string{"sudo": fakeSudo, "id": fakeID} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	argvLog = filepath.Join(t.TempDir(), "argv")
	env = append([]string{"PATH=" + bin + ":" + os.Getenv("PATH"), "FAKE_SUDO_LOG=" + argvLog, "USER=deploy"}, extra...)
	return env, argvLog
}

func TestCheckPrivilege(t *testing.T) {
	const pw = "obsbox-secure-pw"
	tests := []struct {
		name     string
		user     string
		password string
		env      []string
		wantErr  string
	}{
		{"root login", "root", "", []string{"FAKE_UID=0"}, ""},
		{"root login that is not uid 0", "root", "", nil, `scripts run through logging in as root have uid "1000", not 0 (root)`},
		{"passwordless sudo", "deploy", "", nil, ""},
		{"sudo password needed and not given", "deploy", "", []string{"FAKE_SUDO_PASSWORD=" + pw},
			"user deploy needs a password for sudo; set ssh.sudo_password"},
		{"wrong sudo password", "deploy", "wrong", []string{"FAKE_SUDO_PASSWORD=" + pw},
			"sudo refused the password for user deploy; check ssh.sudo_password"},
		{"right sudo password", "deploy", pw, []string{"FAKE_SUDO_PASSWORD=" + pw}, ""},
		{"not a sudoer", "deploy", "", []string{"FAKE_SUDO_DENY=1"},
			"user deploy may not run commands as root with sudo; add it to the sudoers (or log in as root)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, argvLog := fakeSudoEnv(t, tt.env...)
			f := newFixture(t, withEnv(env...))
			f.cfg.User = tt.user
			f.cfg.SudoPassword = tt.password
			f.cfg.CommandTimeout = 30 * time.Second // a sudo waiting for another try would hit this
			c := f.dial(t)
			err := c.CheckPrivilege(context.Background())
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Fatalf("\n got %v\nwant %s", err, tt.wantErr)
			}
			if tt.password != "" {
				if argv, _ := os.ReadFile(argvLog); strings.Contains(string(argv), tt.password) {
					t.Errorf("the password reached sudo's arguments: %s", argv)
				}
			}
		})
	}
}

// With a password given but not needed (NOPASSWD), sudo leaves the
// password line unread; the script must still not see it.
func TestSudoPasswordNeverReachesScript(t *testing.T) {
	env, _ := fakeSudoEnv(t)
	f := newFixture(t, withEnv(env...))
	f.cfg.User = "deploy"
	f.cfg.SudoPassword = "obsbox-secure-pw"
	c := f.dial(t)
	out, err := c.Run(context.Background(), "cat; echo \"it's $(id -u)\"")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "it's 0\n" {
		t.Errorf("stdout = %q", out)
	}
	// Only sudo's own retry message, before the script starts, ends stdin.
	out, err = c.Run(context.Background(), "echo 'Sorry, try again.' >&2; sleep 0.3; echo alive")
	if err != nil || string(out) != "alive\n" {
		t.Errorf("Run = %q, %v", out, err)
	}
}

func TestStderrFilter(t *testing.T) {
	tests := []struct {
		name    string
		writes  []string
		want    string
		started bool
		retried bool
	}{
		{"marker removed", []string{startMarker + "err\n"}, "err\n", true, false},
		{"marker split across writes", []string{"obsbox-super", "visor-started", "\nerr"}, "err", true, false},
		{"sudo messages before the marker kept", []string{"sudo: lecture\n", startMarker, "x\n"}, "sudo: lecture\nx\n", true, false},
		{"no marker: sudo failed", []string{"sudo: a password is required\n"}, "sudo: a password is required\n", false, false},
		{"retry before the marker", []string{"Sorry, try", " again.\n"}, "Sorry, try again.\n", false, true},
		{"retry text from the script is ignored", []string{startMarker, "Sorry, try again.\n"}, "Sorry, try again.\n", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			retried := make(chan struct{}, 1)
			f := &stderrFilter{tail: tailBuffer{max: stderrKept}, onRetry: func() { retried <- struct{}{} }}
			for _, w := range tt.writes {
				f.Write([]byte(w))
			}
			if got := f.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if f.sawStart() != tt.started {
				t.Errorf("sawStart() = %v", f.sawStart())
			}
			if tt.retried {
				select {
				case <-retried:
				case <-time.After(10 * time.Second):
					t.Error("onRetry not called")
				}
			} else if f.onRetry == nil {
				t.Error("onRetry was triggered")
			}
		})
	}
}
