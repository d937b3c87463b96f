// Package systemd renders obsbox's hardened systemd units, one per component.
package systemd

import (
	"bytes"
	"embed"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/obsbox/obsbox/installer/catalog"
)

//go:embed *.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Option("missingkey=error").ParseFS(templateFS, "*.tmpl"))

// Unit is what the installer knows about one component's service.
type Unit struct {
	Description      string
	User             string
	Group            string
	ExecStart        []string          // argv; ExecStart[0] is an absolute path
	WorkingDirectory string            // absolute; "" for none
	ReadWritePaths   []string          // the component's data folder only; absolute
	ReadOnlyPaths    []string          // extra read-only paths, rarely needed under ProtectSystem=strict
	Environment      map[string]string // rendered sorted by name
}

// HasTemplate reports whether component has a unit template.
func HasTemplate(componentName string) bool {
	return templates.Lookup(catalog.UnitName(componentName)+".tmpl") != nil
}

// templateData holds the unit's values already escaped for the unit file.
type templateData struct {
	Description      string
	User             string
	Group            string
	ExecStart        string
	WorkingDirectory string
	Environment      []string
	ReadWritePaths   string
	ReadOnlyPaths    string
}

// Render returns the unit file for component.
func Render(componentName string, u Unit) ([]byte, error) {
	if !catalog.Known(componentName) || !HasTemplate(componentName) {
		return nil, fmt.Errorf("unknown component %q (known: %s)", componentName, catalog.NameList())
	}
	unit := catalog.UnitName(componentName)
	data, err := u.escape()
	if err != nil {
		return nil, fmt.Errorf("unit %s: %w", unit, err)
	}
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, unit+".tmpl", data); err != nil {
		return nil, fmt.Errorf("unit %s: rendering template: %w", unit, err)
	}
	return tidy(buf.Bytes()), nil
}

var (
	userName = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)
	envName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// Paths are written unquoted, so they are limited to characters that mean
	// nothing to systemd's parser; obsbox's own paths all fit.
	safePath = regexp.MustCompile(`^/[A-Za-z0-9._/@:+-]*$`)
)

func (u Unit) escape() (templateData, error) {
	var d templateData
	if u.Description == "" {
		return d, fmt.Errorf("Description is empty")
	}
	if hasControl(u.Description) {
		return d, fmt.Errorf("Description %q contains a control character", u.Description)
	}
	d.Description = strings.ReplaceAll(u.Description, "%", "%%")

	for _, f := range []struct{ field, value string }{{"User", u.User}, {"Group", u.Group}} {
		if len(f.value) > 32 || !userName.MatchString(f.value) {
			return d, fmt.Errorf("%s %q is not a valid system user or group name", f.field, f.value)
		}
	}
	d.User, d.Group = u.User, u.Group

	if len(u.ExecStart) == 0 {
		return d, fmt.Errorf("ExecStart is empty")
	}
	if err := checkPath("ExecStart[0]", u.ExecStart[0]); err != nil {
		return d, err
	}
	args := make([]string, len(u.ExecStart))
	for i, a := range u.ExecStart {
		q, err := QuoteExecArg(a)
		if err != nil {
			return d, fmt.Errorf("ExecStart[%d]: %w", i, err)
		}
		args[i] = q
	}
	d.ExecStart = strings.Join(args, " ")

	if u.WorkingDirectory != "" {
		if err := checkPath("WorkingDirectory", u.WorkingDirectory); err != nil {
			return d, err
		}
		d.WorkingDirectory = u.WorkingDirectory
	}

	var err error
	if d.ReadWritePaths, err = pathList("ReadWritePaths", u.ReadWritePaths); err != nil {
		return d, err
	}
	if d.ReadOnlyPaths, err = pathList("ReadOnlyPaths", u.ReadOnlyPaths); err != nil {
		return d, err
	}

	names := make([]string, 0, len(u.Environment))
	for name := range u.Environment {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !envName.MatchString(name) {
			return d, fmt.Errorf("Environment: %q is not a valid variable name", name)
		}
		q, err := quoteEnvironment(name + "=" + u.Environment[name])
		if err != nil {
			return d, fmt.Errorf("Environment %s: %w", name, err)
		}
		d.Environment = append(d.Environment, q)
	}
	return d, nil
}

func checkPath(field, p string) error {
	if !safePath.MatchString(p) {
		return fmt.Errorf("%s %q must be an absolute path of letters, digits and ._/@:+-", field, p)
	}
	if path.Clean(p) != p {
		return fmt.Errorf("%s %q is not a clean path (want %q)", field, p, path.Clean(p))
	}
	return nil
}

func pathList(field string, paths []string) (string, error) {
	for i, p := range paths {
		if err := checkPath(fmt.Sprintf("%s[%d]", field, i), p); err != nil {
			return "", err
		}
		if p == "/" {
			return "", fmt.Errorf("%s[%d] is /: that would undo ProtectSystem=strict", field, i)
		}
	}
	return strings.Join(paths, " "), nil
}

// QuoteExecArg quotes one argument for an Exec*= line so that systemd passes
// it through unchanged: "%" specifiers become "%%", "$" variables "$$", and
// anything beyond plain characters goes inside double quotes with C escapes
// (systemd.service(5) "Command lines", systemd.syntax(7) "Quoting").
func QuoteExecArg(arg string) (string, error) {
	return quote(arg, true)
}

// quoteEnvironment quotes one NAME=value item of Environment=, where "$" means
// nothing but "%" is still a specifier (systemd.exec(5)).
func quoteEnvironment(item string) (string, error) {
	return quote(item, false)
}

func quote(s string, dollar bool) (string, error) {
	if strings.ContainsRune(s, 0) {
		return "", fmt.Errorf("%q contains a NUL byte", s)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%q is not valid UTF-8", s)
	}
	if s != "" && plainWord(s) {
		return s, nil
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '%':
			b.WriteString("%%")
		case r == '$' && dollar:
			b.WriteString("$$")
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// plainWord reports whether s can stand unquoted: nothing systemd's word
// splitting, unquoting or expansion would touch.
func plainWord(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_./:=,+@", r):
		default:
			return false
		}
	}
	// A lone ";" separates commands; "-", "@", "+", "!", ":" lead a first word
	// as prefixes. Plain words never start with a prefix that matters for
	// arguments, but keep "@" and "+" quoted anyway to read unambiguously.
	return s[0] != '@' && s[0] != '+'
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// tidy collapses the blank lines the templates leave between sections to one.
func tidy(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var out []string
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n") + "\n")
}
