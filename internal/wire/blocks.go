package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"

	"github.com/klauspost/compress/zlib"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// Data-phase limits (SoftEther Connection.c, ConnectionReceive and
// ConnectionSend; Cedar.h, MAX_PACKET_SIZE and MAX_KEEPALIVE_SIZE).
const (
	maxBlockField    = 3200                    // a larger block size field is a protocol error
	keepAliveMagic   = 0xFFFFFFFF              // in the block-count position: a keep-alive follows
	maxKeepAlivePad  = 512                     // a larger keep-alive padding is a protocol error
	sendKeepAlivePad = 511                     // we send 0..511 bytes of padding
	readBatchFrames  = 256                     // frames handed to the hub in one batch at most
	inflateArenaSize = 64 * ether.MaxFrameSize // inflated frames of one batch (compressed sessions)

	// blockInputBuffer holds received bytes until they are cut into
	// blocks, and the uncompressed frames of a batch until the next one.
	// A TLS read yields one record (16 KiB at most), so this takes
	// several; it must hold the largest block with its header.
	blockInputBuffer = 64 << 10
	// minReadRoom is the room kept for a read behind the unread bytes: a
	// TLS record with its header.
	minReadRoom = 16<<10 + 512
	// idleProbe is what BlockReader reads while it holds no buffer:
	// enough to learn that data has come.
	idleProbe = 16
	// maxWriteBatch frames fit in a pooled BlockWriter buffer; more in one
	// DATA_FRAME work but grow (allocate) the buffer.
	maxWriteBatch = 256
	// zlibOverhead is what a deflated frame may take beyond its own size.
	zlibOverhead = 64
)

// ErrBlockProtocol reports data-phase input that breaks the framing rules;
// the connection that carried it must be closed.
var ErrBlockProtocol = errors.New("wire: data-phase protocol error")

// BlockReader reads the data phase of one connection and returns the
// Ethernet frames it carries in batches. Uncompressed frames are handed out
// where they were received, compressed ones are inflated into an arena;
// either way they stay valid until the next call to Next, and nothing is
// allocated or copied per frame.
//
// The reader holds its buffers (received bytes, the frame list, the arena,
// the inflater) only while data flows: they come from pools when bytes
// arrive and go back when everything received has been handed on, so a
// connection that waits for its peer holds none of them.
type BlockReader struct {
	r         *bufio.Reader
	compress  bool
	in        *[]byte // pool token of buf
	buf       []byte  // received bytes; buf[pos:end] are not yet cut into blocks; nil when none
	pos, end  int
	list      *frameList // backs frames; nil between batches
	frames    [][]byte
	arena     *inflateArena // where compressed frames are inflated; nil between batches
	used      int           // bytes of arena in use
	remaining uint32        // blocks left in the current DATA_FRAME
	inflater  io.ReadCloser
	src       bytes.Reader
	probe     [idleProbe]byte
	over      [1]byte // reads one byte past a full frame to detect an oversized one

	// Oversized counts frames dropped because they exceeded ether.MaxFrameSize
	// after decompression (the connection stays up, as on the real server).
	Oversized uint64
}

// errNoRoom ends a batch early: the next block does not fit behind the
// frames handed out of the input buffer, which must not move until Next is
// called again.
var errNoRoom = errors.New("wire: input buffer full")

// NewBlockReader reads blocks from r; compress selects per-block zlib.
// Once r's buffered bytes are used up, reads go around r's buffer, which
// can therefore be small.
func NewBlockReader(r *bufio.Reader, compress bool) *BlockReader {
	return &BlockReader{r: r, compress: compress}
}

// Next blocks until at least one frame or one keep-alive has been read and
// returns the frames read (an empty batch means a keep-alive: proof of life
// without data). It keeps adding whole DATA_FRAMEs to the batch while their
// bytes are already buffered, so a busy connection yields large batches.
func (br *BlockReader) Next() ([][]byte, error) {
	br.frames = br.frames[:0]
	br.used = 0
	for {
		if br.remaining == 0 {
			if len(br.frames) > 0 && br.end-br.pos < 8 {
				return br.frames, nil
			}
			if err := br.need(4); err != nil {
				return br.fail(err)
			}
			switch n := br.u32(0); n {
			case 0:
				br.pos += 4
			case keepAliveMagic:
				if err := br.need(8); err != nil {
					return br.fail(err)
				}
				pad := br.u32(4)
				if pad > maxKeepAlivePad {
					return br.frames, fmt.Errorf("%w: keep-alive padding %d exceeds %d", ErrBlockProtocol, pad, maxKeepAlivePad)
				}
				if err := br.need(8 + int(pad)); err != nil {
					return br.fail(err)
				}
				br.pos += 8 + int(pad)
				if len(br.frames) == 0 {
					return br.frames, nil
				}
			default:
				br.pos += 4
				br.remaining = n
			}
			continue
		}
		if len(br.frames) == readBatchFrames || br.compress && br.used+ether.MaxFrameSize > len(br.arena) {
			return br.frames, nil
		}
		if err := br.need(4); err != nil {
			return br.fail(err)
		}
		size := br.u32(0)
		if size > maxBlockField {
			return br.frames, fmt.Errorf("%w: block size %d exceeds %d", ErrBlockProtocol, size, maxBlockField)
		}
		if err := br.need(4 + int(size)); err != nil {
			return br.fail(err)
		}
		block := br.buf[br.pos+4 : br.pos+4+int(size) : br.pos+4+int(size)]
		br.pos += 4 + int(size)
		br.remaining--
		switch {
		case size == 0:
		case !br.compress && size > ether.MaxFrameSize:
			br.Oversized++
		case !br.compress:
			br.add(block)
		default:
			if br.arena == nil {
				br.arena = inflateArenas.Get().(*inflateArena)
			}
			dst := br.arena[br.used : br.used+ether.MaxFrameSize]
			n := br.inflate(dst, block)
			if n < 0 {
				br.Oversized++
			}
			// A block that inflates to nothing (or not at all) carries
			// no frame: the hub never sees empty frames.
			if n > 0 {
				br.add(dst[:n:n])
				br.used += n
			}
		}
	}
}

// add appends a frame to the batch.
func (br *BlockReader) add(f []byte) {
	if br.list == nil {
		br.list = frameLists.Get().(*frameList)
		br.frames = br.list[:0]
	}
	br.frames = append(br.frames, f)
}

// fail ends Next on a read error; running out of room only ends the batch.
func (br *BlockReader) fail(err error) ([][]byte, error) {
	if err == errNoRoom {
		return br.frames, nil
	}
	return br.frames, err
}

// u32 returns the big-endian word at pos+off (need has made sure it is
// buffered).
func (br *BlockReader) u32(off int) uint32 {
	return binary.BigEndian.Uint32(br.buf[br.pos+off:])
}

// pinned reports whether frames handed out point into the input buffer,
// which then must not move or go back to its pool.
func (br *BlockReader) pinned() bool { return !br.compress && len(br.frames) > 0 }

// need makes sure n received bytes (n <= blockInputBuffer) are buffered at
// pos. When nothing is buffered and no frame is handed out it waits for the
// peer without holding any pooled buffer: that is how an idle connection
// waits.
func (br *BlockReader) need(n int) error {
	for br.end-br.pos < n {
		if br.buf != nil && br.pos == br.end && !br.pinned() {
			br.releaseInput()
		}
		if br.buf == nil {
			if len(br.frames) == 0 {
				br.release()
			}
			// Read a few bytes first, into the reader itself: the read
			// returns only when the peer sent something.
			m := 0
			if br.r.Buffered() == 0 {
				var err error
				if m, err = br.r.Read(br.probe[:]); m == 0 {
					return err
				}
			}
			br.in = blockInputBufs.get()
			br.buf = (*br.in)[:cap(*br.in)]
			br.pos, br.end = 0, copy(br.buf, br.probe[:m])
			continue
		}
		// Move the unread bytes to the front when the block would not fit
		// or a TLS record would not fit behind them, unless frames handed
		// out point into the buffer.
		if br.pos+n > len(br.buf) || len(br.buf)-br.end < minReadRoom {
			switch {
			case !br.pinned():
				br.end = copy(br.buf, br.buf[br.pos:br.end])
				br.pos = 0
			case br.pos+n > len(br.buf):
				return errNoRoom
			}
		}
		m, err := br.r.Read(br.buf[br.end:])
		br.end += m
		if m == 0 {
			if err == io.EOF && br.end > br.pos {
				err = io.ErrUnexpectedEOF
			}
			if err == nil {
				err = io.ErrNoProgress
			}
			return err
		}
	}
	return nil
}

func (br *BlockReader) releaseInput() {
	blockInputBufs.put(br.in)
	br.in, br.buf, br.pos, br.end = nil, nil, 0, 0
}

// release gives back the frame list, the arena and the inflater; the
// caller makes sure no frame is handed out.
func (br *BlockReader) release() {
	if br.list != nil {
		frameLists.Put(br.list)
		br.list, br.frames = nil, nil
	}
	if br.arena != nil {
		inflateArenas.Put(br.arena)
		br.arena, br.used = nil, 0
	}
	if br.inflater != nil {
		inflaters.Put(br.inflater)
		br.inflater = nil
	}
}

// inflate decompresses one zlib block into dst. A block that does not
// inflate is an empty frame (dropped) and one that inflates to more than
// ether.MaxFrameSize is dropped, as on the real server.
func (br *BlockReader) inflate(dst, in []byte) int {
	br.src.Reset(in)
	if br.inflater == nil {
		br.inflater = inflaters.Get().(io.ReadCloser)
	}
	if err := br.inflater.(zlib.Resetter).Reset(&br.src, nil); err != nil {
		return 0
	}
	n := 0
	for n < len(dst) {
		m, err := br.inflater.Read(dst[n:])
		n += m
		if err == io.EOF {
			return n
		}
		if err != nil {
			return 0
		}
	}
	// dst is full: more output means the frame is oversized, and only
	// the stream's proper end (checksum included) makes it a frame.
	switch m, err := br.inflater.Read(br.over[:]); {
	case m > 0:
		return -1
	case err != io.EOF:
		return 0
	}
	return n
}

// BlockWriter builds DATA_FRAMEs and keep-alives for one connection. Frames
// added with Add are sent together by Flush in a single Write, so one batch
// costs one TLS record train and one system call. Its buffer (and deflater)
// are held only from the first Add to the Flush.
type BlockWriter struct {
	w        io.Writer
	out      *[]byte // pool token of buf
	buf      []byte  // the DATA_FRAME being built; nil when no frame is pending
	count    uint32
	compress bool
	deflater *zlib.Writer
}

// NewBlockWriter writes to w; compress selects per-block zlib.
func NewBlockWriter(w io.Writer, compress bool) *BlockWriter {
	return &BlockWriter{w: w, compress: compress}
}

// Add appends one Ethernet frame to the pending DATA_FRAME.
func (bw *BlockWriter) Add(frame []byte) {
	if bw.buf == nil {
		bw.take()
		bw.buf = append(bw.buf, 0, 0, 0, 0) // the block count, set by Flush
	}
	if !bw.compress {
		bw.buf = binary.BigEndian.AppendUint32(bw.buf, uint32(len(frame)))
		bw.buf = append(bw.buf, frame...)
	} else {
		at := len(bw.buf)
		bw.buf = append(bw.buf, 0, 0, 0, 0)
		if bw.deflater == nil {
			bw.deflater = deflaters.Get().(*zlib.Writer)
		}
		bw.deflater.Reset((*deflateSink)(bw))
		bw.deflater.Write(frame)
		bw.deflater.Close()
		binary.BigEndian.PutUint32(bw.buf[at:], uint32(len(bw.buf)-at-4))
	}
	bw.count++
}

// deflateSink is where the deflater writes: at the end of the DATA_FRAME
// being built.
type deflateSink BlockWriter

func (d *deflateSink) Write(p []byte) (int, error) {
	d.buf = append(d.buf, p...)
	return len(p), nil
}

// Pending returns the number of frames waiting for Flush.
func (bw *BlockWriter) Pending() int { return int(bw.count) }

// Flush writes the pending frames as one DATA_FRAME. It does nothing when no
// frame is pending.
func (bw *BlockWriter) Flush() error {
	if bw.count == 0 {
		return nil
	}
	binary.BigEndian.PutUint32(bw.buf, bw.count)
	_, err := bw.w.Write(bw.buf)
	bw.release()
	return err
}

// take gets an empty buffer from the pool.
func (bw *BlockWriter) take() {
	bw.out = blockOutputBufs.get()
	bw.buf = *bw.out
}

// release gives the buffer and the deflater back; w has copied the bytes.
// The pooled array goes back even if buf outgrew it: buf no longer uses it.
func (bw *BlockWriter) release() {
	blockOutputBufs.put(bw.out)
	bw.out, bw.buf, bw.count = nil, nil, 0
	if bw.deflater != nil {
		deflaters.Put(bw.deflater)
		bw.deflater = nil
	}
}

// WriteKeepAlive sends a keep-alive with 0..511 random padding bytes.
func (bw *BlockWriter) WriteKeepAlive() error {
	if err := bw.Flush(); err != nil {
		return err
	}
	pad := mrand.IntN(sendKeepAlivePad + 1)
	bw.take()
	b := binary.BigEndian.AppendUint32(bw.buf, keepAliveMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(pad))
	for i := 0; i < pad; i += 8 {
		b = binary.LittleEndian.AppendUint64(b, mrand.Uint64())
	}
	_, err := bw.w.Write(b[:8+pad])
	bw.release()
	return err
}
