package securenat

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Protocol names of NAT entries.
const (
	ProtoTCP  = "TCP"
	ProtoUDP  = "UDP"
	ProtoICMP = "ICMP"
	ProtoDNS  = "DNS"
)

// NATEntry is one row of the NAT table (docs/protocol/securenat.md#status-views NatTable).
type NATEntry struct {
	ID                   uint32
	Protocol             string // ProtoTCP, ProtoUDP, ProtoICMP or ProtoDNS
	ClientIP             netip.Addr
	ClientPort           uint16 // the echo id for ICMP
	DestHost             string // the host socket's peer once connected, else the IP
	DestIP               netip.Addr
	DestPort             uint16 // the echo id for ICMP
	Created, LastComm    time.Time
	SentBytes, RecvBytes uint64 // bytes written to / read from the host socket
	State                string // TCP: "Connecting" or "Running"; others "Running"
}

// flowKey identifies a flow (docs/protocol/securenat.md#nat-table): protocol, client and destination.
type flowKey struct {
	proto        string
	client, dest netip.AddrPort
}

// flow is one live NAT entry.
type flow struct {
	key     flowKey
	id      uint32
	created time.Time
	timeout time.Duration
	// passive flows have no goroutine of their own (DNS query entries): the
	// reaper removes them itself.
	passive bool

	last       atomic.Int64 // unix ns of the last traffic either way
	sent, recv atomic.Uint64
	connecting atomic.Bool
	host       atomic.Pointer[string]

	mu     sync.Mutex
	closed bool
	closer func()
}

func (f *flow) touch() { f.last.Store(time.Now().UnixNano()) }

// setCloser installs what closing the flow does; if the flow was closed
// already (evicted while connecting), it runs at once.
func (f *flow) setCloser(c func()) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		c()
		return
	}
	f.closer = c
	f.mu.Unlock()
}

// close ends the flow's sockets; the flow's own goroutine then removes it.
func (f *flow) close() {
	f.mu.Lock()
	c := f.closer
	f.closed, f.closer = true, nil
	f.mu.Unlock()
	if c != nil {
		c()
	}
}

func (f *flow) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// natTable holds the live flows. Its lock is taken when a flow is created or
// deleted and by the admin views, never per packet.
type natTable struct {
	n      *SecureNAT
	mu     sync.Mutex
	nextID uint32
	byID   map[uint32]*flow
	byKey  map[flowKey]*flow
	byIP   map[netip.Addr][]*flow
	active sync.WaitGroup // flow goroutines
}

func newNATTable(n *SecureNAT) *natTable {
	return &natTable{n: n, byID: map[uint32]*flow{}, byKey: map[flowKey]*flow{}, byIP: map[netip.Addr][]*flow{}}
}

func (t *natTable) newFlow(proto string, client, dest netip.AddrPort) *flow {
	f := &flow{key: flowKey{proto, client, dest}, created: time.Now()}
	switch proto {
	case ProtoTCP:
		f.timeout = t.n.cfg.tcpTimeout
	case ProtoICMP:
		f.timeout = 10 * timeoutUnit // docs/protocol/securenat.md#icmp
	default:
		f.timeout = t.n.cfg.udpTimeout
	}
	f.touch()
	return f
}

// lookup returns the live flow with this key, or nil.
func (t *natTable) lookup(k flowKey) *flow {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byKey[k]
}

// add admits f under the limits (docs/protocol/securenat.md#nat-table), evicting the client's oldest flow of
// the same kind where SoftEther does. It reports false (and logs why) when
// the flow is refused. On success the caller owns one t.active count and
// must call remove when the flow ends.
func (t *natTable) add(f *flow) bool {
	lim := t.n.opt.Limits
	t.mu.Lock()
	if t.n.ctx.Err() != nil {
		t.mu.Unlock()
		return false
	}
	if len(t.byID) >= lim.MaxSessions {
		t.mu.Unlock()
		t.n.logLimit(f, "the NAT table is full", len(t.byID), lim.MaxSessions)
		return false
	}
	if _, dup := t.byKey[f.key]; dup {
		t.mu.Unlock()
		return false
	}
	client := f.key.client.Addr()
	var same []*flow // the client's flows of this protocol, oldest last-communication first
	connecting := 0
	for _, g := range t.byIP[client] {
		if g.key.proto != f.key.proto || g.isClosed() {
			continue
		}
		if g.connecting.Load() {
			connecting++
			continue
		}
		same = append(same, g)
	}
	limit := 0
	switch f.key.proto {
	case ProtoTCP:
		if lim.MaxTCPSynSentPerIP > 0 && connecting >= lim.MaxTCPSynSentPerIP {
			t.mu.Unlock()
			t.n.logLimit(f, "too many TCP connections are being opened by this client", connecting, lim.MaxTCPSynSentPerIP)
			return false
		}
		limit = lim.MaxTCPPerIP
	case ProtoUDP:
		limit = lim.MaxUDPPerIP
	case ProtoICMP:
		limit = lim.MaxICMPPerIP
	}
	var evict *flow
	if limit > 0 && len(same) >= limit {
		evict = slices.MinFunc(same, func(a, b *flow) int { return int(a.last.Load() - b.last.Load()) })
	}
	t.nextID++
	f.id = t.nextID
	t.byID[f.id] = f
	t.byKey[f.key] = f
	t.byIP[client] = append(t.byIP[client], f)
	t.active.Add(1)
	t.mu.Unlock()
	if evict != nil {
		t.n.logLimit(f, fmt.Sprintf("the client's oldest %s session %d is disconnected", f.key.proto, evict.id), len(same), limit)
		t.evict(evict)
	}
	return true
}

func (t *natTable) evict(f *flow) {
	f.close()
	if f.passive {
		t.remove(f)
	}
}

// remove deletes f from the table and logs the deletion; it is idempotent.
func (t *natTable) remove(f *flow) {
	t.mu.Lock()
	if t.byID[f.id] != f {
		t.mu.Unlock()
		return
	}
	delete(t.byID, f.id)
	delete(t.byKey, f.key)
	ip := f.key.client.Addr()
	list := slices.DeleteFunc(t.byIP[ip], func(g *flow) bool { return g == f })
	if len(list) == 0 {
		delete(t.byIP, ip)
	} else {
		t.byIP[ip] = list
	}
	t.mu.Unlock()
	f.close()
	t.n.logDeleted(f)
	t.active.Done()
}

// reap closes flows idle for longer than their timeout until done is closed.
func (t *natTable) reap(done <-chan struct{}) {
	tick := time.NewTicker(min(max(timeoutUnit, 10*time.Millisecond), time.Second))
	defer tick.Stop()
	var idle []*flow
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		now := time.Now().UnixNano()
		idle = idle[:0]
		t.mu.Lock()
		for _, f := range t.byID {
			if now-f.last.Load() > int64(f.timeout) {
				idle = append(idle, f)
			}
		}
		t.mu.Unlock()
		for _, f := range idle {
			t.evict(f)
		}
		clear(idle)
	}
}

// closeAll closes every flow (SecureNAT is stopping).
func (t *natTable) closeAll() {
	t.mu.Lock()
	all := make([]*flow, 0, len(t.byID))
	for _, f := range t.byID {
		all = append(all, f)
	}
	t.mu.Unlock()
	for _, f := range all {
		t.evict(f)
	}
}

// wait returns when every flow goroutine has finished.
func (t *natTable) wait() { t.active.Wait() }

func (t *natTable) list() []NATEntry {
	t.mu.Lock()
	out := make([]NATEntry, 0, len(t.byID))
	for _, f := range t.byID {
		e := NATEntry{
			ID: f.id, Protocol: f.key.proto,
			ClientIP: f.key.client.Addr(), ClientPort: f.key.client.Port(),
			DestHost: f.key.dest.Addr().String(), DestIP: f.key.dest.Addr(), DestPort: f.key.dest.Port(),
			Created: f.created, LastComm: time.Unix(0, f.last.Load()),
			SentBytes: f.sent.Load(), RecvBytes: f.recv.Load(), State: "Running",
		}
		if h := f.host.Load(); h != nil {
			e.DestHost = *h
		}
		if f.connecting.Load() {
			e.State = "Connecting"
		}
		out = append(out, e)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b NATEntry) int { return int(a.ID) - int(b.ID) })
	return out
}

func (t *natTable) status() Status {
	var s Status
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.byID {
		switch f.key.proto {
		case ProtoTCP:
			s.TCPSessions++
		case ProtoUDP:
			s.UDPSessions++
		case ProtoICMP:
			s.ICMPSessions++
		case ProtoDNS:
			s.DNSSessions++
		}
	}
	return s
}

// Security-log lines (docs/protocol/hub.md#security-log). The message is SoftEther's text; attributes
// carry the same facts for machines.

func (n *SecureNAT) logRaw(event, msg string, attrs ...slog.Attr) {
	if n.log == nil {
		return
	}
	attrs = append(attrs, slog.String("event", event), slog.String("hub", n.hub))
	n.log.LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
}

func (n *SecureNAT) logf(event string, attrs []slog.Attr, format string, args ...any) {
	if n.log == nil {
		return
	}
	n.logRaw(event, "SecureNAT: "+fmt.Sprintf(format, args...), attrs...)
}

func flowAttrs(f *flow) []slog.Attr {
	return []slog.Attr{
		slog.Uint64("id", uint64(f.id)), slog.String("proto", f.key.proto),
		slog.String("client", f.key.client.String()), slog.String("dest", f.key.dest.String()),
	}
}

func (n *SecureNAT) logCreated(f *flow) {
	if f.key.proto != ProtoTCP && f.key.proto != ProtoUDP {
		return // ICMP and DNS entries are not logged (docs/protocol/hub.md#security-log)
	}
	n.logf("LH_NAT_"+f.key.proto+"_CREATED", flowAttrs(f),
		"The %s session %d has been created. Connection source %s:%d, Connection destination %s:%d",
		f.key.proto, f.id, f.key.client.Addr(), f.key.client.Port(), f.key.dest.Addr(), f.key.dest.Port())
}

func (n *SecureNAT) logDeleted(f *flow) {
	if f.key.proto != ProtoTCP && f.key.proto != ProtoUDP {
		return
	}
	n.logf("LH_NAT_"+f.key.proto+"_DELETED", append(flowAttrs(f),
		slog.Uint64("sent", f.sent.Load()), slog.Uint64("recv", f.recv.Load())),
		"The %s session %d has been deleted.", f.key.proto, f.id)
}

func (n *SecureNAT) logLimit(f *flow, what string, count, limit int) {
	n.logf("NAT_LIMIT", append(flowAttrs(f), slog.Int("count", count), slog.Int("limit", limit)),
		"A new %s session from %s to %s hit a NAT limit (%d of %d): %s.",
		f.key.proto, f.key.client, f.key.dest, count, limit, what)
}
