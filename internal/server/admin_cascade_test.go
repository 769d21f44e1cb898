package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/bridge"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// createLink is the request vpncmd's CascadeCreate sends (docs/protocol/admin.md#vpncmd-commands).
func createLink(hubName, account, host string, port int, remoteHub, user string) *pack.Pack {
	p := params("HubName_Ex", hubName, "AccountName", uni(account), "Hostname", host, "Port", port,
		"HubName", remoteHub, "Username", user, "AuthType", 0, "MaxConnection", 8, "UseEncrypt", true,
		"AdditionalConnectionInterval", 1, "RetryInterval", 15, "NumRetry", int(linkNumRetry),
		"RequireBridgeRoutingMode", true, "Online", true)
	pol := config.DefaultPolicy()
	addPolicy(p, &pol)
	return p
}

func linkReq(hubName, account string) *pack.Pack {
	return params("HubName", hubName, "AccountName", uni(account))
}

// TestLinkMethods runs the cascade methods on a server that does not
// serve: validation, error numbers, rights and what reaches the file.
func TestLinkMethods(t *testing.T) {
	_, d, dir := openAdmin(t)
	ha := hubAdm("DEFAULT")

	call(t, d, ha, "CreateLink", createLink("DEFAULT", "to-a", "192.0.2.1", 5555, "REMOTE", "alice"))
	wantCode(t, d, ha, "CreateLink", createLink("default", "TO-A", "192.0.2.1", 5555, "REMOTE", "alice"), vpnerr.LinkAlreadyExists)
	wantCode(t, d, ha, "CreateLink", createLink("DEFAULT", "", "192.0.2.1", 5555, "REMOTE", "alice"), vpnerr.InternalError)
	wantCode(t, d, ha, "CreateLink", createLink("NOSUCH", "x", "192.0.2.1", 5555, "REMOTE", "alice"), vpnerr.NotEnoughRight)
	wantCode(t, d, serverAdm, "CreateLink", createLink("NOSUCH", "x", "192.0.2.1", 5555, "REMOTE", "alice"), vpnerr.HubNotFound)
	bad := createLink("DEFAULT", "x", "192.0.2.1", 5555, "REMOTE", "alice")
	bad.AddInt("AuthType", 4) // smart card
	wantCode(t, d, ha, "CreateLink", bad, vpnerr.InternalError)
	bad.AddInt("AuthType", 0)
	bad.AddInt("ProxyType", 1)
	wantCode(t, d, ha, "CreateLink", bad, vpnerr.NotSupported)
	wantCode(t, d, ha, "CreateLink", createLink("DEFAULT", "x", "", 5555, "REMOTE", "alice"), vpnerr.InvalidParameter)

	// GetLink: created offline, normalised, with the full structure.
	g := call(t, d, ha, "GetLink", params("HubName_Ex", "DEFAULT", "AccountName", uni("TO-A")))
	if g.Str("HubName_Ex") != "DEFAULT" || g.UniStr("AccountName") != "to-a" || g.Bool("Online") ||
		g.Str("Hostname") != "192.0.2.1" || g.Int("Port") != 5555 || g.Str("HubName") != "REMOTE" ||
		g.Str("Username") != "alice" || g.Int("MaxConnection") != 8 || !g.Bool("UseEncrypt") ||
		g.Str("DeviceName") != linkDeviceName || g.Int("RetryInterval") != 10 || g.Int("NumRetry") != linkNumRetry ||
		!g.Bool("RequireBridgeRoutingMode") || !g.Bool("policy:Access") || g.Int("policy:MaxConnection") != 32 {
		t.Errorf("GetLink: %v", g.Elements())
	}
	wantCode(t, d, ha, "GetLink", params("HubName_Ex", "DEFAULT", "AccountName", uni("nope")), vpnerr.ObjectNotFound)

	// SetLink with the echo of GetLink, as vpncmd's CascadePasswordSet.
	hash := sha0.HashPassword("alice", "alicepw")
	g.AddInt("AuthType", config.CascadeAuthPassword)
	g.AddData("HashedPassword", hash[:])
	g.AddInt("MaxConnection", 99) // clamped to 32
	g.AddBool("policy:CheckMac", true)
	call(t, d, ha, "SetLink", g)
	g = call(t, d, ha, "GetLink", params("HubName_Ex", "DEFAULT", "AccountName", uni("to-a")))
	if g.Int("AuthType") != 1 || !bytes.Equal(g.Data("HashedPassword"), hash[:]) || g.Int("MaxConnection") != 32 ||
		!g.Bool("policy:CheckMac") {
		t.Errorf("after SetLink: auth %d, max %d", g.Int("AuthType"), g.Int("MaxConnection"))
	}
	g.AddInt("AuthType", config.CascadeAuthPlain)
	g.AddStr("PlainPassword", "radiuspw")
	call(t, d, ha, "SetLink", g)

	// EnumLink, Rename, GetLinkStatus of an offline link.
	call(t, d, ha, "CreateLink", createLink("DEFAULT", "second", "192.0.2.2", 443, "R2", "bob"))
	l := call(t, d, ha, "EnumLink", params("HubName", "DEFAULT"))
	if l.Count("AccountName") != 2 || strAt(l, "AccountName", 1) != "second" || strAt(l, "TargetHubName", 0) != "REMOTE" ||
		strAt(l, "Hostname", 1) != "192.0.2.2" || intAt(l, "Online", 0) != 0 {
		t.Errorf("EnumLink: %v", l.Elements())
	}
	wantCode(t, d, ha, "RenameLink", params("HubName", "DEFAULT", "OldAccountName", uni("second"), "NewAccountName", uni("TO-A")), vpnerr.LinkAlreadyExists)
	wantCode(t, d, ha, "RenameLink", params("HubName", "DEFAULT", "OldAccountName", uni("nope"), "NewAccountName", uni("x")), vpnerr.ObjectNotFound)
	wantCode(t, d, ha, "RenameLink", params("HubName", "DEFAULT", "OldAccountName", uni("second"), "NewAccountName", uni("")), vpnerr.InvalidParameter)
	call(t, d, ha, "RenameLink", params("HubName", "DEFAULT", "OldAccountName", uni("second"), "NewAccountName", uni("third")))
	wantCode(t, d, ha, "GetLinkStatus", params("HubName_Ex", "DEFAULT", "AccountName", uni("third")), vpnerr.LinkIsOffline)
	wantCode(t, d, ha, "GetLinkStatus", params("HubName_Ex", "DEFAULT", "AccountName", uni("second")), vpnerr.ObjectNotFound)
	wantCode(t, d, ha, "SetLinkOnline", linkReq("DEFAULT", ""), vpnerr.InvalidParameter)
	wantCode(t, d, ha, "SetLinkOnline", linkReq("DEFAULT", "nope"), vpnerr.ObjectNotFound)
	call(t, d, ha, "SetLinkOnline", linkReq("DEFAULT", "third"))
	// Not serving: online in the configuration but not running.
	wantCode(t, d, ha, "GetLinkStatus", params("HubName_Ex", "DEFAULT", "AccountName", uni("third")), vpnerr.LinkIsOffline)
	call(t, d, ha, "DeleteLink", linkReq("DEFAULT", "third"))
	wantCode(t, d, ha, "DeleteLink", linkReq("DEFAULT", "third"), vpnerr.ObjectNotFound)

	// A hub admin whose hub forbids cascades may look but not change.
	call(t, d, serverAdm, "SetHubAdminOptions", params("HubName", "DEFAULT", "Name", "no_cascade", "Value", 1))
	wantCode(t, d, ha, "SetLinkOffline", linkReq("DEFAULT", "to-a"), vpnerr.NotEnoughRight)
	wantCode(t, d, ha, "CreateLink", createLink("DEFAULT", "x", "192.0.2.1", 5555, "REMOTE", "alice"), vpnerr.NotEnoughRight)
	call(t, d, ha, "EnumLink", params("HubName", "DEFAULT"))
	call(t, d, serverAdm, "SetLinkOffline", linkReq("DEFAULT", "to-a"))

	// The file holds the cascade in the real server's layout.
	root, err := config.Load(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	cl := config.Cascades(root.Folder("VirtualHUB").Folder("DEFAULT"))
	if len(cl) != 1 || cl[0].AccountName != "to-a" || cl[0].AuthType != config.CascadeAuthPlain ||
		cl[0].PlainPassword != "radiuspw" || cl[0].Online || cl[0].Policy == nil || !cl[0].Policy.CheckMac {
		t.Errorf("cascades on disk: %+v", cl)
	}

}

// TestLinkOnlineThroughTheTable drives a real cascade between two
// in-process servers with the admin methods only.
func TestLinkOnlineThroughTheTable(t *testing.T) {
	_, addrA := testServer(t)
	b, _ := testServer(t)
	d := b.Dispatcher()
	host, port, _ := net.SplitHostPort(addrA)
	p, _ := strconv.Atoi(port)
	call(t, d, serverAdm, "CreateLink", createLink("DEFAULT", "to-a", host, p, "DEFAULT", "alice"))
	g := call(t, d, serverAdm, "GetLink", params("HubName_Ex", "DEFAULT", "AccountName", uni("to-a")))
	hash := sha0.HashPassword("alice", "alicepw")
	g.AddInt("AuthType", config.CascadeAuthPassword)
	g.AddData("HashedPassword", hash[:])
	g.AddInt("MaxConnection", 2)
	call(t, d, serverAdm, "SetLink", g)
	call(t, d, serverAdm, "SetLinkOnline", linkReq("DEFAULT", "to-a"))

	status := func() (*pack.Pack, error) {
		return d.Call(context.Background(), serverAdm, "GetLinkStatus", params("HubName_Ex", "DEFAULT", "AccountName", uni("to-a")))
	}
	deadline := time.Now().Add(10 * time.Second)
	var st *pack.Pack
	for {
		var err error
		st, err = status()
		if err == nil && st.Bool("Connected") && st.Int("NumTcpConnections") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cascade never established: %v %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Int("SessionStatus") != 3 || !st.Bool("IsBridgeMode") || st.Int("MaxTcpConnections") != 2 ||
		st.Str("SessionName") == "" || st.Str("ServerName") != host || st.Int64("CurrentConnectionEstablishTime") == 0 {
		t.Errorf("GetLinkStatus: %v", st.Elements())
	}
	l := call(t, d, serverAdm, "EnumLink", params("HubName", "DEFAULT"))
	if intAt(l, "Connected", 0) != 1 || intAt(l, "Online", 0) != 1 || intAt(l, "LastError", 0) != 0 {
		t.Errorf("EnumLink of a connected cascade: %v", l.Elements())
	}

	call(t, d, serverAdm, "SetLinkOffline", linkReq("DEFAULT", "to-a"))
	if _, err := status(); vpnerr.Code(err) != vpnerr.LinkIsOffline {
		t.Errorf("GetLinkStatus offline: %v", err)
	}
	// A wrong password shows as error 9 in EnumLink.
	g.AddData("HashedPassword", make([]byte, 20))
	call(t, d, serverAdm, "SetLink", g)
	call(t, d, serverAdm, "SetLinkOnline", linkReq("DEFAULT", "to-a"))
	deadline = time.Now().Add(10 * time.Second)
	for {
		l := call(t, d, serverAdm, "EnumLink", params("HubName", "DEFAULT"))
		if intAt(l, "LastError", 0) == 9 && intAt(l, "Connected", 0) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("failed login never reported: %v", l.Elements())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Deleting the hub stops its cascades.
	deleted := b.LookupHub("DEFAULT")
	call(t, d, serverAdm, "DeleteHub", params("HubName", "DEFAULT"))
	if n := deleted.links.Len(); n != 0 {
		t.Errorf("%d cascades of the deleted hub still run", n)
	}
}

func TestBridgeRoleRefusesHubChanges(t *testing.T) {
	srv, _, _ := openAdmin(t)
	if err := srv.SetBridgeRole(); err != nil {
		t.Fatal(err)
	}
	d := srv.Dispatcher()
	wantCode(t, d, serverAdm, "CreateHub", params("HubName", "X"), vpnerr.NotSupported)
	wantCode(t, d, serverAdm, "DeleteHub", params("HubName", BridgeHub), vpnerr.NotSupported)
	call(t, d, serverAdm, "CreateLink", createLink(BridgeHub, "up", "192.0.2.1", 443, "DEFAULT", "u"))
}

// TestLocalBridgeMethods adds a TAP-mode bridge through the table on a
// serving server and sees it operate, then deletes it.
func TestLocalBridgeMethods(t *testing.T) {
	srv, _ := testServer(t)
	d := srv.Dispatcher()
	wantCode(t, d, hubAdm("DEFAULT"), "EnumEthernet", pack.New(), vpnerr.NotEnoughRight)
	eth := call(t, d, serverAdm, "EnumEthernet", pack.New())
	for i := range eth.Count("DeviceName") {
		if eth.StrAt("DeviceName", i) == "lo" {
			t.Error("EnumEthernet lists lo")
		}
	}
	if s := call(t, d, serverAdm, "GetBridgeSupport", pack.New()); !s.Bool("IsBridgeSupportedOs") || s.Bool("IsWinPcapNeeded") {
		t.Errorf("GetBridgeSupport: %v", s.Elements())
	}
	wantCode(t, d, serverAdm, "DeleteLocalBridge", params("HubNameLB", "DEFAULT", "DeviceName", "nope"), vpnerr.ObjectNotFound)
	wantCode(t, d, serverAdm, "AddLocalBridge", params("HubNameLB", "", "DeviceName", "x"), vpnerr.InvalidParameter)
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) to create a TAP device")
	}
	dev := fmt.Sprintf("eva%d", os.Getpid()%100000)
	call(t, d, serverAdm, "AddLocalBridge", params("HubNameLB", "DEFAULT", "DeviceName", dev, "TapMode", true))
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := call(t, d, hubAdm("DEFAULT"), "EnumLocalBridge", pack.New())
		if l.Int("NumItem") == 1 && intAt(l, "Active", 0) == 1 && intAt(l, "Online", 0) == 1 && intAt(l, "TapMode", 0) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge never active: %v", l.Elements())
		}
		time.Sleep(50 * time.Millisecond)
	}
	call(t, d, serverAdm, "DeleteLocalBridge", params("HubNameLB", "DEFAULT", "DeviceName", dev))
	if l := call(t, d, serverAdm, "EnumLocalBridge", pack.New()); l.Int("NumItem") != 0 {
		t.Errorf("after DeleteLocalBridge: %v", l.Elements())
	}
	if _, err := net.InterfaceByName(bridge.TapName(dev)); err == nil {
		t.Errorf("TAP %s still exists", bridge.TapName(dev))
	}
}
