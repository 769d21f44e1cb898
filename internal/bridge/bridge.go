// Package bridge is SoftEther's local bridge: it connects a Virtual Hub to
// a Linux network device, either an existing NIC through an AF_PACKET raw
// socket (promiscuous, VLAN tags restored, offloads fixed up in software)
// or a TAP device it creates so that the host itself can reach the hub.
//
// The bridge is one hub port of kind KindLocalBridge. Frames move in
// batches both ways (recvmmsg/sendmmsg on the raw socket) through reused
// buffers. Behaviour: docs/protocol/hub.md#local-bridge.
package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/tap"
)

// RetryInterval is how long a bridge waits before it tries again to open
// a device that failed (SoftEther's BRIDGE_TRY_SPAN).
const RetryInterval = time.Second

// UserName is the user name of local bridge sessions.
const UserName = "Local Bridge"

// Config describes one local bridge (LocalBridgeList/LocalBridge<n>).
type Config struct {
	Name   string // hub port (session) name, e.g. "SID-LOCALBRIDGE-1"
	Device string // NIC name; with TapMode the TAP is TapName(Device)

	TapMode bool
	TapMAC  net.HardwareAddr // nil: a random 5E:xx:xx:xx:xx:xx

	NoPromiscuous  bool // leave the NIC out of promiscuous mode
	Monitor        bool // the bridge sees every frame and sends none into the hub
	LimitBroadcast bool // keep the hub's broadcast storm limiter on for the bridge

	// KeepOwnDHCP turns off the DHCP self-filter: by default DHCP requests
	// from the bridged NIC's own MAC and replies to it do not cross the
	// bridge, so the host's DHCP client cannot take a lease from the VPN
	// (SoftEther's DisableUdpFilterForLocalBridgeNic inverted).
	KeepOwnDHCP bool

	Log *slog.Logger // nil: discard
}

// device is what a bridge moves frames to and from.
type device interface {
	// read blocks until frames arrive and passes them to input (maybe in
	// several calls); the slices are valid only during each call.
	read(input func([][]byte)) error
	// write sends frames, skipping (and counting) those the device refuses.
	write(frames []*hub.Frame) (skipped int, err error)
	hwAddr() net.HardwareAddr
	dropped() uint64
	close() error
}

// nowWriter is a device that can write without waiting (the raw socket),
// so that the hub's goroutines may write to it (hub.Port.SetPush).
type nowWriter interface {
	// writeNow is write up to the first frame the device cannot take at
	// once; done is how many frames it took (sent or skipped).
	writeNow(frames []*hub.Frame) (done, skipped int, err error)
}

// pushBatches bounds the batches one push writes.
const pushBatches = 4

// releaseAll releases the frames of *fs and empties it.
func releaseAll(fs *[]*hub.Frame) {
	for _, f := range *fs {
		f.Release()
	}
	clear(*fs)
	*fs = (*fs)[:0]
}

// Bridge is one local bridge. Create it with New and run it with Run.
type Bridge struct {
	hub *hub.Hub
	cfg Config
	log *slog.Logger

	active  atomic.Bool
	mu      sync.Mutex
	lastErr error
	skipped atomic.Uint64 // frames the device refused
	dhcp    atomic.Uint64 // frames the DHCP self-filter dropped
	merged  atomic.Uint64 // frames written merged into GSO packets
}

// New prepares a bridge between h and the configured device.
func New(h *hub.Hub, c Config) *Bridge {
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c.TapMode && len(c.TapMAC) != 6 {
		c.TapMAC = tap.RandomMAC() // SoftEther's 5E:xx:xx:xx:xx:xx
	}
	return &Bridge{hub: h, cfg: c, log: log.With("hub", h.Name(), "device", c.Device)}
}

// Active reports whether the device is open and attached to the hub.
func (b *Bridge) Active() bool { return b.active.Load() }

// Err returns why the device last failed to open or stopped, or nil.
func (b *Bridge) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastErr
}

// Config returns the bridge's configuration (with the TAP MAC chosen).
func (b *Bridge) Config() Config { return b.cfg }

// Run keeps the bridge up until ctx ends: it opens the device, attaches a
// port to the hub and moves frames; when the device cannot be opened, fails
// or the hub goes offline, it tries again every RetryInterval. It returns
// nil when ctx ends.
func (b *Bridge) Run(ctx context.Context) error {
	for {
		err := b.once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		b.setErr(err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(RetryInterval):
		}
	}
}

// setErr records err and logs it when it differs from the last one, so a
// device that stays missing is not logged every second.
func (b *Bridge) setErr(err error) {
	b.mu.Lock()
	same := (err == nil) == (b.lastErr == nil) && (err == nil || err.Error() == b.lastErr.Error())
	b.lastErr = err
	b.mu.Unlock()
	if err != nil && !same {
		var pe *PrivilegeError
		switch {
		case errors.Is(err, hub.ErrOffline), errors.Is(err, hub.ErrClosed):
			b.log.Info("local bridge waits for its virtual hub to be online")
		case errors.As(err, &pe):
			b.log.Error("local bridge cannot open its device", "err", err)
		default:
			b.log.Warn("local bridge device unavailable; retrying every second", "err", err)
		}
	}
}

// once runs one open-attach-pump cycle.
func (b *Bridge) once(ctx context.Context) error {
	if !b.hub.Online() {
		return hub.ErrOffline
	}
	var dev device
	var err error
	if b.cfg.TapMode {
		dev, err = openTap(TapName(b.cfg.Device), b.cfg.TapMAC)
	} else {
		dev, err = openPacket(b.cfg.Device, !b.cfg.NoPromiscuous)
	}
	if err != nil {
		return err
	}
	defer dev.close()
	if pc, ok := dev.(*packetConn); ok {
		pc.merged = &b.merged
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	port, err := b.hub.Attach(hub.PortConfig{
		Name: b.cfg.Name,
		User: UserName,
		Kind: hub.KindLocalBridge,
		Policy: hub.Policy{
			Monitor:            b.cfg.Monitor,
			NoBroadcastLimiter: !b.cfg.LimitBroadcast,
		},
		Disconnect: func(reason error) { cancel(reason) },
	})
	if err != nil {
		return err
	}
	defer port.Close()

	b.setErr(nil)
	b.active.Store(true)
	defer b.active.Store(false)
	name := b.cfg.Device
	if b.cfg.TapMode {
		name = TapName(b.cfg.Device)
	}
	// LH_BRIDGE_1 / LH_START_BRIDGE
	b.log.Info("local bridge started", "session", b.cfg.Name, "interface", name, "tap", b.cfg.TapMode,
		"mac", dev.hwAddr().String(), "promiscuous", !b.cfg.TapMode && !b.cfg.NoPromiscuous, "monitor", b.cfg.Monitor)

	filter := !b.cfg.KeepOwnDHCP && !b.cfg.TapMode
	mac := dev.hwAddr()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // device -> hub
		defer wg.Done()
		defer guard.Recover(b.log, "local bridge "+name+" (device to hub)", cancel)
		var keep [][]byte
		input := func(frames [][]byte) {
			if filter {
				keep = keep[:0]
				for _, f := range frames {
					if isOwnDHCP(f, mac, true) {
						b.dhcp.Add(1)
						continue
					}
					keep = append(keep, f)
				}
				frames = keep
			}
			port.Input(frames)
		}
		for {
			if err := dev.read(input); err != nil {
				cancel(err)
				return
			}
		}
	}()
	// The hub's frames for the device are written by the writer goroutine
	// below or, when the device can write without waiting, by the
	// goroutine that switched them (the port's push function): one
	// hand-over and wake-up less per batch. out.mu keeps the two apart and
	// the frames in order; out.pending holds the frames a push drained but
	// the device did not take at once, which the writer sends first.
	var out struct {
		mu      sync.Mutex
		pending []*hub.Frame
	}
	// keep appends to dst the frames the filter lets through; own says
	// the caller owns the frames, and then the others are released.
	filtered := make([]*hub.Frame, 0, txBatch)
	keep := func(dst, frames []*hub.Frame, own bool) []*hub.Frame {
		if !filter {
			return frames
		}
		for _, f := range frames {
			if isOwnDHCP(f.Bytes(), mac, false) {
				b.dhcp.Add(1)
				if own {
					f.Release()
				}
				continue
			}
			dst = append(dst, f)
		}
		return dst
	}
	if nw, ok := dev.(nowWriter); ok {
		out.pending = make([]*hub.Frame, 0, txBatch)
		pushBuf := make([]*hub.Frame, 0, txBatch)
		pushKept := make([]*hub.Frame, 0, txBatch)
		port.SetPush(func() bool {
			if !out.mu.TryLock() {
				return false
			}
			defer out.mu.Unlock()
			if len(out.pending) > 0 || ctx.Err() != nil {
				return false
			}
			// A few batches at most: a pusher switching for others
			// leaves a long queue to the writer.
			for range pushBatches {
				batch := port.Drain(pushBuf[:0], txBatch)
				if len(batch) == 0 {
					return true
				}
				frames := keep(pushKept[:0], batch, true)
				done, skipped, err := nw.writeNow(frames)
				b.skipped.Add(uint64(skipped))
				for _, f := range frames[:done] {
					f.Release()
				}
				out.pending = append(out.pending, frames[done:]...)
				clear(batch)
				clear(pushKept[:cap(pushKept)])
				if err != nil {
					cancel(err)
					return false
				}
				if len(out.pending) > 0 {
					return false // the writer waits for room
				}
			}
			return false
		})
	}
	go func() { // hub -> device
		defer wg.Done()
		defer guard.Recover(b.log, "local bridge "+name+" (hub to device)", cancel)
		buf := make([]*hub.Frame, 0, txBatch)
		write := func(frames []*hub.Frame) bool {
			skipped, err := dev.write(frames)
			b.skipped.Add(uint64(skipped))
			if err != nil {
				cancel(err)
				return false
			}
			return true
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-port.Ready():
			}
			out.mu.Lock()
			ok := true
			if len(out.pending) > 0 {
				ok = write(out.pending)
				releaseAll(&out.pending)
			}
			if ok {
				port.DrainBatches(buf, 0, func(frames []*hub.Frame) bool {
					ok := write(keep(filtered[:0], frames, false))
					clear(filtered[:cap(filtered)])
					return ok
				})
			}
			out.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
		}
	}()
	<-ctx.Done()
	dev.close() // unblocks the reader
	wg.Wait()
	out.mu.Lock() // a push in flight ends first; none starts after (ctx is done)
	releaseAll(&out.pending)
	out.mu.Unlock()
	reason := context.Cause(ctx)
	if errors.Is(reason, context.Canceled) {
		reason = nil
	}
	// LH_BRIDGE_2 / LH_STOP_BRIDGE
	b.log.Info("local bridge stopped", "session", b.cfg.Name, "reason", reason,
		"refused_by_device", b.skipped.Load(), "merged_into_gso", b.merged.Load(), "dropped_bad_offload", dev.dropped(), "dropped_own_dhcp", b.dhcp.Load())
	if reason == nil {
		reason = errors.New("bridge: stopped")
	}
	return reason
}

// isOwnDHCP reports whether f is DHCP traffic of the bridged NIC itself: a
// request from its MAC (fromDevice) or a reply to its MAC (towards the
// device). Only untagged IPv4 frames are looked at.
func isOwnDHCP(f []byte, mac net.HardwareAddr, fromDevice bool) bool {
	if len(f) < 14+20+8 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
		return false
	}
	ihl := int(f[14]&0x0f) * 4
	if f[14+9] != 17 || ihl < 20 || len(f) < 14+ihl+8 {
		return false
	}
	udp := f[14+ihl:]
	src, dst := binary.BigEndian.Uint16(udp), binary.BigEndian.Uint16(udp[2:])
	if fromDevice {
		return src == 68 && dst == 67 && string(f[6:12]) == string(mac)
	}
	return src == 67 && dst == 68 && string(f[0:6]) == string(mac)
}
