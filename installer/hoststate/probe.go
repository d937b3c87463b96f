package hoststate

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/obsbox/obsbox/installer/catalog"
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
	// Unpacked are the sha256s of tarballs whose verified trees wait in
	// UnpackedDir (streamed by a run that did not get to use them).
	Unpacked map[string]bool
	// HostCert is the host's certificate (catalog.HostCertPath), public.
	HostCert []byte
	// KeyPairCerts maps each component's key pair file to the sha256 of
	// the certificate part (its key is never read).
	KeyPairCerts map[string]string
	// WebHashes maps each web config to the bcrypt hash of the web user in
	// it, so a run that knows the password keeps the hash.
	WebHashes map[string]string
	// OpenSSL: the host can make a key and a certificate request.
	OpenSSL bool
	// ApplyDirs are apply work folders (ApplyDirGlob) left on the host by
	// runs that were killed before their cleanup ran.
	ApplyDirs []string
}

// ApplyDirGlob matches the private work folders of apply scripts.
const ApplyDirGlob = "/var/tmp/obsbox-apply.*"

// UnpackedDir is root's folder of tarballs unpacked as they streamed in
// (transport.Conn.Unpack): <sha256>/ is a whole, verified tree; .part.*
// one still arriving. Only root can open it; apply empties it when done.
const UnpackedDir = "/var/tmp/obsbox-unpacked"

// Path returns what the probe saw at p (KindMissing when nothing).
func (s *State) Path(p string) Path { return s.Paths[p] }

// ProbeRequest says what to look at beyond obsbox's own folders.
type ProbeRequest struct {
	Users      []string
	Units      []string
	StagingDir string
}

// layout is where the probe looks. Tests point it at a temporary tree to
// run the real script; hosts always get hostLayout.
type layout struct {
	opt, etc, lib string // obsbox's folders
	record        string // the record, inside lib
	units         string // systemd's unit folder
	applyParent   string // the folder holding apply work folders
	unpacked      string // UnpackedDir
	needRoot      bool
}

var hostLayout = layout{
	opt: catalog.OptRoot, etc: catalog.ConfigRoot, lib: catalog.DataRoot, record: RecordPath,
	units: catalog.UnitDir, applyParent: path.Dir(ApplyDirGlob), unpacked: UnpackedDir, needRoot: true,
}

// The state probe's records (frame.go has the format).
const (
	tagArch     = "@@obsbox arch"     // + uname -m
	tagSystemd  = "@@obsbox systemd"  // + systemctl --version
	tagRecord   = "@@obsbox record"   // + the record's bytes
	tagPath     = "@@obsbox path"     // + kind, mode, owner, group, size, path, link target
	tagUsers    = "@@obsbox users"    // + getent passwd
	tagGroups   = "@@obsbox groups"   // + getent group
	tagUnits    = "@@obsbox units"    // + systemctl show
	tagExe      = "@@obsbox exe"      // + /proc/PID/exe, its target
	tagStaged   = "@@obsbox staged"   // + a name in the staging folder
	tagUnpacked = "@@obsbox unpacked" // + a tree's name in UnpackedDir
	tagApplyDir = "@@obsbox applydir" // + an apply work folder
	tagHostCert = "@@obsbox hostcert" // + the host certificate's PEM
	tagKeyPair  = "@@obsbox keypair"  // + a key pair file, the sha256 of its certificate part
	tagWebHash  = "@@obsbox webhash"  // + a web config, the web user's hash in it
	tagOpenSSL  = "@@obsbox openssl"  // + the path of openssl, or nothing
	// sha256sum -z writes its own records, "HASH  NAME", unescaped; they
	// stand where a tag is read and are told apart by their shape.
)

// pathFields is what find prints for each path.
const pathFields = `'` + tagPath + `\0%y\0%m\0%u\0%g\0%s\0%p\0%l\0'`

// Script returns the read-only shell script that prints a host's state.
func (req ProbeRequest) Script() string { return req.script(hostLayout) }

func (req ProbeRequest) script(l layout) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...); b.WriteByte('\n') }
	// text prints a tag, then a command's text output as one field.
	text := func(tag, cmd string) { w("printf '%s\\000'; %s; printf '\\000'", tag, cmd) }
	w("export LC_ALL=C")
	if l.needRoot {
		w("[ \"$(id -u)\" = 0 ] || { echo \"obsbox needs root here, but runs as uid $(id -u)\" >&2; exit 1; }")
	}
	text(tagArch, "uname -m")
	text(tagSystemd, "systemctl --version 2>/dev/null")
	// A damaged record holding NUL must not end its field early; \001 keeps
	// it damaged (JSON allows neither) instead of making it valid.
	text(tagRecord, fmt.Sprintf("{ cat %s 2>/dev/null || true; } | tr '\\000' '\\001'", shell.Quote(l.record)))
	// Folders below depth 2 of /opt and /var/lib are version trees and
	// data: their contents are not listed. Each find lists its root and
	// hashes, in the same process tree, the files whose content matters;
	// few processes keep a no-op run fast.
	roots := []struct {
		path  string
		depth int
		hash  string // find expression selecting the files to hash
	}{
		{l.opt, 3, `-name .obsbox-bundle -type f`},
		{l.etc, 8, `-type f`},
		{l.lib, 2, `-path ` + shell.Quote(l.record)},
		// The files obsbox writes for node_exporter's textfile collector
		// (the host certificate's validity) sit one level deeper.
		{path.Join(l.lib, catalog.NodeExporter, "textfile"), 1, `-name 'obsbox-*' -type f`},
	}
	for _, r := range roots {
		w("[ -e %[1]s ] && find %[1]s -maxdepth %[2]d -printf %[3]s \\( %[4]s -exec sha256sum -z {} + \\) 2>/dev/null",
			shell.Quote(r.path), r.depth, pathFields, r.hash)
	}
	w("find %s -maxdepth 2 -name 'obsbox-*' -printf %s \\( -type f -name '*.service' -exec sha256sum -z {} + \\) 2>/dev/null",
		shell.Quote(l.units), pathFields)
	text(tagUsers, getent("passwd", req.Users))
	text(tagGroups, getent("group", req.Users))
	if len(req.Units) > 0 {
		// The running binaries are read in one find after all MainPIDs are known.
		w(`printf '%s\000'; systemctl show -p Id,LoadState,ActiveState,SubState,MainPID,UnitFileState,NRestarts %s 2>/dev/null | { pids=; while IFS= read -r l; do echo "$l"; case "$l" in MainPID=0) ;; MainPID=*) pids="$pids /proc/${l#MainPID=}/exe";; esac; done; printf '\000'; [ -n "$pids" ] && find $pids -maxdepth 0 -printf '%s\0%%p\0%%l\0' 2>/dev/null; true; }`,
			tagUnits, shell.Join(req.Units...), tagExe)
	} else {
		text(tagUnits, "true")
	}
	if req.StagingDir != "" {
		w("[ -d %[1]s ] && find %[1]s -mindepth 1 -maxdepth 1 -printf '%[2]s\\0%%f\\0' 2>/dev/null",
			shell.Quote(req.StagingDir), tagStaged)
	}
	// Trees only root could have made: the folder must be root's own.
	if l.unpacked != "" {
		w("[ -d %[1]s ] && [ ! -L %[1]s ] && [ -O %[1]s ] && find %[1]s -mindepth 1 -maxdepth 1 -type d -printf '%[2]s\\0%%f\\0' 2>/dev/null",
			shell.Quote(l.unpacked), tagUnpacked)
	}
	// TLS: the public certificate, what each key pair holds (its
	// certificate part only), and the hash of the web user.
	text(tagHostCert, fmt.Sprintf("head -c 65536 %s 2>/dev/null || true", shell.Quote(path.Join(l.etc, catalog.HostTLSDirName, catalog.HostCertName))))
	w("for f in %s/*/%s; do [ -f \"$f\" ] && [ ! -L \"$f\" ] && printf '%s\\000%%s\\000%%s\\000' \"$f\" \"$(sed -n '/^-----BEGIN CERTIFICATE-----$/,/^-----END CERTIFICATE-----$/p' \"$f\" | sha256sum | cut -c1-64)\"; done",
		shell.Quote(l.etc), catalog.KeyPairRel, tagKeyPair)
	w("for f in %s/*/%s; do [ -f \"$f\" ] && [ ! -L \"$f\" ] && printf '%s\\000%%s\\000%%s\\000' \"$f\" \"$(sed -n %s \"$f\" | head -n 1)\"; done",
		shell.Quote(l.etc), catalog.WebConfigName, tagWebHash, shell.Quote(`s/^ *`+catalog.WebUser+`: *//p`))
	text(tagOpenSSL, "command -v openssl || true")
	// Root-owned only: a folder of that name made by anyone else is not ours.
	w("for d in %s/%s; do [ -d \"$d\" ] && [ ! -L \"$d\" ] && [ -O \"$d\" ] && printf '%s\\000%%s\\000' \"$d\"; done",
		shell.Quote(l.applyParent), path.Base(ApplyDirGlob), tagApplyDir)
	w("%s", printEnd)
	w("true")
	return b.String()
}

func getent(db string, names []string) string {
	if len(names) == 0 {
		return "true"
	}
	return "getent " + db + " " + shell.Join(names...)
}

// ParseProbe reads the script's output.
func ParseProbe(out []byte) (*State, error) {
	s := &State{
		Paths:  map[string]Path{},
		Users:  map[string]bool{},
		Groups: map[string]bool{},
		Units:  map[string]Unit{},
		Staged: map[string]bool{},

		Unpacked:     map[string]bool{},
		KeyPairCerts: map[string]string{},
		WebHashes:    map[string]string{},
	}
	var record string
	exes := map[int]string{}
	arity := map[string]int{tagArch: 1, tagSystemd: 1, tagRecord: 1, tagUsers: 1, tagGroups: 1, tagUnits: 1,
		tagStaged: 1, tagUnpacked: 1, tagApplyDir: 1, tagExe: 2, tagPath: 7, tagHostCert: 1, tagKeyPair: 2, tagWebHash: 2, tagOpenSSL: 1}
	hash := func(f string) bool {
		sum, name, ok := hashRecord(f)
		if ok {
			p := s.Paths[name]
			p.SHA256 = sum
			s.Paths[name] = p
		}
		return ok
	}
	err := readTagged(out, "the state probe", arity, hash, func(tag string, f []string) error {
		switch tag {
		case tagArch:
			s.Arch = strings.TrimSpace(f[0])
		case tagSystemd:
			for _, line := range strings.Split(f[0], "\n") {
				if w := strings.Fields(line); s.Systemd == 0 && len(w) >= 2 && w[0] == "systemd" {
					s.Systemd, _ = strconv.Atoi(w[1])
				}
			}
		case tagRecord:
			record = f[0]
		case tagUsers, tagGroups:
			m := s.Users
			if tag == tagGroups {
				m = s.Groups
			}
			for _, line := range strings.Split(f[0], "\n") {
				if name, _, _ := strings.Cut(line, ":"); name != "" {
					m[name] = true
				}
			}
		case tagUnits:
			parseUnits(f[0], s.Units)
		case tagExe:
			// "/proc/PID/exe", TARGET
			pid, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(f[0], "/proc/"), "/exe"))
			if err == nil && pid > 0 {
				exes[pid] = strings.TrimSuffix(f[1], " (deleted)")
			}
		case tagPath:
			p, name, err := parsePath(f)
			if err != nil {
				return err
			}
			p.SHA256 = s.Paths[name].SHA256 // a hash may come first
			s.Paths[name] = p
		case tagStaged:
			if !strings.HasSuffix(f[0], ".part") {
				s.Staged[f[0]] = true
			}
		case tagUnpacked:
			if isSHA256(f[0]) {
				s.Unpacked[f[0]] = true
			}
		case tagApplyDir:
			s.ApplyDirs = append(s.ApplyDirs, f[0])
		case tagHostCert:
			if strings.Contains(f[0], "-----BEGIN CERTIFICATE-----") {
				s.HostCert = []byte(f[0])
			}
		case tagKeyPair:
			s.KeyPairCerts[f[0]] = f[1]
		case tagWebHash:
			s.WebHashes[f[0]] = strings.Trim(strings.TrimSpace(f[1]), `'"`)
		case tagOpenSSL:
			s.OpenSSL = strings.TrimSpace(f[0]) != ""
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for name, u := range s.Units {
		if exe, ok := exes[u.MainPID]; ok && u.MainPID != 0 {
			u.Exe = exe
			s.Units[name] = u
		}
	}
	slices.Sort(s.ApplyDirs)
	rec, err := ParseRecord(bytes.TrimSpace([]byte(record)))
	if err != nil {
		return nil, err
	}
	s.Record = rec
	return s, nil
}

// hashRecord recognises sha256sum's "HASH  NAME" (text mode, two spaces).
func hashRecord(f string) (sum, name string, ok bool) {
	if len(f) < 66 || f[64:66] != "  " {
		return "", "", false
	}
	for _, c := range f[:64] {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return "", "", false
		}
	}
	return f[:64], f[66:], true
}

// parseUnits reads systemctl show: Key=Value lines, a blank line between units.
func parseUnits(out string, units map[string]Unit) {
	var unit Unit
	var id string
	flush := func() {
		if id != "" {
			units[id] = unit
		}
		unit, id = Unit{}, ""
	}
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			flush()
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "Id":
			id = v
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
	}
	flush()
}

// parsePath reads find's fields: kind, mode, owner, group, size, path, target.
func parsePath(f []string) (Path, string, error) {
	p := Path{Kind: kindOf(f[0])}
	if p.Kind == KindLink {
		p.Target = f[6]
	}
	mode, err := strconv.ParseUint(f[1], 8, 32)
	if err != nil {
		return Path{}, "", fmt.Errorf("unexpected mode %q for %q in the state probe's output", clip(f[1]), clip(f[5]))
	}
	size, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return Path{}, "", fmt.Errorf("unexpected size %q for %q in the state probe's output", clip(f[4]), clip(f[5]))
	}
	p.Mode, p.Owner, p.Group, p.Size = uint32(mode), f[2], f[3], size
	return p, f[5], nil
}

// isSHA256 is a hex sha256, the name of a tree in UnpackedDir.
func isSHA256(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}
