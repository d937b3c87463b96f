package hoststate

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParseRemoval feeds the removal probe's parser arbitrary output and
// arbitrary names in each position a name can take: no panic, and a name
// comes back exactly.
func FuzzParseRemoval(f *testing.F) {
	f.Add([]byte(fields("@@obsbox kind", "d", "/opt/obsbox", "@@obsbox tmp", "/x.obsbox-tmp", "@@obsbox staging", "@@obsbox end")), "/a\nb")
	f.Add([]byte("@@obsbox kinds\nd|/opt/obsbox\n@@obsbox end\n"), "@@obsbox end")
	f.Add([]byte{0}, "x|y")
	f.Add([]byte{0}, "/var/tmp/obsbox-apply.Ab12Cd")
	f.Fuzz(func(t *testing.T, out []byte, name string) {
		if facts, err := ParseRemoval(out); err == nil && facts.Kinds == nil {
			t.Fatalf("accepted output without kinds")
		}
		if name == "" || strings.ContainsRune(name, 0) {
			return // a host cannot print these
		}
		out = []byte(fields("@@obsbox kind", "l", name, "@@obsbox kind", "d", name+"/other",
			"@@obsbox tmp", name, "@@obsbox applydir", name, "@@obsbox end"))
		facts, err := ParseRemoval(out)
		if err != nil {
			t.Fatalf("name %q: %v", name, err)
		}
		if facts.Kinds[name] != KindLink || facts.Kinds[name+"/other"] != KindDir || len(facts.Kinds) != 2 ||
			!slices.Equal(facts.TmpFiles, []string{name}) || facts.Staging {
			t.Fatalf("name %q read back as %+v", name, facts)
		}
		// Only mktemp's names are apply folders; anything else is not ours.
		if wantDirs := []string(nil); IsApplyDir(name) && !slices.Equal(facts.ApplyDirs, []string{name}) ||
			!IsApplyDir(name) && !slices.Equal(facts.ApplyDirs, wantDirs) {
			t.Fatalf("name %q read back as %+v", name, facts)
		}
	})
}
