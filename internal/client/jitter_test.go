package client

import (
	"testing"
	"time"
)

// Cascades retry every 10 s ±20 %, drawn anew for each attempt.
func TestRetryJitter(t *testing.T) {
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := jitter(10*time.Second, 0.2)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 8*time.Second || hi > 12*time.Second || hi-lo < 3*time.Second {
		t.Errorf("jittered 10 s retries span %v..%v, want 8..12 s", lo, hi)
	}
	if jitter(15*time.Second, 0) != 15*time.Second {
		t.Error("no jitter must keep the interval")
	}
}
