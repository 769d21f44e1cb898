package procs

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"
)

func TestPolicyGoesUpAtOnceAndDownSlowly(t *testing.T) {
	p := policy{max: 4, cur: 1}
	steps := []struct {
		load float64
		want int
	}{
		{0.2, 1}, {0.7, 1}, // light: stays at one P
		{0.9, 4},                               // busy: all Ps after one interval
		{0.6, 4}, {0.3, 4}, {0.3, 4}, {0.6, 4}, // a busy interval restarts the count
		{0.3, 4}, {0.3, 4}, {0.3, 4}, {0.3, 4}, {0.3, 1}, // five light ones in a row
	}
	for i, s := range steps {
		if got := p.next(s.load); got != s.want {
			t.Fatalf("step %d (load %.1f): %d Ps, want %d", i, s.load, got, s.want)
		}
	}
}

func TestAdaptStartsWithOnePAndRestores(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs a machine with 2 or more CPUs")
	}
	t.Setenv("GOMAXPROCS", "")
	before := runtime.GOMAXPROCS(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Adapt(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.GOMAXPROCS(0) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("Adapt did not start with one P")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS %d after Adapt ended, want %d", got, before)
	}
}
