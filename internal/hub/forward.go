package hub

import (
	"net/netip"
	"time"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// item is one frame bound for one destination within a batch.
type item struct {
	f       *Frame
	highest bool // bypasses the download limiter (docs/protocol/hub.md#bandwidth-limiters)
}

// group collects a batch's frames for one destination, so that each
// destination queue is locked and signalled once per batch.
type group struct {
	p     *Port
	items []item
}

// scratch is a port's reusable per-batch state (under Port.inMu). Groups are
// found by destination port id through slot, which is valid for the current
// generation only, so nothing needs clearing between batches.
type scratch struct {
	gen     uint32
	slotGen []uint32
	slot    []int32
	groups  []group
	recent  recent
	// Destinations to wake with their push functions once the port's
	// lock is released (see Port.SetPush); more than fit are signalled.
	wake  [maxPushes]*Port
	nwake int
}

// maxPushes bounds the destinations one batch wakes through their push
// functions; a flood to more ports signals the rest.
const maxPushes = 8

// recent is what the table lookups said about the batch's previous frames.
// The frames of one batch nearly always belong to one flow, so the MAC and
// IP tables are consulted once per batch and flow rather than per frame.
// It lives for one batch only: a table change that races with it would race
// with the per-frame lookups just the same.
type recent struct {
	srcKey uint64 // macKey of a source learned in this batch; 0 = none
	dstKey uint64 // macKey of the destination looked up last; 0 = none
	dst    *Port  // its owner (nil: unknown, flood)

	ipValid bool // the source address below was learned in this batch
	l3      l3Kind
	srcIP   netip.Addr
	srcMAC  uint64
}

func (sc *scratch) begin(ports int) {
	sc.recent = recent{}
	sc.gen++
	if sc.gen == 0 { // wrapped: old stamps could collide
		clear(sc.slotGen)
		sc.gen = 1
	}
	if ports > len(sc.slot) {
		sc.slot = make([]int32, ports+8)
		sc.slotGen = make([]uint32, ports+8)
	}
}

// add queues f for d within the batch. The first destination takes the
// reference the frame was created with, later ones get their own: a unicast
// frame costs no reference counting until its writer releases it.
func (sc *scratch) add(d *Port, f *Frame, highest bool) {
	var g *group
	if d.id < len(sc.slot) && sc.slotGen[d.id] == sc.gen && sc.groups[sc.slot[d.id]].p == d {
		g = &sc.groups[sc.slot[d.id]]
	} else {
		n := len(sc.groups)
		if n < cap(sc.groups) {
			sc.groups = sc.groups[:n+1]
		} else {
			sc.groups = append(sc.groups, group{})
		}
		g = &sc.groups[n]
		g.p, g.items = d, g.items[:0]
		if d.id < len(sc.slot) {
			sc.slot[d.id], sc.slotGen[d.id] = int32(n), sc.gen
		}
	}
	if f.taken {
		f.retain()
	} else {
		f.taken = true
	}
	g.items = append(g.items, item{f: f, highest: highest})
}

// flush hands every group to its destination.
func (sc *scratch) flush(now int64) {
	for i := range sc.groups {
		g := &sc.groups[i]
		if g.p.enqueue(g.items, now) {
			if sc.nwake < len(sc.wake) {
				sc.wake[sc.nwake] = g.p
				sc.nwake++
			} else {
				g.p.signal()
			}
		}
		clear(g.items)
		g.items = g.items[:0]
		g.p = nil
	}
	sc.groups = sc.groups[:0]
}

func (sc *scratch) reset() { *sc = scratch{} }

// batchStats accumulates a batch's counters for one atomic update.
type batchStats struct {
	send                  Traffic
	invalid, dropped, acl uint64
	// floodBytes are the bytes of flooded frames subject to the storm
	// limiter, passed or dropped (the storm hold-back, stormPace).
	floodBytes int
}

// The storm hold-back: a port's flooded frames (broadcast, multicast,
// unknown unicast; from ports the storm limiter applies to) are owed at
// stormPace after a burst of stormBurst, whether the limiter passes or
// drops them, and every reader of the port's connections waits until the
// debt is paid before its next batch (TakeStormPause). Reading no faster
// lets TCP slow the flood down: without it a flood the hub drops anyway
// still costs its decryption, and before the limiter acts (it flags a flow
// after half a second and drops everything of it only 3.5 s later) the
// copies go to every other session; one storming client took three
// quarters of a core's throughput from the others (ethervpn-bench abuse).
// The pace is well above what the limiter lets one flow keep (its
// threshold's worth of frames per second) and is raised with the
// threshold. At most stormPauseMax is owed at once: well above one batch's
// time at the pace, well below the session timeout a held reader must not
// miss. SoftEther has no such pause.
const (
	stormPace     = 10 << 20 // bytes per second
	stormBurst    = 100 * time.Millisecond
	stormPauseMax = time.Second
)

// Input switches a batch of frames that entered the hub through this port. The
// hub copies what it keeps; the caller may reuse the frame buffers after Input
// returns. Frames shorter than ether.MinFrameSize or longer than ether.MaxFrameSize, and
// frames with an invalid source MAC, are dropped and counted. Frames an access
// rule delayed are released at the end of a batch when due (an empty batch
// just does that).
func (p *Port) Input(frames [][]byte) {
	wake, n := p.input(frames)
	for _, d := range wake[:n] {
		d.wakeOutput()
	}
}

// TakeStormPause returns how long the sender should wait before its next
// batch because of its floods (zero otherwise, see stormPace), and
// counts the pause in StormPauses. Every reader of the port waits for the
// same moment, so a session's 32 connections together get no more than
// one does. Input never waits itself: only a caller that reads one
// sender's own connection should (an SSL-VPN session's reader, whose pause
// stops reading the socket so that TCP slows the flood down), never a loop
// shared by many senders such as a UDP port's.
func (p *Port) TakeStormPause() time.Duration {
	d := p.owed()
	if d > 0 {
		p.stats.stormPauses.Add(1)
	}
	return d
}

// StormHeld reports whether the port owes a storm pause now, without
// taking it: for readers that serve many senders and cannot wait (a UDP
// port's), which drop the held sender's packets before decrypting them
// instead.
func (p *Port) StormHeld() bool { return p.owed() > 0 }

// owed is how long until the port's flood debt is paid (zero: none).
func (p *Port) owed() time.Duration {
	until := p.stormUntil.Load()
	if until == 0 { // nothing ever owed: no clock read
		return 0
	}
	return max(time.Duration(until-p.hub.now()), 0)
}

// owePause adds a batch's flooded bytes to what the port owes (under
// inMu): a virtual-time token bucket, which keeps one deadline.
func (p *Port) owePause(bytes int, now int64) {
	pace := max(stormPace, int64(p.hub.o().StormThreshold)*ether.MaxFrameSize)
	from := now - int64(stormBurst)
	if u := p.stormUntil.Load(); u != 0 { // 0: nothing owed
		from = max(from, u)
	}
	until := from + int64(bytes)*int64(time.Second)/pace
	p.stormUntil.Store(min(until, now+int64(stormPauseMax)))
}

// input switches frames under the port's input lock and returns the
// destinations still to wake.
func (p *Port) input(frames [][]byte) (wake [maxPushes]*Port, n int) {
	h := p.hub
	p.inMu.Lock()
	defer p.inMu.Unlock()
	if p.closed.Load() {
		return
	}
	var bs batchStats
	now := h.now()
	set := h.ports.Load()
	online := h.online.Load()
	sc := &p.sc
	sc.begin(set.maxID + 1)
	for _, b := range frames {
		bs.send.count(b)
		switch {
		case len(b) < ether.MinFrameSize || len(b) > ether.MaxFrameSize:
			bs.invalid++
		case !online:
			bs.dropped++
		default:
			h.forward(p, b, now, set, &bs)
		}
	}
	if len(p.delay.items) > 0 && online {
		h.releaseDue(p, now, set, &bs)
	}
	sc.flush(now)
	p.stats.send.add(&bs.send)
	h.stats.recv.add(&bs.send)
	addIf(&p.stats.invalidDrop, bs.invalid)
	addIf(&h.stats.invalidDrop, bs.invalid)
	addIf(&p.stats.policy, bs.dropped)
	addIf(&h.stats.policy, bs.dropped)
	addIf(&p.stats.acl, bs.acl)
	addIf(&h.stats.acl, bs.acl)
	wake, n = sc.wake, sc.nwake
	clear(sc.wake[:sc.nwake])
	sc.nwake = 0
	if bs.floodBytes > 0 {
		p.owePause(bs.floodBytes, now)
	}
	return wake, n
}

// forward runs the forwarding pipeline (docs/protocol/hub.md#ingress-steps, docs/protocol/hub.md#forwarding-steps) for one frame from p.
func (h *Hub) forward(p *Port, b []byte, now int64, set *portSet, bs *batchStats) {
	if p.pol.Monitor { // step 1: monitor ports never send
		bs.dropped++
		return
	}
	if p.rw != nil { // docs/protocol/hub.md#ingress-steps steps 1 and 3: MSS clamp, VLAN tag
		b = p.rewriteIngress(b)
	}
	var pk packet
	parseFrame(b, &pk)
	// docs/protocol/hub.md#ingress-steps step 5: invalid source MAC.
	if pk.src == 0 || pk.src == 0xffffffffffff || pk.src == pk.dst {
		bs.invalid++
		return
	}
	highest := pk.highestPriority()
	// Step 3: upload limiter, then the docs/protocol/hub.md#ingress-policy-order filters (with DHCP snooping),
	// then the access list (docs/protocol/hub.md#access-list-at-ingress).
	if p.up.rate > 0 && !highest && !p.up.allow(now, len(b)*8) {
		bs.dropped++
		return
	}
	if p.ingress && !h.ingressAllowed(p, &pk) {
		bs.dropped++
		return
	}
	// The hub-wide protocol filters belong to the access-list check; a
	// frame they drop must not feed DHCP snooping either.
	if fl := &h.o().Filters; *fl != (Filters{}) && fl.drops(b, &pk) {
		bs.acl++
		return
	}
	if pk.dhcp4 {
		h.snoopDHCP(p, &pk, now)
	}
	decided := false
	if acl := h.accessListFor(&pk); acl != nil {
		if r := acl.ingress(p, &pk); r != nil {
			decided = true
			if r.RedirectURL != "" {
				if l3, l4, n, ok := redirectable(b, &pk); ok {
					// docs/protocol/hub.md#url-redirection: a user's HTTP request is answered with a
					// redirect; the request itself goes nowhere.
					if p.kind == KindClient || p.kind == KindBridge {
						if resp := redirectFrame(b, l3, l4, n, p, r.RedirectURL, h.wall(now)); resp != nil {
							p.sc.add(p, newFrame(resp), true)
						}
					}
					bs.acl++
					return
				}
			}
			// Steps 4-5: loss, then delay, emulation.
			if r.Discard || p.delay.lose(r.Loss) {
				bs.acl++
				return
			}
			if r.Delay > 0 {
				if d := p.delay.delayOf(r); d >= time.Millisecond {
					if !p.park(b, now+int64(d), highest) {
						bs.acl++
					}
					return
				}
			}
		}
	}
	h.deliver(p, b, &pk, now, set, bs, highest, decided, nil)
}

// deliver runs steps 7-14 of docs/protocol/hub.md#forwarding-steps for frame b from p, parsed into pk. decided
// says the access list decided the frame at ingress, so egress rules are not
// consulted. f, if not nil, is a pooled copy of b with its taken mark clear
// (a frame coming back from the delay queue): the first destination takes
// its reference, and if none does, the caller still holds it.
func (h *Hub) deliver(p *Port, b []byte, pk *packet, now int64, set *portSet, bs *batchStats, highest, decided bool, f *Frame) {
	r := &p.sc.recent
	// Step 7: learn the source MAC.
	if src := macKey(pk.src, pk.vlan); src != r.srcKey {
		if !h.learnMAC(p, pk, now) {
			bs.dropped++
			return
		}
		// A new source may be a destination looked up before.
		r.srcKey, r.dstKey, r.dst = src, 0, nil
	}
	// Step 8: destination.
	var dst *Port
	flood := pk.broadcast()
	if !flood {
		if key := macKey(pk.dst, pk.vlan); key == r.dstKey {
			dst = r.dst
		} else {
			if e := h.macs.get(key); e != nil && h.macAlive(e, now) {
				dst = e.owner.Load()
			}
			r.dstKey, r.dst = key, dst
		}
		if dst == p { // no hairpin
			bs.dropped++
			return
		}
		flood = dst == nil
	}
	// Steps 9-10: IP table learning.
	if !r.ipValid || pk.l3 != r.l3 || pk.srcIP != r.srcIP || pk.src != r.srcMAC {
		if !h.learnIP(p, pk, now) {
			bs.dropped++
			return
		}
		r.ipValid, r.l3, r.srcIP, r.srcMAC = true, pk.l3, pk.srcIP, pk.src
	}
	// Step 11: broadcast-storm limiter on every flooded frame.
	if flood && !p.pol.NoBroadcastLimiter {
		bs.floodBytes += len(b)
		if !p.storm.allow(h, p, pk, now) {
			bs.dropped++
			return
		}
	}
	// The packet log (docs/protocol/hub.md#packet-log): its level is decided now, the record is
	// taken once the destination is settled.
	pl := h.plog.Load()
	var plevel PacketLogLevel
	if pl != nil {
		plevel = pl.level(pk)
	}
	// Egress access rules apply to frames no ingress rule decided (docs/protocol/hub.md#access-list-at-egress).
	var acl *accessList
	if !decided {
		if acl = h.accessListFor(pk); acl != nil && acl.egressFrom == len(acl.rules) {
			acl = nil
		}
	}
	// The frame is copied once, on first use, and shared by all destinations.
	sc := &p.sc
	// Step 12: monitors get a copy of everything that got this far.
	for _, m := range set.monitors {
		if acl != nil && !acl.egressAllowed(p, m, pk) {
			bs.acl++
			continue
		}
		sc.to(m, &f, b, highest)
	}
	if !flood { // step 13
		switch {
		case dst.egress && !h.egressAllowed(p, dst, pk):
			bs.dropped++
		case acl != nil && !acl.egressAllowed(p, dst, pk):
			bs.acl++
		case plevel > PacketLogNone && !p.underLogCap(h.o().MaxLoggedPacketsPerMinute, now):
			bs.dropped++
		case !sc.to(dst, &f, b, highest):
			bs.dropped++
		default:
			if plevel > PacketLogNone {
				pl.logPacket(h, p, dst, b, pk, plevel, now)
			}
		}
		return
	}
	if plevel > PacketLogNone { // a flood is logged once, for no destination
		if !p.underLogCap(h.o().MaxLoggedPacketsPerMinute, now) {
			bs.dropped++
			return
		}
		pl.logPacket(h, p, nil, b, pk, plevel, now)
	}
	for _, d := range set.flood { // step 14
		if d == p || (d.egress && !h.egressAllowed(p, d, pk)) {
			continue
		}
		if acl != nil && !acl.egressAllowed(p, d, pk) {
			bs.acl++
			continue
		}
		if d.rewriteOut {
			sc.toRewriting(d, &f, b, highest)
		} else { // to, by hand: this loop is the hottest path
			sc.add(d, sc.copyOf(&f, b), highest)
		}
	}
}

// to queues frame b for d within the batch: the shared copy *f (made on
// first use), or d's own copy when d rewrites frames on the way out (docs/protocol/hub.md#delivery-steps).
// It reports false when d refuses the frame (VLAN mismatch).
func (sc *scratch) to(d *Port, f **Frame, b []byte, highest bool) bool {
	if d.rewriteOut {
		return sc.toRewriting(d, f, b, highest)
	}
	sc.add(d, sc.copyOf(f, b), highest)
	return true
}

// toRewriting is to for a port that may need its own copy.
func (sc *scratch) toRewriting(d *Port, f **Frame, b []byte, highest bool) bool {
	own, ok := d.egressFrame(b)
	if !ok {
		return false
	}
	if own == nil {
		own = sc.copyOf(f, b)
	}
	sc.add(d, own, highest)
	return true
}

// copyOf returns *f, first copying b into a new pooled frame if needed. It
// is only ever called for a destination, so every copy gets one.
func (sc *scratch) copyOf(f **Frame, b []byte) *Frame {
	if *f == nil {
		*f = newFrame(b)
	}
	return *f
}
