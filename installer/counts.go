package installer

import (
	"fmt"
	"strings"

	"github.com/obsbox/obsbox/installer/plan"
)

// Counts tallies a host's actions by what they do. Every action lands in
// exactly one count, so the counts add up to the actions listed, in every
// output that shows them (the upload line, the plan, the summary, --json).
type Counts struct {
	Total   int `json:"total"`
	Create  int `json:"create"`
	Change  int `json:"change"`
	Remove  int `json:"remove"`
	Stop    int `json:"stop"`
	Enable  int `json:"enable"`
	Start   int `json:"start"` // a first start is no restart
	Restart int `json:"restart"`
	Reload  int `json:"reload"`
	Keep    int `json:"keep"`
	Restore int `json:"restore"`
	Other   int `json:"other"` // an op this list does not know yet
}

func countActions(actions []plan.Action) Counts {
	c := Counts{Total: len(actions)}
	for _, a := range actions {
		if p := c.field(a.Op); p != nil {
			*p++
		} else {
			c.Other++
		}
	}
	return c
}

func (c *Counts) field(op plan.Op) *int {
	switch op {
	case plan.OpCreate:
		return &c.Create
	case plan.OpChange:
		return &c.Change
	case plan.OpRemove:
		return &c.Remove
	case plan.OpStop:
		return &c.Stop
	case plan.OpEnable:
		return &c.Enable
	case plan.OpStart:
		return &c.Start
	case plan.OpRestart:
		return &c.Restart
	case plan.OpReload:
		return &c.Reload
	case plan.OpKeep:
		return &c.Keep
	case plan.OpRestore:
		return &c.Restore
	}
	return nil
}

// countWords are the counts in print order: what is planned, what was done.
var countWords = []struct {
	get        func(Counts) int
	todo, done string
}{
	{func(c Counts) int { return c.Create }, "to create", "created"},
	{func(c Counts) int { return c.Change }, "to change", "changed"},
	{func(c Counts) int { return c.Remove }, "to remove", "removed"},
	{func(c Counts) int { return c.Stop }, "to stop", "stopped"},
	{func(c Counts) int { return c.Enable }, "to enable", "enabled"},
	{func(c Counts) int { return c.Start }, "to start", "started"},
	{func(c Counts) int { return c.Restart }, "to restart", "restarted"},
	{func(c Counts) int { return c.Reload }, "to reload", "reloaded"},
	{func(c Counts) int { return c.Keep }, "to keep", "kept"},
	{func(c Counts) int { return c.Restore }, "to restore", "restored"},
	{func(c Counts) int { return c.Other }, "other", "other"},
}

// phrase lists the counts that are not zero: "55 created, 4 enabled, 4 started".
func (c Counts) phrase(done bool) string {
	var parts []string
	for _, w := range countWords {
		if n := w.get(c); n > 0 {
			word := w.todo
			if done {
				word = w.done
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, word))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// changes is "63 changes (55 to create, 4 to enable, 4 to start)".
func (c Counts) changes() string {
	word := "changes"
	if c.Total == 1 {
		word = "change"
	}
	return fmt.Sprintf("%d %s (%s)", c.Total, word, c.phrase(false))
}
