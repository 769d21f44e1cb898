// Package runset runs what a configuration describes: listeners, cascades,
// local bridges, layer-3 switches, SecureNAT. A Set is told the wanted
// things as a map from a key to a plain value (the thing's settings); it
// compares the wanted with the running by whole value (reflect.DeepEqual,
// so a new field in a settings struct is part of the comparison without
// anyone listing it), stops what is no longer wanted or changed, and then
// starts what is missing.
//
// Stopping waits for the thing to end, which can take a while (a cascade
// closing its connections); it is done outside every lock but the set's own
// apply lock, which is taken by Apply only and never while the caller holds
// a lock that a running thing needs. Lock order: Set.apply, then Set.mu;
// Set.mu is held only to read or change the running map, never while
// starting or stopping. Sync's callback runs under Set.apply and may take
// the caller's locks.
package runset

import (
	"errors"
	"reflect"
	"sync"
)

// Stopper is a running thing: Stop ends it and returns once it has ended.
type Stopper interface{ Stop() }

// Set keeps the running things of one kind in line with the wanted ones.
// K names a thing (a comparable key: put identities such as a hub pointer
// in the key, not in the value, so that they compare by identity); V is
// its settings, compared by value; R is what runs. The zero Set is not
// usable: make one with New.
type Set[K comparable, V any, R Stopper] struct {
	start func(K, V) (R, error)

	apply   sync.Mutex // serialises Apply; held while waiting for stops
	mu      sync.Mutex // guards running
	running map[K]entry[V, R]
}

type entry[V any, R Stopper] struct {
	v V
	r R
}

// New returns an empty set whose things are started by start. start must
// not block for long (run the thing in a goroutine) and must not call back
// into the set. A start that fails leaves the thing not running, and the
// next Apply tries again.
func New[K comparable, V any, R Stopper](start func(K, V) (R, error)) *Set[K, V, R] {
	return &Set[K, V, R]{start: start, running: map[K]entry[V, R]{}}
}

// Apply brings what runs in line with want: things not in want, or in want
// with other settings, are stopped (in parallel, waited for), then the
// things of want that do not run are started. A nil want stops everything.
// The errors of the starts that failed are returned joined; the others run.
func (s *Set[K, V, R]) Apply(want map[K]V) error {
	return s.Sync(func() map[K]V { return want })
}

// Sync is Apply with the wanted things read by want, which Sync calls with
// the set's apply lock held: concurrent calls then each apply the list as
// it is when their turn comes, and a slow caller can never put back a list
// that another has already replaced. want may take the caller's locks (the
// lock order is Set.apply, then those), as long as nothing holding them
// calls the set.
func (s *Set[K, V, R]) Sync(wanted func() map[K]V) error {
	s.apply.Lock()
	defer s.apply.Unlock()
	want := wanted()

	s.mu.Lock()
	var stop []R
	for k, e := range s.running {
		if v, ok := want[k]; !ok || !reflect.DeepEqual(v, e.v) {
			stop = append(stop, e.r)
			delete(s.running, k)
		}
	}
	var missing []K
	for k := range want {
		if _, ok := s.running[k]; !ok {
			missing = append(missing, k)
		}
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	for _, r := range stop {
		wg.Go(r.Stop)
	}
	wg.Wait()

	var errs []error
	for _, k := range missing {
		v := want[k]
		r, err := s.start(k, v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.mu.Lock()
		s.running[k] = entry[V, R]{v: v, r: r}
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Get returns the running thing named k and the settings it runs with.
func (s *Set[K, V, R]) Get(k K) (r R, v V, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.running[k]
	return e.r, e.v, ok
}

// Len is the number of running things.
func (s *Set[K, V, R]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running)
}

// Each calls f for every running thing, in no particular order, with the
// set's lock held: f must be quick and must not call the set.
func (s *Set[K, V, R]) Each(f func(k K, v V, r R)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.running {
		f(k, e.v, e.r)
	}
}
