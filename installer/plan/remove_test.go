package plan_test

import (
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/plan"
	"github.com/obsbox/obsbox/internal/golden"
)

const staging = "/var/tmp/obsbox-staging-deploy"

// installedHost is mon-1 (all four components) after a complete apply: its
// record as the planner writes it, and the state the probes would read.
func installedHost(t *testing.T) (*hoststate.State, *hoststate.RemovalFacts) {
	t.Helper()
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	p := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	st := converged(sp, p.Record)
	facts := &hoststate.RemovalFacts{Kinds: map[string]hoststate.Kind{}}
	for _, list := range [][]string{st.Record.Paths, st.Record.Trees} {
		for _, x := range list {
			k := st.Path(x).Kind
			switch {
			case k != hoststate.KindMissing:
			case slices.Contains(st.Record.Trees, x):
				k = hoststate.KindDir
			default:
				k = hoststate.KindLink // the wants links, which converged() leaves out
			}
			facts.Kinds[x] = k
		}
	}
	facts.Kinds[hoststate.RecordPath] = hoststate.KindFile
	facts.Kinds[plan.BeforeDir] = hoststate.KindDir
	facts.Staging = true
	return st, facts
}

type removalCase struct {
	name  string
	setup func(t *testing.T) (*hoststate.State, *hoststate.RemovalFacts)
	keep  bool
	// Targets of actions that must be there ("op kind target") and must not.
	want, notWant []string
	empty         bool
}

func removalCases() []removalCase {
	wants := func(c string) string {
		return path.Join(catalog.UnitDir, "multi-user.target.wants", catalog.UnitName(c))
	}
	return []removalCase{
		{
			name: "never installed",
			setup: func(t *testing.T) (*hoststate.State, *hoststate.RemovalFacts) {
				return emptyState(), &hoststate.RemovalFacts{}
			},
			empty: true,
		},
		{
			name: "never installed, a killed upload left the staging folder",
			setup: func(t *testing.T) (*hoststate.State, *hoststate.RemovalFacts) {
				return emptyState(), &hoststate.RemovalFacts{Staging: true}
			},
			want:    []string{"remove dir " + staging},
			notWant: []string{"remove file " + hoststate.RecordPath},
		},
		{
			name: "never installed, a killed apply left unpacked tarballs",
			setup: func(t *testing.T) (*hoststate.State, *hoststate.RemovalFacts) {
				return emptyState(), &hoststate.RemovalFacts{Unpacked: true}
			},
			want:    []string{"remove dir " + hoststate.UnpackedDir},
			notWant: []string{"remove file " + hoststate.RecordPath, "remove dir " + staging},
		},
		{
			name:  "fully installed",
			setup: installedHost,
			want: []string{
				"stop unit obsbox-prometheus.service", "stop unit obsbox-node-exporter.service",
				"remove file " + catalog.UnitPath("grafana"), "remove link " + wants("alertmanager"),
				"remove binaries /opt/obsbox/prometheus/" + catalog.Get(catalog.Prometheus).Default,
				"remove dir /opt/obsbox/prometheus", "remove dir /etc/obsbox/grafana", "remove dir /opt/obsbox", "remove dir /etc/obsbox",
				"remove data /var/lib/obsbox/prometheus", "remove data /var/lib/obsbox/node_exporter",
				"remove user obsbox-grafana", "remove group obsbox-grafana",
				"restore file /etc/passwd- /etc/group- /etc/shadow- /etc/gshadow- /etc/.pwd.lock",
				"remove dir " + staging, "remove file " + hoststate.RecordPath, "remove dir /var/lib/obsbox",
			},
			// Inside folders removed whole: no action of their own.
			notWant: []string{"remove file /etc/obsbox/prometheus/prometheus.yml", "remove link /opt/obsbox/prometheus/current",
				"remove dir /var/lib/obsbox/node_exporter/textfile"},
		},
		{
			name: "apply interrupted after the record and the first user",
			setup: func(t *testing.T) (*hoststate.State, *hoststate.RemovalFacts) {
				st, facts := installedHost(t)
				// Only the record, the node_exporter group and user, and /opt/obsbox/node_exporter exist.
				for p := range facts.Kinds {
					if p != hoststate.RecordPath && p != plan.BeforeDir && p != catalog.OptRoot && p != catalog.BaseDir("node_exporter") {
						delete(facts.Kinds, p)
					}
				}
				facts.Kinds[catalog.DataRoot] = hoststate.KindDir
				facts.TmpFiles = []string{"/opt/obsbox/node_exporter/1.8.2.obsbox-tmp", "/etc/systemd/system/obsbox-node-exporter.service.obsbox-tmp"}
				facts.ApplyDirs = []string{"/var/tmp/obsbox-apply.Ab12Cd"}
				for u := range st.Users {
					st.Users[u], st.Groups[u] = u == "obsbox-node-exporter", u == "obsbox-node-exporter"
				}
				st.Units = map[string]hoststate.Unit{}
				return st, facts
			},
			want: []string{"remove user obsbox-node-exporter", "remove group obsbox-node-exporter",
				"remove dir /opt/obsbox/node_exporter", "remove dir /opt/obsbox",
				"remove file /etc/systemd/system/obsbox-node-exporter.service.obsbox-tmp",
				"remove dir /var/tmp/obsbox-apply.Ab12Cd", "remove file " + hoststate.RecordPath, "remove dir /var/lib/obsbox"},
			notWant: []string{"stop unit obsbox-prometheus.service", "remove user obsbox-prometheus",
				"remove file /opt/obsbox/node_exporter/1.8.2.obsbox-tmp", // goes with its folder
				"remove file " + catalog.UnitPath("prometheus"), "remove dir /etc/obsbox"},
		},
		{
			name: "files deleted by hand, the unit still running",
			setup: func(t *testing.T) (*hoststate.State, *hoststate.RemovalFacts) {
				st, facts := installedHost(t)
				delete(facts.Kinds, catalog.UnitPath("node_exporter"))
				delete(facts.Kinds, catalog.VersionDir("node_exporter", "1.8.2"))
				delete(facts.Kinds, catalog.ConfigDir("grafana"))
				st.Units[catalog.UnitName("node_exporter")] = hoststate.Unit{LoadState: "not-found", ActiveState: "active"}
				return st, facts
			},
			want: []string{"stop unit obsbox-node-exporter.service", "remove dir /etc/obsbox"},
			notWant: []string{"remove file " + catalog.UnitPath("node_exporter"), "remove binaries /opt/obsbox/node_exporter/1.8.2",
				"remove dir /etc/obsbox/grafana"},
		},
		{
			name:  "keep data",
			setup: installedHost,
			keep:  true,
			want: []string{"keep data /var/lib/obsbox/prometheus", "keep data /var/lib/obsbox/grafana",
				"remove dir /opt/obsbox", "remove user obsbox-prometheus", "change file " + hoststate.RecordPath},
			notWant: []string{"remove data /var/lib/obsbox/prometheus", "remove dir /var/lib/obsbox",
				"remove file " + hoststate.RecordPath, "remove dir /var/lib/obsbox/node_exporter/textfile"},
		},
		{
			name: "keep data again: the record lists only kept data, the notes are there",
			setup: func(t *testing.T) (*hoststate.State, *hoststate.RemovalFacts) {
				rec, _ := hoststate.ParseRecord(nil)
				rec.Paths = []string{catalog.DataRoot, catalog.DataDir("prometheus")}
				st := emptyState()
				st.Record = rec
				facts := &hoststate.RemovalFacts{Kinds: map[string]hoststate.Kind{
					catalog.DataRoot: hoststate.KindDir, catalog.DataDir("prometheus"): hoststate.KindDir,
					hoststate.RecordPath: hoststate.KindFile,
					path.Join(catalog.DataDir("prometheus"), plan.KeptNoteName): hoststate.KindFile,
				}}
				return st, facts
			},
			keep:    true,
			want:    []string{"keep data /var/lib/obsbox/prometheus"},
			notWant: []string{"change file " + hoststate.RecordPath},
			empty:   true,
		},
		{
			name: "kept data, then a full uninstall",
			setup: func(t *testing.T) (*hoststate.State, *hoststate.RemovalFacts) {
				rec, _ := hoststate.ParseRecord(nil)
				rec.Paths = []string{catalog.DataRoot, catalog.DataDir("prometheus")}
				st := emptyState()
				st.Record = rec
				facts := &hoststate.RemovalFacts{Kinds: map[string]hoststate.Kind{
					catalog.DataRoot: hoststate.KindDir, catalog.DataDir("prometheus"): hoststate.KindDir,
					hoststate.RecordPath: hoststate.KindFile,
				}}
				return st, facts
			},
			want: []string{"remove data /var/lib/obsbox/prometheus", "remove file " + hoststate.RecordPath, "remove dir /var/lib/obsbox"},
		},
		{
			name: "a user that existed before obsbox is not in the record",
			setup: func(t *testing.T) (*hoststate.State, *hoststate.RemovalFacts) {
				st, facts := installedHost(t)
				u := catalog.UserName("node_exporter")
				st.Record.Users = slices.DeleteFunc(st.Record.Users, func(x string) bool { return x == u })
				st.Record.Groups = slices.DeleteFunc(st.Record.Groups, func(x string) bool { return x == u })
				return st, facts
			},
			want:    []string{"remove user obsbox-prometheus"},
			notWant: []string{"remove user obsbox-node-exporter", "remove group obsbox-node-exporter"},
		},
		{
			name: "a record naming paths outside obsbox's folders",
			setup: func(t *testing.T) (*hoststate.State, *hoststate.RemovalFacts) {
				st, facts := installedHost(t)
				st.Record.Paths = append(st.Record.Paths, "/etc/passwd", "/usr")
				facts.Kinds["/etc/passwd"], facts.Kinds["/usr"] = hoststate.KindFile, hoststate.KindDir
				return st, facts
			},
			want:    []string{"keep path /etc/passwd", "keep path /usr"},
			notWant: []string{"remove file /etc/passwd", "remove dir /usr"},
		},
	}
}

func describe(actions []plan.Action) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = fmt.Sprintf("%s %s %s", a.Op, a.Kind, a.Target)
	}
	return out
}

func TestBuildRemoval(t *testing.T) {
	for _, tc := range removalCases() {
		t.Run(tc.name, func(t *testing.T) {
			st, facts := tc.setup(t)
			r := plan.BuildRemoval(plan.RemovalInput{Host: "mon-1", State: st, Facts: facts, StagingDir: staging, KeepData: tc.keep})
			got := describe(r.Actions)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing action %q in:\n%s", w, strings.Join(got, "\n"))
				}
			}
			for _, nw := range tc.notWant {
				if slices.Contains(got, nw) {
					t.Errorf("unexpected action %q", nw)
				}
			}
			if r.Empty() != tc.empty {
				t.Errorf("Empty() = %v, want %v", r.Empty(), tc.empty)
			}
			checkOrder(t, got)
			script := r.Script()
			shellSyntax(t, script)
			golden.Check(t, filepath.Join("testdata", "removal", fileName(tc.name)+".golden"),
				[]byte(strings.Join(got, "\n")+"\n\n"+script))
		})
	}
}

// checkOrder asserts the order uninstall depends on: units stop before
// their files go, users go after the folders they own, the record last but
// for the folder holding it.
func checkOrder(t *testing.T, got []string) {
	t.Helper()
	idx := func(prefix string, last bool) int {
		at := -1
		for i, g := range got {
			if strings.HasPrefix(g, prefix) {
				at = i
				if !last {
					return i
				}
			}
		}
		return at
	}
	before := func(a, b string) {
		if i, j := idx(a, true), idx(b, false); i >= 0 && j >= 0 && i > j {
			t.Errorf("every %q must come before any %q:\n%s", a, b, strings.Join(got, "\n"))
		}
	}
	// Folders in a root go before the root itself.
	for _, root := range []string{catalog.OptRoot, catalog.ConfigRoot} {
		if r := slices.Index(got, "remove dir "+root); r >= 0 && idx("remove dir "+root+"/", true) > r {
			t.Errorf("%s removed before the folders in it:\n%s", root, strings.Join(got, "\n"))
		}
	}
	before("stop unit", "remove file /etc/systemd")
	before("stop unit", "remove user")
	before("remove data", "remove user")
	before("remove user", "remove group")
	before("remove group", "restore file")
	if i := idx("remove file "+hoststate.RecordPath, false); i >= 0 {
		for _, g := range got[i+1:] {
			if g != "remove dir "+catalog.DataRoot {
				t.Errorf("%q after the record", g)
			}
		}
	}
}

func TestRemovalKeepsItsOwnersGroup(t *testing.T) {
	st, facts := installedHost(t)
	// obsbox made the user, but its same-named group was there before.
	u := catalog.UserName("grafana")
	st.Record.Groups = slices.DeleteFunc(st.Record.Groups, func(x string) bool { return x == u })
	script := plan.BuildRemoval(plan.RemovalInput{Host: "mon-1", State: st, Facts: facts, StagingDir: staging}).Script()
	move := "usermod -g 0 '" + u + "'"
	del := "userdel '" + u + "'"
	if i, j := strings.Index(script, move), strings.Index(script, del); i < 0 || j < 0 || i > j {
		t.Errorf("the user should leave its group before userdel, which would delete it:\n%s", script)
	}
	if strings.Contains(script, "groupdel '"+u+"'") {
		t.Errorf("a group obsbox did not create is deleted")
	}
}

func TestRemovalDone(t *testing.T) {
	st, facts := installedHost(t)
	r := plan.BuildRemoval(plan.RemovalInput{Host: "mon-1", State: st, Facts: facts, StagingDir: staging})
	out := "@@obsbox did 0\n@@obsbox did 1\n@@obsbox note the user database changed\n"
	done, notes, complete := r.Done([]byte(out))
	if len(done) != 2 || done[0].Target != r.Actions[0].Target || complete {
		t.Errorf("partial run: done %v, complete %v", describe(done), complete)
	}
	if len(notes) != 1 || notes[0] != "the user database changed" {
		t.Errorf("notes %q", notes)
	}
	_, _, complete = r.Done([]byte(out + plan.DoneMarker + "\n"))
	if !complete {
		t.Errorf("the done marker was not seen")
	}
}

func TestRemovalProbeScript(t *testing.T) {
	st, _ := installedHost(t)
	script := plan.RemovalProbe(st.Record, staging).Script()
	shellSyntax(t, script)
	for _, want := range []string{"'/opt/obsbox/prometheus/" + catalog.Get(catalog.Prometheus).Default + "'", "'" + hoststate.RecordPath + "'", "/var/tmp/obsbox-apply.*", "'" + staging + "'"} {
		if !strings.Contains(script, want) {
			t.Errorf("probe does not look at %s", want)
		}
	}
	for _, verb := range []string{"rm ", "mv ", "chown", "userdel", "systemctl"} {
		if strings.Contains(script, verb) {
			t.Errorf("the probe must change nothing, but runs %q", verb)
		}
	}
}

// TestApplySavesShadowBackupsAndAdoptsKeptData checks the apply script's
// part for uninstall: the shadow backups are saved after the record and
// before the first groupadd, and kept data is taken over with the plan's
// own account lines.
func TestApplySavesShadowBackupsAndAdoptsKeptData(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	p := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	script := p.Script()
	shellSyntax(t, script)
	rec := strings.Index(script, "OBSBOX_RECORD\n")
	save := strings.Index(script, "mkdir -m 700 '"+plan.BeforeDir+".obsbox-tmp'")
	groupadd := strings.Index(script, "|| groupadd --system 'obsbox-") // the plan's own, not the adoption's
	if rec < 0 || save < 0 || groupadd < 0 || !(rec < save && save < groupadd) {
		t.Errorf("want record (%d) < shadow backups saved (%d) < first groupadd (%d)", rec, save, groupadd)
	}
	for _, c := range []string{"prometheus", "grafana"} {
		note := "if [ -f '" + path.Join(catalog.DataDir(c), plan.KeptNoteName) + "' ]; then"
		i := strings.Index(script, note)
		if i < 0 || i > groupadd {
			t.Fatalf("%s: no adoption of kept data before the accounts are made", c)
		}
		block := script[i:]
		block = block[:strings.Index(block, "\nfi\n")]
		// The plan's own lines, with the old ids when free: a change in how the
		// planner makes accounts shows up here.
		if !strings.Contains(block, "useradd --system $obsbox_uid ") || !strings.Contains(block, "groupadd --system $obsbox_gid ") {
			t.Errorf("%s: the plan's useradd/groupadd lines were not reused:\n%s", c, block)
		}
	}

	// Converged host: no accounts to make, nothing saved.
	again := build(t, plan.Input{Host: "mon-1", Specs: sp, State: converged(sp, p.Record)})
	if strings.Contains(again.Script(), plan.BeforeDir) {
		t.Errorf("shadow backups saved although no account is created")
	}
}

func shellSyntax(t *testing.T, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v: %s\n%s", err, out, script)
	}
}

// fileName turns a case name into a portable file name.
func fileName(name string) string {
	return strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(name), "_"), "_")
}
