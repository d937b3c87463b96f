package plan

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
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

// applyTmpGlob matches the work folders of apply scripts (see scriptHeader);
// one killed before its trap ran leaves its folder behind.
const applyTmpGlob = hoststate.ApplyDirGlob

// RemovalFacts is what the removal probe saw beyond the state probe: which
// recorded paths exist, and what an interrupted apply may have left.
type RemovalFacts struct {
	Kinds     map[string]hoststate.Kind // existing paths among those asked about
	ApplyDirs []string                  // apply work folders left by killed runs
	TmpFiles  []string                  // *.obsbox-tmp next to recorded paths or inside recorded folders
	Staging   bool                      // the login user's staging folder exists
}

// RemovalInput is what BuildRemoval needs for one host.
type RemovalInput struct {
	Host       string
	State      *hoststate.State
	Facts      *RemovalFacts
	StagingDir string
	KeepData   bool
	// LockFile is the run lock uninstall holds; its script deletes it last,
	// so the host is left as obsbox found it.
	LockFile string
}

// Removal is the uninstall of one host: the actions shown to the user and
// the root script that performs them, in the same order.
type Removal struct {
	Host    string
	Actions []Action

	lockFile string

	steps []step
}

// step is a part of the removal script; action is its index in Actions, or
// -1 for bookkeeping the user is not shown (daemon-reload).
type step struct {
	action int
	sh     []string
}

// Empty reports whether the script would change nothing.
func (r *Removal) Empty() bool {
	for _, s := range r.steps {
		if len(s.sh) > 0 {
			return false
		}
	}
	return true
}

const (
	removalMarker = "@@obsbox "
	doneStepFmt   = "@@obsbox did %d"
)

// The removal probe prints NUL-terminated fields, like the state probe:
// names of leftovers are chosen by service users (*.obsbox-tmp in data
// folders) or anyone (/var/tmp), may hold newlines, and stand only at
// positions a tag gave them.
const (
	tagKind     = "@@obsbox kind"     // + find's %y, the path
	tagTmp      = "@@obsbox tmp"      // + a *.obsbox-tmp path
	tagApplyDir = "@@obsbox applydir" // + an apply work folder
	tagStaging  = "@@obsbox staging"  // the staging folder exists
	tagEnd      = "@@obsbox end"
)

// RemovalProbe returns the read-only script whose output ParseRemovalProbe
// reads: the kind of every recorded path, the record, the saved shadow
// backups, and the leftovers of interrupted applies.
func RemovalProbe(rec *hoststate.Record, stagingDir string) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...); b.WriteByte('\n') }
	w("export LC_ALL=C")
	asked := askedPaths(rec)
	w("find %s -maxdepth 0 -printf '%s\\0%%y\\0%%p\\0' 2>/dev/null; true", quoteAll(asked), tagKind)
	w("for p in %s; do { [ -e \"$p.obsbox-tmp\" ] || [ -L \"$p.obsbox-tmp\" ]; } && printf '%s\\000%%s\\000' \"$p.obsbox-tmp\"; done; true", quoteAll(asked), tagTmp)
	if dirs := recordedDirs(rec); len(dirs) > 0 {
		w("for d in %s; do [ -d \"$d\" ] && [ ! -L \"$d\" ] && find \"$d\" -mindepth 1 -maxdepth 1 -name '*.obsbox-tmp' -printf '%s\\0%%p\\0'; done; true", quoteAll(dirs), tagTmp)
	}
	w("for d in %s; do [ -d \"$d\" ] && [ ! -L \"$d\" ] && [ \"$(stat -c %%u \"$d\")\" = 0 ] && printf '%s\\000%%s\\000' \"$d\"; done; true", applyTmpGlob, tagApplyDir)
	if stagingDir != "" {
		w("[ -d %[1]s ] && [ ! -L %[1]s ] && printf '%[2]s\\000'; true", q(stagingDir), tagStaging)
	}
	w("printf '%s\\000'", tagEnd)
	return b.String()
}

// askedPaths are the paths whose existence the removal depends on.
func askedPaths(rec *hoststate.Record) []string {
	seen := map[string]bool{}
	var out []string
	fixed := []string{hoststate.RecordPath, BeforeDir}
	for _, c := range component.All() {
		fixed = append(fixed, path.Join(catalog.DataDir(c.Name()), KeptNoteName))
	}
	for _, list := range [][]string{rec.Trees, rec.Paths, fixed} {
		for _, p := range list {
			if !seen[p] && path.IsAbs(p) {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// recordedDirs are the recorded paths that may be folders (all but trees,
// which go whole, and files by their name).
func recordedDirs(rec *hoststate.Record) []string {
	var out []string
	for _, p := range rec.Paths {
		if path.IsAbs(p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func quoteAll(ps []string) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = q(p)
	}
	return strings.Join(out, " ")
}

// ParseRemovalProbe reads RemovalProbe's output.
func ParseRemovalProbe(out []byte) (*RemovalFacts, error) {
	f := &RemovalFacts{Kinds: map[string]hoststate.Kind{}}
	ended := fmt.Errorf("the removal probe's output ended early")
	// Only fields whose NUL arrived count; a cut-off tail is dropped.
	last := bytes.LastIndexByte(out, 0)
	if last < 0 {
		return nil, ended
	}
	fields := strings.Split(string(out[:last]), "\x00")
	tmp := map[string]bool{}
	seenEnd := false
	for i := 0; i < len(fields); {
		tag := fields[i]
		i++
		n := map[string]int{tagKind: 2, tagTmp: 1, tagApplyDir: 1, tagStaging: 0, tagEnd: 0}
		want, ok := n[tag]
		if !ok || seenEnd {
			return nil, fmt.Errorf("unexpected field %q in the removal probe's output", clip(tag))
		}
		if i+want > len(fields) {
			return nil, ended
		}
		v := fields[i : i+want]
		i += want
		switch tag {
		case tagKind:
			k := map[string]hoststate.Kind{"f": hoststate.KindFile, "d": hoststate.KindDir, "l": hoststate.KindLink}[v[0]]
			if k == hoststate.KindMissing {
				k = hoststate.KindOther
			}
			f.Kinds[v[1]] = k
		case tagTmp:
			if !tmp[v[0]] {
				tmp[v[0]] = true
				f.TmpFiles = append(f.TmpFiles, v[0])
			}
		case tagApplyDir:
			if IsApplyDir(v[0]) {
				f.ApplyDirs = append(f.ApplyDirs, v[0])
			}
		case tagStaging:
			f.Staging = true
		case tagEnd:
			seenEnd = true
		}
	}
	if !seenEnd {
		return nil, ended
	}
	sort.Strings(f.TmpFiles)
	sort.Strings(f.ApplyDirs)
	return f, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

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

// add appends an action and the shell that performs it; a kept thing's
// action has no shell but is still reported done when the script passes it.
func (m *remover) add(a Action, sh ...string) {
	m.r.Actions = append(m.r.Actions, a)
	m.r.steps = append(m.r.steps, step{action: len(m.r.Actions) - 1, sh: sh})
}

func (m *remover) leaveAlone(p, why string) {
	m.add(Action{Op: OpKeep, Kind: "path", Target: p, Component: componentOf(p), Detail: why})
}

func (m *remover) hidden(sh ...string) { m.r.steps = append(m.r.steps, step{action: -1, sh: sh}) }

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
// and twice in a row.
func BuildRemoval(in RemovalInput) *Removal {
	st := in.State
	m := &remover{
		in:    in,
		r:     &Removal{Host: in.Host, lockFile: in.LockFile},
		rec:   st.Record,
		whole: map[string]bool{},
		kept:  map[string]bool{},
	}
	if in.Facts == nil {
		in.Facts = &RemovalFacts{}
		m.in.Facts = in.Facts
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
	if len(rec.Units) > 0 {
		sh := []string{"systemctl daemon-reload"}
		for _, u := range sorted(rec.Units) {
			sh = append(sh, fmt.Sprintf("systemctl reset-failed %s 2>/dev/null || true", q(u)))
		}
		m.hidden(sh...)
	}
	for _, t := range sorted(rec.Trees) {
		if m.kind(t) != hoststate.KindMissing && !m.kept[t] && inOurRoots(t) {
			c, v := path.Base(path.Dir(t)), path.Base(t)
			m.add(Action{Op: OpRemove, Kind: "binaries", Target: t, Component: componentOf(t), Detail: c + " " + v},
				"rm -rf --one-file-system "+q(t))
		}
	}
	for _, p := range sorted(files) {
		if inOurRoots(p) && !m.covered(p) && !m.kept[p] {
			m.removeFile(p)
		}
	}
	m.folders(dirs)
	m.usersAndGroups()
	m.restoreShadowBackups()
	if in.KeepData {
		m.notes()
	}
	m.leftovers()
	m.record()
	return m.r
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
		m.add(Action{Op: OpStop, Kind: "unit", Target: u, Component: componentOf(u), Detail: strings.Join(detail, ", ")},
			// disable fails when the unit file is already gone; stop still works then.
			fmt.Sprintf("systemctl disable --now --quiet %[1]s 2>/dev/null || systemctl stop %[1]s 2>/dev/null || true", q(u)),
			fmt.Sprintf("if systemctl is-active --quiet %[1]s; then echo 'unit %[2]s is still active after stop' >&2; exit 1; fi", q(u), u))
	}
}

func (m *remover) removeFile(p string) {
	kind := "file"
	if m.kind(p) == hoststate.KindLink {
		kind = "link"
	}
	m.add(Action{Op: OpRemove, Kind: kind, Target: p, Component: componentOf(p)}, "rm -f "+q(p))
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
	a := Action{Op: OpRemove, Kind: "dir", Target: d, Component: componentOf(d)}
	if c := dataOf(d); c != "" {
		a.Kind, a.Detail = "data", c+" data"
	}
	if m.whole[d] {
		m.add(a, "rm -rf --one-file-system "+q(d))
		return
	}
	a.Detail = "if empty"
	m.add(a, fmt.Sprintf("[ ! -d %[1]s ] || rmdir --ignore-fail-on-non-empty %[1]s", q(d)))
}

// usersAndGroups deletes the users and groups obsbox created, and no other:
// a user or group that existed before obsbox is not in the record.
func (m *remover) usersAndGroups() {
	st := m.in.State
	for _, u := range sorted(m.rec.Users) {
		if !st.Users[u] {
			continue
		}
		sh := []string{}
		if !slices.Contains(m.rec.Groups, u) {
			// userdel also deletes the user's primary group when it bears the
			// user's name; that group is not ours here, so move the user off it.
			sh = append(sh, fmt.Sprintf("if getent passwd %[1]s >/dev/null && [ \"$(id -gn %[1]s)\" = %[1]s ]; then usermod -g 0 %[1]s; fi", q(u)))
		}
		sh = append(sh, fmt.Sprintf("if getent passwd %[1]s >/dev/null; then userdel %[1]s; fi", q(u)))
		m.add(Action{Op: OpRemove, Kind: "user", Target: u, Component: userComponent(u)}, sh...)
	}
	for _, g := range sorted(m.rec.Groups) {
		if !st.Groups[g] {
			continue
		}
		m.add(Action{Op: OpRemove, Kind: "group", Target: g, Component: userComponent(g)},
			fmt.Sprintf("if getent group %[1]s >/dev/null; then groupdel %[1]s; fi", q(g)))
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

// restoreShadowBackups puts back the backup files useradd and userdel
// rewrote, as they were before obsbox's first useradd — but only when the
// user database itself is back to what it was then: otherwise someone else
// changed it since, and the backups userdel wrote are the honest ones.
func (m *remover) restoreShadowBackups() {
	if m.kind(BeforeDir) != hoststate.KindDir {
		return
	}
	bd := q(BeforeDir)
	var sh []string
	sh = append(sh, fmt.Sprintf("if (cd / && sha256sum --status -c %s/live.sha256) 2>/dev/null; then", bd))
	for _, f := range shadowBackups {
		n := path.Base(f)
		sh = append(sh, fmt.Sprintf("  if [ -f %[1]s/%[2]s ]; then cp -p %[1]s/%[2]s %[3]s && mv -f %[3]s %[4]s; elif [ -f %[1]s/%[2]s.absent ]; then rm -f %[4]s; fi",
			bd, q(n), q(f+".obsbox-tmp"), q(f)))
	}
	sh = append(sh,
		"else",
		"  echo '"+removalMarker+"note the user database changed since obsbox first created users: shadow backup files left as userdel wrote them'",
		"fi",
		"rm -rf "+bd)
	m.add(Action{Op: OpRestore, Kind: "file", Target: strings.Join(shadowBackups, " "),
		Detail: "as before obsbox's first useradd"}, sh...)
}

// notes leaves a note in each kept data folder.
func (m *remover) notes() {
	for _, c := range component.All() {
		n := c.Name()
		d := catalog.DataDir(n)
		if !m.kept[d] || m.kind(d) != hoststate.KindDir {
			continue
		}
		note := path.Join(d, KeptNoteName)
		a := Action{Op: OpKeep, Kind: "data", Target: d, Component: n, Detail: n + " data, with a note " + KeptNoteName}
		if m.kind(note) != hoststate.KindMissing {
			m.add(a) // kept before: its note says since when
			continue
		}
		text := fmt.Sprintf(`This folder holds %[1]s.
obsbox installed %[2]s on this host; "obsbox uninstall --keep-data" removed everything
else on $(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ) and kept this folder.
Its files are owned by uid $(stat -c %%u %[4]s) and gid $(stat -c %%g %[4]s), the ids the system
user %[3]s had then.
The next "obsbox apply" that installs %[2]s here takes this folder over and
deletes this note; "obsbox uninstall" without --keep-data deletes the folder.
`, catalog.Get(n).DataDescription, n, catalog.UserName(n), q(d))
		m.add(a,
			fmt.Sprintf("cat > %s <<OBSBOX_NOTE", q(note+".obsbox-tmp")),
			strings.TrimRight(text, "\n"),
			"OBSBOX_NOTE",
			fmt.Sprintf("chmod 644 %[1]s && mv -f %[1]s %[2]s", q(note+".obsbox-tmp"), q(note)))
	}
}

// leftovers removes what interrupted applies left: temporary files beside
// recorded paths, apply work folders, and the login user's staging folder.
func (m *remover) leftovers() {
	for _, t := range m.in.Facts.TmpFiles {
		if m.covered(t) || !removable(t) {
			continue
		}
		m.add(Action{Op: OpRemove, Kind: "file", Target: t, Component: componentOf(strings.TrimSuffix(t, ".obsbox-tmp")),
			Detail: "left by an interrupted apply"}, "rm -rf --one-file-system "+q(t))
	}
	for _, d := range m.in.Facts.ApplyDirs {
		if IsApplyDir(d) {
			m.add(Action{Op: OpRemove, Kind: "dir", Target: d, Detail: "left by an interrupted apply"}, removeApplyDir(d))
		}
	}
	if m.in.Facts.Staging && m.in.StagingDir != "" {
		m.add(Action{Op: OpRemove, Kind: "dir", Target: m.in.StagingDir, Detail: "upload staging folder"},
			"rm -rf --one-file-system "+q(m.in.StagingDir))
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
		var b strings.Builder
		writeRecord(&b, kept)
		m.add(Action{Op: OpChange, Kind: "file", Target: hoststate.RecordPath, Detail: "now lists only the kept data"},
			strings.TrimRight(b.String(), "\n"))
		return
	}
	if m.kind(hoststate.RecordPath) != hoststate.KindMissing {
		m.add(Action{Op: OpRemove, Kind: "file", Target: hoststate.RecordPath, Detail: "the record of what obsbox created"},
			"rm -f "+q(hoststate.RecordPath))
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
		for _, line := range s.sh {
			b.WriteString(line)
			b.WriteByte('\n')
		}
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

// applyDirName is what mktemp makes of ApplyDirGlob's XXXXXX.
var applyDirName = regexp.MustCompile(`^/var/tmp/obsbox-apply\.[A-Za-z0-9]{6}$`)

// IsApplyDir reports whether p is named like an apply script's work folder.
func IsApplyDir(p string) bool { return applyDirName.MatchString(p) }

// removeApplyDir deletes an apply work folder only when it is obsbox's: a
// real folder (no link is followed) owned by root, who alone made it.
func removeApplyDir(d string) string {
	return fmt.Sprintf(`if [ -d %[1]s ] && [ ! -L %[1]s ] && [ "$(stat -c %%u %[1]s)" = 0 ]; then rm -rf --one-file-system %[1]s; fi`, q(d))
}

// LeftoverActions remove the work folders that killed applies left. Only
// a run holding the host's lock may use them: runs are exclusive then, so
// no such folder belongs to a live run.
func LeftoverActions(dirs []string) []Action {
	var out []Action
	for _, d := range sorted(dirs) {
		if IsApplyDir(d) {
			out = append(out, Action{Op: OpRemove, Kind: "dir", Target: d,
				Detail: "work folder of an apply that was killed", sh: []string{removeApplyDir(d)}})
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
