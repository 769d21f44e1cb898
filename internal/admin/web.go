package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Request body limits of the JSON-RPC API. SoftEther (Admin.h
// ADMIN_RPC_MAX_POST_SIZE_BY_*) allows a server admin a whole PACK (512 MiB)
// and a hub admin 8 MiB. ethervpn keeps the hub admin's limit and gives the
// server admin 16 MiB: the largest legitimate request is a configuration
// file (SetConfig) in base64, so files up to 12 MiB; larger ones go through
// vpncmd's binary RPC (MaxFrameSize).
const (
	MaxServerAdminBody = 16 << 20
	MaxHubAdminBody    = 8 << 20
)

// Bounds on the memory of requests in progress. Decoding JSON costs many
// times its text (see MaxJSONValues), so only maxDecodes requests are
// decoded at once, and only maxLargeBodies bodies over smallBody are read
// at once (a small one is read freely: a slow upload of a large body must
// not hold up the small requests of everyone else). A request that waits
// longer than slotWait for its turn is answered 503.
const (
	smallBody      = 64 << 10
	maxLargeBodies = 2
	maxDecodes     = 2
	slotWait       = 5 * time.Second
	// bodyReadTimeout bounds the reading of one request body.
	bodyReadTimeout = time.Minute
)

type authHookKey struct{}

// WithAuthHook returns a context for the requests of one connection that
// makes the web handler call admit with the caller when a request of that
// connection has authenticated, before it is served. The server counts the
// connection as established from then on (WebSlots shares the places).
// When admit returns false (too many administration connections) the
// request is answered 503 and the connection closed.
func WithAuthHook(ctx context.Context, admit func(Caller) bool) context.Context {
	return context.WithValue(ctx, authHookKey{}, admit)
}

// WebSlots shares the places of the authenticated keep-alive connections
// of the JSON-RPC API, so that no hub administrator, nor one source, can
// take them all: a hub administrator's connections take at most
// webSlotsPerSource places per source address (an IPv6 /64) and a quarter
// of the places per hub, and hub administrators together leave a quarter
// of the places to the server administrator, who is held only by the
// total. SoftEther
// has no such cap (each connection is a thread); ethervpn's total is the
// server's choice. The zero value is ready to use.
type WebSlots struct {
	mu       sync.Mutex
	total    int // connections holding a place
	hubs     int // those of hub administrators
	bySource map[netip.Addr]int
	byHub    map[string]int
}

// webSlotsPerSource is the places a hub administrator's connections take
// per source address.
const webSlotsPerSource = 8

// Take takes a place for a connection of c among limit (0 = no limit). ok
// is false when c has no place left; otherwise release gives it back (call
// it once, when the connection closes).
func (s *WebSlots) Take(c Caller, limit int) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit > 0 && s.total >= limit {
		return nil, false
	}
	if c.ServerAdmin {
		s.total++
		return s.releaser(func() { s.total-- }), true
	}
	hub, src := strings.ToUpper(c.Hub), c.Remote
	if src.Is6() { // one host has a whole /64
		p, _ := src.WithZone("").Prefix(64)
		src = p.Addr()
	}
	if limit > 0 {
		reserve, share := limit/4, max(1, limit/4) // the server administrator's, a hub's
		if s.hubs >= limit-reserve || s.byHub[hub] >= share || s.bySource[src] >= webSlotsPerSource {
			return nil, false
		}
	}
	if s.byHub == nil {
		s.byHub, s.bySource = map[string]int{}, map[netip.Addr]int{}
	}
	s.total++
	s.hubs++
	s.byHub[hub]++
	s.bySource[src]++
	return s.releaser(func() {
		s.total--
		s.hubs--
		if s.byHub[hub]--; s.byHub[hub] == 0 {
			delete(s.byHub, hub)
		}
		if s.bySource[src]--; s.bySource[src] == 0 {
			delete(s.bySource, src)
		}
	}), true
}

// releaser returns a function that runs undo under the lock, once.
func (s *WebSlots) releaser(undo func()) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			undo()
		})
	}
}

// authRealm is the real server's Basic auth realm (docs/protocol/admin.md#json-rpc-login).
const authRealm = `Basic realm="Username 'administrator' for entire VPN Server privilege, or specify Virtual Hub name as the username for specified Virtual Hub administrative privilege."`

// NewWebHandler serves the JSON-RPC API of docs/protocol/admin.md#json-rpc under
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
	return &webHandler{d: d, auth: auth, log: log, slotWait: slotWait,
		largeBodies: make(chan struct{}, maxLargeBodies), decodes: make(chan struct{}, maxDecodes)}
}

type webHandler struct {
	d    Dispatcher
	auth Authenticator
	log  *slog.Logger

	largeBodies, decodes chan struct{} // semaphores, see maxLargeBodies
	slotWait             time.Duration
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
	if admit, ok := r.Context().Value(authHookKey{}).(func(Caller) bool); ok && !admit(caller) {
		h.log.Warn("admin JSON-RPC: too many administration connections; request refused", "remote", remote)
		h.busy(w, "too many administration connections are open; close idle ones and retry")
		return
	}

	if r.Method == http.MethodGet {
		h.serveGet(w, r, caller)
		return
	}
	id, res, ok := h.readPost(w, r, caller)
	if !ok {
		return
	}
	writeEnvelope(w, "application/json", id, res)
}

// readPost reads and decodes the body of a POST request and runs it. ok is
// false when the answer is already written: a body over the caller's limit
// (refused from its Content-Length, before it is read, when it has one),
// or no turn to read or decode it.
func (h *webHandler) readPost(w http.ResponseWriter, r *http.Request, caller Caller) (id string, res jsonKV, ok bool) {
	limit := int64(MaxHubAdminBody)
	if caller.ServerAdmin {
		limit = MaxServerAdminBody
	}
	if r.ContentLength > limit {
		h.tooLarge(w, limit)
		return "", jsonKV{}, false
	}
	if r.ContentLength < 0 || r.ContentLength > smallBody {
		if !h.acquire(w, r, h.largeBodies) {
			return "", jsonKV{}, false
		}
		defer func() { <-h.largeBodies }()
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	body, err := readBody(http.MaxBytesReader(w, r.Body, limit), r.ContentLength)
	rc.SetReadDeadline(time.Time{})
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.tooLarge(w, limit)
		}
		return "", jsonKV{}, false
	}
	if !h.acquire(w, r, h.decodes) {
		return "", jsonKV{}, false
	}
	req, err := decodeEnvelope(body)
	<-h.decodes
	if err != nil {
		return req.id, errorMember(vpnerr.InvalidParameter, err.Error()), true
	}
	return req.id, h.call(r, caller, req.method, req.params), true
}

// readBody reads a request body of size bytes (-1: unknown) in one
// allocation when the size is known, rather than growing a buffer (which
// costs up to three times the body).
func readBody(r io.Reader, size int64) ([]byte, error) {
	if size < 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	// Nothing may follow (MaxBytesReader and net/http enforce the length;
	// this keeps the function honest for any reader).
	if n, _ := r.Read(make([]byte, 1)); n > 0 {
		return nil, errors.New("request body longer than its Content-Length")
	}
	return b, nil
}

// acquire takes a slot of sem for r, waiting at most slotWait; when none
// frees up it answers 503 and returns false.
func (h *webHandler) acquire(w http.ResponseWriter, r *http.Request, sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(h.slotWait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return true
	case <-r.Context().Done():
		return false
	case <-t.C:
		h.log.Warn("admin JSON-RPC: server busy with other large requests; request refused", "remote", remoteAddr(r))
		h.busy(w, "the server is busy with other large requests; retry later")
		return false
	}
}

// busy answers 503 and closes the connection.
func (h *webHandler) busy(w http.ResponseWriter, msg string) {
	w.Header().Set("Connection", "close")
	w.Header().Set("Retry-After", "5")
	http.Error(w, msg, http.StatusServiceUnavailable)
}

// tooLarge answers 413 and closes the connection, so that the rest of the
// body is never read.
func (h *webHandler) tooLarge(w http.ResponseWriter, limit int64) {
	w.Header().Set("Connection", "close")
	http.Error(w, "request body too large: the limit is "+strconv.FormatInt(limit, 10)+" bytes for this administrator", http.StatusRequestEntityTooLarge)
}

// rpcRequest is a decoded POST envelope; id is "0" unless the request
// carried a string id.
type rpcRequest struct {
	id, method string
	params     *pack.Pack
}

// decodeEnvelope decodes one POST request (docs/protocol/admin.md#post-envelope). Its error is the message
// of the "error" member to answer with vpnerr.InvalidParameter.
func decodeEnvelope(body []byte) (rpcRequest, error) {
	req := rpcRequest{id: "0"}
	v, err := decodeJSON(body)
	if err != nil {
		return req, errors.New("Parameter is invalid: " + err.Error())
	}
	obj, ok := v.(jsonObj)
	if !ok {
		return req, errors.New("Parameter is invalid: JSON-RPC Parse Error: the request must be a JSON object (batches are not supported)")
	}
	field := func(name string) any {
		for _, kv := range obj {
			if kv.Key == name {
				return kv.Val
			}
		}
		return nil
	}
	if v, _ := field("jsonrpc").(string); !strings.EqualFold(v, "2.0") {
		return req, errors.New("JSON-RPC version is invalid")
	}
	if id, ok := field("id").(string); ok {
		req.id = id // only string ids are echoed, as by the real server
	}
	if req.method, _ = field("method").(string); req.method == "" {
		return req, errors.New("JSON-RPC method name is empty")
	}
	params, ok := field("params").(jsonObj)
	if !ok {
		return req, errors.New("JSON-RPC parameter is empty")
	}
	req.params = objectToPack(params)
	return req, nil
}

// serveGet runs the GET form (docs/protocol/admin.md#get-form): /api/<Method>?key=value&...
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
	writeEnvelope(w, "text/plain; charset=UTF-8", id, h.call(r, caller, method, objectToPack(params)))
}

// call dispatches one method and returns its "result" or "error" member.
func (h *webHandler) call(r *http.Request, caller Caller, method string, params *pack.Pack) jsonKV {
	out, err := h.d.Call(r.Context(), caller, method, params)
	if err != nil {
		return errorMember(vpnerr.Code(err), "")
	}
	if out == nil {
		out = pack.New()
	}
	return jsonKV{"result", resultObject(method, out)}
}

// errorMember is the "error" member of a failed call: the SoftEther number
// and "Error code N: text", with text the standard message unless given.
func errorMember(code vpnerr.Error, text string) jsonKV {
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
