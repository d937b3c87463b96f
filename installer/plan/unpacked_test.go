package plan_test

import (
	"strings"
	"testing"

	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/plan"
)

// TestTarballSources: a tarball the host lacks streams and is unpacked on
// arrival (the script takes the tree, never a staged copy); a tree an
// interrupted run left unpacked, or a tarball an older obsbox staged, is
// not sent again; every successful script empties the unpacked folder.
func TestTarballSources(t *testing.T) {
	inv := loadInventory(t, testInventory)
	sp := specs(t, inv, "mon-1")
	var sums []string
	for _, s := range sp {
		if s.Bundle != nil {
			sums = append(sums, s.Bundle.SHA256)
		}
	}
	if len(sums) < 2 {
		t.Fatalf("mon-1 has %d tarballs; the test needs two", len(sums))
	}
	tarballUploads := func(p *plan.Host) map[string]plan.Upload {
		out := map[string]plan.Upload{}
		for _, u := range p.Uploads {
			for _, sum := range sums {
				if u.SHA256 == sum {
					out[sum] = u
				}
			}
		}
		return out
	}
	taken := func(script, sum string) bool {
		return strings.Contains(script, "cp -al '"+hoststate.UnpackedDir+"/"+sum+"' ")
	}
	staged := func(script, sum string) bool { return strings.Contains(script, "take '"+sum+"' ") }

	fresh := build(t, plan.Input{Host: "mon-1", Specs: sp, State: emptyState()})
	ups, script := tarballUploads(fresh), fresh.Script()
	for _, sum := range sums {
		if u, ok := ups[sum]; !ok || !u.Unpack {
			t.Errorf("%s: not streamed for unpacking: %+v", sum, u)
		}
		if !taken(script, sum) || staged(script, sum) {
			t.Errorf("%s: the script does not take the unpacked tree (or still takes a staged copy)", sum)
		}
	}
	if !strings.HasSuffix(script, "rm -rf '"+hoststate.UnpackedDir+"'\necho '"+plan.DoneMarker+"'\n") {
		t.Errorf("the unpacked folder is not emptied at the end:\n%s", script[max(0, len(script)-300):])
	}

	st := emptyState()
	st.Unpacked = map[string]bool{sums[0]: true}
	st.Staged[sums[1]] = true
	again := build(t, plan.Input{Host: "mon-1", Specs: sp, State: st})
	ups, script = tarballUploads(again), again.Script()
	if _, ok := ups[sums[0]]; ok || !taken(script, sums[0]) {
		t.Errorf("an unpacked tree is sent again (%v) or not used (%v)", ok, !taken(script, sums[0]))
	}
	if _, ok := ups[sums[1]]; ok || !staged(script, sums[1]) || taken(script, sums[1]) {
		t.Errorf("a staged tarball is sent again (%v), or not taken from staging", ok)
	}
	for _, sum := range sums[2:] {
		if _, ok := ups[sum]; !ok {
			t.Errorf("%s is missing and not sent", sum)
		}
	}
}
