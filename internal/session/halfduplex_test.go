package session

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// Half-duplex sessions (SoftEther half_connection). Every connection
// carries data one way: the login connection client-to-server (Protocol.c,
// ServerAccept: "The direction of the first socket is client to server"),
// then each additional connection server-to-client unless there are more
// of those than client-to-server ones (Protocol.c, additional_connect:
// direction = s2c > c2s ? TCP_CLIENT_TO_SERVER : TCP_SERVER_TO_CLIENT). A
// side sends blocks and keep-alives only where it may send
// (Connection.c, IS_SEND_TCP_SOCK) and applies the idle timeout only where
// it receives (IS_RECV_TCP_SOCK).

var halfParams = Params{Role: Server, Timeout: 20 * time.Second, MaxConnections: 4, HalfDuplex: true}

// The directions alternate as on the real server (observed with
// max_connection 4: C2S, S2C, S2C, C2S), and the session refuses a
// connection beyond its maximum.
func TestHalfDuplexDirectionsAlternate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, halfParams)
		defer r.close()
		want := []wire.Direction{wire.ClientToServer, wire.ServerToClient, wire.ServerToClient, wire.ClientToServer}
		for i, d := range want {
			if p := r.mustAttach(); p.dir != d {
				t.Fatalf("connection %d got direction %d, want %d", i, p.dir, d)
			}
		}
		if s2c, c2s := r.s.Directions(); s2c != 2 || c2s != 2 {
			t.Fatalf("Directions() = %d S2C, %d C2S; want 2 and 2", s2c, c2s)
		}
		if _, err := r.attach(); !errors.Is(err, vpnerr.TooManyConnection) {
			t.Fatalf("a fifth connection: %v, want ErrTooManyConnection", err)
		}
	})
}

// On a server, frames and keep-alives go out only on server-to-client
// connections, frames come in on client-to-server ones, and the session
// carries both ways.
func TestHalfDuplexEachConnectionCarriesOneWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, halfParams)
		defer r.close()
		var ps []*peer
		for range 4 {
			ps = append(ps, r.mustAttach())
		}
		// Several bursts, with the connection that carried each one
		// blocked, so that the frames move to the other S2C connection.
		for i := range 4 {
			r.port.send(i*100, 100)
			time.Sleep(helpAfter + time.Millisecond)
			synctest.Wait()
			for _, p := range ps {
				if len(p.frames()) > 0 {
					p.pause()
				}
			}
		}
		for _, p := range ps {
			p.resume()
		}
		// The client sends on its C2S connections.
		next := 0
		for _, p := range ps {
			if p.dir == wire.ClientToServer {
				p.sendFrames(next, 10)
				next += 10
			}
		}
		// Keep-alives go out on idle connections at most half the
		// timeout apart.
		time.Sleep(halfParams.Timeout / 2)
		synctest.Wait()
		for i, p := range ps {
			n, ka := len(p.frames()), len(p.keepAliveTimes())
			switch p.dir {
			case wire.ServerToClient:
				if ka == 0 || n == 0 {
					t.Errorf("S2C connection %d got %d frames and %d keep-alives from the server, want some of both", i, n, ka)
				}
			case wire.ClientToServer:
				if n != 0 || ka != 0 {
					t.Errorf("C2S connection %d got %d frames and %d keep-alives from the server, want none", i, n, ka)
				}
			}
		}
		checkAllOnce(t, ps, 400)
		if got := r.port.received(); len(got) != next {
			t.Errorf("the session took %d of the %d frames the client sent", len(got), next)
		}
	})
}

// Until a connection the server may send on exists, its frames wait in
// the port; the first server-to-client connection takes them.
func TestHalfDuplexServerSendsOnceAnS2CConnectionExists(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, halfParams)
		defer r.close()
		login := r.mustAttach()
		r.port.send(0, 10)
		time.Sleep(time.Second)
		synctest.Wait()
		if r.port.queued() != 10 || len(login.frames()) != 0 {
			t.Fatalf("with only the C2S login connection %d frames left the port", 10-r.port.queued())
		}
		s2c := r.mustAttach()
		synctest.Wait()
		if got := s2c.frames(); len(got) != 10 || !inOrder(got) {
			t.Fatalf("the S2C connection carried %v, want frames 0..9", got)
		}
	})
}

// When the only server-to-client connection drops, the next additional
// connection is server-to-client again, and the session sends on it.
func TestHalfDuplexReplacesTheLostDirection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Params{Role: Server, Timeout: 20 * time.Second, MaxConnections: 2, HalfDuplex: true})
		defer r.close()
		r.mustAttach()
		s2c := r.mustAttach()
		s2c.close()
		synctest.Wait()
		if s2c, c2s := r.s.Directions(); s2c != 0 || c2s != 1 {
			t.Fatalf("after the S2C connection dropped: %d S2C, %d C2S; want 0 and 1", s2c, c2s)
		}
		again := r.mustAttach()
		if again.dir != wire.ServerToClient {
			t.Fatalf("the replacement got direction %d, want S2C", again.dir)
		}
		r.port.send(0, 5)
		synctest.Wait()
		if n := len(again.frames()); n != 5 {
			t.Fatalf("the replacement carried %d of 5 frames", n)
		}
	})
}

// The idle timeout applies only to connections on which this side
// receives: a silent server-to-client connection stays up on a server, a
// silent client-to-server one is closed after the timeout (Connection.c,
// ConnectionReceive: IS_RECV_TCP_SOCK and now - LastCommTime >= Timeout).
// On a client it is the other way round.
func TestHalfDuplexTimesOutOnlyReceivingConnections(t *testing.T) {
	for _, role := range []Role{Server, Client} {
		t.Run([]string{"server", "client"}[role], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := halfParams
				p.Role = role
				r := newRig(t, p)
				defer r.close()
				var ps []*peer
				for range 4 {
					ps = append(ps, r.mustAttach())
				}
				// One connection of each direction keeps the session alive.
				ps[0].keepAliveEvery(p.Timeout / 4)
				ps[1].keepAliveEvery(p.Timeout / 4)
				time.Sleep(p.Timeout - time.Nanosecond)
				synctest.Wait()
				if n := r.s.NumConns(); n != 4 {
					t.Fatalf("%d connections just before the timeout, want 4", n)
				}
				time.Sleep(time.Nanosecond)
				synctest.Wait()
				// ps[2] is S2C, ps[3] C2S, both silent.
				recvDir := wire.ClientToServer // the direction this side receives on
				if role == Client {
					recvDir = wire.ServerToClient
				}
				for i, pe := range ps[2:] {
					if want := pe.dir == recvDir; pe.closed() != want {
						t.Errorf("silent connection %d (direction %d) closed: %v, want %v", i+2, pe.dir, pe.closed(), want)
					}
				}
				time.Sleep(5 * p.Timeout)
				synctest.Wait()
				if ended, err := r.ended(); ended || r.s.NumConns() != 3 {
					t.Fatalf("after 6 timeouts with keep-alives: ended %v (%v), %d connections; want running on 3", ended, err, r.s.NumConns())
				}
			})
		})
	}
}
