package server

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
)

// Many sessions come and go: afterwards the server holds no session, no
// hub port and no goroutine that it did not hold before.
func TestSessionsLeaveNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	srv, addr := testServer(t)
	time.Sleep(100 * time.Millisecond)
	baseline := runtime.NumGoroutine()
	for round := 0; round < 3; round++ {
		var cs []*testClient
		for i := 0; i < 20; i++ {
			user, pw := "alice", "alicepw"
			if i%2 == 1 {
				user, pw = "bob", "bobpw"
			}
			cs = append(cs, connect(t, addr, client.Options{Hub: "DEFAULT", User: user, Password: pw, MaxConnections: 1 + i%4, QoS: i%3 == 0}))
		}
		// Everyone says hello; everyone else hears it.
		for i, c := range cs {
			c.port.send(ethFrame(bcast, mac(byte(i+1)), byte(round+1), 60))
		}
		for i, c := range cs {
			heard := map[byte]bool{}
			for len(heard) < len(cs)-1 {
				f := c.port.expect(t, fmt.Sprintf("the others' broadcasts at client %d (%d heard)", i, len(heard)),
					func(f []byte) bool { return len(f) > 14 && f[14] == byte(round+1) && f[11] != byte(i+1) })
				heard[f[11]] = true
			}
		}
		for _, c := range cs {
			c.Close(nil)
		}
		// A session whose connections are gone waits for a re-attach until
		// its timeout; ending them from the hub is what an admin would do.
		for _, x := range srv.Sessions() {
			x.Hub.Disconnect(x.Name)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if len(srv.Sessions()) == 0 && len(srv.LookupHub("DEFAULT").Ports()) == 0 && runtime.NumGoroutine() <= baseline+2 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("left behind: %d sessions, %d hub ports, %d goroutines (baseline %d)",
		len(srv.Sessions()), len(srv.LookupHub("DEFAULT").Ports()), runtime.NumGoroutine(), baseline)
}
