package inventory

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/obsbox/obsbox/installer/catalog"
)

// WriteDiagnostics prints each diagnostic as
//
//	file:line:col: severity: summary; detail
//	  the offending source line
//	  ^^^^
//
// src maps file names to their content; a file missing from it gets no
// source line. Write errors are ignored. Secret values written literally in the file are masked on
// the printed line.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, src map[string][]byte) {
	bw := bufio.NewWriter(w)
	masks := map[string][]span{}
	for _, d := range diags {
		msg := d.Summary
		if d.Detail != "" {
			msg += "; " + d.Detail
		}
		if d.Subject == nil {
			fmt.Fprintf(bw, "%s: %s\n", severityName(d.Severity), msg)
			continue
		}
		s := d.Subject
		fmt.Fprintf(bw, "%s:%d:%d: %s: %s\n", s.Filename, s.Start.Line, s.Start.Column, severityName(d.Severity), msg)
		b, ok := src[s.Filename]
		if !ok || s.Start.Byte < 0 || s.Start.Byte > len(b) {
			continue
		}
		m, ok := masks[s.Filename]
		if !ok {
			m = secretSpans(b)
			masks[s.Filename] = m
		}
		line, carets := sourceLine(b, s.Start.Byte, s.End.Byte, m)
		fmt.Fprintf(bw, "  %s\n  %s\n", line, carets)
	}
	bw.Flush() // nowhere better to report a failed write of an error report
}

func severityName(s hcl.DiagnosticSeverity) string {
	switch s {
	case hcl.DiagError:
		return "error"
	case hcl.DiagWarning:
		return "warning"
	}
	return "note"
}

type span struct{ start, end int } // byte offsets, end exclusive

const masked = "(sensitive)"

// sourceLine returns the line holding byte offset start, secret spans
// masked, and a caret line under [start, end) (clipped to that line).
func sourceLine(src []byte, start, end int, masks []span) (string, string) {
	ls := start
	for ls > 0 && src[ls-1] != '\n' {
		ls--
	}
	le := start
	for le < len(src) && src[le] != '\n' {
		le++
	}
	end = min(max(end, start), le)

	// col[i] is the display column (in runes) of byte ls+i of the line.
	var out strings.Builder
	col := make([]int, le-ls+1)
	n := 0
	for i := ls; i < le; {
		if sp, ok := maskAt(masks, i); ok {
			stop := min(sp.end, le)
			for j := i; j < stop; j++ {
				col[j-ls] = n
			}
			out.WriteString(masked)
			n += len(masked)
			i = stop
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		for j := i; j < i+size && j < le; j++ {
			col[j-ls] = n
		}
		if r == utf8.RuneError && size <= 1 {
			r = '?'
		}
		out.WriteRune(r)
		n++
		i += size
	}
	col[le-ls] = n
	line := strings.TrimRight(out.String(), "\r")

	startCol, endCol := col[start-ls], col[end-ls]
	var c strings.Builder
	for i, r := range []rune(line) {
		if i >= startCol {
			break
		}
		if r == '\t' {
			c.WriteRune('\t')
		} else {
			c.WriteRune(' ')
		}
	}
	c.WriteString(strings.Repeat("^", max(1, endCol-startCol)))
	return line, c.String()
}

func maskAt(masks []span, i int) (span, bool) {
	for _, m := range masks {
		if i >= m.start && i < m.end {
			return m, true
		}
	}
	return span{}, false
}

// secretAttrs names, by enclosing block path, the attributes whose values are Secrets.
// The components' own come from the catalog.
var secretAttrs = func() map[string][]string {
	m := map[string][]string{
		"ssh":      {"sudo_password"},
		"host/ssh": {"sudo_password"},
	}
	for _, c := range catalog.All() {
		maps.Copy(m, c.Secrets)
	}
	return m
}()

// secretLineRe finds a secret attribute on a line the parser could not make
// sense of, so a literal secret on a broken line is masked too.
var secretLineRe = regexp.MustCompile(`\b(sudo_password|admin_password|url|password|bearer_token|routing_key|api_url|auth_password)\s*=\s*`)

// secretSpans finds where secret values are written literally in src. The
// name in env("NAME") and the path in file("path") are not secret and stay.
func secretSpans(src []byte) []span {
	var spans, seen []span // seen: secret attributes the parser found
	f, _ := parse(src, "")
	if f != nil {
		if body, ok := f.Body.(*hclsyntax.Body); ok {
			toSpan := func(r hcl.Range) span { return span{r.Start.Byte, r.End.Byte} }
			walkSecrets(body, "", func(a *hclsyntax.Attribute) { seen = append(seen, toSpan(a.Range())) },
				func(e hclsyntax.Expression) { spans = append(spans, toSpan(e.Range())) })
		}
	}
	// Lines the parser lost: mask from the "=" to the end of the line.
	lineStart := 0
	for lineStart <= len(src) {
		lineEnd := lineStart
		for lineEnd < len(src) && src[lineEnd] != '\n' {
			lineEnd++
		}
		if loc := secretLineRe.FindIndex(src[lineStart:lineEnd]); loc != nil && !covered(seen, lineStart, lineEnd) {
			spans = append(spans, span{lineStart + loc[1], lineEnd})
		}
		lineStart = lineEnd + 1
	}
	return spans
}

func covered(spans []span, from, to int) bool {
	for _, s := range spans {
		if s.start < to && s.end > from {
			return true
		}
	}
	return false
}

// walkSecrets calls found for each secret attribute and mask for each part
// of its value to hide.
func walkSecrets(b *hclsyntax.Body, path string, found func(*hclsyntax.Attribute), mask func(hclsyntax.Expression)) {
	key := strings.TrimPrefix(path, "/")
	for name, a := range b.Attributes {
		if slices.Contains(secretAttrs[key], name) {
			found(a)
			maskValue(a.Expr, mask)
		}
	}
	for _, blk := range b.Blocks {
		walkSecrets(blk.Body, path+"/"+blk.Type, found, mask)
	}
}

// maskValue masks an expression except env's and file's first argument.
func maskValue(e hclsyntax.Expression, mask func(hclsyntax.Expression)) {
	call, ok := e.(*hclsyntax.FunctionCallExpr)
	if !ok {
		mask(e)
		return
	}
	switch call.Name {
	case "env", "file", "trimspace":
		for i, a := range call.Args {
			if i == 0 && call.Name != "trimspace" {
				continue
			}
			maskValue(a, mask)
		}
	default:
		mask(e)
	}
}

// jsonDiagnostic is one entry of DiagnosticsJSON's array.
type jsonDiagnostic struct {
	Severity  string `json:"severity"`
	Summary   string `json:"summary"`
	Detail    string `json:"detail"`
	File      string `json:"file"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	EndLine   int    `json:"end_line"`
	EndColumn int    `json:"end_column"`
}

// DiagnosticsJSON renders diags as a JSON array (never null) of
// {severity, summary, detail, file, line, column, end_line, end_column}.
func DiagnosticsJSON(diags hcl.Diagnostics) ([]byte, error) {
	out := make([]jsonDiagnostic, 0, len(diags))
	for _, d := range diags {
		j := jsonDiagnostic{Severity: severityName(d.Severity), Summary: d.Summary, Detail: d.Detail}
		if s := d.Subject; s != nil {
			j.File, j.Line, j.Column, j.EndLine, j.EndColumn = s.Filename, s.Start.Line, s.Start.Column, s.End.Line, s.End.Column
		}
		out = append(out, j)
	}
	return json.Marshal(out)
}
