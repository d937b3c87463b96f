package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/obsbox/obsbox/installer/hoststate"
	"github.com/obsbox/obsbox/installer/plan"
	"github.com/obsbox/obsbox/installer/transport"
)

// uploadPhase sends what the plan needs: small files into the host's
// staging folder, tarballs unpacked on arrival into root's UnpackedDir.
// Both are named by their sha256, so what an interrupted run sent is not
// sent again, and each is checked on the host before use.
// Round trips, not bytes, are what a distant host costs: the small files
// go as one stream, and each tarball streams beside it on its own channel
// to root on the host, who unpacks it as it arrives (Conn.Unpack).
type uploadPhase struct{}

func (uploadPhase) Title() string { return "upload" }

func (uploadPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	var small []transport.File
	var large []plan.Upload
	for _, u := range h.Plan.Uploads {
		if u.LocalPath != "" {
			large = append(large, u)
		} else {
			small = append(small, transport.File{Name: u.Name, Content: u.Content, SHA256: u.SHA256})
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(large)+1)
	var wg sync.WaitGroup
	run := func(i int, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = f(); errs[i] != nil {
				cancel() // the host failed: the other streams stop
			}
		}()
	}
	if len(small) > 0 {
		run(0, func() error {
			if err := h.Conn.UploadFiles(ctx, small, r.progressFunc()); err != nil {
				return fmt.Errorf("uploading %d configuration files: %w", len(small), err)
			}
			return nil
		})
	}
	for i, u := range large {
		run(i+1, func() error { return uploadFile(ctx, r, h, u) })
	}
	wg.Wait()
	// The failure that stopped the others, not one the stop caused.
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

func uploadFile(ctx context.Context, r *Run, h *HostRun, u plan.Upload) error {
	f, err := os.Open(u.LocalPath)
	if err != nil {
		return err
	}
	defer f.Close()
	if u.Unpack {
		if err := h.Conn.Unpack(ctx, f, u.Size, hoststate.UnpackedDir, u.SHA256, u.Strip, r.progressFunc()); err != nil {
			return fmt.Errorf("sending %s: %w", u.LocalPath, err)
		}
		return nil
	}
	if err := h.Conn.Upload(ctx, f, u.Size, u.Name, r.progressFunc()); err != nil {
		return fmt.Errorf("uploading %s: %w", u.LocalPath, err)
	}
	return nil
}

// progressFunc turns one stream's running total into increments for the bars.
func (r *Run) progressFunc() func(int64) {
	var mu sync.Mutex
	var last int64
	return func(n int64) {
		mu.Lock()
		d := n - last
		last = n
		mu.Unlock()
		if r.Opts.Progress != nil {
			r.Opts.Progress.Uploaded(d)
		}
	}
}
