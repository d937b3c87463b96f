package installer

import (
	"context"
	"fmt"
	"strings"
)

// PreviousVersions reads, from each selected host's record, the version of
// component comp that ran before its last upgrade: version -> hosts.
func PreviousVersions(ctx context.Context, opts Options, comp string) (map[string][]string, error) {
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	r.runPhases(ctx, []Phase{connectPhase{}, probePhase{}})
	r.finish()
	out := map[string][]string{}
	var failed []string
	for _, h := range r.Hosts {
		if h.Result.err != nil {
			failed = append(failed, h.Host.Name+": "+h.Result.Error)
			continue
		}
		if prev := h.State.Record.Components[comp].Previous; prev != "" {
			out[prev] = append(out[prev], h.Host.Name)
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("cannot read every host:\n%s", strings.Join(failed, "\n"))
	}
	return out, nil
}
