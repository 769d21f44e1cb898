package testrig

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// TB is the part of testing.TB the rig needs. *testing.T and *testing.B
// satisfy it; Runner implements it for commands.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Runner is a TB for commands such as the benchmark. Work runs inside Run;
// Cleanup functions run in reverse order when Run returns, on Close, and on
// SIGINT/SIGTERM, so namespaces and processes never outlive the command.
type Runner struct {
	out      io.Writer
	mu       sync.Mutex
	cleanups []func()
	stop     chan struct{}
	stopOnce sync.Once
}

// NewRunner returns a Runner that logs to out and cleans up on signals.
func NewRunner(out io.Writer) *Runner {
	r := &Runner{out: out, stop: make(chan struct{})}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-sig:
			fmt.Fprintf(r.out, "testrig: %v, cleaning up\n", s)
			r.Close()
			os.Exit(130)
		case <-r.stop:
			signal.Stop(sig)
		}
	}()
	return r
}

// Helper does nothing; it exists to satisfy TB.
func (r *Runner) Helper() {}

// Logf writes one log line.
func (r *Runner) Logf(format string, args ...any) {
	fmt.Fprintf(r.out, format+"\n", args...)
}

// fatal carries a Fatalf message from the failing call up to Run.
type fatal struct{ msg string }

// Fatalf ends the function passed to Run with an error. Like
// testing.T.FailNow, it must be called from that function's goroutine.
func (r *Runner) Fatalf(format string, args ...any) {
	panic(fatal{fmt.Sprintf(format, args...)})
}

// Run calls f, then runs the cleanups registered so far. It returns the
// Fatalf message as an error if f ended that way.
func (r *Runner) Run(f func()) error {
	defer r.cleanup()
	return r.Try(f)
}

// Try calls f and returns the Fatalf message as an error if f ended that
// way. Unlike Run it keeps what f set up (its cleanups run at Close), so
// that a benchmark can come back to a topology several times.
func (r *Runner) Try(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			ft, ok := v.(fatal)
			if !ok {
				r.Close()
				panic(v)
			}
			err = errors.New(ft.msg)
		}
	}()
	f()
	return nil
}

// Cleanup registers f to run on Close.
func (r *Runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// Close runs the registered cleanups, last first, and stops watching for
// signals. It may be called again.
func (r *Runner) Close() {
	r.cleanup()
	r.stopOnce.Do(func() { close(r.stop) })
}

func (r *Runner) cleanup() {
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			break
		}
		f := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		f()
	}
}
