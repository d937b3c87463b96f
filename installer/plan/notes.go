package plan

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/obsbox/obsbox/bundles"
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

// majorPrefix starts the note of a rollout that crosses a major version.
const majorPrefix = "major "

// MajorUpgradeNotes names each rollout that crosses a major version: what
// changes, that the data folder is kept, and the downgrade floor it sets.
func MajorUpgradeNotes(rs []Rollout) []Note {
	var out []Note
	for _, r := range rs {
		from, err1 := bundles.ParseVersion(r.From)
		to, err2 := bundles.ParseVersion(r.To)
		if err1 != nil || err2 != nil || from.Major == to.Major {
			continue
		}
		dir := "upgrade"
		if to.Major < from.Major {
			dir = "downgrade"
		}
		text := fmt.Sprintf("%s%s %s → %s: %s %d renders its own flags and configuration (the unit's and configuration files' diffs show each change)",
			majorPrefix, dir, r.From, r.To, r.Component, to.Major)
		if kind := catalog.Get(r.Component).DataKind; kind != "" {
			text += fmt.Sprintf("; its data folder %s (%s) is kept, and the rollout gate checks %s answers for data from before the switch", catalog.DataDir(r.Component), kind, r.To)
		}
		if change := catalog.Get(r.Component).MajorChanges[int(to.Major)]; change != "" && dir == "upgrade" {
			text += "; " + change
		}
		if f := catalog.Get(r.Component).DowngradeFloor; f != nil && dir == "upgrade" && bundles.CompareVersions(r.To, f.Ran) >= 0 {
			text += fmt.Sprintf("; once %s has run, going back below %s is refused (%s)", r.To, f.Min, f.Reason)
		}
		out = append(out, Note{Level: NoteWarning, Component: r.Component, Text: text})
	}
	return out
}

// NoteFlagChanges adds to component c's major-version note which command
// line flags its unit drops, adds or changes; nothing without such a note.
func (h *Host) NoteFlagChanges(c string, oldUnit, newUnit []byte) {
	for i, n := range h.Notes {
		if n.Component != c || !strings.HasPrefix(n.Text, majorPrefix) {
			continue
		}
		if d := FlagChanges(oldUnit, newUnit); d != "" {
			h.Notes[i].Text += "; flags: " + d
		}
	}
}

// FlagChanges describes how the --flags of two units' ExecStart differ:
// "removed --a; added --b=1; changed --c=2 (was 1)"; "" when they do not.
func FlagChanges(oldUnit, newUnit []byte) string {
	o, n := unitFlags(oldUnit), unitFlags(newUnit)
	var removed, added, changed []string
	for _, k := range sortedFlagNames(o) {
		if _, ok := n[k]; !ok {
			removed = append(removed, k)
		}
	}
	for _, k := range sortedFlagNames(n) {
		ov, ok := o[k]
		switch {
		case !ok:
			added = append(added, flagText(k, n[k]))
		case ov != n[k]:
			changed = append(changed, fmt.Sprintf("%s (was %s)", flagText(k, n[k]), flagText(k, ov)))
		}
	}
	var parts []string
	for _, p := range []struct {
		what string
		list []string
	}{{"removed", removed}, {"added", added}, {"changed", changed}} {
		if len(p.list) > 0 {
			parts = append(parts, p.what+" "+strings.Join(p.list, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

func flagText(name, value string) string {
	if value == "" {
		return name
	}
	return name + "=" + value
}

// unitFlags reads the --name[=value] words of a unit's ExecStart, across
// backslash-continued lines; a repeated flag keeps its values joined.
func unitFlags(unit []byte) map[string]string {
	text := strings.ReplaceAll(string(unit), "\\\n", " ")
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStart=")
		if !ok {
			continue
		}
		for _, w := range strings.Fields(rest) {
			w = strings.Trim(w, `"'`)
			if !strings.HasPrefix(w, "--") {
				continue
			}
			k, v, _ := strings.Cut(w, "=")
			if old, dup := out[k]; dup {
				v = old + "," + v
			}
			out[k] = v
		}
	}
	return out
}

func sortedFlagNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
