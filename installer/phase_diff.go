package installer

import (
	"context"
	"fmt"

	"github.com/obsbox/obsbox/installer/catalog"
	"github.com/obsbox/obsbox/installer/component"
	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/plan"
	"github.com/pmezard/go-difflib/difflib"
)

// diffPhase reads the current content of every text file the plan changes,
// in one round trip, so plan can show a unified diff. Secret values are
// masked on both sides before the diff is made; wholly secret files show
// as (sensitive).
type diffPhase struct{}

func (diffPhase) Title() string { return "diff" }

func (diffPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	if !r.Opts.Diffs || h.Plan.Empty() {
		return nil
	}
	files := diffFiles(h.Specs)
	var paths []string
	for _, a := range h.Plan.Actions {
		if f, ok := files[a.Target]; ok && a.Kind == "file" && a.Op == plan.OpChange && a.Detail == "" && !f.Sensitive {
			paths = append(paths, a.Target)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	out, err := h.Conn.Run(ctx, hoststate.FilesScript(paths))
	if err != nil {
		return fmt.Errorf("reading files for the diff: %w", err)
	}
	contents, err := hoststate.ParseFiles(out, len(paths))
	if err != nil {
		return fmt.Errorf("reading files for the diff: %w", err)
	}
	old := map[string]string{}
	for i, c := range contents {
		if c != nil {
			old[paths[i]] = *c
		}
	}
	for i, a := range h.Plan.Actions {
		if a.Kind != "file" || a.Op != plan.OpChange {
			continue
		}
		f, known := files[a.Target]
		if !known {
			continue
		}
		if f.Sensitive {
			h.Plan.Actions[i].Diff = Masked
			continue
		}
		o, ok := old[a.Target]
		if !ok {
			continue
		}
		h.Plan.Actions[i].Diff = fileDiff(a.Target, o, f)
		if a.Target == catalog.UnitPath(a.Component) {
			h.Plan.AddNotes(plan.UnitChangeNotes(a.Component, []byte(o), f.Content)...)
			h.Plan.NoteFlagChanges(a.Component, []byte(o), f.Content)
		}
	}
	return nil
}

// diffFiles are the files a plan can show diffs of, by path: the specs'
// files and units (a unit's diff shows a changed flag, say the retention).
func diffFiles(specs []*component.Spec) map[string]component.File {
	files := map[string]component.File{}
	for _, s := range specs {
		for _, f := range s.Files {
			files[f.Path] = f
		}
		files[catalog.UnitPath(s.Component)] = component.File{Path: catalog.UnitPath(s.Component), Content: s.Unit}
	}
	return files
}

// fileDiff is the unified diff from the host's copy to f, with every secret
// value masked on both sides before the diff text exists.
func fileDiff(target, old string, f component.File) string {
	oldText, newText := old, string(f.Content)
	if f.Secrets != nil {
		var ok bool
		oldText, newText, ok = maskPair(oldText, newText, f.Secrets)
		if !ok {
			return Masked
		}
		if oldText == newText {
			return Masked + ": only secret values change"
		}
	}
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(oldText), B: difflib.SplitLines(newText),
		FromFile: target + " (on host)", ToFile: target + " (planned)", Context: 3,
	})
	return d
}
