package main

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// opStats are the latencies of one kind of call over a measurement.
type opStats struct {
	lat      []time.Duration // of the calls that succeeded
	elapsed  time.Duration   // wall time of the measurement
	errs     int             // calls that failed
	firstErr error
}

// add records one call.
func (s *opStats) add(d time.Duration, err error) {
	if err != nil {
		if s.errs == 0 {
			s.firstErr = err
		}
		s.errs++
		return
	}
	s.lat = append(s.lat, d)
}

// merge adds o's calls, errors and time to s (for parallel callers, set
// elapsed afterwards to the wall time).
func (s *opStats) merge(o opStats) {
	s.lat = append(s.lat, o.lat...)
	s.elapsed += o.elapsed
	if s.errs == 0 {
		s.firstErr = o.firstErr
	}
	s.errs += o.errs
}

// rate is the successful calls per second.
func (s opStats) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(len(s.lat)) / s.elapsed.Seconds()
}

// p is the q-th percentile (0 < q <= 100) of the latencies by the
// nearest-rank method: the smallest latency that at least q % of the
// calls did not exceed. 0 without calls.
func (s opStats) p(q float64) time.Duration {
	return percentile(s.lat, q)
}

func percentile(lat []time.Duration, q float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	rank := int(math.Ceil(q / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// parallelCalls runs n loops at once for d, loop i making calls with the
// function newCall(i) gives it (which may hold the loop's own state, such
// as a random source) over and over, and returns every loop's calls
// merged, with the wall time.
func parallelCalls(n int, d time.Duration, newCall func(i int) func() error) opStats {
	var (
		mu  sync.Mutex
		all opStats
		wg  sync.WaitGroup
	)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call := newCall(i)
			var s opStats
			for time.Since(start) < d {
				t0 := time.Now()
				err := call()
				s.add(time.Since(t0), err)
			}
			mu.Lock()
			all.merge(s)
			mu.Unlock()
		}()
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	return all
}

// checkLogins fails kind's measurement when none of the VPN logins s
// counts succeeded, and logs how many failed otherwise.
func checkLogins(r *testrig.Runner, kind testrig.ServerKind, s opStats) {
	if len(s.lat) == 0 {
		r.Fatalf("%s: no VPN login succeeded: %v", kind, s.firstErr)
	}
	if s.errs > 0 {
		r.Logf("%s: %d VPN logins failed, the first: %v", kind, s.errs, s.firstErr)
	}
}
