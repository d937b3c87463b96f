package hoststate

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// FuzzParseProbe feeds the probe parser arbitrary output (what a broken or
// hostile host may send) and arbitrary names placed in every position a
// name can take. It must never panic, and a name must come back exactly.
func FuzzParseProbe(f *testing.F) {
	f.Add([]byte(sampleProbe), "/var/lib/obsbox/prometheus/a\nb", "../x")
	f.Add([]byte(strings.ReplaceAll(sampleProbe, "\x00", "\n")), "@@obsbox end", "@@obsbox path")
	f.Add([]byte(fields("@@obsbox path", "f", "644")), "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  x", "")
	f.Add([]byte{}, "x|y|z", "two  spaces")
	f.Fuzz(func(t *testing.T, out []byte, name, target string) {
		if s, err := ParseProbe(out); err == nil {
			if s.Record == nil || s.Paths == nil || s.Units == nil || s.Staged == nil {
				t.Fatalf("accepted output gave an incomplete state: %+v", s)
			}
		}
		if name == "" || strings.ContainsRune(name, 0) || strings.ContainsRune(target, 0) {
			return // a host cannot print these
		}
		sum := strings.Repeat("ab", 32)
		out = []byte(fields(
			"@@obsbox arch", "x86_64\n",
			"@@obsbox record", "",
			"@@obsbox path", "l", "777", "root", "root", "1", name, target,
			"@@obsbox path", "f", "644", "root", "root", "3", name+"/before", "",
			sum+"  "+name,
			"@@obsbox staged", name,
			"@@obsbox applydir", name,
			"@@obsbox path", "f", "644", "root", "root", "3", name+"/after", "",
			"@@obsbox end",
		))
		s, err := ParseProbe(out)
		if err != nil {
			t.Fatalf("name %q: %v", name, err)
		}
		p := s.Paths[name]
		if p.Kind != KindLink || p.Target != target || p.SHA256 != sum || p.Size != 1 {
			t.Fatalf("name %q target %q read back as %+v", name, target, p)
		}
		if len(s.Paths) != 3 || s.Paths[name+"/before"].Kind != KindFile || s.Paths[name+"/after"].Kind != KindFile {
			t.Fatalf("name %q changed the other paths: %v", name, s.Paths)
		}
		if s.Staged[name] == strings.HasSuffix(name, ".part") || !slices.Equal(s.ApplyDirs, []string{name}) {
			t.Fatalf("name %q: staged %v, apply folders %q", name, s.Staged, s.ApplyDirs)
		}
	})
}

// FuzzParseRecord: any record that parses marshals to one that parses to
// the same bytes again.
func FuzzParseRecord(f *testing.F) {
	r := &Record{Paths: []string{"/etc/obsbox", "/opt/obsbox/a\nb"}, Trees: []string{"/opt/obsbox/prometheus/2.53.3"},
		Users: []string{"obsbox-prometheus"}, Components: map[string]ComponentRecord{"prometheus": {Version: "2.53.3", Previous: "2.42.0"}}}
	f.Add(r.Marshal())
	f.Add([]byte(`{"format":99}`))
	f.Add([]byte(`{"format":1,"paths":null,"components":null}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			if r != nil {
				t.Fatalf("an error with a record: %v", err)
			}
			return
		}
		if r.Components == nil || r.Format > RecordFormat {
			t.Fatalf("accepted record %+v", r)
		}
		m := r.Marshal()
		r2, err := ParseRecord(m)
		if err != nil {
			t.Fatalf("a marshalled record does not parse: %v\n%s", err, m)
		}
		if m2 := r2.Marshal(); !bytes.Equal(m, m2) {
			t.Fatalf("round trip changed the record:\n%s\n%s", m, m2)
		}
		for _, p := range r.Paths {
			if !r2.Has(p) {
				t.Fatalf("path %q lost in the round trip", p)
			}
		}
	})
}
