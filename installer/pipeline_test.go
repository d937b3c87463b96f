package installer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestHostsDoNotWaitForEachOther: one host held in its first phase does not
// keep another from going through every phase; a host that fails leaves
// the run without holding anyone up either.
func TestHostsDoNotWaitForEachOther(t *testing.T) {
	r := testRun("slow", "fast", "dead")
	fastDone := make(chan struct{})
	var mu sync.Mutex
	ran := map[string][]int{}
	step := func(i int) Phase {
		return phaseFunc(func(ctx context.Context, h *HostRun) error {
			mu.Lock()
			ran[h.Host.Name] = append(ran[h.Host.Name], i)
			mu.Unlock()
			switch {
			case h.Host.Name == "dead" && i == 0:
				return errors.New("connect: connection refused")
			case h.Host.Name == "slow" && i == 0:
				// A bound only so a regression fails instead of hanging.
				select {
				case <-fastDone:
				case <-time.After(30 * time.Second):
					return errors.New("the fast host never finished while this one was held")
				}
			case h.Host.Name == "fast" && i == 2:
				close(fastDone)
			}
			return nil
		})
	}
	r.runPhases(context.Background(), []Phase{step(0), step(1), step(2)})
	r.finish()
	for _, h := range r.Hosts {
		want := []int{0, 1, 2}
		if h.Host.Name == "dead" {
			want = []int{0}
		}
		if got := ran[h.Host.Name]; len(got) != len(want) {
			t.Errorf("%s ran phases %v, want %v", h.Host.Name, got, want)
		}
	}
	if !r.Hosts[0].Result.OK || !r.Hosts[1].Result.OK || r.Hosts[2].Result.OK {
		t.Errorf("results: %+v %+v %+v", r.Hosts[0].Result, r.Hosts[1].Result, r.Hosts[2].Result)
	}
}

func TestConnectTimeoutPrecedence(t *testing.T) {
	for _, c := range []struct{ flag, inv, want time.Duration }{
		{0, 0, defaultConnectTimeout}, {0, 4 * time.Second, 4 * time.Second}, {2 * time.Second, 4 * time.Second, 2 * time.Second},
	} {
		if got := connectTimeout(c.flag, c.inv); got != c.want {
			t.Errorf("flag %s, inventory %s: %s, want %s", c.flag, c.inv, got, c.want)
		}
	}
}
