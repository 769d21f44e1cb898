package admin

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// MaxFrameSize is the largest RPC frame either side accepts, and the
// largest request of a server administrator. The real programs allow 512
// MiB; the largest legitimate admin PACK is a configuration file
// (SetConfig), a few MiB, so ethervpn stops far sooner. Decoding a PACK
// costs up to about 6 times its size (empty DATA values).
const MaxFrameSize = 64 << 20

// MaxHubAdminFrame is the largest request of a hub administrator: a full
// access list (SoftEther's 32,768 rules) takes about 11 MiB.
const MaxHubAdminFrame = 16 << 20

// frameChunk is how much of a frame is allocated before its bytes have
// actually arrived: a peer that announces a huge frame and sends nothing
// costs no memory.
const frameChunk = 64 << 10

// FrameError is a malformed RPC frame: a bad length or a body that is not
// a PACK. The connection cannot continue after it.
type FrameError struct{ Reason string }

func (e *FrameError) Error() string { return "admin RPC: malformed frame: " + e.Reason }

// ReadFrame reads one RPC frame (SoftEther Network.c, RecvPack): a big-endian
// u32 length and a serialized PACK of that length, at most limit bytes. It
// returns io.EOF when the stream ends cleanly before a frame. The decoded
// PACK may take pack.DefaultBudget of the frame's size in memory.
func ReadFrame(r io.Reader, limit int) (*pack.Pack, error) {
	return readFrame(r, limit, nil)
}

// readFrame is ReadFrame; turn, when not nil, is called with the frame's
// length before its body is read, and the function it returns after the
// body is decoded: the server takes turns on large frames with it.
func readFrame(r io.Reader, limit int, turn func(n int) (done func(), err error)) (*pack.Pack, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, &FrameError{"stream ended inside the length prefix"}
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	switch {
	case n == 0:
		return nil, &FrameError{"zero length"}
	case uint64(n) > uint64(limit):
		return nil, &FrameError{fmt.Sprintf("length %d exceeds the limit of %d bytes", n, limit)}
	}
	if turn != nil {
		done, err := turn(int(n))
		if err != nil {
			return nil, err
		}
		defer done()
	}
	body := make([]byte, 0, min(int(n), frameChunk))
	for len(body) < int(n) {
		k := min(int(n)-len(body), max(len(body), frameChunk))
		body = slices.Grow(body, k)[:len(body)+k]
		if _, err := io.ReadFull(r, body[len(body)-k:]); err != nil {
			return nil, &FrameError{fmt.Sprintf("stream ended after %d of %d bytes", len(body)-k, n)}
		}
	}
	p, err := pack.Decode(body)
	if err != nil {
		return nil, &FrameError{err.Error()}
	}
	return p, nil
}

// Large requests take turns server-wide. A frame and its decoded PACK cost
// up to four times its size (pack.DefaultBudget), so a frame over
// frameChunk is read and decoded only while it holds one of the
// largeFrameTurns of its kind: hub administrators share hubAdminTurns, and
// a server administrator has serverAdminTurns of his own, so that hub
// administrators cannot hold him up. Small frames (nearly every call) never
// wait. A frame that waits is not read: it stays in the peer's socket and
// costs the server nothing. Holding a turn is bounded by frameReadTimeout
// when the connection has read deadlines, and the administrators of one hub
// hold at most one turn at a time, so that one of them trickling large
// frames on several connections cannot hold up the other hubs' admins.
const (
	hubAdminTurns    = 2
	serverAdminTurns = 1
	frameReadTimeout = time.Minute
)

var (
	hubAdminFrames    = make(chan struct{}, hubAdminTurns)
	serverAdminFrames = make(chan struct{}, serverAdminTurns)
	hubFrames         sync.Map // upper-cased hub name -> chan struct{} (1): a hub's one turn
)

// hubTurn is the one-place semaphore of a hub's administrators.
func hubTurn(hub string) chan struct{} {
	ch, _ := hubFrames.LoadOrStore(strings.ToUpper(hub), make(chan struct{}, 1))
	return ch.(chan struct{})
}

// largeFrameTurn returns readFrame's turn function for c on rw.
func largeFrameTurn(ctx context.Context, rw io.ReadWriter, c Caller) func(int) (func(), error) {
	sems := []chan struct{}{serverAdminFrames}
	if !c.ServerAdmin {
		sems = []chan struct{}{hubTurn(c.Hub), hubAdminFrames} // the hub's own first
	}
	dl, _ := rw.(interface{ SetReadDeadline(time.Time) error })
	release := func(held []chan struct{}) {
		for _, sem := range held {
			<-sem
		}
	}
	return func(n int) (func(), error) {
		if n <= frameChunk {
			return func() {}, nil
		}
		for i, sem := range sems {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				release(sems[:i])
				return nil, ctx.Err()
			}
		}
		if dl != nil {
			dl.SetReadDeadline(time.Now().Add(frameReadTimeout))
		}
		return func() {
			if dl != nil {
				dl.SetReadDeadline(time.Time{})
			}
			release(sems)
		}, nil
	}
}

// AppendFrame appends p as one RPC frame to dst.
func AppendFrame(dst []byte, p *pack.Pack) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = p.Encode(dst)
	binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// ErrorPack is the whole reply of a failed call: {error: code}.
func ErrorPack(code vpnerr.Error) *pack.Pack {
	p := pack.New()
	p.AddInt("error", uint32(code))
	return p
}

// ParseAdminAuth reads vpncmd's "admin" auth pack (docs/protocol/admin.md#auth-pack): the hub name ("" = server admin mode) and the 20-byte
// secure_password = SHA0(SHA0(password) || random). A pack that is not an
// admin login or has a secure_password of another size gives
// vpnerr.ProtocolError.
func ParseAdminAuth(p *pack.Pack) (hub string, securePassword []byte, err error) {
	if !strings.EqualFold(p.Str("method"), "admin") {
		return "", nil, fmt.Errorf("%w: method %q is not an admin login", vpnerr.ProtocolError, p.Str("method"))
	}
	sp := p.Data("secure_password")
	if len(sp) != 20 {
		return "", nil, fmt.Errorf("%w: secure_password of %d bytes, want 20", vpnerr.ProtocolError, len(sp))
	}
	return p.Str("hubname"), sp, nil
}

// AuthResult is the answer to the admin auth pack (docs/protocol/admin.md#auth-pack, docs/protocol/admin.md#login-answer): an empty
// PACK for success (RPC framing follows), {error: code} otherwise. The
// sender adds the "pencore" padding (wire.WritePack does).
func AuthResult(err error) *pack.Pack {
	if err != nil {
		return ErrorPack(vpnerr.Code(err))
	}
	return pack.New()
}

// AuthOK is the success answer with the empty_password flag, which the
// real server sets when the client accepts empty passwords and the
// password used is the empty one.
func AuthOK(emptyPassword bool) *pack.Pack {
	p := pack.New()
	if emptyPassword {
		p.AddInt("empty_password", 1)
	}
	return p
}

// ServeRPC runs the binary RPC loop of docs/protocol/admin.md#rpc-framing on an
// authenticated connection until the peer closes it or ctx ends: read one
// framed request, dispatch it as c, write the framed reply. r reads from
// rw (it may hold bytes already buffered). Unknown and empty method names
// are answered with vpnerr.NotSupported by the Dispatcher's choice; a panic in
// the Dispatcher is answered with vpnerr.InternalError and logged. A malformed
// frame is logged and ends the loop with a *FrameError; a clean close
// returns nil.
func ServeRPC(ctx context.Context, rw io.ReadWriter, r *bufio.Reader, c Caller, d Dispatcher, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cl, ok := rw.(io.Closer); ok {
		stop := context.AfterFunc(ctx, func() { cl.Close() })
		defer stop()
	}
	limit := MaxHubAdminFrame
	if c.ServerAdmin {
		limit = MaxFrameSize
	}
	turn := largeFrameTurn(ctx, rw, c)
	var out []byte
	for {
		req, err := readFrame(r, limit, turn)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var fe *FrameError
			if errors.As(err, &fe) {
				log.Warn("admin RPC: closing connection", "remote", c.Remote, "err", err)
				return err
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		method := req.Str("function_name")
		req.Delete("function_name")
		res := call(ctx, c, d, method, req, log)
		out = AppendFrame(out[:0], res)
		if _, err := rw.Write(out); err != nil {
			return err
		}
	}
}

// call runs one method and turns its outcome into the reply PACK.
func call(ctx context.Context, c Caller, d Dispatcher, method string, in *pack.Pack, log *slog.Logger) (res *pack.Pack) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("admin RPC: method panicked", "method", method, "panic", v, "stack", string(debug.Stack()))
			res = ErrorPack(vpnerr.InternalError)
		}
	}()
	if method == "" {
		return ErrorPack(vpnerr.NotSupported)
	}
	out, err := d.Call(ctx, c, method, in)
	if err != nil {
		return ErrorPack(vpnerr.Code(err))
	}
	if out == nil {
		out = pack.New()
	}
	out.Delete("error")
	return out
}
