package installer

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// metricsPage is one read of a component's /metrics: the gate's checks
// (reload state, version, cluster size) all read the same page, so at a
// distance they cost one request.
type metricsPage struct {
	url   string
	lines []string
}

// metricsPageMax bounds what is read of a page; Prometheus' own is well
// under a megabyte.
const metricsPageMax = 16 << 20

// fetchPage reads the page at url, whole (so the connection is kept); an
// answer other than 200 is an error ("HTTP 503 Service Unavailable").
func fetchPage(ctx context.Context, client *http.Client, url string) (*metricsPage, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, metricsPageMax))
	if err != nil {
		return nil, err
	}
	return &metricsPage{url: url, lines: strings.Split(string(body), "\n")}, nil
}

// reloadProblem is "" when metric (a *_config_last_reload_successful) is 1.
func (p *metricsPage) reloadProblem(metric string) string {
	for _, line := range p.lines {
		if v, ok := strings.CutPrefix(line, metric+" "); ok {
			if strings.TrimSpace(v) == "1" {
				return ""
			}
			return "the last configuration reload failed (" + metric + " is 0)"
		}
	}
	return metric + " not found"
}

// buildVersion reads the version label (label; "" means version) of a
// *_build_info metric.
func (p *metricsPage) buildVersion(metric, label string) (string, error) {
	if label == "" {
		label = "version"
	}
	versionLabel := regexp.MustCompile(`[{,]\s*` + regexp.QuoteMeta(label) + `="([^"]*)"`)
	for _, line := range p.lines {
		if strings.HasPrefix(line, metric+"{") {
			if m := versionLabel.FindStringSubmatch(line); m != nil {
				return m[1], nil
			}
		}
	}
	return "", fmt.Errorf("%s not found at %s", metric, p.url)
}

// clusterMembers reads amClusterMetric.
func (p *metricsPage) clusterMembers() (int, error) {
	for _, line := range p.lines {
		if v, ok := strings.CutPrefix(line, amClusterMetric+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %q is not a number", amClusterMetric, v)
			}
			return int(f), nil
		}
	}
	return 0, fmt.Errorf("%s not found at %s", amClusterMetric, p.url)
}

// clusterMembers reads amClusterMetric at url (a metrics page).
func clusterMembers(ctx context.Context, client *http.Client, url string) (int, error) {
	p, err := fetchPage(ctx, client, url)
	if err != nil {
		return 0, err
	}
	return p.clusterMembers()
}
