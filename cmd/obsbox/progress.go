package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// applyProgress draws one bar on a terminal: bytes uploaded across all
// hosts, with the count of hosts done in its description.
type applyProgress struct {
	w     io.Writer
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	hosts int
	done  int
}

func newApplyProgress(w io.Writer) *applyProgress { return &applyProgress{w: w} }

func (p *applyProgress) SetTotals(hosts int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hosts = hosts
	if bytes == 0 {
		return
	}
	if p.bar != nil {
		// Hosts announce their uploads as each gets there: the total grows.
		p.bar.ChangeMax64(bytes)
		return
	}
	p.bar = progressbar.NewOptions64(bytes,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(p.describe()),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func (p *applyProgress) describe() string {
	return fmt.Sprintf("uploading, %d/%d hosts done", p.done, p.hosts)
}

func (p *applyProgress) Uploaded(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Add64(n)
	}
}

func (p *applyProgress) HostDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if p.bar != nil {
		p.bar.Describe(p.describe())
		if p.done == p.hosts {
			p.bar.Finish()
		}
	}
}
