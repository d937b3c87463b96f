package plan

import (
	"fmt"
	"regexp"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/hoststate"

	"github.com/obsbox/obsbox/installer/duration"
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

// noteLeftBehind says what stays on a host a component leaves: its data
// folder, with the kept-data note the removal writes there, and its user,
// which only uninstall removes (removeComponent keeps exactly these).
func (b *builder) noteLeftBehind(c string) {
	st := b.in.State
	user := catalog.UserName(c)
	stays := ""
	data := catalog.DataDir(c)
	if what := catalog.Get(c).DataKind; what != "" && st.Path(data).Kind == hoststate.KindDir {
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
					"%s starts here without history: its %s stays in %s on %s and does not move", c, catalog.Get(c).DataKind, catalog.DataDir(c), old)})
			}
		}
	}
}

var retentionFlag = regexp.MustCompile(`--storage\.tsdb\.retention\.time=(\S+)`)

// UnitChangeNotes explains a changed unit whose flags destroy data: a
// shorter Prometheus retention deletes what is older at the restart.
func UnitChangeNotes(c string, oldUnit, newUnit []byte) []Note {
	if c != catalog.Prometheus {
		return nil
	}
	o, n := retentionFlag.FindSubmatch(oldUnit), retentionFlag.FindSubmatch(newUnit)
	if o == nil || n == nil || string(o[1]) == string(n[1]) {
		return nil
	}
	from, to := string(o[1]), string(n[1])
	od, err1 := duration.Parse(from)
	nd, err2 := duration.Parse(to)
	switch {
	case err1 != nil || err2 != nil || nd < od:
		return []Note{{Level: NoteWarning, Component: c, Text: fmt.Sprintf(
			"retention changes from %s to %s: when Prometheus restarts it deletes all data older than %s", from, to, to)}}
	default:
		return []Note{{Level: NoteInfo, Component: c, Text: fmt.Sprintf(
			"retention changes from %s to %s: data already deleted does not come back", from, to)}}
	}
}
