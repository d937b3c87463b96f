// Package transport is the installer's only way onto a host: one SSH
// connection per host for a whole run, carrying root shell scripts (Run) and
// file uploads (Upload). Every change to a host passes through here, so round
// trips and bytes sent are counted here.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Config says how to reach and log in to one host. It is plain data so the
// installer can fill it from the inventory without this package knowing it.
type Config struct {
	Host              string        // inventory host name, for logs; errors leave it to the caller, which shows it once
	Address           string        // IP or DNS name
	Port              int           // default 22
	User              string        // default root
	PrivateKey        string        // path; "" = ssh-agent, then ~/.ssh/id_ed25519, ~/.ssh/id_rsa
	KnownHosts        string        // path; default ~/.ssh/known_hosts
	AcceptNewHostKeys bool          // trust on first use: record unknown keys in KnownHosts
	Bastion           string        // host[:port] jump host, same user and keys; "" none
	SudoPassword      string        // "" = sudo must be passwordless (ignored for root)
	ConnectTimeout    time.Duration // per attempt, TCP connect plus SSH handshake; default 10s
	CommandTimeout    time.Duration // per Run; default 5m
	// StallTimeout fails an SFTP operation, a session open or a script start
	// when the host sends nothing back for this long; default 30s. A slow
	// upload whose bytes keep being acknowledged never trips it.
	StallTimeout time.Duration
	// Passphrase is asked for the passphrase of an encrypted key, at most
	// once per key per process. nil: encrypted keys not held by ssh-agent fail
	// with a clear error.
	Passphrase func(keyPath string) ([]byte, error)
	Log        *slog.Logger
}

// Stats counts what a connection did to its host.
type Stats struct {
	RoundTrips int64 // one per Run, Upload and DialContext; the handshake is not counted
	BytesSent  int64 // file bytes uploaded
}

// Tunables; tests shorten them.
var (
	// A host lost mid-run is given up after keepaliveTimeout, not after
	// OpenSSH's 45s: an sshd that is up answers within a round trip.
	keepaliveInterval = 5 * time.Second
	keepaliveTimeout  = 20 * time.Second
	dialAttempts      = 3
	retryBackoff      = time.Second // doubled after each failed attempt
	stagingRoot       = "/var/tmp"
)

// maxSessions bounds concurrent Runs on one connection: OpenSSH's default
// MaxSessions is 10 and the SFTP subsystem holds one more.
const maxSessions = 8

// Conn is an authenticated connection to one host. It is safe for
// concurrent use.
type Conn struct {
	cfg      Config
	log      *slog.Logger
	client   *ssh.Client
	bastion  *bastionEntry // nil without a jump host
	staging  string
	sessions chan struct{}

	roundTrips atomic.Int64
	bytesSent  atomic.Int64

	sftpMu sync.Mutex
	sftp   *sftpSession // nil until the first upload, and after a stall

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	lostMu    sync.Mutex
	lost      error // why the connection died, when it did
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.Host == "" {
		cfg.Host = cfg.Address
	}
	if cfg.Address == "" {
		return cfg, errors.New("no address to connect to")
	}
	if cfg.Port == 0 {
		cfg.Port = 22
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return cfg, fmt.Errorf("ssh port %d is out of range", cfg.Port)
	}
	if cfg.User == "" {
		cfg.User = "root"
	}
	if strings.ContainsAny(cfg.User, "/ \t\n'\"\\") {
		return cfg, fmt.Errorf("ssh user %q is not a valid user name", cfg.User)
	}
	if strings.ContainsAny(cfg.SudoPassword, "\r\n") {
		return cfg, errors.New("the sudo password contains a line break, which sudo cannot read")
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 5 * time.Minute
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = defaultStallTimeout
	}
	var err error
	if cfg.PrivateKey != "" {
		if cfg.PrivateKey, err = expandHome(cfg.PrivateKey); err != nil {
			return cfg, fmt.Errorf("private key: %w", err)
		}
	}
	if cfg.KnownHosts == "" {
		cfg.KnownHosts = "~/.ssh/known_hosts"
	}
	if cfg.KnownHosts, err = expandHome(cfg.KnownHosts); err != nil {
		return cfg, fmt.Errorf("known_hosts: %w", err)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// expandHome turns a leading "~/" into the user's home folder.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot expand %s: %w", p, err)
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
}

// Dial connects and logs in to cfg's host, through the bastion when one is
// set. Only a busy sshd (reset, dropped before the key exchange) is tried
// again; a refused, unroutable or silent address fails after one attempt.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	auth, err := newAuth(cfg)
	if err != nil {
		return nil, err
	}
	defer auth.close()

	target := net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port))
	verifier := &hostKeyVerifier{host: cfg.Host, file: cfg.KnownHosts, accept: cfg.AcceptNewHostKeys, log: cfg.Log}

	var bastion *bastionEntry
	var dialNet func(ctx context.Context) (net.Conn, error)
	if cfg.Bastion != "" {
		bastion, err = acquireBastion(ctx, cfg, auth)
		if err != nil {
			return nil, err
		}
		dialNet = func(ctx context.Context) (net.Conn, error) {
			return bastion.client.DialContext(ctx, "tcp", target)
		}
	} else {
		dialNet = func(ctx context.Context) (net.Conn, error) {
			d := net.Dialer{Timeout: cfg.ConnectTimeout}
			return d.DialContext(ctx, "tcp", target)
		}
	}

	start := time.Now()
	client, err := dialSSH(ctx, cfg, target, dialNet, verifier, auth)
	if err != nil {
		if bastion != nil {
			releaseBastion(bastion)
		}
		var unknown *HostKeyUnknownError
		var changed *HostKeyChangedError
		if errors.As(err, &unknown) || errors.As(err, &changed) {
			return nil, err
		}
		via := ""
		if bastion != nil {
			via = " via bastion " + bastion.key.address
		}
		return nil, fmt.Errorf("ssh %s@%s%s: %w", cfg.User, target, via, err)
	}
	cfg.Log.Debug("ssh connected", "host", cfg.Host, "address", target, "user", cfg.User,
		"bastion", cfg.Bastion, "duration", time.Since(start))

	c := &Conn{
		cfg:      cfg,
		log:      cfg.Log,
		client:   client,
		bastion:  bastion,
		staging:  stagingRoot + "/obsbox-staging-" + cfg.User,
		sessions: make(chan struct{}, maxSessions),
		done:     make(chan struct{}),
	}
	go func() {
		err := client.Wait()
		if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("closed by the host")
		}
		c.markLost(err)
	}()
	go keepAlive(client, keepaliveInterval, keepaliveTimeout, c.done, func(err error) { c.markLost(err) })
	return c, nil
}

// dialSSH makes up to dialAttempts connection attempts, each bounded by
// ConnectTimeout, with a doubling pause between them.
func dialSSH(ctx context.Context, cfg Config, addr string, dialNet func(context.Context) (net.Conn, error),
	verifier *hostKeyVerifier, auth *authMethods) (*ssh.Client, error) {
	algos, err := verifier.hostKeyAlgorithms(addr)
	if err != nil {
		return nil, err
	}
	conf := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              auth.methods(),
		HostKeyCallback:   verifier.check,
		HostKeyAlgorithms: algos,
		Timeout:           cfg.ConnectTimeout,
		ClientVersion:     "SSH-2.0-obsbox",
	}
	pause := retryBackoff
	for attempt := 1; ; attempt++ {
		client, err := dialOnce(ctx, cfg.ConnectTimeout, addr, dialNet, conf, auth)
		if err == nil {
			return client, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		if !retryable(err) {
			return nil, auth.explain(err)
		}
		if attempt >= dialAttempts {
			return nil, fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		cfg.Log.Debug("ssh connect failed, retrying", "host", cfg.Host, "address", addr,
			"attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
		case <-time.After(pause):
		}
		pause *= 2
	}
}

var errConnectTimeout = errors.New("timed out")

// dialOnce is one attempt: connect within timeout, then complete the
// handshake within timeout. Time spent waiting for someone to type a key's
// passphrase does not count: the handshake clock restarts after it.
func dialOnce(ctx context.Context, timeout time.Duration, addr string,
	dialNet func(context.Context) (net.Conn, error), conf *ssh.ClientConfig, auth *authMethods) (*ssh.Client, error) {
	timedOut := fmt.Errorf("%w after %s", errConnectTimeout, timeout)
	cctx, cancel := context.WithTimeoutCause(ctx, timeout, timedOut)
	nc, err := dialNet(cctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(cctx), errConnectTimeout) {
			return nil, fmt.Errorf("connect: %w", timedOut)
		}
		return nil, fmt.Errorf("connect: %w", err)
	}

	// Tunnelled connections have no deadlines, so a stuck handshake is cut
	// by closing the connection instead.
	var mu sync.Mutex
	expired := false
	timer := time.AfterFunc(timeout, func() {
		mu.Lock()
		expired = true
		mu.Unlock()
		nc.Close()
	})
	auth.pauseDuring(func() (resume func()) {
		if !timer.Stop() {
			return func() {}
		}
		return func() { timer.Reset(timeout) }
	})
	defer auth.pauseDuring(nil)
	stopCtx := context.AfterFunc(ctx, func() { nc.Close() })

	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, conf)
	timer.Stop()
	cancelled := !stopCtx()
	mu.Lock()
	cut := expired
	mu.Unlock()
	if cut || cancelled {
		if err == nil {
			sc.Close()
		}
		if cancelled {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("ssh handshake: %w", timedOut)
	}
	if err != nil {
		return nil, err
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// retryable reports errors another attempt can cure: an sshd that is
// there but busy. A refused or unroutable address fails at once and a
// timeout is not waited out twice: a host that is down costs one
// ConnectTimeout at most. Login and host-key failures are final.
func retryable(err error) bool {
	var keyErr interface{ hostKeyError() }
	if errors.As(err, &keyErr) {
		return false
	}
	if errors.Is(err, errConnectTimeout) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return false
	}
	if errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	// sshd drops connections beyond MaxStartups before the key exchange.
	return errors.Is(err, io.EOF) && strings.Contains(err.Error(), "handshake failed")
}

// keepAlive asks the server for a reply every interval so NAT state stays
// fresh, and declares the connection dead when no answer comes within
// timeout.
func keepAlive(client *ssh.Client, interval, timeout time.Duration, stop <-chan struct{}, dead func(error)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timer := time.NewTimer(timeout)
		select {
		case err := <-reply:
			timer.Stop()
			if err != nil {
				dead(fmt.Errorf("keepalive failed: %w", err))
				return
			}
		case <-timer.C:
			dead(fmt.Errorf("no answer to keepalive for %s", timeout))
			client.Close()
			return
		case <-stop:
			timer.Stop()
			return
		}
	}
}

func (c *Conn) markLost(err error) {
	select {
	case <-c.done:
		return // we closed it ourselves
	default:
	}
	c.lostMu.Lock()
	first := c.lost == nil
	if first {
		c.lost = err
	}
	c.lostMu.Unlock()
	if first {
		c.log.Warn("ssh connection lost", "host", c.cfg.Host, "err", err)
	}
}

// alive fails fast once the connection is known to be gone.
func (c *Conn) alive() error {
	select {
	case <-c.done:
		return errors.New("connection already closed")
	default:
	}
	c.lostMu.Lock()
	defer c.lostMu.Unlock()
	if c.lost != nil {
		return fmt.Errorf("connection lost: %w", c.lost)
	}
	return nil
}

// connErr names the host and prefers the reason the connection died over
// whatever secondary error an operation on it produced.
func (c *Conn) connErr(op string, err error) error {
	if aerr := c.alive(); aerr != nil {
		return aerr
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Host is the inventory name of the connection's host.
func (c *Conn) Host() string { return c.cfg.Host }

// User is the login user.
func (c *Conn) User() string { return c.cfg.User }

// StagingDir is the login user's private upload folder on the host.
func (c *Conn) StagingDir() string { return c.staging }

// Stats returns the counters so far; safe to call at any time.
func (c *Conn) Stats() Stats {
	return Stats{RoundTrips: c.roundTrips.Load(), BytesSent: c.bytesSent.Load()}
}

// Close ends the connection. Later calls return nil.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.done)
		// No graceful SFTP close: pkg/sftp's Close waits for the server, which
		// never answers when it stalled. Closing the connection ends the
		// subsystem on the host and every goroutine still waiting on it.
		if cerr := c.client.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && !errors.Is(cerr, io.EOF) {
			err = fmt.Errorf("close: %w", cerr)
		}
		if c.bastion != nil {
			releaseBastion(c.bastion)
		}
	})
	return err
}
