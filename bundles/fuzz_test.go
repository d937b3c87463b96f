package bundles

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
)

// FuzzExtractTarGz feeds the extractor arbitrary tarballs (the tar stream is
// fuzzed, then gzipped: a fuzzed gzip stream rarely gets past its CRC).
// Nothing may panic, and a tarball it accepts places nothing outside the
// top folder, which is the host's version folder: no file, no folder, and
// no symlink that resolves (following every link) above it.
func FuzzExtractTarGz(f *testing.F) {
	top := "node_exporter-1.8.2.linux-amd64"
	seeds := [][]tarEntry{
		releaseEntries(catalog.NodeExporter, "1.8.2", AMD64),
		append(releaseEntries(catalog.NodeExporter, "1.8.2", AMD64),
			tarEntry{name: top + "/a/", typ: tar.TypeDir},
			tarEntry{name: top + "/a/up", typ: tar.TypeSymlink, link: "../LICENSE"},
			tarEntry{name: top + "/a/h", typ: tar.TypeLink, link: top + "/node_exporter"}),
		{{name: top + "/up", typ: tar.TypeSymlink, link: "../escape"}},
		{{name: top + "/a", typ: tar.TypeSymlink, link: "."}, {name: top + "/a/b", typ: tar.TypeSymlink, link: ".."}},
	}
	for _, es := range seeds {
		gz, err := gzip.NewReader(bytes.NewReader(makeTarGz(f, es)))
		if err != nil {
			f.Fatal(err)
		}
		raw, _ := io.ReadAll(gz)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		work := t.TempDir()
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		src := filepath.Join(work, "in.tar.gz")
		if err := os.WriteFile(src, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(work, "tree")
		if err := os.Mkdir(dest, 0o755); err != nil {
			t.Fatal(err)
		}
		tr, err := extractTarGz(context.Background(), src, dest, 1<<20)
		if err != nil {
			return
		}
		if len(tr.tops) > 1 {
			t.Fatalf("accepted %d top folders: %v", len(tr.tops), tr.tops)
		}
		version := filepath.Join(dest, tr.top)
		err = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == dest {
				return err
			}
			if p != version && !strings.HasPrefix(p, version+"/") {
				t.Fatalf("%s lies outside the top folder %s", p, tr.top)
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if where, ok := resolveInside(version, p); !ok {
					t.Fatalf("symlink %s resolves to %s, outside the version folder", p, where)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for p, fl := range tr.files {
			fi, err := os.Lstat(filepath.Join(dest, p))
			if err != nil || !fi.Mode().IsRegular() || fi.Size() != fl.Size {
				t.Fatalf("recorded file %s is not what is on disk: %v %v", p, fi, err)
			}
		}
	})
}

// resolveInside follows p through every symlink on disk, element by
// element as the kernel would, and reports whether it stays within root.
func resolveInside(root, p string) (string, bool) {
	rel, _ := filepath.Rel(root, p)
	todo := strings.Split(rel, "/")
	var at []string // resolved elements below root
	for hops := 0; len(todo) > 0; {
		e := todo[0]
		todo = todo[1:]
		switch e {
		case "", ".":
			continue
		case "..":
			if len(at) == 0 {
				return filepath.Join(root, ".."), false
			}
			at = at[:len(at)-1]
			continue
		}
		cur := filepath.Join(append([]string{root}, append(at, e)...)...)
		fi, err := os.Lstat(cur)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			at = append(at, e) // missing or not a link: lexical from here
			continue
		}
		if hops++; hops > 40 {
			return cur, true // a loop resolves nowhere
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return cur, false
		}
		if filepath.IsAbs(target) {
			return target, false
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return filepath.Join(append([]string{root}, at...)...), true
}
