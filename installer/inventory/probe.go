package inventory

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl/v2"
)

// Probe modules a probe block may name.
const (
	ProbeHTTP2xx    = "http_2xx"    // an HTTP(S) request must answer 2xx
	ProbeTCPConnect = "tcp_connect" // a TCP connection must open
	ProbeICMP       = "icmp"        // the host must answer a ping
	ProbeDNS        = "dns"         // the resolver must answer a query
)

// ProbeModules lists the valid probe modules.
var ProbeModules = []string{ProbeHTTP2xx, ProbeTCPConnect, ProbeICMP, ProbeDNS}

// Probe is one probe block: every target is probed with Module every Interval
// from every Prometheus host; each series carries probe = Name, instance =
// the target, and Labels.
//
// Targets, by module:
//   - http_2xx: an http:// or https:// URL, or host:port (probed as http://host:port/);
//   - tcp_connect: host:port;
//   - icmp: a host name or IP address, no port;
//   - dns: the resolver to ask, host or host:port (port 53 when left out).
type Probe struct {
	Name     string
	Module   string // default http_2xx when every target is an http(s) URL; required otherwise
	Targets  []string
	Interval string // a Prometheus duration; default: prometheus.scrape_interval
	Labels   map[string]string

	DeclRange hcl.Range // where the probe block is, for errors
}

type rawProbe struct {
	Name     string            `hcl:"name,label"`
	Module   *string           `hcl:"module,optional"`
	Targets  []string          `hcl:"targets"`
	Interval *string           `hcl:"interval,optional"`
	Labels   map[string]string `hcl:"labels,optional"`

	Body          hcl.Body  `hcl:",body"`
	NameRange     hcl.Range `hcl:"name,label_range"`
	ModuleRange   hcl.Range `hcl:"module,attr_value_range"`
	TargetsRange  hcl.Range `hcl:"targets,attr_value_range"`
	IntervalRange hcl.Range `hcl:"interval,attr_value_range"`
	LabelsRange   hcl.Range `hcl:"labels,attr_value_range"`
	DefRange      hcl.Range `hcl:",def_range"`
}

// ProbeLabel is the label every probe series carries with the probe's name.
const ProbeLabel = "probe"

// probeNameRe: the name is a label value and may name a job and files.
var probeNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)

// dnsNameRe is a host name: dot-separated labels of letters, digits and hyphens.
var dnsNameRe = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)

func buildProbes(raw []rawProbe, scrapeInterval string) []Probe {
	var out []Probe
	for _, rp := range raw {
		out = append(out, Probe{
			Name:      rp.Name,
			Module:    deref(rp.Module, defaultProbeModule(rp.Targets)),
			Targets:   slices.Clone(rp.Targets),
			Interval:  deref(rp.Interval, scrapeInterval),
			Labels:    copyMap(rp.Labels),
			DeclRange: rp.DefRange,
		})
	}
	return out
}

// defaultProbeModule is http_2xx when every target is an http(s) URL, else
// "" (validation then asks for the module).
func defaultProbeModule(targets []string) string {
	if len(targets) == 0 {
		return ""
	}
	for _, t := range targets {
		if !isHTTPURL(t) {
			return ""
		}
	}
	return ProbeHTTP2xx
}

func isHTTPURL(t string) bool {
	return strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://")
}

func (v *validator) probes(probes []rawProbe) {
	names := map[string]hcl.Range{}
	for i := range probes {
		p := &probes[i]
		what := fmt.Sprintf("probe %q", p.Name)
		if !probeNameRe.MatchString(p.Name) {
			v.errorf(p.NameRange, "Invalid probe name",
				"probe name %q must be 1 to 63 letters, digits, '_' or '-', starting with a letter or digit", p.Name)
		}
		if first, ok := names[p.Name]; ok {
			v.errorf(p.NameRange, "Duplicate probe name", "probe %q is already defined at %s", p.Name, v.at(first))
		} else {
			names[p.Name] = p.NameRange
		}

		module := ""
		switch {
		case p.Module != nil && slices.Contains(ProbeModules, *p.Module):
			module = *p.Module
		case p.Module != nil:
			v.errorf(p.ModuleRange, "Unknown probe module", "%s: %q is not a probe module.%s Modules: %s.",
				what, *p.Module, suggest(*p.Module, ProbeModules), quoteList(ProbeModules))
		case len(p.Targets) > 0:
			module = defaultProbeModule(p.Targets)
			if module == "" {
				v.errorf(pick(p.TargetsRange, p.DefRange), "Probe module needed",
					`%s: module defaults to "http_2xx" only when every target is an http:// or https:// URL; set module to one of %s`,
					what, quoteList(ProbeModules))
			}
		}

		if isSet(p.TargetsRange) && !v.failedIn(p.TargetsRange) && len(p.Targets) == 0 {
			v.errorf(p.TargetsRange, "No probe targets", "%s: targets is empty", what)
		}
		seen := map[string]int{}
		for k, t := range p.Targets {
			rng := elemRange(p.Body, "targets", k, p.TargetsRange)
			if j, dup := seen[t]; dup {
				v.errorf(rng, "Duplicate probe target", "%s: target %s is already listed at %s", what, showTarget(t), v.at(elemRange(p.Body, "targets", j, p.TargetsRange)))
				continue
			}
			seen[t] = k
			if module == "" {
				continue
			}
			if prob := probeTargetProblem(module, t); prob != "" {
				v.errorf(rng, "Invalid probe target", "%s: target %s %s", what, showTarget(t), prob)
			}
		}

		v.duration(p.Interval, p.IntervalRange, what+" interval", false)
		v.labels(p.Labels, p.Body, p.LabelsRange, what)
		if _, ok := p.Labels[ProbeLabel]; ok {
			v.errorf(keyRange(p.Body, "labels", ProbeLabel, p.LabelsRange), "Reserved label name",
				"%s: %q is reserved: obsbox sets probe to the probe's name", what, ProbeLabel)
		}
	}
}

// probeTargetProblem says why t is not a target module can probe, or "".
func probeTargetProblem(module, t string) string {
	if t == "" {
		return "is empty"
	}
	if strings.ContainsFunc(t, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return "contains white space or control characters"
	}
	switch module {
	case ProbeHTTP2xx:
		if isHTTPURL(t) {
			if prob := httpURLProblem(t); prob != "" {
				return "is not usable: " + prob
			}
			return ""
		}
		if validProbeHostPort(t) {
			return ""
		}
		return `must be an http:// or https:// URL (or host:port, probed as http://host:port/) for module "http_2xx"`
	case ProbeTCPConnect:
		if validProbeHostPort(t) {
			return ""
		}
		return `must be host:port for module "tcp_connect", for example "10.0.1.10:5432"`
	case ProbeICMP:
		if validProbeHost(t) {
			return ""
		}
		return `must be a host name or IP address without a port for module "icmp"`
	case ProbeDNS:
		if validProbeHost(t) || validProbeHostPort(t) {
			return ""
		}
		return `must be the resolver to ask, host or host:port, for module "dns", for example "10.0.0.53" or "10.0.0.53:53"`
	}
	return ""
}

func validProbeHost(h string) bool {
	return net.ParseIP(h) != nil || dnsNameRe.MatchString(h)
}

func validProbeHostPort(t string) bool {
	host, _, err := net.SplitHostPort(t)
	return err == nil && validHostPort(t) && validProbeHost(host)
}

// showTarget quotes a target for a message, without any password in it.
func showTarget(t string) string {
	if u, err := url.Parse(t); err == nil && u.User != nil {
		return fmt.Sprintf("%q", u.Redacted())
	}
	return fmt.Sprintf("%q", t)
}
