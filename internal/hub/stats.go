package hub

import (
	"sync/atomic"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// Traffic is one direction of SoftEther's traffic block (docs/protocol/admin.md#traffic-block): broadcast (group-bit destination MAC) and unicast frames.
type Traffic struct {
	BroadcastBytes, BroadcastCount uint64
	UnicastBytes, UnicastCount     uint64
}

// Stats are traffic and drop counters.
//
// For a port they are from the session's point of view, as SoftEther reports
// them: Send counts frames the session sent into the hub (counted on entry,
// before any filtering), Recv counts frames the hub handed to the session
// (counted when Drain takes them). The hub's own Stats mirror this: its Recv is
// what it received from all ports, its Send what it delivered.
//
// Drops are counted where they happen: DroppedInvalid and DroppedPolicy on the
// sending port (bad frames; policies, limits, switching rules such as hairpin
// and monitor sends), DroppedQueueFull and download-limiter drops (counted in
// DroppedPolicy) on the destination port.
type Stats struct {
	Send, Recv       Traffic
	DroppedQueueFull uint64
	DroppedPolicy    uint64
	DroppedInvalid   uint64
	// DroppedAccessList counts frames the access list discarded, lost or
	// could not delay (queue full), on the sending port.
	DroppedAccessList uint64
	// StormPauses counts the times a sending port was held back because
	// the storm limiter dropped most of its batch (see TakeStormPause).
	StormPauses uint64
}

type trafficCounters struct {
	bcastBytes, bcastCount, ucastBytes, ucastCount atomic.Uint64
}

func (c *trafficCounters) add(t *Traffic) {
	if t.BroadcastCount != 0 {
		c.bcastBytes.Add(t.BroadcastBytes)
		c.bcastCount.Add(t.BroadcastCount)
	}
	if t.UnicastCount != 0 {
		c.ucastBytes.Add(t.UnicastBytes)
		c.ucastCount.Add(t.UnicastCount)
	}
}

func (c *trafficCounters) load() Traffic {
	return Traffic{
		BroadcastBytes: c.bcastBytes.Load(), BroadcastCount: c.bcastCount.Load(),
		UnicastBytes: c.ucastBytes.Load(), UnicastCount: c.ucastCount.Load(),
	}
}

// count adds frame b to t, classified by the destination MAC's group bit.
func (t *Traffic) count(b []byte) {
	if len(b) >= ether.MinFrameSize && b[0]&1 != 0 {
		t.BroadcastCount++
		t.BroadcastBytes += uint64(len(b))
	} else {
		t.UnicastCount++
		t.UnicastBytes += uint64(len(b))
	}
}

// counters are Stats kept with atomics; callers accumulate per batch and add
// once, so the shared cache lines are touched once per batch, not per frame.
type counters struct {
	send, recv                     trafficCounters
	queueFull, policy, invalidDrop atomic.Uint64
	acl, stormPauses               atomic.Uint64
}

func (c *counters) load() Stats {
	return Stats{
		Send: c.send.load(), Recv: c.recv.load(),
		DroppedQueueFull:  c.queueFull.Load(),
		DroppedPolicy:     c.policy.Load(),
		DroppedInvalid:    c.invalidDrop.Load(),
		DroppedAccessList: c.acl.Load(),
		StormPauses:       c.stormPauses.Load(),
	}
}

func addIf(c *atomic.Uint64, n uint64) {
	if n != 0 {
		c.Add(n)
	}
}
