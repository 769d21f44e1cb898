package session

import (
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
