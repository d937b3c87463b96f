package plan

import (
	"fmt"
	"path"
	"strings"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/hoststate"
)

// Kind is what an action acts on. Its words are those of --json.
type Kind string

const (
	KindUser     Kind = "user"
	KindGroup    Kind = "group"
	KindDir      Kind = "dir"
	KindFile     Kind = "file"
	KindBinaries Kind = "binaries"
	KindLink     Kind = "link"
	KindUnit     Kind = "unit"
	KindService  Kind = "service"
	KindRollout  Kind = "rollout" // a version switch whose gate is left
	KindData     Kind = "data"    // a component's data folder
	KindPath     Kind = "path"    // a recorded path uninstall leaves alone
	KindNote     Kind = "note"    // what the removal script printed
)

// Step is one typed change of a root script. It renders itself to shell,
// every value through shell.Quote; scripts are assembled from steps and
// nothing reads the rendered text back.
type Step interface {
	lines() []string
}

// render writes a step's lines; a nil step has none.
func render(s Step) []string {
	if s == nil {
		return nil
	}
	return s.lines()
}

func mode(m uint32) string { return q(fmt.Sprintf("%o", m)) }

func owner(o, g string) string { return q(o + ":" + g) }

// CreateGroup makes a system group unless it exists. KeptID takes the id in
// $obsbox_gid ("--gid N" or empty), set when kept data is taken over.
type CreateGroup struct {
	Name   string
	KeptID bool
}

func (s CreateGroup) lines() []string {
	id := ""
	if s.KeptID {
		id = "$obsbox_gid "
	}
	return []string{fmt.Sprintf("getent group %[1]s >/dev/null || groupadd --system %[2]s%[1]s", q(s.Name), id)}
}

// CreateUser makes a system user without a home or a login shell unless
// it exists. KeptID takes the id in $obsbox_uid, as CreateGroup does.
type CreateUser struct {
	Name, Group, Comment string
	KeptID               bool
}

func (s CreateUser) lines() []string {
	id := ""
	if s.KeptID {
		id = "$obsbox_uid "
	}
	return []string{fmt.Sprintf("getent passwd %[1]s >/dev/null || useradd --system %[2]s--gid %[3]s --no-create-home --home-dir %[4]s --shell %[5]s --comment %[6]s %[1]s",
		q(s.Name), id, q(s.Group), q("/nonexistent"), q("/usr/sbin/nologin"), q(s.Comment))}
}

// MakeDir creates a folder with its mode and owner; Replace first removes
// what stands at the path and is no folder.
type MakeDir struct {
	Path         string
	Mode         uint32
	Owner, Group string
	Replace      bool
}

func (s MakeDir) lines() []string {
	// install -d: one command where mkdir, chmod and chown were three (the
	// same result; parents it makes are 755 root's, as mkdir -p makes them).
	mk := fmt.Sprintf("install -d -m %s -o %s -g %s %s", mode(s.Mode), q(s.Owner), q(s.Group), q(s.Path))
	if s.Replace {
		return []string{fmt.Sprintf("rm -f %s && %s", q(s.Path), mk)}
	}
	return []string{mk}
}

// SetMode fixes the mode and owner of a file or folder.
type SetMode struct {
	Path         string
	Mode         uint32
	Owner, Group string
}

func (s SetMode) lines() []string {
	return []string{fmt.Sprintf("chmod %[2]s %[1]s && chown %[3]s %[1]s", q(s.Path), mode(s.Mode), owner(s.Owner, s.Group))}
}

// InstallFile puts root's verified copy of staged file Staged at Dest.
type InstallFile struct {
	Staged, Dest string
	Mode         uint32
	Owner, Group string
}

func (s InstallFile) lines() []string {
	return []string{fmt.Sprintf("install_file %s %s %s %s %s", q(s.Staged), q(s.Dest), mode(s.Mode), q(s.Owner), q(s.Group))}
}

// InstallTree moves a release tarball's tree, extracted and checked
// earlier in the script, to Dest.
type InstallTree struct {
	Component, Version string
	Staged             string // the tarball's staged name
	Dest               string
	Binaries           []string // each must be an executable in the tree
	// Strip is how many leading path elements tar drops (catalog StripComponents).
	Strip int
	// Unpacked: the tree is not unpacked by the script; it waits, whole
	// and verified, in hoststate.UnpackedDir under the tarball's sha256
	// (streamed there by the upload, or by an earlier run).
	Unpacked bool
}

// tmp is the tree's folder inside the script's private folder $C.
func (s InstallTree) tmp() string { return "tree-" + s.Component }

func (s InstallTree) lines() []string {
	return []string{fmt.Sprintf("install_tree %s %s", q(s.tmp()), q(s.Dest))}
}

// SwitchLink points Link at Target, atomically.
type SwitchLink struct{ Target, Link string }

func (s SwitchLink) lines() []string {
	return []string{fmt.Sprintf("switch_link %s %s", q(s.Target), q(s.Link))}
}

// EnableUnit enables a unit; the script reloads systemd once, not per unit.
type EnableUnit struct{ Unit string }

func (s EnableUnit) lines() []string {
	return []string{"systemctl --no-reload enable --quiet " + q(s.Unit)}
}

// RestartUnit (re)starts a unit. With a Hook (shell from the component's
// Spec) the unit is stopped, the hook runs, and the unit starts. A unit
// that hit its start limit refuses to start until reset, so it is reset.
type RestartUnit struct{ Unit, Hook string }

func (s RestartUnit) lines() []string {
	u := q(s.Unit)
	out := []string{"systemctl reset-failed " + u + " 2>/dev/null || true"}
	if s.Hook != "" {
		return append(out, "systemctl stop "+u, s.Hook, "systemctl start "+u)
	}
	return append(out, "systemctl restart "+u)
}

// ReloadUnit asks a running unit to reload its configuration.
type ReloadUnit struct{ Unit string }

func (s ReloadUnit) lines() []string { return []string{"systemctl reload " + q(s.Unit)} }

// StopUnit disables and stops a unit, and fails when it still runs.
type StopUnit struct{ Unit string }

func (s StopUnit) lines() []string {
	u := q(s.Unit)
	return []string{
		// disable fails when the unit file is already gone; stop still works then.
		fmt.Sprintf("systemctl disable --now --quiet %[1]s 2>/dev/null || systemctl stop %[1]s 2>/dev/null || true", u),
		fmt.Sprintf("if systemctl is-active --quiet %[1]s; then echo %[2]s >&2; exit 1; fi", u, q("unit "+s.Unit+" is still active after stop")),
	}
}

// ResetUnits reloads systemd and forgets the failed state of removed units.
type ResetUnits struct{ Units []string }

func (s ResetUnits) lines() []string {
	out := []string{"systemctl daemon-reload"}
	for _, u := range s.Units {
		out = append(out, fmt.Sprintf("systemctl reset-failed %s 2>/dev/null || true", q(u)))
	}
	return out
}

// RemovePath deletes a file or link.
type RemovePath struct{ Path string }

func (s RemovePath) lines() []string { return []string{"rm -f " + q(s.Path)} }

// RemoveTree deletes a folder and all it holds, never crossing into
// another file system mounted inside it.
type RemoveTree struct{ Path string }

func (s RemoveTree) lines() []string { return []string{"rm -rf --one-file-system " + q(s.Path)} }

// RemoveEmptyDir deletes a folder only when it is empty.
type RemoveEmptyDir struct{ Path string }

func (s RemoveEmptyDir) lines() []string {
	return []string{fmt.Sprintf("[ ! -d %[1]s ] || rmdir --ignore-fail-on-non-empty %[1]s", q(s.Path))}
}

// RemoveApplyDir deletes an apply work folder only when it is obsbox's: a
// real folder (no link is followed) owned by root, who alone made it.
type RemoveApplyDir struct{ Path string }

func (s RemoveApplyDir) lines() []string {
	return []string{fmt.Sprintf(`if [ -d %[1]s ] && [ ! -L %[1]s ] && [ "$(stat -c %%u %[1]s)" = 0 ]; then rm -rf --one-file-system %[1]s; fi`, q(s.Path))}
}

// DeleteUser deletes a user obsbox created. LeaveGroup first moves it off
// its same-named primary group, which obsbox did not create: userdel would
// delete that group too.
type DeleteUser struct {
	Name       string
	LeaveGroup bool
}

func (s DeleteUser) lines() []string {
	u := q(s.Name)
	var out []string
	if s.LeaveGroup {
		out = append(out, fmt.Sprintf("if getent passwd %[1]s >/dev/null && [ \"$(id -gn %[1]s)\" = %[1]s ]; then usermod -g 0 %[1]s; fi", u))
	}
	return append(out, fmt.Sprintf("if getent passwd %[1]s >/dev/null; then userdel %[1]s; fi", u))
}

// DeleteGroup deletes a group obsbox created.
type DeleteGroup struct{ Name string }

func (s DeleteGroup) lines() []string {
	return []string{fmt.Sprintf("if getent group %[1]s >/dev/null; then groupdel %[1]s; fi", q(s.Name))}
}

// RestoreShadowBackups puts back the backup files useradd and userdel
// rewrote, as they were before obsbox's first useradd — but only when the
// user database itself is back to what it was then: otherwise someone else
// changed it since, and the backups userdel wrote are the honest ones.
type RestoreShadowBackups struct{}

func (RestoreShadowBackups) lines() []string {
	bd := q(BeforeDir)
	out := []string{fmt.Sprintf("if (cd / && sha256sum --status -c %s/live.sha256) 2>/dev/null; then", bd)}
	for _, f := range shadowBackups {
		n := path.Base(f)
		out = append(out, fmt.Sprintf("  if [ -f %[1]s/%[2]s ]; then cp -p %[1]s/%[2]s %[3]s && mv -f %[3]s %[4]s; elif [ -f %[1]s/%[2]s.absent ]; then rm -f %[4]s; fi",
			bd, q(n), q(f+".obsbox-tmp"), q(f)))
	}
	return append(out,
		"else",
		"  echo "+q(removalMarker+"note the user database changed since obsbox first created users: shadow backup files left as userdel wrote them"),
		"fi",
		"rm -rf "+bd)
}

// Why a data folder is kept, in its note.
const (
	keptByUninstall = `"obsbox uninstall --keep-data" removed everything
else`
	keptByApply = `"obsbox apply" took it off this host (the inventory
no longer puts it here)`
)

// WriteKeptNote leaves the note KeptNoteName in a kept data folder.
type WriteKeptNote struct {
	Component string
	Why       string // keptByUninstall or keptByApply
}

func (s WriteKeptNote) lines() []string {
	n := s.Component
	d := catalog.DataDir(n)
	note := path.Join(d, KeptNoteName)
	text := fmt.Sprintf(`This folder holds %[1]s.
obsbox installed %[2]s on this host; %[5]s on $(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ) and kept this folder.
Its files are owned by uid $(stat -c %%u %[4]s) and gid $(stat -c %%g %[4]s), the ids the system
user %[3]s had then.
The next "obsbox apply" that installs %[2]s here takes this folder over and
deletes this note; "obsbox uninstall" without --keep-data deletes the folder.`, catalog.Get(n).DataDescription, n, catalog.UserName(n), q(d), s.Why)
	// The here-document is unquoted for $(date) and $(stat): the text
	// holds no value but quoted paths and fixed names.
	// The folder is the service user's, who may have left a link at the
	// temporary name or may swap the file for one: the note is created
	// new (set -C: O_EXCL, which a link fails) with its final mode, and
	// nothing after that follows its name but the rename.
	tmp := q(note + ".obsbox-tmp")
	return []string{
		fmt.Sprintf("rm -f %s && (umask 022 && set -C && cat > %s) <<OBSBOX_NOTE", tmp, tmp),
		text,
		"OBSBOX_NOTE",
		fmt.Sprintf("mv -f %s %s", tmp, q(note)),
	}
}

// WriteRecord replaces the record, atomically, creating its folder if needed.
type WriteRecord struct{ Record *hoststate.Record }

func (s WriteRecord) lines() []string {
	tmp, rp := q(hoststate.RecordPath+".obsbox-tmp"), q(hoststate.RecordPath)
	return []string{
		fmt.Sprintf("[ -d %[1]s ] || { mkdir %[1]s && chmod 755 %[1]s; }", q(path.Dir(hoststate.RecordPath))),
		fmt.Sprintf("cat > %s <<'OBSBOX_RECORD'", tmp),
		strings.TrimSuffix(string(s.Record.Marshal()), "\n"),
		"OBSBOX_RECORD",
		fmt.Sprintf("chmod 600 %[1]s && mv -f %[1]s %[2]s", tmp, rp),
	}
}

// StopScript is the root script that stops unit ahead of its host's
// removal, with the removal's own step (which then finds it stopped).
func StopScript(unit string) string {
	var b strings.Builder
	b.WriteString("set -eu\n")
	writeSteps(&b, StopUnit{Unit: unit})
	return b.String()
}

// writeSteps writes each step's lines.
func writeSteps(b *strings.Builder, steps ...Step) {
	for _, s := range steps {
		for _, l := range render(s) {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
}

// InstallKeyPair puts the key pair that BuildKeyPair assembled in $C at
// Dest, readable by root and Group only.
type InstallKeyPair struct {
	Component string
	Dest      string
	Group     string
}

// built is the assembled key pair inside the script's private folder $C.
func (s InstallKeyPair) built() string { return "kp-" + s.Component + ".pem" }

func (s InstallKeyPair) lines() []string {
	return []string{fmt.Sprintf("install -T -m 640 -o root -g %s %s %s && mv -f %s %s",
		q(s.Group), inC(s.built()), q(s.Dest+".obsbox-tmp"), q(s.Dest+".obsbox-tmp"), q(s.Dest))}
}

// buildKeyPair writes, into $C, the key (never leaving root's folders)
// followed by root's verified copy of the staged certificate.
func buildKeyPair(k InstallKeyPair, key, certStaged string) string {
	return fmt.Sprintf("(umask 077 && cat %s %s > %s)", q(key), inC("in/"+certStaged), inC(k.built()))
}

// PromoteHostKey makes the key made on the host for this run's certificate
// the host's key, once every key pair holds it.
type PromoteHostKey struct{ From string }

func (s PromoteHostKey) lines() []string {
	key := catalog.HostKeyPath()
	// The key waited in a root-only work folder of its own: it goes too.
	return []string{fmt.Sprintf("mv -f %s %s && chmod 600 %s && chown root:root %s && rmdir %s", q(s.From), q(key), q(key), q(key), q(path.Dir(s.From)))}
}
