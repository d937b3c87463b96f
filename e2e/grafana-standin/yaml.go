package main

import (
	"fmt"
	"strings"
)

// A deliberately small YAML reader: block mappings and sequences, plain, quoted
// and block scalars, and one-line flow collections, which is what Grafana
// provisioning files use. Scalars stay strings. It rejects what YAML parsers
// reject in practice (tabs in indentation, bad indentation, duplicate keys,
// "a: b: c", unterminated quotes and brackets), so a broken file fails the
// stand-in's start as it fails Grafana's.

type yamlLine struct {
	num    int    // 1-based line number
	indent int    // leading spaces
	text   string // without indentation and trailing comment
	block  string // body of a | or > block scalar that this line opens
	// isBlock says the line opens a block scalar (whose body may be empty).
	isBlock bool
}

func parseYAML(src string) (any, error) {
	lines, err := splitYAML(src)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, nil
	}
	p := &yamlParser{lines: lines}
	v, err := p.node(lines[0].indent)
	if err != nil {
		return nil, err
	}
	if p.pos < len(lines) {
		return nil, fmt.Errorf("line %d: unexpected indentation", lines[p.pos].num)
	}
	return v, nil
}

func splitYAML(src string) ([]yamlLine, error) {
	raw := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var out []yamlLine
	for i := 0; i < len(raw); i++ {
		line := raw[i]
		body := strings.TrimLeft(line, " ")
		indent := len(line) - len(body)
		if strings.HasPrefix(body, "\t") {
			return nil, fmt.Errorf("line %d: tab character in indentation", i+1)
		}
		text, err := stripComment(body)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		if text == "" || (indent == 0 && (text == "---" || text == "...")) {
			continue
		}
		l := yamlLine{num: i + 1, indent: indent, text: text}
		if isBlockScalarStart(text) {
			var body []string
			for i+1 < len(raw) {
				next := raw[i+1]
				if strings.TrimSpace(next) != "" && len(next)-len(strings.TrimLeft(next, " ")) <= indent {
					break
				}
				body = append(body, strings.TrimSpace(next))
				i++
			}
			l.isBlock = true
			l.block = strings.TrimRight(strings.Join(body, "\n"), "\n")
			if l.block != "" && !strings.Contains(blockHeader(text), "-") { // "|-" strips the final newline
				l.block += "\n"
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// stripComment drops a trailing "# comment" that is not inside quotes.
func stripComment(s string) (string, error) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0 && c == quote:
			if quote == '\'' && i+1 < len(s) && s[i+1] == '\'' {
				i++ // '' inside single quotes
				continue
			}
			quote = 0
		case quote != 0:
		case (c == '"' || c == '\'') && (i == 0 || strings.ContainsRune(" :[{,-", rune(s[i-1]))):
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return strings.TrimRight(s[:i], " "), nil
		}
	}
	return strings.TrimRight(s, " "), nil
}

func isBlockScalarStart(text string) bool {
	v := strings.TrimRight(blockHeader(text), "+-0123456789")
	return v == "|" || v == ">"
}

// blockHeader is the value part of a "key: |-" or "- |" line.
func blockHeader(text string) string {
	_, v, ok := splitKey(text)
	if !ok {
		v = strings.TrimSpace(strings.TrimPrefix(text, "-"))
	}
	return v
}

func isSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

// splitKey splits "key: value" (or "key:") at the first colon outside quotes that
// is followed by a space or the end of the line.
func splitKey(text string) (key, value string, ok bool) {
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case i == 0 && (c == '"' || c == '\''):
			quote = c
		case c == '[' || c == '{':
			if i == 0 {
				return "", "", false
			}
		case c == ':' && (i+1 == len(text) || text[i+1] == ' '):
			key = strings.TrimSpace(text[:i])
			if k, err := parseScalar(key); err == nil {
				if s, isStr := k.(string); isStr {
					key = s
				}
			}
			return key, strings.TrimSpace(text[i+1:]), key != ""
		}
	}
	return "", "", false
}

type yamlParser struct {
	lines []yamlLine
	pos   int
}

func (p *yamlParser) node(indent int) (any, error) {
	l := p.lines[p.pos]
	if l.indent != indent {
		return nil, fmt.Errorf("line %d: unexpected indentation", l.num)
	}
	if isSeqItem(l.text) {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) sequence(indent int) ([]any, error) {
	var items []any
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent && isSeqItem(p.lines[p.pos].text) {
		l := p.lines[p.pos]
		rest := strings.TrimSpace(l.text[1:])
		switch {
		case rest == "":
			p.pos++
			var item any
			if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
				v, err := p.node(p.lines[p.pos].indent)
				if err != nil {
					return nil, err
				}
				item = v
			}
			items = append(items, item)
		case isSeqItem(rest) || startsMapping(rest):
			// "- key: value": the item is a block that starts on this line.
			p.lines[p.pos] = yamlLine{num: l.num, indent: l.indent + len(l.text) - len(rest), text: rest, block: l.block, isBlock: l.isBlock}
			v, err := p.node(p.lines[p.pos].indent)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		case l.isBlock:
			items = append(items, l.block)
			p.pos++
		default:
			v, err := parseScalar(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", l.num, err)
			}
			items = append(items, v)
			p.pos++
			if err := p.noDeeper(indent, l.num); err != nil {
				return nil, err
			}
		}
	}
	return items, nil
}

func startsMapping(text string) bool {
	_, _, ok := splitKey(text)
	return ok
}

func (p *yamlParser) mapping(indent int) (map[string]any, error) {
	m := map[string]any{}
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent {
		l := p.lines[p.pos]
		if isSeqItem(l.text) {
			return nil, fmt.Errorf("line %d: a sequence item where a mapping key was expected", l.num)
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil, fmt.Errorf("line %d: expected \"key: value\", found %q", l.num, l.text)
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("line %d: mapping key %q already defined", l.num, key)
		}
		p.pos++
		switch {
		case l.isBlock:
			m[key] = l.block
		case rest == "":
			m[key] = nil
			if p.pos < len(p.lines) {
				next := p.lines[p.pos]
				if next.indent > indent || (next.indent == indent && isSeqItem(next.text)) {
					v, err := p.node(next.indent)
					if err != nil {
						return nil, err
					}
					m[key] = v
				}
			}
		default:
			v, err := parseScalar(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", l.num, err)
			}
			m[key] = v
			if err := p.noDeeper(indent, l.num); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// noDeeper fails when a line more indented follows a line that had its value.
func (p *yamlParser) noDeeper(indent, after int) error {
	if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
		return fmt.Errorf("line %d: unexpected indentation (line %d already has a value)", p.lines[p.pos].num, after)
	}
	return nil
}

// parseScalar reads a whole inline value: quoted, flow collection or plain.
func parseScalar(s string) (any, error) {
	v, rest, err := flowValue(s, false)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(rest) != "" {
		return nil, fmt.Errorf("unexpected %q after value", strings.TrimSpace(rest))
	}
	return v, nil
}

// flowValue reads one value from the front of s; inFlow stops plain scalars at
// the flow indicators , ] }.
func flowValue(s string, inFlow bool) (any, string, error) {
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return nil, "", nil
	}
	switch s[0] {
	case '"':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if i+1 == len(s) {
					return nil, "", fmt.Errorf("unterminated double-quoted string")
				}
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(s[i])
				}
			case '"':
				return b.String(), s[i+1:], nil
			default:
				b.WriteByte(s[i])
			}
		}
		return nil, "", fmt.Errorf("unterminated double-quoted string")
	case '\'':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				return b.String(), s[i+1:], nil
			}
			b.WriteByte(s[i])
		}
		return nil, "", fmt.Errorf("unterminated single-quoted string")
	case '[':
		return flowSequence(s[1:])
	case '{':
		return flowMapping(s[1:])
	case '@', '`':
		return nil, "", fmt.Errorf("character %q cannot start a value", s[0])
	case ']', '}':
		return nil, "", fmt.Errorf("unexpected %q", s[0])
	}
	end := len(s)
	if inFlow {
		if i := strings.IndexAny(s, ",]}"); i >= 0 {
			end = i
		}
	}
	plain := strings.TrimSpace(s[:end])
	if !inFlow && strings.Contains(plain, ": ") {
		return nil, "", fmt.Errorf("mapping values are not allowed here (%q)", plain)
	}
	if plain == "~" || plain == "null" {
		return nil, s[end:], nil
	}
	return plain, s[end:], nil
}

func flowSequence(s string) (any, string, error) {
	items := []any{}
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return nil, "", fmt.Errorf("unterminated flow sequence: missing ]")
		}
		if s[0] == ']' {
			return items, s[1:], nil
		}
		v, rest, err := flowValue(s, true)
		if err != nil {
			return nil, "", err
		}
		items = append(items, v)
		rest = strings.TrimLeft(rest, " ")
		if strings.HasPrefix(rest, ",") {
			rest = rest[1:]
		} else if !strings.HasPrefix(rest, "]") {
			return nil, "", fmt.Errorf("unterminated flow sequence: missing ]")
		}
		s = rest
	}
}

func flowMapping(s string) (any, string, error) {
	m := map[string]any{}
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return nil, "", fmt.Errorf("unterminated flow mapping: missing }")
		}
		if s[0] == '}' {
			return m, s[1:], nil
		}
		colon := strings.Index(s, ":")
		if colon < 0 {
			return nil, "", fmt.Errorf("flow mapping entry without ':' in %q", s)
		}
		key := strings.Trim(strings.TrimSpace(s[:colon]), `"'`)
		if _, dup := m[key]; dup {
			return nil, "", fmt.Errorf("mapping key %q already defined", key)
		}
		v, rest, err := flowValue(s[colon+1:], true)
		if err != nil {
			return nil, "", err
		}
		m[key] = v
		rest = strings.TrimLeft(rest, " ")
		if strings.HasPrefix(rest, ",") {
			rest = rest[1:]
		} else if !strings.HasPrefix(rest, "}") {
			return nil, "", fmt.Errorf("unterminated flow mapping: missing }")
		}
		s = rest
	}
}
