package admin

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// seTimeOffset is what SoftEther subtracts from Unix milliseconds in its
// 64-bit times (a fixed 9 hours, docs/protocol/admin.md#se-time); JSON shows the real UTC time.
const seTimeOffset = 32400000

// maxJSONDepth bounds the nesting of a JSON request; SoftEther's own
// requests nest two levels (params, a list of records).
const maxJSONDepth = 32

// MaxJSONValues bounds the values (numbers, strings, objects, arrays...) of
// one JSON request. A decoded value costs tens of bytes however short its
// text ("0," is two), so the body size alone does not bound the memory of
// decoding. Legitimate requests hold far fewer: the largest are access
// lists, about 40 values per rule, so this allows some 13,000 rules in one
// SetAccessList (vpncmd's binary RPC takes SoftEther's 32,768); a
// configuration file (SetConfig) is one string.
const MaxJSONValues = 1 << 19

// PackToJSON renders p as a JSON object per docs/protocol/admin.md#pack-to-json,
// without knowledge of the method it answers: arrays become JSON arrays of
// scalars. Use MethodResultJSON to get the lists of records of a method's
// result.
func PackToJSON(p *pack.Pack) ([]byte, error) { return MethodResultJSON("", p) }

// MethodResultJSON renders the result PACK of method as the JSON object the
// real server puts in "result": type-suffixed keys, IP quartets as one _ip
// key, lists of records grouped under their list name (an empty list
// still appears as []), group lists first.
func MethodResultJSON(method string, p *pack.Pack) ([]byte, error) {
	return json.Marshal(resultObject(method, p))
}

// jsonObj is a JSON object that keeps its key order.
type jsonObj []jsonKV

type jsonKV struct {
	Key string
	Val any
}

// MarshalJSON writes the keys in order.
func (o jsonObj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.Key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(kv.Val)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// ipCompanions are the helper elements of an IP field (docs/protocol/admin.md#ip-fields).
var ipCompanions = [...]string{"@ipv6_bool", "@ipv6_array", "@ipv6_scope_id"}

// ipBase returns the IP field name of a helper element, or "".
func ipBase(name string) string {
	for _, s := range ipCompanions {
		if len(name) > len(s) && strings.EqualFold(name[len(name)-len(s):], s) {
			return name[:len(name)-len(s)]
		}
	}
	return ""
}

func resultObject(method string, p *pack.Pack) jsonObj {
	elems := p.Elements()
	isIP := map[string]bool{}
	for _, e := range elems {
		if strings.HasSuffix(strings.ToLower(e.Name), "@ipv6_bool") {
			isIP[strings.ToUpper(ipBase(e.Name))] = true
		}
	}
	g, hasGroup := groupOf(method)
	var top jsonObj
	var cols []pack.Element
	rows := 0
	for _, e := range elems {
		switch {
		case strings.EqualFold(e.Name, "pencore"), strings.EqualFold(e.Name, "function_name"):
			continue
		case ipBase(e.Name) != "" && isIP[strings.ToUpper(ipBase(e.Name))]:
			continue // rendered with its base element
		case hasGroup && g.has(e.Name):
			cols = append(cols, e)
			rows = max(rows, e.Len())
			continue
		}
		ip := isIP[strings.ToUpper(e.Name)]
		key := e.Name + suffix(e, ip)
		if e.Len() == 1 && !isArrayField(method, e.Name) {
			top = append(top, jsonKV{key, value(p, e, 0, ip)})
			continue
		}
		arr := make([]any, e.Len())
		for i := range arr {
			arr[i] = value(p, e, i, ip)
		}
		top = append(top, jsonKV{key, arr})
	}
	if !hasGroup {
		return top
	}
	recs := make([]jsonObj, rows)
	for i := range recs {
		rec := jsonObj{}
		for _, e := range cols {
			if i < e.Len() {
				ip := isIP[strings.ToUpper(e.Name)]
				rec = append(rec, jsonKV{e.Name + suffix(e, ip), value(p, e, i, ip)})
			}
		}
		recs[i] = rec
	}
	return append(jsonObj{{g.Name, recs}}, top...)
}

// suffix returns the JSON type suffix of element e.
func suffix(e pack.Element, ip bool) string {
	switch e.Type {
	case pack.TypeInt:
		switch {
		case ip:
			return "_ip"
		case inSet(boolFields, e.Name):
			return "_bool"
		}
		return "_u32"
	case pack.TypeInt64:
		if inSet(timeFields, e.Name) {
			return "_dt"
		}
		return "_u64"
	case pack.TypeStr:
		return "_str"
	case pack.TypeUniStr:
		return "_utf"
	}
	return "_bin"
}

// value returns value i of e as a JSON value.
func value(p *pack.Pack, e pack.Element, i int, ip bool) any {
	switch e.Type {
	case pack.TypeInt:
		switch {
		case ip:
			return ipAt(p, e.Name, i).String()
		case inSet(boolFields, e.Name):
			return e.Ints[i] != 0
		}
		return e.Ints[i]
	case pack.TypeInt64:
		if inSet(timeFields, e.Name) {
			return formatSETime(e.Ints[i])
		}
		return e.Ints[i]
	case pack.TypeStr, pack.TypeUniStr:
		return e.Strs[i]
	}
	return base64.StdEncoding.EncodeToString(e.Blobs[i])
}

// ipAt reads value i of the IP field name (docs/protocol/admin.md#ip-fields): the IPv6 array when
// name@ipv6_bool says so, else the IPv4 INT with its octets in memory order.
func ipAt(p *pack.Pack, name string, i int) netip.Addr {
	if p.IntAt(name+"@ipv6_bool", i) != 0 {
		if a, ok := p.Lookup(name + "@ipv6_array"); ok && a.Type == pack.TypeData && i < len(a.Blobs) && len(a.Blobs[i]) == 16 {
			return netip.AddrFrom16([16]byte(a.Blobs[i]))
		}
		return netip.IPv6Unspecified()
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], p.IntAt(name, i))
	return netip.AddrFrom4(b)
}

// formatSETime renders an SE-time as RFC 3339 UTC with milliseconds.
func formatSETime(se uint64) string {
	ms := int64(min(se, 1<<62)) + seTimeOffset
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// parseSETime reads a _dt string the way the real server does: the first
// 19 characters are the date and time, an optional fraction follows, and
// anything else (a Z, an offset) is ignored. Unparsable text is time 0.
func parseSETime(s string) uint64 {
	s = strings.TrimSpace(s)
	if len(s) < 19 {
		return 0
	}
	t, err := time.Parse("2006-01-02T15:04:05", s[:19])
	if err != nil {
		if t, err = time.Parse("2006-01-02 15:04:05", s[:19]); err != nil {
			return 0
		}
	}
	ms := t.UnixMilli()
	if rest := s[19:]; strings.HasPrefix(rest, ".") {
		digits := rest[1:]
		n := 0
		for n < len(digits) && '0' <= digits[n] && digits[n] <= '9' {
			n++
		}
		frac := (digits[:n] + "000")[:3]
		f, _ := strconv.Atoi(frac)
		ms += int64(f)
	}
	if ms < seTimeOffset {
		return 0
	}
	return uint64(ms - seTimeOffset)
}

// JSONError is a request that is not valid JSON or not an object where one
// is required. The web handler reports it as vpnerr.InvalidParameter.
type JSONError struct{ Reason string }

func (e *JSONError) Error() string { return "JSON-RPC Parse Error: " + e.Reason }

// JSONToPack converts a JSON-RPC "params" object into a request PACK per
// docs/protocol/admin.md#json-to-pack: keys carry a type suffix (_u32 _u64 _bool _str
// _utf _bin _dt _ip; keys without one are ignored), arrays of scalars
// become arrays, arrays of objects become the columns of a list of
// records. Like the real server it accepts only non-negative integer
// numbers; malformed JSON gives a *JSONError.
func JSONToPack(b []byte) (*pack.Pack, error) {
	v, err := decodeJSON(b)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(jsonObj)
	if !ok {
		return nil, &JSONError{"params must be a JSON object"}
	}
	return objectToPack(obj), nil
}

// decodeJSON parses one JSON document (RFC 8259) into jsonObj, []any,
// string, uint64, bool and nil values, keeping key order and duplicate
// keys. It accepts what encoding/json accepts, with encoding/json's
// treatment of bad UTF-8 and lone surrogates (U+FFFD), and only
// non-negative integer numbers. It is written by hand because
// encoding/json's Decoder.Token, the only ordered way there, allocates
// several times per token and reads a few MB/s: a request must cost little
// more memory and time than its values.
func decodeJSON(b []byte) (any, error) {
	d := jsonDecoder{b: b, budget: MaxJSONValues}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i < len(d.b) {
		return nil, &JSONError{fmt.Sprintf("unexpected data after the JSON value at offset %d", d.i)}
	}
	return v, nil
}

// jsonDecoder is the state of decodeJSON.
type jsonDecoder struct {
	b      []byte
	i      int
	budget int               // values still allowed (MaxJSONValues)
	keys   map[string]string // interned keys: records repeat theirs
	// The members of the objects and arrays being read, stacked, so that
	// each container is allocated once at its exact size (append would
	// allocate about five times the final size of a large one).
	members  []jsonKV
	elements []any
}

// push appends v to *stack, doubling its capacity when full.
func push[T any](stack *[]T, v T) {
	if len(*stack) == cap(*stack) {
		*stack = slices.Grow(*stack, max(len(*stack), 16))
	}
	*stack = append(*stack, v)
}

// pop removes and returns the stack's entries from base on.
func pop[T any](stack *[]T, base int) []T {
	out := slices.Clone((*stack)[base:])
	clear((*stack)[base:])
	*stack = (*stack)[:base]
	return out
}

// maxInternedKeys bounds the key table; keys beyond it are not shared.
const maxInternedKeys = 1024

func (d *jsonDecoder) errorf(format string, args ...any) error {
	return &JSONError{fmt.Sprintf(format, args...) + fmt.Sprintf(" (offset %d)", d.i)}
}

func (d *jsonDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value reads one value nested depth deep, counting it and its contents
// against the budget.
func (d *jsonDecoder) value(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, &JSONError{fmt.Sprintf("JSON nested deeper than %d levels", maxJSONDepth)}
	}
	if d.budget--; d.budget < 0 {
		return nil, &JSONError{fmt.Sprintf("more than %d JSON values in one request", MaxJSONValues)}
	}
	d.space()
	if d.i >= len(d.b) {
		return nil, &JSONError{"unexpected end of JSON input"}
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.str(false)
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	for _, lit := range [...]struct {
		text string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if bytes.HasPrefix(d.b[d.i:], []byte(lit.text)) {
			d.i += len(lit.text)
			return lit.v, nil
		}
	}
	return nil, d.errorf("invalid character %q looking for a value", d.b[d.i])
}

func (d *jsonDecoder) object(depth int) (any, error) {
	d.i++ // '{'
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return jsonObj{}, nil
	}
	base := len(d.members)
	for {
		d.space()
		if d.i >= len(d.b) {
			return nil, &JSONError{"unexpected end of JSON input"}
		}
		if d.b[d.i] != '"' {
			return nil, d.errorf("invalid character %q looking for an object key", d.b[d.i])
		}
		k, err := d.str(true)
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, d.errorf("missing ':' after an object key")
		}
		d.i++
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		push(&d.members, jsonKV{k.(string), v})
		if done, err := d.next('}'); done || err != nil {
			return jsonObj(pop(&d.members, base)), err
		}
	}
}

func (d *jsonDecoder) array(depth int) (any, error) {
	d.i++ // '['
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return []any{}, nil
	}
	base := len(d.elements)
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		push(&d.elements, v)
		if done, err := d.next(']'); done || err != nil {
			return pop(&d.elements, base), err
		}
	}
}

// next reads the ',' between two members or the closing delimiter.
func (d *jsonDecoder) next(closing byte) (done bool, err error) {
	d.space()
	switch {
	case d.i >= len(d.b):
		return false, &JSONError{"unexpected end of JSON input"}
	case d.b[d.i] == ',':
		d.i++
		return false, nil
	case d.b[d.i] == closing:
		d.i++
		return true, nil
	}
	return false, d.errorf("invalid character %q after a member, want ',' or %q", d.b[d.i], closing)
}

// number reads a JSON number; only those that are integers from 0 to
// 2^64-1 are accepted, as by the real server.
func (d *jsonDecoder) number() (any, error) {
	start := d.i
	digits := func() int {
		n := 0
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.b[d.i] == '-' {
		d.i++
	}
	intStart := d.i
	if n := digits(); n == 0 || n > 1 && d.b[intStart] == '0' {
		return nil, d.errorf("invalid number %q", d.b[start:d.i])
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, d.errorf("invalid number %q", d.b[start:d.i])
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, d.errorf("invalid number %q", d.b[start:d.i])
		}
	}
	text := d.b[start:d.i]
	var n uint64
	for _, c := range text {
		if c < '0' || c > '9' || n > (math.MaxUint64-uint64(c-'0'))/10 {
			return nil, &JSONError{fmt.Sprintf("number %.40s: only non-negative integers up to 2^64-1 are accepted", text)}
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

// str reads a string; key strings are interned.
func (d *jsonDecoder) str(key bool) (any, error) {
	d.i++ // '"'
	start := d.i
	// The common case: no escapes, valid UTF-8, one allocation.
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			raw := d.b[start:d.i]
			d.i++
			if key {
				return d.intern(raw), nil
			}
			return string(raw), nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.i++
	}
	out := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if key {
				return d.intern(out), nil
			}
			return string(out), nil
		case c < 0x20:
			return nil, d.errorf("invalid character %q in a string", c)
		case c == '\\':
			var err error
			if out, err = d.escape(out); err != nil {
				return nil, err
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			out = utf8.AppendRune(out, r) // bad UTF-8 becomes U+FFFD
			d.i += size
		}
	}
	return nil, &JSONError{"unexpected end of JSON input"}
}

// escape appends the character of the escape sequence at d.i to out.
func (d *jsonDecoder) escape(out []byte) ([]byte, error) {
	if d.i+1 >= len(d.b) {
		return nil, &JSONError{"unexpected end of JSON input"}
	}
	c := d.b[d.i+1]
	if r := unescape(c); r != 0 {
		d.i += 2
		return append(out, r), nil
	}
	if c != 'u' {
		return nil, d.errorf("invalid escape sequence \\%c", c)
	}
	r, ok := d.hex4(d.i + 2)
	if !ok {
		return nil, d.errorf("invalid \\u escape")
	}
	d.i += 6
	if utf16.IsSurrogate(r) {
		// A pair makes one character; a lone half is U+FFFD, as in
		// encoding/json.
		r2, ok := rune(-1), false
		if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
			r2, ok = d.hex4(d.i + 2)
		}
		if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
			d.i += 6
			r = dec
		} else {
			r = utf8.RuneError
		}
	}
	return utf8.AppendRune(out, r), nil
}

// unescape is the character of the one-letter escape \c, or 0.
func unescape(c byte) byte {
	switch c {
	case '"', '\\', '/':
		return c
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return 0
}

// hex4 reads the four hex digits at i.
func (d *jsonDecoder) hex4(i int) (rune, bool) {
	if i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// intern returns the key b, shared with earlier equal keys.
func (d *jsonDecoder) intern(b []byte) string {
	if s, ok := d.keys[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.keys == nil {
		d.keys = map[string]string{}
	}
	if len(d.keys) < maxInternedKeys {
		d.keys[s] = s
	}
	return s
}

// typeSuffixes are the key suffixes of docs/protocol/admin.md#json-to-pack, in no particular order.
var typeSuffixes = [...]string{"_bool", "_u32", "_u64", "_str", "_utf", "_bin", "_dt", "_ip"}

// splitKey returns the element name and the lower-case suffix of a key.
func splitKey(key string) (name, suf string, ok bool) {
	for _, s := range typeSuffixes {
		if len(key) > len(s) && strings.EqualFold(key[len(key)-len(s):], s) {
			return key[:len(key)-len(s)], s, true
		}
	}
	return "", "", false
}

// packBuilder collects the elements of a request before they go into a
// PACK, so that a list of records can fill its columns one record at a time.
type packBuilder struct {
	order []string
	elems map[string]*pack.Element
	upper map[string]string // upper-cased names, so that a name repeated in every record is upper-cased once
}

// column returns the element name with n zero values of type t, creating
// (or replacing, if it had another shape) it.
func (b *packBuilder) column(name string, t pack.Type, n int) *pack.Element {
	k, ok := b.upper[name]
	if !ok {
		k = strings.ToUpper(name)
		if len(b.upper) < maxInternedKeys {
			b.upper[name] = k
		}
	}
	if e, ok := b.elems[k]; ok && e.Type == t && e.Len() == n {
		return e
	}
	e := &pack.Element{Name: name, Type: t}
	switch t {
	case pack.TypeInt, pack.TypeInt64:
		e.Ints = make([]uint64, n)
	case pack.TypeData:
		e.Blobs = make([][]byte, n)
		for i := range e.Blobs {
			e.Blobs[i] = []byte{}
		}
	default:
		e.Strs = make([]string, n)
	}
	if _, ok := b.elems[k]; !ok {
		b.order = append(b.order, k)
	}
	b.elems[k] = e
	return e
}

// put stores v (coerced per suffix) as value i of n of the field name.
func (b *packBuilder) put(name, suf string, i, n int, v any) {
	switch suf {
	case "_u32":
		u, ok := toUint(v)
		if ok {
			b.column(name, pack.TypeInt, n).Ints[i] = uint64(uint32(u))
		}
	case "_bool":
		if t, ok := toBool(v); ok {
			var u uint64
			if t {
				u = 1
			}
			b.column(name, pack.TypeInt, n).Ints[i] = u
		}
	case "_u64":
		if u, ok := toUint(v); ok {
			b.column(name, pack.TypeInt64, n).Ints[i] = u
		}
	case "_dt":
		switch x := v.(type) {
		case uint64:
			b.column(name, pack.TypeInt64, n).Ints[i] = x
		case string:
			b.column(name, pack.TypeInt64, n).Ints[i] = parseSETime(x)
		}
	case "_str", "_utf":
		t := pack.TypeStr
		if suf == "_utf" {
			t = pack.TypeUniStr
		}
		if s, ok := toString(v); ok {
			b.column(name, t, n).Strs[i] = s
		}
	case "_bin":
		if s, ok := v.(string); ok {
			b.column(name, pack.TypeData, n).Blobs[i] = decodeBase64(s)
		}
	case "_ip":
		s, _ := v.(string)
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return // unparsable: the field is omitted
		}
		b.putIP(name, i, n, ip)
	}
}

// putIP stores ip as value i of the four elements of an IP field.
func (b *packBuilder) putIP(name string, i, n int, ip netip.Addr) {
	v4 := b.column(name, pack.TypeInt, n)
	is6 := b.column(name+"@ipv6_bool", pack.TypeInt, n)
	arr := b.column(name+"@ipv6_array", pack.TypeData, n)
	scope := b.column(name+"@ipv6_scope_id", pack.TypeInt, n)
	for j, a := range arr.Blobs {
		if len(a) != 16 {
			arr.Blobs[j] = make([]byte, 16)
		}
	}
	ip = ip.Unmap()
	if ip.Is4() {
		a := ip.As4()
		v4.Ints[i] = uint64(binary.LittleEndian.Uint32(a[:]))
		return
	}
	is6.Ints[i] = 1
	a := ip.As16()
	arr.Blobs[i] = a[:]
	if z, err := strconv.ParseUint(ip.Zone(), 10, 32); err == nil {
		scope.Ints[i] = z
	}
}

func objectToPack(obj jsonObj) *pack.Pack {
	b := &packBuilder{elems: map[string]*pack.Element{}, upper: map[string]string{}}
	for _, kv := range obj {
		if arr, ok := kv.Val.([]any); ok && len(arr) > 0 {
			if _, isObj := arr[0].(jsonObj); isObj {
				// A list of records; its own key is irrelevant (docs/protocol/admin.md#json-to-pack rule 4).
				for i, r := range arr {
					rec, _ := r.(jsonObj)
					for _, f := range rec {
						if name, suf, ok := splitKey(f.Key); ok {
							b.put(name, suf, i, len(arr), f.Val)
						}
					}
				}
				continue
			}
		}
		name, suf, ok := splitKey(kv.Key)
		if !ok {
			continue
		}
		switch v := kv.Val.(type) {
		case []any:
			for i, x := range v {
				b.put(name, suf, i, len(v), x)
			}
		case jsonObj, nil:
			// ignored (docs/protocol/admin.md#json-to-pack rule 5)
		default:
			b.put(name, suf, 0, 1, v)
		}
	}
	p := pack.New()
	for _, k := range b.order {
		p.AddElement(*b.elems[k])
	}
	return p
}

// toUint coerces a JSON value to an integer (docs/protocol/admin.md#json-to-pack): bools are 0/1, strings
// are read like C's strtoull (leading digits, else 0).
func toUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		return leadingUint(x), true
	}
	return 0, false
}

func leadingUint(s string) uint64 {
	s = strings.TrimSpace(s)
	var n uint64
	for i := 0; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		n = n*10 + uint64(s[i]-'0')
	}
	return n
}

// toBool coerces a JSON value to a bool (docs/protocol/admin.md#json-to-pack): non-zero numbers, and
// strings that are a non-zero number or start "true"/"yes" (or are a
// prefix of them, like "t" and "y"), are true.
func toBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case uint64:
		return x != 0, true
	case string:
		s := strings.ToLower(strings.TrimSpace(x))
		if leadingUint(s) != 0 {
			return true, true
		}
		for _, w := range []string{"true", "yes"} {
			if s != "" && (strings.HasPrefix(w, s) || strings.HasPrefix(s, w)) {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}

func toString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// decodeBase64 decodes standard base64 leniently, like the real server's
// decoder: characters outside the alphabet and padding are skipped.
func decodeBase64(s string) []byte {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '-':
			clean = append(clean, '+')
		case c == '_':
			clean = append(clean, '/')
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1] // a lone trailing sextet carries no whole byte
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, err := base64.RawStdEncoding.Decode(out, clean)
	if err != nil {
		return []byte{}
	}
	return out[:n]
}
