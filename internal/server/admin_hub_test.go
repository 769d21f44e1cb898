package server

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
)

// GetSecureNATOption on a hub without a virtual host MAC (a hand-written
// file) once wrote a random MAC into the published configuration on
// every read, unsaved: each read could answer another MAC. Now the MAC
// is chosen once, saved, and the configuration readers hold is left as
// it was.
func TestGetSecureNATOptionChoosesMACOnce(t *testing.T) {
	s, d, dir := openAdmin(t)
	if err := s.ctl.Update(func(next *config.Server) error {
		next.EditHub("DEFAULT").SecureNAT.MAC = nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	held := s.ctl.Current()
	first := call(t, d, serverAdm, "GetSecureNATOption", params("RpcHubName", "DEFAULT")).Data("MacAddress")
	if len(first) != 6 {
		t.Fatalf("MAC %x", first)
	}
	if held.Hub("DEFAULT").SecureNAT.MAC != nil {
		t.Fatal("the read changed a published configuration in place")
	}
	again := call(t, d, serverAdm, "GetSecureNATOption", params("RpcHubName", "DEFAULT")).Data("MacAddress")
	if !bytes.Equal(first, again) {
		t.Errorf("second read answers %x, first %x", again, first)
	}
	root, err := config.Load(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := config.FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	if mac := saved.Hub("DEFAULT").SecureNAT.MAC; !bytes.Equal(mac, first) {
		t.Errorf("saved MAC %x, answered %x", mac, first)
	}
}

// The SecureNAT limits per client address come from the hub's options in
// the model: a change of them through the owner restarts SecureNAT with
// the new limits.
func TestSecureNATLimitsFromModel(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "SetSecureNATOption", natOption("DEFAULT", "10.20.0.1"))
	call(t, d, serverAdm, "EnableSecureNAT", params("HubName", "DEFAULT"))
	if err := s.ctl.Update(func(next *config.Server) error {
		next.EditHub("DEFAULT").Options.SecureNAT_MaxTcpSessionsPerIp = 7
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, v, ok := s.LookupHub("DEFAULT").nat.Get(natKey)
	if !ok || v.limits.MaxTCPPerIP != 7 {
		t.Errorf("running SecureNAT: %v, limits %+v; want MaxTCPPerIP 7", ok, v.limits)
	}
	call(t, d, serverAdm, "DisableSecureNAT", params("HubName", "DEFAULT"))
	if s.LookupHub("DEFAULT").SecureNAT() != nil {
		t.Error("SecureNAT runs after DisableSecureNAT")
	}
}
