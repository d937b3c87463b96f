package plan

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
)

// Ops that only uninstall uses.
const (
	OpKeep    Op = "keep"    // left in place on purpose
	OpRestore Op = "restore" // put back as it was before obsbox
)

// KeptNoteName is the note uninstall --keep-data leaves in each kept data
// folder; the next apply that installs the component takes the folder over
// and deletes the note.
const KeptNoteName = "OBSBOX-KEPT-DATA.txt"

// BeforeDir holds shadow's backup files as they were before obsbox's first
// useradd or groupadd, so uninstall can put them back.
var BeforeDir = path.Join(catalog.DataRoot, "before-obsbox")

// shadowBackups are the backup copies useradd, groupadd, userdel and
// groupdel rewrite on every change, and the lock file they create.
var shadowBackups = []string{"/etc/passwd-", "/etc/group-", "/etc/shadow-", "/etc/gshadow-", "/etc/.pwd.lock"}

// shadowLive are the user database files the backups are copies of.
var shadowLive = []string{"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow"}

// RemovalProbe is the removal probe for a host with record rec
// (hoststate.RemovalRequest; hoststate.ParseRemoval reads its output).
func RemovalProbe(rec *hoststate.Record, stagingDir string) hoststate.RemovalRequest {
	paths := []string{BeforeDir}
	for _, c := range component.All() {
		paths = append(paths, path.Join(catalog.DataDir(c.Name()), KeptNoteName))
	}
	return hoststate.RemovalRequest{Record: rec, StagingDir: stagingDir, Paths: paths}
}

// RemovalInput is what BuildRemoval needs for one host.
type RemovalInput struct {
	Host       string
	State      *hoststate.State
	Facts      *hoststate.RemovalFacts
	StagingDir string
	KeepData   bool
	// LockFile is the run lock uninstall holds; its script deletes it last,
	// so the host is left as obsbox found it.
	LockFile string

	// only scopes the removal to one component: apply taking it off a
	// host. Its data folder and user stay; the record is apply's to write.
	only string
}

// Removal is the uninstall of one host: the actions shown to the user and
// the root script that performs them, in the same order.
type Removal struct {
	Host    string
	Actions []Action

	lockFile string
	kept     map[string]bool // recorded paths kept

	steps []removalStep
}

// removalStep is a part of the removal script; action is its index in
// Actions, or -1 for bookkeeping the user is not shown (daemon-reload).
type removalStep struct {
	action int
	step   Step
}

// Empty reports whether the script would change nothing.
func (r *Removal) Empty() bool {
	for _, s := range r.steps {
		if len(render(s.step)) > 0 {
			return false
		}
	}
	return true
}

const (
	removalMarker = "@@obsbox "
	doneStepFmt   = "@@obsbox did %d"
)

// ourRoots are the folders in which a folder obsbox created is removed
// whole: nothing but obsbox puts anything there.
var ourRoots = []string{catalog.OptRoot, catalog.ConfigRoot, catalog.DataRoot}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func isRoot(p string) bool { return slices.Contains(ourRoots, p) }

func inOurRoots(p string) bool {
	for _, r := range ourRoots {
		if under(p, r) {
			return true
		}
	}
	return false
}

// removable reports whether a recorded path lies where obsbox puts things:
// its own folders and the unit folder. A record naming anything else is
// not trusted with it.
func removable(p string) bool {
	return inOurRoots(p) || strings.HasPrefix(p, catalog.UnitDir+"/")
}

// componentOf names the component a path belongs to, if any.
func componentOf(p string) string {
	for _, c := range component.All() {
		n := c.Name()
		unit := catalog.UnitName(n)
		if under(p, catalog.BaseDir(n)) || under(p, catalog.ConfigDir(n)) || under(p, catalog.DataDir(n)) ||
			p == catalog.UnitPath(n) || path.Base(p) == unit {
			return n
		}
	}
	return ""
}

// dataOf returns the component whose data folder holds p.
func dataOf(p string) string {
	for _, c := range component.All() {
		if under(p, catalog.DataDir(c.Name())) {
			return c.Name()
		}
	}
	return ""
}

func depth(p string) int { return strings.Count(p, "/") }

type remover struct {
	in    RemovalInput
	r     *Removal
	kind  func(string) hoststate.Kind
	rec   *hoststate.Record
	whole map[string]bool // recorded folders removed whole
	kept  map[string]bool // recorded paths kept (data, and the folders holding it)
}

// add appends an action and the step that performs it; a kept thing's
// action has no step but is still reported done when the script passes it.
func (m *remover) add(a Action, s Step) {
	a.step = s
	m.r.Actions = append(m.r.Actions, a)
	m.r.steps = append(m.r.steps, removalStep{action: len(m.r.Actions) - 1, step: s})
}

func (m *remover) leaveAlone(p, why string) {
	m.add(Action{Op: OpKeep, Kind: KindPath, Target: p, Component: componentOf(p), Detail: why}, nil)
}

func (m *remover) hidden(s Step) { m.r.steps = append(m.r.steps, removalStep{action: -1, step: s}) }

// covered reports whether a folder removed whole by another action holds p.
func (m *remover) covered(p string) bool {
	for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
		if m.whole[d] && !isRoot(d) {
			return true
		}
	}
	return false
}

// BuildRemoval plans the uninstall of one host from its record: only what
// the record lists, the login user's staging folder and what interrupted
// applies left behind (work folders, *.obsbox-tmp files) is removed. Every
// step tolerates a path that is already gone, so it works from any state
// and twice in a row. Apply takes a component off a host with the same
// removal, scoped to that component (RemovalInput.only).
func BuildRemoval(in RemovalInput) *Removal {
	st := in.State
	m := &remover{
		in:    in,
		r:     &Removal{Host: in.Host, lockFile: in.LockFile},
		rec:   st.Record,
		whole: map[string]bool{},
		kept:  map[string]bool{},
	}
	m.r.kept = m.kept
	if in.Facts == nil {
		in.Facts = &hoststate.RemovalFacts{}
		m.in.Facts = in.Facts
	}
	if in.only != "" {
		m.rec = scoped(st.Record, in.only)
	}
	m.kind = func(p string) hoststate.Kind { return in.Facts.Kinds[p] }
	rec := m.rec

	var dirs, files []string
	for _, p := range sorted(rec.Paths) {
		switch k := m.kind(p); {
		case k == hoststate.KindMissing:
		case !removable(p):
			m.leaveAlone(p, "outside obsbox's folders: left alone")
		case k == hoststate.KindDir:
			dirs = append(dirs, p)
			if inOurRoots(p) {
				m.whole[p] = true
			}
		default:
			files = append(files, p)
		}
	}
	if in.KeepData {
		m.markKept(dirs, files)
	}

	m.units()
	// Unit files and links outside our folders go before daemon-reload.
	for _, p := range sorted(files) {
		if !inOurRoots(p) {
			m.removeFile(p)
		}
	}
	if len(rec.Units) > 0 && in.only == "" {
		// A scoped removal is part of an apply, which reloads systemd itself.
		m.hidden(ResetUnits{Units: sorted(rec.Units)})
	}
	for _, t := range sorted(rec.Trees) {
		if m.kind(t) != hoststate.KindMissing && !m.kept[t] && inOurRoots(t) {
			c, v := path.Base(path.Dir(t)), path.Base(t)
			m.add(Action{Op: OpRemove, Kind: KindBinaries, Target: t, Component: componentOf(t), Detail: c + " " + v},
				RemoveTree{Path: t})
		}
	}
	for _, p := range sorted(files) {
		if inOurRoots(p) && !m.covered(p) && !m.kept[p] {
			m.removeFile(p)
		}
	}
	m.folders(dirs)
	if in.only != "" {
		// Apply: the user stays with the data (its notes say so), and the
		// record is the apply's; leftovers are the lock holder's (LeftoverActions).
		if in.KeepData {
			m.notes(keptByApply)
		}
		return m.r
	}
	m.usersAndGroups()
	m.restoreShadowBackups()
	if in.KeepData {
		m.notes(keptByUninstall)
	}
	m.leftovers()
	m.record()
	return m.r
}

// scoped is the part of rec that belongs to component c.
func scoped(rec *hoststate.Record, c string) *hoststate.Record {
	out := &hoststate.Record{Format: rec.Format, Components: map[string]hoststate.ComponentRecord{}}
	mine := func(p string) bool { return componentOf(p) == c }
	for _, p := range rec.Paths {
		if mine(p) {
			out.Paths = append(out.Paths, p)
		}
	}
	for _, t := range rec.Trees {
		if mine(t) {
			out.Trees = append(out.Trees, t)
		}
	}
	for _, u := range rec.Units {
		if u == catalog.UnitName(c) {
			out.Units = append(out.Units, u)
		}
	}
	return out
}

// markKept keeps every data folder and what it holds, and the recorded
// folders above them.
func (m *remover) markKept(dirs, files []string) {
	for _, p := range append(slices.Clone(dirs), files...) {
		if dataOf(p) == "" {
			continue
		}
		m.kept[p] = true
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if slices.Contains(m.rec.Paths, d) {
				m.kept[d] = true
			}
		}
	}
	// Kept folders cover nothing: leftovers inside them still go.
	for p := range m.kept {
		delete(m.whole, p)
	}
}

func (m *remover) units() {
	for _, u := range sorted(m.rec.Units) {
		us, known := m.in.State.Units[u]
		running := us.ActiveState != "" && us.ActiveState != "inactive"
		if !known || (us.LoadState != "loaded" && !running) {
			continue
		}
		var detail []string
		if us.ActiveState != "" {
			detail = append(detail, us.ActiveState)
		}
		if us.UnitFileState != "" {
			detail = append(detail, us.UnitFileState)
		}
		m.add(Action{Op: OpStop, Kind: KindUnit, Target: u, Component: componentOf(u), Detail: strings.Join(detail, ", ")},
			StopUnit{Unit: u})
	}
}

func (m *remover) removeFile(p string) {
	kind := KindFile
	if m.kind(p) == hoststate.KindLink {
		kind = KindLink
	}
	m.add(Action{Op: OpRemove, Kind: kind, Target: p, Component: componentOf(p)}, RemovePath{Path: p})
}

// folders removes recorded folders deepest first. Folders in our roots go
// whole; others only when empty. The folder holding the record goes last.
func (m *remover) folders(dirs []string) {
	slices.SortFunc(dirs, func(a, z string) int {
		if d := depth(z) - depth(a); d != 0 {
			return d
		}
		return strings.Compare(a, z)
	})
	for _, d := range dirs {
		switch {
		case m.kept[d], under(hoststate.RecordPath, d):
			continue
		case m.covered(d):
			continue
		}
		m.removeDir(d)
	}
}

func (m *remover) removeDir(d string) {
	a := Action{Op: OpRemove, Kind: KindDir, Target: d, Component: componentOf(d)}
	if c := dataOf(d); c != "" {
		a.Kind, a.Detail = KindData, c+" data"
	}
	if m.whole[d] {
		m.add(a, RemoveTree{Path: d})
		return
	}
	a.Detail = "if empty"
	m.add(a, RemoveEmptyDir{Path: d})
}

// usersAndGroups deletes the users and groups obsbox created, and no other:
// a user or group that existed before obsbox is not in the record.
func (m *remover) usersAndGroups() {
	st := m.in.State
	for _, u := range sorted(m.rec.Users) {
		if !st.Users[u] {
			continue
		}
		m.add(Action{Op: OpRemove, Kind: KindUser, Target: u, Component: userComponent(u)},
			DeleteUser{Name: u, LeaveGroup: !slices.Contains(m.rec.Groups, u)})
	}
	for _, g := range sorted(m.rec.Groups) {
		if !st.Groups[g] {
			continue
		}
		m.add(Action{Op: OpRemove, Kind: KindGroup, Target: g, Component: userComponent(g)}, DeleteGroup{Name: g})
	}
}

func userComponent(name string) string {
	for _, c := range component.All() {
		if catalog.UserName(c.Name()) == name {
			return c.Name()
		}
	}
	return ""
}

// restoreShadowBackups puts back shadow's backup files (RestoreShadowBackups).
func (m *remover) restoreShadowBackups() {
	if m.kind(BeforeDir) != hoststate.KindDir {
		return
	}
	m.add(Action{Op: OpRestore, Kind: KindFile, Target: strings.Join(shadowBackups, " "),
		Detail: "as before obsbox's first useradd"}, RestoreShadowBackups{})
}

// notes leaves a note in each kept data folder, saying why it stays.
func (m *remover) notes(why string) {
	for _, c := range component.All() {
		n := c.Name()
		d := catalog.DataDir(n)
		if !m.kept[d] || m.kind(d) != hoststate.KindDir {
			continue
		}
		note := path.Join(d, KeptNoteName)
		if m.in.only != "" {
			// Apply: what it does is write the note; its plan notes say the data stays.
			if m.kind(note) == hoststate.KindMissing {
				m.add(Action{Op: OpCreate, Kind: KindFile, Target: note, Component: n, Detail: n + " data stays here"},
					WriteKeptNote{Component: n, Why: why})
			}
			continue
		}
		a := Action{Op: OpKeep, Kind: KindData, Target: d, Component: n, Detail: n + " data, with a note " + KeptNoteName}
		if m.kind(note) != hoststate.KindMissing {
			m.add(a, nil) // kept before: its note says since when
			continue
		}
		m.add(a, WriteKeptNote{Component: n, Why: why})
	}
}

// leftovers removes what interrupted applies left: temporary files beside
// recorded paths, apply work folders, unpacked tarballs, and the login
// user's staging folder.
func (m *remover) leftovers() {
	for _, t := range m.in.Facts.TmpFiles {
		if m.covered(t) || !removable(t) {
			continue
		}
		m.add(Action{Op: OpRemove, Kind: KindFile, Target: t, Component: componentOf(strings.TrimSuffix(t, ".obsbox-tmp")),
			Detail: "left by an interrupted apply"}, RemoveTree{Path: t})
	}
	for _, d := range m.in.Facts.ApplyDirs {
		if hoststate.IsApplyDir(d) {
			m.add(Action{Op: OpRemove, Kind: KindDir, Target: d, Detail: "left by an interrupted apply"}, RemoveApplyDir{Path: d})
		}
	}
	if m.in.Facts.Staging && m.in.StagingDir != "" {
		m.add(Action{Op: OpRemove, Kind: KindDir, Target: m.in.StagingDir, Detail: "upload staging folder"},
			RemoveTree{Path: m.in.StagingDir})
	}
	if m.in.Facts.Unpacked {
		m.add(Action{Op: OpRemove, Kind: KindDir, Target: hoststate.UnpackedDir, Detail: "tarballs unpacked for an apply that did not finish"},
			RemoveTree{Path: hoststate.UnpackedDir})
	}
}

// record goes last, so an interrupted uninstall can run again. With kept
// data the record stays, listing only what was kept: the next apply then
// knows those folders are obsbox's, and a later uninstall removes them.
func (m *remover) record() {
	kept := &hoststate.Record{Format: hoststate.RecordFormat, Components: map[string]hoststate.ComponentRecord{}}
	for _, p := range m.rec.Paths {
		if m.kept[p] {
			kept.Paths = append(kept.Paths, p)
		}
	}
	if len(kept.Paths) > 0 {
		if bytes.Equal(m.rec.Marshal(), kept.Marshal()) {
			return // already lists only the kept data
		}
		m.add(Action{Op: OpChange, Kind: KindFile, Target: hoststate.RecordPath, Detail: "now lists only the kept data"},
			WriteRecord{Record: kept})
		return
	}
	if m.kind(hoststate.RecordPath) != hoststate.KindMissing {
		m.add(Action{Op: OpRemove, Kind: KindFile, Target: hoststate.RecordPath, Detail: "the record of what obsbox created"},
			RemovePath{Path: hoststate.RecordPath})
	}
	// The folders holding the record, when obsbox made them.
	var holders []string
	for d := path.Dir(hoststate.RecordPath); d != "/"; d = path.Dir(d) {
		if slices.Contains(m.rec.Paths, d) && m.kind(d) == hoststate.KindDir {
			holders = append(holders, d)
		}
	}
	for _, d := range holders {
		m.removeDir(d)
	}
}

// Script returns the root shell script that performs the removal. After
// each action it prints a marker, so a run that stops part way tells what
// it did.
func (r *Removal) Script() string {
	var b strings.Builder
	b.WriteString("set -eu\numask 022\nexport LC_ALL=C\ncd /\n")
	if len(r.steps) > 0 {
		b.WriteString(clearStaleShadowLocks())
	}
	for _, s := range r.steps {
		writeSteps(&b, s.step)
		if s.action >= 0 {
			fmt.Fprintf(&b, "echo '"+doneStepFmt+"'\n", s.action)
		}
	}
	if r.lockFile != "" {
		fmt.Fprintf(&b, "rm -f %s\n", q(r.lockFile))
	}
	fmt.Fprintf(&b, "echo %s\n", q(DoneMarker))
	return b.String()
}

// LeftoverActions remove the work folders that killed applies left. Only
// a run holding the host's lock may use them: runs are exclusive then, so
// no such folder belongs to a live run.
func LeftoverActions(dirs []string) []Action {
	var out []Action
	for _, d := range sorted(dirs) {
		if hoststate.IsApplyDir(d) {
			out = append(out, Action{Op: OpRemove, Kind: KindDir, Target: d,
				Detail: "work folder of an apply that was killed", step: RemoveApplyDir{Path: d}})
		}
	}
	return out
}

// Done returns the actions the script's output says were carried out, the
// notes it printed, and whether it reached its end.
func (r *Removal) Done(out []byte) (done []Action, notes []string, complete bool) {
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case line == DoneMarker:
			complete = true
		case strings.HasPrefix(line, removalMarker+"did "):
			i, err := strconv.Atoi(strings.TrimPrefix(line, removalMarker+"did "))
			if err == nil && i >= 0 && i < len(r.Actions) {
				done = append(done, r.Actions[i])
			}
		case strings.HasPrefix(line, removalMarker+"note "):
			notes = append(notes, strings.TrimPrefix(line, removalMarker+"note "))
		}
	}
	return done, notes, complete
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}
