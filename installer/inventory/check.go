package inventory

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Small checks on single values, shared by validate and the editing functions.

var (
	hostNameRe  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	labelNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// hostFileNameRe is what a user file's name may be on a host: it reaches
	// root's shell and other tools there, so no quoting can be forgotten.
	hostFileNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)
)

// Severities a rule or route may name.
var Severities = []string{"page", "ticket", "none"}

// ValidHostName reports whether name looks like a DNS label: lowercase letters,
// digits and hyphens, 1 to 63 characters, not starting or ending with a hyphen.
func ValidHostName(name string) bool { return hostNameRe.MatchString(name) }

// labelProblem says what is wrong with a label name, or "" when nothing is.
func labelProblem(name string) string {
	switch {
	case !labelNameRe.MatchString(name):
		return fmt.Sprintf("%q is not a valid Prometheus label name: use letters, digits and underscores, not starting with a digit", name)
	case strings.HasPrefix(name, "__"):
		return fmt.Sprintf("%q is reserved: label names starting with __ are internal to Prometheus", name)
	case name == "instance" || name == "job":
		return fmt.Sprintf("%q is reserved: obsbox sets instance to the host's name and job to the scrape job", name)
	}
	return ""
}

// MaxHostFileName is the longest name a user file may have on a host (with
// room left for the ".yml" obsbox may add and a ".part" while it is written).
const MaxHostFileName = 200

// HostFileNameProblem says why name may not be the name of a user-provided
// file obsbox puts on a host (a rule file), or "" when it may. Allowed:
// letters A-Z a-z, digits, '.', '_' and '-', not starting with '.' or '-',
// at most MaxHostFileName characters.
func HostFileNameProblem(name string) string {
	const allowed = "only letters A-Z and a-z, digits, '.', '_' and '-' are allowed, not first '.' or '-'"
	switch {
	case name == "":
		return "is empty"
	case len(name) > MaxHostFileName:
		return fmt.Sprintf("is longer than %d characters", MaxHostFileName)
	case name[0] == '.' || name[0] == '-':
		return fmt.Sprintf("starts with %q (%s)", name[:1], allowed)
	case !hostFileNameRe.MatchString(name):
		for _, r := range name {
			if !(r < 0x80 && hostFileNameRe.MatchString("a"+string(r))) {
				return fmt.Sprintf("contains %s (%s)", strconv.Quote(string(r)), allowed)
			}
		}
		return allowed
	}
	return ""
}

// validHostPort reports whether s is host:port with a port in 1-65535.
func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || strings.ContainsAny(host, " \t@/") {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// httpURLProblem says what is wrong with u as an http(s) URL, without quoting
// it: the URLs checked here may carry tokens.
func httpURLProblem(u string) string {
	if u == "" {
		return "it is empty"
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") {
		return "it must be a URL starting with http:// or https://"
	}
	if p.Host == "" {
		return "it names no host"
	}
	return ""
}

// suggest returns ` Did you mean "x"?` for the closest option, or "".
func suggest(given string, options []string) string {
	best, bestDist := "", 3 // like HCL's own suggestions: at most two edits away
	for _, o := range options {
		if d := levenshtein(strings.ToLower(given), strings.ToLower(o)); d < bestDist {
			best, bestDist = o, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// attrExpr finds attribute name's expression in a native-syntax body.
func attrExpr(body hcl.Body, name string) hclsyntax.Expression {
	b, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	if a := b.Attributes[name]; a != nil {
		return a.Expr
	}
	return nil
}

// elemRange is where element i of a list attribute is written, else fallback.
func elemRange(body hcl.Body, attr string, i int, fallback hcl.Range) hcl.Range {
	if t, ok := attrExpr(body, attr).(*hclsyntax.TupleConsExpr); ok && i < len(t.Exprs) {
		return t.Exprs[i].Range()
	}
	return fallback
}

// keyRange is where key is written in a map attribute, else fallback.
func keyRange(body hcl.Body, attr, key string, fallback hcl.Range) hcl.Range {
	o, ok := attrExpr(body, attr).(*hclsyntax.ObjectConsExpr)
	if !ok {
		return fallback
	}
	for _, item := range o.Items {
		v, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || !v.Type().Equals(cty.String) {
			continue
		}
		if v.AsString() == key {
			return item.KeyExpr.Range()
		}
	}
	return fallback
}
