package plan

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
)

// Note is something a plan must say beyond its actions: what a change does
// not do, or what it destroys.
type Note struct {
	Level     string `json:"level"` // NoteWarning or NoteInfo
	Component string `json:"component,omitempty"`
	Text      string `json:"text"`
}

const (
	NoteWarning = "warning"
	NoteInfo    = "note"
)

// AddNotes appends notes to the host's plan.
func (h *Host) AddNotes(n ...Note) { h.Notes = append(h.Notes, n...) }

// dataKind says what a component keeps in its data folder.
var dataKind = map[string]string{
	"prometheus":    "metrics history (the TSDB)",
	"alertmanager":  "silences and notification log",
	"grafana":       "database: users, and dashboards and settings made in Grafana",
	"node_exporter": "textfile collector input: *.prom files written on this host",
}

// noteLeftBehind says what stays on a host a component leaves: its data
// folder, with the kept-data note the removal writes there, and its user,
// which only uninstall removes (removeComponent keeps exactly these).
func (b *builder) noteLeftBehind(c string) {
	st := b.in.State
	user := component.UserName(c)
	stays := ""
	data := component.DataDir(c)
	if what, ok := dataKind[c]; ok && st.Path(data).Kind == hoststate.KindDir {
		stays = fmt.Sprintf("its data folder %s (%s; a note %s there says so) and ", data, what, KeptNoteName)
		b.h.leaving = append(b.h.leaving, c)
	}
	if st.Users[user] || stays != "" {
		text := fmt.Sprintf("%s leaves this host, but %sits user %s stay here (only `obsbox uninstall` of this host removes them)", c, stays, user)
		if stays != "" {
			text += "; the history does not move to the host that runs " + c + " now"
		}
		b.h.AddNotes(Note{Level: NoteWarning, Component: c, Text: text})
	}
}

// NoteMoves tells each host that starts a component with a fresh data
// folder while another host of the run leaves it with its data, that it
// starts without that history.
func NoteMoves(hosts []*Host) {
	from := map[string][]string{}
	for _, h := range hosts {
		for _, c := range h.leaving {
			from[c] = append(from[c], h.Host)
		}
	}
	for _, h := range hosts {
		for _, c := range h.freshData {
			for _, old := range from[c] {
				h.AddNotes(Note{Level: NoteWarning, Component: c, Text: fmt.Sprintf(
					"%s starts here without history: its %s stays in %s on %s and does not move", c, dataKind[c], component.DataDir(c), old)})
			}
		}
	}
}

var retentionFlag = regexp.MustCompile(`--storage\.tsdb\.retention\.time=(\S+)`)

// UnitChangeNotes explains a changed unit whose flags destroy data: a
// shorter Prometheus retention deletes what is older at the restart.
func UnitChangeNotes(c string, oldUnit, newUnit []byte) []Note {
	if c != "prometheus" {
		return nil
	}
	o, n := retentionFlag.FindSubmatch(oldUnit), retentionFlag.FindSubmatch(newUnit)
	if o == nil || n == nil || string(o[1]) == string(n[1]) {
		return nil
	}
	from, to := string(o[1]), string(n[1])
	od, err1 := promDuration(from)
	nd, err2 := promDuration(to)
	switch {
	case err1 != nil || err2 != nil || nd < od:
		return []Note{{Level: NoteWarning, Component: c, Text: fmt.Sprintf(
			"retention changes from %s to %s: when Prometheus restarts it deletes all data older than %s", from, to, to)}}
	default:
		return []Note{{Level: NoteInfo, Component: c, Text: fmt.Sprintf(
			"retention changes from %s to %s: data already deleted does not come back", from, to)}}
	}
}

var promDurationPart = regexp.MustCompile(`^([0-9]+)(ms|y|w|d|h|m|s)`)

// promDuration parses a Prometheus duration (e.g. 1y, 30d, 1d12h) in milliseconds.
func promDuration(s string) (int64, error) {
	unit := map[string]int64{"ms": 1, "s": 1000, "m": 60 * 1000, "h": 3600 * 1000, "d": 24 * 3600 * 1000, "w": 7 * 24 * 3600 * 1000, "y": 365 * 24 * 3600 * 1000}
	if s == "" || s == "0" {
		return 0, fmt.Errorf("empty duration")
	}
	var total int64
	for rest := s; rest != ""; {
		m := promDurationPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("not a duration: %q", s)
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return 0, err
		}
		total += n * unit[m[2]]
		rest = rest[len(m[0]):]
	}
	return total, nil
}
