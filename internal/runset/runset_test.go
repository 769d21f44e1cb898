package runset

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// settings is a settings struct as the configuration model has them; the
// test adds no field list anywhere, so a change to any field must restart.
type settings struct {
	Host  string
	Port  int
	Cert  []byte
	Extra *struct{ N int }
}

type thing struct {
	log     *events
	name    string
	stopped chan struct{}
}

func (t *thing) Stop() {
	t.log.add("stop " + t.name)
	close(t.stopped)
}

type events struct {
	mu sync.Mutex
	l  []string
}

func (e *events) add(s string) { e.mu.Lock(); e.l = append(e.l, s); e.mu.Unlock() }
func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.l
	e.l = nil
	slices.Sort(l)
	return l
}

func newTestSet(log *events) *Set[string, settings, *thing] {
	return New(func(k string, v settings) (*thing, error) {
		if v.Host == "" {
			return nil, fmt.Errorf("%s: no host", k)
		}
		log.add("start " + k)
		return &thing{log: log, name: k, stopped: make(chan struct{})}, nil
	})
}

func TestApplyComparesWholeValues(t *testing.T) {
	log := &events{}
	s := newTestSet(log)
	a := settings{Host: "a", Port: 1, Cert: []byte{1}, Extra: &struct{ N int }{1}}
	b := settings{Host: "b", Port: 2}
	if err := s.Apply(map[string]settings{"a": a, "b": b}); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); !slices.Equal(got, []string{"start a", "start b"}) {
		t.Fatalf("first apply: %v", got)
	}

	// The same values in fresh memory: nothing restarts.
	a2 := settings{Host: "a", Port: 1, Cert: []byte{1}, Extra: &struct{ N int }{1}}
	s.Apply(map[string]settings{"a": a2, "b": b})
	if got := log.take(); len(got) != 0 {
		t.Fatalf("equal values restarted things: %v", got)
	}

	// A change deep inside a value restarts that thing only.
	a3 := a2
	a3.Extra = &struct{ N int }{2}
	s.Apply(map[string]settings{"a": a3, "b": b})
	if got := log.take(); !slices.Equal(got, []string{"start a", "stop a"}) {
		t.Fatalf("changed Extra.N: %v", got)
	}
	a4 := a3
	a4.Cert = []byte{2}
	s.Apply(map[string]settings{"a": a4, "b": b})
	if got := log.take(); !slices.Equal(got, []string{"start a", "stop a"}) {
		t.Fatalf("changed Cert: %v", got)
	}

	// Removed things stop; nil stops everything.
	s.Apply(map[string]settings{"a": a4})
	if got := log.take(); !slices.Equal(got, []string{"stop b"}) {
		t.Fatalf("removed b: %v", got)
	}
	s.Apply(nil)
	if got := log.take(); !slices.Equal(got, []string{"stop a"}) || s.Len() != 0 {
		t.Fatalf("nil want: %v, %d running", got, s.Len())
	}
}

func TestFailedStartIsRetried(t *testing.T) {
	log := &events{}
	s := newTestSet(log)
	err := s.Apply(map[string]settings{"x": {}, "y": {Host: "y"}})
	if err == nil || s.Len() != 1 {
		t.Fatalf("want one error and y running, got %v and %d", err, s.Len())
	}
	log.take()
	if err := s.Apply(map[string]settings{"x": {Host: "x"}, "y": {Host: "y"}}); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); !slices.Equal(got, []string{"start x"}) {
		t.Fatalf("retry: %v", got)
	}
	if r, v, ok := s.Get("x"); !ok || r.name != "x" || v.Host != "x" {
		t.Fatalf("Get(x) = %v %v %v", r, v, ok)
	}
}

// slowThing takes a while to stop, as a cascade closing its connections does.
type slowThing struct{ d time.Duration }

func (t slowThing) Stop() { time.Sleep(t.d) }

func TestStopsRunInParallelOutsideTheLock(t *testing.T) {
	s := New(func(k int, v int) (slowThing, error) { return slowThing{200 * time.Millisecond}, nil })
	want := map[int]int{}
	for i := range 10 {
		want[i] = i
	}
	s.Apply(want)
	done := make(chan struct{})
	start := time.Now()
	go func() { s.Apply(nil); close(done) }()
	// While the stops wait, the set can still be read.
	time.Sleep(20 * time.Millisecond)
	readStart := time.Now()
	s.Len()
	if d := time.Since(readStart); d > 100*time.Millisecond {
		t.Errorf("reading the set waited %v for the stops", d)
	}
	<-done
	if d := time.Since(start); d > time.Second {
		t.Errorf("10 stops of 200 ms took %v: not in parallel", d)
	}
}

func TestErrorsAreJoined(t *testing.T) {
	s := newTestSet(&events{})
	err := s.Apply(map[string]settings{"p": {}, "q": {}})
	j, ok := err.(interface{ Unwrap() []error })
	if !ok || len(j.Unwrap()) != 2 || s.Len() != 0 {
		t.Fatalf("want 2 joined errors and nothing running, got %v", err)
	}
}
