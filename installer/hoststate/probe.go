package hoststate

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/obsbox/obsbox/installer/shell"
)

// Kind of a path on the host.
type Kind string

const (
	KindMissing Kind = ""
	KindFile    Kind = "file"
	KindDir     Kind = "dir"
	KindLink    Kind = "link"
	KindOther   Kind = "other"
)

// Path is what the probe saw at one path.
type Path struct {
	Kind   Kind
	Mode   uint32
	Owner  string
	Group  string
	Size   int64
	SHA256 string // files under the hashed roots only
	Target string // links only
}

// Unit is what systemd said about one unit.
type Unit struct {
	ActiveState   string // active, inactive, failed, activating, …
	SubState      string
	MainPID       int
	UnitFileState string // enabled, disabled, "" when the unit is unknown
	LoadState     string // loaded, not-found
	NRestarts     int
	// Exe is the binary the main process runs, resolved: it names the version
	// folder actually running, whatever the current link says now.
	Exe string
}

// State is everything obsbox needs to know about a host, read in one round trip.
type State struct {
	Arch    string // uname -m
	Systemd int    // systemd version, 0 when unknown
	Record  *Record
	Paths   map[string]Path
	Users   map[string]bool
	Groups  map[string]bool
	Units   map[string]Unit
	Staged  map[string]bool // file names already complete in the staging folder
	// ApplyDirs are apply work folders (ApplyDirGlob) left on the host by
	// runs that were killed before their cleanup ran.
	ApplyDirs []string
}

// ApplyDirGlob matches the private work folders of apply scripts.
const ApplyDirGlob = "/var/tmp/obsbox-apply.*"

// Path returns what the probe saw at p (KindMissing when nothing).
func (s *State) Path(p string) Path { return s.Paths[p] }

// ProbeRequest says what to look at beyond obsbox's own folders.
type ProbeRequest struct {
	Users      []string
	Units      []string
	StagingDir string
}

// Roots walked by the probe. Folders below depth 2 of /opt and /var/lib are
// version trees and data: their contents are not listed.
var probeRoots = []struct {
	path  string
	depth int
	hash  string // find expression selecting the files to hash
}{
	{"/opt/obsbox", 3, `\( -name .obsbox-bundle -type f -exec sha256sum {} + \)`},
	{"/etc/obsbox", 8, `\( -type f -exec sha256sum {} + \)`},
	{"/var/lib/obsbox", 2, `\( -path ` + RecordPath + ` -exec sha256sum {} + \)`},
}

const (
	markerBegin = "@@obsbox "
)

// Script returns the read-only shell script that prints a host's state.
func (req ProbeRequest) Script() string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...); b.WriteByte('\n') }
	w("export LC_ALL=C")
	w("[ \"$(id -u)\" = 0 ] || { echo \"obsbox needs root here, but runs as uid $(id -u)\" >&2; exit 1; }")
	w("echo '%sarch'; uname -m", markerBegin)
	w("echo '%ssystemd'; systemctl --version 2>/dev/null", markerBegin)
	w("echo '%srecord'; cat %s 2>/dev/null || true", markerBegin, RecordPath)
	// Each find lists its root and hashes, in the same process tree, the
	// files whose content matters; few processes keep a no-op run fast.
	w("echo '%spaths'", markerBegin)
	fmtArg := `'%y|%m|%u|%g|%s|%p|%l\n'`
	for _, r := range probeRoots {
		w("[ -e %s ] && find %s -maxdepth %d -printf %s %s 2>/dev/null", r.path, r.path, r.depth, fmtArg, r.hash)
	}
	w("find /etc/systemd/system -maxdepth 2 -name 'obsbox-*' -printf %s \\( -type f -name '*.service' -exec sha256sum {} + \\) 2>/dev/null", fmtArg)
	w("echo '%susers'", markerBegin)
	if len(req.Users) > 0 {
		w("getent passwd %s", shell.Join(req.Users...))
	}
	w("echo '%sgroups'", markerBegin)
	if len(req.Users) > 0 {
		w("getent group %s", shell.Join(req.Users...))
	}
	w("echo '%sunits'", markerBegin)
	if len(req.Units) > 0 {
		// The running binaries are read in one find after all MainPIDs are known.
		w(`systemctl show -p Id,LoadState,ActiveState,SubState,MainPID,UnitFileState,NRestarts %s 2>/dev/null | { pids=; while IFS= read -r l; do echo "$l"; case "$l" in MainPID=0) ;; MainPID=*) pids="$pids /proc/${l#MainPID=}/exe";; esac; done; echo '%sexes'; [ -n "$pids" ] && find $pids -maxdepth 0 -printf '%%p %%l
' 2>/dev/null; true; }`, shell.Join(req.Units...), markerBegin)
	}
	w("echo '%sstaged'", markerBegin)
	if req.StagingDir != "" {
		w("ls -1 %s 2>/dev/null", shell.Quote(req.StagingDir))
	}
	w("echo '%sapplydirs'", markerBegin)
	w("for d in %s; do [ -d \"$d\" ] && [ ! -L \"$d\" ] && echo \"$d\"; done; true", ApplyDirGlob)
	w("echo '%send'", markerBegin)
	w("true")
	return b.String()
}

// ParseProbe reads the script's output.
func ParseProbe(out []byte) (*State, error) {
	s := &State{
		Paths:  map[string]Path{},
		Users:  map[string]bool{},
		Groups: map[string]bool{},
		Units:  map[string]Unit{},
		Staged: map[string]bool{},
	}
	var section string
	var record bytes.Buffer
	var unit Unit
	var unitID string
	flushUnit := func() {
		if unitID != "" {
			s.Units[unitID] = unit
		}
		unit, unitID = Unit{}, ""
	}
	seenEnd := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, markerBegin) {
			if section == "units" {
				flushUnit()
			}
			section = strings.TrimPrefix(line, markerBegin)
			if section == "end" {
				seenEnd = true
			}
			continue
		}
		switch section {
		case "arch":
			s.Arch = strings.TrimSpace(line)
		case "systemd":
			if f := strings.Fields(line); s.Systemd == 0 && len(f) >= 2 && f[0] == "systemd" {
				s.Systemd, _ = strconv.Atoi(f[1])
			}
		case "record":
			record.WriteString(line)
			record.WriteByte('\n')
		case "paths":
			if sum, name, ok := strings.Cut(line, "  "); ok && len(sum) == 64 && !strings.Contains(sum, "|") {
				p := s.Paths[name]
				p.SHA256 = sum
				s.Paths[name] = p
				continue
			}
			p, name, err := parsePathLine(line)
			if err != nil {
				return nil, err
			}
			p.SHA256 = s.Paths[name].SHA256 // a hash may come first
			s.Paths[name] = p
		case "users":
			if name, _, _ := strings.Cut(line, ":"); name != "" {
				s.Users[name] = true
			}
		case "groups":
			if name, _, _ := strings.Cut(line, ":"); name != "" {
				s.Groups[name] = true
			}
		case "units":
			if line == "" {
				flushUnit()
				continue
			}
			k, v, _ := strings.Cut(line, "=")
			switch k {
			case "Id":
				unitID = v
			case "LoadState":
				unit.LoadState = v
			case "ActiveState":
				unit.ActiveState = v
			case "SubState":
				unit.SubState = v
			case "MainPID":
				unit.MainPID, _ = strconv.Atoi(v)
			case "UnitFileState":
				unit.UnitFileState = v
			case "NRestarts":
				unit.NRestarts, _ = strconv.Atoi(v)
			}
		case "exes":
			// "/proc/PID/exe TARGET"
			proc, exe, ok := strings.Cut(line, " ")
			pid, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(proc, "/proc/"), "/exe"))
			for name, u := range s.Units {
				if ok && pid != 0 && u.MainPID == pid {
					u.Exe = strings.TrimSuffix(exe, " (deleted)")
					s.Units[name] = u
				}
			}
		case "applydirs":
			if line != "" {
				s.ApplyDirs = append(s.ApplyDirs, line)
			}
		case "staged":
			if line != "" && !strings.HasSuffix(line, ".part") {
				s.Staged[line] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !seenEnd {
		return nil, fmt.Errorf("the state probe's output ended early")
	}
	rec, err := ParseRecord(bytes.TrimSpace(record.Bytes()))
	if err != nil {
		return nil, err
	}
	s.Record = rec
	return s, nil
}

func parsePathLine(line string) (Path, string, error) {
	f := strings.SplitN(line, "|", 7)
	if len(f) != 7 {
		return Path{}, "", fmt.Errorf("unexpected probe line %q", line)
	}
	var p Path
	switch f[0] {
	case "f":
		p.Kind = KindFile
	case "d":
		p.Kind = KindDir
	case "l":
		p.Kind = KindLink
		p.Target = f[6]
	default:
		p.Kind = KindOther
	}
	mode, err := strconv.ParseUint(f[1], 8, 32)
	if err != nil {
		return Path{}, "", fmt.Errorf("unexpected mode in probe line %q", line)
	}
	p.Mode = uint32(mode)
	p.Owner, p.Group = f[2], f[3]
	p.Size, _ = strconv.ParseInt(f[4], 10, 64)
	return p, f[5], nil
}
