package relay

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"
)

// echo serves one TCP echo on 127.0.0.1 that closes after its peer's EOF.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestRelayKeepsOrderAndBytes: what goes through the relay with a delay
// comes back whole and in order, and an end of stream passes through.
func TestRelayKeepsOrderAndBytes(t *testing.T) {
	target := echo(t)
	var asked string
	r := &Relay{
		Delay:  func(dst string) time.Duration { asked = dst; return 10 * time.Millisecond },
		Target: func(net.Conn) (string, error) { return target, nil },
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Serve(ln) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sent := make([]byte, 3<<20+5)
	rand.Read(sent)
	go func() {
		// Chunks of many sizes, so reads and writes do not line up.
		for i, n := 0, 1; i < len(sent); n = n*3%65521 + 1 {
			j := min(i+n, len(sent))
			if _, err := c.Write(sent[i:j]); err != nil {
				return
			}
			i = j
		}
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c) // ends only when the EOF went there and back
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, sent) {
		t.Fatalf("got %d bytes back, want the %d sent, in order", len(got), len(sent))
	}
	if asked != target {
		t.Errorf("Delay asked for %q, want %q", asked, target)
	}
	ln.Close()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
