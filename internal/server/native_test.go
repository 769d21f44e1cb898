package server

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/native"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// A native client logs in as user@hub with its password, its session is
// listed like any other, gets an address from SecureNAT through the
// layer-3 adapter, and an administrator can end it; the login checks of
// an SSL-VPN login apply.
func TestNativeLogin(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateUser", params("HubName", "DEFAULT", "Name", "alice", "AuthType", 1, "Auth_Password", "alicepw"))
	call(t, d, serverAdm, "EnableSecureNAT", params("HubName", "DEFAULT"))
	remote := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

	for _, c := range []struct {
		user, pw string
		want     vpnerr.Error
	}{
		{"alice@DEFAULT", "wrong", vpnerr.AuthFailed},
		{"alice@NOSUCHHUB", "alicepw", vpnerr.AuthFailed}, // the whole name is a user of DEFAULT
		{"bob", "alicepw", vpnerr.AuthFailed},
	} {
		if _, err := s.LoginNative(NativeLogin{Protocol: "OPENVPN_L3", Username: c.user, Password: c.pw, Remote: remote}); !errors.Is(err, c.want) {
			t.Errorf("login %q/%q: %v, want %v", c.user, c.pw, err, c.want)
		}
	}

	ns, err := s.LoginNative(NativeLogin{Protocol: "OPENVPN_L3", Username: "alice@default", Password: "alicepw", Remote: remote})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ns.Name, "SID-ALICE-[OPENVPN_L3]-") {
		t.Fatalf("session name %q", ns.Name)
	}
	out := call(t, d, serverAdm, "EnumSession", params("HubName", "DEFAULT"))
	listed := false
	for i := range out.Count("Name") {
		listed = listed || strAt(out, "Name", i) == ns.Name
	}
	if !listed {
		t.Fatal("EnumSession does not list the native session")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, lease, err := native.Open(ctx, ns.Port, native.Config{MAC: native.VirtualMAC("test", "DEFAULT", 1), Hostname: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if lease.Gateway.String() != "192.168.30.1" || !lease.Addr.Addr().Is4() {
		t.Fatalf("lease %+v, want one from SecureNAT's DHCP", lease)
	}

	// A second session of the user beyond the hub's max_sessions is refused.
	call(t, d, serverAdm, "SetHubAdminOptions", params("HubName", "DEFAULT", "NumItem", 1, "Name", "max_sessions", "Value", 1))
	if _, err := s.LoginNative(NativeLogin{Protocol: "WIREGUARD", Username: "alice", Password: "alicepw", Remote: remote}); !errors.Is(err, vpnerr.HubIsBusy) {
		t.Fatalf("login beyond max_sessions: %v, want HubIsBusy", err)
	}

	call(t, d, serverAdm, "DeleteSession", params("HubName", "DEFAULT", "Name", ns.Name))
	select {
	case <-ns.Ended:
	case <-time.After(5 * time.Second):
		t.Fatal("DeleteSession did not end the native session")
	}
	a.Close()
	ns.Close(errors.New("test over"))
}
