package hub

import (
	"slices"
	"testing"
)

// queue floods n numbered frames (0, 1, ... in the payload's first byte)
// from src to the other ports.
func queue(src *Port, n int) {
	for i := range n {
		send(src, eth(bcast, mac(1), 0x88b5, []byte{byte(i)}))
	}
}

func TestDrainBatches(t *testing.T) {
	h, _ := testHub(t, nil)
	a, b := attach(t, h, "a", Policy{}), attach(t, h, "b", Policy{})
	buf := make([]*Frame, 0, 4)
	var sizes []int
	var got []byte
	take := func(limit int, stopAfter int) int {
		sizes, got = nil, nil
		return b.DrainBatches(buf, limit, func(batch []*Frame) bool {
			sizes = append(sizes, len(batch))
			for _, f := range batch {
				got = append(got, f.Bytes()[14])
			}
			return len(sizes) != stopAfter
		})
	}

	queue(a, 10)
	if n := take(0, 0); n != 10 || !slices.Equal(sizes, []int{4, 4, 2}) || !slices.Equal(got, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("all: took %d in batches %v: %v", n, sizes, got)
	}
	if slices.ContainsFunc(buf[:cap(buf)], func(f *Frame) bool { return f != nil }) {
		t.Error("buf keeps released frames")
	}

	queue(a, 10)
	if n := take(7, 0); n != 7 || !slices.Equal(sizes, []int{4, 3}) {
		t.Fatalf("limit 7: took %d in batches %v", n, sizes)
	}
	if n := take(1, 0); n != 1 || got[0] != 7 {
		t.Fatalf("after the limit: took %d, first %v; want frame 7 next", n, got)
	}
	if n := take(0, 1); n != 2 || !slices.Equal(got, []byte{8, 9}) {
		t.Fatalf("stop after one batch: took %d: %v", n, got)
	}

	queue(a, 10)
	if n := take(0, 1); n != 4 || len(drain(b)) != 6 {
		t.Fatalf("fn said stop: took %d, want 4 and 6 left queued", n)
	}
	if n := take(0, 0); n != 0 || sizes != nil {
		t.Fatalf("empty queue: took %d, fn called %d times", n, len(sizes))
	}
}

func TestDrainBatchesAllocatesNothing(t *testing.T) {
	h, _ := testHub(t, nil)
	a, b := attach(t, h, "a", Policy{}), attach(t, h, "b", Policy{})
	frames := make([][]byte, 32)
	for i := range frames {
		frames[i] = eth(bcast, mac(1), 0x88b5, []byte{byte(i)})
	}
	buf := make([]*Frame, 0, 8)
	var bytes int
	allocs := testing.AllocsPerRun(100, func() {
		a.Input(frames)
		b.DrainBatches(buf, 0, func(batch []*Frame) bool {
			for _, f := range batch {
				bytes += len(f.Bytes())
			}
			return true
		})
	})
	if allocs != 0 || bytes == 0 {
		t.Errorf("%.1f allocations per 32 frames drained (%d bytes seen)", allocs, bytes)
	}
}

func TestDrainEach(t *testing.T) {
	h, _ := testHub(t, nil)
	a, b := attach(t, h, "a", Policy{}), attach(t, h, "b", Policy{})
	var got []byte
	emit := func(f []byte) { got = append(got, f[14]) }
	queue(a, 100)
	if n := b.DrainEach(70, emit); n != 70 || len(got) != 70 || got[69] != 69 {
		t.Fatalf("limit 70 over a batch of 64: took %d", n)
	}
	got = got[:0]
	if n := b.DrainEach(0, emit); n != 30 || got[0] != 70 || got[29] != 99 {
		t.Fatalf("the rest: took %d: %v", n, got)
	}
	if n := b.DrainEach(0, emit); n != 0 {
		t.Fatalf("empty queue: took %d", n)
	}

	frames := make([][]byte, 100)
	for i := range frames {
		frames[i] = eth(bcast, mac(1), 0x88b5, []byte{byte(i)})
	}
	var bytes int
	allocs := testing.AllocsPerRun(100, func() {
		a.Input(frames)
		b.DrainEach(0, func(f []byte) { bytes += len(f) })
	})
	if allocs != 0 || bytes == 0 {
		t.Errorf("%.1f allocations per 100 frames drained", allocs)
	}
}

// BenchmarkDrain compares DrainEach with the loop the session writer ran
// before it (Drain into a stack buffer, emit, Release).
func BenchmarkDrain(b *testing.B) {
	h, _ := testHub(b, nil)
	src, dst := attach(b, h, "a", Policy{}), attach(b, h, "b", Policy{})
	frames := make([][]byte, 256)
	for i := range frames {
		frames[i] = eth(bcast, mac(1), 0x88b5, make([]byte, 64))
	}
	var bytes int
	emit := func(f []byte) { bytes += len(f) }
	run := func(b *testing.B, drain func() int) {
		b.ReportAllocs()
		for b.Loop() {
			src.Input(frames)
			if drain() != len(frames) {
				b.Fatal("not every frame drained")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/frame")
	}
	b.Run("loop", func(b *testing.B) {
		run(b, func() int {
			var buf [64]*Frame
			total := 0
			for {
				batch := dst.Drain(buf[:0], len(buf))
				if len(batch) == 0 {
					return total
				}
				for _, f := range batch {
					emit(f.Bytes())
					f.Release()
				}
				total += len(batch)
			}
		})
	})
	b.Run("DrainEach", func(b *testing.B) { run(b, func() int { return dst.DrainEach(0, emit) }) })
}
