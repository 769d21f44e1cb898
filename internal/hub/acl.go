package hub

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Access-list limits (docs/protocol/hub.md#access-lists).
const (
	// MaxAccessRules is the most entries a hub's access list holds.
	MaxAccessRules = 32768
	// MaxAccessDelay is the longest delay an entry may impose.
	MaxAccessDelay = 10 * time.Second
)

// AccessRule is one access-list entry (docs/protocol/hub.md#access-lists). Zero-valued conditions
// match anything, so a rule with only Active set matches every frame but ARP.
type AccessRule struct {
	Priority uint32 // lower is evaluated earlier
	Discard  bool   // false = pass, true = discard
	Active   bool   // inactive rules never match

	// IPv6 selects which IP version the address, protocol, port and TCP
	// state conditions are about.
	IPv6 bool
	// Source and destination addresses under their masks. A condition is
	// set when its address or mask is non-zero; masks need not be prefixes.
	SrcIP, SrcMask, DstIP, DstMask netip.Addr

	Protocol uint8 // IP protocol (IPv6: final next header); 0 = any
	// Inclusive port ranges; a zero start means any, an end below its
	// start is raised to the start.
	SrcPortStart, SrcPortEnd, DstPortStart, DstPortEnd uint16

	// SrcUsername and DstUsername name a user or group ("DOMAIN\" and
	// "@domain" parts ignored, case-insensitive), or have the form
	// "include:FILE" / "exclude:FILE", whose names the caller reads from
	// FILE into SrcUserList / DstUserList. "" means any session. Rules
	// given the same list slice share one compiled name set: pass one
	// slice per file, not a copy per rule, or a big file named by many
	// rules costs its memory once per rule.
	SrcUsername, DstUsername string
	SrcUserList, DstUserList []string

	CheckSrcMAC, CheckDstMAC bool
	SrcMAC, SrcMACMask       [6]byte
	DstMAC, DstMACMask       [6]byte

	// CheckTCPState requires a TCP segment whose state is Established:
	// established means anything but a SYN without ACK.
	CheckTCPState, Established bool

	// Impairment emulation, for frames a pass rule decides at ingress:
	// Delay (at most MaxAccessDelay) varied by ±Jitter percent of itself,
	// and Loss percent of the frames dropped.
	Delay        time.Duration
	Jitter, Loss int

	// RedirectURL, when set, answers the HTTP requests the rule matches
	// with a redirect to it (docs/protocol/hub.md#url-redirection; "<INFO>" and a "|secret" suffix as
	// SoftEther's).
	RedirectURL string
}

// include/exclude prefixes of the user-name fields (case-insensitive).
const (
	includePrefix = "include:"
	excludePrefix = "exclude:"
)

// userMatch is a compiled user-name condition.
type userMatch struct {
	name    string              // normalised user or group name; "" = any
	list    map[string]struct{} // include:/exclude: names, normalised
	isList  bool
	exclude bool
}

// nameSets compiles user lists into name sets, once per list slice, for
// one SetAccessList. The sets are immutable once built: the forwarding path
// only reads them, so any number of rules may share one.
type nameSets map[listKey]map[string]struct{}

// listKey identifies a list slice by its first element and length.
type listKey struct {
	first *string
	n     int
}

// of returns the compiled set of list (nil for an empty list).
func (c nameSets) of(list []string) map[string]struct{} {
	if len(list) == 0 {
		return nil
	}
	k := listKey{&list[0], len(list)}
	if set, ok := c[k]; ok {
		return set
	}
	set := make(map[string]struct{}, len(list))
	for _, n := range list {
		if n = normUser(n); n != "" {
			set[n] = struct{}{}
		}
	}
	c[k] = set
	return set
}

func compileUser(s string, list []string, sets nameSets) userMatch {
	low := strings.ToLower(s)
	inc, exc := strings.HasPrefix(low, includePrefix), strings.HasPrefix(low, excludePrefix)
	if !inc && !exc {
		return userMatch{name: normUser(s)}
	}
	return userMatch{isList: true, exclude: exc, list: sets.of(list)}
}

// normUser reduces a user name as SoftEther does before hashing it: the
// bare name without "DOMAIN\" or "@domain", trimmed and upper-cased.
func normUser(s string) string {
	if i := strings.LastIndexByte(s, '\\'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	return strings.ToUpper(strings.TrimSpace(s))
}

// set reports whether the condition restricts anything.
func (u *userMatch) set() bool { return u.isList || u.name != "" }

// match reports whether session p satisfies the condition. Lists only ever
// match normal client sessions, and only by user name (docs/protocol/hub.md#rule-matching).
func (u *userMatch) match(p *Port) bool {
	switch {
	case u.isList:
		if p.kind != KindClient && p.kind != KindBridge {
			return false
		}
		_, listed := u.list[p.aclUser]
		return listed != u.exclude
	case u.name == "":
		return true
	default:
		return u.name == p.aclUser || (p.aclGroup != "" && u.name == p.aclGroup)
	}
}

// ipCond is a compiled address/mask condition; IPv4 lives in lo.
type ipCond struct {
	set            bool
	hi, lo         uint64 // address & mask
	maskHi, maskLo uint64
}

func ipBits(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		b := a.As4()
		return 0, uint64(binary.BigEndian.Uint32(b[:]))
	}
	if a.Is6() {
		b := a.As16()
		return binary.BigEndian.Uint64(b[0:8]), binary.BigEndian.Uint64(b[8:16])
	}
	return 0, 0
}

func compileIP(addr, mask netip.Addr, v6 bool) ipCond {
	if v6 {
		addr, mask = addr.Unmap(), mask.Unmap() // a v4 value in a v6 rule reads as v6 zero-extended below
	}
	ah, al := ipBits(addr)
	mh, ml := ipBits(mask)
	if v6 && addr.Is4() {
		ah, al = 0, 0
	}
	if v6 && mask.Is4() {
		mh, ml = 0, 0
	}
	return ipCond{set: ah|al|mh|ml != 0, hi: ah & mh, lo: al & ml, maskHi: mh, maskLo: ml}
}

func (c *ipCond) match(a netip.Addr) bool {
	h, l := ipBits(a)
	return h&c.maskHi == c.hi && l&c.maskLo == c.lo
}

// rule is an AccessRule compiled for matching frames.
type rule struct {
	AccessRule
	srcUser, dstUser userMatch
	srcIP, dstIP     ipCond
	srcMAC, srcMask  uint64
	dstMAC, dstMask  uint64
	ports            bool // a port range is set
	l3               l3Kind
}

func compileRule(r AccessRule, sets nameSets) rule {
	c := rule{AccessRule: r}
	c.SrcPortEnd = max(c.SrcPortEnd, c.SrcPortStart)
	c.DstPortEnd = max(c.DstPortEnd, c.DstPortStart)
	c.Delay = min(max(c.Delay, 0), MaxAccessDelay)
	c.Jitter = min(max(c.Jitter, 0), 100)
	c.Loss = min(max(c.Loss, 0), 100)
	c.srcUser = compileUser(r.SrcUsername, r.SrcUserList, sets)
	c.dstUser = compileUser(r.DstUsername, r.DstUserList, sets)
	c.srcIP = compileIP(r.SrcIP, r.SrcMask, r.IPv6)
	c.dstIP = compileIP(r.DstIP, r.DstMask, r.IPv6)
	c.srcMAC, c.srcMask = mac48(r.SrcMAC[:])&mac48(r.SrcMACMask[:]), mac48(r.SrcMACMask[:])
	c.dstMAC, c.dstMask = mac48(r.DstMAC[:])&mac48(r.DstMACMask[:]), mac48(r.DstMACMask[:])
	c.ports = c.SrcPortStart != 0 || c.DstPortStart != 0
	c.l3 = l3IPv4
	if r.IPv6 {
		c.l3 = l3IPv6
	}
	return c
}

// match reports whether frame pk from s satisfies every condition of the
// rule (docs/protocol/hub.md#rule-matching). d is the destination at egress, nil at ingress.
func (r *rule) match(s, d *Port, pk *packet) bool {
	if !r.Active ||
		(r.CheckSrcMAC && pk.src&r.srcMask != r.srcMAC) ||
		(r.CheckDstMAC && pk.dst&r.dstMask != r.dstMAC) ||
		!r.srcUser.match(s) ||
		(d != nil && !r.dstUser.match(d)) {
		return false
	}
	if r.srcIP.set || r.dstIP.set {
		ok := pk.l3 == r.l3 || (pk.l3 == l3ARP && r.l3 == l3IPv4 && arpMatchable(pk))
		if !ok || (r.srcIP.set && !r.srcIP.match(pk.srcIP)) || (r.dstIP.set && !r.dstIP.match(pk.dstIP)) {
			return false
		}
	}
	if r.Protocol != 0 && (pk.l3 != r.l3 || pk.proto != r.Protocol) {
		return false
	}
	if r.ports {
		if pk.l3 != r.l3 || !pk.hasL4 || (pk.proto != protoTCP && pk.proto != protoUDP) ||
			(r.SrcPortStart != 0 && (pk.srcPort < r.SrcPortStart || pk.srcPort > r.SrcPortEnd)) ||
			(r.DstPortStart != 0 && (pk.dstPort < r.DstPortStart || pk.dstPort > r.DstPortEnd)) {
			return false
		}
	}
	if r.CheckTCPState {
		if pk.l3 != r.l3 || !pk.hasL4 || pk.proto != protoTCP {
			return false
		}
		established := pk.tcpFlags&(tcpSYN|tcpACK) != tcpSYN
		if established != r.Established {
			return false
		}
	}
	return true
}

// arpMatchable: ARP sender addresses 0.0.0.0 and 255.255.255.255 (probes
// and the like) never match address conditions.
func arpMatchable(pk *packet) bool {
	return pk.srcIP != netip.IPv4Unspecified() && pk.srcIP != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// accessList is a hub's compiled, sorted access list; immutable once
// published, so the forwarding path reads it without locks.
type accessList struct {
	rules []rule
	// egressFrom is the index of the first rule with a destination user:
	// ingress scans rules before it, egress scans it and the rest (docs/protocol/hub.md#access-list-at-ingress).
	egressFrom int
}

// SetAccessList replaces the hub's access list. Rules are sorted as
// SoftEther sorts them: priority ascending, pass before discard, otherwise
// in the given order. The swap is atomic: every frame sees either the old or
// the new list. An empty list costs the forwarding path nothing but a
// pointer load.
func (h *Hub) SetAccessList(rules []AccessRule) {
	if len(rules) == 0 {
		h.acl.Store(nil)
		return
	}
	rules = rules[:min(len(rules), MaxAccessRules)]
	l := &accessList{rules: make([]rule, len(rules))}
	sets := nameSets{}
	for i, r := range rules {
		l.rules[i] = compileRule(r, sets)
	}
	slices.SortStableFunc(l.rules, func(a, b rule) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		return cmp.Compare(b2i(a.Discard), b2i(b.Discard))
	})
	l.egressFrom = len(l.rules)
	for i := range l.rules {
		if l.rules[i].dstUser.set() {
			l.egressFrom = i
			break
		}
	}
	h.acl.Store(l)
}

// AccessList returns the rules in effect, in evaluation order.
func (h *Hub) AccessList() []AccessRule {
	l := h.acl.Load()
	if l == nil {
		return nil
	}
	out := make([]AccessRule, len(l.rules))
	for i := range l.rules {
		out[i] = l.rules[i].AccessRule
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// accessListFor returns the access list that applies to frame pk, or nil:
// ARP frames are not subject to it unless the hub option
// ApplyIPv4AccessListOnArpPacket says so.
func (h *Hub) accessListFor(pk *packet) *accessList {
	if pk.l3 == l3ARP && !h.o().ApplyAccessListOnARP {
		return nil
	}
	return h.acl.Load()
}

// ingress returns the rule that decides frame pk from s as it enters the
// hub, or nil (docs/protocol/hub.md#access-list-at-ingress).
func (l *accessList) ingress(s *Port, pk *packet) *rule {
	for i := range l.rules[:l.egressFrom] {
		if r := &l.rules[i]; r.match(s, nil, pk) {
			return r
		}
	}
	return nil
}

// egressAllowed decides a frame from s to d that no ingress rule decided
// (docs/protocol/hub.md#access-list-at-egress): the rules from the first one with a destination user on, first
// match wins, no match passes.
func (l *accessList) egressAllowed(s, d *Port, pk *packet) bool {
	if l.egressFrom == len(l.rules) {
		return true
	}
	for i := range l.rules[l.egressFrom:] {
		if r := &l.rules[l.egressFrom+i]; r.match(s, d, pk) {
			return !r.Discard
		}
	}
	return true
}

// delayQueue holds frames an access rule delays (docs/protocol/hub.md#forwarding-steps step 5) for one
// sending port, under its Port.inMu. It is bounded by the hub's queue size;
// a single timer per port wakes the port to re-inject frames that fell due
// when it sends nothing itself.
type delayQueue struct {
	items []parkedFrame
	timer *time.Timer
	armed int64  // hub time the timer is set for; 0 = not armed
	rng   uint64 // xorshift state for loss and jitter
}

type parkedFrame struct {
	due     int64
	f       *Frame
	highest bool
}

func (q *delayQueue) random() uint64 {
	q.rng ^= q.rng << 13
	q.rng ^= q.rng >> 7
	q.rng ^= q.rng << 17
	return q.rng
}

// lose draws whether a frame is lost at loss percent.
func (q *delayQueue) lose(loss int) bool {
	return loss >= 100 || (loss > 0 && int(q.random()%100) < loss)
}

// delayOf draws the delay of one frame: Delay ± up to Jitter percent of it.
func (q *delayQueue) delayOf(r *rule) time.Duration {
	d := r.Delay
	if span := uint64(d) * uint64(r.Jitter) / 100; span > 0 {
		off := time.Duration(q.random() % span)
		if q.random()&1 == 0 {
			off = -off
		}
		d += off
	}
	return d
}

// park delays a copy of b until due. It reports false when the queue is full.
func (p *Port) park(b []byte, due int64, highest bool) bool {
	q := &p.delay
	if len(q.items) >= p.qlimit {
		return false
	}
	if q.items == nil {
		q.items = make([]parkedFrame, 0, 64)
	}
	q.items = append(q.items, parkedFrame{due: due, f: newFrame(b), highest: highest})
	return true
}

// releaseDue re-injects the parked frames whose time has come, skipping the
// source filters they already passed, and re-arms the timer for the rest.
func (h *Hub) releaseDue(p *Port, now int64, set *portSet, bs *batchStats) {
	q := &p.delay
	if len(q.items) == 0 {
		return
	}
	var pk packet
	next := int64(-1)
	kept := q.items[:0]
	for _, it := range q.items {
		if it.due > now {
			kept = append(kept, it)
			if next < 0 || it.due < next {
				next = it.due
			}
			continue
		}
		b := it.f.Bytes()
		parseFrame(b, &pk)
		it.f.taken = false
		h.deliver(p, b, &pk, now, set, bs, it.highest, true, it.f)
		if !it.f.taken { // dropped: no destination took the reference
			it.f.Release()
		}
	}
	clear(q.items[len(kept):])
	q.items = kept
	if next >= 0 && (q.armed == 0 || q.armed <= now || next < q.armed) {
		q.armed = next
		d := time.Duration(next - now)
		if q.timer == nil {
			q.timer = time.AfterFunc(d, func() { p.Input(nil) })
		} else {
			q.timer.Reset(d)
		}
	}
}

// reset drops every parked frame (the port is closing).
func (q *delayQueue) reset() {
	if q.timer != nil {
		q.timer.Stop()
	}
	for _, it := range q.items {
		it.f.Release()
	}
	q.items, q.armed = nil, 0
}
