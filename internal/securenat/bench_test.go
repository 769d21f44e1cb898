package securenat

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkTCPThroughput measures one TCP flow from a client stack through
// the hub and SecureNAT to a loopback sink.
func BenchmarkTCPThroughput(b *testing.B) {
	e := newEnv(b, nil)
	c := newClient(b, e, "192.168.30.10")
	done := make(chan int64, 1)
	srv := listenTCP(b, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		done <- n
	})
	conn, err := c.dialTCP(context.Background(), srv)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		if _, err := conn.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	conn.CloseWrite()
	select {
	case n := <-done:
		if n != int64(b.N*len(buf)) {
			b.Fatalf("sink got %d bytes, want %d", n, b.N*len(buf))
		}
	case <-time.After(30 * time.Second):
		b.Fatal("transfer did not finish")
	}
	b.StopTimer()
	b.ReportMetric(float64(e.nat.Dropped()), "drops")
	conn.Close()
}
