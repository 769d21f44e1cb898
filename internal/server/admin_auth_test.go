package server

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

func TestAdminLogin(t *testing.T) {
	s, d, _ := openAdmin(t)
	_ = d
	var random [20]byte
	copy(random[:], "0123456789abcdefghij")
	resp := func(pw string) []byte {
		h := sha0.AdminHash(pw)
		r := sha0.SecurePassword(h, random)
		return r[:]
	}
	login := func(hub, pw string, from netip.Addr) error {
		p := params("method", "admin", "secure_password", resp(pw), "accept_empty_password", 1)
		if hub != "" {
			p.AddStr("hubname", hub)
		}
		_, _, _, err := s.adminLogin(p, random, from)
		return err
	}
	// No server password: localhost only.
	if err := login("", "", loopback); err != nil {
		t.Errorf("empty password from localhost: %v", err)
	}
	if err := login("", "", remoteAddr); !errors.Is(err, vpnerr.NullPasswordLocalOnly) {
		t.Errorf("empty password from remote: %v, want 51", err)
	}
	call(t, d, serverAdm, "SetServerPassword", params("PlainTextPassword", "adminpw"))
	call(t, d, serverAdm, "CreateHub", params("HubName", "H", "AdminPasswordPlainText", "hubpw", "Online", true))
	if err := login("", "adminpw", remoteAddr); err != nil {
		t.Errorf("right password from remote: %v", err)
	}
	if err := login("h", "hubpw", remoteAddr); err != nil {
		t.Errorf("hub admin: %v", err)
	}
	if err := login("nohub", "x", loopback); !errors.Is(err, vpnerr.HubNotFound) {
		t.Errorf("unknown hub: %v", err)
	}
	// Many wrong passwords slow the wrong ones down, never the right one.
	other := netip.MustParseAddr("198.51.100.1")
	for range 12 {
		if err := login("", "wrong", other); !errors.Is(err, vpnerr.AccessDenied) {
			t.Errorf("wrong password: %v, want %v", err, vpnerr.AccessDenied)
		}
	}
	if err := login("", "adminpw", other); err != nil {
		t.Errorf("right password after many wrong ones: %v", err)
	}

	auth := s.AdminAuthenticator()
	if c, err := auth("", "adminpw", remoteAddr); err != nil || !c.ServerAdmin {
		t.Errorf("JSON server admin: %+v %v", c, err)
	}
	if c, err := auth("administrator", "adminpw", remoteAddr); err != nil || !c.ServerAdmin {
		t.Errorf("JSON administrator: %+v %v", c, err)
	}
	if c, err := auth("h", "hubpw", remoteAddr); err != nil || c.ServerAdmin || c.Hub != "H" {
		t.Errorf("JSON hub admin: %+v %v", c, err)
	}
	if _, err := auth("", "nope", remoteAddr); err == nil {
		t.Error("JSON wrong password accepted")
	}
	if _, err := auth("DEFAULT", "", remoteAddr); err == nil {
		t.Error("JSON hub admin of a hub without password accepted")
	}
}

func TestAdminAuthenticatorNoPassword(t *testing.T) {
	s, _, _ := openAdmin(t)
	auth := s.AdminAuthenticator()
	if c, err := auth("whatever", "x", loopback); err != nil || !c.ServerAdmin {
		t.Errorf("no server password, localhost: %+v %v", c, err)
	}
	if _, err := auth("", "", remoteAddr); !errors.Is(err, vpnerr.NullPasswordLocalOnly) {
		t.Errorf("no server password, remote: %v, want 51", err)
	}
}
