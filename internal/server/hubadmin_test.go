package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// tryLogin logs in to DEFAULT once and drops the connection (the session
// stays for its timeout); it returns the welcome.
func tryLogin(addr string, o client.Options) (*wire.Welcome, error) {
	o.Server, o.Hub = addr, "DEFAULT"
	w, c, err := client.Login(context.Background(), &o)
	if c != nil {
		c.Raw.Close()
	}
	return w, err
}

func wantLoginError(t *testing.T, addr string, o client.Options, want vpnerr.Error) {
	t.Helper()
	if _, err := tryLogin(addr, o); !errors.Is(err, want) {
		t.Errorf("login %s (bridge mode %v): %v, want %v", o.User, o.BridgeMode, err, want)
	}
}

// user is a password login to DEFAULT as name with the password namepw.
func user(name string) client.Options {
	return client.Options{Hub: "DEFAULT", User: name, Password: name + "pw"}
}

func alice() client.Options { return user("alice") }
func bob() client.Options   { return user("bob") }
func carol() client.Options { return user("carol") }
func watch() client.Options { return user("watch") }

func bridgeMode(o client.Options) client.Options {
	o.BridgeMode = true
	return o
}

// withPolicy gives a test server's user the default policy changed by f.
func withPolicy(user string, f func(*config.Policy)) func(*Server) {
	return func(s *Server) {
		s.mu.Lock()
		defer s.mu.Unlock()
		pol := config.DefaultPolicy()
		f(&pol)
		s.hubs["DEFAULT"].cfg.User(user).Policy = &pol
	}
}

// max_sessions: client and bridge sessions together (SoftEther
// Protocol.c: NumSessionsClient + NumSessionsBridge).
func TestHubAdminMaxSessions(t *testing.T) {
	srv, addr := testServer(t)
	setAdminOption(t, srv.Dispatcher(), "DEFAULT", "max_sessions", 2)
	connect(t, addr, alice())
	if _, err := tryLogin(addr, bridgeMode(bob())); err != nil {
		t.Fatal(err)
	}
	wantLoginError(t, addr, carol(), vpnerr.HubIsBusy)
	wantLoginError(t, addr, bridgeMode(carol()), vpnerr.HubIsBusy)
}

// The hub's own MaxSession counts VPN sessions only: SecureNAT, local
// bridges, layer-3 interfaces and cascades this server opens take none of
// them (SoftEther counts
// hub->NumSessions, which only logins raise).
func TestHubMaxSessionCountsVPNSessionsOnly(t *testing.T) {
	srv, addr := testServer(t, func(s *Server) {
		s.mu.Lock()
		s.hubs["DEFAULT"].cfg.MaxSession = 1
		s.mu.Unlock()
	})
	h := srv.LookupHub("DEFAULT")
	for i, k := range []hub.Kind{hub.KindSecureNAT, hub.KindLocalBridge, hub.KindL3, hub.KindCascade} {
		p, err := h.Attach(hub.PortConfig{Name: fmt.Sprint("internal-", i), User: "SecureNAT", Kind: k})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
	}
	connect(t, addr, alice())
	wantLoginError(t, addr, bob(), vpnerr.HubIsBusy)
}

// max_sessions_client and max_sessions_bridge apply only with
// max_sessions_client_bridge_apply, each to its kind of session.
func TestHubAdminMaxSessionsClientBridge(t *testing.T) {
	srv, addr := testServer(t)
	d := srv.Dispatcher()
	setAdminOption(t, d, "DEFAULT", "max_sessions_client", 1)
	setAdminOption(t, d, "DEFAULT", "max_sessions_bridge", 1)
	connect(t, addr, alice())
	connect(t, addr, bob()) // no limit without max_sessions_client_bridge_apply
	setAdminOption(t, d, "DEFAULT", "max_sessions_client_bridge_apply", 1)
	wantLoginError(t, addr, carol(), vpnerr.HubIsBusy)
	if _, err := tryLogin(addr, bridgeMode(carol())); err != nil {
		t.Fatalf("first bridge-mode session: %v", err)
	}
	wantLoginError(t, addr, bridgeMode(watch()), vpnerr.HubIsBusy)
}

// max_multilogins_per_user: sessions per user, the smaller of the option
// and the policy's MultiLogins.
func TestHubAdminMaxMultiLogins(t *testing.T) {
	srv, addr := testServer(t, withPolicy("watch", func(p *config.Policy) { p.MultiLogins = 1 }))
	setAdminOption(t, srv.Dispatcher(), "DEFAULT", "max_multilogins_per_user", 2)
	connect(t, addr, alice())
	connect(t, addr, alice())
	wantLoginError(t, addr, alice(), vpnerr.TooManyUserSession)
	wantLoginError(t, addr, bridgeMode(alice()), vpnerr.TooManyUserSession)
	connect(t, addr, bob())
	connect(t, addr, watch())
	wantLoginError(t, addr, watch(), vpnerr.TooManyUserSession)
}

// max_bitrates_download / max_bitrates_upload cap the policy's
// MaxDownload / MaxUpload; a lower policy value stays.
func TestHubAdminMaxBitrates(t *testing.T) {
	srv, addr := testServer(t, withPolicy("watch", func(p *config.Policy) { p.MaxDownload, p.MaxUpload = 300000, 9000000 }))
	d := srv.Dispatcher()
	setAdminOption(t, d, "DEFAULT", "max_bitrates_download", 1000000)
	setAdminOption(t, d, "DEFAULT", "max_bitrates_upload", 500000)
	for _, c := range []struct {
		o    client.Options
		want [2]uint32
	}{{alice(), [2]uint32{1000000, 500000}}, {watch(), [2]uint32{300000, 500000}}} {
		o, want := c.o, c.want
		w, err := tryLogin(addr, o)
		if err != nil {
			t.Fatal(err)
		}
		if got := [2]uint32{w.Policy["MaxDownload"], w.Policy["MaxUpload"]}; got != want {
			t.Errorf("%s: MaxDownload, MaxUpload = %d, want %d", o.User, got, want)
		}
	}
}

// deny_bridge: bridge-mode sessions may route but not bridge.
func TestHubAdminDenyBridge(t *testing.T) {
	srv, addr := testServer(t)
	setAdminOption(t, srv.Dispatcher(), "DEFAULT", "deny_bridge", 1)
	w, err := tryLogin(addr, bridgeMode(alice()))
	if err != nil {
		t.Fatal(err)
	}
	if w.Policy["NoBridge"] != 1 || w.Policy["NoRouting"] != 0 {
		t.Errorf("NoBridge %d NoRouting %d, want 1 0", w.Policy["NoBridge"], w.Policy["NoRouting"])
	}
}

// deny_routing: bridge-mode sessions may bridge but not route; with
// deny_bridge too, bridge mode is refused.
func TestHubAdminDenyRouting(t *testing.T) {
	srv, addr := testServer(t)
	d := srv.Dispatcher()
	setAdminOption(t, d, "DEFAULT", "deny_routing", 1)
	w, err := tryLogin(addr, bridgeMode(alice()))
	if err != nil {
		t.Fatal(err)
	}
	if w.Policy["NoBridge"] != 0 || w.Policy["NoRouting"] != 1 {
		t.Errorf("NoBridge %d NoRouting %d, want 0 1", w.Policy["NoBridge"], w.Policy["NoRouting"])
	}
	setAdminOption(t, d, "DEFAULT", "deny_bridge", 1)
	wantLoginError(t, addr, bridgeMode(bob()), vpnerr.BridgeModeDenied)
	if _, err := tryLogin(addr, bob()); err != nil {
		t.Errorf("client mode: %v", err)
	}
}

// deny_qos: a session that asks for QoS does not get it.
func TestHubAdminDenyQoS(t *testing.T) {
	srv, addr := testServer(t)
	qos := alice()
	qos.QoS = true
	if w, err := tryLogin(addr, qos); err != nil || !w.QoS {
		t.Fatalf("QoS without the option: %v %v", w, err)
	}
	setAdminOption(t, srv.Dispatcher(), "DEFAULT", "deny_qos", 1)
	w, err := tryLogin(addr, qos)
	if err != nil {
		t.Fatal(err)
	}
	if w.QoS || w.Policy["NoQoS"] != 1 {
		t.Errorf("QoS %v NoQoS %d, want off", w.QoS, w.Policy["NoQoS"])
	}
}

// deny_empty_password: a user whose password is empty, or an anonymous
// user, may log in from the server's own machine only.
func TestHubAdminDenyEmptyPassword(t *testing.T) {
	empty := sha0.HashPassword("nopw", "")
	srv, addr := testServer(t, func(s *Server) {
		s.mu.Lock()
		h := s.hubs["DEFAULT"].cfg
		h.Users = append(h.Users, &config.User{Name: "nopw", AuthType: userAuthPassword, PasswordHash: empty[:]})
		s.mu.Unlock()
	})
	setAdminOption(t, srv.Dispatcher(), "DEFAULT", "deny_empty_password", 1)
	// From loopback, as every test connection is, the login goes on.
	connect(t, addr, client.Options{Hub: "DEFAULT", User: "nopw"})

	hb := srv.LookupHub("DEFAULT")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		user string
		req  wire.Login
		want vpnerr.Error
	}{
		{"nopw", wire.Login{AuthType: wire.AuthPassword}, vpnerr.NullPasswordLocalOnly},
		{"nopw", wire.Login{AuthType: wire.AuthPlainPassword}, vpnerr.NullPasswordLocalOnly},
		{"guest", wire.Login{AuthType: wire.AuthAnonymous}, vpnerr.NullPasswordLocalOnly},
		{"alice", wire.Login{AuthType: wire.AuthPassword}, vpnerr.NoError},
		{"alice", wire.Login{AuthType: wire.AuthPlainPassword, PlainPassword: "alicepw"}, vpnerr.NoError},
	} {
		srv.mu.Lock()
		u := hb.cfg.User(c.user)
		srv.mu.Unlock()
		h := &handshake{s: srv, remote: remoteAddr}
		if _, got := h.effectivePolicy(hb, u, &c.req, log); got != c.want {
			t.Errorf("%s (auth type %d) from %v: %v, want %v", c.user, c.req.AuthType, remoteAddr, got, c.want)
		}
		h.remote = loopback
		if _, got := h.effectivePolicy(hb, u, &c.req, log); got != vpnerr.NoError {
			t.Errorf("%s (auth type %d) from %v: %v", c.user, c.req.AuthType, loopback, got)
		}
	}
}

// A hub admin whose hub sets no_online / no_offline cannot change the
// hub's state through SetHub either; the other settings apply, as in
// SoftEther's StSetHub.
func TestSetHubNoOnlineNoOffline(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateHub", params("HubName", "A", "Online", true))
	ha := hubAdm("A")
	online := func() bool { return s.LookupHub("A").Online() }
	setAdminOption(t, d, "A", "no_offline", 1)
	call(t, d, ha, "SetHub", params("HubName", "A", "Online", false, "MaxSession", 5))
	if !online() || call(t, d, ha, "GetHub", params("HubName", "A")).Int("MaxSession") != 5 {
		t.Errorf("no_offline: online %v, want still online with MaxSession 5", online())
	}
	call(t, d, serverAdm, "SetHub", params("HubName", "A", "Online", false))
	if online() {
		t.Fatal("the server admin could not take the hub offline")
	}
	setAdminOption(t, d, "A", "no_online", 1)
	call(t, d, ha, "SetHub", params("HubName", "A", "Online", true))
	if online() || call(t, d, ha, "GetHub", params("HubName", "A")).Bool("Online") {
		t.Error("no_online: a hub admin brought the hub online with SetHub")
	}
	wantCode(t, d, ha, "SetHubOnline", params("HubName", "A", "Online", true), vpnerr.NotEnoughRight)
}

// Logins racing each other cannot exceed a session limit: the count and
// the attach happen under the hub's admission lock.
func TestSessionLimitHoldsUnderConcurrentLogins(t *testing.T) {
	srv, addr := testServer(t)
	setAdminOption(t, srv.Dispatcher(), "DEFAULT", "max_sessions", 3)
	const n = 12 // under the 16 handshakes one address may have at once
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			_, err := tryLogin(addr, client.Options{User: "guest", Anonymous: true})
			errs <- err
		}()
	}
	close(start)
	ok := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, vpnerr.HubIsBusy):
			t.Errorf("login: %v", err)
		}
	}
	if ok != 3 {
		t.Errorf("%d of %d concurrent logins got in, want 3", ok, n)
	}
}

// A login that passed the limit checks holds the hub's admission lock
// until its port is attached: the next login is counted with it.
func TestAdmitHoldsUntilAttached(t *testing.T) {
	srv, _ := testServer(t)
	setAdminOption(t, srv.Dispatcher(), "DEFAULT", "max_sessions", 1)
	hb := srv.LookupHub("DEFAULT")
	h := &handshake{s: srv, remote: loopback}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	attached, code := h.admit(hb, "alice", hub.KindClient, config.DefaultPolicy(), log)
	if code != vpnerr.NoError {
		t.Fatalf("first login: %v", code)
	}
	second := make(chan vpnerr.Error, 1)
	go func() {
		done, code := h.admit(hb, "bob", hub.KindClient, config.DefaultPolicy(), log)
		if done != nil {
			done()
		}
		second <- code
	}()
	select {
	case code := <-second:
		t.Fatalf("a second login was checked before the first was attached: %v", code)
	case <-time.After(200 * time.Millisecond):
	}
	p, err := hb.Attach(hub.PortConfig{Name: "SID-ALICE-1", User: "alice", Kind: hub.KindClient})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	attached()
	if code := <-second; code != vpnerr.HubIsBusy {
		t.Errorf("second login: %v, want %v", code, vpnerr.HubIsBusy)
	}
}
