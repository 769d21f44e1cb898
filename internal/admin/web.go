package admin

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// Request body limits of the JSON-RPC API. The real server allows 512 MiB
// for a server admin; the largest legitimate request is a configuration
// file (SetConfig), so ethervpn stops sooner.
const (
	MaxServerAdminBody = 64 << 20
	MaxHubAdminBody    = 8 << 20
)

// authRealm is the real server's Basic auth realm (admin-interfaces.md §5.2).
const authRealm = `Basic realm="Username 'administrator' for entire VPN Server privilege, or specify Virtual Hub name as the username for specified Virtual Hub administrative privilege."`

// NewWebHandler serves the JSON-RPC API of admin-interfaces.md §5 under
// /api: POST envelopes, the GET form, CORS pre-flight, authentication
// through auth, errors with SoftEther's numbers. /admin (the HTML5 web
// console of the real server) answers 404: ethervpn ships no console.
//
// Unlike SoftEther, requests that a browser marks as coming from another
// site (Sec-Fetch-Site, or an Origin that is not this host) are refused:
// a browser that cached Basic credentials for the server would otherwise
// let any web page drive the API.
func NewWebHandler(d Dispatcher, auth Authenticator, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &webHandler{d: d, auth: auth, log: log}
}

type webHandler struct {
	d    Dispatcher
	auth Authenticator
	log  *slog.Logger
}

func (h *webHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Access-Control-Allow-Methods", "OPTIONS,GET,POST")
	hd.Set("Access-Control-Allow-Headers", "X-VPNADMIN-HUBNAME,X-VPNADMIN-PASSWORD")
	hd.Set("Access-Control-Allow-Credentials", "true")
	if o := r.Header.Get("Origin"); o != "" {
		hd.Set("Access-Control-Allow-Origin", o)
	}
	path := r.URL.Path
	api := path == "/api" || strings.HasPrefix(path, "/api/")
	switch {
	case !api && path != "/admin" && !strings.HasPrefix(path, "/admin/"):
		http.NotFound(w, r)
	case r.Method == http.MethodOptions:
		hd.Set("Allow", "OPTIONS, GET, POST")
		hd.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	case !api:
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "ethervpn has no web console. Use \"ethervpn cmd\", vpncmd or the JSON-RPC API at /api/.\n")
	case r.Method != http.MethodGet && r.Method != http.MethodPost:
		hd.Set("Allow", "OPTIONS, GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case crossSite(r):
		http.Error(w, "cross-site requests to the admin API are refused", http.StatusForbidden)
	default:
		h.serveAPI(w, r)
	}
}

// crossSite reports whether a browser says the request comes from another
// site. Non-browser clients (curl, scripts) send neither header.
func crossSite(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s != "same-origin" && s != "none"
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err != nil || !strings.EqualFold(u.Host, r.Host)
	}
	return false
}

func (h *webHandler) serveAPI(w http.ResponseWriter, r *http.Request) {
	remote := remoteAddr(r)
	var hub, password string
	switch user, pw, basic := r.BasicAuth(); {
	case len(r.Header.Values("X-VPNADMIN-PASSWORD")) > 0:
		hub, password = r.Header.Get("X-VPNADMIN-HUBNAME"), r.Header.Get("X-VPNADMIN-PASSWORD")
	case basic:
		hub, password = user, pw
	default:
		h.unauthorized(w)
		return
	}
	if strings.EqualFold(hub, "administrator") {
		hub = ""
	}
	caller, err := h.auth(strings.TrimSpace(hub), password, remote)
	if err != nil {
		h.log.Warn("admin JSON-RPC: login refused", "remote", remote, "hub", hub, "err", err)
		h.unauthorized(w)
		return
	}
	caller.Remote, caller.Via = remote, "json-rpc"

	if r.Method == http.MethodGet {
		h.serveGet(w, r, caller)
		return
	}
	limit := int64(MaxHubAdminBody)
	if caller.ServerAdmin {
		limit = MaxServerAdminBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		}
		return
	}
	id, res := h.envelope(r, caller, body)
	writeEnvelope(w, "application/json", id, res)
}

// envelope runs one POST request (§5.3) and returns the id to echo and the
// "result" or "error" member.
func (h *webHandler) envelope(r *http.Request, caller Caller, body []byte) (string, jsonKV) {
	v, err := decodeJSON(body)
	if err != nil {
		return "0", errorMember(ErrInvalidParameter, "Parameter is invalid: "+err.Error())
	}
	req, ok := v.(jsonObj)
	if !ok {
		return "0", errorMember(ErrInvalidParameter, "Parameter is invalid: JSON-RPC Parse Error: the request must be a JSON object (batches are not supported)")
	}
	field := func(name string) any {
		for _, kv := range req {
			if kv.Key == name {
				return kv.Val
			}
		}
		return nil
	}
	if v, _ := field("jsonrpc").(string); !strings.EqualFold(v, "2.0") {
		return "0", errorMember(ErrInvalidParameter, "JSON-RPC version is invalid")
	}
	id, ok := field("id").(string)
	if !ok {
		id = "0" // only string ids are echoed, as by the real server
	}
	method, _ := field("method").(string)
	if method == "" {
		return id, errorMember(ErrInvalidParameter, "JSON-RPC method name is empty")
	}
	params, ok := field("params").(jsonObj)
	if !ok {
		return id, errorMember(ErrInvalidParameter, "JSON-RPC parameter is empty")
	}
	return id, h.call(r, caller, method, params)
}

// serveGet runs the GET form (§5.4): /api/<Method>?key=value&...
func (h *webHandler) serveGet(w http.ResponseWriter, r *http.Request, caller Caller) {
	method, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api"), "?")
	method = strings.Trim(method, "/")
	method, _, _ = strings.Cut(method, "/")
	if method == "" {
		http.Error(w, "no API reference page here; POST JSON-RPC requests to /api/", http.StatusNotFound)
		return
	}
	params := jsonObj{}
	seen := map[string]bool{}
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if k == "" || err1 != nil || err2 != nil || seen[k] {
			continue // duplicate keys keep the first occurrence
		}
		seen[k] = true
		params = append(params, jsonKV{k, v})
	}
	id := time.Now().Format("2006-01-02 15:04:05.000")
	writeEnvelope(w, "text/plain; charset=UTF-8", id, h.call(r, caller, method, params))
}

// call dispatches one method and returns its "result" or "error" member.
func (h *webHandler) call(r *http.Request, caller Caller, method string, params jsonObj) jsonKV {
	out, err := h.d.Call(r.Context(), caller, method, objectToPack(params))
	if err != nil {
		return errorMember(Code(err), "")
	}
	if out == nil {
		out = pack.New()
	}
	return jsonKV{"result", resultObject(method, out)}
}

// errorMember is the "error" member of a failed call: the SoftEther number
// and "Error code N: text", with text the standard message unless given.
func errorMember(code Error, text string) jsonKV {
	msg := code.Error()
	if text != "" {
		msg = "Error code " + strconv.FormatUint(uint64(code), 10) + ": " + text
	}
	return jsonKV{"error", jsonObj{{"code", uint64(code)}, {"message", msg}}}
}

func writeEnvelope(w http.ResponseWriter, contentType, id string, member jsonKV) {
	b, err := json.MarshalIndent(jsonObj{member, {"jsonrpc", "2.0"}, {"id", id}}, "", "    ")
	if err != nil {
		b = []byte(`{"error":{"code":23,"message":"Error code 23: An internal error occurred."},"jsonrpc":"2.0","id":"0"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
}

func (h *webHandler) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", authRealm)
	w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<HTML><HEAD>\n<TITLE>401 Unauthorized</TITLE>\n</HEAD><BODY>\n<H1>Unauthorized</H1>\nThis VPN Server could not verify that you are authorized to access the administration API. Give the user name \"administrator\" (or the name of a Virtual Hub) and its password, by Basic authentication or the X-VPNADMIN-HUBNAME and X-VPNADMIN-PASSWORD headers.<P>\n</BODY></HTML>\n")
}

func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
