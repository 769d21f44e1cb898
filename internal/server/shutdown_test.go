package server

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/sha0"
)

// goroutines returns the stack of every goroutine by its header line
// ("goroutine 12 [select]:" without the state), but the caller's.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for i, g := range bytes.Split(buf, []byte("\n\n")) {
		if i == 0 {
			continue // the caller's
		}
		head, _, _ := strings.Cut(string(g), " [")
		out[head] = string(g)
	}
	return out
}

// leftOf returns the stacks of goroutines not in before that run a
// function of this module.
func leftOf(before map[string]string) []string {
	var left []string
	for id, stack := range goroutines() {
		if _, ok := before[id]; !ok && strings.Contains(stack, "github.com/ethervpn/ethervpn/") {
			left = append(left, stack)
		}
	}
	return left
}

// After Serve returns, no goroutine of the server is left: not those of
// connections still in the TLS handshake, of VPN sessions, of the binary
// admin RPC or of JSON-RPC keep-alive connections, nor the HTTP server's.
// The test's own clients start no goroutine, so every one found is the
// server's.
func TestServeLeavesNoGoroutine(t *testing.T) {
	before := goroutines()
	dir := t.TempDir()
	cfg := config.Default()
	hash := sha0.HashPassword("alice", "alicepw")
	cfg.Hub("DEFAULT").Users = append(cfg.Hub("DEFAULT").Users, &config.User{Name: "alice", AuthType: userAuthPassword, PasswordHash: hash[:]})
	if err := config.Save(dir+"/"+ConfigFile, cfg.ToTree()); err != nil {
		t.Fatal(err)
	}
	srv, err := Open(dir, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	withAdmin(srv)
	setAdminPassword("adminpw")(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	// Half-open: a TCP connection that sends nothing, and one that stops
	// inside its TLS ClientHello.
	for _, hello := range [][]byte{nil, {0x16, 0x03, 0x01, 0x00, 0x80, 0x01}} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(hello)
	}
	// A VPN session (its connection stays open; nothing reads it).
	o := client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw"}
	_, vpn, err := client.Login(ctx, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer vpn.Raw.Close()
	// A binary admin RPC connection, logged in and idle.
	ac, err := admin.Dial(ctx, addr, "", "adminpw")
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	if _, err := ac.Call(ctx, "GetServerInfo", nil); err != nil {
		t.Fatal(err)
	}
	// JSON-RPC keep-alive connections, one authenticated, one not.
	if code := dialWeb(t, addr).get("adminpw"); code != http.StatusOK {
		t.Fatalf("JSON-RPC request: status %d", code)
	}
	if code := dialWeb(t, addr).get(""); code != http.StatusUnauthorized {
		t.Fatalf("JSON-RPC request without a password: status %d", code)
	}
	if n := len(srv.Sessions()); n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10 s of its context's end")
	}
	// Goroutines that are ending may still be on their way out.
	var left []string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if left = leftOf(before); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, stack := range left {
		t.Errorf("goroutine left after Serve returned:\n%s", stack)
	}
}
