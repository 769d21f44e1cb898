package session

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// How a session spreads its frames over its connections. SoftEther
// (Connection.c, ConnectionSend) sends each loop's queued frames as one
// DATA_FRAME on one socket: among the sockets it may send on, the one with
// the fewest "would block" events (LateCount; on a tie the later socket).
// While no socket blocks, one socket carries everything; when it blocks,
// the traffic moves to a socket that does not. Every socket it may send
// on gets keep-alives. ethervpn does the same with a primary writer and
// helpers that step in while the primary is stuck (see mayDrain).

// schedParams are the parameters of the scheduling tests.
var schedParams = Params{Role: Server, Timeout: 20 * time.Second, MaxConnections: 4}

// firstCarrier attaches n connections, the first of which becomes the
// primary by carrying frame 0 before the others are attached.
func firstCarrier(t *testing.T, r *rig, n int) []*peer {
	ps := []*peer{r.mustAttach()}
	r.port.send(0, 1)
	synctest.Wait()
	if got := ps[0].frames(); !slices.Equal(got, []uint32{0}) {
		t.Fatalf("the only connection carried %v, want [0]", got)
	}
	for range n - 1 {
		ps = append(ps, r.mustAttach())
	}
	synctest.Wait()
	return ps
}

// With nothing blocked, one connection carries all the frames, in order,
// and every connection gets its keep-alives.
func TestOneConnectionCarriesTheTrafficInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, schedParams)
		defer r.close()
		ps := []*peer{}
		for range 4 {
			ps = append(ps, r.mustAttach())
		}
		synctest.Wait()
		for i := range 10 {
			r.port.send(i*100, 100)
			synctest.Wait()
		}
		carriers := 0
		for i, p := range ps {
			if n := len(p.keepAliveTimes()); n != 1 {
				t.Errorf("connection %d got %d keep-alives at the start, want 1", i, n)
			}
			got := p.frames()
			if len(got) == 0 {
				continue
			}
			carriers++
			if len(got) != 1000 || !inOrder(got) {
				t.Errorf("connection %d carried %d frames (in order: %v), want all 1000 in order", i, len(got), inOrder(got))
			}
		}
		if carriers != 1 {
			t.Errorf("%d connections carried frames, want 1", carriers)
		}
		if st := r.s.Stats(); st.SentFrames != 1000 || st.HelperBatches != 0 {
			t.Errorf("stats %+v, want 1000 frames sent and no helper batch", st)
		}
	})
}

// A connection whose peer reads nothing blocks its writer with the batch it
// took; the rest of the queue goes out on the other connections, after
// helpAfter, although the port signalled only when it queued the frames
// and when a writer left some behind.
func TestBlockedConnectionDoesNotStallTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, schedParams)
		defer r.close()
		ps := firstCarrier(t, r, 3)
		ps[0].pause()
		r.port.send(1, 1000)
		synctest.Wait()
		time.Sleep(helpAfter + time.Millisecond)
		synctest.Wait()
		// The blocked primary holds one batch; the rest went out.
		others := 0
		for _, p := range ps[1:] {
			got := p.frames()
			if !inOrder(got) {
				t.Errorf("frames out of order on one connection: %v", got)
			}
			others += len(got)
		}
		if want := 1000 - writeBatch; others != want || r.port.queued() != 0 {
			t.Fatalf("the other connections carried %d frames (%d still queued), want %d: a blocked connection stalled the session", others, r.port.queued(), want)
		}
		// Once the peer reads again the held batch arrives too: every
		// frame exactly once.
		ps[0].resume()
		synctest.Wait()
		checkAllOnce(t, ps, 1001)
	})
}

// A keep-alive can block on a full socket like a batch: a primary stuck in
// one must not hold the traffic back either.
func TestConnectionBlockedInAKeepAliveDoesNotStallTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, schedParams)
		defer r.close()
		ps := firstCarrier(t, r, 3)
		ps[0].pause()
		// The primary's next keep-alive is due at most half the timeout
		// after its last write, and blocks.
		time.Sleep(schedParams.Timeout / 2)
		synctest.Wait()
		r.port.send(1, 10)
		time.Sleep(helpAfter + time.Millisecond)
		synctest.Wait()
		others := 0
		for _, p := range ps[1:] {
			others += len(p.frames())
		}
		if others != 10 || r.s.NumConns() != 3 {
			t.Fatalf("with the primary stuck in a keep-alive the others carried %d of 10 frames (%d connections left)", others, r.s.NumConns())
		}
	})
}

// When the connection carrying the traffic blocks, another takes over, and
// when that one blocks too, a third: with N connections all carry
// traffic, and every frame arrives once.
func TestEveryConnectionCarriesWhenOthersBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Params{Role: Server, Timeout: 20 * time.Second, MaxConnections: 3})
		defer r.close()
		ps := firstCarrier(t, r, 3)
		next := 1
		for round := 0; ; round++ {
			// Block every connection that has carried frames.
			free := 0
			for _, p := range ps {
				if len(p.frames()) > 0 {
					p.pause()
				} else {
					free++
				}
			}
			if free == 0 || round == len(ps) {
				break
			}
			r.port.send(next, 2*writeBatch+10)
			next += 2*writeBatch + 10
			time.Sleep(helpAfter + time.Millisecond)
			synctest.Wait()
			if r.port.queued() != 0 {
				t.Fatalf("round %d: %d frames still queued with %d connections free", round, r.port.queued(), free)
			}
		}
		for i, p := range ps {
			if len(p.frames()) == 0 {
				t.Errorf("connection %d carried no frame", i)
			}
		}
		for _, p := range ps {
			p.resume()
		}
		synctest.Wait()
		checkAllOnce(t, ps, next)
	})
}

// checkAllOnce checks that frames 0..n-1 arrived exactly once over all
// connections, and in order on each.
func checkAllOnce(t *testing.T, ps []*peer, n int) {
	t.Helper()
	seen := make([]int, n)
	for i, p := range ps {
		got := p.frames()
		if !inOrder(got) {
			t.Errorf("connection %d: frames out of order", i)
		}
		for _, f := range got {
			if int(f) >= n {
				t.Fatalf("connection %d carried frame %d, never sent", i, f)
			}
			seen[f]++
		}
	}
	for f, c := range seen {
		if c != 1 {
			t.Fatalf("frame %d arrived %d times, want once", f, c)
		}
	}
}

// When the peer reads none of a session's connections, the primary and at
// most maxWriters-1 helpers each hold the one batch they took; the rest
// stays in the port (bounded by the hub), however many connections the
// session has and however often the port signals. On the fake clock, with
// pipes that buffer nothing, the bound is exact.
func TestStalledPeerHoldsAtMostMaxWritersBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const conns = 8
		r := newRig(t, Params{Role: Server, Timeout: testTimeout, MaxConnections: conns})
		defer r.close()
		var ps []*peer
		for range conns {
			ps = append(ps, r.mustAttach())
		}
		synctest.Wait() // the first keep-alives
		for _, p := range ps {
			p.pause()
		}
		const total = 20000
		r.port.send(0, total)
		for range 300 {
			time.Sleep(time.Millisecond)
			r.port.signal()
		}
		synctest.Wait()
		if taken, want := total-r.port.queued(), maxWriters*writeBatch; taken != want {
			t.Fatalf("%d connections to a peer that reads nothing took %d frames out of the port, want %d (%d writers with a batch each)", conns, taken, want, maxWriters)
		}
	})
}

// A helper that drops while the primary and the other helpers are stuck
// gives its place to a writer that can send: the frames still queued do
// not wait for new traffic to wake one.
func TestDroppedHelperHandsOverItsPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Params{Role: Server, Timeout: testTimeout, MaxConnections: maxWriters + 1})
		defer r.close()
		var stuck []*peer
		for range maxWriters {
			stuck = append(stuck, r.mustAttach())
		}
		synctest.Wait()
		for _, p := range stuck {
			p.pause()
		}
		const total = 2000
		r.port.send(0, total)
		time.Sleep(helpAfter + time.Millisecond)
		synctest.Wait()
		if taken := total - r.port.queued(); taken != maxWriters*writeBatch {
			t.Fatalf("the stuck writers took %d frames, want %d", taken, maxWriters*writeBatch)
		}
		free := r.mustAttach()
		synctest.Wait()
		// A helper's connection drops.
		for _, p := range stuck {
			if r.s.primary.Load().nc != p.local {
				p.close()
				break
			}
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n, want := len(free.frames()), total-maxWriters*writeBatch; n != want {
			t.Fatalf("after a stuck helper dropped, the free connection carried %d frames, want the %d left in the port", n, want)
		}
	})
}
