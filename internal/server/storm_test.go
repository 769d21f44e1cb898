package server

import (
	"context"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/session"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// floodPort is a session.Port that always has another broadcast frame.
type floodPort struct {
	ready chan struct{}
	frame []byte
}

func (p *floodPort) Ready() <-chan struct{} { return p.ready }
func (p *floodPort) Input([][]byte)         {}
func (p *floodPort) Output(limit int, emit func([]byte)) int {
	for range limit {
		emit(p.frame)
	}
	select {
	case p.ready <- struct{}{}:
	default:
	}
	return limit
}

// TestStormingClientIsHeldBack: a client that floods broadcasts as fast as
// its two TCP connections take them is read no faster than the hub's storm
// pace, both connections together, from the start, so that the server
// neither decrypts a flood it drops anyway nor copies it to every session
// before the storm limiter acts.
func TestStormingClientIsHeldBack(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for 3 s")
	}
	srv, addr := testServer(t)
	o := client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw", MaxConnections: 2}
	ctx := context.Background()
	w, first, err := client.Login(ctx, &o)
	if err != nil {
		t.Fatal(err)
	}
	p := &floodPort{ready: make(chan struct{}, 1), frame: ethFrame(bcast, mac(1), 1, 1514)}
	sess := session.New(p, session.Params{Role: session.Client, Timeout: w.Timeout, MaxConnections: int(w.MaxConnection), HalfDuplex: w.HalfConnection})
	t.Cleanup(func() { sess.Close(nil) })
	add := func(c *client.Conn) {
		if err := sess.AddConn(c.Raw, func(wire.Direction) (session.Stream, error) { return c.Stream, nil }); err != nil {
			t.Fatal(err)
		}
	}
	add(first)
	second, err := client.AdditionalConnect(ctx, &o, w, first.Cert())
	if err != nil {
		t.Fatal(err)
	}
	add(second)
	if sess.NumConns() != 2 {
		t.Fatalf("%d connections, want 2", sess.NumConns())
	}
	h := srv.LookupHub("DEFAULT")
	before := h.Stats().Recv.BroadcastBytes
	p.ready <- struct{}{}
	const window = 2 * time.Second
	time.Sleep(window)
	got := h.Stats().Recv.BroadcastBytes - before
	// 10 MB/s (hub.stormPace) for the window and its 1 MB burst, half as
	// much again for a loaded machine's timing, and a batch per
	// connection. Without the hold-back the server reads gigabytes here.
	limit := uint64(1.5*10<<20*window.Seconds()) + 3<<20
	t.Logf("the server read %.1f MB of the flood in %v (limit %.1f MB)", float64(got)/1e6, window, float64(limit)/1e6)
	if got > limit {
		t.Fatalf("the server read %d bytes of a broadcast flood in %v, want at most %d: the sender is not held back", got, window, limit)
	}
	if got == 0 {
		t.Fatalf("the server read nothing of the flood in %v: held back for good", window)
	}
}
