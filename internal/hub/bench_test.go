package hub

import (
	"fmt"
	"testing"
	"time"
)

// benchHub sets up n ports whose MACs are learned, and returns them.
func benchHub(b *testing.B, n int) (*Hub, []*Port) {
	h := New("BENCH", Options{ManageOnlyPrivateIP: true})
	b.Cleanup(h.Close)
	ports := make([]*Port, n)
	for i := range ports {
		p, err := h.Attach(PortConfig{Name: fmt.Sprint("P", i), Policy: Policy{NoBroadcastLimiter: true}})
		if err != nil {
			b.Fatal(err)
		}
		ports[i] = p
		p.Input([][]byte{raw(bcast, mac(byte(i)))})
	}
	for _, p := range ports {
		drain(p)
	}
	return h, ports
}

// run pushes batches from the source ports and drains every port after each
// batch, as session writers would. It reports frames/s and ns/frame.
func run(b *testing.B, ports []*Port, batch func(src int) [][]byte, srcs []int) {
	var out []*Frame
	frames := 0
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		s := srcs[i%len(srcs)]
		fs := batch(s)
		ports[s].Input(fs)
		frames += len(fs)
		for _, p := range ports {
			out = p.Drain(out[:0], 0)
			for _, f := range out {
				f.Release()
			}
		}
	}
	el := time.Since(start)
	b.ReportMetric(float64(frames)/el.Seconds(), "frames/s")
	b.ReportMetric(float64(el.Nanoseconds())/float64(frames), "ns/frame")
	b.ReportMetric(0, "ns/op")
}

func makeBatch(n int, frame []byte) [][]byte {
	fs := make([][]byte, n)
	for i := range fs {
		fs[i] = append([]byte(nil), frame...)
	}
	return fs
}

func BenchmarkUnicastTwoPorts(b *testing.B) {
	_, ports := benchHub(b, 2)
	frame := make([]byte, 1500)
	copy(frame, ipFrame(mac(1), mac(0), "10.0.0.1", "10.0.0.2"))
	batch := makeBatch(64, frame)
	run(b, ports, func(int) [][]byte { return batch }, []int{0})
}

func BenchmarkFlood8Ports(b *testing.B) {
	_, ports := benchHub(b, 8)
	batch := makeBatch(64, raw(bcast, mac(0)))
	run(b, ports, func(int) [][]byte { return batch }, []int{0})
}

// BenchmarkUnicast64Ports: every port sends a batch to the 63 others in turn.
func BenchmarkUnicast64Ports(b *testing.B) {
	const n = 64
	_, ports := benchHub(b, n)
	batches := make([][][]byte, n)
	for s := range batches {
		for d := range 64 {
			if d == s {
				continue
			}
			f := make([]byte, 1500)
			copy(f, ipFrame(mac(byte(d)), mac(byte(s)), "10.0.0.1", "10.0.0.2"))
			batches[s] = append(batches[s], f)
		}
	}
	srcs := make([]int, n)
	for i := range srcs {
		srcs[i] = i
	}
	run(b, ports, func(s int) [][]byte { return batches[s] }, srcs)
}

// BenchmarkParallelUnicast has every goroutine switch through its own port
// pair, to show the hub scales without a global lock.
func BenchmarkParallelUnicast(b *testing.B) {
	h := New("BENCH", Options{})
	b.Cleanup(h.Close)
	var next int
	frame := make([]byte, 1500)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		h.mu.Lock()
		i := next
		next += 2
		h.mu.Unlock()
		src, _ := h.Attach(PortConfig{Name: fmt.Sprint("S", i), Policy: Policy{NoBroadcastLimiter: true}})
		dst, _ := h.Attach(PortConfig{Name: fmt.Sprint("D", i), Policy: Policy{NoBroadcastLimiter: true}})
		sm, dm := [6]byte{2, 0, 0, 0, byte(i >> 8), byte(i)}, [6]byte{2, 1, 0, 0, byte(i >> 8), byte(i)}
		dst.Input([][]byte{raw(bcast, dm)})
		f := append([]byte(nil), frame...)
		copy(f, ipFrame(dm, sm, "10.0.0.1", "10.0.0.2"))
		batch := makeBatch(64, f)
		var out []*Frame
		for pb.Next() {
			src.Input(batch)
			out = dst.Drain(out[:0], 0)
			for _, fr := range out {
				fr.Release()
			}
			src.Drain(out[:0], 0)
		}
	})
}

func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector; allocation counts are meaningless")
	}
	tests := []struct {
		name  string
		ports int
		frame []byte
	}{
		{"unicast", 2, ipFrame(mac(1), mac(0), "10.0.0.1", "10.0.0.2")},
		{"flood", 8, raw(bcast, mac(0))},
		{"ARP", 4, arpRequest(mac(0), "10.0.0.1", "10.0.0.2")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New("ALLOC", Options{ManageOnlyPrivateIP: true})
			defer h.Close()
			ports := make([]*Port, tc.ports)
			for i := range ports {
				ports[i], _ = h.Attach(PortConfig{Name: fmt.Sprint(i), Policy: Policy{NoBroadcastLimiter: true, QoS: true, MaxDownload: 1e12}})
				ports[i].Input([][]byte{raw(bcast, mac(byte(i)))})
			}
			batch := makeBatch(32, tc.frame)
			out := make([]*Frame, 0, 64)
			step := func() {
				ports[0].Input(batch)
				for _, p := range ports {
					out = p.Drain(out[:0], 0)
					for _, f := range out {
						f.Release()
					}
				}
			}
			step()
			if a := testing.AllocsPerRun(100, step); a > 0 {
				t.Fatalf("%.1f allocations per batch, want 0", a)
			}
		})
	}
}
