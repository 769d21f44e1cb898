package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

func TestParseArgs(t *testing.T) {
	o, err := ParseArgs([]string{"10.0.0.1:5555", "/server", "/hub:HUB1", "/PASS:pw", "/csv", "/CMD", "UserCreate", "u1", "/REALNAME:x"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Options{Addr: "10.0.0.1:5555", Hub: "HUB1", Password: "pw", HasPassword: true, CSV: true, Cmd: []string{"UserCreate", "u1", "/REALNAME:x"}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
	for in, addr := range map[string]string{"": "localhost:443", "vpn.example": "vpn.example:443", "[::1]:992": "[::1]:992", "::1": "[::1]:443"} {
		args := []string{"/SERVER"}
		if in != "" {
			args = append(args, in)
		}
		if o, err := ParseArgs(args); err != nil || o.Addr != addr {
			t.Errorf("host %q: %v %v, want %s", in, o, err, addr)
		}
	}
	for _, bad := range [][]string{{"/NOPE"}, {"/C:x"}, {"/CLIENT"}, {"a", "b"}, {"/IN:f", "/CMD", "HubList"}, {"/CMD"}, {"host:0"}} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSplitLine(t *testing.T) {
	got := splitLine(`UserCreate  u1 /REALNAME:"Alice Smith" /NOTE:""	x`)
	want := []string{"UserCreate", "u1", "/REALNAME:Alice Smith", "/NOTE:", "x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The table forms, checked against the real vpncmd's output.
func TestTables(t *testing.T) {
	var b bytes.Buffer
	l := newList(col("Port Number"), col("Status"))
	l.add("TCP 443", "Listening")
	l.add("TCP 7777", "Stopped")
	l.print(&b, false)
	if want := "Port Number|Status\n-----------+---------\nTCP 443    |Listening\nTCP 7777   |Stopped\n"; b.String() != want {
		t.Errorf("side by side:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	newList(col("ID"), col("Session Name")).print(&b, false)
	if want := "Item|Value\n----+-----\n"; b.String() != want {
		t.Errorf("empty list:\n%q", b.String())
	}
	b.Reset()
	wide := newList(col("Virtual Hub Name"), col("Status"), col(strings.Repeat("x", 70)))
	wide.add("DEFAULT", "Online", "1")
	wide.add("HUB1", "Offline", "2")
	wide.print(&b, false)
	want := "Item" + strings.Repeat(" ", 66) + "|Value\n" + strings.Repeat("-", 70) + "+-------\n" +
		"Virtual Hub Name" + strings.Repeat(" ", 54) + "|DEFAULT\n" + "Status" + strings.Repeat(" ", 64) + "|Online\n" +
		strings.Repeat("x", 70) + "|1\n" + strings.Repeat("-", 70) + "+-------\n" +
		"Virtual Hub Name" + strings.Repeat(" ", 54) + "|HUB1\n" + "Status" + strings.Repeat(" ", 64) + "|Offline\n" +
		strings.Repeat("x", 70) + "|2\n"
	if b.String() != want {
		t.Errorf("vertical:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	wide.print(&b, true)
	if want := "Virtual Hub Name,Status," + strings.Repeat("x", 70) + "\nDEFAULT,Online,1\nHUB1,Offline,2\n"; b.String() != want {
		t.Errorf("CSV:\n%s", b.String())
	}
	b.Reset()
	r := newList(col("Name"), rcol("Bytes"))
	r.add("a", "1,234")
	r.add("bb", "5")
	r.print(&b, false)
	if want := "Name|Bytes\n----+-----\na   |1,234\nbb  |    5\n"; b.String() != want {
		t.Errorf("right-aligned:\n%s", b.String())
	}
	if num(20758) != "20,758" || num(999) != "999" || num(1234567) != "1,234,567" {
		t.Error("num")
	}
}

// fakeServer answers the RPCs of the CLI and records the requests.
type fakeServer struct {
	calls []string
	reqs  map[string]*pack.Pack
	nat   *pack.Pack
	fail  map[string]vpnerr.Error
}

func newFakeServer() *fakeServer {
	nat := pack.New()
	nat.AddData("MacAddress", []byte{0x5e, 0xaa, 0x2e, 0x9d, 0xac, 0x70})
	nat.AddBool("UseNat", true)
	nat.AddInt("Mtu", 1500)
	nat.AddInt("NatTcpTimeout", 1800)
	nat.AddInt("NatUdpTimeout", 60)
	nat.AddStr("DhcpDomainName", "keep.me")
	return &fakeServer{reqs: map[string]*pack.Pack{}, nat: nat, fail: map[string]vpnerr.Error{}}
}

func (f *fakeServer) Call(_ context.Context, method string, in *pack.Pack) (*pack.Pack, error) {
	f.calls = append(f.calls, method)
	f.reqs[method] = in
	if code, ok := f.fail[method]; ok {
		return nil, code
	}
	out := pack.New()
	switch method {
	case "GetHubStatus":
		out.AddStr("HubName", strings.ToUpper(in.Str("HubName")))
		out.AddBool("Online", true)
	case "GetSecureNATOption":
		return f.nat, nil
	case "SetSecureNATOption":
		f.nat = in
	case "GetUser":
		out.AddStr("Name", "U1")
		out.AddStr("HubName", in.Str("HubName"))
		out.AddInt("AuthType", 1)
	case "EnumHub":
		out.AddStrs("HubName", []string{"DEFAULT", "HUB1"})
		out.AddInts("Online", []uint32{1, 0})
	case "Flush":
		out.AddInt("IntValue", 20758)
	}
	return out, nil
}

func runCLI(t *testing.T, f *fakeServer, stdin string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	dial := func(_ context.Context, addr, hub, password string) (RPC, io.Closer, error) {
		if password != "pw" {
			return nil, nil, vpnerr.AccessDenied
		}
		return f, io.NopCloser(nil), nil
	}
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &out, dial)
	return out.String(), code
}

func TestRunCmd(t *testing.T) {
	f := newFakeServer()
	out, code := runCLI(t, f, "", "localhost:5555", "/SERVER", "/PASSWORD:pw", "/CMD", "HubCreate", "HUB1", "/PASSWORD:hubpass")
	if code != 0 || !strings.Contains(out, "VPN Server>HubCreate HUB1 /PASSWORD:hubpass\nHubCreate command - Create New Virtual Hub\nThe command completed successfully.\n") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	req := f.reqs["CreateHub"]
	hashed, secure := sha0.AdminHash("hubpass"), sha0.HashPassword("administrator", "hubpass")
	if req.Str("HubName") != "HUB1" || !bytes.Equal(req.Data("HashedPassword"), hashed[:]) ||
		!bytes.Equal(req.Data("SecurePassword"), secure[:]) || !req.Bool("Online") {
		t.Errorf("CreateHub request: %+v", req.Elements())
	}

	// A server error: vpncmd's message, exit status = the error number.
	f.fail["CreateHub"] = vpnerr.HubAlreadyExists
	out, code = runCLI(t, f, "", "/PASSWORD:pw", "/CMD", "hubcreate", "HUB1", "/PASSWORD:x")
	if code != 57 || !strings.Contains(out, "Error occurred. (Error code: 57)\nThe Virtual Hub with the specified name already exists on the server.\n") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	// A missing required parameter without a keyboard is an error, not a prompt.
	out, code = runCLI(t, f, "", "/PASSWORD:pw", "/CMD", "HubDelete")
	if code != 38 || !strings.Contains(out, `needs the parameter [name]`) {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	out, code = runCLI(t, f, "", "/PASSWORD:pw", "/CMD", "NoSuchCommand")
	if code != int(vpnerr.BadCommandOrParam) || !strings.Contains(out, `"NoSuchCommand": Command not found.`) {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	out, code = runCLI(t, f, "", "/PASSWORD:pw", "/CMD", "UserList")
	if code != 38 || !strings.Contains(out, "first select the Virtual Hub") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	out, code = runCLI(t, f, "", "/PASSWORD:pw", "/CMD", "HubList", "/X:1")
	if code != 38 || !strings.Contains(out, `The parameter "/X" has been specified.`) {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	out, code = runCLI(t, f, "", "/PASSWORD:pw", "/CSV", "/CMD", "HubList")
	if code != 0 || out != "Virtual Hub Name,Status,Type,Users,Groups,Sessions,MAC Tables,IP Tables,Num Logins,Last Login,Last Communication,Transfer Bytes,Transfer Packets\n"+
		"DEFAULT,Online,Standalone,0,0,0,0,0,0,(None),(None),0,0\nHUB1,Offline,Standalone,0,0,0,0,0,0,(None),(None),0,0\n" {
		t.Errorf("CSV output:\n%s", out)
	}
}

// A wrong or missing password gets vpncmd's prompt.
func TestRunPasswordPrompt(t *testing.T) {
	out, code := runCLI(t, newFakeServer(), "pw\n", "/CMD", "Flush")
	if code != 0 || !strings.Contains(out, "Access has been denied.") || !strings.Contains(out, "Saving completed. The file size is 20,758 bytes.") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	out, code = runCLI(t, newFakeServer(), "", "/PASSWORD:bad", "/CMD", "Flush")
	if code != 12 || !strings.Contains(out, "[EOF]") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

// The prompt reads commands; missing parameters are asked for.
func TestRunInteractive(t *testing.T) {
	f := newFakeServer()
	out, code := runCLI(t, f, "Hub hub1\nUserCreate\nu1\nUserPasswordSet u1\nsecret1\nsecret1\nexit\nHubList\n", "/PASSWORD:pw")
	if code != 0 {
		t.Errorf("exit %d", code)
	}
	for _, want := range []string{"VPN Server>", "The Virtual Hub \"HUB1\" has been selected.", "VPN Server/HUB1>", "User Name: ", "Confirm input: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if f.reqs["CreateUser"].Str("Name") != "u1" || f.reqs["CreateUser"].Int("AuthType") != 1 || len(f.reqs["CreateUser"].Data("HashedKey")) != 20 {
		t.Errorf("CreateUser: %+v", f.reqs["CreateUser"].Elements())
	}
	set := f.reqs["SetUser"]
	key, nt := sha0.HashPassword("U1", "secret1"), sha0.NTPasswordHash("secret1")
	if !bytes.Equal(set.Data("HashedKey"), key[:]) || !bytes.Equal(set.Data("NtLmSecureHash"), nt[:]) || set.Str("HubName") != "HUB1" {
		t.Errorf("SetUser: %+v", set.Elements())
	}
	if f.calls[len(f.calls)-1] == "EnumHub" {
		t.Error("commands after exit ran")
	}
}

// Set commands write back the whole option set with only the given fields changed.
func TestRunBatchNatDhcp(t *testing.T) {
	f := newFakeServer()
	dir := t.TempDir()
	in := filepath.Join(dir, "script.txt")
	os.WriteFile(in, []byte("Hub HUB1\nNatSet /MTU:1400 /LOG:no\nDhcpSet /START:192.168.40.10 /DNS2:none\nSecureNatHostSet /MAC:00-AC-01-23-45-67\nNatGet\nNatSet /MTU:1\n"), 0o600)
	outFile := filepath.Join(dir, "out.txt")
	out, code := runCLI(t, f, "", "/PASSWORD:pw", "/IN:"+in, "/OUT:"+outFile)
	if code != 38 {
		t.Errorf("exit %d (the last command fails validation)", code)
	}
	if f.nat.Int("Mtu") != 1400 || f.nat.Int("NatTcpTimeout") != 1800 || f.nat.Bool("SaveLog") ||
		f.nat.IP("DhcpLeaseIPStart").String() != "192.168.40.10" || f.nat.Str("DhcpDomainName") != "keep.me" ||
		mac(f.nat.Data("MacAddress")) != "00-AC-01-23-45-67" || f.nat.Str("RpcHubName") != "HUB1" {
		t.Errorf("SecureNAT options: %+v", f.nat.Elements())
	}
	for _, want := range []string{"VPN Server/HUB1>NatSet /MTU:1400 /LOG:no\n", "MTU Value                      |1400\n", "The MTU must be a number from 64 to 1500"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if saved, _ := os.ReadFile(outFile); string(saved) != out {
		t.Error("/OUT file differs from the output")
	}
}
