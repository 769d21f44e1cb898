package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// testAuth accepts the server password "adminpw" and HUB1's "hubpass".
func testAuth(hub, password string, remote netip.Addr) (Caller, error) {
	switch {
	case hub == "" && password == "adminpw":
		return Caller{ServerAdmin: true}, nil
	case strings.EqualFold(hub, "HUB1") && password == "hubpass":
		return Caller{Hub: "HUB1"}, nil
	}
	return Caller{}, vpnerr.AccessDenied
}

type webReq struct {
	method, target, body string
	header               map[string]string
	basic                []string
}

func doWeb(t *testing.T, q webReq) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	return doWebWith(t, NewWebHandler(testDispatcher, testAuth, nil), q)
}

func doWebWith(t *testing.T, h http.Handler, q webReq) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(q.method, q.target, strings.NewReader(q.body))
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	if q.basic != nil {
		r.SetBasicAuth(q.basic[0], q.basic[1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var env map[string]any
	if w.Code == http.StatusOK && q.method != http.MethodOptions {
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v\n%s", q.method, q.target, err, w.Body)
		}
	}
	return w, env
}

var serverAdmin = map[string]string{"X-VPNADMIN-HUBNAME": "", "X-VPNADMIN-PASSWORD": "adminpw"}

func rpcBody(method, params string) string {
	return `{"jsonrpc":"2.0","id":"t1","method":"` + method + `","params":` + params + `}`
}

func TestWebPost(t *testing.T) {
	w, env := doWeb(t, webReq{method: "POST", target: "/api/", body: rpcBody("Test", `{"IntValue_u32":12345}`), header: serverAdmin})
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", w.Code, w.Header().Get("Content-Type"))
	}
	res, _ := env["result"].(map[string]any)
	if res["StrValue_str"] != "12345" || env["id"] != "t1" || env["jsonrpc"] != "2.0" {
		t.Errorf("envelope: %v", env)
	}
	for k, v := range map[string]string{
		"Access-Control-Allow-Methods": "OPTIONS,GET,POST", "Cache-Control": "no-cache",
		"Access-Control-Allow-Headers": "X-VPNADMIN-HUBNAME,X-VPNADMIN-PASSWORD",
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// Lists of records come out grouped (POST to /api without the slash too).
	_, env = doWeb(t, webReq{method: "POST", target: "/api", body: rpcBody("EnumHub", `{}`), header: serverAdmin})
	list, _ := env["result"].(map[string]any)["HubList"].([]any)
	if len(list) != 2 || list[1].(map[string]any)["HubName_str"] != "HUB1" || list[1].(map[string]any)["Online_bool"] != false {
		t.Errorf("EnumHub: %v", env)
	}
}

func TestWebAuth(t *testing.T) {
	who := rpcBody("WhoAmI", `{}`)
	if w, _ := doWeb(t, webReq{method: "POST", target: "/api/", body: who}); w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), "Basic realm=") {
		t.Errorf("no credentials: %d %v", w.Code, w.Header())
	}
	if w, _ := doWeb(t, webReq{method: "POST", target: "/api/", body: who, header: map[string]string{"X-VPNADMIN-PASSWORD": "nope"}}); w.Code != 401 {
		t.Errorf("wrong password: %d", w.Code)
	}
	_, env := doWeb(t, webReq{method: "POST", target: "/api/", body: who, basic: []string{"administrator", "adminpw"}})
	if res := env["result"].(map[string]any); res["ServerAdmin_u32"] != 1.0 || res["Via_str"] != "json-rpc" {
		t.Errorf("Basic administrator: %v", res)
	}
	_, env = doWeb(t, webReq{method: "POST", target: "/api/", body: who, basic: []string{"hub1", "hubpass"}})
	if res := env["result"].(map[string]any); res["Hub_str"] != "HUB1" {
		t.Errorf("Basic hub admin: %v", res)
	}
	// A hub admin is confined by the dispatcher; the error comes back in the envelope.
	_, env = doWeb(t, webReq{method: "POST", target: "/api/", body: rpcBody("GetHubStatus", `{"HubName_str":"OTHER"}`),
		header: map[string]string{"X-VPNADMIN-HUBNAME": "HUB1", "X-VPNADMIN-PASSWORD": "hubpass"}})
	if e := env["error"].(map[string]any); e["code"] != 52.0 || e["message"] != "Error code 52: Not enough privileges." {
		t.Errorf("hub admin on another hub: %v", env)
	}
}

func TestWebEnvelopeErrors(t *testing.T) {
	for _, c := range []struct {
		body, id string
		code     float64
		msg      string
	}{
		{`{"jsonrpc":"1.0","id":"a","method":"Test","params":{}}`, "0", 38, "Error code 38: JSON-RPC version is invalid"},
		{`{"jsonrpc":"2.0","id":"a","method":"NoSuch","params":{}}`, "a", 33, "Error code 33: Unsupported."},
		{`{"jsonrpc":"2.0","id":7,"method":"NoSuch","params":{}}`, "0", 33, "Error code 33: Unsupported."},
		{`{"jsonrpc":"2.0","id":"a","method":"","params":{}}`, "a", 38, "Error code 38: JSON-RPC method name is empty"},
		{`{"jsonrpc":"2.0","id":"a","method":"Test"}`, "a", 38, "Error code 38: JSON-RPC parameter is empty"},
		{`{"jsonrpc":"2.0","id":"a","method":"Test","params":[]}`, "a", 38, "Error code 38: JSON-RPC parameter is empty"},
		{`{"jsonrpc":"2.0","id":"a","method":"Test","params":{"IntValue_u32":-1}}`, "0", 38, "Error code 38: Parameter is invalid: JSON-RPC Parse Error: number -1: only non-negative integers up to 2^64-1 are accepted"},
		{`[{"jsonrpc":"2.0"}]`, "0", 38, ""},
		{`{"jsonrpc":"2.0",`, "0", 38, "Error code 38: Parameter is invalid: JSON-RPC Parse Error: unexpected end of JSON input"},
	} {
		w, env := doWeb(t, webReq{method: "POST", target: "/api/", body: c.body, header: serverAdmin})
		e, _ := env["error"].(map[string]any)
		if w.Code != 200 || env["id"] != c.id || e["code"] != c.code || (c.msg != "" && e["message"] != c.msg) {
			t.Errorf("%s: %d %v", c.body, w.Code, env)
		}
	}
}

func TestWebGetForm(t *testing.T) {
	w, env := doWeb(t, webReq{method: "GET", target: "/api/GetHubStatus?HubName_str=hub1&HubName_str=other", basic: []string{"HUB1", "hubpass"}})
	if w.Header().Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
	}
	res, _ := env["result"].(map[string]any)
	if res["HubName_str"] != "HUB1" || res["Online_bool"] != true || len(env["id"].(string)) != len("2006-01-02 15:04:05.000") {
		t.Errorf("GET form: %v", env)
	}
	_, env = doWeb(t, webReq{method: "GET", target: "/api/Test/x?IntValue_u32=5", header: serverAdmin})
	if env["result"].(map[string]any)["StrValue_str"] != "5" {
		t.Errorf("GET Test: %v", env)
	}
	if w, _ := doWeb(t, webReq{method: "GET", target: "/api/", header: serverAdmin}); w.Code != 404 {
		t.Errorf("GET /api/ without a method: %d", w.Code)
	}
}

func TestWebPreflightAndCrossSite(t *testing.T) {
	w, _ := doWeb(t, webReq{method: "OPTIONS", target: "/api/", header: map[string]string{"Origin": "https://x"}})
	if w.Code != 200 || w.Header().Get("Allow") != "OPTIONS, GET, POST" || w.Header().Get("Access-Control-Allow-Origin") != "https://x" || w.Body.Len() != 0 {
		t.Errorf("pre-flight: %d %v %q", w.Code, w.Header(), w.Body)
	}
	body := rpcBody("Test", `{}`)
	for _, h := range []map[string]string{{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}} {
		for k, v := range serverAdmin {
			h[k] = v
		}
		if w, _ := doWeb(t, webReq{method: "POST", target: "/api/", body: body, header: h}); w.Code != 403 {
			t.Errorf("cross-site %v: %d", h, w.Code)
		}
	}
	same := map[string]string{"Origin": "https://example.com", "Sec-Fetch-Site": "same-origin"}
	for k, v := range serverAdmin {
		same[k] = v
	}
	if w, _ := doWeb(t, webReq{method: "POST", target: "https://example.com/api/", body: body, header: same}); w.Code != 200 {
		t.Errorf("same-origin: %d", w.Code)
	}
}

func TestWebLimitsAndOtherPaths(t *testing.T) {
	big := rpcBody("Test", `{"StrValue_str":"`+strings.Repeat("x", MaxHubAdminBody)+`"}`)
	if w, _ := doWeb(t, webReq{method: "POST", target: "/api/", body: big, basic: []string{"HUB1", "hubpass"}}); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized hub-admin body: %d", w.Code)
	}
	if w, _ := doWeb(t, webReq{method: "GET", target: "/admin/", header: serverAdmin}); w.Code != 404 {
		t.Errorf("/admin: %d", w.Code)
	}
	if w, _ := doWeb(t, webReq{method: "PUT", target: "/api/", header: serverAdmin}); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d", w.Code)
	}
}
