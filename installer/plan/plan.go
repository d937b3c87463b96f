// Package plan compares what a host should hold with what it holds and
// returns the actions that close the gap. Apply runs exactly these actions:
// the shell that performs them is generated from the same list.
package plan

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/shell"
)

// Op is what an action does.
type Op string

const (
	OpCreate  Op = "create"
	OpChange  Op = "change"
	OpRemove  Op = "remove"
	OpEnable  Op = "enable"
	OpStart   Op = "start"
	OpRestart Op = "restart"
	OpReload  Op = "reload"
	OpStop    Op = "stop"
)

// Action is one change on a host, as shown to the user and as executed.
type Action struct {
	Op        Op     `json:"op"`
	Kind      Kind   `json:"kind"`
	Target    string `json:"target"`
	Component string `json:"component,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Diff      string `json:"diff,omitempty"`
	Upload    int64  `json:"upload_bytes,omitempty"`
	Rollout   bool   `json:"rollout,omitempty"` // done later, host by host, behind a health gate

	step Step // what performs it; nil for what the script does not touch
}

// Upload is a file the controller must place in the host's staging folder.
type Upload struct {
	Name      string // the sha256 of the content; for a secret, a keyed hash that reveals nothing
	Size      int64
	Content   []byte // small files
	LocalPath string // bundle tarballs
	SHA256    string
	// Unpack: the tarball streams to root on the host, who unpacks it as it
	// arrives into hoststate.UnpackedDir (transport.Conn.Unpack), dropping
	// Strip leading path elements; it is never staged.
	Unpack bool
	Strip  int
}

// Host is the plan for one host.
type Host struct {
	Host    string
	Actions []Action
	Uploads []Upload
	Record  *hoststate.Record // what the record says after apply
	Notes   []Note            // what the actions do not say (notes.go)

	leaving      []string // components that leave the host, their data staying
	freshData    []string // components whose data folder the plan creates
	checks       []check
	staging      string
	stagedFiles  map[string]stagedFile // staged name -> what the script expects of it
	services     map[string]Op         // unit -> the strongest pending op
	hooks        map[string]string     // unit -> shell run while it is stopped
	rollouts     map[string]rollout    // component -> version switch
	daemonReload bool
	resetUnits   []string // units removed: their failed state is forgotten
	keyPairs     []keyPairBuild
}

// keyPairBuild is a key pair the script assembles before the checks run.
type keyPairBuild struct {
	step       InstallKeyPair
	key        string // the host key it starts with
	certStaged string
}

type check struct {
	component string
	configDir string
	files     map[string]string // path relative to configDir -> staged name ("" = removed)
	bin       string            // folder holding the tool: staged tree or installed version
	tool      string
	args      []string
	toolFrom  string            // the component whose folder holds the tool, resolved after all are planned
	built     map[string]string // path relative to configDir -> file the script assembled in $C
}

// stagedFile is what the apply script checks root's copy of a staged file against.
type stagedFile struct {
	sha256 string
	size   int64
	secret bool
}

// Empty reports whether nothing needs doing.
func (h *Host) Empty() bool { return len(h.Actions) == 0 }

// UploadBytes sums what must be sent.
func (h *Host) UploadBytes() int64 {
	var n int64
	for _, u := range h.Uploads {
		n += u.Size
	}
	return n
}

// Input is what the planner needs for one host.
type Input struct {
	Host       string
	Specs      []*component.Spec // components that belong on the host
	Removed    []string          // components recorded on the host that no longer belong there
	State      *hoststate.State
	StagingDir string
	// TargetsOnly limits the plan to files the running service picks up by
	// itself (Prometheus's file_sd targets): no restart, no other change.
	TargetsOnly bool
	// TLS is the host's certificate; nil when TLS is off.
	TLS *HostTLS
}

// HostTLS is what the host's certificate work looks like this run.
type HostTLS struct {
	Cert []byte // the certificate the host will hold; nil while it is to be issued (plan)
	// NewKey is where the key made on the host for a new certificate waits
	// (root's own folder); "" when the host keeps its key.
	NewKey string
	// Reason says why a certificate is issued ("new", "expires in 20d", …); "" when none is.
	Reason string
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type builder struct {
	bins   map[string]string // component -> folder holding its binaries this run
	in     Input
	h      *Host
	rec    *hoststate.Record
	staged map[string]bool
	wanted map[string]bool // every path the specs want
	// folders are the folders planned, as the specs want them.
	folders map[string]component.Dir
}

// Build computes the plan for one host.
func Build(in Input) (*Host, error) {
	b := &builder{
		in: in,
		h: &Host{Host: in.Host, staging: in.StagingDir, services: map[string]Op{}, hooks: map[string]string{}, rollouts: map[string]rollout{},
			stagedFiles: map[string]stagedFile{}},
		rec:     in.State.Record.Clone(),
		staged:  map[string]bool{},
		wanted:  map[string]bool{},
		bins:    map[string]string{},
		folders: map[string]component.Dir{},
	}
	if in.TLS != nil && !in.TargetsOnly {
		b.hostTLS(in.TLS)
	}
	for _, s := range in.Specs {
		if in.TargetsOnly {
			b.targets(s)
			continue
		}
		if err := b.component(s); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Component, err)
		}
	}
	for _, c := range in.Removed {
		b.removeComponent(c)
	}
	if t := in.TLS; t != nil && t.NewKey != "" && !in.TargetsOnly {
		// Last of the files: every key pair holds the new key by now.
		b.add(Action{Op: OpChange, Kind: KindFile, Target: catalog.HostKeyPath(), Detail: "the key made on the host for the new certificate",
			step: PromoteHostKey{From: t.NewKey}})
		b.recordPath(catalog.HostKeyPath())
	}
	for i, c := range b.h.checks {
		if c.toolFrom != "" {
			bin, ok := b.bins[c.toolFrom]
			if !ok {
				return nil, fmt.Errorf("%s: its check needs %s from %s, which is not on this host", c.component, c.tool, c.toolFrom)
			}
			b.h.checks[i].bin = bin
		}
	}
	if err := b.rootOnlyFolders(); err != nil {
		return nil, err
	}
	b.services()
	if !b.h.Empty() {
		b.h.Record = b.rec
	}
	return b.h, nil
}

// rootOnlyFolders refuses a plan in which root writes below a folder the
// specs give another user, or let group or others write: whoever can change
// the folder can swap what root writes (or a folder on its way) for a link
// between two commands, and root's write, chmod or chown would land where
// the link points.
func (b *builder) rootOnlyFolders() error {
	for _, a := range b.h.Actions {
		var p string
		switch s := a.step.(type) {
		case MakeDir:
			p = s.Path
		case SetMode:
			p = s.Path
		case InstallFile:
			p = s.Dest
		case InstallTree:
			p = s.Dest
		case SwitchLink:
			p = s.Link
		case InstallKeyPair:
			p = s.Dest
		default:
			continue
		}
		// Every folder above counts: whoever may rename one swaps the whole path.
		for dir := path.Dir(p); dir != "/" && dir != "."; dir = path.Dir(dir) {
			if d, ok := b.folders[dir]; ok && (d.Owner != "root" || d.Mode&0o022 != 0) {
				return fmt.Errorf("%s: root would write %s inside %s, which is %s's (mode %o): a component's design error", a.Component, p, d.Path, d.Owner, d.Mode)
			}
		}
	}
	return nil
}

func (b *builder) add(a Action) { b.h.Actions = append(b.h.Actions, a) }

// stage names content in the staging folder. Other files are named by
// their sha256, so one staged by an interrupted run is not sent again. A
// secret's name is a keyed hash with a key made once per run: names show
// in listings of the staging folder and in the script, and must not be a
// plain hash of a password. Secrets are removed after every run, so a new
// key each run loses nothing.
func (b *builder) stage(content []byte, secret bool) string {
	sha := sum(content)
	name := sha
	if secret {
		name = secretName(content)
	}
	if !b.staged[name] {
		b.staged[name] = true
		b.h.stagedFiles[name] = stagedFile{sha256: sha, size: int64(len(content)), secret: secret}
		if secret || !b.in.State.Staged[name] {
			b.h.Uploads = append(b.h.Uploads, Upload{Name: name, Size: int64(len(content)), Content: content, SHA256: sha})
		}
	}
	return name
}

// SecretPrefix starts the staged name of every secret file.
const SecretPrefix = "secret-"

var (
	runKeyOnce sync.Once
	runKey     []byte
)

func secretName(content []byte) string {
	runKeyOnce.Do(func() {
		runKey = make([]byte, 32)
		if _, err := rand.Read(runKey); err != nil {
			panic("no randomness for the run's staging key: " + err.Error())
		}
	})
	m := hmac.New(sha256.New, runKey)
	m.Write(content)
	return SecretPrefix + hex.EncodeToString(m.Sum(nil))
}

func (b *builder) recordPath(p string) {
	if !slices.Contains(b.rec.Paths, p) {
		b.rec.Paths = append(b.rec.Paths, p)
	}
}

func addUnique(list *[]string, v string) {
	if !slices.Contains(*list, v) {
		*list = append(*list, v)
	}
}

// want marks the unit of component c as needing op, keeping the strongest.
func (b *builder) want(unit string, op Op) {
	rank := map[Op]int{"": 0, OpReload: 1, OpStart: 2, OpRestart: 3}
	if rank[op] > rank[b.h.services[unit]] {
		b.h.services[unit] = op
	}
}

func (b *builder) component(s *component.Spec) error {
	c := s.Component
	st := b.in.State
	user := catalog.UserName(c)
	unit := catalog.UnitName(c)

	if !st.Groups[user] {
		b.add(Action{Op: OpCreate, Kind: KindGroup, Target: user, Component: c, step: CreateGroup{Name: user}})
		addUnique(&b.rec.Groups, user)
	}
	if !st.Users[user] {
		b.add(Action{Op: OpCreate, Kind: KindUser, Target: user, Component: c,
			step: CreateUser{Name: user, Group: user, Comment: "obsbox " + c}})
		addUnique(&b.rec.Users, user)
	}

	for _, d := range folders(s) {
		b.dir(c, d)
	}

	// Binaries: the release tarball, extracted into its own version folder.
	vdir := catalog.VersionDir(c, s.Version)
	b.wanted[vdir] = true
	var binDir string
	if s.Bundle != nil {
		marker := path.Join(vdir, ".obsbox-bundle")
		want := sum([]byte(s.Bundle.SHA256 + "\n"))
		if st.Path(marker).SHA256 != want {
			name := s.Bundle.SHA256
			strip := catalog.Get(c).StripComponents()
			t := InstallTree{Component: c, Version: s.Version, Staged: name, Dest: vdir, Binaries: s.Binaries, Strip: strip}
			var size int64
			// A tree already unpacked, or a tarball an older obsbox staged, is
			// not sent again; anything else streams and is unpacked on arrival.
			switch fi := fileSize(s.Bundle.Tarball); {
			case st.Unpacked[name]:
				t.Unpacked = true
			case st.Staged[name]:
				b.h.stagedFiles[name] = stagedFile{sha256: name, size: fi}
			default:
				t.Unpacked, size = true, fi
				b.h.Uploads = append(b.h.Uploads, Upload{Name: name, Size: fi, LocalPath: s.Bundle.Tarball, SHA256: name,
					Unpack: true, Strip: strip})
			}
			detail := fmt.Sprintf("%s %s (%s)", c, s.Version, s.Bundle.Arch)
			b.add(Action{Op: OpCreate, Kind: KindBinaries, Target: vdir, Component: c, Detail: detail, Upload: size, step: t})
			if !slices.Contains(b.rec.Trees, vdir) {
				b.rec.Trees = append(b.rec.Trees, vdir)
			}
			binDir = "$C/" + t.tmp()
		} else {
			binDir = vdir
		}
	}

	// A version switch on a running installation is a rollout: staged now,
	// switched and restarted later one batch at a time behind a health gate.
	link := catalog.CurrentLink(c)
	b.wanted[link] = true
	cur := st.Path(link)
	running := runningVersion(c, st.Units[unit])
	switch {
	case cur.Kind == hoststate.KindLink && cur.Target != s.Version:
		b.add(Action{Op: OpChange, Kind: KindLink, Target: link, Component: c, Detail: cur.Target + " → " + s.Version, Rollout: true,
			step: SwitchLink{Target: s.Version, Link: link}})
		b.rollout(c, cur.Target, s.Version)
	case cur.Kind != hoststate.KindLink:
		b.add(Action{Op: OpCreate, Kind: KindLink, Target: link, Component: c, Detail: "→ " + s.Version,
			step: SwitchLink{Target: s.Version, Link: link}})
		b.recordPath(link)
		b.want(unit, OpRestart)
	case running != "" && running != s.Version:
		// Switched but not restarted: an interrupted rollout.
		b.rollout(c, running, s.Version)
	case running == s.Version && b.rec.Components[c].Ungated && b.rec.Components[c].Previous != "":
		// Switched and restarted, but stopped before its health gate.
		b.gateOnly(c, b.rec.Components[c].Previous, s.Version)
	}
	if r, ok := b.h.rollouts[c]; ok {
		// The record says the new version only once the rollout switched it.
		r.before = b.rec.Components[c]
		if r.gateOnly {
			r.before = hoststate.ComponentRecord{Version: r.from}
		}
		b.h.rollouts[c] = r
	} else if comp := b.rec.Components[c]; comp.Version != s.Version {
		comp.Version = s.Version
		b.rec.Components[c] = comp
	}
	b.prune(c, s.Version, cur.Target, running)

	// Configuration files, checked together before any goes live.
	chk := check{component: c, configDir: catalog.ConfigDir(c), files: map[string]string{}, built: map[string]string{}}
	configChanged := false
	for _, f := range s.Files {
		changed := b.file(c, f)
		if changed && strings.HasPrefix(f.Path, chk.configDir+"/") {
			rel := strings.TrimPrefix(f.Path, chk.configDir+"/")
			chk.files[rel] = b.stage(f.Content, f.Sensitive) // the name file() staged it under
			configChanged = true
		}
		if changed && f.Hook && s.BeforeRestart != "" {
			b.h.hooks[unit] = s.BeforeRestart
		}
		if changed {
			switch {
			case f.Effect == component.EffectRestart, f.Effect == component.EffectReload && !s.Reload:
				b.want(unit, OpRestart)
			case f.Effect == component.EffectReload:
				b.want(unit, OpReload)
			}
		}
	}
	if kp := s.KeyPair; kp != nil && b.in.TLS != nil && b.keyPair(c, unit, kp) {
		if rel, ok := strings.CutPrefix(kp.Path, chk.configDir+"/"); ok {
			chk.built[rel] = InstallKeyPair{Component: c}.built()
			configChanged = true
		}
	}
	// Files obsbox once wrote into the config folder that are no longer wanted.
	for _, p := range slices.Clone(b.rec.Paths) {
		if !strings.HasPrefix(p, chk.configDir+"/") || b.wanted[p] {
			continue
		}
		if pk := st.Path(p).Kind; pk == hoststate.KindFile || pk == hoststate.KindLink {
			b.add(Action{Op: OpRemove, Kind: KindFile, Target: p, Component: c, step: RemovePath{Path: p}})
			chk.files[strings.TrimPrefix(p, chk.configDir+"/")] = ""
			configChanged = true
			b.want(unit, map[bool]Op{true: OpReload, false: OpRestart}[s.Reload])
		}
		b.rec.Paths = slices.DeleteFunc(b.rec.Paths, func(x string) bool { return x == p })
	}
	if binDir == "" {
		binDir = catalog.CurrentLink(c)
	}
	b.bins[c] = binDir
	if configChanged || binDir != vdir {
		if s.Check != nil {
			one := chk
			one.tool, one.args, one.bin = s.Check.Tool, s.Check.Args, binDir
			b.h.checks = append(b.h.checks, one)
		}
		for _, more := range s.Checks {
			one := chk
			one.tool, one.args, one.bin, one.toolFrom = more.Tool, more.Args, binDir, more.ToolFrom
			b.h.checks = append(b.h.checks, one)
		}
	}

	// The unit.
	unitPath := catalog.UnitPath(c)
	if b.file(c, component.File{Path: unitPath, Content: s.Unit, Mode: 0o644, Owner: "root", Group: "root"}) {
		b.h.daemonReload = true
		b.want(unit, OpRestart)
	}
	addUnique(&b.rec.Units, unit)
	us := st.Units[unit]
	if us.UnitFileState != "enabled" {
		wants := path.Join(catalog.UnitDir, "multi-user.target.wants", unit)
		b.add(Action{Op: OpEnable, Kind: KindUnit, Target: unit, Component: c, step: EnableUnit{Unit: unit}})
		b.recordPath(wants)
	}
	if us.ActiveState != "active" && us.ActiveState != "reloading" && us.ActiveState != "activating" {
		b.want(unit, OpStart)
	}
	return nil
}

// hostTLS plans root's TLS folder and the host's (public) certificate.
func (b *builder) hostTLS(t *HostTLS) {
	b.dir("", component.Dir{Path: catalog.ConfigRoot, Mode: 0o755, Owner: "root", Group: "root"})
	b.dir("", component.Dir{Path: catalog.HostTLSDir(), Mode: 0o700, Owner: "root", Group: "root"})
	if t.Cert == nil {
		b.wanted[catalog.HostCertPath()] = true
		b.add(Action{Op: OpCreate, Kind: KindFile, Target: catalog.HostCertPath(), Detail: "certificate to be issued (" + t.Reason + ")"})
		return
	}
	b.file("", component.File{Path: catalog.HostCertPath(), Content: t.Cert, Mode: 0o644, Owner: "root", Group: "root"})
	if t.Reason != "" {
		b.h.Notes = append(b.h.Notes, Note{Text: "certificate issued: " + t.Reason})
	}
}

// keyPair plans a component's copy of the host key and certificate, and
// reports whether it changes. The probe hashed the certificate part only.
func (b *builder) keyPair(c, unit string, kp *component.KeyPair) bool {
	b.wanted[kp.Path] = true
	b.recordPath(kp.Path)
	st := b.in.State
	cur := st.Path(kp.Path)
	if kp.Cert == nil {
		b.add(Action{Op: OpCreate, Kind: KindFile, Target: kp.Path, Component: c, Detail: "key and certificate to be issued"})
		b.wantEffect(unit, kp.Effect, false)
		return false
	}
	fresh := b.in.TLS.NewKey != ""
	if !fresh && cur.Kind == hoststate.KindFile && st.KeyPairCerts[kp.Path] == sum(kp.Cert) &&
		cur.Mode == 0o640 && cur.Owner == "root" && cur.Group == kp.Group {
		return false
	}
	key := catalog.HostKeyPath()
	if fresh {
		key = b.in.TLS.NewKey
	}
	step := InstallKeyPair{Component: c, Dest: kp.Path, Group: kp.Group}
	b.h.keyPairs = append(b.h.keyPairs, keyPairBuild{step: step, key: key, certStaged: b.stage(kp.Cert, false)})
	op := OpChange
	if cur.Kind == hoststate.KindMissing {
		op = OpCreate
	}
	b.add(Action{Op: op, Kind: KindFile, Target: kp.Path, Component: c, Detail: "the host's key and certificate", step: step})
	b.wantEffect(unit, kp.Effect, false)
	return true
}

// wantEffect asks for what a changed file does to the unit.
func (b *builder) wantEffect(unit string, e component.Effect, reloads bool) {
	switch {
	case e == component.EffectRestart, e == component.EffectReload && !reloads:
		b.want(unit, OpRestart)
	case e == component.EffectReload:
		b.want(unit, OpReload)
	}
}

// targets plans only the files of s that list the fleet's hosts (file_sd
// targets, and prometheus.yml's static targets and Alertmanagers): a host
// --hosts names, or its new role, changes them here too. A configuration
// change is checked and reloaded, never restarted; on a host where the
// component is not installed or not running, nothing is planned but the
// files the service picks up by itself.
func (b *builder) targets(s *component.Spec) {
	c := s.Component
	st := b.in.State
	unit := catalog.UnitName(c)
	link := catalog.CurrentLink(c)
	live := st.Path(link).Kind == hoststate.KindLink && st.Units[unit].ActiveState == "active" && s.Reload
	chk := check{component: c, configDir: catalog.ConfigDir(c), files: map[string]string{}}
	for _, f := range s.Files {
		if !f.Targets && f.Effect != component.EffectNone {
			continue
		}
		if f.Effect != component.EffectNone && (!live || !strings.HasPrefix(f.Path, chk.configDir+"/")) {
			continue
		}
		if b.file(c, f) && f.Effect != component.EffectNone {
			chk.files[strings.TrimPrefix(f.Path, chk.configDir+"/")] = b.stage(f.Content, f.Sensitive) // the name file() staged it under
			b.want(unit, OpReload)
		}
	}
	if len(chk.files) > 0 && s.Check != nil {
		chk.tool, chk.args, chk.bin = s.Check.Tool, s.Check.Args, link
		b.h.checks = append(b.h.checks, chk)
	}
}

// folders are the folders the plan makes for s: the standard ones, then
// the component's own.
func folders(s *component.Spec) []component.Dir {
	c := s.Component
	return append([]component.Dir{
		{Path: catalog.OptRoot, Mode: 0o755, Owner: "root", Group: "root"},
		{Path: catalog.BaseDir(c), Mode: 0o755, Owner: "root", Group: "root"},
		{Path: catalog.ConfigRoot, Mode: 0o755, Owner: "root", Group: "root"},
		{Path: catalog.ConfigDir(c), Mode: 0o750, Owner: "root", Group: catalog.UserName(c)},
		{Path: catalog.DataRoot, Mode: 0o755, Owner: "root", Group: "root"},
		s.DataFolder(),
	}, s.Dirs...)
}

func (b *builder) dir(c string, d component.Dir) {
	if b.wanted[d.Path] {
		return // shared by several components: planned once
	}
	b.wanted[d.Path] = true
	b.folders[d.Path] = d
	cur := b.in.State.Path(d.Path)
	own := d.Owner + ":" + d.Group
	mk := MakeDir{Path: d.Path, Mode: d.Mode, Owner: d.Owner, Group: d.Group}
	switch {
	case cur.Kind == hoststate.KindMissing:
		b.add(Action{Op: OpCreate, Kind: KindDir, Target: d.Path, Component: c, step: mk})
		b.recordPath(d.Path)
		if d.Path == catalog.DataDir(c) {
			b.h.freshData = append(b.h.freshData, c)
		}
	case cur.Kind != hoststate.KindDir:
		mk.Replace = true
		b.add(Action{Op: OpChange, Kind: KindDir, Target: d.Path, Component: c, Detail: "not a folder: replaced", step: mk})
	case cur.Mode != d.Mode || cur.Owner != d.Owner || cur.Group != d.Group:
		// Only fix folders obsbox made; /opt/obsbox's parents are the host's business.
		b.add(Action{Op: OpChange, Kind: KindDir, Target: d.Path, Component: c,
			Detail: fmt.Sprintf("%o %s:%s → %o %s", cur.Mode, cur.Owner, cur.Group, d.Mode, own),
			step:   SetMode{Path: d.Path, Mode: d.Mode, Owner: d.Owner, Group: d.Group}})
	}
}

// file plans one file and reports whether its content changes.
func (b *builder) file(c string, f component.File) bool {
	b.wanted[f.Path] = true
	cur := b.in.State.Path(f.Path)
	want := sum(f.Content)
	own := f.Owner + ":" + f.Group
	switch {
	case cur.Kind == hoststate.KindMissing || cur.SHA256 != want:
		name := b.stage(f.Content, f.Sensitive)
		op := OpCreate
		if cur.Kind != hoststate.KindMissing {
			op = OpChange
		}
		a := Action{Op: op, Kind: KindFile, Target: f.Path, Component: c,
			step: InstallFile{Staged: name, Dest: f.Path, Mode: f.Mode, Owner: f.Owner, Group: f.Group}}
		if op == OpChange {
			if f.Sensitive {
				a.Diff = "(sensitive)"
			} else {
				a.Diff = "" // filled by the caller that can read the old content
			}
		}
		b.add(a)
		b.recordPath(f.Path)
		return true
	case cur.Mode != f.Mode || cur.Owner != f.Owner || cur.Group != f.Group:
		b.add(Action{Op: OpChange, Kind: KindFile, Target: f.Path, Component: c,
			Detail: fmt.Sprintf("%o %s:%s → %o %s", cur.Mode, cur.Owner, cur.Group, f.Mode, own),
			step:   SetMode{Path: f.Path, Mode: f.Mode, Owner: f.Owner, Group: f.Group}})
	}
	return false
}

// removeComponent takes a component off a host that no longer carries it:
// uninstall's removal, scoped to the component, keeping its data folder
// (with the kept-data note) and its user, as the plan's notes say.
func (b *builder) removeComponent(c string) {
	b.noteLeftBehind(c)
	st := b.in.State
	kinds := map[string]hoststate.Kind{}
	for p, info := range st.Paths {
		kinds[p] = info.Kind
	}
	r := BuildRemoval(RemovalInput{Host: b.in.Host, State: st, Facts: &hoststate.RemovalFacts{Kinds: kinds}, KeepData: true, only: c})
	b.h.Actions = append(b.h.Actions, r.Actions...)
	gone := func(p string) bool { return componentOf(p) == c && !r.kept[p] }
	b.rec.Paths = slices.DeleteFunc(b.rec.Paths, gone)
	b.rec.Trees = slices.DeleteFunc(b.rec.Trees, gone)
	unit := catalog.UnitName(c)
	b.rec.Units = slices.DeleteFunc(b.rec.Units, func(u string) bool { return u == unit })
	delete(b.rec.Components, c)
	b.h.daemonReload = true
	b.h.resetUnits = append(b.h.resetUnits, unit)
}

// services turns the wanted unit operations into actions, in component order.
func (b *builder) services() {
	for _, s := range b.in.Specs {
		unit := catalog.UnitName(s.Component)
		op := b.h.services[unit]
		if op == "" {
			continue
		}
		cur := b.in.State.Units[unit].ActiveState
		if op == OpReload && cur != "active" {
			op = OpStart
		}
		if op == OpRestart && cur != "active" && cur != "activating" && cur != "reloading" {
			op = OpStart
		}
		if op == OpStart && cur == "failed" {
			op = OpRestart
		}
		var step Step = RestartUnit{Unit: unit, Hook: b.h.hooks[unit]} // restart also starts
		if op == OpReload {
			step = ReloadUnit{Unit: unit}
		}
		_, rolling := b.h.rollouts[s.Component]
		b.add(Action{Op: op, Kind: KindService, Target: unit, Component: s.Component, Rollout: rolling, step: step})
		b.h.services[unit] = op
	}
}

// Services returns the unit operations the plan performs, by unit.
func (h *Host) Services() map[string]Op { return h.services }

func q(s string) string { return shell.Quote(s) }

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// rollout is one component's version switch on a host.
type rollout struct {
	from, to string
	before   hoststate.ComponentRecord
	gateOnly bool // already switched and running: only the gate is left
}

func (b *builder) rollout(c, from, to string) {
	b.h.rollouts[c] = rollout{from: from, to: to}
	b.want(catalog.UnitName(c), OpRestart)
}

// runningVersion is the version folder the unit's main process was started
// from, or "" when it is not running or not from a version folder.
func runningVersion(c string, u hoststate.Unit) string {
	rest, ok := strings.CutPrefix(u.Exe, catalog.BaseDir(c)+"/")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, "/")
	return v
}

// prune removes version folders other than the wanted one and the one kept
// for rollback (what the link points at before this run, else the record's).
func (b *builder) prune(c, want, linked, running string) {
	keep := map[string]bool{catalog.VersionDir(c, want): true}
	if running != "" {
		keep[catalog.VersionDir(c, running)] = true
	}
	if linked != "" && linked != want {
		keep[catalog.VersionDir(c, linked)] = true
	} else if p := b.rec.Components[c].Previous; p != "" {
		keep[catalog.VersionDir(c, p)] = true
	}
	for _, t := range slices.Clone(b.rec.Trees) {
		if !strings.HasPrefix(t, catalog.BaseDir(c)+"/") || keep[t] {
			continue
		}
		if b.in.State.Path(t).Kind != hoststate.KindMissing {
			b.add(Action{Op: OpRemove, Kind: KindBinaries, Target: t, Component: c, Detail: "older than the two kept", step: RemoveTree{Path: t}})
		}
		b.rec.Trees = slices.DeleteFunc(b.rec.Trees, func(x string) bool { return x == t })
	}
}

// Rollout describes a component's pending version switch on a host.
type Rollout struct {
	Component, From, To string
}

// Rollouts lists the host's pending version switches in component order.
func (h *Host) Rollouts() []Rollout {
	var out []Rollout
	for _, c := range catalog.Names() {
		if r, ok := h.rollouts[c]; ok {
			out = append(out, Rollout{Component: c, From: r.from, To: r.to})
		}
	}
	return out
}

// IsRollout reports whether component c switches version on this host.
func (h *Host) IsRollout(c string) bool {
	_, ok := h.rollouts[c]
	return ok
}
