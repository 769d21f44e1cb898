package hub

import (
	"sync"
	"sync/atomic"
)

const (
	// frameCost is the memory a Frame takes: exactly one 2 KiB size class
	// of the Go allocator (a Frame a few bytes larger would take 2304).
	frameCost = 2048
	// frameCap is the buffer that fills a Frame up to frameCost. It leaves
	// headroom above ether.MaxFrameSize so a later VLAN tag insert or MSS option
	// never needs a second buffer.
	frameCap    = frameCost - frameHeader
	frameHeader = 16 // refs, taken, n
)

// Frame is a pooled, reference-counted frame buffer. A flooded frame is copied
// once and shared by every destination queue; each holder calls Release when it
// is done, and the last Release returns the buffer to the pool.
type Frame struct {
	// refs counts holders. It is a plain int32 used through sync/atomic so
	// that a frame fresh from the pool, seen by no one else yet, can be set
	// with an ordinary store: an atomic store there costs a full barrier on
	// a cache line last touched by another core.
	refs int32
	// taken is the forwarder's note that a destination already holds the
	// creation reference; it is only touched before the frame is queued.
	taken bool
	n     int
	buf   [frameCap]byte
}

var framePool = sync.Pool{New: func() any { return new(Frame) }}

// newFrame copies b into a pooled frame holding one reference.
func newFrame(b []byte) *Frame {
	f := framePool.Get().(*Frame)
	f.n = copy(f.buf[:], b)
	f.taken = false
	f.refs = 1
	return f
}

// Bytes returns the frame's contents. The slice is valid until Release and must
// not be modified: other ports may share the same buffer.
func (f *Frame) Bytes() []byte { return f.buf[:f.n] }

// Release gives the frame back. Call it exactly once per frame obtained from
// Drain.
func (f *Frame) Release() {
	switch n := atomic.AddInt32(&f.refs, -1); {
	case n == 0:
		framePool.Put(f)
	case n < 0:
		panic("hub: Frame released more often than it was handed out")
	}
}

// retain adds a reference for one more holder.
func (f *Frame) retain() { atomic.AddInt32(&f.refs, 1) }
