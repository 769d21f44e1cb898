package e2e

import (
	"strings"
	"testing"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

const (
	aclPort = 25650
	aclHub  = "ACL"
)

// TestAccessList: the real vpncmd adds an access-list rule that discards
// ICMP from c1 to c2; ping then fails while TCP still passes, and deleting
// the rule restores ping.
func TestAccessList(t *testing.T) {
	testrig.Require(t)
	kind := testrig.SelectedServer(t)
	r := testrig.New(t)
	srv := r.StartServer(kind, &testrig.ServerConfig{
		Port:          aclPort,
		AdminPassword: adminPW,
		Hubs: []testrig.HubConfig{{Name: aclHub, Password: "hubpw", Users: []testrig.UserConfig{
			{Name: "user1", Password: password}, {Name: "user2", Password: password},
		}}},
	})
	c1 := &peer{ns: r.AddClient(), ip: "192.168.79.1"}
	c2 := &peer{ns: r.AddClient(), ip: "192.168.79.2"}
	c1.cli = r.StartClient(c1.ns, "a1")
	c2.cli = r.StartClient(c2.ns, "a2")
	c1.connect(t, srv, account(aclHub, "user1"))
	c2.connect(t, srv, account(aclHub, "user2"))
	ping(t, c1, c2.ip, 3, false)

	admin := func(lines ...string) []cmdOutput {
		return vpncmd(t, r, aclPort, []string{"/PASSWORD:" + adminPW}, append([]string{"Hub " + aclHub}, lines...)...)
	}
	cmds := admin("AccessAdd discard /MEMO:no-ping /PRIORITY:10 /SRCUSERNAME: /DESTUSERNAME: /SRCMAC: /DESTMAC: "+
		"/SRCIP:"+c1.ip+"/32 /DESTIP:"+c2.ip+"/32 /PROTOCOL:icmpv4 /SRCPORT: /DESTPORT: /TCPSTATE:",
		"AccessList")
	if add := byCommand(t, cmds, "AccessAdd"); !add.OK() {
		t.Fatalf("AccessAdd failed:\n%s", add.Text)
	}
	if list := byCommand(t, cmds, "AccessList"); !strings.Contains(list.Text, "no-ping") {
		t.Errorf("AccessList does not show the rule:\n%s", list.Text)
	}

	ping(t, c1, c2.ip, 3, true)
	if _, err := r.Transfer(c1.ns, c2.ns, c2.ip, 1<<20); err != nil {
		t.Errorf("TCP c1 -> c2 with the ICMP rule in place: %v", err)
	}

	if del := byCommand(t, admin("AccessDelete 1"), "AccessDelete"); !del.OK() {
		t.Fatalf("AccessDelete failed:\n%s", del.Text)
	}
	ping(t, c1, c2.ip, 3, false)
}
