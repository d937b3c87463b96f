package inventory

import (
	"fmt"
	"github.com/zclconf/go-cty/cty"
	"math"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Small checks on single values, shared by validate and the editing functions.

var (
	versionRe   = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
	hostNameRe  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	labelNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// hostFileNameRe is what a user file's name may be on a host: it reaches
	// root's shell and other tools there, so no quoting can be forgotten.
	hostFileNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)
	durationRe     = regexp.MustCompile(`^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$`)
)

// Severities a rule or route may name.
var Severities = []string{"page", "ticket", "none"}

// ValidVersion reports whether v is MAJOR.MINOR.PATCH with an optional -prerelease.
func ValidVersion(v string) bool { return versionRe.MatchString(v) }

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

// parseDuration parses Prometheus's duration syntax (1y2w3d4h5m6s7ms, units in
// that order, each at most once; "0" alone is zero). Prometheus's own rules,
// so what validate accepts Prometheus accepts too.
func parseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	m := durationRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a duration: write a number and a unit (ms, s, m, h, d, w, y), largest unit first, for example 30s, 1h30m or 15d", s)
	}
	units := []time.Duration{365 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second, time.Millisecond}
	var total time.Duration
	for i, unit := range units {
		n := m[2*i+2]
		if n == "" {
			continue
		}
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil || v > int64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(v)*unit {
			return 0, fmt.Errorf("%q is too long a duration", s)
		}
		total += time.Duration(v) * unit
	}
	return total, nil
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
