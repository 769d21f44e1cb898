package hub

import (
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PortConfig describes a port to attach.
type PortConfig struct {
	Name   string // session name, e.g. "SID-USER1-3"
	User   string // user name ("SecureNAT", "Local Bridge", ...)
	Kind   Kind
	Policy Policy
	// Group is the user's group name, which access-list user rules match
	// as well as User.
	Group string
	// Physical is the address the session's client connected from (normal
	// client sessions), for the packet log.
	Physical netip.Addr
	// AdjustMSS is the MSS the session negotiated (0 = none): TCP SYNs in
	// both directions are clamped to it (docs/protocol/hub.md#ingress-steps step 1, docs/protocol/hub.md#delivery-steps step 6).
	AdjustMSS int
	// Disconnect is called (once, from any goroutine; it must not block) when
	// the hub wants this port gone: admin delete, hub offline or closed. The
	// owner should stop and call Port.Close.
	Disconnect func(reason error)
}

// Port is one attachment to the hub.
//
// Input is safe for concurrent callers: calls on the same port serialise on a
// per-port mutex (the port's limiter and storm state are per port), while
// different ports switch in parallel. Drain is safe for concurrent callers.
type Port struct {
	hub        *Hub
	id         int // dense index, reused after Close
	name, user string
	physical   netip.Addr
	kind       Kind
	pol        Policy
	created    time.Time
	ingress    bool // pol has docs/protocol/hub.md#ingress-policy-order filters
	egress     bool // pol has egress filters
	rewriteOut bool // frames to the port need its own rewritten copy (VLAN strip, MSS)

	// Access-list identity: normalised user and group names (docs/protocol/hub.md#access-list-order).
	aclUser, aclGroup string
	// MSS clamp targets, 0 = none.
	mssIn, mssOut int

	disconnect func(error)
	discOnce   sync.Once
	ready      chan struct{}
	push       atomic.Pointer[func() bool] // see SetPush
	done       chan struct{}
	closeOnce  sync.Once
	closed     atomic.Bool

	// Output side, under qmu. qlimit is the most frames the queues hold
	// together; those beyond reserveFrames are taken from budget.
	qmu    sync.Mutex
	qclose bool
	normal ring
	prio   ring
	down   bucket
	qlimit int
	budget *QueueBudget

	// Input side, under inMu.
	inMu       sync.Mutex
	up         bucket
	storm      stormTable
	stormUntil atomic.Int64 // hub clock; the port's readers wait until then (TakeStormPause)
	sc         scratch
	delay      delayQueue
	rw         []byte // ingress rewrite buffer, when the port rewrites (docs/protocol/hub.md#ingress-steps)
	// MaxLoggedPacketsPerMinute window: its end (hub clock, ns) and the
	// logged frames counted in it.
	logWindowEnd int64
	logCount     int

	// Table bookkeeping: entries owned by this port.
	nMAC, nIPv4, nIPv6 atomic.Int32

	stats counters
}

func newPort(h *Hub, id int, cfg PortConfig) *Port {
	pol := cfg.Policy
	switch cfg.Kind {
	case KindSecureNAT, KindL3:
		// docs/protocol/hub.md#session-types: SecureNAT and L3 interfaces are never storm-limited.
		pol.NoBroadcastLimiter = true
	case KindLocalBridge:
		if !h.o().DisableCheckMACOnLocalBridge {
			pol.CheckMAC = true
		}
	}
	if pol.Monitor {
		pol.QoS = false // docs/protocol/hub.md#qos: no QoS in monitor mode
	}
	p := &Port{
		hub: h, id: id, name: cfg.Name, user: cfg.User, kind: cfg.Kind, pol: pol, physical: cfg.Physical,
		created:    h.clock(),
		ingress:    pol.hasIngressFilters(),
		egress:     pol.hasEgressFilters(),
		disconnect: cfg.Disconnect,
		ready:      make(chan struct{}, 1),
		done:       make(chan struct{}),
		qlimit:     max(1, min(h.o().QueueFrames, h.o().QueueBytes/frameCost)),
		budget:     h.o().QueueBudget,
	}
	p.aclUser, p.aclGroup = normUser(cfg.User), normUser(cfg.Group)
	if !h.o().DisableAdjustTCPMSS {
		p.mssOut = max(cfg.AdjustMSS, 0)
		p.mssIn = p.mssOut
		if m := h.o().AdjustTCPMSS; m > 0 && (p.mssIn == 0 || m < p.mssIn) {
			p.mssIn = m
		}
	}
	if pol.VLanID > 4095 {
		pol.VLanID = 0
		p.pol.VLanID = 0
	}
	p.rewriteOut = pol.VLanID != 0 || p.mssOut > 0
	if pol.VLanID != 0 || p.mssIn > 0 {
		p.rw = make([]byte, frameCap)
	}
	p.delay.rng = seed()
	p.up.rate = float64(pol.MaxUpload)
	p.down.rate = float64(pol.MaxDownload)
	p.storm.init(seed())
	return p
}

// Name returns the port's (session) name.
func (p *Port) Name() string { return p.name }

// Ready is signalled (non-blocking send on a cap-1 channel) whenever output
// frames are queued, and again by Drain while frames remain.
func (p *Port) Ready() <-chan struct{} { return p.ready }

// SetPush lets the goroutines that queue frames for this port write them
// out themselves: after switching a batch, Input calls push for each
// destination port that has one (outside the hub's locks), and signals
// Ready only when push returns false. push must never block; a session
// uses it to skip the hand-over to its writer goroutine.
func (p *Port) SetPush(push func() bool) { p.push.Store(&push) }

// wakeOutput tells the port's owner that output is queued: through its push
// function when it has one, else (or when push declines) through Ready.
func (p *Port) wakeOutput() {
	if push := p.push.Load(); push == nil || !(*push)() {
		p.signal()
	}
}

// Done is closed when the port is detached.
func (p *Port) Done() <-chan struct{} { return p.done }

// Stats returns the port's counters (see Stats for the directions).
func (p *Port) Stats() Stats { return p.stats.load() }

func (p *Port) signal() {
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

func (p *Port) requestDisconnect(reason error) {
	if p.disconnect == nil {
		return
	}
	p.discOnce.Do(func() { p.disconnect(reason) })
}

// Close detaches the port: it leaves the port list, its MAC and IP entries are
// removed, queued frames are released and Done is closed. Close is idempotent
// and may be called from the Disconnect callback.
func (p *Port) Close() {
	p.closeOnce.Do(func() {
		h := p.hub
		p.closed.Store(true)
		h.detach(p)
		// Wait for an Input in flight so it cannot learn addresses after the
		// cleanup below.
		p.inMu.Lock()
		p.sc.reset()
		p.storm.reset()
		p.delay.reset()
		p.inMu.Unlock()
		p.qmu.Lock()
		p.qclose = true
		n := p.prio.n + p.normal.n
		p.normal.releaseAll()
		p.prio.releaseAll()
		p.qmu.Unlock()
		p.budget.give(n - reserveFrames)
		h.removeOwned(p)
		close(p.done)
	})
}

// Drain moves up to limit queued output frames (priority queue first, then
// normal) into dst and returns it; limit <= 0 means all. Several writers of one
// session may call it concurrently: whichever is idle takes the next batch.
// The caller must Release each frame after writing it.
func (p *Port) Drain(dst []*Frame, limit int) []*Frame {
	var t Traffic
	p.qmu.Lock()
	n := p.prio.n + p.normal.n
	if limit <= 0 || limit > n {
		limit = n
	}
	for range limit {
		f := p.prio.pop()
		if f == nil {
			f = p.normal.pop()
		}
		t.count(f.Bytes())
		dst = append(dst, f)
	}
	left := p.prio.n + p.normal.n
	p.qmu.Unlock()
	if n > reserveFrames { // what the port held beyond its reserve goes back
		p.budget.give(n - max(left, reserveFrames))
	}
	if limit > 0 {
		p.stats.recv.add(&t)
		p.hub.stats.send.add(&t)
	}
	if left > 0 {
		p.signal()
	}
	return dst
}

// reserveFrames is QueueReserve in frames.
const reserveFrames = QueueReserve / frameCost

// enqueue stores a batch of frames for this port, applying the download
// limiter and QoS classification (docs/protocol/hub.md#delivery-steps), and tail-drops when the queue is
// full: at the port's own bound, or beyond its reserve when the shared
// budget is used up. It takes over the caller's reference to every frame.
// It signals Ready itself unless the port has a push function; then it
// reports true and the caller must call wakeOutput once it holds no hub
// lock.
func (p *Port) enqueue(items []item, now int64) (wake bool) {
	var queued, full, limited uint64
	p.qmu.Lock()
	if p.qclose {
		p.qmu.Unlock()
		for _, it := range items {
			it.f.Release()
		}
		return false
	}
	// What the batch may add: within the port's bound, the frames that
	// fit its reserve, and for the rest what the budget grants. The
	// budget is asked once per batch for what the batch could need; what
	// it did not use goes back below.
	n := p.prio.n + p.normal.n
	room := max(0, min(len(items), p.qlimit-n))
	free := max(0, min(room, reserveFrames-n))
	granted := 0
	if room > free {
		granted = p.budget.take(room - free)
	}
	allowed := uint64(free + granted)
	for _, it := range items {
		b := it.f.Bytes()
		switch {
		case p.down.rate > 0 && !it.highest && !p.down.allow(now, len(b)*8):
			limited++
		case queued >= allowed:
			full++
		case p.pol.QoS && qosPriority(b):
			p.prio.push(it.f)
			queued++
			continue
		default:
			p.normal.push(it.f)
			queued++
			continue
		}
		it.f.Release()
	}
	p.qmu.Unlock()
	if granted > 0 {
		p.budget.give(granted - max(int(queued)-free, 0))
	}
	if room > free+granted && full > 0 { // the budget, not the port's bound, refused these
		if p.budget.refused(min(full, uint64(room-free-granted))) {
			p.hub.logQueueBudget(p)
		}
	}
	if queued > 0 {
		if p.push.Load() != nil {
			wake = true
		} else {
			p.signal()
		}
	}
	if full > 0 {
		p.stats.queueFull.Add(full)
		p.hub.stats.queueFull.Add(full)
	}
	if limited > 0 {
		p.stats.policy.Add(limited)
		p.hub.stats.policy.Add(limited)
	}
	return wake
}

// ring is a FIFO of frames. Its caller bounds it (the port's qlimit); it
// starts empty and doubles when full, so that an idle session holds no
// queue (a full one is 16 KiB of pointers at 2048 frames) and a busy one
// stops allocating once its queue has been as deep as it gets.
type ring struct {
	buf     []*Frame
	head, n int
}

func (r *ring) push(f *Frame) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)%len(r.buf)] = f
	r.n++
}

func (r *ring) grow() {
	nb := make([]*Frame, max(ringInitial, 2*len(r.buf)))
	for i := range r.n {
		nb[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head = nb, 0
}

// ringInitial is a ring's first capacity: one batch of a busy session.
const ringInitial = 64

func (r *ring) pop() *Frame {
	if r.n == 0 {
		return nil
	}
	f := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return f
}

func (r *ring) releaseAll() {
	for f := r.pop(); f != nil; f = r.pop() {
		f.Release()
	}
}

// PortInfo is the admin view of a port.
type PortInfo struct {
	Name, User string
	Kind       Kind
	Monitor    bool
	Created    time.Time
	Stats      Stats
	MACs, IPs  int
}

// CountSessions counts the attached client-mode and bridge-mode ports,
// and those of them whose user is user (case-insensitive), for the
// session limits checked at each login. Unlike Ports it copies nothing,
// so a login on a hub of 10,000 sessions does not build 10,000 rows.
func (h *Hub) CountSessions(user string) (clients, bridges, ofUser uint32) {
	for _, p := range h.ports.Load().all {
		switch p.kind {
		case KindClient:
			clients++
		case KindBridge:
			bridges++
		default:
			continue
		}
		if strings.EqualFold(p.user, user) {
			ofUser++
		}
	}
	return clients, bridges, ofUser
}

// Ports lists the attached ports in attach order.
func (h *Hub) Ports() []PortInfo {
	all := h.ports.Load().all
	out := make([]PortInfo, 0, len(all))
	for _, p := range all {
		out = append(out, PortInfo{
			Name: p.name, User: p.user, Kind: p.kind, Monitor: p.pol.Monitor,
			Created: p.created, Stats: p.Stats(),
			MACs: int(p.nMAC.Load()), IPs: int(p.nIPv4.Load() + p.nIPv6.Load()),
		})
	}
	return out
}
