package e2e

import (
	"encoding/json"
	"testing"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// TestAdminJSONRPCAccepts sends the requests of SoftEther's own JSON-RPC
// sample client (vpnserver-jsonrpc-clients) that the real vpnserver takes
// and checks the server under test takes them too: an access list with an
// IPv6 entry whose mask is a prefix length, and syslog settings pointing at
// a host that no route reaches from the test namespace, then turned off.
func TestAdminJSONRPCAccepts(t *testing.T) {
	testrig.Require(t)
	kind := testrig.SelectedServer(t)
	r := testrig.New(t)
	r.StartServer(kind, adminServerConfig())

	must := mustJSONRPC(t, r)
	must("SetAcList", map[string]any{"HubName_str": "DEFAULT", "ACList": []any{
		map[string]any{"Deny_bool": true, "IpAddress_ip": "192.168.100.2", "Priority_u32": 100},
		map[string]any{"Deny_bool": false, "IpAddress_ip": "192.168.100.3", "Masked_bool": true, "SubnetMask_ip": "255.255.255.0", "Priority_u32": 200},
		map[string]any{"Deny_bool": true, "IpAddress_ip": "fe80::", "Masked_bool": true, "SubnetMask_ip": "8", "Priority_u32": 300},
	}})
	got := must("GetAcList", map[string]any{"HubName_str": "DEFAULT"})
	b, _ := json.Marshal(got)
	t.Logf("GetAcList: %s", b)
	list, _ := got["ACList"].([]any)
	if len(list) != 3 {
		t.Fatalf("GetAcList: %d entries, want 3: %s", len(list), b)
	}
	if e, _ := list[2].(map[string]any); e["IpAddress_ip"] != "fe80::" || e["Deny_bool"] != true || e["Priority_u32"] != float64(300) || e["SubnetMask_ip"] != "0.0.0.0" {
		t.Errorf("GetAcList IPv6 entry: %v", e)
	}

	must("SetSysLog", map[string]any{"SaveType_u32": 2, "Hostname_str": "1.2.3.4", "Port_u32": 123})
	got = must("GetSysLog", map[string]any{})
	b, _ = json.Marshal(got)
	t.Logf("GetSysLog: %s", b)
	if got["SaveType_u32"] != float64(2) || got["Hostname_str"] != "1.2.3.4" || got["Port_u32"] != float64(123) {
		t.Errorf("GetSysLog after SetSysLog: %s", b)
	}
	must("SetSysLog", map[string]any{"SaveType_u32": 0, "Hostname_str": "1.2.3.4", "Port_u32": 123})
	if got = must("GetSysLog", map[string]any{}); got["SaveType_u32"] != float64(0) {
		t.Errorf("GetSysLog after SaveType 0: %v", got)
	}
}
