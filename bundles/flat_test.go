package bundles

import (
	"archive/tar"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
)

// TestIssue15_FlatTarball: VictoriaMetrics' tarball holds victoria-metrics-prod
// at its root. It is downloaded under upstream's names, cached, listed and
// imported like any other; what a flat tarball may not do is still refused,
// judged where the host puts it (tar without --strip-components).
func TestIssue15_FlatTarball(t *testing.T) {
	vm, v := catalog.VictoriaMetrics, "1.151.0"
	tb, sum := catalog.Get(vm).ReleasePaths(v, AMD64)
	m := newMirror(t)
	good := makeTarGz(t, releaseEntries(vm, v, AMD64))
	m.publish(vm, v, AMD64, good, "")
	if p, c := m.paths(vm, v, AMD64); p != tb || c != sum {
		t.Fatalf("mirror paths %s %s, want upstream's %s %s", p, c, tb, sum)
	}
	s := newTestStore(t, m)
	b, err := s.Ensure(context.Background(), vm, v, AMD64)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := b.File("victoria-metrics-prod"); !ok || filepath.Dir(f.LocalPath) != b.Root {
		t.Errorf("victoria-metrics-prod not at the bundle's root %s: %+v", b.Root, b.Files)
	}
	// A second store reads the cache entry back (manifest of a flat tree).
	again, err := (&Store{Dir: s.Dir, LockFile: s.LockFile, Offline: true}).Ensure(context.Background(), vm, v, AMD64)
	if err != nil || !again.Cached || again.Root != b.Root {
		t.Fatalf("cached flat bundle: %+v, %v", again, err)
	}
	if list, err := s.List(); err != nil || len(list) != 1 || list[0].Component != vm || list[0].File != "victoria-metrics-linux-amd64-v1.151.0.tar.gz" {
		t.Errorf("List = %+v, %v", list, err)
	}

	for _, tc := range []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"binary in a folder", []tarEntry{{name: "victoria-metrics-v1.151.0/", typ: tar.TypeDir},
			{name: "victoria-metrics-v1.151.0/victoria-metrics-prod", body: "x"}}, "victoria-metrics-prod is missing at the top"},
		{"binary not executable", []tarEntry{{name: "victoria-metrics-prod", body: "x", mode: 0o644}}, "not executable"},
		{"climbs out", []tarEntry{{name: "victoria-metrics-prod", body: "x"}, {name: "../evil", body: "x"}}, "escapes the extraction folder"},
		{"symlink out", []tarEntry{{name: "victoria-metrics-prod", body: "x"}, {name: "etc", typ: tar.TypeSymlink, link: "../../etc"}}, "points outside the version folder"},
		{"symlink through symlink", []tarEntry{{name: "victoria-metrics-prod", body: "x"}, {name: "d/", typ: tar.TypeDir},
			{name: "up", typ: tar.TypeSymlink, link: "d/.."}, {name: "x", typ: tar.TypeSymlink, link: "up/.."}}, `goes through symlink "up"`},
		{"absolute hardlink", []tarEntry{{name: "victoria-metrics-prod", body: "x"}, {name: "h", typ: tar.TypeLink, link: "/etc/shadow"}}, "absolute target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMirror(t)
			m.publish(vm, v, AMD64, makeTarGz(t, tc.entries), "")
			s := newTestStore(t, m)
			_, err := s.Ensure(context.Background(), vm, v, AMD64)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Ensure = %v, want an error containing %q", err, tc.want)
			}
			assertNothingCached(t, s)
		})
	}
}
