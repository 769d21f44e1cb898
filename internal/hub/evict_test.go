package hub

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// newSourceFrames returns n IPv4 frames from mac(1), each from a source
// address of 10.0.0.0/8 that none of the others uses, first the one given.
func newSourceFrames(first uint32, n int) [][]byte {
	fs := make([][]byte, n)
	for i := range fs {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], 10<<24|(first+uint32(i))&0xffffff)
		fs[i] = ipFrame(bcast, mac(1), netip.AddrFrom4(a).String(), "10.255.255.255")
	}
	return fs
}

// fullIPTable returns a hub whose IP table holds max live entries, all of
// port p, and the frames that filled it.
func fullIPTable(t testing.TB, max int) (*Hub, *Port) {
	h, _ := testHub(t, func(o *Options) { o.MaxIPEntries = max })
	p := attach(t, h, "flooder", Policy{NoBroadcastLimiter: true})
	for _, f := range newSourceFrames(0, max) {
		send(p, f)
	}
	drain(p)
	if n := h.ips.n.Load(); n != int64(max) {
		t.Fatalf("IP table holds %d entries after %d sources, want %d", n, max, max)
	}
	return h, p
}

// perNewSource is the time the hub takes per frame from a source address
// it has not seen, once its IP table is full: the fastest of a few rounds,
// so that a busy machine does not decide.
func perNewSource(t testing.TB, max int) time.Duration {
	h, p := fullIPTable(t, max)
	const frames = 200
	best := time.Duration(1 << 62)
	for round := range 3 {
		fs := newSourceFrames(uint32(max+round*frames), frames)
		start := time.Now()
		for _, f := range fs {
			send(p, f)
		}
		best = min(best, time.Since(start)/frames)
		if n := h.ips.n.Load(); n > int64(max) {
			t.Fatalf("IP table holds %d entries, more than its %d", n, max)
		}
		last := netip.AddrFrom4([4]byte(fs[frames-1][26:30]))
		if e := h.ips.get(last); e == nil || e.owner.Load() != p {
			t.Fatalf("the newest source address %v was not learned", last)
		}
	}
	return best
}

// A client sending from ever new source addresses into a full IP table
// must not make each of its frames scan the table: the time per frame
// with 65,536 entries stays within a few times that with 1,024. Scanning
// every shard for each new address made it about 64 times (the table's
// size ratio).
func TestFullIPTableNewSourceCostIsBounded(t *testing.T) {
	small := perNewSource(t, 1024)
	large := perNewSource(t, 65536)
	t.Logf("per new-source frame with a full IP table: %v with 1,024 entries, %v with 65,536", small, large)
	if large > 8*small+20*time.Microsecond {
		t.Errorf("a new-source frame costs %v with a full table of 65,536 entries against %v with 1,024: the work grows with the table", large, small)
	}
}

// An expired entry is evicted before any live one.
func TestFullIPTableEvictsExpiredFirst(t *testing.T) {
	h, clk := testHub(t, func(o *Options) { o.MaxIPEntries = 64 })
	old := attach(t, h, "old", Policy{NoBroadcastLimiter: true})
	live := attach(t, h, "live", Policy{NoBroadcastLimiter: true})
	for _, f := range newSourceFrames(0, 32) {
		send(old, f)
	}
	clk.Advance(DefaultIPAgeing + time.Second)
	liveFrames := newSourceFrames(1000, 32)
	for i := range liveFrames {
		liveFrames[i] = ipFrame(bcast, mac(2), netip.AddrFrom4([4]byte(liveFrames[i][26:30])).String(), "10.255.255.255")
	}
	for _, f := range liveFrames {
		send(live, f)
	}
	for _, f := range newSourceFrames(2000, 32) {
		send(old, f)
	}
	drain(old)
	drain(live)
	for _, f := range liveFrames {
		a := netip.AddrFrom4([4]byte(f[26:30]))
		if e := h.ips.get(a); e == nil || e.owner.Load() != live {
			t.Errorf("live entry %v was evicted while expired ones were left", a)
		}
	}
}

// BenchmarkNewSourceFullIPTable: frames from ever new source addresses into
// a full IP table of the default size (65,536 entries).
func BenchmarkNewSourceFullIPTable(b *testing.B) {
	_, p := fullIPTable(b, DefaultMaxIPEntries)
	fs := newSourceFrames(DefaultMaxIPEntries, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f := fs[i%len(fs)]
		binary.BigEndian.PutUint32(f[26:30], 10<<24|uint32(DefaultMaxIPEntries+i)&0xffffff)
		send(p, f)
		if i%64 == 63 {
			drain(p)
		}
	}
}
