package bundles

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
)

func TestEnsureDownloadsVerifiesAndCaches(t *testing.T) {
	for _, c := range []struct{ component, version, top string }{
		{catalog.Prometheus, "2.42.0", "prometheus-2.42.0.linux-amd64"},
		{catalog.Alertmanager, "0.27.0", "alertmanager-0.27.0.linux-amd64"},
		{catalog.NodeExporter, "1.8.2", "node_exporter-1.8.2.linux-amd64"},
		{catalog.Grafana, "11.2.2", "grafana-v11.2.2"},
		// A flat tarball: the extracted tree itself is the root.
		{catalog.VictoriaMetrics, "1.151.0", "tree"},
	} {
		t.Run(c.component, func(t *testing.T) {
			m := newMirror(t)
			tarball := makeTarGz(t, releaseEntries(c.component, c.version, AMD64))
			m.publish(c.component, c.version, AMD64, tarball, "")
			s := newTestStore(t, m)
			ctx := context.Background()

			b, err := s.Ensure(ctx, c.component, c.version, AMD64)
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			if b.Cached {
				t.Error("first Ensure reports Cached")
			}
			if b.SHA256 != sha(tarball) {
				t.Errorf("SHA256 = %s, want %s", b.SHA256, sha(tarball))
			}
			if filepath.Base(b.Root) != c.top {
				t.Errorf("Root = %s, want a folder named %s", b.Root, c.top)
			}
			got, err := os.ReadFile(b.Tarball)
			if err != nil || string(got) != string(tarball) {
				t.Errorf("cached tarball %s differs from the download (err %v)", b.Tarball, err)
			}
			for _, req := range requiredFiles(c.component) {
				f, ok := b.File(req)
				if !ok {
					t.Fatalf("File(%q) not found; files: %v", req, b.Files)
				}
				content, err := os.ReadFile(f.LocalPath)
				if err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("#!/bin/sh\necho %s %s %s\n", req, c.version, AMD64)
				if string(content) != want || f.SHA256 != sha(content) || f.Size != int64(len(want)) || f.Mode != 0o755 {
					t.Errorf("File(%q) = %+v with content %q; want content %q, mode 0755 and matching hash and size", req, f, content, want)
				}
			}
			if _, ok := b.File("no/such/file"); ok {
				t.Error("File found a file that is not in the bundle")
			}

			lock, err := ReadLock(s.LockFile)
			if err != nil {
				t.Fatal(err)
			}
			wantLock := LockEntry{Component: c.component, Version: c.version, Arch: AMD64, File: TarballName(c.component, c.version, AMD64), SHA256: sha(tarball)}
			if len(lock) != 1 || lock[0].Pos == "" {
				t.Fatalf("lock = %+v, want one entry %+v", lock, wantLock)
			}
			lock[0].Pos = ""
			if lock[0] != wantLock {
				t.Errorf("lock = %+v, want %+v", lock[0], wantLock)
			}

			again, err := s.Ensure(ctx, c.component, c.version, AMD64)
			if err != nil {
				t.Fatalf("second Ensure: %v", err)
			}
			if !again.Cached || again.SHA256 != b.SHA256 || len(again.Files) != len(b.Files) {
				t.Errorf("second Ensure = %+v, want the cached bundle", again)
			}
			tp, _ := m.paths(c.component, c.version, AMD64)
			if n := m.hitCount(tp); n != 1 {
				t.Errorf("tarball downloaded %d times, want once", n)
			}
			list, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			wantEntry := Entry{Component: c.component, Version: c.version, Arch: AMD64, File: wantLock.File,
				Size: int64(len(tarball)), SHA256: sha(tarball), Path: b.Tarball}
			if len(list) != 1 || list[0] != wantEntry {
				t.Errorf("List = %+v, want [%+v]", list, wantEntry)
			}
		})
	}
}

func TestEnsureChecksumMismatch(t *testing.T) {
	m := newMirror(t)
	tarball := makeTarGz(t, releaseEntries(catalog.Prometheus, "2.42.0", AMD64))
	wrong := strings.Repeat("ab", 32)
	m.publish(catalog.Prometheus, "2.42.0", AMD64, tarball, wrong)
	s := newTestStore(t, m)

	_, err := s.Ensure(context.Background(), catalog.Prometheus, "2.42.0", AMD64)
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("Ensure error = %v, want a ChecksumError", err)
	}
	for _, want := range []string{sha(tarball), wrong, "sha256sums.txt", "prometheus-2.42.0.linux-amd64.tar.gz"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	assertNothingCached(t, s)
	if _, err := os.Stat(s.LockFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file written after a failed download (stat: %v)", err)
	}
}

func TestEnsureLockMismatch(t *testing.T) {
	m := newMirror(t)
	tarball := makeTarGz(t, releaseEntries(catalog.NodeExporter, "1.8.2", AMD64))
	m.publish(catalog.NodeExporter, "1.8.2", AMD64, tarball, "")
	s := newTestStore(t, m)
	locked := strings.Repeat("0", 64)
	if err := WriteLock(s.LockFile, []LockEntry{{Component: catalog.NodeExporter, Version: "1.8.2", Arch: AMD64, File: "node_exporter-1.8.2.linux-amd64.tar.gz", SHA256: locked}}); err != nil {
		t.Fatal(err)
	}

	_, err := s.Ensure(context.Background(), catalog.NodeExporter, "1.8.2", AMD64)
	var le *LockMismatchError
	if !errors.As(err, &le) {
		t.Fatalf("Ensure error = %v, want a LockMismatchError", err)
	}
	for _, want := range []string{locked, sha(tarball), s.LockFile + ":5", "delete that bundle block"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	tp, _ := m.paths(catalog.NodeExporter, "1.8.2", AMD64)
	if n := m.hitCount(tp); n != 0 {
		t.Errorf("tarball downloaded %d times although the checksum file already disagreed with the lock", n)
	}
	assertNothingCached(t, s)
}

func TestEnsureCachedBundleDisagreesWithLock(t *testing.T) {
	m := newMirror(t)
	tarball := makeTarGz(t, releaseEntries(catalog.NodeExporter, "1.8.2", AMD64))
	m.publish(catalog.NodeExporter, "1.8.2", AMD64, tarball, "")
	s := newTestStore(t, m)
	ctx := context.Background()
	if _, err := s.Ensure(ctx, catalog.NodeExporter, "1.8.2", AMD64); err != nil {
		t.Fatal(err)
	}
	// A teammate's lock, committed with another file.
	locked := strings.Repeat("e", 64)
	if err := WriteLock(s.LockFile, []LockEntry{{Component: catalog.NodeExporter, Version: "1.8.2", Arch: AMD64, File: "node_exporter-1.8.2.linux-amd64.tar.gz", SHA256: locked}}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Ensure(ctx, catalog.NodeExporter, "1.8.2", AMD64)
	var le *LockMismatchError
	if !errors.As(err, &le) {
		t.Fatalf("Ensure error = %v, want a LockMismatchError", err)
	}
	for _, want := range []string{locked, sha(tarball), "the cached tarball"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestEnsureTruncatedDownloadLeavesNothing(t *testing.T) {
	m := newMirror(t)
	tarball := makeTarGz(t, releaseEntries(catalog.Prometheus, "2.42.0", AMD64))
	m.publish(catalog.Prometheus, "2.42.0", AMD64, tarball, "")
	tp, _ := m.paths(catalog.Prometheus, "2.42.0", AMD64)
	m.setOverride(tp, func(w http.ResponseWriter, r *http.Request) {
		// Promise the whole file, send half, hang up.
		w.Header().Set("Content-Length", fmt.Sprint(len(tarball)))
		w.Write(tarball[:len(tarball)/2])
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	s := newTestStore(t, m)

	_, err := s.Ensure(context.Background(), catalog.Prometheus, "2.42.0", AMD64)
	if err == nil || !strings.Contains(err.Error(), "closed before the whole file arrived") {
		t.Fatalf("Ensure error = %v, want a short-download error", err)
	}
	if n := m.hitCount(tp); n != s.Attempts {
		t.Errorf("tarball requested %d times, want %d (every attempt)", n, s.Attempts)
	}
	assertNothingCached(t, s)
}

func TestEnsureShortBodyWithoutLengthFailsChecksum(t *testing.T) {
	m := newMirror(t)
	tarball := makeTarGz(t, releaseEntries(catalog.Prometheus, "2.42.0", AMD64))
	m.publish(catalog.Prometheus, "2.42.0", AMD64, tarball, "")
	tp, _ := m.paths(catalog.Prometheus, "2.42.0", AMD64)
	m.setOverride(tp, func(w http.ResponseWriter, r *http.Request) {
		w.Write(tarball[:len(tarball)-10]) // looks complete to HTTP
	})
	s := newTestStore(t, m)
	_, err := s.Ensure(context.Background(), catalog.Prometheus, "2.42.0", AMD64)
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("Ensure error = %v, want a ChecksumError", err)
	}
	assertNothingCached(t, s)
}

func TestEnsureRefusesUnsafeTarball(t *testing.T) {
	m := newMirror(t)
	entries := append(releaseEntries(catalog.NodeExporter, "1.8.2", AMD64), tarEntry{name: "node_exporter-1.8.2.linux-amd64/../../evil", body: "x"})
	m.publish(catalog.NodeExporter, "1.8.2", AMD64, makeTarGz(t, entries), "")
	s := newTestStore(t, m)
	_, err := s.Ensure(context.Background(), catalog.NodeExporter, "1.8.2", AMD64)
	if err == nil || !strings.Contains(err.Error(), `"node_exporter-1.8.2.linux-amd64/../../evil"`) {
		t.Fatalf("Ensure error = %v, want a refusal naming the entry", err)
	}
	assertNothingCached(t, s)
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.Dir), "evil")); err == nil {
		t.Error("the escaping entry was written")
	}
}

func TestEnsureOfflineMissingNamesTheFile(t *testing.T) {
	m := newMirror(t)
	m.publish(catalog.NodeExporter, "1.8.2", AMD64, makeTarGz(t, releaseEntries(catalog.NodeExporter, "1.8.2", AMD64)), "")
	s := newTestStore(t, m)
	s.Offline = true
	_, err := s.Ensure(context.Background(), catalog.NodeExporter, "1.8.2", AMD64)
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("Ensure error = %v, want a MissingError", err)
	}
	for _, want := range []string{"node_exporter-1.8.2.linux-amd64.tar.gz", "obsbox bundle import node_exporter-1.8.2.linux-amd64.tar.gz", "offline"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.hits) != 0 {
		t.Errorf("offline Ensure sent requests: %v", m.hits)
	}
}

func TestEnsureOfflineUsesCache(t *testing.T) {
	m := newMirror(t)
	m.publish(catalog.NodeExporter, "1.8.2", AMD64, makeTarGz(t, releaseEntries(catalog.NodeExporter, "1.8.2", AMD64)), "")
	s := newTestStore(t, m)
	ctx := context.Background()
	if _, err := s.Ensure(ctx, catalog.NodeExporter, "1.8.2", AMD64); err != nil {
		t.Fatal(err)
	}
	m.Close()
	off := &Store{Dir: s.Dir, LockFile: s.LockFile, Offline: true}
	b, err := off.Ensure(ctx, catalog.NodeExporter, "1.8.2", AMD64)
	if err != nil || !b.Cached {
		t.Fatalf("offline Ensure of a cached bundle = %+v, %v", b, err)
	}
}

func TestEnsureConcurrentDownloadsOnce(t *testing.T) {
	m := newMirror(t)
	tarball := makeTarGz(t, releaseEntries(catalog.Prometheus, "2.42.0", AMD64))
	m.publish(catalog.Prometheus, "2.42.0", AMD64, tarball, "")
	tp, _ := m.paths(catalog.Prometheus, "2.42.0", AMD64)
	m.setOverride(tp, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond) // widen the window in which callers overlap
		w.Write(tarball)
	})
	s := newTestStore(t, m)

	const n = 12
	var wg sync.WaitGroup
	results := make([]*Bundle, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = s.Ensure(context.Background(), catalog.Prometheus, "2.42.0", AMD64)
		})
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Ensure #%d: %v", i, errs[i])
		}
		if results[i].SHA256 != sha(tarball) {
			t.Errorf("Ensure #%d: sha256 %s", i, results[i].SHA256)
		}
		if !results[i].Cached {
			fresh++
		}
	}
	if got := m.hitCount(tp); got != 1 {
		t.Errorf("tarball downloaded %d times by %d concurrent callers, want once", got, n)
	}
	if fresh != 1 {
		t.Errorf("%d callers report a fresh download, want 1", fresh)
	}
}

func TestEnsureHTTPErrors(t *testing.T) {
	for _, c := range []struct {
		name      string
		status    int
		wantHits  int
		wantInErr string
	}{
		{"404 is not retried", http.StatusNotFound, 1, "HTTP 404"},
		{"403 is not retried", http.StatusForbidden, 1, "HTTP 403"},
		{"503 is retried a bounded number of times", http.StatusServiceUnavailable, 3, "gave up after 3 attempts"},
		{"500 is retried", http.StatusInternalServerError, 3, "HTTP 500"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newMirror(t)
			_, cp := m.paths(catalog.Alertmanager, "0.27.0", AMD64)
			m.setOverride(cp, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(c.status) })
			s := newTestStore(t, m)
			_, err := s.Ensure(context.Background(), catalog.Alertmanager, "0.27.0", AMD64)
			if err == nil {
				t.Fatal("Ensure succeeded")
			}
			if !strings.Contains(err.Error(), c.wantInErr) || !strings.Contains(err.Error(), m.URL+cp) {
				t.Errorf("error %q, want it to mention %q and the URL %s", err, c.wantInErr, m.URL+cp)
			}
			if n := m.hitCount(cp); n != c.wantHits {
				t.Errorf("%d requests, want %d", n, c.wantHits)
			}
			assertNothingCached(t, s)
		})
	}
}

func TestEnsureRecoversFromTransient503(t *testing.T) {
	m := newMirror(t)
	tarball := makeTarGz(t, releaseEntries(catalog.Alertmanager, "0.27.0", AMD64))
	m.publish(catalog.Alertmanager, "0.27.0", AMD64, tarball, "")
	tp, _ := m.paths(catalog.Alertmanager, "0.27.0", AMD64)
	var mu sync.Mutex
	calls := 0
	m.setOverride(tp, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		c := calls
		mu.Unlock()
		if c < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write(tarball)
	})
	s := newTestStore(t, m)
	b, err := s.Ensure(context.Background(), catalog.Alertmanager, "0.27.0", AMD64)
	if err != nil {
		t.Fatalf("Ensure after two 503s: %v", err)
	}
	if b.SHA256 != sha(tarball) || m.hitCount(tp) != 3 {
		t.Errorf("sha %s after %d requests; want %s after 3", b.SHA256, m.hitCount(tp), sha(tarball))
	}
}

func TestEnsureStalledDownloadIsCut(t *testing.T) {
	m := newMirror(t)
	tarball := makeTarGz(t, releaseEntries(catalog.Alertmanager, "0.27.0", AMD64))
	m.publish(catalog.Alertmanager, "0.27.0", AMD64, tarball, "")
	tp, _ := m.paths(catalog.Alertmanager, "0.27.0", AMD64)
	m.setOverride(tp, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(tarball)))
		w.Write(tarball[:10])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // never sends the rest
	})
	s := newTestStore(t, m)
	s.Attempts = 1
	s.IdleTimeout = 50 * time.Millisecond
	_, err := s.Ensure(context.Background(), catalog.Alertmanager, "0.27.0", AMD64)
	if err == nil || !strings.Contains(err.Error(), "no data received for") {
		t.Fatalf("Ensure error = %v, want a stall error", err)
	}
	assertNothingCached(t, s)
}

func TestEnsureRebuildsDamagedEntry(t *testing.T) {
	s, b := cachedNodeExporter(t)
	ctx := context.Background()
	f, _ := b.File("node_exporter")
	if err := os.Remove(f.LocalPath); err != nil {
		t.Fatal(err)
	}
	s.Offline = true
	again, err := s.Ensure(ctx, catalog.NodeExporter, "1.8.2", AMD64)
	if err != nil {
		t.Fatalf("Ensure of a damaged entry: %v", err)
	}
	if _, err := os.Stat(f.LocalPath); err != nil {
		t.Errorf("damaged file not restored: %v", err)
	}
	if again.SHA256 != b.SHA256 {
		t.Errorf("rebuilt sha %s, want %s", again.SHA256, b.SHA256)
	}
}

func TestEnsureRejectsBadArguments(t *testing.T) {
	s := newTestStore(t, nil)
	for _, c := range []struct{ component, version, arch, want string }{
		{"loki", "1.0.0", AMD64, `unknown component "loki"`},
		{catalog.Prometheus, "v2.42.0", AMD64, "no leading v"},
		{catalog.Prometheus, "2.42.0/../../x", AMD64, "not a release version"},
		{catalog.Prometheus, "2.42.0", "386", `architecture "386" is not supported`},
	} {
		_, err := s.Ensure(context.Background(), c.component, c.version, c.arch)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Ensure(%s, %s, %s) error = %v, want %q", c.component, c.version, c.arch, err, c.want)
		}
	}
}

func TestEnsureMirrorURLLayout(t *testing.T) {
	// The mirror may sit below a path; everything after upstream's host is kept.
	m := newMirror(t)
	tarball := makeTarGz(t, releaseEntries(catalog.Grafana, "11.2.2", AMD64))
	m.mu.Lock()
	m.files["/base/oss/release/grafana-11.2.2.linux-amd64.tar.gz"] = tarball
	m.files["/base/oss/release/grafana-11.2.2.linux-amd64.tar.gz.sha256"] = []byte(sha(tarball))
	m.mu.Unlock()
	s := newTestStore(t, m)
	s.Mirror = m.URL + "/base/"
	if _, err := s.Ensure(context.Background(), catalog.Grafana, "11.2.2", AMD64); err != nil {
		t.Fatalf("Ensure through a mirror with a path: %v", err)
	}
}

func TestEnsureFromFileMirror(t *testing.T) {
	root := t.TempDir()
	tarball := makeTarGz(t, releaseEntries(catalog.NodeExporter, "1.8.2", AMD64))
	dir := filepath.Join(root, "prometheus", "node_exporter", "releases", "download", "v1.8.2")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "node_exporter-1.8.2.linux-amd64.tar.gz"), tarball, 0o644)
	os.WriteFile(filepath.Join(dir, "sha256sums.txt"), []byte(sha(tarball)+"  node_exporter-1.8.2.linux-amd64.tar.gz\n"), 0o644)
	s := newTestStore(t, nil)
	s.Mirror = "file://" + root
	b, err := s.Ensure(context.Background(), catalog.NodeExporter, "1.8.2", AMD64)
	if err != nil || b.SHA256 != sha(tarball) {
		t.Fatalf("Ensure from a file mirror = %+v, %v", b, err)
	}
	_, err = s.Ensure(context.Background(), catalog.NodeExporter, "1.5.0", AMD64)
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), "v1.5.0/sha256sums.txt") || strings.Contains(err.Error(), "gave up") {
		t.Errorf("missing file on a file mirror: %v, want a 404 naming the path, not retried", err)
	}
}

func TestEnsureConnectionRefusedIsRetried(t *testing.T) {
	m := newMirror(t)
	s := newTestStore(t, m)
	m.Close() // nothing listens there any more
	_, err := s.Ensure(context.Background(), catalog.Prometheus, "2.42.0", AMD64)
	if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Ensure error = %v, want connection errors retried, then given up", err)
	}
	if strings.Count(err.Error(), "sha256sums.txt") != 1 {
		t.Errorf("error names the URL more than once: %v", err)
	}
	assertNothingCached(t, s)
}

// A cached tarball streams to root on every host, who unpacks it before
// the host's sha256 check can refuse it, and the cache trusts an entry by
// size: an entry, its folder or the cache that group or others may change
// is refused, naming it and the fix; chmod go-w makes it usable again.
func TestEnsureRefusesCacheOthersMayChange(t *testing.T) {
	s, b := cachedNodeExporter(t)
	ctx := context.Background()
	for _, tc := range []struct {
		path string
		mode os.FileMode
	}{
		{b.Tarball, 0o664},
		{filepath.Dir(b.Tarball), 0o757},
		{s.Dir, 0o775},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(tc.path, tc.mode); err != nil {
			t.Fatal(err)
		}
		_, err = s.Ensure(ctx, catalog.NodeExporter, "1.8.2", AMD64)
		if err == nil || !strings.Contains(err.Error(), tc.path+" has mode "+fmt.Sprintf("%04o", tc.mode)) || !strings.Contains(err.Error(), "chmod go-w") {
			t.Errorf("%s at %o: Ensure = %v, want a refusal naming it, its mode and the fix", tc.path, tc.mode, err)
		}
		if err := os.Chmod(tc.path, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		if again, err := s.Ensure(ctx, catalog.NodeExporter, "1.8.2", AMD64); err != nil || !again.Cached || again.SHA256 != b.SHA256 {
			t.Errorf("after chmod back: %+v, %v", again, err)
		}
	}
}

// cachedNodeExporter is a store whose cache holds node_exporter 1.8.2,
// downloaded from a test mirror.
func cachedNodeExporter(t *testing.T) (*Store, *Bundle) {
	t.Helper()
	m := newMirror(t)
	m.publish(catalog.NodeExporter, "1.8.2", AMD64, makeTarGz(t, releaseEntries(catalog.NodeExporter, "1.8.2", AMD64)), "")
	s := newTestStore(t, m)
	b, err := s.Ensure(context.Background(), catalog.NodeExporter, "1.8.2", AMD64)
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}
