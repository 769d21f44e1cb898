package server

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// CreateHub refuses a request where one password hash is all zero (and
// the other is not: both zero means "compute them from the plain text").
// SoftEther stores such a hash, and a zero HashedPassword would let anyone
// administer the hub over the binary RPC.
func TestCreateHubRefusesZeroHash(t *testing.T) {
	s, d, _ := openAdmin(t)
	zero, set := make([]byte, sha0.Size), sha0.AdminHash("hubpw")
	wantCode(t, d, serverAdm, "CreateHub", params("HubName", "A", "HashedPassword", zero, "SecurePassword", set[:]), vpnerr.InvalidParameter)
	wantCode(t, d, serverAdm, "CreateHub", params("HubName", "A", "HashedPassword", set[:], "SecurePassword", zero), vpnerr.InvalidParameter)
	if s.LookupHub("A") != nil {
		t.Fatal("hub created")
	}
	call(t, d, serverAdm, "CreateHub", params("HubName", "B", "HashedPassword", zero, "SecurePassword", zero))
	s.mu.Lock()
	stored := s.hubs["B"].cfg.HashedPassword
	s.mu.Unlock()
	if empty := sha0.AdminHash(""); !bytes.Equal(stored, empty[:]) {
		t.Errorf("both hashes zero: stored %x, want the empty password's hash", stored)
	}
}

// SetHub changes the password only when both hashes are given, as on
// SoftEther: one zero hash leaves the password as it was.
func TestSetHubIgnoresZeroHash(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateHub", params("HubName", "A", "AdminPasswordPlainText", "hubpw", "Online", true))
	other := sha0.AdminHash("other")
	call(t, d, serverAdm, "SetHub", params("HubName", "A", "Online", true, "HashedPassword", make([]byte, sha0.Size), "SecurePassword", other[:]))
	s.mu.Lock()
	stored := s.hubs["A"].cfg.HashedPassword
	s.mu.Unlock()
	if want := sha0.AdminHash("hubpw"); !bytes.Equal(stored, want[:]) {
		t.Errorf("stored hash %x after SetHub with a zero hash, want the old password's", stored)
	}
}

// A stored all-zero hash (from a configuration file) is no password: the
// binary admin RPC refuses it as JSON-RPC does, for the server password
// too.
func TestAdminLoginRefusesZeroHash(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateHub", params("HubName", "H", "AdminPasswordPlainText", "hubpw", "Online", true))
	s.mu.Lock()
	s.hubs["H"].cfg.HashedPassword = make([]byte, sha0.Size)
	s.cfg.AdminPasswordHash = make([]byte, sha0.Size)
	s.mu.Unlock()
	var random [20]byte
	copy(random[:], "0123456789abcdefghij")
	answer := sha0.SecurePassword([sha0.Size]byte{}, random) // what anyone can compute
	for _, hub := range []string{"H", ""} {
		p := params("method", "admin", "secure_password", answer[:])
		if hub != "" {
			p.AddStr("hubname", hub)
		}
		for _, from := range []netip.Addr{remoteAddr, loopback} {
			if _, _, _, err := s.adminLogin(p, random, from); !errors.Is(err, vpnerr.AccessDenied) {
				t.Errorf("hub %q from %v with the zero hash's answer: %v, want access denied", hub, from, err)
			}
		}
	}
	if _, err := s.AdminAuthenticator()("H", "", remoteAddr); err == nil {
		t.Error("JSON-RPC accepted the hub with a zero hash")
	}
}
