package cli

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/farm/etcdtest"
	"github.com/ethervpn/ethervpn/internal/server"
)

// farmNode serves one node of a farm on an embedded etcd until the test
// ends, and returns a dial to its method table.
func farmNode(t *testing.T) DialFunc {
	t.Helper()
	cli := etcdtest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.OpenNode(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), server.FarmOptions{
		Endpoints: cli.Endpoints(), Cluster: "t", Name: "node1", Address: netip.MustParseAddr("127.0.0.1"),
		Ports: []uint16{5555}, Weight: 200})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	dial := func(context.Context, string, string, string) (RPC, io.Closer, error) {
		return dispatcherRPC{srv.Dispatcher()}, io.NopCloser(nil), nil
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !strings.Contains(runScript(t, dial, "ClusterMemberList"), "Error occurred") {
			return dial
		}
	}
	t.Fatal("the node did not join the farm within 5 s")
	return nil
}

// TestFarmCommands runs the Cluster* and hub type commands against a farm
// node; the output must read like vpncmd's.
func TestFarmCommands(t *testing.T) {
	dial := farmNode(t)
	out := runScript(t, dial, strings.Join([]string{
		"ClusterSettingGet",
		"ClusterMemberList",
		"ClusterConnectionStatusGet",
		"HubCreateStatic ST /PASSWORD:x",
		"HubCreateDynamic DY /PASSWORD:x",
		"HubCreate PLAIN /PASSWORD:x",
		"HubSetDynamic ST",
		"HubSetStatic DY",
		"HubList",
		"Hub DY",
		"SecureNatEnable",
	}, "\n"))
	for _, want := range []string{
		"Current Configuration          |Cluster Controller\nController Function Only       |No\nPerformance Standard in Cluster|200\n",
		"Type                            |Controller\nConnection Started at           |",
		"Host Name                       |node1\nPoint                           |100000\n",
		"Connection Status                |Online\n",
		"Number of Connection Attempts    |1\n",
		"Controller IP Address            |127.0.0.1\n",
		"Virtual Hub Name  |ST\nStatus            |Online\nType              |Dynamic Hub\n",
		"Virtual Hub Name  |DY\nStatus            |Online\nType              |Static Hub\n",
		"Virtual Hub Name  |PLAIN\nStatus            |Online\nType              |Dynamic Hub\n", // vpncmd's HubCreate on a controller: dynamic
		"SecureNatEnable command - Enable the Virtual NAT and DHCP Server Function (SecureNat Function)\nError occurred. (Error code: 33)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	id := ""
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "ID "); ok {
			id = strings.TrimSpace(strings.TrimLeft(v, " |"))
		}
	}
	out = runScript(t, dial, "ClusterMemberInfoGet "+id+"\nClusterMemberInfoGet 1")
	for _, want := range []string{
		"Server Type                   |Cluster Controller\n",
		"Host Name                     |node1\n",
		"Performance Standard Ratio    |200\n",
		"Public Port #1 (TCP/IP)       |5555\n",
		"Virtual Hub #1                |DY (Static)\n",
		"Error occurred. (Error code: 29)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
