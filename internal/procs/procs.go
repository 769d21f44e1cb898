// Package procs sizes the Go scheduler to the process's load: one
// processor (P) while the process uses well under one CPU, every CPU it may
// use once it needs more.
//
// Why: a VPN data path hands work between goroutines (socket readers and
// writers of different sessions) thousands of times a second. With several
// Ps, a goroutine made runnable while its P is busy is picked up by another
// P, and that means waking a sleeping thread; on a virtual machine the
// wake-up and the thread's later sleep cost more than the work moved. In
// the L2 benchmark (two real vpnclients through one hub on a 2-core VM)
// one P gave 15% less server CPU per GB at the same throughput. A server
// with more load than one CPU gets all of them within a second.
//
// Setting GOMAXPROCS in the environment turns this off.
package procs

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"syscall"
	"time"
)

// Thresholds in CPU-seconds per second. Going up is quick, because a busy
// server limited to one P adds latency; going down waits for a steadily
// lighter load. One P does the same work with less CPU than several, so the
// gap between the two thresholds keeps the choice from flapping.
const (
	upAbove   = 0.75 // at one P: use every CPU after one interval above this
	downBelow = 0.5  // at several Ps: go back to one after downAfter intervals below this
	downAfter = 5
	interval  = time.Second
)

// policy decides the number of Ps from the load of each interval.
type policy struct {
	max, cur int
	light    int // consecutive light intervals at several Ps
}

// next returns the Ps for the coming interval after one in which the
// process used load CPU-seconds per second.
func (p *policy) next(load float64) int {
	if p.cur == 1 {
		if load > upAbove {
			p.cur, p.light = p.max, 0
		}
		return p.cur
	}
	if load < downBelow {
		p.light++
		if p.light >= downAfter {
			p.cur, p.light = 1, 0
		}
	} else {
		p.light = 0
	}
	return p.cur
}

// Adapt runs until ctx ends, setting GOMAXPROCS to 1 or to the runtime's
// default by load. It returns at once when GOMAXPROCS is set in the
// environment or the process may use one CPU only.
func Adapt(ctx context.Context, log *slog.Logger) {
	max := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" || max <= 1 {
		return
	}
	p := policy{max: max, cur: 1}
	runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(max)
	t := time.NewTicker(interval)
	defer t.Stop()
	lastCPU, lastAt := cpuTime(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cpu := cpuTime()
			load := (cpu - lastCPU).Seconds() / now.Sub(lastAt).Seconds()
			lastCPU, lastAt = cpu, now
			if prev := p.cur; p.next(load) != prev {
				runtime.GOMAXPROCS(p.cur)
				log.Debug("scheduler resized to the load", "procs", p.cur, "cpu_per_second", load)
			}
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
