package hoststate

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/obsbox/obsbox/installer/shell"
)

// RemovalFacts is what the removal probe saw beyond the state probe: which
// recorded paths exist, and what an interrupted apply may have left.
type RemovalFacts struct {
	Kinds     map[string]Kind // existing paths among those asked about
	ApplyDirs []string        // apply work folders left by killed runs
	TmpFiles  []string        // *.obsbox-tmp next to recorded paths or inside recorded folders
	Staging   bool            // the login user's staging folder exists
	Unpacked  bool            // root's UnpackedDir exists (left by an apply that did not finish)
}

// RemovalRequest says what the removal probe looks at: the record's paths
// and trees, the record itself, Paths (what the removal also depends on:
// kept-data notes, saved shadow backups), and the staging folder.
type RemovalRequest struct {
	Record     *Record
	StagingDir string
	Paths      []string
}

// The removal probe's records (frame.go has the format). Names of
// leftovers are chosen by service users (*.obsbox-tmp in data folders) or
// anyone (/var/tmp), may hold newlines, and stand only where a tag put them.
const (
	tagKind        = "@@obsbox kind"        // + find's %y, the path
	tagTmp         = "@@obsbox tmp"         // + a *.obsbox-tmp path
	tagStaging     = "@@obsbox staging"     // the staging folder exists
	tagUnpackedDir = "@@obsbox unpackeddir" // UnpackedDir exists, root's own
	// tagApplyDir (probe.go): + an apply work folder
)

// Script returns the read-only script whose output ParseRemoval reads.
func (req RemovalRequest) Script() string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...); b.WriteByte('\n') }
	w("export LC_ALL=C")
	asked := req.asked()
	w("find %s -maxdepth 0 -printf '%s\\0%%y\\0%%p\\0' 2>/dev/null; true", shell.Join(asked...), tagKind)
	w("for p in %s; do { [ -e \"$p.obsbox-tmp\" ] || [ -L \"$p.obsbox-tmp\" ]; } && printf '%s\\000%%s\\000' \"$p.obsbox-tmp\"; done; true", shell.Join(asked...), tagTmp)
	if dirs := recordedDirs(req.Record); len(dirs) > 0 {
		w("for d in %s; do [ -d \"$d\" ] && [ ! -L \"$d\" ] && find \"$d\" -mindepth 1 -maxdepth 1 -name '*.obsbox-tmp' -printf '%s\\0%%p\\0'; done; true", shell.Join(dirs...), tagTmp)
	}
	w("for d in %s; do [ -d \"$d\" ] && [ ! -L \"$d\" ] && [ \"$(stat -c %%u \"$d\")\" = 0 ] && printf '%s\\000%%s\\000' \"$d\"; done; true", ApplyDirGlob, tagApplyDir)
	if req.StagingDir != "" {
		w("[ -d %[1]s ] && [ ! -L %[1]s ] && printf '%[2]s\\000'; true", shell.Quote(req.StagingDir), tagStaging)
	}
	w("[ -d %[1]s ] && [ ! -L %[1]s ] && [ \"$(stat -c %%u %[1]s)\" = 0 ] && printf '%[2]s\\000'; true", shell.Quote(UnpackedDir), tagUnpackedDir)
	w("%s", printEnd)
	return b.String()
}

// asked are the paths whose existence the removal depends on.
func (req RemovalRequest) asked() []string {
	seen := map[string]bool{}
	var out []string
	fixed := append([]string{RecordPath}, req.Paths...)
	for _, list := range [][]string{req.Record.Trees, req.Record.Paths, fixed} {
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
func recordedDirs(rec *Record) []string {
	var out []string
	for _, p := range rec.Paths {
		if path.IsAbs(p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// ParseRemoval reads the output of RemovalRequest.Script.
func ParseRemoval(out []byte) (*RemovalFacts, error) {
	f := &RemovalFacts{Kinds: map[string]Kind{}}
	tmp := map[string]bool{}
	arity := map[string]int{tagKind: 2, tagTmp: 1, tagApplyDir: 1, tagStaging: 0, tagUnpackedDir: 0}
	err := readTagged(out, "the removal probe", arity, nil, func(tag string, v []string) error {
		switch tag {
		case tagKind:
			f.Kinds[v[1]] = kindOf(v[0])
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
		case tagUnpackedDir:
			f.Unpacked = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(f.TmpFiles)
	sort.Strings(f.ApplyDirs)
	return f, nil
}

// applyDirName is what mktemp makes of ApplyDirGlob's XXXXXX.
var applyDirName = regexp.MustCompile(`^/var/tmp/obsbox-apply\.[A-Za-z0-9]{6}$`)

// IsApplyDir reports whether p is named like an apply script's work folder.
func IsApplyDir(p string) bool { return applyDirName.MatchString(p) }
