package transport

import (
	"context"
	"net"
)

// DialContext opens a TCP connection from the host itself (direct-tcpip), so
// health checks reach 127.0.0.1 on the host through the existing SSH
// connection: no open port needed, and it works behind a bastion.
// Each dial counts as one round trip.
func (c *Conn) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := c.alive(); err != nil {
		return nil, err
	}
	c.roundTrips.Add(1)
	conn, err := c.client.DialContext(ctx, network, addr)
	if err != nil {
		return nil, c.connErr("connecting to "+addr+" on the host", err)
	}
	return conn, nil
}
