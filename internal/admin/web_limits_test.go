package admin

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// A body over the caller's limit is refused from its Content-Length, at
// once: the server never waits for (or reads) the rest.
func TestWebOversizedBodyRefusedUnread(t *testing.T) {
	srv := httptest.NewServer(NewWebHandler(testDispatcher, testAuth, nil))
	defer srv.Close()
	for _, c := range []struct {
		auth  string
		limit int
	}{{"X-VPNADMIN-PASSWORD: adminpw", MaxServerAdminBody}, {"X-VPNADMIN-HUBNAME: HUB1\r\nX-VPNADMIN-PASSWORD: hubpass", MaxHubAdminBody}} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /api/ HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: %d\r\n\r\n{\"jsonrpc\"", c.auth, c.limit+1)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("limit %d: no answer before the body was sent: %v", c.limit, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(msg), fmt.Sprint(c.limit)) {
			t.Errorf("limit %d: %s %q, want 413 naming the limit", c.limit, resp.Status, msg)
		}
		conn.Close()
	}
	// Without a Content-Length (chunked), reading stops at the limit.
	body := io.MultiReader(strings.NewReader(`{"jsonrpc":"2.0","id":"1","method":"Test","params":{"A_str":"`), strings.NewReader(strings.Repeat("x", MaxHubAdminBody)))
	req, _ := http.NewRequest("POST", srv.URL+"/api/", body)
	req.Header.Set("X-VPNADMIN-HUBNAME", "HUB1")
	req.Header.Set("X-VPNADMIN-PASSWORD", "hubpass")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over the limit: %s, want 413", resp.Status)
	}
}

// worstBodies are requests just under the server admin's body limit that
// cost the most memory to decode per byte.
func worstBodies() map[string]string {
	fill := func(prefix, item, last, suffix string) string {
		room := MaxServerAdminBody - len(rpcBody("Test", prefix+suffix)) - len(last)
		return rpcBody("Test", prefix+strings.Repeat(item, room/len(item))+last+suffix)
	}
	return map[string]string{
		"numbers":  fill(`{"A_u32":[`, `0,`, `0`, `]}`),
		"objects":  fill(`{"A_u32":[`, `{},`, `{}`, `]}`),
		"arrays":   fill(`{"A_u32":[`, `[],`, `[]`, `]}`),
		"keys":     fill(`{`, `"a_u32":0,`, `"a_u32":0`, `}`),
		"records":  fill(`{"L":[`, `{"a_u32":0},`, `{"a_u32":0}`, `]}`),
		"strings":  fill(`{"A_str":[`, `"",`, `""`, `]}`),
		"base64":   fill(`{"A_bin":"`, `AAAA`, ``, `"}`),
		"under":    rpcBody("Test", `{"A_u32":[`+strings.Repeat("0,", MaxJSONValues-3)+`0]}`),
		"escapes":  fill(`{"A_str":"`, `\u00e9`, ``, `"}`),
		"bigstr":   fill(`{"A_str":"`, `x`, ``, `"}`),
		"nested":   fill(`{"A_u32":[`, `[[[[[[[[0]]]]]]]],`, `0`, `]}`),
		"ipfields": fill(`{"L":[`, `{"a_ip":"::1"},`, `{"a_ip":"::1"}`, `]}`),
	}
}

// peakHeap runs f and returns the largest growth of the Go heap seen
// meanwhile, sampled every millisecond.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > base.HeapAlloc && m.HeapAlloc-base.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc - base.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak.Load()
}

// The memory of decoding is bounded whatever the body: one worst-case
// request under the limit, then several at once (they take turns). The
// figures are logged (go test -v -run TestWebDecodePeakHeap).
func TestWebDecodePeakHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates some hundred MB")
	}
	// Limits with room for the garbage collector's pacing (the heap may grow to
	// twice what is live before a collection).
	const oneLimit, manyLimit = 128 << 20, 384 << 20
	// A method that answers nothing: only the request's cost is measured.
	h := NewWebHandler(DispatcherFunc(func(context.Context, Caller, string, *pack.Pack) (*pack.Pack, error) { return nil, nil }), testAuth, nil)
	post := func(body string) int {
		r := httptest.NewRequest("POST", "/api/", strings.NewReader(body))
		r.Header.Set("X-VPNADMIN-PASSWORD", "adminpw")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	bodies := worstBodies()
	for name, body := range bodies {
		if raceEnabled && name != "numbers" && name != "keys" {
			continue
		}
		var code int
		peak := peakHeap(func() { code = post(body) })
		t.Logf("%-8s body %5.1f MiB: peak heap +%5.1f MiB (%4.1f x the body)", name, float64(len(body))/(1<<20), float64(peak)/(1<<20), float64(peak)/float64(len(body)))
		if code != http.StatusOK {
			t.Errorf("%s: HTTP %d", name, code)
		}
		if peak > oneLimit {
			t.Errorf("%s: decoding a %d-byte body took the heap up by %d MiB, over %d MiB", name, len(body), peak>>20, oneLimit>>20)
		}
	}
	body := bodies["numbers"]
	var wg sync.WaitGroup
	var codes [8]int
	peak := peakHeap(func() {
		for i := range codes {
			wg.Go(func() { codes[i] = post(body) })
		}
		wg.Wait()
	})
	t.Logf("%d such requests at once: peak heap +%5.1f MiB, answers %v", len(codes), float64(peak)/(1<<20), codes)
	if peak > manyLimit {
		t.Errorf("%d requests at once took the heap up by %d MiB, over %d MiB", len(codes), peak>>20, manyLimit>>20)
	}
}

// Only maxDecodes requests are decoded at once; one that finds no turn
// within the wait is answered 503, and one that finds it is served.
func TestWebDecodeSlots(t *testing.T) {
	h := NewWebHandler(testDispatcher, testAuth, nil).(*webHandler)
	h.slotWait = 200 * time.Millisecond
	for range maxDecodes {
		h.decodes <- struct{}{}
	}
	w, _ := doWebWith(t, h, webReq{method: "POST", target: "/api/", body: rpcBody("Test", `{"IntValue_u32":1}`), header: serverAdmin})
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("no decoding slot free: %d, want 503 with Retry-After", w.Code)
	}
	time.AfterFunc(50*time.Millisecond, func() { <-h.decodes })
	if w, env := doWebWith(t, h, webReq{method: "POST", target: "/api/", body: rpcBody("Test", `{"IntValue_u32":1}`), header: serverAdmin}); w.Code != 200 || env["result"] == nil {
		t.Errorf("a slot freed during the wait: %d %v", w.Code, env)
	}
	// Large bodies take turns too, small ones do not wait for them.
	for range maxLargeBodies {
		h.largeBodies <- struct{}{}
	}
	<-h.decodes
	if w, _ := doWebWith(t, h, webReq{method: "POST", target: "/api/", body: rpcBody("Test", `{"IntValue_u32":1}`), header: serverAdmin}); w.Code != 200 {
		t.Errorf("small body while large ones are read: %d", w.Code)
	}
	big := rpcBody("Test", `{"StrValue_str":"`+strings.Repeat("x", smallBody)+`"}`)
	if w, _ := doWebWith(t, h, webReq{method: "POST", target: "/api/", body: big, header: serverAdmin}); w.Code != http.StatusServiceUnavailable {
		t.Errorf("large body with no slot: %d, want 503", w.Code)
	}
}

// A hub administrator cannot take every keep-alive place of the JSON-RPC
// API, from many sources or from one: a quarter of the places stays for the
// server administrator, a hub takes at most a quarter, a source at most
// webSlotsPerSource. Before, the first 64 authenticated connections of
// anyone took them all and the server administrator got 503.
func TestWebSlotsShares(t *testing.T) {
	const max = 64
	var s WebSlots
	src := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 4, byte(i >> 8), byte(i)}) }
	take := func(c Caller, n int) (got int, releases []func()) {
		for range n {
			if r, ok := s.Take(c, max); ok {
				got++
				releases = append(releases, r)
			}
		}
		return got, releases
	}
	// One hub from 70 sources (the red team's attack).
	var all []func()
	for i := range 70 {
		if r, ok := s.Take(Caller{Hub: "HA", Remote: src(i)}, max); ok {
			all = append(all, r)
		}
	}
	if len(all) != max/4 {
		t.Errorf("hub HA from 70 sources took %d places, want %d", len(all), max/4)
	}
	// One source of another hub.
	if got, rs := take(Caller{Hub: "HB", Remote: src(1000)}, 20); got != webSlotsPerSource {
		t.Errorf("hub HB from one source took %d places, want %d", got, webSlotsPerSource)
	} else {
		all = append(all, rs...)
	}
	// Other hubs fill what hub administrators may hold, then no more.
	for h := range 10 {
		for i := range 20 {
			if r, ok := s.Take(Caller{Hub: fmt.Sprintf("H%d", h), Remote: src(2000 + 20*h + i)}, max); ok {
				all = append(all, r)
			}
		}
	}
	if len(all) != max-max/4 {
		t.Errorf("hub administrators took %d places, want %d", len(all), max-max/4)
	}
	// The server administrator still has his quarter, and no more.
	got, admin := take(Caller{ServerAdmin: true, Remote: src(1)}, max)
	if got != max/4 {
		t.Errorf("server administrator got %d places, want %d", got, max/4)
	}
	// Places come back, once each.
	for _, r := range append(all, admin...) {
		r()
		r()
	}
	if got, _ := take(Caller{ServerAdmin: true, Remote: src(1)}, max+1); got != max {
		t.Errorf("after all were released the server administrator got %d places, want %d", got, max)
	}
}
