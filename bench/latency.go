package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/obsbox/obsbox/bench/relay"
	"github.com/obsbox/obsbox/e2e/harness"
)

// nftTable holds the bench's redirect; deleting it removes the rule.
const nftTable = "obsbox_bench"

// relayMark is the socket mark of the relay's own connections to the
// hosts, which the redirect lets through.
const relayMark = 0x0b5b

// latency adds a round trip to every new SSH connection from this machine
// to the test hosts: an nftables rule in the nat output hook redirects them
// to a relay on 127.0.0.1 that delays each direction by half of it.
// Connections made before a change keep the delay they started with.
type latency struct {
	mu    sync.Mutex
	rtt   time.Duration
	extra map[string]time.Duration // host address -> more on top of rtt
	ln    net.Listener
	on    bool // the rule is in place
}

func startLatency() (*latency, error) {
	if _, err := exec.LookPath("nft"); err != nil {
		progress("installing nftables (for the RTT runs)")
		if out, err := exec.Command("apt-get", "install", "-y", "-q", "nftables").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("apt-get install nftables: %v\n%s", err, tail(string(out), 10))
		}
	}
	exec.Command("nft", "delete", "table", "ip", nftTable).Run() // a crashed run's leftover
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &latency{ln: ln}
	r := &relay.Relay{Mark: relayMark, Delay: l.delay}
	go r.Serve(ln)
	return l, nil
}

func (l *latency) delay(dst string) time.Duration {
	host, _, _ := net.SplitHostPort(dst)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rtt + l.extra[host]
}

// set makes new connections take rtt, plus extra[address] to those hosts.
func (l *latency) set(rtt time.Duration, extra map[string]time.Duration) error {
	if l == nil {
		if rtt > 0 || len(extra) > 0 {
			return errors.New("no relay for the added latency")
		}
		return nil
	}
	l.mu.Lock()
	l.rtt, l.extra = rtt, extra
	l.mu.Unlock()
	want := rtt > 0 || len(extra) > 0
	switch {
	case want && !l.on:
		subnet := strings.TrimSuffix(harness.BridgeAddress(), ".1") + ".0/24"
		port := l.ln.Addr().(*net.TCPAddr).Port
		rules := fmt.Sprintf(`table ip %s {
  chain out {
    type nat hook output priority -100; policy accept;
    meta mark %#x return
    ip daddr %s tcp dport 22 redirect to :%d
  }
}
`, nftTable, relayMark, subnet, port)
		cmd := exec.Command("nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nft: adding the redirect to the relay: %v: %s", err, strings.TrimSpace(string(out)))
		}
		l.on = true
	case !want && l.on:
		return l.removeRule()
	}
	return nil
}

func (l *latency) removeRule() error {
	if out, err := exec.Command("nft", "delete", "table", "ip", nftTable).CombinedOutput(); err != nil {
		return fmt.Errorf("nft: removing the redirect: %v: %s", err, strings.TrimSpace(string(out)))
	}
	l.on = false
	return nil
}

// close removes the rule and stops the relay; safe on nil and twice.
func (l *latency) close() {
	if l == nil {
		return
	}
	if l.on {
		if err := l.removeRule(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}
	l.ln.Close()
}
