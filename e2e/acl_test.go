package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

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
	r, srv, c1, c2 := aclRig(t, aclPort, "a")
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

// TestAccessListRedirect: a pass rule with a redirect URL for HTTP to c2,
// added over JSON-RPC; curl on c1 connects (the handshake passes) and gets
// the hub's 302 to the URL instead of c2's page.
func TestAccessListRedirect(t *testing.T) {
	r, srv, c1, c2 := aclRig(t, adminPort, "r") // jsonRPC's port
	c1.connect(t, srv, account(aclHub, "user1"))
	c2.connect(t, srv, account(aclHub, "user2"))
	r.StartHTTPServer(c2.ns, 1000)
	page := "http://" + c2.ip + ":" + strconv.Itoa(testrig.HTTPPort) + "/blob"
	curl := func() string {
		out, _ := c1.ns.Run(20*time.Second, "curl", "-s", "-i", "--max-time", "5", page)
		return out
	}
	if out := curl(); !strings.HasPrefix(out, "HTTP/1.") || !strings.Contains(out, " 200 ") {
		t.Fatalf("before the rule: %q", out)
	}
	const url = "http://portal.example/welcome"
	if _, code := jsonRPC(t, r, aclHub, "hubpw", "AddAccess", map[string]any{
		"HubName_str": aclHub,
		"AccessListSingle": []map[string]any{{
			"Note_utf": "portal", "Active_bool": true, "Priority_u32": 10, "Discard_bool": false,
			"Protocol_u32": 6, "DestPortStart_u32": testrig.HTTPPort, "DestPortEnd_u32": testrig.HTTPPort,
			"RedirectUrl_str": url,
		}},
	}); code != 0 {
		t.Fatalf("AddAccess: error %d", code)
	}
	out := curl()
	if !strings.HasPrefix(out, "HTTP/1.1 302 Found\r\n") || !strings.Contains(out, "Location: "+url+"\r\n") {
		t.Fatalf("with the redirect rule: %q", out)
	}
}

// TestSourceIPLimitList: the real vpncmd denies c1's address in the hub's
// Source IP Address Limit List (AcAdd); c1's vpnclient is refused with
// error 109 while c2 still logs in, and AcDel lets c1 in again.
func TestSourceIPLimitList(t *testing.T) {
	r, srv, c1, c2 := aclRig(t, aclPort, "s")
	cmds := vpncmd(t, r, aclPort, []string{"/PASSWORD:" + adminPW}, "Hub "+aclHub,
		"AcAdd deny /PRIORITY:10 /IP:"+c1.ns.IP+"/255.255.255.255", "AcList")
	for _, c := range cmds[1:] {
		if !c.OK() {
			t.Fatalf("%s:\n%s", c.Line, c.Text)
		}
	}
	if l := byCommand(t, cmds, "AcList"); !strings.Contains(l.Text, c1.ns.IP) || !strings.Contains(l.Text, "Deny") {
		t.Fatalf("AcList:\n%s", l.Text)
	}
	refused(t, c1, srv, account(aclHub, "user1"), 109)
	c2.connect(t, srv, account(aclHub, "user2"))
	if cmds := vpncmd(t, r, aclPort, []string{"/PASSWORD:" + adminPW}, "Hub "+aclHub, "AcDel 1"); !cmds[1].OK() {
		t.Fatalf("AcDel:\n%s", cmds[1].Text)
	}
	c1.connect(t, srv, account(aclHub, "user1"))
	ping(t, c1, c2.ip, 3, false)
}

// aclRig starts the server under test on port with hub ACL (users user1
// and user2) and two client namespaces with a vpnclient each (NICs
// <nic>1 and <nic>2), not yet connected.
func aclRig(t *testing.T, port int, nic string) (*testrig.Rig, *testrig.Server, *peer, *peer) {
	t.Helper()
	testrig.Require(t)
	kind := testrig.SelectedServer(t)
	r := testrig.New(t)
	srv := r.StartServer(kind, &testrig.ServerConfig{
		Port:          port,
		AdminPassword: adminPW,
		Hubs: []testrig.HubConfig{{Name: aclHub, Password: "hubpw", Users: []testrig.UserConfig{
			{Name: "user1", Password: password}, {Name: "user2", Password: password},
		}}},
	})
	c1 := &peer{ns: r.AddClient(), ip: "192.168.79.1"}
	c2 := &peer{ns: r.AddClient(), ip: "192.168.79.2"}
	c1.cli = r.StartClient(c1.ns, nic+"1")
	c2.cli = r.StartClient(c2.ns, nic+"2")
	return r, srv, c1, c2
}
