package osprio

import (
	"os"
	"runtime"
	"testing"
)

func TestRaise(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to lower the nice value")
	}
	if err := Raise(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		// Whichever thread runs this (old or created after Raise), it
		// must run at the raised priority.
		runtime.LockOSThread()
		n, err := Current()
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	if n := <-done; n != HighNice {
		t.Fatalf("a thread started after Raise runs at nice %d, want %d", n, HighNice)
	}
	if n, _ := Current(); n != HighNice {
		t.Fatalf("nice %d after Raise, want %d", n, HighNice)
	}
}
