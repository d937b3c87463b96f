// Package relay adds latency to TCP connections for the bench: an nftables
// rule redirects the controller's connections to the test hosts' sshd to
// this relay, which reads each one's original destination, dials it with a
// socket mark the rule lets through, and delivers every chunk half a round
// trip after it was read, in each direction, in order. (This kernel has no
// netem, so tc cannot add the delay.)
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Relay forwards accepted connections to their original destination.
type Relay struct {
	// Delay is the round trip to add to a connection to dst ("ip:port"):
	// each direction gets half of it.
	Delay func(dst string) time.Duration
	// Mark is the socket mark of the relay's own connections, which the
	// redirecting rule must skip.
	Mark int
	// Target returns where an accepted connection was headed; default: the
	// destination before the redirect (SO_ORIGINAL_DST).
	Target func(net.Conn) (string, error)

	wg sync.WaitGroup
}

// Serve relays every connection ln accepts until ln is closed.
func (r *Relay) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			r.wg.Wait()
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.relay(c)
		}()
	}
}

func (r *Relay) relay(c net.Conn) {
	defer c.Close()
	target := r.Target
	if target == nil {
		target = OriginalDst
	}
	dst, err := target(c)
	if err != nil {
		return
	}
	d := net.Dialer{Timeout: 30 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		if r.Mark == 0 {
			return nil
		}
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, r.Mark)
		})
		return errors.Join(err, serr)
	}}
	var rtt time.Duration
	if r.Delay != nil {
		rtt = r.Delay(dst)
	}
	// Far away, the server's first bytes arrive a round trip after the
	// connect began: half of it here, half on their way back.
	time.Sleep(rtt / 2)
	up, err := d.DialContext(context.Background(), "tcp", dst)
	if err != nil {
		return
	}
	defer up.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); Delayed(up, c, rtt/2) }()
	go func() { defer wg.Done(); Delayed(c, up, rtt/2) }()
	wg.Wait()
}

type chunk struct {
	data []byte
	at   time.Time // when to deliver it
	err  error     // the end of the stream, delivered like data
}

// Delayed copies src to dst, each chunk delay after it was read, in
// order, and half-closes dst (or closes it) at src's end, delay later too.
func Delayed(dst, src net.Conn, delay time.Duration) {
	q := make(chan chunk, 4096)
	go func() {
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{data: buf[:n], at: time.Now().Add(delay)}
			}
			if err != nil {
				q <- chunk{at: time.Now().Add(delay), err: err}
				close(q)
				return
			}
		}
	}()
	for ch := range q {
		if w := time.Until(ch.at); w > 0 {
			time.Sleep(w)
		}
		if ch.err != nil {
			if tc, ok := dst.(interface{ CloseWrite() error }); ok && errors.Is(ch.err, io.EOF) {
				tc.CloseWrite()
			} else {
				dst.Close()
			}
			continue
		}
		if _, err := dst.Write(ch.data); err != nil {
			src.Close()
			for range q {
			}
			return
		}
	}
}

// soOriginalDst is SO_ORIGINAL_DST from linux/netfilter_ipv4.h.
const soOriginalDst = 80

// OriginalDst is where a redirected IPv4 connection was headed.
func OriginalDst(c net.Conn) (string, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return "", fmt.Errorf("not a TCP connection")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return "", err
	}
	var addr *syscall.IPv6Mreq // 16 bytes: room for a sockaddr_in
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		addr, gerr = syscall.GetsockoptIPv6Mreq(int(fd), syscall.SOL_IP, soOriginalDst)
	}); err != nil {
		return "", err
	}
	if gerr != nil {
		return "", fmt.Errorf("SO_ORIGINAL_DST: %w", gerr)
	}
	b := addr.Multiaddr
	port := int(b[2])<<8 | int(b[3])
	ip := net.IPv4(b[4], b[5], b[6], b[7])
	return net.JoinHostPort(ip.String(), strconv.Itoa(port)), nil
}
