// Package hub implements a SoftEther Virtual Hub: an isolated software
// Ethernet switch whose ports are VPN sessions, SecureNAT, local bridges,
// cascades and layer-3 switch interfaces.
//
// Frames enter through Port.Input in batches and are switched in the calling
// goroutine: there is no hub-wide lock on this path. The MAC and IP tables are
// sharded with atomic timestamps, the port list is a copy-on-write snapshot,
// and every port has a bounded output queue that drops (and counts) rather
// than blocks. Frame buffers are pooled and shared between the destinations of
// a flood, so steady-state switching does not allocate.
//
// The behaviour follows docs/protocol/hub.md#forwarding-pipeline.
package hub

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults, as in SoftEther (docs/protocol/hub.md#ports, docs/protocol/hub.md#mac-table, docs/protocol/hub.md#ip-table, docs/protocol/hub.md#storm-limiter).
const (
	DefaultMACAgeing     = 600 * time.Second
	DefaultIPAgeing      = 60 * time.Second
	DefaultDHCPIPAgeing  = 300 * time.Second
	DefaultMaxMACEntries = 65536
	DefaultMaxIPEntries  = 65536
	// DefaultQueueFrames is 4x SoftEther's 1024: a client with TAP
	// segmentation offload hands the hub a 64 KiB burst (44 frames) at a
	// time, and a 1024-frame queue in front of a slower receiver dropped
	// them by the thousand, which the tunnelled TCP paid for in
	// retransmissions (client bench: 2.6 -> 3.1 Gbit/s, 42k -> 0
	// retransmissions). Since then the bound in bytes (DefaultQueueBytes,
	// 2048 frames) is the tighter one by default: with it and Push, the
	// deepest queue of that bench held 256 frames and none was dropped.
	DefaultQueueFrames    = 4096
	DefaultStormThreshold = 32

	// exclusiveTime is how long an address stays tied to the session that
	// last used it when CheckMAC/CheckIP are on (MAC/IP_TABLE_EXCLUSIVE_TIME).
	exclusiveTime = 13 * time.Second
)

// Errors returned by Attach and passed to Disconnect callbacks.
var (
	ErrOffline     = errors.New("hub: virtual hub is offline")
	ErrClosed      = errors.New("hub: virtual hub is closed")
	ErrNameInUse   = errors.New("hub: session name already in use")
	ErrAdminDelete = errors.New("hub: session disconnected by administrator")
)

// Options configure a Hub. Zero values mean the SoftEther defaults, except
// ManageOnlyPrivateIP, which is a plain bool: use DefaultOptions to get
// SoftEther's default of true.
type Options struct {
	MACAgeing     time.Duration // default 600 s; also checked on lookup
	IPAgeing      time.Duration // default 60 s
	DHCPIPAgeing  time.Duration // IP entries from DHCP snooping, default 300 s
	MaxMACEntries int           // default 65536
	MaxIPEntries  int           // default 65536
	QueueFrames   int           // per-port output queue bound, default 4096 frames
	// QueueBytes bounds the memory of a port's output queue (each frame
	// counts 2 KiB, its buffer); default DefaultQueueBytes. The lower of
	// this and QueueFrames applies.
	QueueBytes int
	// QueueBudget bounds the output queues of all the ports that share it
	// beyond QueueReserve each (see QueueBudget); a server passes one to
	// all its hubs. nil: the hub makes its own, of DefaultQueueBudget.
	QueueBudget    *QueueBudget
	StormThreshold int // flooded frames/s before the storm limiter acts (docs/protocol/hub.md#storm-limiter); 0 = 32
	// MaxLoggedPacketsPerMinute caps the frames a client session may send
	// that the packet log records, per fixed 60 s window; SoftEther drops
	// the excess frames, not just their records (docs/protocol/hub.md#packet-log). 0 = no cap.
	MaxLoggedPacketsPerMinute int

	// ManageOnlyPrivateIP tracks only private IPv4 source addresses in the IP
	// table (docs/protocol/hub.md#ip-table). SoftEther's default is true; see DefaultOptions.
	ManageOnlyPrivateIP bool

	// LogNewMACs logs every new MAC registration (SoftEther's NoMacAddressLog
	// inverted; off by default). MAC moves are always logged.
	LogNewMACs bool
	// DisableCheckMACOnLocalBridge stops forcing CheckMAC on local bridges (docs/protocol/hub.md#session-types).
	DisableCheckMACOnLocalBridge bool
	// Privacy-filter hub options (docs/protocol/hub.md#privacy-filter), as their SoftEther defaults when false:
	// PrivacyPassBroadcasts inverts DropBroadcastsInPrivacyFilterMode,
	// PrivacyPassARP inverts DropArpInPrivacyFilterMode.
	PrivacyPassBroadcasts, PrivacyPassARP, PrivacyAllowSameUser bool

	// ApplyAccessListOnARP lets access-list rules match Ethernet/IPv4 ARP
	// by its sender and target addresses (ApplyIPv4AccessListOnArpPacket,
	// docs/protocol/hub.md#rule-matching); otherwise ARP always passes the access list.
	ApplyAccessListOnARP bool
	// VLANTypeID is the TPID of the tags that policy VLanId inserts and
	// strips (docs/protocol/hub.md#vlan); 0 = 0x8100.
	VLANTypeID uint16
	// AdjustTCPMSS clamps the MSS of TCP SYNs entering the hub
	// (AdjustTcpMssValue, docs/protocol/hub.md#mss-clamping); 0 = off. DisableAdjustTCPMSS turns off all
	// clamping, including the ports' own PortConfig.AdjustMSS.
	AdjustTCPMSS        int
	DisableAdjustTCPMSS bool
	// Filters are the hub-wide protocol filters.
	Filters Filters

	// Log receives security-log events (MAC limit hit, storms, ...) with the
	// SoftEther message text and structured attributes; nil discards them.
	Log *slog.Logger
	// Clock returns the current time; nil means time.Now. For tests.
	Clock func() time.Time
}

// DefaultOptions returns the SoftEther defaults, including ManageOnlyPrivateIP.
func DefaultOptions() Options {
	return Options{ManageOnlyPrivateIP: true}
}

func (o *Options) fill() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.MACAgeing, DefaultMACAgeing)
	def(&o.IPAgeing, DefaultIPAgeing)
	def(&o.DHCPIPAgeing, DefaultDHCPIPAgeing)
	defInt(&o.MaxMACEntries, DefaultMaxMACEntries)
	defInt(&o.MaxIPEntries, DefaultMaxIPEntries)
	defInt(&o.QueueFrames, DefaultQueueFrames)
	defInt(&o.QueueBytes, DefaultQueueBytes)
	defInt(&o.StormThreshold, DefaultStormThreshold)
	if o.VLANTypeID == 0 {
		o.VLANTypeID = DefaultVLANTypeID
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
}

// Hub is one Virtual Hub: an isolated software Ethernet switch.
type Hub struct {
	name  string
	opts  atomic.Pointer[Options] // in effect; SetOptions replaces them
	clock func() time.Time        // Options.Clock, fixed at creation
	log   *slog.Logger            // nil: discard
	epoch time.Time               // hub clock zero; timestamps are ns since epoch

	mu     sync.Mutex // attach/detach and online state; never taken per frame
	closed bool
	usedID []bool           // dense port ids, so per-batch scratch can index by id
	names  map[string]*Port // attached ports by name (under mu)

	online atomic.Bool
	ports  atomic.Pointer[portSet]

	macs        *table[uint64]
	ips         *table[ipKey]
	lastPurge   atomic.Int64 // last lazy MAC purge, hub clock
	lastIPPurge atomic.Int64 // last purge of a full IP table, hub clock (see evictIP)

	acl  atomic.Pointer[accessList] // nil: no access list
	plog atomic.Pointer[PacketLog]  // nil: no packet log

	stats counters
}

// portSet is an immutable snapshot of the attached ports.
type portSet struct {
	all      []*Port // attach order
	flood    []*Port // all minus monitor ports
	monitors []*Port
	maxID    int // no port id in all is higher
}

// New creates an online hub.
func New(name string, opt Options) *Hub {
	opt.fill()
	if opt.QueueBudget == nil {
		opt.QueueBudget = NewQueueBudget(DefaultQueueBudget)
	}
	h := &Hub{
		name:  name,
		clock: opt.Clock,
		log:   opt.Log,
		epoch: opt.Clock(),
		macs:  newTable(hashU64),
		ips:   newTable(hashIP),
	}
	h.opts.Store(&opt)
	h.ports.Store(&portSet{})
	h.online.Store(true)
	return h
}

// Options returns the options in effect, with defaults filled in.
func (h *Hub) Options() Options { return *h.o() }

// o returns the options in effect, for the forwarding path.
func (h *Hub) o() *Options { return h.opts.Load() }

// SetOptions puts new options into effect for the frames from now on, as
// SoftEther applies a hub's options when they are set. The clock and the
// logger stay those of New, and so does the queue budget when opt has
// none; the queue bounds and the MSS clamp of a port are fixed when it
// attaches, so they change for later ports only.
func (h *Hub) SetOptions(opt Options) {
	opt.Clock, opt.Log = h.clock, h.log
	opt.fill()
	if opt.QueueBudget == nil {
		opt.QueueBudget = h.o().QueueBudget
	}
	h.opts.Store(&opt)
}

// now is the hub clock: nanoseconds since the hub was created.
func (h *Hub) now() int64 { return int64(h.clock().Sub(h.epoch)) }

// wall converts a hub clock value to a time.
func (h *Hub) wall(t int64) time.Time { return h.epoch.Add(time.Duration(t)) }

// Name returns the hub's name.
func (h *Hub) Name() string { return h.name }

// Online reports whether the hub accepts and switches frames.
func (h *Hub) Online() bool { return h.online.Load() }

// SetOnline switches the hub on or off. Going offline asks every attached port
// to disconnect (its Disconnect callback gets ErrOffline); while offline Attach
// fails and frames are dropped.
func (h *Hub) SetOnline(on bool) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	was := h.online.Swap(on)
	ports := h.ports.Load().all
	h.mu.Unlock()
	if was && !on {
		for _, p := range ports {
			p.requestDisconnect(ErrOffline)
		}
	}
}

// Close takes the hub offline for good: every port is asked to disconnect
// (ErrClosed) and detached.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.online.Store(false)
	ports := h.ports.Load().all
	h.mu.Unlock()
	for _, p := range ports {
		p.requestDisconnect(ErrClosed)
		p.Close()
	}
}

// Attach adds a port. It fails if the hub is offline or closed, or if another
// attached port has the same name.
func (h *Hub) Attach(cfg PortConfig) (*Port, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, ErrClosed
	case !h.online.Load():
		return nil, ErrOffline
	}
	if h.names[cfg.Name] != nil {
		return nil, ErrNameInUse
	}
	old := h.ports.Load()
	id := slices.Index(h.usedID, false)
	if id < 0 {
		id = len(h.usedID)
		h.usedID = append(h.usedID, true)
	}
	h.usedID[id] = true
	p := newPort(h, id, cfg)
	if h.names == nil {
		h.names = map[string]*Port{}
	}
	h.names[cfg.Name] = p

	all := make([]*Port, len(old.all)+1)
	copy(all, old.all)
	all[len(old.all)] = p
	// usedID only grows, so its length bounds every id.
	h.ports.Store(newPortSet(all, len(h.usedID)-1, len(old.monitors) > 0 || p.pol.Monitor))
	return p, nil
}

// newPortSet makes the port list of all, which it keeps; maxID bounds the
// ports' ids and hadMonitors says whether the list it replaces, or the
// port that changed, is a monitor port. Every login and logout makes one,
// so it must not visit every port (at 10,000 sessions that alone, a cache
// miss per port, cost more than the rest of a login): without monitor
// ports, the usual case, the flood list is all itself.
func newPortSet(all []*Port, maxID int, hadMonitors bool) *portSet {
	s := &portSet{all: all, maxID: maxID}
	if !hadMonitors {
		s.flood = all
		return s
	}
	for _, p := range all {
		if p.pol.Monitor {
			s.monitors = append(s.monitors, p)
		} else {
			s.flood = append(s.flood, p)
		}
	}
	if len(s.monitors) == 0 {
		s.flood = all
	}
	return s
}

// detach removes p from the port list; the caller then cleans up its state.
func (h *Hub) detach(p *Port) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.ports.Load()
	i := slices.Index(old.all, p)
	if i < 0 {
		return
	}
	all := make([]*Port, len(old.all)-1)
	copy(all, old.all[:i])
	copy(all[i:], old.all[i+1:])
	h.ports.Store(newPortSet(all, old.maxID, len(old.monitors) > 0))
	h.usedID[p.id] = false
	delete(h.names, p.name)
}

// findPort returns the attached port named name (case-insensitive, as
// SoftEther session names are), or nil.
func (h *Hub) findPort(name string) *Port {
	for _, p := range h.ports.Load().all {
		if strings.EqualFold(p.name, name) {
			return p
		}
	}
	return nil
}

// Disconnect asks the named port to go away (its Disconnect callback gets
// ErrAdminDelete). It reports whether such a port was attached.
func (h *Hub) Disconnect(portName string) bool {
	p := h.findPort(portName)
	if p == nil {
		return false
	}
	p.requestDisconnect(ErrAdminDelete)
	return true
}

// Stats returns the hub's traffic counters. As in SoftEther, the hub's view is
// the mirror image of its sessions': Recv counts frames that entered the hub
// from any port, Send counts frames handed to ports.
func (h *Hub) Stats() Stats { return h.stats.load() }

// seed returns a random seed for a port's storm-limiter sampling.
func seed() uint64 { return rand.Uint64() | 1 }
