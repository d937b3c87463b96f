package bundles

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults for the download knobs on Store.
const (
	defaultAttempts    = 4
	defaultRetryDelay  = time.Second
	maxRetryDelay      = 30 * time.Second
	defaultIdleTimeout = 60 * time.Second
	maxChecksumSize    = 1 << 20
)

// NewHTTPClient returns the client bundles are downloaded with: proxy from
// the environment (HTTPS_PROXY, NO_PROXY, ...), bounded connect, TLS and
// response-header waits. There is no overall timeout, which would cut large
// downloads on slow links; Store stops a download that stalls instead.
func NewHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConns:          16,
		},
	}
}

// CheckMirror validates a mirror base URL (the one check; the inventory calls it) and returns it without a trailing slash.
func CheckMirror(mirror string) (string, error) {
	u, err := url.Parse(mirror)
	if err != nil {
		return "", fmt.Errorf("bundles.mirror %q is not a URL: %w", redactURL(mirror), err)
	}
	switch {
	case u.Scheme == "file" && u.Host == "" && strings.HasPrefix(u.Path, "/"):
		// A local folder laid out like the release pages (file:///srv/mirror).
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
	default:
		return "", fmt.Errorf("bundles.mirror %q must be an http://, https:// or file:/// base URL such as https://mirror.example.com/releases", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("bundles.mirror %q must not have a query or fragment", u.Redacted())
	}
	return strings.TrimRight(mirror, "/"), nil
}

// redactURL hides a password in a URL so it can go into messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// fileTransport serves file:// mirrors from the local file system.
var fileTransport = http.NewFileTransport(http.Dir("/"))

// HTTPError is a non-2xx answer from the server.
type HTTPError struct {
	URL    string // redacted
	Status int
	Text   string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("GET %s: HTTP %d %s", e.URL, e.Status, http.StatusText(e.Status))
	if e.Status == http.StatusNotFound {
		msg += " (no such file there: check the version, and that the mirror is laid out like the upstream release pages)"
	}
	return msg
}

// errStalled is the cause given when a download receives nothing for too long.
var errStalled = errors.New("download stalled")

// transient reports whether a failed attempt is worth repeating.
func transient(parent context.Context, err error) bool {
	if parent.Err() != nil {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status >= 500 || he.Status == http.StatusTooManyRequests || he.Status == http.StatusRequestTimeout
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) {
		return false
	}
	var fsErr *os.PathError
	if errors.As(err, &fsErr) {
		return false // our own disk, not the network
	}
	return true // connection refused/reset, timeouts, short bodies
}

// fetcher runs requests with retries for one Store.
type fetcher struct {
	client   *http.Client
	attempts int
	delay    time.Duration
	idle     time.Duration
	progress ProgressFunc
	logf     func(msg string, args ...any)
}

// retry runs attempt until it succeeds, fails for good, or the attempts run out.
func (f *fetcher) retry(ctx context.Context, rawURL string, attempt func(ctx context.Context) error) error {
	var err error
	for i := 1; i <= f.attempts; i++ {
		err = attempt(ctx)
		if err == nil || !transient(ctx, err) {
			return err
		}
		if i == f.attempts {
			break
		}
		wait := f.delay << (i - 1)
		if wait > maxRetryDelay || wait <= 0 {
			wait = maxRetryDelay
		}
		wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
		f.logf("download failed, retrying", "url", redactURL(rawURL), "attempt", i, "of", f.attempts, "wait", wait.Round(time.Millisecond), "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", f.attempts, err)
}

// get starts one request; the caller reads and closes the body. The returned
// context is cancelled with errStalled when the body stops arriving for f.idle.
func (f *fetcher) get(ctx context.Context, rawURL string) (*http.Response, *stallReader, context.CancelCauseFunc, error) {
	actx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(actx, http.MethodGet, rawURL, nil)
	if err != nil {
		cancel(nil)
		return nil, nil, nil, fmt.Errorf("bad URL %s: %w", redactURL(rawURL), err)
	}
	req.Header.Set("User-Agent", "obsbox")
	var resp *http.Response
	if req.URL.Scheme == "file" {
		resp, err = fileTransport.RoundTrip(req)
	} else {
		resp, err = f.client.Do(req)
	}
	if err != nil {
		cancel(nil)
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the method and URL we already name
		}
		return nil, nil, nil, fmt.Errorf("GET %s: %w", redactURL(rawURL), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel(nil)
		return nil, nil, nil, &HTTPError{URL: redactURL(rawURL), Status: resp.StatusCode}
	}
	sr := &stallReader{r: resp.Body, idle: f.idle}
	sr.timer = time.AfterFunc(f.idle, func() { cancel(errStalled) })
	return resp, sr, cancel, nil
}

// bodyErr explains a failed body read, naming a stall when that was the cause.
func bodyErr(ctx context.Context, rawURL string, idle time.Duration, err error) error {
	if errors.Is(context.Cause(ctx), errStalled) {
		return fmt.Errorf("GET %s: no data received for %s", redactURL(rawURL), idle)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("GET %s: the connection closed before the whole file arrived: %w", redactURL(rawURL), err)
	}
	return fmt.Errorf("GET %s: %w", redactURL(rawURL), err)
}

// stallReader restarts the stall timer whenever bytes arrive.
type stallReader struct {
	r     io.Reader
	idle  time.Duration
	timer *time.Timer
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.idle)
	}
	return n, err
}

func (s *stallReader) stop() { s.timer.Stop() }

// getSmall downloads a small file (a checksum listing) into memory.
func (f *fetcher) getSmall(ctx context.Context, rawURL string) ([]byte, error) {
	var body []byte
	err := f.retry(ctx, rawURL, func(ctx context.Context) error {
		resp, sr, cancel, err := f.get(ctx, rawURL)
		if err != nil {
			return err
		}
		defer cancel(nil)
		defer resp.Body.Close()
		defer sr.stop()
		b, err := io.ReadAll(io.LimitReader(sr, maxChecksumSize+1))
		if err != nil {
			return bodyErr(resp.Request.Context(), rawURL, f.idle, err)
		}
		if len(b) > maxChecksumSize {
			return fmt.Errorf("GET %s: checksum file larger than %d bytes", redactURL(rawURL), maxChecksumSize)
		}
		body = b
		return nil
	})
	return body, err
}

// download writes rawURL into dst (truncated on every attempt) and returns its SHA-256 and size.
func (f *fetcher) download(ctx context.Context, rawURL string, dst *os.File, label string, maxSize int64) (string, int64, error) {
	var sum string
	var size int64
	err := f.retry(ctx, rawURL, func(ctx context.Context) (err error) {
		if err := dst.Truncate(0); err != nil {
			return err
		}
		if _, err := dst.Seek(0, io.SeekStart); err != nil {
			return err
		}
		resp, sr, cancel, err := f.get(ctx, rawURL)
		if err != nil {
			return err
		}
		defer cancel(nil)
		defer resp.Body.Close()
		defer sr.stop()
		if resp.ContentLength > maxSize {
			return fmt.Errorf("GET %s: file is %d bytes, more than the %d allowed", redactURL(rawURL), resp.ContentLength, maxSize)
		}
		var bar ProgressWriter = nopProgress{}
		if f.progress != nil {
			bar = f.progress(label, resp.ContentLength)
		}
		defer func() { bar.Done(err) }()
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(dst, h, bar), io.LimitReader(sr, maxSize+1))
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return fmt.Errorf("writing %s: %w", dst.Name(), err)
			}
			return bodyErr(resp.Request.Context(), rawURL, f.idle, err)
		}
		if n > maxSize {
			return fmt.Errorf("GET %s: file is more than the %d bytes allowed", redactURL(rawURL), maxSize)
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return fmt.Errorf("GET %s: got %d of %d bytes: %w", redactURL(rawURL), n, resp.ContentLength, io.ErrUnexpectedEOF)
		}
		sum, size = hex.EncodeToString(h.Sum(nil)), n
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	return sum, size, nil
}
