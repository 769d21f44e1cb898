// Package pack implements SoftEther's PACK: the binary container of named,
// typed value arrays that every handshake message and admin RPC is made of.
//
// The encoding follows the real SoftEther writer byte for byte (elements
// sorted case-insensitively by name, "pencore" padding last) and the decoder
// enforces the real reader's limits, but with clear errors and without
// panics or unbounded allocations on hostile input.
package pack

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Type is the wire type of an element's values.
type Type uint32

// The five value types of the PACK format.
const (
	TypeInt    Type = 0 // u32
	TypeData   Type = 1 // byte string
	TypeStr    Type = 2 // 8-bit string, no terminator
	TypeUniStr Type = 3 // UTF-8 string written with a trailing NUL
	TypeInt64  Type = 4 // u64
)

// String returns the SoftEther name of the type.
func (t Type) String() string {
	switch t {
	case TypeInt:
		return "INT"
	case TypeData:
		return "DATA"
	case TypeStr:
		return "STR"
	case TypeUniStr:
		return "UNISTR"
	case TypeInt64:
		return "INT64"
	}
	return "Type(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// Limits of the real reader (64-bit builds); Decode enforces them.
const (
	MaxElements     = 262144    // elements per PACK
	MaxValues       = 262144    // values per element
	MaxValueSize    = 384 << 20 // bytes per DATA/STR/UNISTR value
	MaxNameLen      = 63        // bytes per element name
	pencoreName     = "pencore"
	maxPencoreBytes = 999
)

// Element is one named, typed array of values. Only the slice that belongs
// to Type is used; a stored element always has at least one value.
type Element struct {
	Name  string
	Type  Type
	Ints  []uint64 // TypeInt (uint32 range) and TypeInt64 values
	Blobs [][]byte // TypeData values
	Strs  []string // TypeStr and TypeUniStr values (UniStr stored without its trailing NUL)
}

// Len returns the number of values of the element's type.
func (e *Element) Len() int {
	switch e.Type {
	case TypeInt, TypeInt64:
		return len(e.Ints)
	case TypeData:
		return len(e.Blobs)
	case TypeStr, TypeUniStr:
		return len(e.Strs)
	}
	return 0
}

// Pack is a SoftEther PACK: named typed elements, names case-insensitive.
// The zero value is an empty PACK ready to use. A Pack is not safe for
// concurrent modification.
type Pack struct {
	// elems is kept sorted with compareNames, so lookups are binary
	// searches and Encode needs no sorting.
	elems []Element
}

// New returns an empty PACK.
func New() *Pack { return &Pack{} }

// cleanName returns name as the real implementation stores it: a C string
// in a 64-byte buffer, so it ends at the first NUL and keeps at most 63 bytes.
func cleanName(name string) string {
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if len(name) > MaxNameLen {
		name = name[:MaxNameLen]
	}
	return name
}

// cleanStr returns s as the real implementation stores a STR or UNISTR
// value: a C string (ends at the first NUL) with leading and trailing spaces
// and tabs trimmed. Both the real writer and reader do this.
func cleanStr(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return strings.Trim(s, " \t")
}

// compareNames orders names like the real writer's StrCmpi: bytes compared
// after upper-casing a-z, as signed chars, with the end of the shorter name
// acting as a NUL. Two names compare equal exactly when they differ only in
// the case of ASCII letters.
func compareNames(a, b string) int {
	for i := 0; ; i++ {
		var ca, cb int8
		if i < len(a) {
			ca = int8(upper(a[i]))
		}
		if i < len(b) {
			cb = int8(upper(b[i]))
		}
		switch {
		case ca < cb:
			return -1
		case ca > cb:
			return 1
		case i >= len(a) || i >= len(b):
			return 0
		}
	}
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// find returns the position of the element named name (already cleaned) or
// where it would be inserted.
func (p *Pack) find(name string) (int, bool) {
	return slices.BinarySearchFunc(p.elems, name, func(e Element, n string) int {
		return compareNames(e.Name, n)
	})
}

// get returns the element named name, or nil.
func (p *Pack) get(name string) *Element {
	if i, ok := p.find(cleanName(name)); ok {
		return &p.elems[i]
	}
	return nil
}

// typed returns the element named name if it has type t, like the real
// reader's type-checked GetElement; otherwise nil.
func (p *Pack) typed(name string, t Type) *Element {
	if e := p.get(name); e != nil && e.Type == t {
		return e
	}
	return nil
}

// set stores e (already validated and cleaned), replacing an element of the
// same name.
func (p *Pack) set(e Element) {
	i, ok := p.find(e.Name)
	if ok {
		p.elems[i] = e
		return
	}
	p.elems = slices.Insert(p.elems, i, e)
}

// AddInt stores an INT element with one value.
func (p *Pack) AddInt(name string, v uint32) {
	p.set(Element{Name: cleanName(name), Type: TypeInt, Ints: []uint64{uint64(v)}})
}

// AddInts stores an INT array. An empty v removes the element, because a
// PACK cannot carry an element without values.
func (p *Pack) AddInts(name string, v []uint32) {
	if len(v) == 0 {
		p.Delete(name)
		return
	}
	ints := make([]uint64, len(v))
	for i, x := range v {
		ints[i] = uint64(x)
	}
	p.set(Element{Name: cleanName(name), Type: TypeInt, Ints: ints})
}

// AddInt64 stores an INT64 element with one value.
func (p *Pack) AddInt64(name string, v uint64) {
	p.set(Element{Name: cleanName(name), Type: TypeInt64, Ints: []uint64{v}})
}

// AddBool stores a bool as an INT 0 or 1.
func (p *Pack) AddBool(name string, v bool) {
	var i uint32
	if v {
		i = 1
	}
	p.AddInt(name, i)
}

// AddData stores a DATA element holding a copy of v (which may be empty).
func (p *Pack) AddData(name string, v []byte) {
	p.set(Element{Name: cleanName(name), Type: TypeData, Blobs: [][]byte{bytes.Clone(nonNil(v))}})
}

// AddStr stores a STR element. Like the real writer, the value ends at the
// first NUL and leading/trailing spaces and tabs are trimmed.
func (p *Pack) AddStr(name string, v string) {
	p.set(Element{Name: cleanName(name), Type: TypeStr, Strs: []string{cleanStr(v)}})
}

// AddStrs stores a STR array (values cleaned as in AddStr). An empty v
// removes the element.
func (p *Pack) AddStrs(name string, v []string) {
	p.addStrs(name, TypeStr, v)
}

// AddUniStr stores a UNISTR element (value cleaned as in AddStr).
func (p *Pack) AddUniStr(name string, v string) {
	p.set(Element{Name: cleanName(name), Type: TypeUniStr, Strs: []string{cleanStr(v)}})
}

func (p *Pack) addStrs(name string, t Type, v []string) {
	if len(v) == 0 {
		p.Delete(name)
		return
	}
	strs := make([]string, len(v))
	for i, s := range v {
		strs[i] = cleanStr(s)
	}
	p.set(Element{Name: cleanName(name), Type: t, Strs: strs})
}

// AddElement stores a copy of e, cleaning its name and strings as the other
// adders do. An element without values removes any element of that name.
// It panics if e.Type is unknown or a TypeInt value exceeds 32 bits: both
// are programming errors that would otherwise produce a PACK the real
// reader rejects.
func (p *Pack) AddElement(e Element) {
	c := Element{Name: cleanName(e.Name), Type: e.Type}
	switch e.Type {
	case TypeInt, TypeInt64:
		for _, v := range e.Ints {
			if e.Type == TypeInt && v > 0xFFFFFFFF {
				panic(fmt.Sprintf("pack: AddElement %q: INT value %d exceeds 32 bits", e.Name, v))
			}
		}
		c.Ints = slices.Clone(e.Ints)
	case TypeData:
		c.Blobs = make([][]byte, len(e.Blobs))
		for i, b := range e.Blobs {
			c.Blobs[i] = bytes.Clone(nonNil(b))
		}
	case TypeStr, TypeUniStr:
		c.Strs = make([]string, len(e.Strs))
		for i, s := range e.Strs {
			c.Strs[i] = cleanStr(s)
		}
	default:
		panic(fmt.Sprintf("pack: AddElement %q: unknown type %d", e.Name, e.Type))
	}
	if c.Len() == 0 {
		p.Delete(e.Name)
		return
	}
	p.set(c)
}

// nonNil makes empty DATA values non-nil so decoded and added values look
// alike.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// AddIP stores ip with the four-element "PackAddIp" encoding: name (INT, the
// IPv4 address with the byte-order quirk: a.b.c.d is written d c b a),
// name@ipv6_bool (INT), name@ipv6_array (DATA, 16 bytes; all zero for IPv4,
// as 5.01 writes it) and name@ipv6_scope_id (INT, the numeric zone or 0).
// An invalid ip is written as 0.0.0.0, the real programs' "no address".
func (p *Pack) AddIP(name string, ip netip.Addr) {
	ip = ip.Unmap()
	var (
		v4, isV6, scope uint32
		v6              [16]byte
	)
	switch {
	case ip.Is4():
		a := ip.As4()
		v4 = binary.LittleEndian.Uint32(a[:])
	case ip.Is6():
		isV6 = 1
		v6 = ip.As16()
		if z, err := strconv.ParseUint(ip.Zone(), 10, 32); err == nil {
			scope = uint32(z)
		}
	}
	p.AddInt(name, v4)
	p.AddInt(name+"@ipv6_bool", isV6)
	p.AddData(name+"@ipv6_array", v6[:])
	p.AddInt(name+"@ipv6_scope_id", scope)
}

// AddIPs stores a column of addresses as the real PackAddIpEx does for
// each index: AddIP's four elements, one value per address.
func (p *Pack) AddIPs(name string, ips []netip.Addr) {
	if len(ips) == 0 {
		return // as the real writer: a column without values is no element
	}
	v4, isV6, scope := make([]uint32, len(ips)), make([]uint32, len(ips)), make([]uint32, len(ips))
	v6 := make([][]byte, len(ips))
	for i, ip := range ips {
		one := New()
		one.AddIP(name, ip)
		v4[i], isV6[i], scope[i] = one.Int(name), one.Int(name+"@ipv6_bool"), one.Int(name+"@ipv6_scope_id")
		v6[i] = one.Data(name + "@ipv6_array")
	}
	p.AddInts(name, v4)
	p.AddInts(name+"@ipv6_bool", isV6)
	p.set(Element{Name: cleanName(name + "@ipv6_array"), Type: TypeData, Blobs: v6})
	p.AddInts(name+"@ipv6_scope_id", scope)
}

// IPAt reads value i of an address column (the real PackAddIpEx's four
// parallel elements; AddIP writes value 0).
func (p *Pack) IPAt(name string, i int) netip.Addr {
	if i < 0 {
		return netip.Addr{}
	}
	if p.IntAt(name+"@ipv6_bool", i) != 0 {
		e := p.typed(name+"@ipv6_array", TypeData)
		if e == nil || i >= len(e.Blobs) || len(e.Blobs[i]) != 16 {
			return netip.Addr{}
		}
		ip := netip.AddrFrom16([16]byte(e.Blobs[i]))
		if s := p.IntAt(name+"@ipv6_scope_id", i); s != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(s), 10))
		}
		return ip
	}
	e := p.typed(name, TypeInt)
	if e == nil || i >= len(e.Ints) {
		return netip.Addr{}
	}
	var a [4]byte
	binary.LittleEndian.PutUint32(a[:], uint32(e.Ints[i]))
	return netip.AddrFrom4(a)
}

// IP reads an address stored by AddIP (or by the real PackAddIp): the IPv6
// array when name@ipv6_bool is non-zero, else the IPv4 INT. It returns the
// invalid Addr when the element is absent or malformed.
func (p *Pack) IP(name string) netip.Addr { return p.IPAt(name, 0) }

// AddPencore adds the "pencore" padding element the real peers put in every
// PACK sent over HTTP: DATA of 0..999 random bytes (uniform length). It is
// always encoded last.
func (p *Pack) AddPencore() {
	pad := make([]byte, mrand.IntN(maxPencoreBytes+1))
	rand.Read(pad)
	p.set(Element{Name: pencoreName, Type: TypeData, Blobs: [][]byte{pad}})
}

// Int returns the first value of the INT element name, or 0 when it is
// absent or has another type.
func (p *Pack) Int(name string) uint32 { return p.IntAt(name, 0) }

// IntAt returns value i of the INT element name, or 0 when it is absent,
// has another type or fewer values.
func (p *Pack) IntAt(name string, i int) uint32 {
	if e := p.typed(name, TypeInt); e != nil && 0 <= i && i < len(e.Ints) {
		return uint32(e.Ints[i])
	}
	return 0
}

// Int64 returns the first value of the INT64 element name, or 0.
func (p *Pack) Int64(name string) uint64 {
	if e := p.typed(name, TypeInt64); e != nil {
		return e.Ints[0]
	}
	return 0
}

// Bool reports whether the INT element name is non-zero.
func (p *Pack) Bool(name string) bool { return p.Int(name) != 0 }

// Data returns the first value of the DATA element name, or nil. The slice
// is the Pack's own storage: do not modify it.
func (p *Pack) Data(name string) []byte {
	if e := p.typed(name, TypeData); e != nil {
		return e.Blobs[0]
	}
	return nil
}

// Str returns the first value of the STR element name, or "".
func (p *Pack) Str(name string) string { return p.StrAt(name, 0) }

// StrAt returns value i of the STR element name, or "".
func (p *Pack) StrAt(name string, i int) string {
	if e := p.typed(name, TypeStr); e != nil && 0 <= i && i < len(e.Strs) {
		return e.Strs[i]
	}
	return ""
}

// UniStr returns the first value of the UNISTR element name, or "".
func (p *Pack) UniStr(name string) string {
	if e := p.typed(name, TypeUniStr); e != nil {
		return e.Strs[0]
	}
	return ""
}

// Has reports whether an element named name exists, whatever its type.
func (p *Pack) Has(name string) bool { return p.get(name) != nil }

// Count returns the number of values of the element name, 0 if absent.
func (p *Pack) Count(name string) int {
	if e := p.get(name); e != nil {
		return e.Len()
	}
	return 0
}

// Lookup returns the element named name. Its slices are the Pack's own
// storage: do not modify them.
func (p *Pack) Lookup(name string) (Element, bool) {
	if e := p.get(name); e != nil {
		return *e, true
	}
	return Element{}, false
}

// Elements returns the elements in encoding order (sorted, "pencore" last).
// The slices inside are the Pack's own storage: do not modify them.
func (p *Pack) Elements() []Element {
	out := make([]Element, 0, len(p.elems))
	pen := p.pencoreIndex()
	for i, e := range p.elems {
		if i != pen {
			out = append(out, e)
		}
	}
	if pen >= 0 {
		out = append(out, p.elems[pen])
	}
	return out
}

// Len returns the number of elements.
func (p *Pack) Len() int { return len(p.elems) }

// Delete removes the element named name, if present.
func (p *Pack) Delete(name string) {
	if i, ok := p.find(cleanName(name)); ok {
		p.elems = slices.Delete(p.elems, i, i+1)
	}
}

// pencoreIndex returns the index of the padding element, or -1.
func (p *Pack) pencoreIndex() int {
	if i, ok := p.find(pencoreName); ok {
		return i
	}
	return -1
}
