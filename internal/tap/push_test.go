package tap

import (
	"encoding/binary"
	"net"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/session"
)

// The client's session hands its Push to the port.
var _ session.PushPort = (*Port)(nil)

// sendUDP makes the host in ns send n datagrams out of the device towards
// 10.80.0.2 (its neighbour entry is static, so no ARP goes first).
func sendUDP(t *testing.T, ns string, n int) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", ns, "bash", "-c",
		"for i in $(seq "+strconv.Itoa(n)+"); do echo x > /dev/udp/10.80.0.2/9; done").CombinedOutput(); err != nil {
		t.Fatalf("sending: %v: %s", err, out)
	}
}

// isTestUDP says whether f is one of sendUDP's datagrams (the host also
// sends IPv6 router solicitations and the like on a new interface).
func isTestUDP(f []byte) bool {
	return len(f) >= 38 && binary.BigEndian.Uint16(f[12:]) == 0x0800 && f[23] == 17 &&
		binary.BigEndian.Uint16(f[36:]) == 9
}

// countUDP passes to emit and counts sendUDP's datagrams into n.
func countUDP(n *atomic.Int64) func([]byte) {
	return func(f []byte) {
		if isTestUDP(f) {
			n.Add(1)
		}
	}
}

func TestReaderPushesInsteadOfWaking(t *testing.T) {
	dev, ns := tapWithPeer(t, "evtap3", "10.80.0")
	p := NewPort(dev, 64)
	var pushed, pushes atomic.Int64
	var accept atomic.Bool
	accept.Store(true)
	// As session.Push: it sends what is queued on the reader's goroutine
	// and says whether the writers may stay asleep.
	p.SetPush(func() bool {
		pushes.Add(1)
		if !accept.Load() {
			return false
		}
		p.Output(256, countUDP(&pushed))
		return true
	})
	go p.Run()
	defer p.Close()

	sendUDP(t, ns, 10)
	deadline := time.Now().Add(5 * time.Second)
	for pushed.Load() < 10 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := pushed.Load(); got != 10 {
		t.Fatalf("%d of 10 frames went out through push", got)
	}
	select {
	case <-p.Ready():
		t.Fatal("the port woke the writers although push sent everything")
	default:
	}

	// A push that cannot send leaves the frames queued and wakes the
	// writers, which then find them.
	accept.Store(false)
	before := pushes.Load()
	sendUDP(t, ns, 1)
	var queued atomic.Int64
	deadline = time.Now().Add(5 * time.Second)
	for queued.Load() == 0 {
		select {
		case <-p.Ready():
		case <-time.After(time.Until(deadline)):
			t.Fatal("a refused push did not wake the writers")
		}
		p.Output(256, countUDP(&queued))
	}
	if pushes.Load() == before {
		t.Fatal("push was not tried")
	}
	if pushed.Load() != 10 || queued.Load() != 1 {
		t.Fatalf("%d datagrams pushed, %d left for the writers; want 10 and 1", pushed.Load(), queued.Load())
	}
}

func TestWriteAllocatesNothingAndFailsAfterClose(t *testing.T) {
	var dev *Device
	var err error
	inNetns(t, func() { dev, err = Create(Config{Name: "evtap4"}) })
	if err != nil {
		t.Fatal(err)
	}
	frame := arpRequest(net.HardwareAddr{2, 0, 0, 0, 0, 9}, net.IPv4(10, 81, 0, 2), net.IPv4(10, 81, 0, 1))
	allocs := testing.AllocsPerRun(20, func() {
		if err := dev.Write(frame); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Write", allocs)
	}
	if err := dev.Write(nil); err == nil {
		t.Fatal("an empty frame was written")
	}
	dev.Close()
	if err := dev.Write(frame); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}
