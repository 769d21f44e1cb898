package hub

import (
	"net/netip"
	"time"
)

// Storm limiter constants (docs/protocol/hub.md#storm-limiter, SoftEther's STORM_* values).
const (
	stormSpan         = int64(500 * time.Millisecond)
	stormDiscardStart = 3
	stormDiscardDrop  = 128
	stormDiscardEnd   = 1024

	// [GO]: records idle this long are forgotten, and a port keeps at most
	// stormMaxRecords; beyond that, new flows share one overflow record, so
	// spraying addresses cannot escape the limiter or grow memory.
	stormIdle       = int64(30 * time.Second)
	stormMaxRecords = 4096
)

// stormKey identifies a flood flow: source MAC and the IP pair (ARP: sender IP).
type stormKey struct {
	mac      uint64
	src, dst netip.Addr
}

type stormRec struct {
	count    int64
	start    int64 // window start; valid when started
	started  bool
	discard  int64
	lastSeen int64
}

// stormTable is one sending port's storm-limiter state (under Port.inMu).
type stormTable struct {
	recs      map[stormKey]*stormRec
	overflow  stormRec
	nextSweep int64
	rng       uint64
}

func (t *stormTable) init(seed uint64) { t.rng = seed }

func (t *stormTable) reset() { t.recs = nil }

// random is xorshift64: cheap, lock-free per port, good enough for sampling.
func (t *stormTable) random() uint64 {
	t.rng ^= t.rng << 13
	t.rng ^= t.rng >> 7
	t.rng ^= t.rng << 17
	return t.rng
}

func (t *stormTable) record(k stormKey, now int64) *stormRec {
	if t.recs == nil {
		t.recs = make(map[stormKey]*stormRec)
	}
	if now >= t.nextSweep {
		t.nextSweep = now + stormIdle
		for k, r := range t.recs {
			if now-r.lastSeen > stormIdle {
				delete(t.recs, k)
			}
		}
	}
	r := t.recs[k]
	if r == nil {
		if len(t.recs) >= stormMaxRecords {
			return &t.overflow
		}
		r = &stormRec{}
		t.recs[k] = r
	}
	return r
}

// allow runs the docs/protocol/hub.md#storm-limiter algorithm for one flooded frame from p and reports
// whether it may pass.
func (t *stormTable) allow(h *Hub, p *Port, pk *packet, now int64) bool {
	k := stormKey{mac: pk.src}
	switch pk.l3 {
	case l3IPv4, l3IPv6:
		k.src, k.dst = pk.srcIP, pk.dstIP
	case l3ARP:
		k.src = pk.srcIP
	}
	r := t.record(k, now)
	r.lastSeen = now
	r.count++
	pass := true
	if !r.started || now > r.start+stormSpan || now < r.start {
		// Close the window. The rate uses the nominal span, not the real
		// elapsed time, as SoftEther does.
		rate := r.count * int64(time.Second) / stormSpan
		elapsed := now - r.start
		r.count, r.start, r.started = 0, now, true
		if rate >= int64(h.o().StormThreshold) {
			pass = false
			r.discard = min(max(r.discard, 1)*2, stormDiscardEnd)
			h.logStorm(p, k, rate)
		} else if r.discard >= 1 {
			r.discard /= max(2, elapsed/stormSpan)
		}
	}
	if r.discard >= stormDiscardStart {
		if r.discard >= stormDiscardDrop || t.random()%uint64(r.discard) != 0 {
			pass = false
		}
	}
	return pass
}
