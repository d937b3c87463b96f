package hoststate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestFinding6_RemovalProbeReadsHostileNames runs the real removal probe
// with /bin/sh over recorded folders in which a service user left
// *.obsbox-tmp files with hostile names: each is read back exactly.
func TestFinding6_RemovalProbeReadsHostileNames(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	file := filepath.Join(root, "conf.yml")
	oddFile := filepath.Join(root, "odd\n@@obsbox end")
	staging := filepath.Join(root, "staging")
	for _, d := range []string{data, staging} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var wantTmp []string
	for _, n := range []string{"a\nb", "@@obsbox end", "\n@@obsbox end\n", "x|y", "two  spaces", `back\slash`, "trail\n"} {
		p := filepath.Join(data, n+".obsbox-tmp")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		wantTmp = append(wantTmp, p)
	}
	for _, p := range []string{file, oddFile, file + ".obsbox-tmp", oddFile + ".obsbox-tmp"} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantTmp = append(wantTmp, file+".obsbox-tmp", oddFile+".obsbox-tmp")
	slices.Sort(wantTmp)

	rec := &Record{Paths: []string{data, file, oddFile}}
	out, err := exec.Command("/bin/sh", "-c", RemovalRequest{Record: rec, StagingDir: staging}.Script()).Output()
	if err != nil {
		t.Fatalf("removal probe: %v", err)
	}
	f, err := ParseRemoval(out)
	if err != nil {
		t.Fatalf("ParseRemoval on the real script's output: %v", err)
	}
	if !slices.Equal(f.TmpFiles, wantTmp) {
		t.Errorf("leftovers:\n got %q\nwant %q", f.TmpFiles, wantTmp)
	}
	for p, k := range map[string]Kind{data: KindDir, file: KindFile, oddFile: KindFile} {
		if f.Kinds[p] != k {
			t.Errorf("kind of %q: %q, want %q", p, f.Kinds[p], k)
		}
	}
	if !f.Staging {
		t.Errorf("the staging folder was not seen")
	}
}

func TestParseRemoval(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    RemovalFacts
		wantErr bool
	}{
		{
			name: "leftovers",
			out: fields("@@obsbox kind", "d", "/opt/obsbox", "@@obsbox kind", "f", "/var/lib/obsbox/record.json",
				"@@obsbox kind", "l", "/opt/obsbox/prometheus/current",
				"@@obsbox tmp", "/etc/obsbox/a.obsbox-tmp", "@@obsbox tmp", "/etc/obsbox/a.obsbox-tmp",
				"@@obsbox applydir", "/var/tmp/obsbox-apply.x1Ab2C", "@@obsbox applydir", "/var/tmp/obsbox-apply.not-mktemp",
				"@@obsbox staging", "@@obsbox unpackeddir", "@@obsbox end"),
			want: RemovalFacts{
				Kinds: map[string]Kind{"/opt/obsbox": KindDir, "/var/lib/obsbox/record.json": KindFile,
					"/opt/obsbox/prometheus/current": KindLink},
				TmpFiles: []string{"/etc/obsbox/a.obsbox-tmp"}, ApplyDirs: []string{"/var/tmp/obsbox-apply.x1Ab2C"}, Staging: true,
				Unpacked: true,
			},
		},
		{name: "nothing", out: fields("@@obsbox end"), want: RemovalFacts{Kinds: map[string]Kind{}}},
		{name: "cut short", out: fields("@@obsbox kind", "d", "/opt/obsbox"), wantErr: true},
		{name: "cut inside a record", out: fields("@@obsbox kind", "d"), wantErr: true},
		{name: "garbage", out: fields("@@obsbox kind", "d", "/x", "what", "@@obsbox end"), wantErr: true},
		{name: "old line format", out: "@@obsbox kinds\nd|/opt/obsbox\n@@obsbox end\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRemoval([]byte(tc.out))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if fmt.Sprint(*got) != fmt.Sprint(tc.want) {
				t.Errorf("got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}
