package tap

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/offload"
	ot "github.com/ethervpn/ethervpn/internal/offload/offloadtest"
)

// pump moves frames from one port to the other as a VPN session would,
// in batches, and records the longest frame it saw.
func pump(from, to *Port, stop <-chan struct{}, longest *atomic.Int64) {
	const batch = 64
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, slotSize)
	}
	frames := make([][]byte, 0, batch)
	for {
		select {
		case <-from.Ready():
		case <-stop:
			return
		}
		for {
			frames = frames[:0]
			n := from.Output(batch, func(f []byte) {
				if int64(len(f)) > longest.Load() {
					longest.Store(int64(len(f)))
				}
				frames = append(frames, bufs[len(frames)][:copy(bufs[len(frames)], f)])
			})
			to.Input(frames)
			if n < batch {
				break
			}
		}
	}
}

// TestOffloadTCPThroughPorts runs a TCP connection between two network
// namespaces whose only link is two offload TAP devices and the pumps
// between their ports, with data both ways at once, and checks that every
// byte arrives intact, that the kernel did hand over super-frames and take
// merged writes, and that only wire-size frames crossed.
func TestOffloadTCPThroughPorts(t *testing.T) {
	var devA, devB *Device
	var ln net.Listener
	var errA, errB, errL error
	nsA := inNetns(t, func() {
		if devA, errA = Create(Config{Name: "evoffa", Offload: true}); errA == nil {
			ln, errL = net.Listen("tcp", "10.81.0.1:5001")
		}
	})
	if errA != nil {
		t.Fatal(errA)
	}
	nsB := inNetns(t, func() { devB, errB = Create(Config{Name: "evoffb", Offload: true}) })
	if errB != nil {
		t.Fatal(errB)
	}
	// The listener was created before the address: bind needs it, so
	// retry now that both exist.
	ipIn(t, nsA, "addr", "add", "10.81.0.1/24", "dev", "evoffa")
	ipIn(t, nsB, "addr", "add", "10.81.0.2/24", "dev", "evoffb")
	if errL != nil {
		enterNetns(t, nsA, func() { ln, errL = net.Listen("tcp", "10.81.0.1:5001") })
		if errL != nil {
			t.Fatal(errL)
		}
	}
	defer ln.Close()
	pa, pb := NewPort(devA, 0), NewPort(devB, 0)
	defer pa.Close()
	defer pb.Close()
	go pa.Run()
	go pb.Run()
	stop := make(chan struct{})
	defer close(stop)
	var longest atomic.Int64
	go pump(pa, pb, stop, &longest)
	go pump(pb, pa, stop, &longest)

	var conn net.Conn
	var err error
	enterNetns(t, nsB, func() { conn, err = net.DialTimeout("tcp", "10.81.0.1:5001", 5*time.Second) })
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	deadline := time.Now().Add(30 * time.Second)
	conn.SetDeadline(deadline)
	peer.SetDeadline(deadline)

	const size = 48 << 20
	sums := make(chan [2][32]byte, 2)
	var wg sync.WaitGroup
	// Each end sends size pseudo-random bytes and hashes what it receives.
	for i, c := range []net.Conn{conn, peer} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, got := sha256.New(), sha256.New()
			done := make(chan struct{})
			go func() {
				defer close(done)
				io.Copy(got, io.LimitReader(c, size))
			}()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			buf := make([]byte, 256<<10)
			for n := 0; n < size; n += len(buf) {
				for j := 0; j+8 <= len(buf); j += 8 {
					v := r.Uint64()
					for k := range 8 {
						buf[j+k] = byte(v >> (8 * k))
					}
				}
				sent.Write(buf)
				if _, err := c.Write(buf); err != nil {
					t.Errorf("writing: %v", err)
					return
				}
			}
			<-done
			var s [2][32]byte
			copy(s[0][:], sent.Sum(nil))
			copy(s[1][:], got.Sum(nil))
			sums <- s
		}()
	}
	wg.Wait()
	close(sums)
	var all [][2][32]byte
	for s := range sums {
		all = append(all, s)
	}
	if len(all) != 2 {
		t.Fatal("a transfer failed")
	}
	// What one end sent is what the other received.
	if !bytes.Equal(all[0][0][:], all[1][1][:]) || !bytes.Equal(all[1][0][:], all[0][1][:]) {
		t.Fatal("data changed on the way")
	}
	sa, sb := pa.Stats(), pb.Stats()
	t.Logf("port A %+v, port B %+v, longest frame %d", sa, sb, longest.Load())
	if sa.SuperFrames == 0 || sb.SuperFrames == 0 {
		t.Error("the kernel handed over no super-frames")
	}
	if sa.MergedWrites == 0 || sb.MergedWrites == 0 {
		t.Error("no merged writes")
	}
	if sa.WriteErrors+sb.WriteErrors != 0 {
		t.Error("the kernel refused writes")
	}
	if longest.Load() > offload.MaxWireFrame {
		t.Errorf("a frame of %d bytes crossed", longest.Load())
	}
	// Writing a batch (merged and plain) allocates nothing; the kernel
	// drops these frames, which are not for the namespace's address.
	batch := append(ot.Stream(ot.Flow{}, 1, 1, ot.RandomPayload(20000), 1448), ot.Flow{UDP: true}.Frame(0, 0, 0, make([]byte, 50)))
	before := pb.Stats().MergedWrites
	if allocs := testing.AllocsPerRun(20, func() { pb.Input(batch) }); allocs != 0 {
		t.Errorf("%v allocations per Input", allocs)
	}
	if pb.Stats().MergedWrites == before {
		t.Error("the batch was not merged")
	}
}
