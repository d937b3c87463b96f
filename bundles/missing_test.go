package bundles

import (
	"context"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
)

// Issue 13, finding 4: a bare upgrade named only the first of four missing
// bundles. Missing lists every one the offline cache lacks, and says how to get them.
func TestIssue13Finding4_MissingListsEveryBundle(t *testing.T) {
	m := newMirror(t)
	m.publish(catalog.NodeExporter, "1.8.2", AMD64, makeTarGz(t, releaseEntries(catalog.NodeExporter, "1.8.2", AMD64)), "")
	s := newTestStore(t, m)
	ctx := context.Background()
	if _, err := s.Ensure(ctx, catalog.NodeExporter, "1.8.2", AMD64); err != nil {
		t.Fatal(err)
	}
	s.Offline = true
	wants := []Want{
		{catalog.NodeExporter, "1.8.2", AMD64}, // cached
		{catalog.Prometheus, "9.9.9", AMD64},
		{catalog.Alertmanager, "9.9.9", AMD64},
		{catalog.Prometheus, "9.9.9", ARM64},
		{catalog.Grafana, "99.0.0", AMD64},
		{catalog.Prometheus, "9.9.9", AMD64}, // asked twice, listed once
	}
	missing, err := s.Missing(ctx, wants)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 4 {
		t.Fatalf("missing = %d bundles, want 4: %v", len(missing), missing)
	}
	msg := missing.Error()
	for _, want := range []string{
		"prometheus-9.9.9.linux-amd64.tar.gz", "prometheus-9.9.9.linux-arm64.tar.gz", "alertmanager-9.9.9.linux-amd64.tar.gz",
		TarballName(catalog.Grafana, "99.0.0", AMD64), "obsbox bundle pull", "obsbox bundle import", "offline",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the listing does not name %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "node_exporter-1.8.2") {
		t.Errorf("a cached bundle is listed as missing:\n%s", msg)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.hits); n != 2 { // the one download above: tarball and checksum
		t.Errorf("Missing sent requests: %v", m.hits)
	}

	// Online, Ensure fetches what is missing: nothing is listed.
	s.Offline = false
	if missing, err := s.Missing(ctx, wants); err != nil || len(missing) != 0 {
		t.Errorf("online Missing = %v, %v; want none", missing, err)
	}
}

func TestMissingBundlesAddKeepsOneOfEach(t *testing.T) {
	var m MissingBundles
	m = m.Add(&MissingError{Component: catalog.Prometheus, Version: "9.9.9", Arch: AMD64})
	m = m.Add(&MissingError{Component: catalog.Prometheus, Version: "9.9.9", Arch: AMD64}, &MissingError{Component: catalog.Alertmanager, Version: "9.9.9", Arch: AMD64})
	if len(m) != 2 || m[0].Component != catalog.Alertmanager {
		t.Errorf("Add = %+v, want alertmanager then prometheus, once each", m)
	}
}
