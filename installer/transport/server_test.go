package transport

// An in-process SSH server on 127.0.0.1 for the tests: exec requests run
// the command with the local /bin/sh (as sshd does with the login shell),
// the sftp subsystem is pkg/sftp's server, and direct-tcpip channels make
// it usable as a jump host.

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

type testServer struct {
	t        testing.TB
	addr     string // 127.0.0.1:port
	port     int
	hostKeys []ssh.Signer
	env      []string // extra environment for exec'd commands

	mu         sync.Mutex
	authorized []ssh.PublicKey
	users      []string // users that logged in
	commands   []string // exec requests' commands
	live       []*ssh.ServerConn

	accepted atomic.Int32 // TCP connections accepted
	tunnels  atomic.Int32 // direct-tcpip channels opened
	freeze   atomic.Bool  // stop answering global requests (keepalives)

	// Stalls, for the deadline tests. sshd itself keeps answering keepalives.
	sftpStallAt  atomic.Int64  // a new SFTP server reads this many bytes, then nothing; <0 never
	execStallAt  atomic.Int64  // a new command's stdin gets this many bytes of the channel, then nothing; <0 never
	sftpSlow     atomic.Int64  // nanoseconds the SFTP server sleeps before each read of at most 4 KiB
	holdChannels atomic.Bool   // channel opens get no answer
	holdExec     atomic.Bool   // exec requests get no answer
	stallRelease chan struct{} // closed at cleanup: stalled readers give up
}

type serverOption func(*testServer)

// withHostKeys replaces the default single Ed25519 host key.
func withHostKeys(keys ...ssh.Signer) serverOption {
	return func(s *testServer) { s.hostKeys = keys }
}

func withEnv(env ...string) serverOption {
	return func(s *testServer) { s.env = append(s.env, env...) }
}

func newTestServer(t testing.TB, authorized []ssh.PublicKey, opts ...serverOption) *testServer {
	t.Helper()
	s := &testServer{t: t, authorized: authorized, hostKeys: []ssh.Signer{newEd25519Signer(t)},
		stallRelease: make(chan struct{})}
	s.sftpStallAt.Store(-1)
	s.execStallAt.Store(-1)
	for _, o := range opts {
		o(s)
	}
	conf := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, k := range s.authorized {
				if string(k.Marshal()) == string(key.Marshal()) {
					s.users = append(s.users, meta.User())
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("key not authorized")
		},
	}
	for _, k := range s.hostKeys {
		conf.AddHostKey(k)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.port = ln.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() {
		ln.Close()
		close(s.stallRelease)
		s.dropAll()
	})
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			go s.serveConn(nc, conf)
		}
	}()
	return s
}

func (s *testServer) serveConn(nc net.Conn, conf *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(nc, conf)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.live = append(s.live, sc)
	s.mu.Unlock()
	go func() {
		for req := range reqs {
			if s.freeze.Load() {
				continue // never answered: the client sees a dead peer
			}
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}()
	for nch := range chans {
		if s.holdChannels.Load() {
			continue // never answered
		}
		switch nch.ChannelType() {
		case "session":
			go s.serveSession(nch)
		case "direct-tcpip":
			go s.serveTunnel(nch)
		default:
			nch.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
	// The connection is gone.
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.live {
		if c == sc {
			s.live = append(s.live[:i], s.live[i+1:]...)
			break
		}
	}
}

func (s *testServer) authorize(key ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorized = append(s.authorized, key)
}

// dropAll cuts every connection, as a network failure or host crash would.
func (s *testServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.live {
		c.Close()
	}
}

func (s *testServer) liveConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

func (s *testServer) execCommands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

func (s *testServer) loginUsers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.users...)
}

func (s *testServer) serveSession(nch ssh.NewChannel) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				req.Reply(false, nil)
				continue
			}
			if s.holdExec.Load() {
				<-s.stallRelease
				return
			}
			req.Reply(true, nil)
			s.mu.Lock()
			s.commands = append(s.commands, p.Command)
			s.mu.Unlock()
			code := s.runCommand(ch, reqs, p.Command)
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
			return
		case "subsystem":
			var p struct{ Name string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil || p.Name != "sftp" {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			srv, err := sftp.NewServer(&stallingChannel{Channel: ch, left: s.sftpStallAt.Load(),
				slow: time.Duration(s.sftpSlow.Load()), release: s.stallRelease})
			if err != nil {
				return
			}
			go ssh.DiscardRequests(reqs)
			srv.Serve()
			srv.Close()
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
			return
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
}

// stallingChannel is the SFTP server's side of the channel: it can stop
// reading after some bytes, as a stopped or wedged sftp-server does, or
// read slowly, as over a slow link.
type stallingChannel struct {
	ssh.Channel
	left    int64 // bytes still passed on before the stall; <0 never stalls
	slow    time.Duration
	release <-chan struct{}
}

func (c *stallingChannel) Read(p []byte) (int, error) {
	if c.slow > 0 {
		time.Sleep(c.slow)
		p = p[:min(len(p), 4<<10)]
	}
	if c.left == 0 {
		<-c.release
		return 0, io.EOF
	}
	if c.left > 0 && int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.Channel.Read(p)
	if c.left > 0 {
		c.left -= int64(n)
	}
	return n, err
}

// runCommand runs an exec request's command with /bin/sh -c as sshd does:
// in a new session, stdin fed from the channel until the client closes it,
// and nothing killed when the channel closes.
func (s *testServer) runCommand(ch ssh.Channel, reqs <-chan *ssh.Request, command string) int {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 255
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(ch.Stderr(), err)
		return 127
	}
	go func() {
		io.Copy(stdin, &stallingChannel{Channel: ch, left: s.execStallAt.Load(), release: s.stallRelease})
		stdin.Close()
	}()
	go func() {
		for req := range reqs {
			if req.Type == "signal" {
				cmd.Process.Signal(syscall.SIGTERM) // sshd signals only its child
			}
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if exit.ExitCode() < 0 {
			return 128 + int(exit.Sys().(syscall.WaitStatus).Signal())
		}
		return exit.ExitCode()
	}
	if err != nil {
		return 255
	}
	return 0
}

func (s *testServer) serveTunnel(nch ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad payload")
		return
	}
	if p.Host != "127.0.0.1" {
		nch.Reject(ssh.Prohibited, "tests only tunnel to 127.0.0.1")
		return
	}
	target, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		target.Close()
		return
	}
	s.tunnels.Add(1)
	go ssh.DiscardRequests(reqs)
	go func() {
		io.Copy(target, ch)
		target.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(ch, target)
	ch.Close()
	target.Close()
}

// --- keys and files ---

func newEd25519Signer(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRSASigner(t testing.TB) ssh.Signer {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clientKey is a login key written to a file in OpenSSH format.
type clientKey struct {
	path string
	priv ed25519.PrivateKey
	pub  ssh.PublicKey
}

// writeClientKey writes a new Ed25519 key to dir/name, encrypted when
// passphrase is not empty.
func writeClientKey(t testing.TB, dir, name, passphrase string) clientKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{path: p, priv: priv, pub: pub}
}

// waitFor polls cond for up to 10s; the tests never assert durations.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
