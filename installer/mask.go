package installer

import (
	"regexp"
	"slices"
	"strings"

	"github.com/obsbox/obsbox/installer/component"
)

// Masked is what a secret value reads as in a diff.
const (
	Masked        = "(sensitive)"
	MaskedChanged = "(sensitive, new value)"
)

// A key at the start of a block-style YAML line, after any "- " of a list
// item: indentation (with dashes), then the key, bare or quoted.
var yamlKeyLine = regexp.MustCompile(`^([ \t]*(?:-[ \t]+)*)(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_.\-]+))[ \t]*:(?:[ \t]+|$)`)

var iniKeyLine = regexp.MustCompile(`^([ \t]*)([A-Za-z0-9_.\-]+)([ \t]*=[ \t]*)`)

// maskPair masks the secret values of both sides of a file's diff: by
// structure (any value at a secret key, on either side) and by value (every
// secret the new render holds). A secret on the new side reads
// MaskedChanged when the host's copy does not hold it, so a changed secret
// still shows as a change. ok is false when a side cannot be masked by
// structure: then nothing of the file may be shown.
func maskPair(oldText, newText string, s *component.Secrets) (oldMasked, newMasked string, ok bool) {
	keys := map[string]bool{}
	for _, k := range s.Keys {
		keys[k] = true
	}
	var mask func(string, map[string]bool, func(string) string) (string, bool)
	switch s.Format {
	case "yaml":
		mask = maskYAML
	case "ini":
		mask = maskINI
	default:
		return "", "", false
	}
	oldMasked, ok1 := mask(oldText, keys, func(string) string { return Masked })
	newMasked, ok2 := mask(newText, keys, func(v string) string {
		if strings.Contains(oldText, v) {
			return Masked
		}
		return MaskedChanged
	})
	if !ok1 || !ok2 {
		return "", "", false
	}
	// Longest first, so a secret that contains another is masked whole.
	values := slices.Clone(s.Values)
	slices.SortFunc(values, func(a, b string) int { return len(b) - len(a) })
	for _, v := range values {
		if len(v) < 4 {
			continue // masking "a" would mangle the file and hide nothing
		}
		oldMasked = strings.ReplaceAll(oldMasked, v, Masked)
		newMasked = strings.ReplaceAll(newMasked, v, Masked)
	}
	return oldMasked, newMasked, true
}

func indentOf(line string) int { return len(line) - len(strings.TrimLeft(line, " \t")) }

// maskYAML replaces the value of every secret key of block-style YAML,
// with its continuation lines (more indented than the key), by tag(value).
// A secret key anywhere else on a line (flow style, a comment) masks the
// whole line.
func maskYAML(text string, keys map[string]bool, tag func(string) string) (string, bool) {
	var anywhere *regexp.Regexp
	if len(keys) > 0 {
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, regexp.QuoteMeta(k))
		}
		slices.Sort(names)
		anywhere = regexp.MustCompile(`(?:^|[\s{,'"])(?:` + strings.Join(names, "|") + `)['"]?\s*:`)
	}
	lines := strings.Split(text, "\n")
	out := make([]string, 0, len(lines))
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		m := yamlKeyLine.FindStringSubmatch(line)
		if m == nil || !keys[m[2]+m[3]+m[4]] {
			if anywhere != nil && anywhere.MatchString(line) {
				line = line[:indentOf(line)] + Masked
			}
			out = append(out, line)
			continue
		}
		keyCol := len(m[1])
		value := strings.TrimSpace(line[len(m[0]):])
		j := i + 1
		for ; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) != "" && indentOf(lines[j]) <= keyCol {
				break
			}
			value += "\n" + lines[j]
		}
		// Trailing blank lines are not the value's: keep them.
		for j > i+1 && strings.TrimSpace(lines[j-1]) == "" {
			j--
			value = strings.TrimSuffix(value, "\n"+lines[j])
		}
		if strings.TrimSpace(value) == "" {
			out = append(out, line)
			continue
		}
		out = append(out, strings.TrimRight(m[0], " \t")+" "+tag(value))
		i = j - 1
	}
	return strings.Join(out, "\n"), true
}

// maskINI replaces the value of every secret key of an ini file, a
// """-quoted value to its closing quotes, by tag(value).
func maskINI(text string, keys map[string]bool, tag func(string) string) (string, bool) {
	lines := strings.Split(text, "\n")
	out := make([]string, 0, len(lines))
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		m := iniKeyLine.FindStringSubmatch(line)
		if m == nil || !keys[m[2]] {
			out = append(out, line)
			continue
		}
		value := line[len(m[0]):]
		if strings.HasPrefix(value, `"""`) && !strings.Contains(value[3:], `"""`) {
			j := i + 1
			for ; j < len(lines) && !strings.Contains(lines[j], `"""`); j++ {
				value += "\n" + lines[j]
			}
			if j == len(lines) {
				return "", false // unterminated: cannot tell where the secret ends
			}
			value += "\n" + lines[j]
			i = j
		}
		if strings.TrimSpace(value) == "" {
			out = append(out, line)
			continue
		}
		out = append(out, m[0]+tag(value))
	}
	return strings.Join(out, "\n"), true
}
