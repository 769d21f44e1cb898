package farm_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/farm"
	"github.com/ethervpn/ethervpn/internal/farm/etcdtest"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// arpFrame is an ARP request from mac / ip, as one block of the SSL-VPN
// data stream (block count, then the block's size and bytes).
func arpFrame(mac [6]byte, ip netip.Addr) []byte {
	f := make([]byte, 0, 42)
	f = append(f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	f = append(f, mac[:]...)
	f = append(f, 0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1)
	f = append(f, mac[:]...)
	a := ip.As4()
	f = append(f, a[:]...)
	f = append(f, 0, 0, 0, 0, 0, 0, 10, 9, 9, 1)
	b := binary.BigEndian.AppendUint32(nil, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
	return append(b, f...)
}

// The sessions, MAC and IP tables of a hub are listed from any node,
// another node's rows marked as SoftEther marks a member's (RemoteSession,
// RemoteItem, RemoteHostname); a session on another node is disconnected
// from any node.
func TestFarmWideSessionsAndTables(t *testing.T) {
	nodes, addrs := farmWithUser(t, config.HubDynamic)
	a, c := nodes[0], nodes[2]
	_, conn := login(t, addrs[0]) // redirected to node c, where the hub is placed
	mac := [6]byte{0x02, 0, 0x5e, 1, 2, 3}
	if _, err := conn.Stream.W.Write(arpFrame(mac, netip.MustParseAddr("10.9.9.5"))); err != nil {
		t.Fatal(err)
	}
	if conn.Stream.Flush != nil {
		if err := conn.Stream.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	var sess, macs, ips *pack.Pack
	if !eventually(5*time.Second, func() bool {
		sess = mustCall(t, a, "EnumSession", "HubName", "H")
		macs = mustCall(t, a, "EnumMacTable", "HubName", "H")
		ips = mustCall(t, a, "EnumIpTable", "HubName", "H")
		return sess.Count("Name") == 1 && macs.Count("Key") == 1 && ips.Count("Key") == 1
	}) {
		t.Logf("c: %v", mustCall(t, c, "EnumMacTable", "HubName", "H"))
		t.Fatalf("node a never listed c's session and tables: %d sessions, %d MACs, %d IPs",
			sess.Count("Name"), macs.Count("Key"), ips.Count("Key"))
	}
	name := sess.StrAt("Name", 0)
	if sess.IntAt("RemoteSession", 0) != 1 || sess.StrAt("RemoteHostname", 0) != "c" || sess.StrAt("Username", 0) != "ann" ||
		sess.IntAt("CurrentNumTcp", 0) != 1 || sess.StrAt("Hostname", 0) != "127.0.0.1" {
		t.Errorf("c's session on a: %v", sess)
	}
	if macs.IntAt("RemoteItem", 0) != 1 || macs.StrAt("RemoteHostname", 0) != "c" || string(macs.Data("MacAddress")) != string(mac[:]) ||
		macs.StrAt("SessionName", 0) != name {
		t.Errorf("c's MAC row on a: %v", macs)
	}
	if ips.IntAt("RemoteItem", 0) != 1 || ips.IPAt("IpAddress", 0) != netip.MustParseAddr("10.9.9.5") {
		t.Errorf("c's IP row on a: %v", ips)
	}
	// The hub list counts the farm's sessions.
	hubs := mustCall(t, a, "EnumHub")
	for i := range hubs.Count("HubName") {
		if hubs.StrAt("HubName", i) == "H" && hubs.IntAt("NumSessions", i) != 1 {
			t.Errorf("EnumHub on a: H has %d sessions, want c's 1", hubs.IntAt("NumSessions", i))
		}
	}
	if st := mustCall(t, a, "GetServerStatus"); st.Int("NumSessionsRemote") != 1 || st.Int("NumSessionsTotal") != 1 ||
		st.Int("NumHubDynamic") != 2 || st.Int("NumHubStandalone") != 0 { // H and DEFAULT (standalone, shown as dynamic)
		t.Errorf("GetServerStatus on a: remote %d total %d dynamic %d standalone %d", st.Int("NumSessionsRemote"),
			st.Int("NumSessionsTotal"), st.Int("NumHubDynamic"), st.Int("NumHubStandalone"))
	}
	// Node c lists its own session once, as its own.
	if own := mustCall(t, c, "EnumSession", "HubName", "H"); own.Count("Name") != 1 || own.IntAt("RemoteSession", 0) != 0 {
		t.Errorf("node c's own list: %v", own)
	}

	st, err := adminCall(t, a, "GetSessionStatus", "HubName", "H", "Name", name)
	if err != nil || st.Str("Username") != "ann" || st.Str("ServerName") != "c" || st.Int("NumTcpConnections") != 1 ||
		st.IP("Client_Ip_Address") != netip.MustParseAddr("127.0.0.1") { // its counters are as of c's last publish
		t.Errorf("GetSessionStatus of c's session on a: %v %v", st, err)
	}
	if _, err := adminCall(t, a, "GetSessionStatus", "HubName", "H", "Name", "SID-NOBODY-9"); !errors.Is(err, vpnerr.ObjectNotFound) {
		t.Errorf("GetSessionStatus of no session: %v", err)
	}
	// c's table rows are deleted from a (vpncmd MacDelete, IpDelete).
	if _, err := adminCall(t, a, "DeleteIpTable", "HubName", "H", "Key", int(ips.IntAt("Key", 0))); err != nil {
		t.Errorf("DeleteIpTable of c's row on a: %v", err)
	}
	if _, err := adminCall(t, a, "DeleteMacTable", "HubName", "H", "Key", int(macs.IntAt("Key", 0))); err != nil {
		t.Errorf("DeleteMacTable of c's row on a: %v", err)
	}
	if _, err := adminCall(t, a, "DeleteMacTable", "HubName", "H", "Key", int(macs.IntAt("Key", 0)^1)); !errors.Is(err, vpnerr.ObjectNotFound) {
		t.Errorf("DeleteMacTable of no row: %v", err)
	}
	if got := mustCall(t, c, "EnumMacTable", "HubName", "H").Count("Key") + mustCall(t, c, "EnumIpTable", "HubName", "H").Count("Key"); got != 0 {
		t.Errorf("node c keeps %d table rows deleted on a", got)
	}
	if _, err := adminCall(t, a, "DeleteSession", "HubName", "H", "Name", "SID-NOBODY-9"); !errors.Is(err, vpnerr.ObjectNotFound) {
		t.Errorf("DeleteSession of no session: %v", err)
	}
	if _, err := adminCall(t, a, "DeleteSession", "HubName", "H", "Name", name); err != nil {
		t.Fatalf("DeleteSession of c's session on a: %v", err)
	}
	if !eventually(2*time.Second, func() bool { return len(c.Sessions()) == 0 }) {
		t.Fatal("node c still carries the session deleted on a")
	}
	if !eventually(5*time.Second, func() bool { return mustCall(t, a, "EnumSession", "HubName", "H").Count("Name") == 0 }) {
		t.Error("node a still lists the deleted session")
	}
}

// Two sessions of one user on a static hub, on two nodes: their names
// come from the hub's farm-wide counter, so they differ (SoftEther's
// controller names every session), and the farm lists both, each on its
// node.
func TestFarmWideSessionsOnTwoNodes(t *testing.T) {
	nodes, addrs := farmWithUser(t, config.HubStatic)
	login(t, addrs[0])
	time.Sleep(1500 * time.Millisecond) // the first node reports its load before the second login
	login(t, addrs[0])
	var sess *pack.Pack
	if !eventually(5*time.Second, func() bool {
		sess = mustCall(t, nodes[0], "EnumSession", "HubName", "H")
		return sess.Count("Name") == 2
	}) {
		t.Fatalf("node a lists %d sessions, want 2: %v", sess.Count("Name"), sess)
	}
	if a, b := sess.StrAt("Name", 0), sess.StrAt("Name", 1); a == b {
		t.Fatalf("two nodes named their sessions of one hub alike: %q", a)
	}
	where := map[string]bool{}
	for i := range 2 {
		where[sess.StrAt("RemoteHostname", i)] = true
	}
	if len(where) != 2 {
		t.Errorf("the two sessions are listed on %v, want two nodes", where)
	}
}

// A node writes only what changed, in transactions of many keys: counters
// alone write nothing, and 500 new sessions are 5 writes.
func TestPublishWritesOnlyChanges(t *testing.T) {
	cli := etcdtest.Start(t)
	n, err := farm.Join(context.Background(), farm.NodeConfig{Client: cli, Root: "/ethervpn/t/", Self: farm.Member{Name: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Leave()
	rev := func() int64 {
		r, err := cli.Get(context.Background(), "/ethervpn/t/nodes/a")
		if err != nil {
			t.Fatal(err)
		}
		return r.Header.Revision
	}
	recs := make([]farm.SessionRecord, 500)
	for i := range recs {
		recs[i] = farm.SessionRecord{Hub: "H", Name: fmt.Sprintf("SID-U-%d", i), User: "u", TCP: 1}
	}
	tables := []farm.HubTables{{Hub: "H", MACs: []farm.MACRecord{{Session: "SID-U-1", MAC: farm.HexBytes{2, 0, 0, 0, 0, 1}}}}}
	step := func(what string, want int64) {
		t.Helper()
		before := time.Now()
		r0 := rev()
		if err := n.Publish(context.Background(), recs, tables); err != nil {
			t.Fatal(err)
		}
		if got := rev() - r0; got != want {
			t.Errorf("%s: %d writes, want %d", what, got, want)
		}
		t.Logf("%s: %v", what, time.Since(before))
	}
	step("500 new sessions and a MAC table", 6) // 501 keys, 100 a transaction
	for i := range recs {
		recs[i].Sent, recs[i].Recv, recs[i].Packets = 1000, 2000, 10
	}
	tables[0].MACs[0].Updated = time.Now()
	step("counters and times of use only", 0)
	recs[7].TCP = 2
	step("one session's connections", 1)
	recs = recs[1:]
	step("one session gone", 1)
	if got, _ := n.HubSessions(context.Background(), "H"); len(got) != 499 {
		t.Errorf("%d sessions published, want 499", len(got))
	}
}
