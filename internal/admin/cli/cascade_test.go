package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/server"
	"github.com/ethervpn/ethervpn/internal/sha0"
)

// dispatcherRPC calls ethervpn's method table in-process as a server
// administrator.
type dispatcherRPC struct{ d admin.Dispatcher }

func (r dispatcherRPC) Call(ctx context.Context, method string, in *pack.Pack) (*pack.Pack, error) {
	c := admin.Caller{ServerAdmin: true, Remote: netip.MustParseAddr("127.0.0.1"), Via: "cli"}
	return r.d.Call(ctx, c, method, in)
}

// localServer opens an ethervpn server that does not serve, and a dial
// function that reaches its method table in-process.
func localServer(t *testing.T) (*server.Server, DialFunc) {
	t.Helper()
	srv, err := server.Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return srv, func(context.Context, string, string, string) (RPC, io.Closer, error) {
		return dispatcherRPC{srv.Dispatcher()}, io.NopCloser(nil), nil
	}
}

// TestCascadeCommands runs the cascade and bridge commands against
// ethervpn's own method table (a server that does not serve, so no
// cascade connects): the requests must be what the table accepts and the
// output must read like vpncmd's.
func TestCascadeCommands(t *testing.T) {
	dir := t.TempDir()
	srv, err := server.Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	dial := func(context.Context, string, string, string) (RPC, io.Closer, error) {
		return dispatcherRPC{srv.Dispatcher()}, io.NopCloser(nil), nil
	}
	script := strings.Join([]string{
		"Hub DEFAULT",
		"CascadeCreate toa /SERVER:192.0.2.1:5555 /HUB:REMOTE /USERNAME:casc",
		"CascadeCreate toa /SERVER:192.0.2.1:5555 /HUB:REMOTE /USERNAME:casc",
		"CascadeCreate bad /SERVER:192.0.2.1 /HUB:REMOTE /USERNAME:casc",
		"CascadePasswordSet toa /PASSWORD:secret /TYPE:standard",
		"CascadeDetailSet toa /MAXTCP:2 /INTERVAL:1 /TTL:0 /HALF:yes /NOQOS:no",
		"CascadeCompressEnable toa",
		"CascadeUsernameSet toa /USERNAME:other",
		"CascadeGet toa",
		"CascadeList",
		"CascadeOnline toa",
		"CascadeList",
		"CascadeStatusGet toa",
		"CascadeRename toa /NEW:tob",
		"CascadePasswordSet tob /PASSWORD:x /TYPE:bad",
		"CascadeOffline tob",
		"BridgeCreate DEFAULT /DEVICE:nosuchnic0",
		"BridgeList",
		"BridgeDelete DEFAULT /DEVICE:nosuchnic0",
	}, "\n")
	out := runScript(t, dial, script)
	for _, want := range []string{
		"CascadeCreate command - Create New Cascade Connection\nThe command completed successfully.",
		"Error occurred. (Error code: 59)\nThe Cascade Connection with the specified name already exists.",
		"The host name and port number specification is invalid.",
		"The auth type for this Connection Setting is currently set as password authentication.",
		"VPN Connection Setting Name                          |toa\n" +
			"Destination VPN Server Host Name                     |192.0.2.1\n" +
			"Destination VPN Server Port Number                   |5555\n" +
			"Destination VPN Server Virtual Hub Name              |REMOTE\n" +
			"Proxy Server Type                                    |Direct TCP/IP Connection\n" +
			"Verify Server Certificate                            |Disable\n" +
			"Device Name Used for Connection                      |_SEHUBLINKCLI_\n" +
			"Authentication Type                                  |Standard Password Authentication\n" +
			"User Name                                            |other\n" +
			"Number of TCP Connections to Use in VPN Communication|2\n",
		"Use Half Duplex Mode                                 |Enable\n",
		"Data Compression                                     |Enable\n",
		"\n[Cascade Session Security Policy Setting Value]\n" +
			"Policy name            |Simple description of policy                   |Setting value\n" +
			"-----------------------+-----------------------------------------------+-------------\n" +
			"DHCPFilter             |Filter DHCP Packets (IPv4)                     |No\n",
		"MaxMac                 |Maximum Number of MAC Addresses                |-\n",
		"VLanId                 |VLAN ID (IEEE802.1Q)                           |-\n",
		"Setting Name          |toa\nStatus                |Offline (Stopped)\nEstablished at        |(None)\n" +
			"Destination VPN Server|192.0.2.1\nVirtual Hub           |REMOTE\n",
		"Status                |Connecting\n",
		// Not serving: the online cascade does not run.
		"CascadeStatusGet command - Get Current Cascade Connection Status\nError occurred. (Error code: 61)",
		"The standard or radius specification is invalid.\nError occurred. (Error code: 38)",
		"While in the condition that occurs immediately after a new bridge connection is made",
		"Number|Virtual Hub Name|Network Adapter or Tap Device Name|Status\n" +
			"------+----------------+----------------------------------+-------\n" +
			"1     |DEFAULT         |nosuchnic0                        |Offline\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "The command completed successfully."); n != 15 {
		t.Errorf("%d commands succeeded, want 15:\n%s", n, out)
	}

	// The cascade reached the configuration as the commands set it.
	root, err := config.Load(dir + "/" + server.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	cs := config.Cascades(root.Folder("VirtualHUB").Folder("DEFAULT"))
	h := sha0.HashPassword("casc", "secret") // hashed with the user name of the time
	if len(cs) != 1 || cs[0].AccountName != "tob" || cs[0].Online || cs[0].Username != "other" ||
		!bytes.Equal(cs[0].HashedPassword, h[:]) || cs[0].MaxConnection != 2 || !cs[0].HalfConnection || !cs[0].UseCompress {
		t.Errorf("cascade in the file: %+v", cs)
	}
	if b, _ := config.LocalBridges(root); len(b) != 0 {
		t.Errorf("local bridges left in the file: %+v", b)
	}
}

func runScript(t *testing.T, dial DialFunc, script string) string {
	t.Helper()
	in := t.TempDir() + "/script.txt"
	if err := os.WriteFile(in, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	Run(context.Background(), []string{"localhost:5555", "/SERVER", "/PASSWORD:pw", "/IN:" + in}, strings.NewReader(""), &out, &out, dial)
	return out.String()
}
