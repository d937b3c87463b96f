package bundles

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/catalog"
)

// TestFinding8_LinksAreJudgedWhereTheHostPutsThem: the host unpacks with
// tar --strip-components=1, so the top folder's contents are the version
// folder. Every entry is judged there: a link that climbs above the version
// folder, or a name the host would place elsewhere, is refused.
func TestFinding8_LinksAreJudgedWhereTheHostPutsThem(t *testing.T) {
	top := "node_exporter-1.8.2.linux-amd64"
	base := releaseEntries(catalog.NodeExporter, "1.8.2", AMD64)
	sym := func(name, link string) tarEntry { return tarEntry{name: name, typ: tar.TypeSymlink, link: link} }
	hard := func(name, link string) tarEntry { return tarEntry{name: name, typ: tar.TypeLink, link: link} }
	dir := func(name string) tarEntry { return tarEntry{name: name, typ: tar.TypeDir} }
	refused := []struct {
		name   string
		extra  []tarEntry
		entry  string
		reason string
	}{
		{"the finding: top/up -> ../escape", []tarEntry{sym(top+"/up", "../escape")}, top + "/up", "points outside the version folder"},
		{"nested dir climbing one too many", []tarEntry{dir(top + "/a/"), dir(top + "/a/b/"), sym(top+"/a/b/up", "../../../x")}, top + "/a/b/up", "points outside the version folder"},
		{"dot-dot inside the target", []tarEntry{dir(top + "/a/"), sym(top+"/a/l", "../a/../../x")}, top + "/a/l", "points outside the version folder"},
		{"climb to the version folder's name", []tarEntry{sym(top+"/self", "../"+top+"/LICENSE")}, top + "/self", "points outside the version folder"},
		{"absolute target", []tarEntry{sym(top+"/abs", "/etc/shadow")}, top + "/abs", "absolute target"},
		{"chain that escapes only through another link", []tarEntry{dir(top + "/a/"), sym(top+"/a/root", ".."), sym(top+"/c", "a/root/..")}, top + "/c", "goes through symlink"},
		{"hardlink absolute", []tarEntry{hard(top+"/h", "/etc/shadow")}, top + "/h", "absolute target"},
		{"hardlink climbing out", []tarEntry{hard(top+"/h", top+"/../../etc/shadow")}, top + "/h", "points outside"},
		{"hardlink into another top folder", []tarEntry{{name: "other/f", body: "x"}, hard(top+"/h", "other/f")}, "other/f", "outside the top folder"},
		{"hardlink to the top folder itself", []tarEntry{hard(top+"/h", top)}, top + "/h", "points outside the version folder"},
		{"hardlink target not canonical", []tarEntry{hard(top+"/h", "./"+top+"/LICENSE")}, top + "/h", "not in canonical form"},
		{"entry outside the top folder", []tarEntry{{name: "extra/file", body: "x"}}, "extra/file", "outside the top folder"},
		{"name with ./ that tar strips differently", []tarEntry{{name: "./" + top + "/x", body: "x"}}, "./" + top + "/x", "not in canonical form"},
		{"name with an inner dot", []tarEntry{{name: top + "/./x", body: "x"}}, top + "/./x", "not in canonical form"},
		{"name with a double slash", []tarEntry{{name: top + "//x", body: "x"}}, top + "//x", "not in canonical form"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			src := filepath.Join(work, "in.tar.gz")
			os.WriteFile(src, makeTarGz(t, append(append([]tarEntry{}, base...), c.extra...)), 0o644)
			dest := filepath.Join(work, "tree")
			os.Mkdir(dest, 0o755)
			_, err := extractTarGz(context.Background(), src, dest, DefaultMaxFileSize)
			var ee *ExtractError
			if !errors.As(err, &ee) || ee.Entry != c.entry || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("error %v; want entry %q refused for %q", err, c.entry, c.reason)
			}
		})
	}

	// What stays inside the version folder is accepted, and the host's own
	// tar lays it out the same way: every link resolves inside.
	ok := []tarEntry{
		dir(top + "/a/"), dir(top + "/a/b/"),
		sym(top+"/a/b/up", "../../LICENSE"), sym(top+"/a/b/here", "."), sym(top+"/a/sib", "b/../b"),
		sym(top+"/cur", "a"), hard(top+"/a/b/bin", top+"/node_exporter"),
	}
	work := t.TempDir()
	src := filepath.Join(work, "in.tar.gz")
	os.WriteFile(src, makeTarGz(t, append(append([]tarEntry{}, base...), ok...)), 0o644)
	dest := filepath.Join(work, "tree")
	os.Mkdir(dest, 0o755)
	if _, err := extractTarGz(context.Background(), src, dest, DefaultMaxFileSize); err != nil {
		t.Fatalf("links inside the version folder: %v", err)
	}
	host := filepath.Join(work, "host", "version")
	os.MkdirAll(host, 0o755)
	if out, err := exec.Command("tar", "-xzf", src, "-C", host, "--strip-components=1", "--no-same-owner", "--no-same-permissions").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	for _, l := range []string{"a/b/up", "a/b/here", "a/sib", "cur", "a/b/bin"} {
		got, err := filepath.EvalSymlinks(filepath.Join(host, l))
		if err != nil || !strings.HasPrefix(got+"/", host+"/") {
			t.Errorf("on the host %s resolves to %q (%v), outside %s", l, got, err, host)
		}
	}
}
