package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obsbox/obsbox/e2e/harness"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 || in[1] != 1 {
		t.Errorf("median sorted its argument in place: %v", in)
	}
}

func rep(hosts ...hostReport) *report { return &report{Hosts: hosts} }

func TestScenarioRow(t *testing.T) {
	s := &scenario{name: "apply, nothing to do"}
	s.add(sample{secs: 2, rssKB: 30000, machineCPU: 3.5, rep: rep(hostReport{Host: "h1", RoundTrips: 2}, hostReport{Host: "h2", RoundTrips: 3, Uploaded: 2048})}, checkNoop)
	s.add(sample{secs: 4, rssKB: 50000, machineCPU: 7.5, rep: rep(hostReport{Host: "h1", RoundTrips: 2}, hostReport{Host: "h2", RoundTrips: 2})}, checkNoop)
	s.add(sample{secs: 3, rssKB: 40000, machineCPU: 5.25, rep: rep(hostReport{Host: "h1", RoundTrips: 2, Actions: make([]json.RawMessage, 1)}, hostReport{Host: "h2", RoundTrips: 2})}, checkNoop)
	s.addFloor(took{secs: 1, cpu: 2})
	s.addFloor(took{secs: 1.5, cpu: 0}) // /proc/stat unread: not a zero
	s.addFloor(took{secs: 0.5, cpu: 1})

	got := s.row()
	want := []string{"apply, nothing to do", "3.00", "1.00", "3.0×", "5.2 / 1.5", "341 B / 2.0 KiB", "2–3", "51.2 MB"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("row = %q\nwant  %q", got, want)
	}
	if len(s.notes) != 1 || s.notes[0] != "not a no-op: 1 actions" {
		t.Errorf("notes = %q, want the one run with an action", s.notes)
	}
}

func TestScenarioRowWithoutRuns(t *testing.T) {
	s := &scenario{name: "plan"}
	got := s.row()
	want := []string{"plan", "—", "—", "—", "—", "—", "—", "—"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("row = %q, want %q", got, want)
	}
	s.add(sample{secs: 1, noRep: "no report"}, checkNoop)
	if len(s.notes) != 1 || s.notes[0] != "no report" {
		t.Errorf("notes = %q", s.notes)
	}
}

func TestCheckFresh(t *testing.T) {
	if got := checkFresh(rep(hostReport{Host: "h1", Uploaded: 10}, hostReport{Host: "h2"}, hostReport{Host: "h3"})); got != "hosts were not fresh, nothing was sent to h2, h3" {
		t.Errorf("checkFresh = %q", got)
	}
	if got := checkFresh(rep(hostReport{Host: "h1", Uploaded: 10})); got != "" {
		t.Errorf("checkFresh on a fresh host = %q", got)
	}
}

func TestGoals(t *testing.T) {
	noop := &scenario{floor: []float64{1}}
	noop.add(sample{secs: 2.5, rssKB: 1000, rep: rep(hostReport{Host: "h1", RoundTrips: 3})}, nil)
	big := []sample{{rssKB: 120000}}
	for _, tc := range []struct {
		g    goal
		want string
	}{
		{ratioGoal("no-op within 3×", noop, 3), "- [x] no-op within 3×: met (2.5×)"},
		{ratioGoal("no-op within 2×", noop, 2), "- [ ] no-op within 2×: MISSED (2.5×)"},
		{ratioGoal("nothing", &scenario{}, 2), "- [ ] nothing: not measured (no runs)"},
		{roundTripGoal("≤ 2 round trips", noop, 2), "- [ ] ≤ 2 round trips: MISSED (at most 3 per host)"},
		{roundTripGoal("≤ 3 round trips", noop, 3), "- [x] ≤ 3 round trips: met (at most 3 per host)"},
		{rssGoal("rss", 100e6, noop.runs), "- [x] rss: met (1.0 MB)"},
		{rssGoal("rss", 100e6, noop.runs, big), "- [ ] rss: MISSED (122.9 MB)"},
		{rssGoal("rss", 100e6), "- [ ] rss: not measured (no run at that size)"},
	} {
		if got := tc.g.String(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	got := markdown([]string{"a", "× floor"}, [][]string{{"long cell", "1.0×"}})
	want := "| a         | × floor |\n" +
		"| --------- | ------- |\n" +
		"| long cell | 1.0×    |\n"
	if got != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("25, 1,5,10,5")
	if err != nil || !slices.Equal(got, []int{1, 5, 10, 25}) {
		t.Errorf("parseSizes = %v, %v", got, err)
	}
	if got, err := parseSizes(""); err != nil || len(got) != 0 {
		t.Errorf("parseSizes(\"\") = %v, %v", got, err)
	}
	for _, bad := range []string{"0", "51", "x"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) accepted", bad)
		}
	}
}

func TestInventoryAndHostBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "obsbox.hcl")
	hosts := []harness.Host{{Name: "h1", Address: "10.99.0.11"}, {Name: "h2", Address: "10.99.0.12"}}
	if err := writeInventory(path, inventoryData{Key: "/k", KnownHosts: "/kh", Dir: "/d", Mirror: "http://127.0.0.1:1", Bridge: "10.99.0.1", Hosts: hosts}); err != nil {
		t.Fatal(err)
	}
	if err := appendHostBlock(path, harness.Host{Name: "h3", Address: "10.99.0.13"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		"host \"h1\" {\n  address = \"10.99.0.11\"\n  roles   = [\"prometheus\", \"alertmanager\", \"grafana\"]\n}",
		"host \"h2\" {\n  address = \"10.99.0.12\"\n}",
		"host \"h3\" {\n  address = \"10.99.0.13\"\n}",
		"url = \"http://10.99.0.1:9/\"",
		"dir    = \"/d/bundles\"",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("inventory lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "roles") != 1 {
		t.Errorf("only the first host carries roles:\n%s", text)
	}
}

func TestParsePhases(t *testing.T) {
	start := time.Date(2026, 11, 26, 0, 17, 31, 0, time.UTC)
	log := `time=2026-11-26T00:17:31.200Z level=DEBUG msg=phase title=connect
time=2026-11-26T00:17:31.300Z level=DEBUG msg="ssh connected" host=h1
time=2026-11-26T00:17:31.500Z level=DEBUG msg=phase title="read state"
time=2026-11-26T00:17:32.000Z level=DEBUG msg=phase title=connect
level=WARN something else
time=2026-11-26T00:17:32.250Z level=DEBUG msg=phase title="health check"
`
	got := parsePhases([]byte(log), start, start.Add(3*time.Second))
	want := []phase{{"start-up", 0.2}, {"connect", 0.55}, {"read state", 0.5}, {"health check", 1.75}}
	if len(got) != len(want) {
		t.Fatalf("phases = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].title != want[i].title || math.Abs(got[i].secs-want[i].secs) > 1e-9 {
			t.Errorf("phase %d = %v, want %v", i, got[i], want[i])
		}
	}
	if got := parsePhases(nil, start, start.Add(time.Second)); len(got) != 1 || got[0].title != "start-up" || got[0].secs != 1 {
		t.Errorf("no -v log: %v, want all of it as start-up", got)
	}
}

func TestPhaseTable(t *testing.T) {
	a := &scenario{name: "apply"}
	for _, secs := range []float64{3, 1, 2} {
		a.add(sample{secs: secs, cpuSecs: secs / 4, phases: []phase{{"connect", secs / 10}, {"apply", secs / 2}}}, nil)
	}
	p := &scenario{name: "plan"}
	p.add(sample{secs: 1, phases: []phase{{"connect", 0.25}, {"diff", 0.5}}}, nil)
	empty := &scenario{name: "none"}
	header, rows := phaseTable("scenario", []*scenario{a, p, empty}, func(s *scenario) string { return s.name })
	if got, want := strings.Join(header, "|"), "scenario|total|obsbox CPU|connect|apply|diff"; got != want {
		t.Errorf("header %s, want %s", got, want)
	}
	want := []string{"apply|2.00|0.50|0.20|1.00|—", "plan|1.00|0.00|0.25|—|0.50", "none|—|—|—|—|—"}
	for i, r := range rows {
		if got := strings.Join(r, "|"); got != want[i] {
			t.Errorf("row %d = %s, want %s", i, got, want[i])
		}
	}
}

func TestParseBusy(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseBusy("cpu  1000 50 400 90000 300 20 30 700 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := 15 * time.Second; got != want { // (1000+50+400+20+30) ticks of 1/100 s
		t.Errorf("busy = %v, want %v (idle, iowait and steal left out)", got, want)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 x 4 5 6 7 8", "cpu 1 2 3"} {
		if _, err := parseBusy(bad); err == nil {
			t.Errorf("parseBusy(%q) gave no error", bad)
		}
	}
	if _, err := machineBusy(); err != nil {
		t.Errorf("this machine's /proc/stat: %v", err)
	}
}
