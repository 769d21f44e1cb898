package admin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// testDispatcher implements a few methods the way the real server does.
var testDispatcher = DispatcherFunc(func(_ context.Context, c Caller, method string, in *pack.Pack) (*pack.Pack, error) {
	switch strings.ToLower(method) {
	case "test": // docs/protocol/admin.md#server-and-listeners
		out := pack.New()
		out.AddInt("IntValue", in.Int("IntValue"))
		out.AddInt64("Int64Value", 0)
		out.AddStr("StrValue", strconv.FormatUint(uint64(in.Int("IntValue")), 10))
		out.AddUniStr("UniStrValue", "")
		return out, nil
	case "gethubstatus":
		if !c.ServerAdmin && !strings.EqualFold(c.Hub, in.Str("HubName")) {
			return nil, vpnerr.NotEnoughRight
		}
		out := pack.New()
		out.AddStr("HubName", strings.ToUpper(in.Str("HubName")))
		out.AddBool("Online", true)
		return out, nil
	case "enumhub":
		out := pack.New()
		out.AddStrs("HubName", []string{"DEFAULT", "HUB1"})
		out.AddInts("Online", []uint32{1, 0})
		return out, nil
	case "whoami":
		out := pack.New()
		out.AddBool("ServerAdmin", c.ServerAdmin)
		out.AddStr("Hub", c.Hub)
		out.AddStr("Via", c.Via)
		return out, nil
	case "panic":
		panic("handler bug")
	case "fail":
		return nil, errors.New("disk full")
	}
	return nil, vpnerr.NotSupported
})

// The request of docs/protocol/admin.md#pack-values, byte for byte, inside its frame.
func TestFrameSpecExample(t *testing.T) {
	p := pack.New()
	p.AddStr("function_name", "Test")
	p.AddInt("IntValue", 42)
	want, _ := hex.DecodeString("0000003d" + "00000002" +
		"0000000e" + hex.EncodeToString([]byte("function_name")) + "00000002" + "00000001" + "00000004" + hex.EncodeToString([]byte("Test")) +
		"00000009" + hex.EncodeToString([]byte("IntValue")) + "00000000" + "00000001" + "0000002a")
	got := AppendFrame(nil, p)
	if !bytes.Equal(got, want) {
		t.Fatalf("frame\n got %x\nwant %x", got, want)
	}
	back, err := ReadFrame(bytes.NewReader(got), MaxFrameSize)
	if err != nil || back.Str("function_name") != "Test" || back.Int("IntValue") != 42 {
		t.Fatalf("ReadFrame: %v %+v", err, back)
	}
}

func TestReadFrameErrors(t *testing.T) {
	for name, in := range map[string][]byte{
		"zero length":  {0, 0, 0, 0},
		"too long":     {0x10, 0, 0, 0},
		"short body":   {0, 0, 0, 10, 1, 2},
		"short prefix": {0, 0},
		"not a PACK":   {0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff},
	} {
		_, err := ReadFrame(bytes.NewReader(in), MaxFrameSize)
		var fe *FrameError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a FrameError", name, err)
		}
	}
	if _, err := ReadFrame(bytes.NewReader(nil), MaxFrameSize); err != io.EOF {
		t.Errorf("clean end: %v, want io.EOF", err)
	}
}

// A frame that announces the maximum size but carries 10 bytes must not
// cost the announced memory.
func TestReadFrameBoundedAllocation(t *testing.T) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], MaxFrameSize)
	in := append(hdr[:], make([]byte, 10)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		ReadFrame(bytes.NewReader(in), MaxFrameSize)
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 4<<20 {
		t.Errorf("10 truncated frames allocated %d bytes", d)
	}
}

// rpcCall sends one request through ServeRPC and returns the reply.
func rpcCall(t *testing.T, w io.Writer, r *bufio.Reader, p *pack.Pack) *pack.Pack {
	t.Helper()
	if _, err := w.Write(AppendFrame(nil, p)); err != nil {
		t.Fatal(err)
	}
	res, err := ReadFrame(r, MaxFrameSize)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestServeRPC(t *testing.T) {
	srv, cli := net.Pipe()
	done := make(chan error, 1)
	c := Caller{ServerAdmin: true, Via: "rpc"}
	go func() { done <- ServeRPC(context.Background(), srv, bufio.NewReader(srv), c, testDispatcher, nil) }()
	cr := bufio.NewReader(cli)

	req := pack.New()
	req.AddStr("function_name", "Test")
	req.AddInt("IntValue", 42)
	res := rpcCall(t, cli, cr, req)
	if res.Str("StrValue") != "42" || res.Has("error") || res.Has("function_name") {
		t.Errorf("Test: %+v", res.Elements())
	}
	for method, code := range map[string]vpnerr.Error{"NoSuchMethod": vpnerr.NotSupported, "": vpnerr.NotSupported, "panic": vpnerr.InternalError, "fail": vpnerr.InternalError} {
		req := pack.New()
		if method != "" {
			req.AddStr("function_name", method)
		}
		if res := rpcCall(t, cli, cr, req); res.Int("error") != uint32(code) || res.Len() != 1 {
			t.Errorf("%q: %+v, want only error %d", method, res.Elements(), code)
		}
	}
	// Method names are case-insensitive for the dispatcher, and it still works after errors.
	req = pack.New()
	req.AddStr("function_name", "gethubstatus")
	req.AddStr("hubname", "test")
	if res := rpcCall(t, cli, cr, req); res.Str("HubName") != "TEST" {
		t.Errorf("gethubstatus: %+v", res.Elements())
	}
	cli.Close()
	if err := <-done; err != nil {
		t.Errorf("clean close: %v", err)
	}
}

func TestServeRPCMalformedFrame(t *testing.T) {
	srv, cli := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- ServeRPC(context.Background(), srv, bufio.NewReader(srv), Caller{}, testDispatcher, nil)
	}()
	go cli.Write([]byte{0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff})
	var fe *FrameError
	if err := <-done; !errors.As(err, &fe) {
		t.Errorf("ServeRPC = %v, want a FrameError", err)
	}
}

// A hub administrator's requests are capped at MaxHubAdminFrame, a server
// administrator's at MaxFrameSize: the frame is refused from its length.
func TestServeRPCFrameLimitByRole(t *testing.T) {
	for _, c := range []struct {
		caller Caller
		size   uint32
		ok     bool
	}{
		{Caller{Hub: "HUB1"}, MaxHubAdminFrame + 1, false},
		{Caller{ServerAdmin: true}, MaxHubAdminFrame + 1, true},
		{Caller{ServerAdmin: true}, MaxFrameSize + 1, false},
	} {
		srv, cli := net.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- ServeRPC(context.Background(), srv, bufio.NewReader(srv), c.caller, testDispatcher, nil)
		}()
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], c.size)
		go cli.Write(hdr[:])
		select {
		case err := <-done:
			var fe *FrameError
			if c.ok || !errors.As(err, &fe) {
				t.Errorf("%+v, frame of %d bytes: %v", c.caller, c.size, err)
			}
		case <-time.After(time.Second):
			if !c.ok {
				t.Errorf("%+v, frame of %d bytes: not refused from its length", c.caller, c.size)
			}
		}
		cli.Close()
	}
}

func TestServeRPCStopsWithContext(t *testing.T) {
	srv, cli := net.Pipe()
	defer cli.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeRPC(ctx, srv, bufio.NewReader(srv), Caller{}, testDispatcher, nil) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ServeRPC = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeRPC ignored the cancelled context")
	}
}

func TestParseAdminAuth(t *testing.T) {
	p := pack.New()
	p.AddStr("method", "Admin")
	p.AddStr("hubname", "HUB1")
	p.AddData("secure_password", make([]byte, 20))
	hub, sp, err := ParseAdminAuth(p)
	if err != nil || hub != "HUB1" || len(sp) != 20 {
		t.Fatalf("ParseAdminAuth = %q %x %v", hub, sp, err)
	}
	p.Delete("hubname")
	if hub, _, _ := ParseAdminAuth(p); hub != "" {
		t.Errorf("no hubname: hub %q", hub)
	}
	p.AddData("secure_password", make([]byte, 19))
	if _, _, err := ParseAdminAuth(p); vpnerr.Code(err) != vpnerr.ProtocolError {
		t.Errorf("short secure_password: %v", err)
	}
	p.AddStr("method", "login")
	if _, _, err := ParseAdminAuth(p); vpnerr.Code(err) != vpnerr.ProtocolError {
		t.Errorf("method login: %v", err)
	}
	if r := AuthResult(vpnerr.AccessDenied); r.Int("error") != 12 {
		t.Errorf("AuthResult(12) = %+v", r.Elements())
	}
	if r := AuthResult(nil); r.Len() != 0 {
		t.Errorf("AuthResult(nil) = %+v", r.Elements())
	}
	if r := AuthOK(true); r.Int("empty_password") != 1 {
		t.Errorf("AuthOK(true) = %+v", r.Elements())
	}
}

// testServer is a loopback TLS server that runs the server side of docs/protocol/admin.md#admin-login the
// way the server package does (signature, hello, admin auth, ServeRPC), so
// that Dial is tested against the whole exchange.
type testServer struct {
	addr      string
	passwords map[string]string // hub ("" = server) -> password
	wg        sync.WaitGroup
	// rpc, when set, replaces ServeRPC after the login.
	rpc func(c net.Conn, br *bufio.Reader)
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func startTestServer(t *testing.T, passwords map[string]string) *testServer {
	return startServerWith(t, &testServer{passwords: passwords})
}

// startServerWith starts s (passwords and rpc set) on a loopback port.
func startServerWith(t *testing.T, s *testServer) *testServer {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}})
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); defer c.Close(); s.serve(c) }()
		}
	}()
	return s
}

func (s *testServer) serve(c net.Conn) {
	br := bufio.NewReader(c)
	if wire.ServeSignature(br, c, wire.PageInfo{Host: "127.0.0.1"}) != nil {
		return
	}
	var random [20]byte
	rand.Read(random[:])
	wire.WritePack(c, (&wire.Hello{Product: "test", Version: 501, Build: 9674, Random: random}).Pack())
	req, err := wire.ReadPackRequest(br)
	if err != nil {
		return
	}
	hub, sp, err := ParseAdminAuth(req)
	if err == nil {
		pw, ok := s.passwords[strings.ToUpper(hub)]
		want := sha0.SecurePassword(sha0.AdminHash(pw), random)
		switch {
		case !ok:
			err = vpnerr.HubNotFound
		case !bytes.Equal(sp, want[:]):
			err = vpnerr.AccessDenied
		}
	}
	if err != nil {
		wire.WritePack(c, AuthResult(err))
		return
	}
	wire.WritePack(c, AuthOK(s.passwords[strings.ToUpper(hub)] == ""))
	if s.rpc != nil {
		s.rpc(c, br)
		return
	}
	ServeRPC(context.Background(), c, br, Caller{ServerAdmin: hub == "", Hub: hub, Remote: netip.MustParseAddr("127.0.0.1"), Via: "rpc"}, testDispatcher, nil)
}

func TestDialAndCall(t *testing.T) {
	s := startTestServer(t, map[string]string{"": "adminpw", "HUB1": "hubpass", "OPEN": ""})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := Dial(ctx, s.addr, "", "adminpw")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if c.ServerBuild != 9674 || c.EmptyPassword {
		t.Errorf("hello/auth info: %+v", c)
	}
	in := pack.New()
	in.AddInt("IntValue", 7)
	res, err := c.Call(ctx, "Test", in)
	if err != nil || res.Str("StrValue") != "7" {
		t.Fatalf("Test: %v %+v", err, res)
	}
	if in.Has("function_name") {
		t.Error("Call modified its argument")
	}
	if res, err := c.Call(ctx, "WhoAmI", nil); err != nil || !res.Bool("ServerAdmin") || res.Str("Via") != "rpc" {
		t.Errorf("WhoAmI: %v %+v", err, res)
	}
	if _, err := c.Call(ctx, "NoSuch", nil); err != vpnerr.NotSupported {
		t.Errorf("NoSuch: %v, want vpnerr.NotSupported", err)
	}

	h, err := Dial(ctx, s.addr, "hub1", "hubpass")
	if err != nil {
		t.Fatalf("hub admin Dial: %v", err)
	}
	defer h.Close()
	in = pack.New()
	in.AddStr("HubName", "other")
	if _, err := h.Call(ctx, "GetHubStatus", in); err != vpnerr.NotEnoughRight {
		t.Errorf("hub admin on another hub: %v", err)
	}

	if o, err := Dial(ctx, s.addr, "OPEN", ""); err != nil || !o.EmptyPassword {
		t.Errorf("empty password: %v", err)
	} else {
		o.Close()
	}
	if _, err := Dial(ctx, s.addr, "", "wrong"); err != vpnerr.AccessDenied {
		t.Errorf("wrong password: %v, want vpnerr.AccessDenied", err)
	}
	if _, err := Dial(ctx, s.addr, "NOHUB", "x"); err != vpnerr.HubNotFound {
		t.Errorf("unknown hub: %v, want vpnerr.HubNotFound", err)
	}
}

func TestCallOnBrokenConnection(t *testing.T) {
	s := startTestServer(t, map[string]string{"": ""})
	ctx := context.Background()
	c, err := Dial(ctx, s.addr, "", "")
	if err != nil {
		t.Fatal(err)
	}
	c.conn.Close()
	if _, err := c.Call(ctx, "Test", nil); !errors.Is(err, vpnerr.Disconnected) {
		t.Errorf("Call after close: %v, want vpnerr.Disconnected", err)
	}
}

func FuzzRPCFrame(f *testing.F) {
	p := pack.New()
	p.AddStr("function_name", "Test")
	p.AddInt("IntValue", 42)
	f.Add(AppendFrame(nil, p))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Add([]byte{0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			p, err := ReadFrame(r, 1<<20)
			if err != nil {
				var fe *FrameError
				if err != io.EOF && !errors.As(err, &fe) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if _, err := ReadFrame(bytes.NewReader(AppendFrame(nil, p)), 1<<20); err != nil {
				t.Fatalf("re-encoded frame rejected: %v", err)
			}
		}
	})
}

// Hostile and large frames sent by hub administrators on many connections
// at once cost the server a bounded heap: a decoded PACK is bounded by
// pack.DefaultBudget and large frames take turns. Before, each frame of
// empty values took about seven times its size, all at once. The figures
// are logged (go test -v -run TestServeRPCPeakHeap).
func TestServeRPCPeakHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates some hundred MB")
	}
	const size, limit = 4 << 20, 96 << 20
	// A frame of empty DATA values (refused by the decoder's budget) and a
	// frame of one large DATA value (served).
	empties := binary.BigEndian.AppendUint32(nil, 4)
	for i := range 4 {
		empties = binary.BigEndian.AppendUint32(empties, 3)
		empties = append(empties, 'e', byte('0'+i))
		empties = binary.BigEndian.AppendUint32(empties, uint32(pack.TypeData))
		empties = binary.BigEndian.AppendUint32(empties, pack.MaxValues)
		empties = append(empties, make([]byte, 4*pack.MaxValues)...)
	}
	blob := pack.New()
	blob.AddData("b", make([]byte, size))
	frames := map[string][]byte{
		"empty values": binary.BigEndian.AppendUint32(nil, uint32(len(empties))),
		"large value":  AppendFrame(nil, blob),
	}
	frames["empty values"] = append(frames["empty values"], empties...)
	conns := 16
	if raceEnabled {
		conns = 4
	}
	nop := DispatcherFunc(func(context.Context, Caller, string, *pack.Pack) (*pack.Pack, error) { return nil, nil })
	for name, frame := range frames {
		var wg sync.WaitGroup
		peak := peakHeap(func() {
			for range conns {
				srv, cli := net.Pipe()
				wg.Go(func() {
					ServeRPC(context.Background(), srv, bufio.NewReader(srv), Caller{Hub: "HUB1"}, nop, nil)
					srv.Close()
				})
				wg.Go(func() {
					defer cli.Close()
					if _, err := cli.Write(frame); err == nil {
						ReadFrame(cli, MaxFrameSize)
					}
				})
			}
			wg.Wait()
		})
		t.Logf("%d frames of %.1f MiB (%s) at once: peak heap +%.1f MiB", conns, float64(len(frame))/(1<<20), name, float64(peak)/(1<<20))
		if peak > limit {
			t.Errorf("%s: %d frames of %d bytes at once took the heap up by %d MiB, over %d MiB", name, conns, len(frame), peak>>20, limit>>20)
		}
	}
}

// The admin client refuses a reply frame over MaxFrameSize from its
// length, before reading it: a rogue server cannot make "ethervpn cmd"
// read and decode half a gigabyte (the real vpncmd's limit).
func TestCallRefusesOversizedReply(t *testing.T) {
	s := &testServer{passwords: map[string]string{"": "adminpw"}}
	s.rpc = func(c net.Conn, br *bufio.Reader) {
		if _, err := ReadFrame(br, MaxFrameSize); err != nil {
			return
		}
		c.Write([]byte{0x10, 0, 0, 0}) // 256 MiB announced
		c.Write(make([]byte, 1<<20))
		time.Sleep(2 * time.Second)
	}
	started := startServerWith(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, started.addr, "", "adminpw")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Call(ctx, "Test", nil)
	if !errors.Is(err, vpnerr.Disconnected) || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Errorf("256 MiB reply: %v, want a Disconnected error naming the limit", err)
	}
}

// TestLargeFrameTurnsPerHub: the administrators of one hub hold at most
// one large-frame turn at a time, so that one of them trickling large
// frames on two connections cannot take both hub-admin turns from the
// other hubs' administrators (red team pass 2).
func TestLargeFrameTurnsPerHub(t *testing.T) {
	ctx := context.Background()
	var rw bytes.Buffer
	take := func(hub string) (func(), error) {
		return largeFrameTurn(ctx, &rw, Caller{Hub: hub})(frameChunk + 1)
	}
	a1, err := take("A")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		done, err := take("a") // the same hub, in other case
		if err == nil {
			got <- done
		}
	}()
	select {
	case done := <-got:
		done()
		a1()
		t.Fatal("a second connection of hub A took a turn while the first held one")
	case <-time.After(100 * time.Millisecond):
	}
	b, err := take("B") // another hub still gets the second turn at once
	if err != nil {
		t.Fatal(err)
	}
	b()
	a1()
	select {
	case done := <-got:
		done()
	case <-time.After(5 * time.Second):
		t.Fatal("hub A's second connection never got its turn")
	}
}
