package client_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
)

// The idle sessions TestIdleSessionMemory measures: the heap of
// idleSessions sessions minus that of idleBase sessions, so that what the
// server allocates once (for its first session) is not counted.
// idleSenders of them send broadcasts, so that every session has carried
// frames before it idles.
const (
	idleBase     = 20
	idleSessions = 200
	idleSenders  = 5
)

// maxIdleSessionHeap is what one idle logged-in session may cost the
// server's heap: what its TLS connection and the hub's port cost, far
// below the 0.9 MB its eagerly allocated buffers used to cost.
const maxIdleSessionHeap = 64 << 10

// TestIdleSessionMemory logs in sessions against an in-process server,
// passes frames through every one of them, lets them go idle (keep-alives
// only) and measures the server's live heap per session. The clients run
// in a child process (this test binary again, see TestIdleClientsHelper)
// so that only the server's side is counted.
func TestIdleSessionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("logs in 200 sessions")
	}
	ts := newTestServer(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$")
	cmd.Env = append(os.Environ(), "ETHERVPN_IDLE_CLIENTS="+ts.addr)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	replies := bufio.NewScanner(stdout)
	// do sends one command to the helper and waits for its "ok".
	do := func(command string) {
		t.Helper()
		fmt.Fprintln(stdin, command)
		done := make(chan string, 1)
		go func() {
			for replies.Scan() {
				if line := replies.Text(); line == "ok" || strings.HasPrefix(line, "error") {
					done <- line
					return
				}
			}
			done <- "helper ended"
		}()
		select {
		case line := <-done:
			if line != "ok" {
				t.Fatalf("%s: %s", command, line)
			}
		case <-time.After(3 * time.Minute):
			t.Fatalf("%s: no answer from the helper", command)
		}
	}
	measure := func(sessions int) runtime.MemStats {
		t.Helper()
		if n := len(ts.srv.Sessions()); n != sessions {
			t.Fatalf("server has %d sessions, want %d", n, sessions)
		}
		// Both ends send a keep-alive as the data phase starts; let
		// everything arrive and settle.
		time.Sleep(2 * time.Second)
		// Twice, so that buffers parked in sync.Pools (kept for one
		// cycle) are gone too: they are shared, not a session's cost.
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m
	}

	do(fmt.Sprint("sessions ", idleBase))
	do(fmt.Sprint("send 4 ", idleSenders))
	base := measure(idleBase)
	do(fmt.Sprint("sessions ", idleSessions))
	// A few sessions send broadcasts, so that every session has carried
	// frames before it idles. Only a few: the hub keeps per-port
	// forwarding state that grows with the destinations a port's frames
	// went to, which is the hub's cost, not the session's.
	do(fmt.Sprint("send 4 ", idleSenders))
	full := measure(idleSessions)

	n := int64(idleSessions - idleBase)
	heap := (int64(full.HeapAlloc) - int64(base.HeapAlloc)) / n
	stack := (int64(full.StackInuse) - int64(base.StackInuse)) / n
	t.Logf("server side of one idle session: %d bytes of heap (%.1f KiB), %d bytes of goroutine stacks",
		heap, float64(heap)/1024, stack)
	if heap > maxIdleSessionHeap {
		t.Fatalf("an idle session costs %d bytes of heap, more than %d", heap, maxIdleSessionHeap)
	}
}

// TestIdleClientsHelper is the client side of TestIdleSessionMemory, run
// in a child process against the server at ETHERVPN_IDLE_CLIENTS. It reads
// commands from stdin and answers each with "ok" on stdout: "sessions N"
// logs in sessions until there are N, "send K M" makes each of the first M
// send K broadcast frames. It ends when stdin closes.
func TestIdleClientsHelper(t *testing.T) {
	addr := os.Getenv("ETHERVPN_IDLE_CLIENTS")
	if addr == "" {
		t.Skip("helper process of TestIdleSessionMemory")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var links []*client.Link
	var ports []*framePort
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		args := strings.Fields(in.Text())
		if len(args) < 2 {
			fmt.Println("error: command", in.Text())
			return
		}
		verb := args[0]
		n, _ := strconv.Atoi(args[1])
		switch verb {
		case "sessions":
			for len(links) < n {
				o := aliceLink(addr, 1)
				o.Log = testLog(t)
				p := newFramePort()
				l := client.NewLink(o, p)
				go l.Run(ctx)
				deadline := time.Now().Add(30 * time.Second)
				for l.Status().State != client.LinkEstablished {
					if time.Now().After(deadline) {
						fmt.Println("error: session", len(links), "did not come up")
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
				links, ports = append(links, l), append(ports, p)
			}
		case "send":
			senders, _ := strconv.Atoi(args[len(args)-1])
			for i, p := range ports[:min(senders, len(ports))] {
				for range n {
					p.send(broadcast(byte(i), 1))
				}
			}
			time.Sleep(time.Second)
		}
		fmt.Println("ok")
	}
	io.Copy(io.Discard, os.Stdin)
}
