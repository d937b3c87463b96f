package inventory

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Load reads, decodes, defaults and validates the inventory at path.
// It returns a nil inventory when the diagnostics hold an error; warnings
// come back alongside a usable inventory.
func Load(path string) (*Inventory, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read inventory",
			Detail:   fmt.Sprintf("%s: %v. Write an example with \"obsbox init\", or name another file with -i.", path, unwrapPathError(err)),
		}}
	}
	return LoadSource(path, src)
}

// LoadSource is Load for an inventory already read. path names the file in
// diagnostics and anchors relative paths (file(), private_key, rule_files, …).
func LoadSource(path string, src []byte) (*Inventory, hcl.Diagnostics) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	dir := filepath.Dir(abs)

	file, diags := parse(src, path)
	if diags.HasErrors() {
		// After a syntax error the tree is partial; decoding it would only
		// add confusing follow-on errors.
		return nil, tidy(independentSyntaxErrors(src, path, diags), nil)
	}

	var raw rawFile
	ctx := evalContext(dir)
	decodeDiags := gohcl.DecodeBody(file.Body, ctx, &raw)
	decodeDiags = append(decodeDiags, decodeVersions(raw.Versions, ctx)...)
	nameValueErrors(file.Body, decodeDiags)

	inv := build(&raw, abs, dir, src)
	v := &validator{filename: path, dir: dir, prior: decodeDiags}
	v.check(&raw, inv)
	v.duplicateKeys(file.Body)
	diags = append(diags, decodeDiags...)
	diags = append(diags, v.diags...)

	diags = tidy(diags, raw.secrets())
	if diags.HasErrors() {
		return nil, diags
	}
	return inv, diags
}

// maxSyntaxReparses bounds the work independentSyntaxErrors does on a file
// full of errors (the fuzzer's daily bread).
const maxSyntaxReparses = 8

// independentSyntaxErrors keeps, of a file's syntax errors, the first and
// those that do not follow from an earlier one. HCL's recovery cascades: one
// unclosed quote flips every later quote and yields an error on each line
// after it. An error is independent when it is still reported once the lines
// of the errors kept before it are blanked out (same length, so positions
// hold); errors that vanish then were their consequences.
func independentSyntaxErrors(src []byte, filename string, diags hcl.Diagnostics) hcl.Diagnostics {
	var errs, other hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError && d.Subject != nil {
			errs = append(errs, d)
		} else {
			other = append(other, d)
		}
	}
	if len(errs) == 0 {
		return diags
	}
	sortByPos(errs)
	key := func(d *hcl.Diagnostic) string { return fmt.Sprintf("%s|%d", d.Summary, d.Subject.Start.Byte) }
	text := slices.Clone(src)
	kept := hcl.Diagnostics{errs[0]}
	for range maxSyntaxReparses {
		last := kept[len(kept)-1]
		balanced := blankLine(text, last.Subject.Start.Byte)
		_, again := parse(text, filename)
		sortByPos(again)
		still := map[string]bool{}
		for _, d := range again {
			if d.Severity == hcl.DiagError && d.Subject != nil {
				still[key(d)] = true
			}
		}
		var next *hcl.Diagnostic
		for _, d := range errs {
			// The next error of the original file after the last kept line
			// that the blanked text still has.
			if d.Subject.Start.Line > last.Subject.Start.Line && still[key(d)] {
				next = d
				break
			}
		}
		if balanced {
			// HCL stops reporting inside a body after its first error, so
			// an error the blanked text reveals is the file's own too, unless
			// blanking unbalanced a brace (then it may be an artefact).
			for _, d := range again {
				if d.Severity == hcl.DiagError && d.Subject != nil && d.Subject.Start.Line > last.Subject.Start.Line {
					if next == nil || d.Subject.Start.Byte < next.Subject.Start.Byte {
						next = d
					}
					break
				}
			}
		}
		if next == nil {
			break
		}
		kept = append(kept, next)
	}
	kept[0] = explainUnclosedQuote(src, filename, kept[0])
	return append(kept, other...)
}

// explainUnclosedQuote turns HCL's report of a forgotten closing quote
// ("Invalid multi-line string" at the end of the line) into one that points
// at the quote left open.
func explainUnclosedQuote(src []byte, filename string, d *hcl.Diagnostic) *hcl.Diagnostic {
	if d.Summary != "Invalid multi-line string" && d.Summary != "Unterminated template string" {
		return d
	}
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	var open []hcl.Range // quotes opened and not yet closed, innermost last
	for _, t := range toks {
		if t.Range.Start.Byte >= d.Subject.Start.Byte {
			break
		}
		switch t.Type {
		case hclsyntax.TokenOQuote:
			open = append(open, t.Range)
		case hclsyntax.TokenCQuote:
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		}
	}
	if len(open) == 0 {
		return d
	}
	q := open[len(open)-1]
	if q.Start.Line != d.Subject.Start.Line {
		return d
	}
	c := *d
	c.Summary = "Unclosed quote"
	c.Detail = "This string is not closed on its line: add the closing \". A quoted string cannot span lines; for several lines use \\n or a heredoc (<<EOT ... EOT)."
	c.Subject = &q
	c.Context = nil
	return &c
}

// blankLine replaces the line holding byte off with spaces, keeping its
// length, and reports whether the line opened as many braces as it closed.
func blankLine(b []byte, off int) bool {
	if off < 0 || off > len(b) {
		return false
	}
	start := off
	for start > 0 && b[start-1] != '\n' {
		start--
	}
	depth := 0
	for i := start; i < len(b) && b[i] != '\n'; i++ {
		switch b[i] {
		case '{':
			depth++
		case '}':
			depth--
		}
		b[i] = ' '
	}
	return depth == 0
}

func sortByPos(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int { return cmp.Compare(diagPos(a).byte, diagPos(b).byte) })
}

// decodeVersions evaluates the versions block's attributes, which gohcl left
// undecoded so validate can name unknown components itself.
func decodeVersions(rv *rawVersions, ctx *hcl.EvalContext) hcl.Diagnostics {
	if rv == nil {
		return nil
	}
	var diags hcl.Diagnostics
	rv.Values = map[string]string{}
	rv.Ranges = map[string]hcl.Range{}
	rv.NameRanges = map[string]hcl.Range{}
	for name, attr := range rv.Attrs {
		var s string
		d := gohcl.DecodeExpression(attr.Expr, ctx, &s)
		diags = append(diags, d...)
		rv.NameRanges[name] = attr.NameRange
		rv.Ranges[name] = attr.Expr.Range()
		if !d.HasErrors() {
			rv.Values[name] = s
		}
	}
	return diags
}

// tidy makes diagnostics fit to show: it drops the follow-on "value must be
// known" errors that a failed function call causes, removes every secret
// value from the text, forgets the evaluation context (which holds values),
// drops exact duplicates and sorts by position.
func tidy(diags hcl.Diagnostics, secrets []string) hcl.Diagnostics {
	hasOtherError := false
	for _, d := range diags {
		if d.Severity == hcl.DiagError && !isUnknownValueDiag(d) {
			hasOtherError = true
			break
		}
	}
	// Longest first so a secret containing another is replaced whole.
	slices.SortFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })

	out := make(hcl.Diagnostics, 0, len(diags))
	seen := map[string]bool{}
	for _, d := range diags {
		if hasOtherError && isUnknownValueDiag(d) {
			continue
		}
		c := *d
		c.Summary = redact(c.Summary, secrets)
		c.Detail = redact(c.Detail, secrets)
		c.Expression = nil
		c.EvalContext = nil
		key := fmt.Sprintf("%d|%s|%s|%v", c.Severity, c.Summary, c.Detail, c.Subject)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, &c)
	}
	slices.SortStableFunc(out, func(a, b *hcl.Diagnostic) int {
		pa, pb := diagPos(a), diagPos(b)
		if c := cmp.Compare(pa.file, pb.file); c != 0 {
			return c
		}
		return cmp.Compare(pa.byte, pb.byte)
	})
	return out
}

type pos struct {
	file string
	byte int
}

func diagPos(d *hcl.Diagnostic) pos {
	if d.Subject == nil {
		return pos{byte: -1}
	}
	return pos{file: d.Subject.Filename, byte: d.Subject.Start.Byte}
}

func isUnknownValueDiag(d *hcl.Diagnostic) bool {
	return d.Summary == "Unsuitable value type" && strings.Contains(d.Detail, "value must be known")
}

func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "(sensitive)")
		}
	}
	return s
}

// secrets lists every non-empty value that goes into a Secret field.
func (r *rawFile) secrets() []string {
	var out []string
	add := func(ps ...*string) {
		for _, p := range ps {
			if p != nil && *p != "" {
				out = append(out, *p)
			}
		}
	}
	if r.SSH != nil {
		add(r.SSH.SudoPassword)
	}
	for _, h := range r.Hosts {
		if h.SSH != nil {
			add(h.SSH.SudoPassword)
		}
	}
	if r.Grafana != nil {
		add(r.Grafana.AdminPassword)
	}
	if r.Security != nil {
		add(r.Security.WebPassword)
	}
	if r.Prometheus != nil {
		for _, rw := range r.Prometheus.RemoteWrite {
			add(&rw.URL, rw.Password, rw.BearerToken)
		}
	}
	if r.Alertmanager != nil {
		for _, rc := range r.Alertmanager.Receivers {
			if rc.Webhook != nil {
				add(&rc.Webhook.URL)
			}
			if rc.Slack != nil {
				add(&rc.Slack.APIURL)
			}
			if rc.PagerDuty != nil {
				add(&rc.PagerDuty.RoutingKey)
			}
			if rc.Email != nil {
				add(rc.Email.AuthPassword)
			}
		}
	}
	return out
}

// nameValueErrors rewrites gohcl's "Unsuitable value type" errors, which do
// not say which attribute they are about, to name it and to point at the
// whole value.
func nameValueErrors(body hcl.Body, diags hcl.Diagnostics) {
	b, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	for _, d := range diags {
		if d.Summary != "Unsuitable value type" || d.Subject == nil || isUnknownValueDiag(d) {
			continue
		}
		where, attr := findAttr(b, "", d.Subject.Start.Byte)
		if attr == nil {
			continue
		}
		r := attr.Expr.Range()
		d.Summary = "Wrong value type"
		d.Detail = fmt.Sprintf("%s%s: %s", where, attr.Name, strings.TrimPrefix(d.Detail, "Unsuitable value: "))
		d.Subject = &r
		d.Context = nil
	}
}

// findAttr finds the attribute whose value holds byte offset off, and the
// blocks around it as written ("host \"web-1\" ssh ").
func findAttr(b *hclsyntax.Body, where string, off int) (string, *hclsyntax.Attribute) {
	for _, a := range b.Attributes {
		if r := a.Expr.Range(); off >= r.Start.Byte && off < max(r.End.Byte, r.Start.Byte+1) {
			return where, a
		}
	}
	for _, blk := range b.Blocks {
		if r := blk.Body.Range(); off >= r.Start.Byte && off < r.End.Byte {
			w := where + blk.Type + " "
			for _, l := range blk.Labels {
				w += strconv.Quote(l) + " "
			}
			return findAttr(blk.Body, w, off)
		}
	}
	return "", nil
}
