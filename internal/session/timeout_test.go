package session

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Timeouts and keep-alives. A session ends when nothing (no block, no
// keep-alive) was received on any of its connections for the timeout
// (SoftEther Session.c, SessionMain: now - LastCommTime >= Timeout ends it
// with ERR_SESSION_TIMEOUT). One connection on which this side receives is
// closed when nothing came on it for the timeout (Connection.c,
// ConnectionReceive). Each side sends a keep-alive on every connection it
// may send on as soon as the connection starts, then after a span drawn
// from [timeout/5, timeout/2) (Connection.c, GenNextKeepAliveSpan), pushed
// out by every DATA_FRAME written. ethervpn counts only what it receives
// as a sign of life: its own keep-alives and sends do not keep a session
// with a silent peer open.

const testTimeout = 20 * time.Second

// A session whose peer sends nothing ends with ErrSessionTimeout exactly
// the timeout after it started, although it sends keep-alives itself.
func TestSessionTimesOutAtTheTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Params{Role: Server, Timeout: testTimeout, MaxConnections: 2})
		defer r.close()
		p := r.mustAttach()
		time.Sleep(testTimeout - time.Nanosecond)
		synctest.Wait()
		if ended, err := r.ended(); ended {
			t.Fatalf("the session ended %v before its timeout: %v", time.Nanosecond, err)
		}
		if n := len(p.keepAliveTimes()); n < 2 {
			t.Fatalf("the session sent %d keep-alives in its timeout, want at least 2", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		ended, err := r.ended()
		if !ended || !errors.Is(err, vpnerr.SessionTimeout) {
			t.Fatalf("at the timeout: ended %v with %v, want ErrSessionTimeout", ended, err)
		}
	})
}

// Keep-alives from the peer, even at the longest span a real peer uses,
// keep the session and the connection up; once they stop, the session ends
// exactly the timeout after the last one.
func TestKeepAlivesKeepTheSessionUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Params{Role: Server, Timeout: testTimeout, MaxConnections: 2})
		defer r.close()
		p := r.mustAttach()
		const kas = 20
		for range kas {
			time.Sleep(testTimeout/2 - time.Millisecond)
			p.keepAlive()
		}
		last := time.Now()
		synctest.Wait()
		if ended, err := r.ended(); ended || r.s.NumConns() != 1 {
			t.Fatalf("after %d keep-alives: ended %v (%v), %d connections", kas, ended, err, r.s.NumConns())
		}
		time.Sleep(testTimeout - time.Nanosecond)
		synctest.Wait()
		if ended, err := r.ended(); ended {
			t.Fatalf("the session ended before the timeout after the last keep-alive: %v", err)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if ended, err := r.ended(); !ended || !errors.Is(err, vpnerr.SessionTimeout) {
			t.Fatalf("the timeout after the last keep-alive: ended %v with %v, want ErrSessionTimeout", ended, err)
		}
		if d := time.Since(last); d != testTimeout {
			t.Fatalf("ended %v after the last keep-alive, want %v", d, testTimeout)
		}
	})
}

// Frames from the peer count as life like keep-alives.
func TestFramesKeepTheSessionUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Params{Role: Server, Timeout: testTimeout, MaxConnections: 2})
		defer r.close()
		p := r.mustAttach()
		for i := range 10 {
			time.Sleep(testTimeout - time.Second)
			p.sendFrames(i, 1)
		}
		synctest.Wait()
		if ended, err := r.ended(); ended || len(r.port.received()) != 10 {
			t.Fatalf("peer sending a frame every %v: ended %v (%v), %d frames in", testTimeout-time.Second, ended, err, len(r.port.received()))
		}
	})
}

// A connection on which nothing arrives is closed at the timeout; the
// session carries on over the others.
func TestSilentConnectionIsClosedAtTheTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Params{Role: Server, Timeout: testTimeout, MaxConnections: 2})
		defer r.close()
		live := r.mustAttach()
		live.keepAliveEvery(testTimeout / 4)
		silent := r.mustAttach()
		time.Sleep(testTimeout - time.Nanosecond)
		synctest.Wait()
		if silent.closed() {
			t.Fatal("the silent connection was closed before the timeout")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if !silent.closed() || live.closed() || r.s.NumConns() != 1 {
			t.Fatalf("at the timeout: silent closed %v, live closed %v, %d connections; want only the silent one closed", silent.closed(), live.closed(), r.s.NumConns())
		}
		r.port.send(0, 3)
		synctest.Wait()
		if n := len(live.frames()); n != 3 {
			t.Fatalf("the remaining connection carried %d of 3 frames", n)
		}
	})
}

// The session's own keep-alives: the first as soon as the connection
// starts, then spans within [timeout/5, timeout/2) while it is idle; a
// DATA_FRAME written pushes the next one out by at least timeout/5.
func TestKeepAliveSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Params{Role: Server, Timeout: testTimeout, MaxConnections: 2})
		defer r.close()
		start := time.Now()
		p := r.mustAttach()
		p.keepAliveEvery(testTimeout / 4)
		time.Sleep(10 * testTimeout)
		synctest.Wait()
		kas := p.keepAliveTimes()
		if len(kas) == 0 || !kas[0].Equal(start) {
			t.Fatalf("first keep-alive at %v, want at the start", kas)
		}
		for i := 1; i < len(kas); i++ {
			if d := kas[i].Sub(kas[i-1]); d < testTimeout/5 || d >= testTimeout/2 {
				t.Fatalf("keep-alive %d came %v after the one before, want within [%v, %v)", i, d, testTimeout/5, testTimeout/2)
			}
		}
		// Data written now: no keep-alive before timeout/5 from now.
		r.port.send(0, 1)
		synctest.Wait()
		sent := time.Now()
		time.Sleep(testTimeout)
		synctest.Wait()
		for _, ka := range p.keepAliveTimes() {
			if ka.After(kas[len(kas)-1]) && ka.Sub(sent) < testTimeout/5 {
				t.Fatalf("a keep-alive %v after a DATA_FRAME, want at least %v", ka.Sub(sent), testTimeout/5)
			}
		}
	})
}
