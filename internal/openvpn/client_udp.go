package openvpn

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// UDPClient is a Client on a connected UDP socket, with a goroutine that
// reads the server's datagrams and one that sends the pushed pings.
type UDPClient struct {
	*Client
	conn net.Conn
	wg   sync.WaitGroup
	stop chan struct{}
	once sync.Once
}

// DialUDP connects to an OpenVPN server over UDP ("host:port") and returns
// once the data channel is up, or with the handshake's error.
func DialUDP(ctx context.Context, addr string, cfg *ClientOptions) (*UDPClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	u := RunUDP(conn, cfg)
	if err := u.Handshake(ctx); err != nil {
		u.Close()
		return nil, err
	}
	u.keepalive()
	return u, nil
}

// RunUDP starts a Client on conn, a connected UDP socket (one made in
// another network namespace, say), and reads conn until Close. Wait for
// the data channel with Handshake.
func RunUDP(conn net.Conn, cfg *ClientOptions) *UDPClient {
	u := &UDPClient{conn: conn, stop: make(chan struct{})}
	// A failed write is a lost datagram: the reliable layer retransmits
	// control packets and data is best effort, as over any UDP path.
	u.Client = NewClient(cfg, func(p []byte) { conn.Write(p) })
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		buf := make([]byte, MaxPacket+512)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				// ICMP port unreachable before the server listens
				// shows up as ECONNREFUSED: keep reading.
				select {
				case <-u.stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				continue
			}
			u.HandlePacket(buf[:n])
		}
	}()
	u.Start()
	return u
}

// keepalive sends OpenVPN's ping at the pushed interval.
func (u *UDPClient) keepalive() {
	p := u.Push()
	if p == nil || p.Ping <= 0 {
		return
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		t := time.NewTicker(time.Duration(p.Ping) * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				u.SendPing()
			case <-u.stop:
				return
			}
		}
	}()
}

// Close tells the server the client exits, closes the socket and waits
// for the client's goroutines.
func (u *UDPClient) Close() error {
	u.once.Do(func() {
		u.Client.Close()
		close(u.stop)
		u.conn.Close()
		u.wg.Wait()
	})
	return nil
}
