package session

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Additional connections and re-attaching. A client adds connections to a
// running session with its session key (Protocol.c, additional_connect)
// up to the session's maximum; a connection that drops is removed and the
// session goes on over the others (Connection.c, ConnectionReceive and
// ConnectionSend remove a disconnected TCPSOCK); the client replaces it at
// its next attempt. When the last one drops, the server keeps the session
// until its timeout so that the client can re-attach (Session.c,
// SessionMain ends it at once only with GSF_DISABLE_SESSION_RECONNECT):
// the session ends when its last connection has gone and the timeout has
// passed with nothing received.

var reattachParams = Params{Role: Server, Timeout: testTimeout, MaxConnections: 2}

// An additional connection joins a running session: it gets its first
// keep-alive at once and carries traffic when the first one blocks. The
// session refuses one beyond its maximum.
func TestAdditionalConnectionJoinsARunningSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, reattachParams)
		defer r.close()
		first := r.mustAttach()
		r.port.send(0, 100)
		synctest.Wait()
		joined := time.Now()
		added := r.mustAttach()
		synctest.Wait()
		if kas := added.keepAliveTimes(); len(kas) != 1 || !kas[0].Equal(joined) {
			t.Fatalf("the additional connection got keep-alives at %v, want one at once", kas)
		}
		if _, err := r.attach(); !errors.Is(err, vpnerr.TooManyConnection) {
			t.Fatalf("a third connection with a maximum of 2: %v, want ErrTooManyConnection", err)
		}
		first.pause()
		r.port.send(100, writeBatch+50)
		time.Sleep(helpAfter + time.Millisecond)
		synctest.Wait()
		if n := len(added.frames()); n != 50 {
			t.Fatalf("the additional connection carried %d frames, want the 50 the blocked first one did not take", n)
		}
	})
}

// A connection that drops (with the batch it was writing) is removed; the
// session carries on over the other one and takes a replacement.
func TestDroppedConnectionIsReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, reattachParams)
		defer r.close()
		ps := []*peer{r.mustAttach()}
		r.port.send(0, 1) // the first connection carries the traffic
		synctest.Wait()
		ps = append(ps, r.mustAttach())
		synctest.Wait()
		ps[0].pause()
		r.port.send(1, 1) // held by the first connection's writer...
		synctest.Wait()
		ps[0].close() // ...and lost with it, as with TCP
		synctest.Wait()
		if n := r.s.NumConns(); n != 1 {
			t.Fatalf("%d connections after one dropped, want 1", n)
		}
		r.port.send(2, 10)
		synctest.Wait()
		if got := ps[1].frames(); len(got) != 10 || got[0] != 2 || !inOrder(got) {
			t.Fatalf("the remaining connection carried %v, want frames 2..11", got)
		}
		repl := r.mustAttach()
		if n := r.s.NumConns(); n != 2 {
			t.Fatalf("%d connections after the replacement joined, want 2", n)
		}
		ps[1].pause()
		r.port.send(12, writeBatch+5)
		time.Sleep(helpAfter + time.Millisecond)
		synctest.Wait()
		if n := len(repl.frames()); n != 5 {
			t.Fatalf("the replacement carried %d frames, want 5", n)
		}
	})
}

// With every connection gone the session waits for the timeout: the peer
// re-attaches within it and the session carries on; when the last one goes
// for good, the session ends with ErrSessionTimeout the timeout after the
// last thing received, and takes no connection after that.
func TestSessionOutlivesItsLastConnectionUntilTheTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, reattachParams)
		defer r.close()
		a := r.mustAttach()
		time.Sleep(testTimeout / 2)
		a.keepAlive()
		synctest.Wait()
		a.close()
		synctest.Wait()
		if n := r.s.NumConns(); n != 0 {
			t.Fatalf("%d connections after the only one dropped", n)
		}
		time.Sleep(testTimeout - time.Nanosecond)
		synctest.Wait()
		if ended, err := r.ended(); ended {
			t.Fatalf("the session ended before its timeout with no connection: %v", err)
		}
		b := r.mustAttach()
		b.keepAlive()
		r.port.send(0, 3)
		synctest.Wait()
		if n := len(b.frames()); n != 3 {
			t.Fatalf("the re-attached connection carried %d of 3 frames", n)
		}
		time.Sleep(testTimeout / 2)
		b.keepAlive()
		synctest.Wait()
		last := time.Now()
		b.close()
		time.Sleep(testTimeout - time.Nanosecond)
		synctest.Wait()
		if ended, err := r.ended(); ended {
			t.Fatalf("the session ended before the timeout after the last keep-alive: %v", err)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if ended, err := r.ended(); !ended || !errors.Is(err, vpnerr.SessionTimeout) || time.Since(last) != testTimeout {
			t.Fatalf("%v after the last keep-alive: ended %v with %v; want ErrSessionTimeout at %v", time.Since(last), ended, err, testTimeout)
		}
		if _, err := r.attach(); !errors.Is(err, ErrClosed) {
			t.Fatalf("attaching to an ended session: %v, want ErrClosed", err)
		}
	})
}

// Attaching is no sign of life: a peer that keeps attaching connections
// and dropping them without sending anything does not hold the session
// open past its timeout.
func TestReattachingIsNoSignOfLife(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, reattachParams)
		defer r.close()
		for range 8 {
			if ended, _ := r.ended(); ended {
				break
			}
			if p, err := r.attach(); err == nil {
				p.close()
			}
			time.Sleep(testTimeout / 4)
			synctest.Wait()
		}
		if ended, err := r.ended(); !ended || !errors.Is(err, vpnerr.SessionTimeout) {
			t.Fatalf("after 2 timeouts of attaching and dropping: ended %v with %v, want ErrSessionTimeout", ended, err)
		}
	})
}

// Close ends the session with its reason and closes every connection.
func TestCloseEndsEveryConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, reattachParams)
		defer r.close()
		a, b := r.mustAttach(), r.mustAttach()
		reason := errors.New("administrator disconnected the session")
		r.s.Close(reason)
		synctest.Wait()
		if ended, err := r.ended(); !ended || err != reason || !a.closed() || !b.closed() || r.s.NumConns() != 0 {
			t.Fatalf("after Close: ended %v with %v, connections closed %v %v, %d left", ended, err, a.closed(), b.closed(), r.s.NumConns())
		}
	})
}
