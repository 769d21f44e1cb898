package guard

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRecoverEndsOnlyTheGoroutine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	got := make(chan error, 1)
	Go(log, "test worker", func() { panic("boom") }, func(err error) { got <- err })
	err := <-got
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Fatalf("onPanic got %#v, want a *PanicError with the value and a stack", err)
	}
	if !strings.Contains(buf.String(), "test worker stopped by a panic") || !strings.Contains(buf.String(), "boom") {
		t.Fatalf("panic not logged: %q", buf.String())
	}
}

func TestRecoverSurvivesAPanickingCleanUp(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer Recover(log, "worker", func(error) { panic("clean-up broke too") })
		panic("first")
	}()
	<-done
	if !strings.Contains(buf.String(), "clean-up broke too") {
		t.Fatalf("the clean-up's panic was not logged: %q", buf.String())
	}
}

func TestRecoverWithoutPanic(t *testing.T) {
	called := false
	func() {
		defer Recover(nil, "quiet", func(error) { called = true })
	}()
	if called {
		t.Fatal("onPanic called without a panic")
	}
}

func TestRun(t *testing.T) {
	want := errors.New("plain failure")
	if err := Run(nil, "x", func() error { return want }); err != want {
		t.Fatalf("Run passed %v, want the function's own error", err)
	}
	err := Run(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), "x", func() error {
		var m map[string]int
		m["a"] = 1 // nil map write: a runtime panic
		return nil
	})
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "nil map") {
		t.Fatalf("Run returned %v, want a *PanicError about the nil map", err)
	}
}
