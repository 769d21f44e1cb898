package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// addCascade configures (or updates) a cascade on srv's DEFAULT hub
// through the owner, which applies it. A copy of c is configured, so the
// caller may change c for the next call.
func addCascade(t *testing.T, srv *Server, c *config.Cascade) {
	t.Helper()
	err := srv.ctl.Update(func(next *config.Server) error {
		h := next.EditHub("DEFAULT")
		if h.ReplaceCascade(c.AccountName, *c) == nil {
			n := *c
			h.AddCascade(&n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cascadeOf is a copy of the configured cascade account of srv's DEFAULT
// hub, to change.
func cascadeOf(t *testing.T, srv *Server, account string) *config.Cascade {
	t.Helper()
	var c config.Cascade
	err := srv.ctl.ReadHub("DEFAULT", func(h *config.Hub) error {
		if p := h.Cascade(account); p != nil {
			c = *p
			return nil
		}
		return vpnerr.ObjectNotFound
	})
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

func newTestCascade(t *testing.T, addr, user, password string) *config.Cascade {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	c := config.NewCascade("to-a", host, uint32(p), "DEFAULT", user)
	c.Online = true
	c.MaxConnection = 4
	c.AuthType = config.CascadeAuthPassword
	hash := sha0.HashPassword(user, password)
	c.HashedPassword = hash[:]
	return c
}

// waitLink waits until the cascade satisfies ok.
func waitLink(t *testing.T, srv *Server, what string, ok func(LinkInfo) bool) LinkInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, li, err := srv.Link("DEFAULT", "TO-A")
		if err == nil && ok(li) {
			return li
		}
		if time.Now().After(deadline) {
			t.Fatalf("cascade never %s: %+v", what, li)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// probe attaches a port to a hub for injecting and watching frames.
func probe(t *testing.T, h *Hub, name string) *hub.Port {
	t.Helper()
	p, err := h.Attach(hub.PortConfig{Name: name, User: "probe", Kind: hub.KindBridge})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// await waits for a frame at p whose source MAC is src.
func await(t *testing.T, p *hub.Port, src byte) []byte {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		for _, f := range p.Drain(nil, 0) {
			b := bytes.Clone(f.Bytes())
			f.Release()
			if b[11] == src {
				return b
			}
		}
		select {
		case <-p.Ready():
		case <-deadline:
			t.Fatalf("no frame from ...:%02x arrived at %s", src, p.Name())
		}
	}
}

func frame(dst, src byte, body string) []byte {
	f := []byte{2, 0, 0, 0, 0, dst, 2, 0, 0, 0, 0, src, 0x88, 0xb5}
	if dst == 0xff {
		copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	}
	return append(f, body...)
}

func TestCascade(t *testing.T) {
	a, addrA := testServer(t)
	b, _ := testServer(t)
	addCascade(t, b, newTestCascade(t, addrA, "alice", "alicepw"))

	li := waitLink(t, b, "connects with 4 connections", func(li LinkInfo) bool { return li.Connected && li.Connections == 4 })
	if li.Welcome == nil || li.Welcome.MaxConnection != 4 || li.SessionName == "" || li.ServerCertSHA256 == "" {
		t.Errorf("link info: %+v", li)
	}
	// On the remote server the cascade is a bridge-mode session of alice;
	// on the local hub it is a cascade port.
	var remote bool
	for _, p := range a.LookupHub("DEFAULT").Ports() {
		remote = remote || (p.Kind == hub.KindBridge && p.User == "alice")
	}
	var local *hub.PortInfo
	for _, p := range b.LookupHub("DEFAULT").Ports() {
		if p.Kind == hub.KindCascade {
			local = &p
		}
	}
	if !remote || local == nil || local.Name != li.SessionName || local.User != cascadeUser {
		t.Fatalf("remote bridge session %v, local cascade port %+v", remote, local)
	}

	pa, pb := probe(t, a.LookupHub("DEFAULT"), "SID-PROBE-A"), probe(t, b.LookupHub("DEFAULT"), "SID-PROBE-B")
	pb.Input([][]byte{frame(0xff, 0xb1, "hello from B")})
	if got := await(t, pa, 0xb1); string(got[14:]) != "hello from B" {
		t.Errorf("broadcast across the cascade: %q", got[14:])
	}
	// A learnt B's MAC behind the cascade: a unicast reply goes back.
	pa.Input([][]byte{frame(0xb1, 0xa1, "hello from A")})
	if got := await(t, pb, 0xa1); string(got[14:]) != "hello from A" {
		t.Errorf("unicast across the cascade: %q", got[14:])
	}

	_, links, err := b.Links("default")
	if err != nil || len(links) != 1 || !links[0].Online || links[0].Stats.Recv.BroadcastCount == 0 {
		t.Errorf("Links: %+v %v", links, err)
	}

	// Offline: the link and its port go away.
	c := cascadeOf(t, b, "to-a")
	c.Online = false
	addCascade(t, b, c)
	if li := waitLink(t, b, "stops", func(li LinkInfo) bool { return !li.Online }); li.State != client.LinkStopped {
		t.Errorf("offline cascade state %v", li.State)
	}
	for _, p := range b.LookupHub("DEFAULT").Ports() {
		if p.Kind == hub.KindCascade {
			t.Errorf("cascade port %s still attached", p.Name)
		}
	}
}

func TestCascadePlainPasswordAndFailure(t *testing.T) {
	_, addrA := testServer(t)
	b, _ := testServer(t)
	c := newTestCascade(t, addrA, "bob", "wrong")
	addCascade(t, b, c)
	li := waitLink(t, b, "reports the failed login", func(li LinkInfo) bool { return li.LastError != nil })
	var code vpnerr.Error
	if !errors.As(li.LastError, &code) || code != vpnerr.AuthFailed || li.Connected {
		t.Errorf("failed cascade: %+v", li)
	}

	// The same cascade fixed with a plain password (auth type 2 in the
	// configuration) restarts and connects.
	c.AuthType, c.HashedPassword, c.PlainPassword = config.CascadeAuthPlain, nil, "bobpw"
	addCascade(t, b, c)
	waitLink(t, b, "connects with a plain password", func(li LinkInfo) bool { return li.Connected })
}

func TestBridgeRole(t *testing.T) {
	srv, addr := testServer(t)
	if err := srv.SetBridgeRole(); err != nil {
		t.Fatal(err)
	}
	hubs := srv.Hubs()
	if len(hubs) != 1 || hubs[0].Name() != BridgeHub || !srv.BridgeRole() {
		t.Fatalf("hubs of a bridge: %d", len(hubs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := client.Login(ctx, &client.Options{Server: addr, Hub: BridgeHub, User: "alice", Password: "alicepw"})
	var code vpnerr.Error
	if !errors.As(err, &code) || code != vpnerr.NotSupported {
		t.Errorf("login to a bridge: %v, want error 33", err)
	}
}

// hostilePeer is a TLS server on loopback that answers every connection with
// reply and closes it: a cascade's remote server gone bad.
func hostilePeer(t *testing.T, reply string) string {
	t.Helper()
	certDER, keyDER, err := newSelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := parseKeyPair(certDER, keyDER)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tlsConfig(cert))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				c.Read(buf) // the client's first request
				c.Write([]byte(reply))
			}()
		}
	}()
	return ln.Addr().String()
}

// A cascade's peer that answers with a start line a careless parser indexes
// out of range (TABs as separators) once crashed the whole process, and again
// after every restart. The cascade must fail with an error instead, and the
// server must keep serving.
func TestHostileCascadePeerCannotCrashTheServer(t *testing.T) {
	srv, addr := testServer(t)
	for _, reply := range []string{
		"HTTP/1.1\t200\tOK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
		"\v\f \t\r\n\r\n",
	} {
		addCascade(t, srv, newTestCascade(t, hostilePeer(t, reply), "alice", "alicepw"))
		li := waitLink(t, srv, "reports the hostile peer's answer as an error", func(li LinkInfo) bool { return li.LastError != nil })
		if li.Connected {
			t.Errorf("reply %q: cascade connected: %+v", reply, li)
		}
		t.Logf("reply %q: %v", reply, li.LastError)
	}
	// The server is alive and takes logins.
	c := connect(t, addr, client.Options{Hub: "DEFAULT", User: "bob", Password: "bobpw"})
	c.Close(nil)
}
