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
)

// Data-phase limits (SoftEther Connection.c, ConnectionReceive and
// ConnectionSend; Cedar.h, MAX_PACKET_SIZE and MAX_KEEPALIVE_SIZE).
const (
	MaxFrameSize      = 1600       // largest Ethernet frame carried in a block, after decompression
	maxBlockField     = 3200       // a larger block size field is a protocol error
	keepAliveMagic    = 0xFFFFFFFF // in the block-count position: a keep-alive follows
	maxKeepAlivePad   = 512        // a larger keep-alive padding is a protocol error
	sendKeepAlivePad  = 511        // we send 0..511 bytes of padding
	readBatchFrames   = 256        // frames handed to the hub in one batch at most
	readArenaCapacity = readBatchFrames * MaxFrameSize

	// blockInputBuffer holds received bytes until they are cut into
	// blocks. A TLS read yields one record (16 KiB at most), so this
	// takes several; it must hold the largest block with its header.
	blockInputBuffer = 64 << 10
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
// Ethernet frames it carries in batches. The frames live in an arena that
// stays valid until the next call to Next; nothing is allocated per frame.
//
// The reader holds its buffers (received bytes, the arena, the inflater)
// only while data flows: they come from pools when bytes arrive and go
// back when everything received has been handed on, so a connection that
// waits for its peer holds none of them.
type BlockReader struct {
	r         *bufio.Reader
	compress  bool
	in        *[]byte // received bytes not yet cut into blocks are (*in)[pos:end]; nil when none
	pos, end  int
	batch     *readBatch // arena of the frames handed out; nil between batches
	frames    [][]byte
	remaining uint32 // blocks left in the current DATA_FRAME
	inflater  io.ReadCloser
	src       bytes.Reader
	probe     [idleProbe]byte
	over      [1]byte // reads one byte past a full frame to detect an oversized one

	// Oversized counts frames dropped because they exceeded MaxFrameSize
	// after decompression (the connection stays up, as on the real server).
	Oversized uint64
}

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
	used := 0
	for {
		if br.remaining == 0 {
			if len(br.frames) > 0 && br.end-br.pos < 8 {
				return br.frames, nil
			}
			n, err := br.u32()
			if err != nil {
				return br.frames, err
			}
			switch n {
			case 0:
				continue
			case keepAliveMagic:
				if err := br.skipKeepAlive(); err != nil {
					return br.frames, err
				}
				if len(br.frames) == 0 {
					return br.frames, nil
				}
				continue
			}
			br.remaining = n
		}
		for br.remaining > 0 {
			if len(br.frames) == readBatchFrames || used+MaxFrameSize > readArenaCapacity {
				return br.frames, nil
			}
			size, err := br.u32()
			if err != nil {
				return br.frames, err
			}
			br.remaining--
			if size > maxBlockField {
				return br.frames, fmt.Errorf("%w: block size %d exceeds %d", ErrBlockProtocol, size, maxBlockField)
			}
			if size == 0 {
				continue
			}
			if err := br.need(int(size)); err != nil {
				return br.frames, err
			}
			if br.batch == nil {
				br.batch = readBatches.Get().(*readBatch)
				br.frames = br.batch.frames[:0]
			}
			n := br.block(br.batch.arena[used:used+MaxFrameSize], int(size))
			if n < 0 {
				br.Oversized++
				continue
			}
			if n == 0 {
				// A compressed block that inflates to nothing (or not at
				// all) carries no frame: the hub never sees empty frames.
				continue
			}
			br.frames = append(br.frames, br.batch.arena[used:used+n:used+n])
			used += n
		}
	}
}

// need makes sure n received bytes (n <= blockInputBuffer) are buffered.
// It waits for the peer without holding any pooled buffer when nothing is
// buffered and no frame is handed out: that is how an idle connection waits.
func (br *BlockReader) need(n int) error {
	for br.end-br.pos < n {
		if br.in == nil {
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
			*br.in = (*br.in)[:cap(*br.in)]
			br.pos, br.end = 0, copy(*br.in, br.probe[:m])
			continue
		}
		buf := *br.in
		// Keep room for a whole TLS record at the end, so that a read is
		// never cut short by the buffer.
		if br.pos > 0 && (br.pos+n > len(buf) || len(buf)-br.end < len(buf)/4) {
			br.end = copy(buf, buf[br.pos:br.end])
			br.pos = 0
		}
		m, err := br.r.Read(buf[br.end:])
		br.end += m
		if m == 0 {
			if err == io.EOF && br.end > br.pos {
				err = io.ErrUnexpectedEOF
			}
			if err == nil {
				err = io.ErrNoProgress
			}
			br.releaseInput()
			return err
		}
	}
	return nil
}

// consume drops n bytes that have been dealt with; the input buffer goes
// back to its pool once all of it has.
func (br *BlockReader) consume(n int) {
	br.pos += n
	if br.pos == br.end {
		br.releaseInput()
	}
}

func (br *BlockReader) releaseInput() {
	if br.in != nil {
		blockInputBufs.put(br.in)
		br.in, br.pos, br.end = nil, 0, 0
	}
}

// release gives back the arena and the inflater; the caller makes sure no
// frame is handed out.
func (br *BlockReader) release() {
	if br.batch != nil {
		readBatches.Put(br.batch)
		br.batch, br.frames = nil, nil
	}
	if br.inflater != nil {
		inflaters.Put(br.inflater)
		br.inflater = nil
	}
}

// block takes one buffered block of size bytes and stores its frame in dst.
// It returns the frame length, or -1 if the frame was too large and dropped.
func (br *BlockReader) block(dst []byte, size int) int {
	in := (*br.in)[br.pos : br.pos+size]
	defer br.consume(size)
	if !br.compress {
		if size > len(dst) {
			return -1
		}
		return copy(dst, in)
	}
	return br.inflate(dst, in)
}

// inflate decompresses one zlib block into dst. A block that does not
// inflate is an empty frame (dropped) and one that inflates to more than
// MaxFrameSize is dropped, as on the real server.
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
	// dst is full: more output means the frame is oversized.
	if m, _ := br.inflater.Read(br.over[:]); m > 0 {
		return -1
	}
	return n
}

func (br *BlockReader) skipKeepAlive() error {
	size, err := br.u32()
	if err != nil {
		return err
	}
	if size > maxKeepAlivePad {
		return fmt.Errorf("%w: keep-alive padding %d exceeds %d", ErrBlockProtocol, size, maxKeepAlivePad)
	}
	if err := br.need(int(size)); err != nil {
		return err
	}
	br.consume(int(size))
	return nil
}

func (br *BlockReader) u32() (uint32, error) {
	if err := br.need(4); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32((*br.in)[br.pos:])
	br.consume(4)
	return v, nil
}

// BlockWriter builds DATA_FRAMEs and keep-alives for one connection. Frames
// added with Add are sent together by Flush in a single Write, so one batch
// costs one TLS record train and one system call. Its buffer (and deflater)
// are held only from the first Add to the Flush.
type BlockWriter struct {
	w        io.Writer
	buf      *[]byte // the DATA_FRAME being built; nil when no frame is pending
	count    uint32
	compress bool
	deflater *zlib.Writer
}

// NewBlockWriter writes to w; compress selects per-block zlib.
func NewBlockWriter(w io.Writer, compress bool) *BlockWriter {
	return &BlockWriter{w: w, compress: compress}
}

// appendTo is an io.Writer that appends to a pooled buffer.
type appendTo struct{ b *[]byte }

func (a appendTo) Write(p []byte) (int, error) {
	*a.b = append(*a.b, p...)
	return len(p), nil
}

// Add appends one Ethernet frame to the pending DATA_FRAME.
func (bw *BlockWriter) Add(frame []byte) {
	if bw.buf == nil {
		bw.buf = blockOutputBufs.get()
		*bw.buf = append(*bw.buf, 0, 0, 0, 0) // the block count, set by Flush
	}
	at := len(*bw.buf)
	if !bw.compress {
		*bw.buf = binary.BigEndian.AppendUint32(*bw.buf, uint32(len(frame)))
		*bw.buf = append(*bw.buf, frame...)
	} else {
		if bw.deflater == nil {
			bw.deflater = deflaters.Get().(*zlib.Writer)
		}
		*bw.buf = append(*bw.buf, 0, 0, 0, 0)
		bw.deflater.Reset(appendTo{bw.buf})
		bw.deflater.Write(frame)
		bw.deflater.Close()
		binary.BigEndian.PutUint32((*bw.buf)[at:], uint32(len(*bw.buf)-at-4))
	}
	bw.count++
}

// Pending returns the number of frames waiting for Flush.
func (bw *BlockWriter) Pending() int { return int(bw.count) }

// Flush writes the pending frames as one DATA_FRAME. It does nothing when no
// frame is pending.
func (bw *BlockWriter) Flush() error {
	if bw.count == 0 {
		return nil
	}
	binary.BigEndian.PutUint32(*bw.buf, bw.count)
	_, err := bw.w.Write(*bw.buf)
	bw.release()
	return err
}

// release gives the buffer and the deflater back; w has copied the bytes.
func (bw *BlockWriter) release() {
	blockOutputBufs.put(bw.buf)
	bw.buf, bw.count = nil, 0
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
	bw.buf = blockOutputBufs.get()
	b := binary.BigEndian.AppendUint32(*bw.buf, keepAliveMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(pad))
	for i := 0; i < pad; i += 8 {
		b = binary.LittleEndian.AppendUint64(b, mrand.Uint64())
	}
	*bw.buf = b[:8+pad]
	_, err := bw.w.Write(*bw.buf)
	bw.release()
	return err
}
