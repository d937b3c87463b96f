package bundles

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obsbox/obsbox/installer/catalog"
)

// tarEntry describes one entry of a test tarball.
type tarEntry struct {
	name string
	typ  byte // tar.TypeReg when zero
	body string
	mode int64 // 0o755 for files when zero
	link string
}

func makeTarGz(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, ModTime: time.Unix(1700000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o755
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatalf("tar body %s: %v", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// releaseEntries is a small tarball in the upstream layout of component.
func releaseEntries(component, version, arch string) []tarEntry {
	if catalog.Get(component).Release.Flat {
		// VictoriaMetrics: its binary at the root, in no folder.
		var es []tarEntry
		for _, f := range requiredFiles(component) {
			es = append(es, tarEntry{name: f, body: fmt.Sprintf("#!/bin/sh\necho %s %s %s\n", f, version, arch), mode: 0o755})
		}
		return es
	}
	top := TopFolders(component, version, arch)[0]
	es := []tarEntry{{name: top + "/", typ: tar.TypeDir}}
	if component == catalog.Grafana {
		es = append(es,
			tarEntry{name: top + "/bin/", typ: tar.TypeDir},
			tarEntry{name: top + "/conf/", typ: tar.TypeDir},
			tarEntry{name: top + "/conf/defaults.ini", body: "[server]\nhttp_port = 3000\n", mode: 0o644},
		)
	} else {
		es = append(es, tarEntry{name: top + "/LICENSE", body: "Apache License 2.0\n", mode: 0o644})
	}
	for _, f := range requiredFiles(component) {
		es = append(es, tarEntry{name: top + "/" + f, body: fmt.Sprintf("#!/bin/sh\necho %s %s %s\n", f, version, arch), mode: 0o755})
	}
	return es
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// mirror is an httptest server laid out like the upstream release pages.
type mirror struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte
	hits     map[string]int
	override map[string]http.HandlerFunc
}

func newMirror(t *testing.T) *mirror {
	m := &mirror{files: map[string][]byte{}, hits: map[string]int{}, override: map[string]http.HandlerFunc{}}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.hits[r.URL.Path]++
		h := m.override[r.URL.Path]
		body, ok := m.files[r.URL.Path]
		m.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	}))
	t.Cleanup(m.Close)
	return m
}

// paths returns the URL paths of a bundle's tarball and checksum file on the mirror.
func (m *mirror) paths(component, version, arch string) (tarball, checksum string) {
	src, err := SourceFor(m.URL, component, version, arch)
	if err != nil {
		panic(err)
	}
	return strings.TrimPrefix(src.Tarball, m.URL), strings.TrimPrefix(src.Checksum, m.URL)
}

// publish serves a tarball with its checksum file, listing sum (the real hash when "").
func (m *mirror) publish(component, version, arch string, tarball []byte, sum string) {
	if sum == "" {
		sum = sha(tarball)
	}
	tp, cp := m.paths(component, version, arch)
	name := TarballName(component, version, arch)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[tp] = tarball
	if component == catalog.Grafana {
		m.files[cp] = []byte(sum + "  " + name + "\n")
		return
	}
	// Other files in the listing, as upstream has them.
	m.files[cp] = []byte(fmt.Sprintf("%s  %s-%s.darwin-amd64.tar.gz\n%s  %s\n%s  %s-%s.linux-arm64.tar.gz\n",
		strings.Repeat("1", 64), component, version, sum, name, strings.Repeat("2", 64), component, version))
}

func (m *mirror) hitCount(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits[path]
}

func (m *mirror) setOverride(path string, h http.HandlerFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.override[path] = h
}

// newTestStore returns a Store on a fresh cache and lock file, retrying fast.
func newTestStore(t *testing.T, m *mirror) *Store {
	dir := t.TempDir()
	s := &Store{
		Dir:        filepath.Join(dir, "cache"),
		LockFile:   filepath.Join(dir, LockFileName),
		Attempts:   3,
		RetryDelay: time.Millisecond,
	}
	if m != nil {
		s.Mirror = m.URL
		s.HTTP = m.Client()
	}
	return s
}

// assertNothingCached fails when the cache holds an entry or leftover work files.
func assertNothingCached(t *testing.T, s *Store) {
	t.Helper()
	entries, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("cache holds %v, want nothing", entries)
	}
	dirents, _ := os.ReadDir(s.Dir)
	for _, d := range dirents {
		if d.Name() != ".tmp" {
			t.Errorf("cache folder holds %s, want nothing", d.Name())
		}
	}
	left, _ := os.ReadDir(filepath.Join(s.Dir, ".tmp"))
	for _, d := range left {
		t.Errorf("work file %s left behind in %s", d.Name(), filepath.Join(s.Dir, ".tmp"))
	}
}

// minimalELF is the smallest ELF64 executable header debug/elf accepts, for machine m.
func minimalELF(m elf.Machine) []byte {
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(m), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Phentsize: 56, Shentsize: 64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, h)
	return buf.Bytes()
}
