package installer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
)

// uploadPhase sends what the plan needs into the host's staging folder.
// Files are named by their sha256, so a file staged by an interrupted run
// is not sent again, and the apply script checks every one before use.
type uploadPhase struct{}

func (uploadPhase) Title() string { return "upload" }

func (uploadPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	for _, u := range h.Plan.Uploads {
		var rd io.Reader
		if u.LocalPath != "" {
			f, err := os.Open(u.LocalPath)
			if err != nil {
				return err
			}
			defer f.Close()
			rd = f
		} else {
			rd = bytes.NewReader(u.Content)
		}
		var last int64
		progress := func(n int64) {
			if r.Opts.Progress != nil {
				r.Opts.Progress.Uploaded(n - last)
			}
			last = n
		}
		if err := h.Conn.Upload(ctx, rd, u.Size, u.Name, progress); err != nil {
			return fmt.Errorf("uploading %s: %w", describeUpload(h, u.Name), err)
		}
	}
	return nil
}

// describeUpload names what a staged file is for, for errors.
func describeUpload(h *HostRun, name string) string {
	for _, u := range h.Plan.Uploads {
		if u.Name == name && u.LocalPath != "" {
			return u.LocalPath
		}
	}
	return "a configuration file"
}
