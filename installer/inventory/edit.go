package inventory

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/obsbox/obsbox/bundles"
	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/zclconf/go-cty/cty"
)

// Edits splice new text into the file as written: hclsyntax finds where
// things are, hclwrite renders what is added, and every other byte — comments,
// order, spacing — stays as it was. Removing a host that AddHost added gives
// back the original bytes.

// NewHost is a host for AddHost.
type NewHost struct {
	Name    string
	Address string
	Roles   []string
	Labels  map[string]string
	User    string // ssh user for this host; "" inherits the global one
}

// AddHost appends a host block after the last host block, or at the end of
// the file when there is none.
func AddHost(src []byte, h NewHost) ([]byte, error) {
	if err := checkNewHost(h); err != nil {
		return nil, err
	}
	doc, err := parseForEdit(src)
	if err != nil {
		return nil, err
	}
	hosts := doc.blocks("host")
	for _, b := range hosts {
		if len(b.Labels) > 0 && b.Labels[0] == h.Name {
			return nil, fmt.Errorf("host %q is already in the inventory (line %d)", h.Name, doc.lineOf(b.Range().Start.Byte)+1)
		}
	}
	block, err := renderHost(h)
	if err != nil {
		return nil, err
	}
	newLines := doc.newLines(block)
	if n := len(hosts); n > 0 && doc.endsLine(hosts[n-1].Range().End.Byte) {
		last := doc.lineOf(hosts[n-1].Range().End.Byte)
		if last+1 >= len(doc.lines) || isBlank(doc.lines[last+1]) {
			newLines = append([]string{doc.eol("")}, newLines...)
		}
		doc.insert(last+1, newLines)
	} else {
		doc.appendAtEnd(newLines)
	}
	out := doc.bytes()
	if err := checkHosts(out, len(hosts)+1, h.Name, true); err != nil {
		return nil, err
	}
	return out, nil
}

// checkHosts re-reads an edited file: it must parse, hold want host blocks,
// and hold (or not) the host named name. A layout the line-based edits
// cannot handle fails here rather than being written.
func checkHosts(src []byte, want int, name string, present bool) error {
	doc, err := parseForEdit(src)
	if err != nil {
		return fmt.Errorf("internal error: the edit would break the inventory: %w", err)
	}
	hosts := doc.blocks("host")
	found := false
	for _, b := range hosts {
		found = found || (len(b.Labels) > 0 && b.Labels[0] == name)
	}
	if len(hosts) != want || found != present {
		return fmt.Errorf("internal error: the edit of host %q would not give the expected host blocks; edit the inventory by hand", name)
	}
	return nil
}

// RemoveHost drops the host block named name, with the line it ends on and
// one blank line when that leaves two in a row.
func RemoveHost(src []byte, name string) ([]byte, error) {
	doc, err := parseForEdit(src)
	if err != nil {
		return nil, err
	}
	hosts := doc.blocks("host")
	for _, b := range hosts {
		if len(b.Labels) == 0 || b.Labels[0] != name {
			continue
		}
		var out []byte
		if doc.startsLine(b.Range().Start.Byte) && doc.endsLine(b.Range().End.Byte) {
			first := doc.lineOf(b.Range().Start.Byte)
			last := doc.lineOf(b.Range().End.Byte)
			doc.lines = slices.Delete(doc.lines, first, last+1)
			if first > 0 && isBlank(doc.lines[first-1]) && (first >= len(doc.lines) || isBlank(doc.lines[first])) {
				doc.lines = slices.Delete(doc.lines, first-1, first)
			}
			out = doc.bytes()
		} else {
			// The block shares a line with something else: cut the block alone.
			start, end := b.Range().Start.Byte, b.Range().End.Byte
			out = []byte(doc.src[:start] + doc.src[end:])
		}
		if err := checkHosts(out, len(hosts)-1, name, false); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("there is no host %q in the inventory", name)
}

// SetVersions sets component versions in the versions block: values are
// replaced where written, missing attributes are added (the block realigned),
// and a missing block is created after the ssh block, or at the end.
func SetVersions(src []byte, versions map[string]string) ([]byte, error) {
	comps := make([]string, 0, len(versions))
	for c, v := range versions {
		if !slices.Contains(catalog.Names(), c) {
			return nil, fmt.Errorf("unknown component %q; components: %s", c, strings.Join(catalog.Names(), ", "))
		}
		if err := bundles.CheckVersion(v); err != nil {
			return nil, fmt.Errorf("%s %w", c, err)
		}
		comps = append(comps, c)
	}
	// Catalog order, so created attributes read the same in every file.
	sort.Slice(comps, func(i, j int) bool {
		return slices.Index(catalog.Names(), comps[i]) < slices.Index(catalog.Names(), comps[j])
	})
	doc, err := parseForEdit(src)
	if err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		return doc.bytes(), nil
	}

	blocks := doc.blocks("versions")
	if len(blocks) == 0 {
		f := hclwrite.NewEmptyFile()
		body := f.Body().AppendNewBlock("versions", nil).Body()
		for _, c := range comps {
			body.SetAttributeValue(c, cty.StringVal(versions[c]))
		}
		lines := append([]string{doc.eol("")}, doc.newLines(hclwrite.Format(f.Bytes()))...)
		if ssh := doc.blocks("ssh"); len(ssh) > 0 && doc.endsLine(ssh[0].Range().End.Byte) {
			doc.insert(doc.lineOf(ssh[0].Range().End.Byte)+1, lines)
		} else {
			doc.appendAtEnd(lines[1:])
		}
		return doc.bytes(), nil
	}

	// Work on the block's bytes alone; the rest of the file is not touched.
	vb := blocks[0]
	start, end := vb.Range().Start.Byte, vb.Range().End.Byte
	type edit struct {
		from, to int
		text     string
	}
	var edits []edit
	var missing []string
	for _, c := range comps {
		val := string(hclwrite.TokensForValue(cty.StringVal(versions[c])).Bytes())
		if a, ok := vb.Body.Attributes[c]; ok {
			r := a.Expr.Range()
			edits = append(edits, edit{r.Start.Byte, r.End.Byte, val})
		} else {
			missing = append(missing, fmt.Sprintf("%s = %s", c, val))
		}
	}
	text := []byte(doc.src[start:end])
	sort.Slice(edits, func(i, j int) bool { return edits[i].from > edits[j].from })
	for _, e := range edits {
		text = slices.Concat(text[:e.from-start], []byte(e.text), text[e.to-start:])
	}
	if len(missing) > 0 {
		// Put the new attributes on their own lines before the closing brace,
		// then let hclwrite realign this block only.
		body := strings.TrimSuffix(strings.TrimSpace(string(text)), "}")
		open := strings.Index(body, "{")
		inner := strings.TrimSpace(body[open+1:])
		var b strings.Builder
		b.WriteString(body[:open+1])
		b.WriteString("\n")
		if inner != "" {
			b.WriteString(inner)
			b.WriteString("\n")
		}
		for _, m := range missing {
			b.WriteString(m)
			b.WriteString("\n")
		}
		b.WriteString("}")
		text = hclwrite.Format([]byte(b.String()))
		if doc.crlf {
			text = []byte(strings.ReplaceAll(strings.ReplaceAll(string(text), "\r\n", "\n"), "\n", "\r\n"))
		}
	}
	out := slices.Concat([]byte(doc.src[:start]), text, []byte(doc.src[end:]))
	if _, err := parseForEdit(out); err != nil {
		return nil, fmt.Errorf("internal error: rewriting the versions block broke the file: %w", err)
	}
	return out, nil
}

func checkNewHost(h NewHost) error {
	if !ValidHostName(h.Name) {
		return fmt.Errorf("host name %q must look like a DNS label: lowercase letters, digits and hyphens, 1 to 63 characters", h.Name)
	}
	if strings.TrimSpace(h.Address) == "" || strings.ContainsAny(h.Address, " \t\n/@") {
		return fmt.Errorf("host %q: address %q must be an IP address or a host name", h.Name, h.Address)
	}
	for _, r := range h.Roles {
		if !slices.Contains(catalog.Roles(), r) {
			return fmt.Errorf("host %q: %q is not a role; roles: %s", h.Name, r, strings.Join(catalog.Roles(), ", "))
		}
	}
	for k := range h.Labels {
		if p := labelProblem(k); p != "" {
			return fmt.Errorf("host %q: %s", h.Name, p)
		}
	}
	if strings.ContainsAny(h.User, " \t\n@:") {
		return fmt.Errorf("host %q: ssh user %q is not a user name", h.Name, h.User)
	}
	return nil
}

// renderHost writes a host block the way hclwrite formats it.
func renderHost(h NewHost) ([]byte, error) {
	f := hclwrite.NewEmptyFile()
	body := f.Body().AppendNewBlock("host", []string{h.Name}).Body()
	body.SetAttributeValue("address", cty.StringVal(h.Address))
	if roles := dedupe(h.Roles); len(roles) > 0 {
		vals := make([]cty.Value, len(roles))
		for i, r := range roles {
			vals[i] = cty.StringVal(r)
		}
		body.SetAttributeValue("roles", cty.ListVal(vals))
	}
	if len(h.Labels) > 0 {
		// An inline object reads better than hclwrite's one-key-per-line map.
		keys := make([]string, 0, len(h.Labels))
		for k := range h.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " = " + string(hclwrite.TokensForValue(cty.StringVal(h.Labels[k])).Bytes())
		}
		snippet, diags := hclwrite.ParseConfig([]byte("labels = { "+strings.Join(parts, ", ")+" }\n"), "", hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("host %q: cannot write its labels: %s", h.Name, diags.Error())
		}
		body.SetAttributeRaw("labels", snippet.Body().GetAttribute("labels").Expr().BuildTokens(nil))
	}
	if h.User != "" {
		body.AppendNewBlock("ssh", nil).Body().SetAttributeValue("user", cty.StringVal(h.User))
	}
	return hclwrite.Format(f.Bytes()), nil
}

// editDoc is a parsed file seen as lines, for edits that keep all else as is.
type editDoc struct {
	src   string
	file  *hclsyntax.Body
	lines []string // src split at "\n"; a final "" means a trailing newline
	crlf  bool
}

func parseForEdit(src []byte) (*editDoc, error) {
	f, diags := parse(src, "inventory")
	if diags.HasErrors() {
		return nil, fmt.Errorf("the inventory does not parse, so it is left alone: %s", diags.Error())
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil, fmt.Errorf("the inventory is not in HCL native syntax")
	}
	s := string(src)
	return &editDoc{src: s, file: body, lines: strings.Split(s, "\n"), crlf: strings.Contains(s, "\r\n")}, nil
}

// startsLine reports whether only white space precedes a parsed offset on its line.
func (d *editDoc) startsLine(o int) bool {
	ls := strings.LastIndexByte(d.src[:o], '\n') + 1
	return strings.TrimSpace(d.src[ls:o]) == ""
}

// endsLine reports whether only white space or a line comment follows a
// parsed offset on its line.
func (d *editDoc) endsLine(o int) bool {
	rest := d.src[o:]
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	rest = strings.TrimSpace(rest)
	return rest == "" || strings.HasPrefix(rest, "#") || strings.HasPrefix(rest, "//")
}

func (d *editDoc) blocks(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range d.file.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// lineOf gives the 0-based line, in the file as written, of a parsed offset.
func (d *editDoc) lineOf(o int) int {
	return strings.Count(d.src[:o], "\n")
}

// eol ends a new line the way the file ends its lines.
func (d *editDoc) eol(s string) string {
	if d.crlf {
		return s + "\r"
	}
	return s
}

// newLines splits rendered text (ending in a newline) into lines for insert.
func (d *editDoc) newLines(text []byte) []string {
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	for i, l := range lines {
		lines[i] = d.eol(l)
	}
	return lines
}

func (d *editDoc) insert(at int, lines []string) {
	d.lines = slices.Insert(d.lines, at, lines...)
}

// appendAtEnd adds lines after the last line of content, a blank line
// between, keeping the file's trailing newline (or its lack).
func (d *editDoc) appendAtEnd(lines []string) {
	n := len(d.lines)
	switch {
	case d.src == "":
		d.lines = append(lines, "")
	case d.lines[n-1] == "":
		d.insert(n-1, append([]string{d.eol("")}, lines...))
	default:
		d.lines = append(d.lines, append([]string{d.eol("")}, lines...)...)
	}
}

func (d *editDoc) bytes() []byte { return []byte(strings.Join(d.lines, "\n")) }

func isBlank(line string) bool { return strings.TrimSpace(line) == "" }
