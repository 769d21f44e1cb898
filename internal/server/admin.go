package server

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// right is who may call a method (docs/protocol/admin.md#rights, docs/protocol/admin.md#method-table).
type right int

const (
	rightAny    right = iota // A: any authenticated administrator
	rightHub                 // H: server admin, or the admin of the hub named in the request
	rightServer              // S: server administrator only
)

// adminMethod is one row of the method table.
type adminMethod struct {
	right  right
	hubKey string // for rightHub: the element naming the hub ("HubName" unless stated)
	write  bool   // changes the configuration (for the admin log)
	// fn only translates: it decodes the request, calls the typed
	// operations of the configuration's owner (internal/control), which
	// lock, validate, save and apply, or reads what runs, and encodes the
	// answer. It takes no lock and never sees the configuration tree.
	fn func(a *adminCall) (*pack.Pack, error)
}

// adminCall is one method invocation.
type adminCall struct {
	ctx context.Context
	s   *Server
	c   admin.Caller
	in  *pack.Pack
	hub string // the hub named in the request (rightHub methods)
}

// actor is who makes the call, for the owner's operations.
func (a *adminCall) actor() control.Actor {
	return control.Actor{ServerAdmin: a.c.ServerAdmin, Hub: a.c.Hub}
}

// adminState is the server's state that only the administration uses.
type adminState struct {
	started time.Time
	serving bool // Serve is running: listeners created by admins are opened
}

// dispatcher runs the method table for the admin front-ends.
type dispatcher struct{ s *Server }

// Dispatcher returns the administration method table (docs/protocol/admin.md#method-table) that the binary RPC, JSON-RPC and the CLI all call. Every change is
// saved to the configuration file before the call returns.
func (s *Server) Dispatcher() admin.Dispatcher { return dispatcher{s} }

// Call runs one method for caller c. A change is saved before Call
// returns; when the save fails (a full disk) or the method fails after
// changing something, the configuration stays or is put back as it was
// before (see control.Owner) and what runs follows it: the caller gets
// error 23 and the log says why the change was not kept.
func (d dispatcher) Call(ctx context.Context, c admin.Caller, method string, in *pack.Pack) (*pack.Pack, error) {
	s := d.s
	if in == nil {
		in = pack.New()
	}
	m, ok := adminMethods[upperASCII(method)]
	if !ok {
		s.adminLog(c, method, "", false, vpnerr.NotSupported)
		return nil, vpnerr.NotSupported
	}
	a := &adminCall{ctx: ctx, s: s, c: c, in: in}
	out, err := a.runSafely(m)
	var saveErr *control.SaveError
	if errors.As(err, &saveErr) {
		s.log.Error("admin change not kept", "method", method, "err", saveErr.Err)
		out, err = nil, vpnerr.InternalError
	}
	s.adminLog(c, method, a.hub, m.write, err)
	return out, err
}

// runSafely runs the method and turns a panic into an internal error:
// one bad request must not take the server down. No lock can be left held
// (the owner's operations release theirs with defer).
func (a *adminCall) runSafely(m adminMethod) (out *pack.Pack, err error) {
	defer func() {
		if v := recover(); v != nil {
			a.s.log.Error("admin method failed with an internal error; the server carries on", "hub", a.hub, "panic", v, "stack", string(debug.Stack()))
			out, err = nil, vpnerr.InternalError
		}
	}()
	return a.run(m)
}

func (a *adminCall) run(m adminMethod) (*pack.Pack, error) {
	switch m.right {
	case rightServer:
		if !a.c.ServerAdmin {
			return nil, vpnerr.NotEnoughRight
		}
	case rightHub:
		key := m.hubKey
		if key == "" {
			key = "HubName"
		}
		a.hub = a.in.Str(key)
		if !a.c.ServerAdmin && !strings.EqualFold(a.hub, a.c.Hub) {
			return nil, vpnerr.NotEnoughRight
		}
		if a.hub == "" {
			return nil, vpnerr.InvalidParameter
		}
	}
	return m.fn(a)
}

// adminLog records an admin action with who did it. Reads that succeed
// are debug noise; changes and refusals are always logged.
func (s *Server) adminLog(c admin.Caller, method, hubName string, write bool, err error) {
	who := "server admin"
	if !c.ServerAdmin {
		who = "hub admin of " + c.Hub
	}
	attrs := []any{"caller", who, "remote", c.Remote.String(), "via", c.Via, "method", method}
	if hubName != "" {
		attrs = append(attrs, "hub", hubName)
	}
	level := slog.LevelDebug
	if write {
		level = slog.LevelInfo
	}
	var code vpnerr.Error
	switch {
	case err == nil:
		attrs = append(attrs, "result", "ok")
	case errors.As(err, &code):
		attrs = append(attrs, "result", "error", "code", uint32(code), "err", err.Error())
		level = slog.LevelInfo
		if code == vpnerr.NotEnoughRight || code == vpnerr.AccessDenied {
			level = slog.LevelWarn
		}
	default:
		attrs = append(attrs, "result", "error", "err", err.Error())
		level = slog.LevelWarn
	}
	s.log.Log(context.Background(), level, "admin call", attrs...)
}

// seTime converts t to SoftEther's 64-bit time (Unix ms - 9 h); the zero
// Time is 0.
func seTime(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	ms := t.UnixMilli() - 32400000
	if ms < 0 {
		return 0
	}
	return uint64(ms)
}

// fromSETime converts SoftEther time to a time.Time (0 = zero Time).
func fromSETime(v uint64) time.Time {
	if v == 0 || v > 1<<62 {
		return time.Time{}
	}
	return time.UnixMilli(int64(v) + 32400000).UTC()
}

// isZero reports whether b is empty or all zero bytes ("not supplied").
func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// validName reports whether name uses only the characters SoftEther allows
// in hub and group names: A-Z a-z 0-9 space ( ) - _ # % & . (and @ when
// at is set, as in user names).
func validName(name string, at bool) bool {
	if name == "" || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(" ()-_#%&.", c) >= 0:
		case at && c == '@':
		default:
			return false
		}
	}
	return true
}

// addrOf returns the IP of a net.Addr (invalid if it has none).
func addrOf(a net.Addr) netip.Addr {
	if a == nil {
		return netip.Addr{}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// ipv4Int is the INT form of an IPv4 address used by a few legacy fields
// (a.b.c.d = a | b<<8 | c<<16 | d<<24).
func ipv4Int(a netip.Addr) uint32 {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return binary.LittleEndian.Uint32(b[:])
}

// addTraffic writes SoftEther's traffic block (8 INT64 counters) with an
// optional prefix ("Ex." inside list records is written by list.traffic).
func addTraffic(p *pack.Pack, st hub.Stats) {
	for _, d := range []struct {
		name string
		t    hub.Traffic
	}{{"Recv.", st.Recv}, {"Send.", st.Send}} {
		p.AddInt64(d.name+"BroadcastBytes", d.t.BroadcastBytes)
		p.AddInt64(d.name+"BroadcastCount", d.t.BroadcastCount)
		p.AddInt64(d.name+"UnicastBytes", d.t.UnicastBytes)
		p.AddInt64(d.name+"UnicastCount", d.t.UnicastCount)
	}
}

// list builds the columns of a record group: every field becomes one
// array element holding one value per record, as the real writer does.
// A list without records adds nothing.
type list struct {
	p     *pack.Pack
	n     int
	cols  map[string]*pack.Element
	order []string
}

func newList(p *pack.Pack) *list { return &list{p: p, cols: map[string]*pack.Element{}} }

// row starts the next record.
func (l *list) row() { l.n++ }

func (l *list) col(name string, t pack.Type) *pack.Element {
	e := l.cols[name]
	if e == nil {
		e = &pack.Element{Name: name, Type: t}
		l.cols[name] = e
		l.order = append(l.order, name)
	}
	return e
}

func (l *list) int(name string, v uint32) {
	e := l.col(name, pack.TypeInt)
	e.Ints = append(e.Ints, uint64(v))
}

func (l *list) bool(name string, v bool) {
	var i uint32
	if v {
		i = 1
	}
	l.int(name, i)
}

func (l *list) int64(name string, v uint64) {
	e := l.col(name, pack.TypeInt64)
	e.Ints = append(e.Ints, v)
}

func (l *list) time(name string, t time.Time) { l.int64(name, seTime(t)) }

func (l *list) str(name, v string) {
	e := l.col(name, pack.TypeStr)
	e.Strs = append(e.Strs, v)
}

func (l *list) uni(name, v string) {
	e := l.col(name, pack.TypeUniStr)
	e.Strs = append(e.Strs, v)
}

func (l *list) data(name string, v []byte) {
	e := l.col(name, pack.TypeData)
	e.Blobs = append(e.Blobs, v)
}

// ip writes an IP field as the four parallel arrays of docs/protocol/admin.md#ip-fields.
func (l *list) ip(name string, a netip.Addr) {
	a = a.Unmap()
	var v6 [16]byte
	isV6 := a.Is6()
	if isV6 {
		v6 = a.As16()
	}
	l.int(name, ipv4Int(a))
	l.bool(name+"@ipv6_bool", isV6)
	l.data(name+"@ipv6_array", v6[:])
	l.int(name+"@ipv6_scope_id", 0)
}

func (l *list) traffic(st hub.Stats) {
	for _, d := range []struct {
		name string
		t    hub.Traffic
	}{{"Ex.Recv.", st.Recv}, {"Ex.Send.", st.Send}} {
		l.int64(d.name+"BroadcastBytes", d.t.BroadcastBytes)
		l.int64(d.name+"BroadcastCount", d.t.BroadcastCount)
		l.int64(d.name+"UnicastBytes", d.t.UnicastBytes)
		l.int64(d.name+"UnicastCount", d.t.UnicastCount)
	}
}

// done adds the columns to the PACK.
func (l *list) done() {
	for _, name := range l.order {
		l.p.AddElement(*l.cols[name])
	}
}

// echo returns a copy of the request without function_name, the usual
// answer of a setter.
func echo(in *pack.Pack) *pack.Pack {
	out := pack.New()
	for _, e := range in.Elements() {
		if strings.EqualFold(e.Name, "function_name") || strings.EqualFold(e.Name, "pencore") {
			continue
		}
		out.AddElement(e)
	}
	return out
}

// hubStatsSum adds up traffic counters of several hubs.
type hubStatsSum struct{ hub.Stats }

func (t *hubStatsSum) add(st hub.Stats) {
	for _, d := range []struct{ dst, src *hub.Traffic }{{&t.Send, &st.Send}, {&t.Recv, &st.Recv}} {
		d.dst.BroadcastBytes += d.src.BroadcastBytes
		d.dst.BroadcastCount += d.src.BroadcastCount
		d.dst.UnicastBytes += d.src.UnicastBytes
		d.dst.UnicastCount += d.src.UnicastCount
	}
}
