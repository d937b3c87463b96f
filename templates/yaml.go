package templates

import (
	"bytes"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The configuration files are typed structs with yaml tags, written by
// go.yaml.in/yaml/v3. The scalar types below only choose a style: every
// string is quoted, so no value (a label, a password, a URL) can change the
// shape of the document, and the library does the escaping. Block style
// throughout: installer/mask.go masks secrets line by line.

// yamlHeader heads prometheus.yml, alertmanager.yml and the rules file.
const yamlHeader = "# Managed by obsbox: changes made here are overwritten by the next apply.\n"

// yMarshal writes doc after header, with two-space indentation.
func yMarshal(header string, doc any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// yStr is a string written single-quoted when it is plain printable text, else
// double-quoted with escapes.
type yStr string

func (s yStr) MarshalYAML() (any, error) { return yQuoted(string(s), yaml.SingleQuotedStyle) }

// yDQ is a string always written double-quoted (Grafana's provisioning files).
type yDQ string

func (s yDQ) MarshalYAML() (any, error) { return yQuoted(string(s), yaml.DoubleQuotedStyle) }

// yText is trusted multi-line text (a PromQL expression, a notification
// template): a "|-" literal block when that reads back exactly, else a yStr.
type yText string

func (s yText) MarshalYAML() (any, error) {
	if yLiteralOK(string(s)) {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: string(s), Style: yaml.LiteralStyle}, nil
	}
	return yStr(s).MarshalYAML()
}

// yLabels is a label set, written with its names sorted bytewise.
type yLabels map[string]string

func (m yLabels) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		key, err := yKey(k)
		if err != nil {
			return nil, err
		}
		value, err := yQuoted(m[k], yaml.SingleQuotedStyle)
		if err != nil {
			return nil, err
		}
		n.Content = append(n.Content, key, value)
	}
	return n, nil
}

func yStrs(ss []string) []yStr {
	out := make([]yStr, len(ss))
	for i, s := range ss {
		out[i] = yStr(s)
	}
	return out
}

// yQuoted is s as a quoted scalar: in style when s is plain printable text,
// else double-quoted. Errors never quote s: it may be a secret.
func yQuoted(s string, style yaml.Style) (*yaml.Node, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("a value is not valid UTF-8")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !ySafeRune(r) }) {
		style = yaml.DoubleQuotedStyle
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: style}, nil
}

// yReserved are plain words YAML 1.1 (the go-yaml v2 that Prometheus and
// Alertmanager use) reads as booleans or null.
var yReserved = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
	"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
	"null": true, "Null": true, "NULL": true,
}

var yPlainKeyRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// yKey is a mapping key: bare when it is a plain identifier no YAML reader
// takes for anything but a string, else quoted.
func yKey(k string) (*yaml.Node, error) {
	if yPlainKeyRE.MatchString(k) && !yReserved[k] {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, nil
	}
	return yQuoted(k, yaml.SingleQuotedStyle)
}

// ySafeRune reports whether r may stand in a single-quoted scalar: printable,
// and not one of the characters YAML reads as a line break.
func ySafeRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 0x20 && r < 0x7f
	}
	return r >= 0xa0 && unicode.IsPrint(r)
}

// yLiteralOK reports whether s can be a "|-" literal block that reads back
// as exactly s.
func yLiteralOK(s string) bool {
	if !strings.Contains(s, "\n") || !utf8.ValidString(s) {
		return false
	}
	lines := strings.Split(s, "\n")
	if lines[0] == "" || lines[0][0] == ' ' || lines[len(lines)-1] == "" {
		return false
	}
	for _, line := range lines {
		if strings.HasSuffix(line, " ") || strings.ContainsFunc(line, func(r rune) bool { return !ySafeRune(r) }) {
			return false
		}
	}
	return true
}
