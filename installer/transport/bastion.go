package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Connections through the same jump host share one SSH connection to it:
// a run dialling hundreds of hosts would otherwise open as many logins on
// the bastion, and sshd's MaxStartups (10 by default) starts dropping
// unauthenticated connections well before that. Tunnels are direct-tcpip
// channels, which MaxSessions does not limit.
var (
	bastionsMu sync.Mutex
	bastions   = map[bastionKey]*bastionEntry{}
)

type bastionKey struct {
	address    string // host:port
	user       string
	privateKey string
	knownHosts string
	accept     bool
}

type bastionEntry struct {
	key    bastionKey
	ready  chan struct{} // closed once client or err is set
	client *ssh.Client
	err    error
	refs   int // guarded by bastionsMu
	stop   chan struct{}
	lost   chan struct{} // closed when the connection to the bastion dies
}

// bastionAddress adds the default port to "host" or "[v6]".
func bastionAddress(b string) string {
	if _, _, err := net.SplitHostPort(b); err == nil {
		return b
	}
	if len(b) > 1 && b[0] == '[' && b[len(b)-1] == ']' {
		b = b[1 : len(b)-1]
	}
	return net.JoinHostPort(b, "22")
}

// acquireBastion returns a live shared connection to cfg.Bastion, dialling
// it when there is none. Callers that arrive while a dial is in flight wait
// for its result.
func acquireBastion(ctx context.Context, cfg Config, auth *authMethods) (*bastionEntry, error) {
	key := bastionKey{address: bastionAddress(cfg.Bastion), user: cfg.User, privateKey: cfg.PrivateKey,
		knownHosts: cfg.KnownHosts, accept: cfg.AcceptNewHostKeys}

	bastionsMu.Lock()
	e := bastions[key]
	if e != nil && e.isLost() {
		delete(bastions, key) // its remaining users release it on Close
		e = nil
	}
	if e != nil {
		e.refs++
		bastionsMu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			releaseBastion(e)
			return nil, fmt.Errorf("waiting for bastion %s: %w", key.address, ctx.Err())
		}
	} else {
		e = &bastionEntry{key: key, ready: make(chan struct{}), refs: 1,
			stop: make(chan struct{}), lost: make(chan struct{})}
		bastions[key] = e
		bastionsMu.Unlock()
		e.dial(ctx, cfg, auth)
	}
	if e.err != nil {
		releaseBastion(e)
		return nil, withHost(e.err, cfg.Host)
	}
	return e, nil
}

func (e *bastionEntry) dial(ctx context.Context, cfg Config, auth *authMethods) {
	defer close(e.ready)
	verifier := &hostKeyVerifier{host: "", file: cfg.KnownHosts, accept: cfg.AcceptNewHostKeys, bastion: true, log: cfg.Log}
	dialNet := func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{Timeout: cfg.ConnectTimeout}
		return d.DialContext(ctx, "tcp", e.key.address)
	}
	client, err := dialSSH(ctx, cfg, e.key.address, dialNet, verifier, auth)
	if err != nil {
		var keyErr interface{ hostKeyError() }
		if !errors.As(err, &keyErr) {
			err = fmt.Errorf("%s@%s: %w", cfg.User, e.key.address, err)
		}
		e.err = err
		bastionsMu.Lock()
		if bastions[e.key] == e {
			delete(bastions, e.key)
		}
		bastionsMu.Unlock()
		return
	}
	cfg.Log.Debug("ssh connected to bastion", "bastion", e.key.address, "user", cfg.User)
	e.client = client
	go func() {
		client.Wait()
		close(e.lost)
	}()
	go keepAlive(client, keepaliveInterval, keepaliveTimeout, e.stop, func(err error) {
		cfg.Log.Warn("ssh connection to bastion lost", "bastion", e.key.address, "err", err)
	})
}

func (e *bastionEntry) isLost() bool {
	select {
	case <-e.ready:
	default:
		return false // still dialling
	}
	if e.err != nil {
		return true
	}
	select {
	case <-e.lost:
		return true
	default:
		return false
	}
}

// releaseBastion drops one reference and closes the connection with the last.
func releaseBastion(e *bastionEntry) {
	bastionsMu.Lock()
	e.refs--
	last := e.refs == 0
	if last && bastions[e.key] == e {
		delete(bastions, e.key)
	}
	bastionsMu.Unlock()
	if last && e.client != nil {
		close(e.stop)
		e.client.Close()
	}
}

// withHost puts the inventory host's name on an error from the shared
// bastion dial, which is not specific to any one host.
func withHost(err error, host string) error {
	var unknown *HostKeyUnknownError
	if errors.As(err, &unknown) {
		cp := *unknown
		cp.Host = host
		return &cp
	}
	var changed *HostKeyChangedError
	if errors.As(err, &changed) {
		cp := *changed
		cp.Host = host
		return &cp
	}
	return fmt.Errorf("bastion %w", err)
}
