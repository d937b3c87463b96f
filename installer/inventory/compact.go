package inventory

import (
	"bytes"
	"sort"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// HCL allows one attribute in a one-line block and no nested block on that
// line, yet SPEC.md writes inventories like
//
//	receiver "team" { slack { api_url = env("SLACK_URL") channel = "#alerts" } }
//	route { severity = "page"   receiver = "oncall" }
//
// When a file does not parse as is, parse retries with newlines inserted
// where such a line needs them, and posMap maps every position back to the
// file as written, so diagnostics still point at the user's own lines.

// parse parses src, accepting the compact one-line block style.
// The posMap is nil when the file parsed as written.
func parse(src []byte, filename string) (*hcl.File, *posMap, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if !diags.HasErrors() {
		return f, nil, diags
	}
	norm, ins := expandCompactBlocks(src)
	if len(ins) == 0 {
		return f, nil, diags
	}
	// Newlines go only where the compact style needs them, so errors left
	// after expanding are the file's own; they are mapped back to it.
	f2, diags2 := hclsyntax.ParseConfig(norm, filename, hcl.InitialPos)
	pm := newPosMap(src, ins)
	for _, d := range diags2 {
		pm.mapDiag(d)
	}
	return f2, pm, diags2
}

type bodyState int

const (
	atLineStart bodyState = iota // nothing yet on this line
	inHeader                     // a name seen: attribute or block header
	inValue                      // after "=": an attribute's expression
	afterBlock                   // a nested block just closed
)

// expandCompactBlocks returns src with a newline inserted wherever a one-line
// block holds more than HCL allows, and the offsets in src where each went.
func expandCompactBlocks(src []byte) ([]byte, []int) {
	toks, diags := hclsyntax.LexConfig(src, "", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, nil
	}
	// A frame is a block body (where the rules apply) or an expression
	// bracket of any kind (where they do not).
	type frame struct {
		body  bool
		state bodyState
	}
	stack := []frame{{body: true}}
	var ins []int
	prev := hclsyntax.TokenNewline
	for i, t := range toks {
		top := &stack[len(stack)-1]
		switch {
		case !top.body:
			switch t.Type {
			case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenOQuote,
				hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
				stack = append(stack, frame{})
			case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
				hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
				stack = stack[:len(stack)-1]
			}
		case t.Type == hclsyntax.TokenNewline || isLineComment(t):
			top.state = atLineStart
		case t.Type == hclsyntax.TokenIdent:
			switch {
			case top.state == atLineStart:
				top.state = inHeader
			case top.state == afterBlock || (top.state == inValue && endsExpression(prev)):
				ins = append(ins, t.Range.Start.Byte)
				top.state = inHeader
			}
		case t.Type == hclsyntax.TokenEqual && top.state == inHeader:
			top.state = inValue
		case t.Type == hclsyntax.TokenOBrace && top.state == inHeader:
			stack = append(stack, frame{body: true})
			if i+1 < len(toks) {
				next := toks[i+1]
				if next.Type != hclsyntax.TokenNewline && next.Type != hclsyntax.TokenCBrace && !isLineComment(next) {
					ins = append(ins, t.Range.End.Byte)
				}
			}
		case t.Type == hclsyntax.TokenCBrace:
			if top.state != atLineStart {
				ins = append(ins, t.Range.Start.Byte)
			}
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
				stack[len(stack)-1].state = afterBlock
			}
		case t.Type == hclsyntax.TokenOBrace, t.Type == hclsyntax.TokenOBrack, t.Type == hclsyntax.TokenOParen,
			t.Type == hclsyntax.TokenOQuote, t.Type == hclsyntax.TokenOHeredoc:
			stack = append(stack, frame{})
		}
		if t.Type != hclsyntax.TokenNewline && !isLineComment(t) {
			prev = t.Type
		}
		if len(stack) == 0 { // unbalanced: give up
			return nil, nil
		}
	}
	if len(ins) == 0 {
		return nil, nil
	}
	var b bytes.Buffer
	last := 0
	for _, o := range ins {
		b.Write(src[last:o])
		b.WriteByte('\n')
		last = o
	}
	b.Write(src[last:])
	return b.Bytes(), ins
}

func isLineComment(t hclsyntax.Token) bool {
	return t.Type == hclsyntax.TokenComment && bytes.HasSuffix(t.Bytes, []byte("\n"))
}

func endsExpression(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenCQuote, hclsyntax.TokenCParen, hclsyntax.TokenCBrack, hclsyntax.TokenCBrace,
		hclsyntax.TokenNumberLit, hclsyntax.TokenIdent, hclsyntax.TokenCHeredoc:
		return true
	}
	return false
}

// posMap maps positions in the expanded source back to the source as written.
type posMap struct {
	src        []byte
	ins        []int // offsets in src where a newline was inserted, ascending
	lineStarts []int // offsets in src where each line starts
}

func newPosMap(src []byte, ins []int) *posMap {
	m := &posMap{src: src, ins: ins, lineStarts: []int{0}}
	for i, c := range src {
		if c == '\n' {
			m.lineStarts = append(m.lineStarts, i+1)
		}
	}
	return m
}

// offset maps a byte offset in the expanded source to one in src.
func (m *posMap) offset(n int) int {
	if m == nil {
		return n
	}
	// The k-th inserted newline sits at ins[k]+k in the expanded source.
	c := sort.Search(len(m.ins), func(k int) bool { return m.ins[k]+k >= n })
	return min(max(n-c, 0), len(m.src))
}

func (m *posMap) pos(p hcl.Pos) hcl.Pos {
	o := m.offset(p.Byte)
	line := sort.Search(len(m.lineStarts), func(i int) bool { return m.lineStarts[i] > o }) - 1
	start := m.lineStarts[line]
	return hcl.Pos{Line: line + 1, Column: utf8.RuneCount(m.src[start:o]) + 1, Byte: o}
}

// rng maps a range; a nil map leaves it as it is.
func (m *posMap) rng(r hcl.Range) hcl.Range {
	if m == nil || !isSet(r) {
		return r
	}
	r.Start, r.End = m.pos(r.Start), m.pos(r.End)
	return r
}

func (m *posMap) mapDiag(d *hcl.Diagnostic) {
	if m == nil {
		return
	}
	if d.Subject != nil {
		r := m.rng(*d.Subject)
		d.Subject = &r
	}
	if d.Context != nil {
		r := m.rng(*d.Context)
		d.Context = &r
	}
}
