package wire

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/klauspost/compress/zlib"
)

func TestWatermarkIsTheRealOne(t *testing.T) {
	sum := sha256.Sum256(Watermark)
	if got := hex.EncodeToString(sum[:]); got != "96a706bbab378ec37dfef21e02b1a3c177fbebeffa039eb0efac918630df12a0" || len(Watermark) != 1411 {
		t.Fatalf("watermark sha256 %s len %d", got, len(Watermark))
	}
}

func TestAppendMessageSortsHeadersAndAddsLength(t *testing.T) {
	m := &Message{
		Start:   [3]string{"HTTP/1.1", "200", "OK"},
		Headers: []Header{{"Keep-Alive", "x"}, {"connection", "y"}, {"Date", "z"}},
		Body:    []byte("abc"),
	}
	got := string(AppendMessage(nil, m))
	want := "HTTP/1.1 200 OK\r\nconnection: y\r\nContent-Length: 3\r\nDate: z\r\nKeep-Alive: x\r\n\r\nabc"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestReadMessageRules(t *testing.T) {
	cases := []struct {
		name, in string
		wantErr  error
	}{
		{"ok", "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", nil},
		{"lf only", "POST /x HTTP/1.1\nContent-Length: 2\n\nhi", nil},
		{"two tokens", "HTTP/1.1 200\r\n\r\n", ErrHTTPSyntax},
		{"empty header value", "POST /x HTTP/1.1\r\nHost: \r\n\r\n", ErrHTTPSyntax},
		{"no colon", "POST /x HTTP/1.1\r\nHost\r\n\r\n", ErrHTTPSyntax},
		{"bad length", "POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", ErrHTTPSyntax},
		{"too long body", "POST /x HTTP/1.1\r\nContent-Length: 99\r\n\r\n", ErrHTTPTooLong},
		{"long line", "POST /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\n\r\n", ErrHTTPTooLong},
		{"truncated body", "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhi", io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadMessage(bufio.NewReader(strings.NewReader(c.in)), 10)
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
		})
	}
}

func TestReadMessageLeavesDataPhaseBytes(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiREST"))
	if _, err := ReadMessage(r, 10); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "REST" {
		t.Fatalf("rest %q", rest)
	}
}

// serveSig runs ServeSignature on the given requests and returns its
// error and everything it wrote.
func serveSig(t *testing.T, reqs ...[]byte) (error, string) {
	t.Helper()
	var out bytes.Buffer
	err := ServeSignature(bufio.NewReader(bytes.NewReader(bytes.Join(reqs, nil))), &out, PageInfo{Host: "127.0.0.1", Port: 5555})
	return err, out.String()
}

func post(target string, body []byte) []byte {
	return AppendMessage(nil, &Message{Start: [3]string{"POST", target, "HTTP/1.1"}, Body: body})
}

func TestServeSignature(t *testing.T) {
	var sig bytes.Buffer
	if err := WriteSignature(&sig, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err, out := serveSig(t, sig.Bytes()); err != nil || out != "" {
		t.Fatalf("real signature refused: %v %q", err, out)
	}
	if err, _ := serveSig(t, post(SignatureTarget, []byte("VPNCONNECT"))); err != nil {
		t.Fatalf("alternative signature refused: %v", err)
	}
	flipped := append([]byte(nil), Watermark...)
	flipped[100] ^= 1
	err, out := serveSig(t, post(SignatureTarget, flipped))
	if !errors.Is(err, ErrNotVPN) || !strings.HasPrefix(out, "HTTP/1.1 403 Forbidden\r\n") {
		t.Fatalf("flipped watermark: %v %q", err, out)
	}
	// A wrong target gets 404 and the connection continues to a valid signature.
	if err, out := serveSig(t, post("/nope", Watermark), sig.Bytes()); err != nil || !strings.Contains(out, "404 Not Found") {
		t.Fatalf("404 then signature: %v %q", err, out)
	}
	err, out = serveSig(t, post(SignatureTarget, Watermark[:1410]))
	if !errors.Is(err, ErrNotVPN) || !strings.Contains(out, "403") {
		t.Fatalf("short body: %v %q", err, out)
	}
	err, out = serveSig(t, post(SignatureTarget, make([]byte, 4000)))
	if !errors.Is(err, ErrNotVPN) || !strings.Contains(out, "403") {
		t.Fatalf("long body: %v %q", err, out)
	}
	get := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, out := serveSig(t, get); !strings.Contains(out, "403 Forbidden") || !strings.Contains(out, "HTTP Server at 127.0.0.1 Port 5555") {
		t.Fatalf("browser GET: %q", out)
	}
	// The real client's server detection (DetectIsServerSoftEtherVPN)
	// requires the 403 body to start with exactly this text.
	const detect = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<HTML><HEAD>\r\n<TITLE>403 Forbidden</TITLE>\r\n</HEAD><BODY>\r\n<H1>Forbidden</H1>\r\nYou don't have permission to access "
	if _, out := serveSig(t, []byte("GET / HTTP/1.1\r\nX-VPN: 1\r\nHost: 10.0.0.1\r\n\r\n")); !strings.Contains(out, "\r\n\r\n"+detect) {
		t.Fatalf("403 page does not pass the real client's detection: %q", out)
	}
	if _, out := serveSig(t, []byte("PUT / HTTP/1.1\r\n\r\n")); !strings.Contains(out, "501") {
		t.Fatalf("PUT: %q", out)
	}
	if err, _ := serveSig(t, bytes.Repeat(get, 25)); !errors.Is(err, ErrNotVPN) {
		t.Fatalf("20 requests: %v", err)
	}
	if err, _ := serveSig(t, []byte("\x16\x03\x01random garbage")); !errors.Is(err, ErrNotVPN) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestPackRequestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	l := &Login{Hub: "HUB1", User: "alice", AuthType: AuthPassword, SecurePassword: make([]byte, 20), ClientStr: "x", MaxConnection: 8, UseEncrypt: true, QoS: true}
	if err := WritePackRequest(&b, "10.0.0.1", l.Pack()); err != nil {
		t.Fatal(err)
	}
	p, err := ReadPackRequest(bufio.NewReader(&b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseLogin(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hub != "HUB1" || got.User != "alice" || got.MaxConnection != 8 || !got.UseEncrypt || !got.QoS || got.HalfConnection {
		t.Fatalf("%+v", got)
	}
	if !(&Login{ClientStr: "SoftEther VPN Server Developer Edition (Cascade Mode)"}).WantsBridgeMode() {
		t.Fatal("cascade client string must imply bridge mode")
	}
}

func TestReadPackRequestRefusesWrongShapes(t *testing.T) {
	body := pack.New()
	body.AddStr("method", "login")
	enc := body.Encode(nil)
	bad := []*Message{
		{Start: [3]string{"POST", "/other", "HTTP/1.1"}, Headers: []Header{{"Content-Type", packContentType}}, Body: enc},
		{Start: [3]string{"POST", PackTarget, "HTTP/1.1"}, Headers: []Header{{"Content-Type", "text/plain"}}, Body: enc},
		{Start: [3]string{"POST", PackTarget, "HTTP/1.1"}, Headers: []Header{{"Content-Type", packContentType}}, Body: make([]byte, 70000)},
		{Start: [3]string{"POST", PackTarget, "HTTP/1.1"}, Headers: []Header{{"Content-Type", packContentType}}, Body: []byte{0, 0, 0, 9, 1}},
	}
	for i, m := range bad {
		if _, err := ReadPackRequest(bufio.NewReader(bytes.NewReader(AppendMessage(nil, m)))); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}

func TestWelcomeRoundTrip(t *testing.T) {
	w := &Welcome{SessionName: "SID-A-1", ConnectionName: "CID-1", Timeout: 20e9, MaxConnection: 2, UseEncrypt: true, QoS: true, Policy: map[string]uint32{"Access": 1}}
	w.SessionKey[3] = 7
	var b bytes.Buffer
	if err := WritePack(&b, w.Pack()); err != nil {
		t.Fatal(err)
	}
	p, err := ReadPackResponse(bufio.NewReader(&b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseWelcome(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.SessionKey != w.SessionKey || got.Timeout != w.Timeout || !got.QoS || got.Policy["Access"] != 1 || got.Policy["Ver3"] != 1 {
		t.Fatalf("%+v", got)
	}
	if _, err := ParseWelcome(ErrorPack(vpnerr.AuthFailed)); !errors.Is(err, vpnerr.AuthFailed) {
		t.Fatalf("error pack gave %v", err)
	}
}

// blocks builds a data-phase stream from parts: frames are DATA_FRAMEs of
// the given blocks, nil is a keep-alive.
func blocks(frames ...[][]byte) []byte {
	var b []byte
	for _, f := range frames {
		if f == nil {
			b = binary.BigEndian.AppendUint32(b, keepAliveMagic)
			b = binary.BigEndian.AppendUint32(b, 3)
			b = append(b, 1, 2, 3)
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		for _, blk := range f {
			b = binary.BigEndian.AppendUint32(b, uint32(len(blk)))
			b = append(b, blk...)
		}
	}
	return b
}

func frame(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }

func TestBlockReaderBatchesAndLimits(t *testing.T) {
	in := blocks([][]byte{frame(60, 1), frame(1514, 2)}, nil, [][]byte{frame(1601, 3), frame(0, 0), frame(100, 4)})
	br := NewBlockReader(bufio.NewReader(bytes.NewReader(in)), false)
	got, err := br.Next()
	if err != nil {
		t.Fatal(err)
	}
	// All bytes were buffered, so all data frames form one batch; the
	// oversized and the empty block are dropped.
	if len(got) != 3 || len(got[0]) != 60 || len(got[1]) != 1514 || len(got[2]) != 100 || got[2][0] != 4 || br.Oversized != 1 {
		t.Fatalf("batch of %d frames, oversized %d", len(got), br.Oversized)
	}
	if _, err := br.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}

	bad := binary.BigEndian.AppendUint32(nil, 1)
	bad = binary.BigEndian.AppendUint32(bad, 3201)
	if _, err := NewBlockReader(bufio.NewReader(bytes.NewReader(bad)), false).Next(); !errors.Is(err, ErrBlockProtocol) {
		t.Fatalf("block size 3201: %v", err)
	}
	ka := binary.BigEndian.AppendUint32(nil, keepAliveMagic)
	ka = binary.BigEndian.AppendUint32(ka, 513)
	if _, err := NewBlockReader(bufio.NewReader(bytes.NewReader(ka)), false).Next(); !errors.Is(err, ErrBlockProtocol) {
		t.Fatalf("keep-alive 513: %v", err)
	}
}

func TestBlockReaderKeepAliveAloneIsAnEmptyBatch(t *testing.T) {
	br := NewBlockReader(bufio.NewReader(bytes.NewReader(blocks(nil))), false)
	got, err := br.Next()
	if err != nil || len(got) != 0 {
		t.Fatalf("%d frames, %v", len(got), err)
	}
}

func TestBlockWriterReaderRoundTrip(t *testing.T) {
	for _, compress := range []bool{false, true} {
		var b bytes.Buffer
		bw := NewBlockWriter(&b, compress)
		want := [][]byte{frame(60, 9), frame(1514, 1), frame(1600, 2)}
		for _, f := range want {
			bw.Add(f)
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := bw.WriteKeepAlive(); err != nil {
			t.Fatal(err)
		}
		bw.Add(frame(99, 5))
		bw.Flush()
		if compress && !bytes.Contains(b.Bytes(), []byte{0x78, 0x01}) {
			t.Fatal("compressed blocks should be zlib streams")
		}
		br := NewBlockReader(bufio.NewReader(&b), compress)
		var got [][]byte
		for {
			fs, err := br.Next()
			for _, f := range fs {
				got = append(got, append([]byte(nil), f...))
			}
			if err != nil {
				break
			}
		}
		want = append(want, frame(99, 5))
		if len(got) != len(want) {
			t.Fatalf("compress=%v: %d frames, want %d", compress, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("compress=%v: frame %d differs", compress, i)
			}
		}
	}
}

// TestBlockReaderLongDataFrames reads DATA_FRAMEs far larger than the
// input buffer, delivered a few bytes at a time, compressed and not:
// every frame must arrive once, in order and intact, batch after batch
// (frames handed out of the input buffer must not move under the caller).
func TestBlockReaderLongDataFrames(t *testing.T) {
	for _, compress := range []bool{false, true} {
		var want [][]byte
		var stream bytes.Buffer
		bw := NewBlockWriter(&stream, compress)
		for i := range 700 {
			f := pattern(60 + i*7%1455)
			f[0] = byte(i)
			want = append(want, f)
			bw.Add(f)
			if i%300 == 299 {
				bw.Flush()
			}
		}
		bw.Flush()
		for _, step := range []int{1 << 20, 1000, 7} {
			br := NewBlockReader(bufio.NewReaderSize(&trickle{b: stream.Bytes(), step: step}, 16), compress)
			got := 0
			for got < len(want) {
				fs, err := br.Next()
				if err != nil {
					t.Fatalf("compress=%v step %d: after %d frames: %v", compress, step, got, err)
				}
				for _, f := range fs {
					if !bytes.Equal(f, want[got]) {
						t.Fatalf("compress=%v step %d: frame %d differs", compress, step, got)
					}
					got++
				}
			}
		}
	}
}

func TestCompressedOversizeFrameDropped(t *testing.T) {
	var b bytes.Buffer
	bw := NewBlockWriter(&b, true)
	bw.Add(frame(1700, 0)) // compresses well, inflates past the limit
	bw.Add(frame(64, 1))
	bw.Flush()
	br := NewBlockReader(bufio.NewReader(&b), true)
	got, _ := br.Next()
	if len(got) != 1 || len(got[0]) != 64 || br.Oversized != 1 {
		t.Fatalf("%d frames, oversized %d", len(got), br.Oversized)
	}
}

// TestCompressedBlockWithoutFrame sends compressed blocks that carry no
// frame (an empty zlib stream, bytes that do not inflate, a full-size frame
// whose checksum is wrong) between two real frames: only the real frames
// reach the caller, never an empty or damaged one.
func TestCompressedBlockWithoutFrame(t *testing.T) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Close()
	damaged := deflate(frame(ether.MaxFrameSize, 3))
	damaged[len(damaged)-1] ^= 1                // the last byte of the Adler-32
	in := binary.BigEndian.AppendUint32(nil, 5) // one DATA_FRAME of five blocks
	for _, blk := range [][]byte{deflate(frame(60, 1)), z.Bytes(), []byte("not zlib"), damaged, deflate(frame(70, 2))} {
		in = binary.BigEndian.AppendUint32(in, uint32(len(blk)))
		in = append(in, blk...)
	}
	got, err := NewBlockReader(bufio.NewReader(bytes.NewReader(in)), true).Next()
	if err != nil || len(got) != 2 || len(got[0]) != 60 || len(got[1]) != 70 {
		t.Fatalf("%d frames (%v), want the 60- and 70-byte ones", len(got), err)
	}
}

func deflate(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

func TestBlockReaderNoAllocsPerFrame(t *testing.T) {
	var f [][]byte
	for i := 0; i < 64; i++ {
		f = append(f, frame(1500, byte(i)))
	}
	in := blocks(f)
	r := bytes.NewReader(in)
	bufr := bufio.NewReaderSize(r, 256<<10)
	br := NewBlockReader(bufr, false)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(in)
		bufr.Reset(r)
		for got := 0; got < 64; {
			fs, err := br.Next()
			if err != nil {
				t.Fatal(err)
			}
			got += len(fs)
		}
	})
	if allocs > 0 && !raceEnabled {
		t.Fatalf("%.1f allocations per 64 frames", allocs)
	}
}

// TestBlockWriterNoAllocsPerFrame: a batch taken from a pooled buffer (and
// deflater) and given back allocates nothing, compressed or not.
func TestBlockWriterNoAllocsPerFrame(t *testing.T) {
	f := frame(1500, 7)
	for _, compress := range []bool{false, true} {
		bw := NewBlockWriter(io.Discard, compress)
		allocs := testing.AllocsPerRun(100, func() {
			for range 64 {
				bw.Add(f)
			}
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 0 && !raceEnabled {
			t.Fatalf("compress=%v: %.1f allocations per batch", compress, allocs)
		}
	}
}

func BenchmarkBlockWriteRead(b *testing.B) {
	var buf bytes.Buffer
	bw := NewBlockWriter(&buf, false)
	f := frame(1500, 7)
	b.SetBytes(64 * 1500)
	for i := 0; i < b.N; i++ {
		buf.Reset()
		for j := 0; j < 64; j++ {
			bw.Add(f)
		}
		bw.Flush()
		br := NewBlockReader(bufio.NewReader(&buf), false)
		br.Next()
	}
}

func FuzzReadMessage(f *testing.F) {
	f.Add([]byte("POST /vpnsvc/connect.cgi HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 4\r\n\r\n\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ReadMessage(bufio.NewReader(bytes.NewReader(in)), 4096)
		if err == nil && len(m.Body) > 4096 {
			t.Fatalf("body of %d bytes over the limit", len(m.Body))
		}
		var out bytes.Buffer
		ServeSignature(bufio.NewReader(bytes.NewReader(in)), &out, PageInfo{})
		ReadPackRequest(bufio.NewReader(bytes.NewReader(in)))
	})
}

// A farm's redirect reads back as the login's error, as the real client
// reads it; one without an IPv4 address or ticket is a protocol error.
func TestRedirectRoundTrip(t *testing.T) {
	r := &Redirect{Addr: netip.MustParseAddr("192.0.2.7"), Ports: []uint32{443, 5555}, Msg: "hi", Cert: []byte{0x30, 1}}
	r.Ticket[0], r.Ticket[19] = 7, 9
	p := r.Pack()
	if p.Str("error") != "" || p.Int("error") != 0 {
		t.Fatal("a redirect carries an error element")
	}
	_, err := ParseWelcome(p)
	var got *Redirect
	if !errors.As(err, &got) {
		t.Fatalf("ParseWelcome: %v, want the redirect", err)
	}
	if got.Addr != r.Addr || !slices.Equal(got.Ports, r.Ports) || got.Ticket != r.Ticket || got.Msg != "hi" || !bytes.Equal(got.Cert, r.Cert) {
		t.Fatalf("got %+v, want %+v", got, r)
	}
	v6 := *r
	v6.Addr = netip.MustParseAddr("2001:db8::1")
	if _, err := ParseRedirect(v6.Pack()); !errors.Is(err, vpnerr.ProtocolError) {
		t.Fatalf("an IPv6 redirect: %v, want a protocol error", err)
	}
}

// FuzzReadPackResponse feeds the client side of the preamble: the
// response reader and the parsers of what a server answers (hello,
// welcome, additional-connect answer).
func FuzzReadPackResponse(f *testing.F) {
	hello := &Hello{Product: "x", Version: 501, Build: 9674}
	redirect := &Redirect{Addr: netip.MustParseAddr("10.0.0.2"), Ports: []uint32{443, 992}, Cert: []byte{1}}
	for _, p := range []*pack.Pack{hello.Pack(), (&Welcome{SessionName: "s", ConnectionName: "c", Timeout: 20e9}).Pack(), AttachedPack(ServerToClient), ErrorPack(vpnerr.AuthFailed), redirect.Pack()} {
		var b bytes.Buffer
		WritePack(&b, p)
		f.Add(b.Bytes())
	}
	f.Add([]byte("HTTP/1.1\t200\tOK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1\r\n\r\nx"))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ReadPackResponse(bufio.NewReader(bytes.NewReader(in)))
		if err != nil {
			if p != nil {
				t.Fatalf("error %v with a pack", err)
			}
			return
		}
		ParseHello(p)
		ParseWelcome(p)
		PackError(p)
	})
}

// FuzzBlockReader compares BlockReader with referenceBlocks, a plain
// decoder written from the framing rules: the same frames, in order and
// intact when Next returns them, and a protocol error where it finds one.
// The input arrives in pieces of step bytes, so that blocks straddle reads.
func FuzzBlockReader(f *testing.F) {
	f.Add(blocks([][]byte{frame(60, 1)}, nil), false, uint8(0))
	var z bytes.Buffer
	bw := NewBlockWriter(&z, true)
	bw.Add(frame(100, 1))
	bw.Flush()
	f.Add(z.Bytes(), true, uint8(3))
	var long [][]byte
	for i := range 50 { // more than the input buffer holds
		long = append(long, frame(1500, byte(i)))
	}
	f.Add(blocks(long, nil, long[:3]), false, uint8(200))
	f.Fuzz(func(t *testing.T, in []byte, compress bool, step uint8) {
		want, wantErr := referenceBlocks(in, compress)
		var src io.Reader = bytes.NewReader(in)
		if step > 0 {
			// At most a few thousand pieces, so that each run stays quick.
			src = &trickle{b: in, step: max(int(step), len(in)/4096)}
		}
		br := NewBlockReader(bufio.NewReaderSize(src, 16), compress)
		got := 0
		for {
			fs, err := br.Next()
			for _, fr := range fs {
				if got >= len(want) || !bytes.Equal(fr, want[got]) {
					t.Fatalf("frame %d (%d bytes) differs from the reference's (%d frames)", got, len(fr), len(want))
				}
				got++
			}
			if err != nil {
				if got != len(want) {
					t.Fatalf("%d frames before %v, the reference has %d", got, err, len(want))
				}
				if errors.Is(err, ErrBlockProtocol) != errors.Is(wantErr, ErrBlockProtocol) {
					t.Fatalf("error %v, the reference's %v", err, wantErr)
				}
				return
			}
		}
	})
}

// referenceBlocks decodes a data-phase stream the simple way: the frames
// it carries up to its end or first protocol error.
func referenceBlocks(in []byte, compress bool) (frames [][]byte, err error) {
	var zr io.ReadCloser
	u32 := func() (uint32, bool) {
		if len(in) < 4 {
			return 0, false
		}
		v := binary.BigEndian.Uint32(in)
		in = in[4:]
		return v, true
	}
	for {
		n, ok := u32()
		if !ok {
			return frames, io.EOF
		}
		if n == keepAliveMagic {
			pad, ok := u32()
			if !ok {
				return frames, io.EOF
			}
			if pad > maxKeepAlivePad {
				return frames, ErrBlockProtocol
			}
			if len(in) < int(pad) {
				return frames, io.EOF
			}
			in = in[pad:]
			continue
		}
		for range n {
			size, ok := u32()
			if !ok {
				return frames, io.EOF
			}
			if size > maxBlockField {
				return frames, ErrBlockProtocol
			}
			if len(in) < int(size) {
				return frames, io.EOF
			}
			block := in[:size]
			in = in[size:]
			if compress && size > 0 {
				if zr == nil {
					if zr, err = zlib.NewReader(bytes.NewReader(emptyZlib)); err != nil {
						panic(err)
					}
				}
				if zr.(zlib.Resetter).Reset(bytes.NewReader(block), nil) != nil {
					continue
				}
				if block, err = io.ReadAll(io.LimitReader(zr, ether.MaxFrameSize+1)); err != nil {
					continue
				}
			}
			if len(block) > 0 && len(block) <= ether.MaxFrameSize {
				frames = append(frames, block)
			}
		}
	}
}

// BenchmarkBlockRead reads 64 frames (in one or more batches) with one
// reader, as a session's reader does: the steady state of the receive path.
func BenchmarkBlockRead(b *testing.B) {
	var f [][]byte
	for i := 0; i < 64; i++ {
		f = append(f, frame(1500, byte(i)))
	}
	in := blocks(f)
	r := bytes.NewReader(in)
	bufr := bufio.NewReaderSize(r, 4<<10)
	br := NewBlockReader(bufr, false)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(in)
		bufr.Reset(r)
		for got := 0; got < 64; {
			fs, err := br.Next()
			if err != nil {
				b.Fatal(err)
			}
			got += len(fs)
		}
	}
}

// BenchmarkBlockWrite builds and writes batches of 64 frames with one
// writer, as a session's writer does.
func BenchmarkBlockWrite(b *testing.B) {
	bw := NewBlockWriter(io.Discard, false)
	f := frame(1500, 7)
	b.SetBytes(64 * 1504)
	b.ReportAllocs()
	for b.Loop() {
		for range 64 {
			bw.Add(f)
		}
		bw.Flush()
	}
}
