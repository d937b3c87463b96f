package installer

import (
	"context"
	"time"

	"github.com/obsbox/obsbox/installer/transport"
)

// connectPhase opens the one SSH connection the host keeps for the whole run
// and makes sure root is reachable before anything is read or changed.
type connectPhase struct{}

func (connectPhase) Title() string { return "connect" }

func (connectPhase) Run(ctx context.Context, r *Run, h *HostRun) error {
	s := h.Host.SSH
	cfg := transport.Config{
		Host:              h.Host.Name,
		Address:           h.Host.Address,
		Port:              s.Port,
		User:              s.User,
		PrivateKey:        s.PrivateKey,
		KnownHosts:        s.KnownHosts,
		AcceptNewHostKeys: s.AcceptNewHostKeys || r.Opts.AcceptNewHostKeys,
		Bastion:           s.Bastion,
		SudoPassword:      s.SudoPassword.Value(),
		ConnectTimeout:    connectTimeout(r.Opts.ConnectTimeout, s.ConnectTimeout),
		Passphrase:        r.Opts.Passphrase,
		Log:               r.Opts.Log.With("host", h.Host.Name),
	}
	conn, err := transport.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	h.Conn = conn
	if s.User == "root" {
		return nil // the probe checks uid 0 anyway; no round trip spent here
	}
	// sudo's problems (a password nobody gave) surface here, before anything is read.
	return conn.CheckPrivilege(ctx)
}

// defaultConnectTimeout is what a host costs that answers nothing.
const defaultConnectTimeout = 10 * time.Second

// connectTimeout: the flag, else the inventory, else the default.
func connectTimeout(flag, inventory time.Duration) time.Duration {
	switch {
	case flag > 0:
		return flag
	case inventory > 0:
		return inventory
	}
	return defaultConnectTimeout
}
