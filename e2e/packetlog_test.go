package e2e

import (
	"strings"
	"testing"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// TestPacketLogLikeSoftEther: a TCP connection between two real vpnclients
// through the real vpnserver and through ethervpn, both with the packet log
// at SoftEther's default levels; the SYN's record must read the same in
// both logs (apart from session numbers, sequence numbers and times).
func TestPacketLogLikeSoftEther(t *testing.T) {
	testrig.Require(t)
	const hub = "PLOG"
	syn := map[testrig.ServerKind][]string{}
	for _, kind := range []testrig.ServerKind{testrig.SoftEther, testrig.Ethervpn} {
		t.Run(string(kind), func(t *testing.T) {
			r := testrig.New(t)
			srv := r.StartServer(kind, &testrig.ServerConfig{Port: port, Hubs: []testrig.HubConfig{{
				Name: hub, Password: "hubpw", PacketLog: true,
				Users: []testrig.UserConfig{{Name: "user1", Password: password}, {Name: "user2", Password: password}},
			}}})
			var ps [2]*peer
			for i := range ps {
				ns := r.AddClient()
				ps[i] = &peer{ns: ns, cli: r.StartClient(ns, "p"+string(rune('1'+i))), ip: "192.168.79." + string(rune('1'+i))}
				ps[i].connect(t, srv, account(hub, "user"+string(rune('1'+i))))
			}
			ping(t, ps[0], ps[1].ip, 2, false)
			if _, err := r.Transfer(ps[0].ns, ps[1].ns, ps[1].ip, 64<<10); err != nil {
				t.Fatal(err)
			}
			if err := srv.Stop(); err != nil { // both write the last records on the way out
				t.Logf("server stop: %v", err)
			}
			lines, err := srv.PacketLog(hub)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range lines {
				f := strings.Split(line, ",")
				if len(f) == 20 && f[8] == "TCP_CONNECTv4" && f[9] == "SYN" {
					syn[kind] = f
					break
				}
			}
			if syn[kind] == nil {
				t.Fatalf("no SYN record among %d packet-log lines:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			t.Logf("%s: %s", kind, strings.Join(syn[kind], ","))
		})
	}
	se, ev := syn[testrig.SoftEther], syn[testrig.Ethervpn]
	if se == nil || ev == nil {
		t.Fatal("a server wrote no SYN record")
	}
	// Fields after date and time: 1-2 sessions, 3-4 MACs (the TAPs'
	// differ per run), 5 ethertype, 6 length, 7-8 type, 9-12 addresses and
	// ports (the source port differs), 13-14 seq/ack, 15 window, 16 hex,
	// 17-18 physical IPs.
	same := []int{6, 7, 8, 9, 10, 12, 13, 15, 16, 17, 18, 19}
	for _, i := range same {
		if se[i] != ev[i] {
			t.Errorf("field %d: softether %q, ethervpn %q", i-1, se[i], ev[i])
		}
	}
	for _, i := range []int{2, 3} {
		if !strings.HasPrefix(ev[i], "SID-USER") || !strings.HasPrefix(se[i], "SID-USER") {
			t.Errorf("session fields: softether %q, ethervpn %q", se[i], ev[i])
		}
	}
}
