package wire

import (
	"bytes"
	"io"
	"sync"

	"github.com/klauspost/compress/zlib"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// The data phase's large buffers are taken from pools when bytes arrive or
// frames are queued and given back as soon as they are empty, so that an
// idle connection holds none of them: 10 000 idle sessions cost what their
// sockets cost, not 10 000 times the 0.9 MB of buffers a busy connection
// uses. Under load a connection takes and returns its buffers once per
// batch, which a sync.Pool does without allocating or locking across CPUs.
// The pools are bounded by use: they hold at most what the connections
// busy at the same time needed, and the garbage collector empties them
// when that peak has passed.

// bufPool hands out byte slices of one capacity.
type bufPool struct {
	size int
	pool sync.Pool
}

// get returns an empty slice of capacity p.size.
func (p *bufPool) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, p.size)
	return &b
}

// put gives b back. A slice that outgrew its class (an append moved it)
// is left to the garbage collector, so the pool only holds its own size.
func (p *bufPool) put(b *[]byte) {
	if cap(*b) == p.size {
		p.pool.Put(b)
	}
}

var (
	// socketReadBufs hold what one system call read in the data phase
	// (RecordConn).
	socketReadBufs = bufPool{size: dataReadBuffer}
	// socketWriteBufs collect a batch's TLS records for one system call
	// (RecordConn). Writes flush at dataWriteLimit; the slack takes the
	// largest TLS record that can come on top.
	socketWriteBufs = bufPool{size: dataWriteLimit + 64<<10}
	// blockInputBufs hold received bytes until BlockReader has cut them
	// into blocks and the caller is done with the frames among them.
	blockInputBufs = bufPool{size: blockInputBuffer}
	// blockOutputBufs hold one DATA_FRAME being built (BlockWriter): a
	// batch of maxWriteBatch frames fits.
	blockOutputBufs = bufPool{size: 4 + maxWriteBatch*(4+ether.MaxFrameSize+zlibOverhead)}
)

// frameList backs the frames of one batch (BlockReader).
type frameList [readBatchFrames][]byte

// inflateArena holds the inflated frames of one batch of a compressed
// session (BlockReader).
type inflateArena [inflateArenaSize]byte

var (
	frameLists    = sync.Pool{New: func() any { return new(frameList) }}
	inflateArenas = sync.Pool{New: func() any { return new(inflateArena) }}
)

// Per-block zlib state is large (the inflater keeps a 32 KiB window, the
// deflater its hash tables) and only needed while blocks flow.
var (
	inflaters = sync.Pool{New: func() any {
		// Made on an empty stream, so that every block goes through
		// Reset and a block that is not zlib costs no new inflater.
		zr, err := zlib.NewReader(bytes.NewReader(emptyZlib))
		if err != nil {
			panic("wire: zlib refuses an empty stream: " + err.Error())
		}
		return zr
	}}
	deflaters = sync.Pool{New: func() any {
		// Any zlib level interoperates; the fastest keeps CPU low.
		w, _ := zlib.NewWriterLevel(io.Discard, zlib.BestSpeed)
		return w
	}}
)

// emptyZlib is a zlib stream of no bytes: header, an empty final block,
// the Adler-32 of nothing.
var emptyZlib = []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}
