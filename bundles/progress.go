package bundles

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// ProgressWriter receives the bytes of one download attempt as they arrive.
// Done is called once at the end, with the attempt's error or nil.
type ProgressWriter interface {
	io.Writer
	Done(err error)
}

// ProgressFunc starts reporting one download attempt of label; total is -1 when unknown.
type ProgressFunc func(label string, total int64) ProgressWriter

type nopProgress struct{}

func (nopProgress) Write(p []byte) (int, error) { return len(p), nil }
func (nopProgress) Done(error)                  {}

// BarProgress draws a progress bar per download on w, which should be a
// terminal. Bars cannot share a terminal line, so while one is drawn other
// downloads running at the same time are reported as plain lines.
func BarProgress(w io.Writer) ProgressFunc {
	var mu sync.Mutex
	busy := false
	lines := LineProgress(w)
	return func(label string, total int64) ProgressWriter {
		mu.Lock()
		defer mu.Unlock()
		if busy {
			return lines(label, total)
		}
		busy = true
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionSetRenderBlankState(true),
		)
		return &barWriter{bar: bar, w: w, release: func() {
			mu.Lock()
			busy = false
			mu.Unlock()
		}}
	}
}

type barWriter struct {
	bar     *progressbar.ProgressBar
	w       io.Writer
	release func()
}

func (b *barWriter) Write(p []byte) (int, error) {
	_ = b.bar.Add(len(p))
	return len(p), nil
}

func (b *barWriter) Done(err error) {
	if err == nil {
		_ = b.bar.Finish()
	}
	_ = b.bar.Exit()
	fmt.Fprintln(b.w)
	b.release()
}

// LineProgress prints one line when a download starts and one when it ends,
// for logs and terminals that cannot show bars.
func LineProgress(w io.Writer) ProgressFunc {
	var mu sync.Mutex // keeps lines from concurrent downloads whole
	return func(label string, total int64) ProgressWriter {
		mu.Lock()
		if total >= 0 {
			fmt.Fprintf(w, "downloading %s (%s)\n", label, HumanSize(total))
		} else {
			fmt.Fprintf(w, "downloading %s\n", label)
		}
		mu.Unlock()
		return &lineWriter{w: w, mu: &mu, label: label, start: time.Now()}
	}
}

type lineWriter struct {
	w     io.Writer
	mu    *sync.Mutex
	label string
	n     int64
	start time.Time
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.n += int64(len(p))
	return len(p), nil
}

func (l *lineWriter) Done(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		fmt.Fprintf(l.w, "download of %s failed after %s\n", l.label, HumanSize(l.n))
		return
	}
	fmt.Fprintf(l.w, "downloaded %s (%s in %s)\n", l.label, HumanSize(l.n), time.Since(l.start).Round(100*time.Millisecond))
}

// HumanSize formats a byte count with binary units.
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
