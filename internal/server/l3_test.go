package server

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// TestL3SwitchAdmin runs a switch between DEFAULT and OTHER through the
// admin methods: it starts, comes online with one SID-L3 session per hub,
// refuses interface and route changes while running, goes offline with a
// hub and stops.
func TestL3SwitchAdmin(t *testing.T) {
	srv, _ := testServer(t)
	waitServing(t, srv)
	d := srv.Dispatcher()
	mask := netip.MustParseAddr("255.255.255.0")
	call(t, d, serverAdm, "AddL3Switch", params("Name", "sw1"))
	wantCode(t, d, serverAdm, "StartL3Switch", params("Name", "sw1"), vpnerr.Layer3CantStartSwitch)
	wantCode(t, d, serverAdm, "StartL3Switch", params("Name", "nope"), vpnerr.Layer3SwNotFound)
	call(t, d, serverAdm, "AddL3If", params("Name", "sw1", "HubName", "DEFAULT", "IpAddress", netip.MustParseAddr("10.1.0.1"), "SubnetMask", mask))
	call(t, d, serverAdm, "AddL3If", params("Name", "sw1", "HubName", "OTHER", "IpAddress", netip.MustParseAddr("10.2.0.1"), "SubnetMask", mask))
	call(t, d, serverAdm, "StartL3Switch", params("Name", "sw1"))

	state := func() (active, online bool) {
		l := call(t, d, serverAdm, "EnumL3Switch", pack.New())
		return l.IntAt("Active", 0) != 0, l.IntAt("Online", 0) != 0
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting: %s", what)
			}
		}
	}
	waitFor("switch online", func() bool { a, o := state(); return a && o })
	l3Port := func(h *Hub) string {
		for _, p := range h.Ports() {
			if p.Kind == hub.KindL3 {
				return p.Name + " " + p.User
			}
		}
		return ""
	}
	for _, h := range srv.Hubs() {
		if got := l3Port(h); !strings.HasPrefix(got, "SID-L3-SW1-") || !strings.HasSuffix(got, " L3SW_sw1") {
			t.Errorf("hub %s: interface session %q", h.Name(), got)
		}
	}
	wantCode(t, d, serverAdm, "AddL3If", params("Name", "sw1", "HubName", "HUB3", "IpAddress", netip.MustParseAddr("10.3.0.1"), "SubnetMask", mask), vpnerr.Layer3IfAddFailed)
	wantCode(t, d, serverAdm, "DelL3If", params("Name", "sw1", "HubName", "OTHER"), vpnerr.Layer3IfDelFailed)
	wantCode(t, d, serverAdm, "AddL3Table", params("Name", "sw1", "NetworkAddress", netip.MustParseAddr("10.9.0.0"),
		"SubnetMask", mask, "GatewayAddress", netip.MustParseAddr("10.1.0.254"), "Metric", 1), vpnerr.Layer3TableAddFailed)

	call(t, d, serverAdm, "SetHubOnline", params("HubName", "OTHER", "Online", false))
	waitFor("switch offline with its hub", func() bool { a, o := state(); return a && !o })
	call(t, d, serverAdm, "SetHubOnline", params("HubName", "OTHER", "Online", true))
	waitFor("switch online again", func() bool { _, o := state(); return o })

	call(t, d, serverAdm, "StopL3Switch", params("Name", "sw1"))
	if a, o := state(); a || o {
		t.Errorf("stopped switch: active %v online %v", a, o)
	}
	for _, h := range srv.Hubs() {
		if got := l3Port(h); got != "" {
			t.Errorf("hub %s keeps %q after StopL3Switch", h.Name(), got)
		}
	}
	call(t, d, serverAdm, "DelL3If", params("Name", "sw1", "HubName", "OTHER"))
	call(t, d, serverAdm, "DelL3Switch", params("Name", "sw1"))
}
