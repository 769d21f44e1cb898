// Package guard keeps a panic in one goroutine from ending the process.
//
// A Go panic that no deferred recover stops ends the whole program, so a bug
// reachable by one peer (a malformed packet, a hostile cascade server) would
// take every session of the server down with it, and again after each
// restart if the trigger comes back. Every goroutine the server starts defers
// Recover (or calls through Run) so that a panic ends only the one thing the
// goroutine served: a session, a cascade attempt, a bridge, an admin call.
// The panic and its stack are logged, so the bug is still seen and fixed.
package guard

import (
	"fmt"
	"log/slog"
	"runtime/debug"
)

// PanicError is a recovered panic turned into an error.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error (panic: %v)", e.Value)
}

// Recover stops a panic in the goroutine that deferred it:
//
//	defer guard.Recover(log, "cascade", func(err error) { ... end the cascade ... })
//
// It must be deferred directly (recover works only there). A panic is
// logged at error level as a failure of what, and onPanic, when not nil, is
// called with the *PanicError so that the owner can end the one thing the
// goroutine served. Without a panic it does nothing.
func Recover(log *slog.Logger, what string, onPanic func(err error)) {
	v := recover()
	if v == nil {
		return
	}
	err := &PanicError{Value: v, Stack: debug.Stack()}
	logPanic(log, what, err)
	if onPanic != nil {
		// The clean-up may hit the same bug: that must not end the process
		// either.
		defer func() {
			if v := recover(); v != nil {
				logPanic(log, what+" clean-up", &PanicError{Value: v, Stack: debug.Stack()})
			}
		}()
		onPanic(err)
	}
}

// Run calls fn and returns its error, or a *PanicError if fn panicked; the
// panic is logged as a failure of what. It suits code that already handles
// errors, such as a connection attempt that is retried after a failure.
func Run(log *slog.Logger, what string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			pe := &PanicError{Value: v, Stack: debug.Stack()}
			logPanic(log, what, pe)
			err = pe
		}
	}()
	return fn()
}

// Go runs fn in a new goroutine under Recover.
func Go(log *slog.Logger, what string, fn func(), onPanic func(err error)) {
	go func() {
		defer Recover(log, what, onPanic)
		fn()
	}()
}

func logPanic(log *slog.Logger, what string, err *PanicError) {
	if log == nil {
		log = slog.Default()
	}
	log.Error("internal error: "+what+" stopped by a panic; the rest of the server carries on (please report this with the stack)",
		"panic", fmt.Sprint(err.Value), "stack", string(err.Stack))
}
