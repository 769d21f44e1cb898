package hub

import "testing"

// TestRingGrowsInOrder pushes and pops across the wrap point while the
// ring grows: frames come out in the order they went in, and an unused
// ring holds no buffer.
func TestRingGrowsInOrder(t *testing.T) {
	var r ring
	if r.pop() != nil || len(r.buf) != 0 {
		t.Fatal("a new ring is not empty")
	}
	frames := make([]*Frame, 1000)
	for i := range frames {
		frames[i] = &Frame{}
	}
	in, out := 0, 0
	for round := range 40 {
		for range 3 + round*2 { // the queue deepens: wraps, then grows
			r.push(frames[in%len(frames)])
			in++
		}
		for range 2 + round {
			if f := r.pop(); f != frames[out%len(frames)] {
				t.Fatalf("round %d: frame %d came out of order", round, out)
			}
			out++
		}
	}
	if r.n != in-out || len(r.buf) < r.n {
		t.Fatalf("ring holds %d frames in %d slots, want %d", r.n, len(r.buf), in-out)
	}
}
