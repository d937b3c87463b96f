package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/obsbox/obsbox/e2e/harness"
	"github.com/obsbox/obsbox/installer/catalog"
)

// Versions the bench installs: bundles every e2e mirror holds.
const (
	promVersion  = "2.53.3"
	amVersion    = "0.27.0"
	grafVersion  = "11.2.2"
	nodeVersion  = "1.8.2"
	grafanaAdmin = "bench-admin-pw"
)

// sample is one timed obsbox run.
type sample struct {
	secs    float64
	rssKB   int64   // wait4 rusage ru_maxrss of the obsbox process
	cpuSecs float64 // user + system CPU time of the obsbox process
	// machineCPU is the whole machine's busy CPU seconds over the run:
	// obsbox, sshd and everything the hosts ran for it.
	machineCPU float64
	rep        *report // nil unless the run had --json and printed a report
	noRep      string  // why rep is nil although --json was asked for
	phases     []phase // from obsbox -v: where the time went
}

// phase is the wall time obsbox spent in one phase (summed when a command
// runs the phase more than once); "start-up" is before the first phase.
type phase struct {
	title string
	secs  float64
}

var phaseLine = regexp.MustCompile(`^time=(\S+) level=DEBUG msg=phase title=("(?:[^"\\]|\\.)*"|\S+)`)

// parsePhases reads obsbox's -v log: each phase runs from its "phase" line to
// the next one, the last to the end of the process.
func parsePhases(log []byte, start, end time.Time) []phase {
	var out []phase
	add := func(title string, d time.Duration) {
		for i := range out {
			if out[i].title == title {
				out[i].secs += d.Seconds()
				return
			}
		}
		out = append(out, phase{title, d.Seconds()})
	}
	cur, at := "start-up", start
	for _, line := range strings.Split(string(log), "\n") {
		m := phaseLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		title := m[2]
		if u, err := strconv.Unquote(title); err == nil {
			title = u
		}
		add(cur, t.Sub(at))
		cur, at = title, t
	}
	add(cur, end.Sub(at))
	return out
}

// report is the part of obsbox's --json report the bench reads.
type report struct {
	Hosts []hostReport `json:"hosts"`
}

type hostReport struct {
	Host       string            `json:"host"`
	OK         bool              `json:"ok"`
	Error      string            `json:"error"`
	Actions    []json.RawMessage `json:"actions"`
	Uploaded   int64             `json:"uploaded_bytes"`
	RoundTrips int64             `json:"round_trips"`
	Seconds    float64           `json:"seconds"`
}

// slowestExcept is the longest own time of any host but name.
func (r *report) slowestExcept(name string) float64 {
	var m float64
	for _, h := range r.Hosts {
		if h.Host != name {
			m = max(m, h.Seconds)
		}
	}
	return m
}

// actions counts the actions over all hosts of a report.
func (r *report) actions() int {
	n := 0
	for _, h := range r.Hosts {
		n += len(h.Actions)
	}
	return n
}

// runner starts obsbox against one inventory and keeps every run's stderr.
type runner struct {
	bin     string
	inv     string
	logDir  string
	seq     int
	lastLog string
}

// run executes obsbox with args; a non-zero exit is an error carrying the end
// of its stderr. label names the log file.
func (r *runner) run(label string, args ...string) (sample, error) {
	// -v: obsbox's debug log times each phase and script; it costs little.
	full := append([]string{"-i", r.inv, "--no-progress", "-v"}, args...)
	r.seq++
	logPath := filepath.Join(r.logDir, fmt.Sprintf("%03d-%s.log", r.seq, label))
	r.lastLog = logPath
	logFile, err := os.Create(logPath)
	if err != nil {
		return sample{}, err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "# %s %s\n", r.bin, strings.Join(full, " "))

	cmd := exec.Command(r.bin, full...)
	cmd.Dir = filepath.Dir(r.inv)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	var start, end time.Time
	t, runErr := timed(func() error {
		start = time.Now()
		defer func() { end = time.Now() }()
		return cmd.Run()
	})
	s := sample{secs: t.secs, machineCPU: t.cpu, phases: parsePhases(stderr.Bytes(), start, end)}
	fmt.Fprintf(logFile, "# exit: %v, %.2fs\n# --- stderr\n%s# --- stdout\n%s", runErr, time.Since(start).Seconds(), stderr.Bytes(), stdout.Bytes())
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.rssKB = ru.Maxrss // kilobytes on Linux
			s.cpuSecs = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	if runErr != nil {
		return s, fmt.Errorf("obsbox %s: %v (log %s)\n%s%s", strings.Join(args, " "), runErr, logPath,
			tail(stdout.String(), 20), tail(stderr.String(), 20))
	}
	if hasArg(args, "--json") {
		var rep report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || len(rep.Hosts) == 0 {
			s.noRep = fmt.Sprintf("its --json output is no report with hosts (%v)", err)
		} else {
			s.rep = &rep
		}
	}
	return s, nil
}

// pull fills the bundle cache so no measured run downloads anything, and
// returns the cached tarball of each component.
func (r *runner) pull() (map[string]string, error) {
	cmd := exec.Command(r.bin, "-i", r.inv, "--no-progress", "--json", "bundle", "pull")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("obsbox bundle pull: %v\n%s", err, tail(stderr.String(), 20))
	}
	var results []struct {
		Component string `json:"component"`
		Path      string `json:"path"`
		Status    string `json:"status"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		return nil, fmt.Errorf("obsbox bundle pull --json: %v\n%s", err, tail(stdout.String(), 20))
	}
	paths := map[string]string{}
	for _, res := range results {
		if res.Path == "" {
			return nil, fmt.Errorf("obsbox bundle pull: %s: status %s and no cached tarball", res.Component, res.Status)
		}
		paths[res.Component] = res.Path
	}
	// What this inventory installs; blackbox_exporter only with probes.
	for _, c := range []string{catalog.Prometheus, catalog.Alertmanager, catalog.Grafana, catalog.NodeExporter} {
		if paths[c] == "" {
			return nil, fmt.Errorf("obsbox bundle pull did not report a tarball for %s", c)
		}
	}
	return paths, nil
}

// commands lists obsbox's subcommands, from its help text.
func commands(bin string) (map[string]bool, error) {
	out, err := exec.Command(bin, "--help").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --help: %v", bin, err)
	}
	cmds := map[string]bool{}
	in := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "Available Commands:"):
			in = true
		case in && strings.HasPrefix(line, "  "):
			if f := strings.Fields(line); len(f) > 0 {
				cmds[f[0]] = true
			}
		case in:
			in = false
		}
	}
	return cmds, nil
}

const inventoryText = `# written by obsbox's bench (bench/obsbox.go)
ssh {
  user        = "root"
  private_key = "{{.Key}}"
  known_hosts = "{{.KnownHosts}}"
}

versions {
  prometheus    = "` + promVersion + `"
  alertmanager  = "` + amVersion + `"
  grafana       = "` + grafVersion + `"
  node_exporter = "` + nodeVersion + `"
}

bundles {
  dir    = "{{.Dir}}/bundles"
  mirror = "{{.Mirror}}"
}
{{range $i, $h := .Hosts}}
host "{{$h.Name}}" {
  address = "{{$h.Address}}"
{{- if eq $i 0}}
  roles   = ["prometheus", "alertmanager", "grafana"]
{{- end}}
}
{{end}}
prometheus {
  retention = "2d"
}

alertmanager {
  # Nothing listens there: alerts stay on the test bridge.
  receiver "hook" {
    webhook { url = "http://{{.Bridge}}:9/" }
  }
  default_receiver = "hook"
}

grafana {
  admin_password = "` + grafanaAdmin + `"
}
`

var inventoryTmpl = template.Must(template.New("inventory").Parse(inventoryText))

type inventoryData struct {
	Key, KnownHosts, Dir, Mirror, Bridge string
	Hosts                                []harness.Host
}

// writeInventory names hosts (the first gets Prometheus, Alertmanager and
// Grafana; every host gets node_exporter), all reached as root.
func writeInventory(path string, d inventoryData) error {
	var b bytes.Buffer
	if err := inventoryTmpl.Execute(&b, d); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// appendHostBlock adds a plain host block, as a user adding a host by hand would.
func appendHostBlock(path string, h harness.Host) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "\nhost %q {\n  address = %q\n}\n", h.Name, h.Address)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func hasArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	out := strings.Join(l, "\n")
	if out != "" {
		out += "\n"
	}
	return out
}
