package hub

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/ether"
)

func TestLearningAndUnicast(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", clientPolicy)
	b := attach(t, h, "B", clientPolicy)
	c := attach(t, h, "C", clientPolicy)

	// H1: A's ARP request reaches B and C once, not A.
	send(a, arpRequest(mac(1), "10.0.0.1", "10.0.0.2"))
	expectFrames(t, map[*Port]int{a: 0, b: 1, c: 1})

	// H2: B's reply to A's MAC is unicast to A only.
	reply := ipFrame(mac(1), mac(2), "10.0.0.2", "10.0.0.1")
	send(b, reply)
	got := drain(a)
	if len(got) != 1 || !bytes.Equal(got[0], reply) {
		t.Fatalf("A got %d frames, want the reply", len(got))
	}
	expectFrames(t, map[*Port]int{b: 0, c: 0})

	tbl := h.MACTable()
	if len(tbl) != 2 || tbl[0].Port != "A" || tbl[1].Port != "B" || tbl[0].MAC.String() != "02:00:00:00:00:01" {
		t.Fatalf("MAC table = %+v", tbl)
	}
}

func TestFloodBroadcastAndUnknownUnicast(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	c := attach(t, h, "C", Policy{})
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"broadcast", raw(bcast, mac(1))},
		{"multicast", raw([6]byte{0x01, 0x00, 0x5e, 0, 0, 1}, mac(1))},
		{"unknown unicast", raw(mac(99), mac(1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send(a, tc.frame)
			expectFrames(t, map[*Port]int{a: 0, b: 1, c: 1})
		})
	}
}

func TestInvalidFramesDropped(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	for _, f := range [][]byte{
		make([]byte, 13),                   // too short
		make([]byte, ether.MaxFrameSize+1), // too long
		raw(bcast, [6]byte{}),              // zero source
		raw(mac(5), bcast),                 // broadcast source
		raw(mac(5), mac(5)),                // source == destination
	} {
		send(a, f)
	}
	expectFrames(t, map[*Port]int{b: 0})
	if st := a.Stats(); st.DroppedInvalid != 5 {
		t.Fatalf("DroppedInvalid = %d, want 5", st.DroppedInvalid)
	}
}

func TestNoHairpin(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	send(a, raw(bcast, mac(1)), raw(bcast, mac(2))) // A owns 1 and 2
	drain(b)
	send(a, raw(mac(2), mac(1)))
	expectFrames(t, map[*Port]int{a: 0, b: 0})
	if a.Stats().DroppedPolicy != 1 {
		t.Fatalf("hairpin frame not counted as dropped")
	}
}

func TestMACAgeing(t *testing.T) {
	h, clk := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	c := attach(t, h, "C", Policy{})
	send(a, raw(bcast, mac(1)))
	drain(b)
	drain(c)
	clk.Advance(599 * time.Second)
	send(b, raw(mac(1), mac(2)))
	expectFrames(t, map[*Port]int{a: 1, c: 0})
	// [GO] age is checked on lookup: after 600 s of silence, A's MAC is
	// unknown and traffic to it floods.
	clk.Advance(2 * time.Second)
	send(b, raw(mac(1), mac(2)))
	expectFrames(t, map[*Port]int{a: 1, c: 1})
	if n := len(h.MACTable()); n != 1 { // only B's MAC is live
		t.Fatalf("MAC table has %d live entries, want 1", n)
	}
}

func TestMonitorPort(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	m := attach(t, h, "M", Policy{Monitor: true})
	send(a, raw(bcast, mac(1)))
	send(b, raw(mac(1), mac(2)))
	expectFrames(t, map[*Port]int{a: 1, b: 1, m: 2}) // flood once + unicast copy

	// Everything M sends is dropped and nothing is learned from it.
	send(m, raw(bcast, mac(3)), raw(mac(1), mac(3)))
	expectFrames(t, map[*Port]int{a: 0, b: 0, m: 0})
	for _, e := range h.MACTable() {
		if e.Port == "M" {
			t.Fatalf("learned a MAC from the monitor port: %+v", e)
		}
	}
	if got := m.Stats().DroppedPolicy; got != 2 {
		t.Fatalf("monitor drops = %d, want 2", got)
	}
}

func TestClientModeMACCap(t *testing.T) {
	var logs logBuffer
	h, _ := testHub(t, func(o *Options) { o.Log = logs.logger() })
	a := attach(t, h, "A", clientPolicy)
	b := attach(t, h, "B", Policy{})
	for i := byte(1); i <= 4; i++ {
		send(a, raw(bcast, mac(i)))
	}
	expectFrames(t, map[*Port]int{b: 3})
	if !logs.has("LH_BRIDGE_LIMIT", `MAC address "02-00-00-00-00-04" was made, 3 MAC addresses`, "no more than 3 MAC addresses") {
		t.Fatalf("missing LH_BRIDGE_LIMIT log:\n%s", logs.String())
	}
	// A known MAC keeps working.
	send(a, raw(bcast, mac(2)))
	expectFrames(t, map[*Port]int{b: 1})
}

func TestMaxMACAtLeastThree(t *testing.T) {
	for _, tc := range []struct {
		max, allowed int
		event        string
	}{{1, 3, "LH_MAC_LIMIT"}, {5, 5, "LH_MAC_LIMIT"}} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			var logs logBuffer
			h, _ := testHub(t, func(o *Options) { o.Log = logs.logger() })
			a := attach(t, h, "A", Policy{MaxMAC: tc.max})
			b := attach(t, h, "B", Policy{})
			for i := 1; i <= tc.allowed+1; i++ {
				send(a, raw(bcast, mac(byte(i))))
			}
			expectFrames(t, map[*Port]int{b: tc.allowed})
			if !logs.has(tc.event) {
				t.Fatalf("missing %s", tc.event)
			}
		})
	}
}

func TestPrivateIPCap(t *testing.T) {
	var logs logBuffer
	h, _ := testHub(t, func(o *Options) { o.Log = logs.logger() })
	a := attach(t, h, "A", clientPolicy)
	b := attach(t, h, "B", Policy{})
	// Public sources are not tracked, so they never count.
	send(a, ipFrame(bcast, mac(1), "8.8.8.8", "10.0.0.9"), ipFrame(bcast, mac(1), "1.1.1.1", "10.0.0.9"))
	for i := 1; i <= 5; i++ {
		send(a, ipFrame(bcast, mac(1), fmt.Sprintf("192.168.0.%d", i), "10.0.0.9"))
	}
	expectFrames(t, map[*Port]int{b: 6})
	if !logs.has("LH_ROUTING_LIMIT", "new IP address 192.168.0.5 was made, 4 IP addresses") {
		t.Fatalf("missing LH_ROUTING_LIMIT:\n%s", logs.String())
	}
	// At the cap, even public sources are refused (SoftEther counts first).
	send(a, ipFrame(bcast, mac(1), "9.9.9.9", "10.0.0.9"))
	// A known private address still works.
	send(a, ipFrame(bcast, mac(1), "192.168.0.1", "10.0.0.9"))
	expectFrames(t, map[*Port]int{b: 1})
	if n := len(h.IPTable()); n != 4 {
		t.Fatalf("IP table has %d entries, want 4", n)
	}
}

func TestMACMove(t *testing.T) {
	var logs logBuffer
	h, _ := testHub(t, func(o *Options) { o.Log = logs.logger() })
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	c := attach(t, h, "C", Policy{})
	send(a, raw(bcast, mac(1)))
	send(b, raw(bcast, mac(1))) // H9: moves to B, logged
	drain(a)
	drain(b)
	drain(c)
	send(c, raw(mac(1), mac(3)))
	expectFrames(t, map[*Port]int{a: 0, b: 1})
	if !logs.has("LH_MAC_REGIST", `Session "B": A new MAC address "02-00-00-00-00-01" has been assigned.`) {
		t.Fatalf("move not logged:\n%s", logs.String())
	}
	if a.nMAC.Load() != 0 || b.nMAC.Load() != 1 {
		t.Fatalf("MAC counts A=%d B=%d", a.nMAC.Load(), b.nMAC.Load())
	}
}

func TestCheckMAC(t *testing.T) {
	h, clk := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{CheckMAC: true})
	c := attach(t, h, "C", Policy{})
	send(a, raw(bcast, mac(1)))
	clk.Advance(12 * time.Second)
	send(b, raw(bcast, mac(1))) // within 13 s: dropped
	expectFrames(t, map[*Port]int{c: 1, a: 0})
	if e := h.MACTable()[0]; e.Port != "A" {
		t.Fatalf("entry moved to %s", e.Port)
	}
	clk.Advance(2 * time.Second) // A silent for 14 s
	send(b, raw(bcast, mac(1)))
	expectFrames(t, map[*Port]int{c: 1, a: 1})
	if e := h.MACTable()[0]; e.Port != "B" {
		t.Fatalf("entry did not move: %s", e.Port)
	}
}

func TestLocalBridgeForcesCheckMAC(t *testing.T) {
	for _, disable := range []bool{false, true} {
		h, _ := testHub(t, func(o *Options) { o.DisableCheckMACOnLocalBridge = disable })
		a := attach(t, h, "A", Policy{})
		l := attachKind(t, h, "L", KindLocalBridge, Policy{})
		send(a, raw(bcast, mac(1)))
		send(l, raw(bcast, mac(1)))
		if got, want := h.MACTable()[0].Port == "L", disable; got != want {
			t.Errorf("disable=%v: moved=%v", disable, got)
		}
	}
}

func TestCheckIP(t *testing.T) {
	var logs logBuffer
	h, clk := testHub(t, func(o *Options) { o.Log = logs.logger() })
	a := attach(t, h, "A", Policy{CheckIP: true})
	b := attach(t, h, "B", Policy{})
	send(b, ipFrame(bcast, mac(2), "10.0.0.5", "10.0.0.1"))
	clk.Advance(2 * time.Second)
	send(a, ipFrame(bcast, mac(1), "10.0.0.5", "10.0.0.1"))
	expectFrames(t, map[*Port]int{b: 0})
	if !logs.has("LH_IP_CONFLICT", `already being used by another session "B"`) {
		t.Fatalf("missing LH_IP_CONFLICT:\n%s", logs.String())
	}
	clk.Advance(14 * time.Second)
	send(a, ipFrame(bcast, mac(1), "10.0.0.5", "10.0.0.1"))
	expectFrames(t, map[*Port]int{b: 1})
	if e := h.IPTable(); len(e) != 1 || e[0].Port != "A" {
		t.Fatalf("IP table = %+v", e)
	}
}

func TestQueueOverflowDropsAndCounts(t *testing.T) {
	h, _ := testHub(t, func(o *Options) { o.QueueFrames = 8 })
	a := attach(t, h, "A", Policy{NoBroadcastLimiter: true})
	b := attach(t, h, "B", Policy{})
	batch := make([][]byte, 20)
	for i := range batch {
		batch[i] = raw(bcast, mac(1))
	}
	done := make(chan struct{})
	go func() { send(a, batch...); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Input blocked on a full queue")
	}
	if st := b.Stats(); st.DroppedQueueFull != 12 {
		t.Fatalf("DroppedQueueFull = %d, want 12", st.DroppedQueueFull)
	}
	expectFrames(t, map[*Port]int{b: 8})
	if h.Stats().DroppedQueueFull != 12 {
		t.Fatalf("hub DroppedQueueFull = %d", h.Stats().DroppedQueueFull)
	}
}

func TestHubIsolation(t *testing.T) {
	h1, _ := testHub(t, nil)
	h2, _ := testHub(t, nil)
	a := attach(t, h1, "A", Policy{})
	b := attach(t, h1, "B", Policy{})
	c := attach(t, h2, "A", Policy{}) // same name, other hub
	send(a, raw(bcast, mac(1)), raw(mac(9), mac(1)))
	expectFrames(t, map[*Port]int{b: 2, c: 0})
	if len(h2.MACTable()) != 0 {
		t.Fatal("hub 2 learned a MAC from hub 1")
	}
}

func TestOfflineAndClose(t *testing.T) {
	h, _ := testHub(t, nil)
	var reasons []error
	var mu sync.Mutex
	cb := func(err error) { mu.Lock(); reasons = append(reasons, err); mu.Unlock() }
	a, err := h.Attach(PortConfig{Name: "A", Disconnect: cb})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Attach(PortConfig{Name: "A"}); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("duplicate name: %v", err)
	}
	h.SetOnline(false)
	h.SetOnline(false) // no second callback
	if len(reasons) != 1 || !errors.Is(reasons[0], ErrOffline) {
		t.Fatalf("reasons = %v", reasons)
	}
	if _, err := h.Attach(PortConfig{Name: "B"}); !errors.Is(err, ErrOffline) {
		t.Fatalf("Attach while offline: %v", err)
	}
	a.Close()
	select {
	case <-a.Done():
	default:
		t.Fatal("Done not closed")
	}
	h.SetOnline(true)
	b, err := h.Attach(PortConfig{Name: "B", Disconnect: cb})
	if err != nil {
		t.Fatal(err)
	}
	if !h.Disconnect("b") || h.Disconnect("nobody") {
		t.Fatal("Disconnect by name")
	}
	h.Close()
	<-b.Done()
	if _, err := h.Attach(PortConfig{Name: "C"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Attach after Close: %v", err)
	}
	if len(reasons) != 2 || !errors.Is(reasons[1], ErrAdminDelete) {
		t.Fatalf("reasons = %v", reasons)
	}
}

func TestPortCloseRemovesEntriesAndFrames(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	send(a, ipFrame(bcast, mac(1), "10.0.0.1", "10.0.0.2"))
	send(b, ipFrame(bcast, mac(2), "10.0.0.2", "10.0.0.1"))
	send(b, ipFrame(mac(1), mac(2), "10.0.0.2", "10.0.0.1")) // queued on A
	a.Close()
	a.Close()
	if n := len(h.MACTable()); n != 1 {
		t.Fatalf("MAC entries after close = %d", n)
	}
	if n := len(h.IPTable()); n != 1 {
		t.Fatalf("IP entries after close = %d", n)
	}
	if got := a.Drain(nil, 0); len(got) != 0 {
		t.Fatalf("closed port still has %d frames", len(got))
	}
	if len(h.Ports()) != 1 {
		t.Fatalf("ports = %+v", h.Ports())
	}
}

func TestDeleteMACAndIP(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	send(a, ipFrame(bcast, mac(1), "10.0.0.1", "10.0.0.2"))
	drain(b)
	id := h.MACTable()[0].ID
	if !h.DeleteMAC(id) || h.DeleteMAC(id) {
		t.Fatal("DeleteMAC")
	}
	send(b, raw(mac(1), mac(2))) // unknown again: floods
	expectFrames(t, map[*Port]int{a: 1})
	if a.nMAC.Load() != 0 {
		t.Fatalf("A still counts %d MACs", a.nMAC.Load())
	}
	ipID := h.IPTable()[0].ID
	if !h.DeleteIP(ipID) || len(h.IPTable()) != 0 {
		t.Fatal("DeleteIP")
	}
}

func TestStats(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	bc := raw(bcast, mac(1))
	uc := raw(mac(1), mac(2))
	send(a, bc)
	send(b, uc)
	drain(a)
	drain(b)
	sa, sb := a.Stats(), b.Stats()
	n := uint64(len(bc))
	if sa.Send.BroadcastCount != 1 || sa.Send.BroadcastBytes != n || sa.Recv.UnicastCount != 1 {
		t.Errorf("A stats = %+v", sa)
	}
	if sb.Send.UnicastCount != 1 || sb.Recv.BroadcastCount != 1 || sb.Recv.BroadcastBytes != n {
		t.Errorf("B stats = %+v", sb)
	}
	hs := h.Stats()
	if hs.Recv.BroadcastCount != 1 || hs.Recv.UnicastCount != 1 || hs.Send.BroadcastCount != 1 || hs.Send.UnicastCount != 1 {
		t.Errorf("hub stats = %+v", hs)
	}
	if ps := h.Ports(); len(ps) != 2 || ps[0].Stats != a.Stats() || ps[0].MACs != 1 {
		t.Errorf("Ports() = %+v", ps)
	}
}

func TestConcurrentInput(t *testing.T) {
	h, _ := testHub(t, nil)
	const n = 8
	ports := make([]*Port, n)
	for i := range ports {
		ports[i] = attach(t, h, fmt.Sprint("P", i), Policy{NoBroadcastLimiter: true})
	}
	var wg sync.WaitGroup
	var got atomic.Int64
	stop := make(chan struct{})
	for i, p := range ports {
		wg.Add(2)
		go func() { // several feeders per port, as several TCP readers would be
			defer wg.Done()
			for j := range 200 {
				dst := mac(byte((i + 1 + j%(n-1)) % n))
				p.Input([][]byte{raw(dst, mac(byte(i))), raw(bcast, mac(byte(i)))})
			}
		}()
		go func() {
			defer wg.Done()
			for j := range 200 {
				p.Input([][]byte{raw(mac(byte((i+j)%n)), mac(byte(i)))})
			}
		}()
		go func() {
			var buf []*Frame
			for {
				select {
				case <-p.Ready():
					buf = p.Drain(buf[:0], 64)
					for _, f := range buf {
						f.Release()
					}
					got.Add(int64(len(buf)))
				case <-stop:
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if got.Load() == 0 {
		t.Fatal("nothing delivered")
	}
	for _, p := range ports {
		p.Close()
	}
	if len(h.MACTable()) != 0 {
		t.Fatal("entries left after closing every port")
	}
}

func TestVLANKeysAndReady(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	tag := func(f []byte, vid byte) []byte {
		return append(append(append([]byte(nil), f[:12]...), 0x81, 0x00, 0x00, vid), f[12:]...)
	}
	send(a, tag(raw(bcast, mac(1)), 10), tag(raw(bcast, mac(1)), 20))
	tbl := h.MACTable()
	if len(tbl) != 2 || tbl[0].VLAN != 10 || tbl[1].VLAN != 20 {
		t.Fatalf("MAC table = %+v", tbl)
	}
	select {
	case <-b.Ready():
	default:
		t.Fatal("Ready not signalled")
	}
	// A partial Drain leaves the rest queued and signals Ready again, so
	// another writer picks it up.
	if got := b.Drain(nil, 1); len(got) != 1 {
		t.Fatalf("Drain(1) = %d frames", len(got))
	} else {
		got[0].Release()
	}
	select {
	case <-b.Ready():
	default:
		t.Fatal("Ready not re-signalled with frames left")
	}
	expectFrames(t, map[*Port]int{b: 1})
}

// Within one batch the hub reuses the previous frame's table results
// (recent); it must decide exactly as it does frame by frame.
func TestBatchDecidesAsSingleFrames(t *testing.T) {
	t.Run("new source becomes a destination", func(t *testing.T) {
		h, _ := testHub(t, nil)
		a := attach(t, h, "A", Policy{})
		b := attach(t, h, "B", Policy{})
		// Frame 1 floods to unknown 2; frame 2 teaches that A owns 2; frame
		// 3 to 2 is then a hairpin and dropped, not flooded from memory.
		send(a, raw(mac(2), mac(1)), raw(bcast, mac(2)), raw(mac(2), mac(1)))
		expectFrames(t, map[*Port]int{a: 0, b: 2})
		if got := a.Stats().DroppedPolicy; got != 1 {
			t.Fatalf("dropped %d frames, want the hairpin one", got)
		}
	})
	t.Run("alternating destinations", func(t *testing.T) {
		h, _ := testHub(t, nil)
		a := attach(t, h, "A", Policy{})
		b := attach(t, h, "B", Policy{})
		c := attach(t, h, "C", Policy{})
		send(b, raw(bcast, mac(2)))
		send(c, raw(bcast, mac(3)))
		expectFrames(t, map[*Port]int{a: 2, b: 1, c: 1})
		var batch [][]byte
		for i := 0; i < 10; i++ {
			batch = append(batch, raw(mac(2), mac(1)), raw(mac(2), mac(1)), raw(mac(3), mac(1)))
		}
		a.Input(batch)
		expectFrames(t, map[*Port]int{a: 0, b: 20, c: 10})
	})
	t.Run("private IP cap", func(t *testing.T) {
		h, _ := testHub(t, nil)
		a := attach(t, h, "A", clientPolicy)
		b := attach(t, h, "B", Policy{})
		var batch [][]byte
		for i := 1; i <= 5; i++ {
			// Each address twice: the repeat reuses the first's result.
			f := ipFrame(bcast, mac(1), fmt.Sprintf("192.168.0.%d", i), "10.0.0.9")
			batch = append(batch, f, f)
		}
		a.Input(batch)
		expectFrames(t, map[*Port]int{b: 8})
		if n := len(h.IPTable()); n != 4 {
			t.Fatalf("IP table has %d entries, want 4", n)
		}
	})
	t.Run("MAC cap", func(t *testing.T) {
		h, _ := testHub(t, nil)
		a := attach(t, h, "A", clientPolicy)
		b := attach(t, h, "B", Policy{})
		var batch [][]byte
		for i := 1; i <= 5; i++ {
			batch = append(batch, raw(bcast, mac(byte(i))), raw(bcast, mac(byte(i))))
		}
		a.Input(batch)
		want := 2 * len(h.MACTable()) // every frame of a learned source passes
		expectFrames(t, map[*Port]int{b: want})
		if want >= 10 {
			t.Fatalf("client mode learned all 5 MACs; the cap did not apply")
		}
	})
}

// SetOptions takes effect for the next frames: here the IP table starts
// tracking public addresses once ManageOnlyPrivateIP is off.
func TestSetOptionsLive(t *testing.T) {
	h, clk := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	attach(t, h, "B", Policy{})
	send(a, ipFrame(bcast, mac(1), "8.8.8.8", "10.0.0.9"))
	if n := len(h.IPTable()); n != 0 {
		t.Fatalf("a public source was tracked with ManageOnlyPrivateIP: %d entries", n)
	}
	o := h.Options()
	o.ManageOnlyPrivateIP = false
	o.Clock = nil // SetOptions keeps the hub's own clock
	h.SetOptions(o)
	send(a, ipFrame(bcast, mac(1), "8.8.8.8", "10.0.0.9"))
	if n := len(h.IPTable()); n != 1 {
		t.Fatalf("%d IP entries after ManageOnlyPrivateIP went off, want 1", n)
	}
	if got := h.Options(); got.ManageOnlyPrivateIP || got.Clock == nil || got.Clock() != clk.Now() {
		t.Errorf("options in effect: %+v", got)
	}
}

// TestPushReplacesTheReadySignal: a port with a push function is woken by
// a call on the inputting goroutine after the switch, not through Ready,
// and Ready is still signalled when push declines.
func TestPushReplacesTheReadySignal(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "a", Policy{})
	b := attach(t, h, "b", Policy{})
	var pushed [][]byte
	accept := true
	b.SetPush(func() bool {
		if !accept {
			return false
		}
		// Push runs outside the hub's locks: draining here must work.
		pushed = append(pushed, drain(b)...)
		return true
	})
	a.Input([][]byte{raw(mac(2), mac(1))}) // flooded: b does not know mac 2
	if len(pushed) != 1 {
		t.Fatalf("push drained %d frames, want 1", len(pushed))
	}
	select {
	case <-b.Ready():
		t.Fatal("Ready signalled although push took the frames")
	default:
	}
	accept = false
	a.Input([][]byte{raw(mac(2), mac(1))})
	select {
	case <-b.Ready():
	default:
		t.Fatal("Ready not signalled when push declined")
	}
	if got := drain(b); len(got) != 1 {
		t.Fatalf("%d frames queued after a declined push, want 1", len(got))
	}
}

// TestPortListAcrossAttachAndDetach: the port list a login or logout makes
// without visiting every port still floods to every port but monitors
// (which get their copy), frees a name for reuse, and falls back to one
// flood list once the last monitor leaves.
func TestPortListAcrossAttachAndDetach(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	send(a, raw(bcast, mac(1)))
	expectFrames(t, map[*Port]int{b: 1})
	m := attach(t, h, "M", Policy{Monitor: true})
	c := attach(t, h, "C", Policy{})
	send(a, raw(bcast, mac(1)))
	expectFrames(t, map[*Port]int{b: 1, c: 1, m: 1})
	if set := h.ports.Load(); len(set.monitors) != 1 || len(set.flood) != 3 {
		t.Fatalf("with a monitor: %d monitors, %d flood ports; want 1 and 3", len(set.monitors), len(set.flood))
	}
	m.Close()
	b.Close()
	send(a, raw(bcast, mac(1)))
	expectFrames(t, map[*Port]int{c: 1})
	if set := h.ports.Load(); len(set.monitors) != 0 || len(set.flood) != 2 || &set.flood[0] != &set.all[0] {
		t.Fatalf("after the monitor left: %d monitors, %d flood ports (want 0 and 2, sharing the list)", len(set.monitors), len(set.flood))
	}
	// Names and ids are free again; the new port gets B's id back.
	b2 := attach(t, h, "B", Policy{})
	if b2.id != b.id {
		t.Errorf("the new port's id = %d, want the freed %d", b2.id, b.id)
	}
	attach(t, h, "M", Policy{})
	if _, err := h.Attach(PortConfig{Name: "C"}); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("C attached twice: %v", err)
	}
	send(a, raw(bcast, mac(1)))
	expectFrames(t, map[*Port]int{b2: 1, c: 1})
}
