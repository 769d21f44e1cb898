package main

import "testing"

// TestOVLoadFrameCheck checks the generator's receive check: a frame from
// the partner with the partner's content counts as received, one with a
// changed byte as bad, anything else (floods, the server's own frames) as
// other.
func TestOVLoadFrameCheck(t *testing.T) {
	a, b := &ovClient{mac: ovMAC(0)}, &ovClient{mac: ovMAC(1)}
	a.peer, b.peer = b, a
	copy(a.template[0:6], b.mac[:])
	copy(a.template[6:12], a.mac[:])
	for j := 18; j < ovFrameLen; j++ {
		a.template[j] = byte(j)
	}
	f := a.template
	b.onFrame(f[:])
	f[1000] ^= 1
	b.onFrame(f[:])
	b.onFrame(f[:100])
	bcast := a.template
	copy(bcast[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	b.onFrame(bcast[:])
	a.onFrame(a.template[:]) // a's own frame, looped back
	if b.recv.Load() != 1 || b.bad.Load() != 2 || b.other.Load() != 1 || a.other.Load() != 1 {
		t.Fatalf("recv %d bad %d other %d/%d", b.recv.Load(), b.bad.Load(), b.other.Load(), a.other.Load())
	}
}
