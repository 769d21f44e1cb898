package testrig

import (
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

// Runner is a TB for commands such as the benchmark: Cleanup functions run
// in reverse order on Close, on Fatalf (which then exits with status 1) and
// on SIGINT/SIGTERM, so namespaces and processes never outlive the command.
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

// Fatalf logs, runs the cleanups and exits with status 1.
func (r *Runner) Fatalf(format string, args ...any) {
	r.Logf("FATAL: "+format, args...)
	r.Close()
	os.Exit(1)
}

// Cleanup registers f to run on Close.
func (r *Runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// Close runs the registered cleanups, last first. It may be called again.
func (r *Runner) Close() {
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
	r.stopOnce.Do(func() { close(r.stop) })
}
