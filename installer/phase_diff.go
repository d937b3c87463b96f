package installer

import (
	"context"
	"fmt"
	"strings"

	"github.com/obsbox/obsbox/installer/shell"
	"github.com/pmezard/go-difflib/difflib"
)

// diffPhase reads the current content of every text file the plan changes,
// in one round trip, so plan can show a unified diff. Secrets stay hidden.
type diffPhase struct{}

func (diffPhase) Title() string { return "diff" }

func (diffPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	if !r.Opts.Diffs || h.Plan.Empty() {
		return nil
	}
	want := map[string][]byte{}
	sensitive := map[string]bool{}
	for _, s := range h.Specs {
		for _, f := range s.Files {
			want[f.Path] = f.Content
			sensitive[f.Path] = f.Sensitive
		}
	}
	var paths []string
	for _, a := range h.Plan.Actions {
		if a.Kind == "file" && a.Op == "change" && a.Detail == "" && !sensitive[a.Target] && want[a.Target] != nil {
			paths = append(paths, a.Target)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	var script strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&script, "echo '@@obsbox file %s'; cat %s 2>/dev/null; echo; echo '@@obsbox eof'\n", p, shell.Quote(p))
	}
	out, err := h.Conn.Run(ctx, script.String())
	if err != nil {
		return fmt.Errorf("reading files for the diff: %w", err)
	}
	old := parseFiles(string(out))
	for i, a := range h.Plan.Actions {
		if a.Kind != "file" || a.Op != "change" {
			continue
		}
		if sensitive[a.Target] {
			h.Plan.Actions[i].Diff = "(sensitive)"
			continue
		}
		o, ok := old[a.Target]
		if !ok {
			continue
		}
		d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(o), B: difflib.SplitLines(string(want[a.Target])),
			FromFile: a.Target + " (on host)", ToFile: a.Target + " (planned)", Context: 3,
		})
		h.Plan.Actions[i].Diff = d
	}
	return nil
}

func parseFiles(out string) map[string]string {
	files := map[string]string{}
	for _, chunk := range strings.Split(out, "@@obsbox eof\n") {
		head, body, ok := strings.Cut(chunk, "\n")
		name, found := strings.CutPrefix(strings.TrimSpace(head), "@@obsbox file ")
		if !ok || !found {
			continue
		}
		files[name] = strings.TrimSuffix(body, "\n")
	}
	return files
}
