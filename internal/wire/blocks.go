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

// Data-phase limits (session-protocol.md §8.3).
const (
	MaxFrameSize      = 1600       // largest Ethernet frame carried in a block, after decompression
	maxBlockField     = 3200       // a larger block size field is a protocol error
	keepAliveMagic    = 0xFFFFFFFF // in the block-count position: a keep-alive follows
	maxKeepAlivePad   = 512        // a larger keep-alive padding is a protocol error
	sendKeepAlivePad  = 511        // we send 0..511 bytes of padding
	readBatchFrames   = 256        // frames handed to the hub in one batch at most
	readArenaCapacity = readBatchFrames * MaxFrameSize
)

// ErrBlockProtocol reports data-phase input that breaks the framing rules;
// the connection that carried it must be closed.
var ErrBlockProtocol = errors.New("wire: data-phase protocol error")

// BlockReader reads the data phase of one connection and returns the
// Ethernet frames it carries in batches. The frames live in the reader's own
// arena and stay valid until the next call to Next; nothing is allocated per
// frame.
type BlockReader struct {
	r         *bufio.Reader
	compress  bool
	inflater  io.ReadCloser
	src       bytes.Reader
	arena     []byte
	frames    [][]byte
	remaining uint32 // blocks left in the current DATA_FRAME
	scratch   [maxBlockField]byte
	probe     [1]byte // reads one byte past a full frame to detect an oversized one

	// Oversized counts frames dropped because they exceeded MaxFrameSize
	// after decompression (the connection stays up, as on the real server).
	Oversized uint64
}

// NewBlockReader reads blocks from r; compress selects per-block zlib.
func NewBlockReader(r *bufio.Reader, compress bool) *BlockReader {
	return &BlockReader{
		r:        r,
		compress: compress,
		arena:    make([]byte, readArenaCapacity),
		frames:   make([][]byte, 0, readBatchFrames),
	}
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
			if len(br.frames) > 0 && br.r.Buffered() < 8 {
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
			if len(br.frames) == cap(br.frames) || used+MaxFrameSize > len(br.arena) {
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
			n, err := br.readBlock(br.arena[used:used+MaxFrameSize], int(size))
			if err != nil {
				return br.frames, err
			}
			if n < 0 {
				br.Oversized++
				continue
			}
			if n == 0 {
				// A compressed block that inflates to nothing (or not at
				// all) carries no frame: the hub never sees empty frames.
				continue
			}
			br.frames = append(br.frames, br.arena[used:used+n:used+n])
			used += n
		}
	}
}

// readBlock reads one block of size bytes and stores the frame in dst.
// It returns the frame length, or -1 if the frame was too large and dropped.
func (br *BlockReader) readBlock(dst []byte, size int) (int, error) {
	if !br.compress {
		if size > len(dst) {
			_, err := br.r.Discard(size)
			return -1, err
		}
		_, err := io.ReadFull(br.r, dst[:size])
		return size, err
	}
	in := br.scratch[:size]
	if _, err := io.ReadFull(br.r, in); err != nil {
		return 0, err
	}
	return br.inflate(dst, in), nil
}

// inflate decompresses one zlib block into dst. A block that does not
// inflate is an empty frame (dropped) and one that inflates to more than
// MaxFrameSize is dropped, as on the real server.
func (br *BlockReader) inflate(dst, in []byte) int {
	br.src.Reset(in)
	if br.inflater == nil {
		zr, err := zlib.NewReader(&br.src)
		if err != nil {
			return 0
		}
		br.inflater = zr
	} else if err := br.inflater.(zlib.Resetter).Reset(&br.src, nil); err != nil {
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
	if m, _ := br.inflater.Read(br.probe[:]); m > 0 {
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
	_, err = br.r.Discard(int(size))
	return err
}

func (br *BlockReader) u32() (uint32, error) {
	b, err := br.r.Peek(4)
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	v := binary.BigEndian.Uint32(b)
	br.r.Discard(4)
	return v, nil
}

// BlockWriter builds DATA_FRAMEs and keep-alives for one connection. Frames
// added with Add are sent together by Flush in a single Write, so one batch
// costs one TLS record train and one system call.
type BlockWriter struct {
	w        io.Writer
	buf      []byte
	count    uint32
	compress bool
	deflater *zlib.Writer
	zbuf     bytes.Buffer
}

// NewBlockWriter writes to w; compress selects per-block zlib.
func NewBlockWriter(w io.Writer, compress bool) *BlockWriter {
	bw := &BlockWriter{w: w, buf: make([]byte, 4, 64<<10), compress: compress}
	if compress {
		// Any zlib level interoperates; the fastest keeps CPU low.
		bw.deflater, _ = zlib.NewWriterLevel(&bw.zbuf, zlib.BestSpeed)
	}
	return bw
}

// Add appends one Ethernet frame to the pending DATA_FRAME.
func (bw *BlockWriter) Add(frame []byte) {
	body := frame
	if bw.compress {
		bw.zbuf.Reset()
		bw.deflater.Reset(&bw.zbuf)
		bw.deflater.Write(frame)
		bw.deflater.Close()
		body = bw.zbuf.Bytes()
	}
	bw.buf = binary.BigEndian.AppendUint32(bw.buf, uint32(len(body)))
	bw.buf = append(bw.buf, body...)
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
	binary.BigEndian.PutUint32(bw.buf[:4], bw.count)
	_, err := bw.w.Write(bw.buf)
	bw.buf = bw.buf[:4]
	bw.count = 0
	return err
}

// WriteKeepAlive sends a keep-alive with 0..511 random padding bytes.
func (bw *BlockWriter) WriteKeepAlive() error {
	if err := bw.Flush(); err != nil {
		return err
	}
	pad := mrand.IntN(sendKeepAlivePad + 1)
	b := bw.buf[:0]
	b = binary.BigEndian.AppendUint32(b, keepAliveMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(pad))
	for i := 0; i < pad; i += 8 {
		b = binary.LittleEndian.AppendUint64(b, mrand.Uint64())
	}
	b = b[:8+pad]
	_, err := bw.w.Write(b)
	bw.buf = bw.buf[:4]
	return err
}
