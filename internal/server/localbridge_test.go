package server

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/bridge"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/hub"
)

// TestLocalBridgeTap configures a TapMode local bridge: the server creates
// the TAP while it serves, lists the bridge as active with its session,
// and removes the TAP when the bridge is deleted from the configuration.
func TestLocalBridgeTap(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) to create a TAP device")
	}
	srv, _ := testServer(t)
	dev := fmt.Sprintf("evs%d", os.Getpid()%100000)
	srv.mu.Lock()
	srv.cfg.LocalBridges.List = append(srv.cfg.LocalBridges.List, config.LocalBridge{
		DeviceName: dev, HubName: "DEFAULT", TapMode: true, TapMAC: net.HardwareAddr{0x5e, 0, 0x11, 0x22, 0x33, 0x44},
	})
	srv.mu.Unlock()
	srv.ApplyLocalBridges()

	var info LocalBridgeInfo
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if bs := srv.LocalBridges(); len(bs) == 1 && bs[0].Active {
			info = bs[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge not active: %+v", srv.LocalBridges())
		}
	}
	ifi, err := net.InterfaceByName(bridge.TapName(dev))
	if err != nil || ifi.HardwareAddr.String() != "5e:00:11:22:33:44" {
		t.Fatalf("TAP: %v %v", ifi, err)
	}
	var port *hub.PortInfo
	for _, p := range srv.LookupHub("DEFAULT").Ports() {
		if p.Kind == hub.KindLocalBridge {
			port = &p
		}
	}
	if port == nil || port.Name != info.Session || port.User != bridge.UserName {
		t.Fatalf("hub port %+v, bridge %+v", port, info)
	}

	srv.mu.Lock()
	srv.cfg.LocalBridges.List = nil
	srv.mu.Unlock()
	srv.ApplyLocalBridges()
	if _, err := net.InterfaceByName(bridge.TapName(dev)); err == nil {
		t.Error("TAP still exists after the bridge was removed")
	}
	if bs := srv.LocalBridges(); len(bs) != 0 {
		t.Errorf("bridges: %+v", bs)
	}
}
