package admin

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// seTimeOffset is what SoftEther subtracts from Unix milliseconds in its
// 64-bit times (a fixed 9 hours, §3.2.3); JSON shows the real UTC time.
const seTimeOffset = 32400000

// maxJSONDepth bounds the nesting of a JSON request; SoftEther's own
// requests nest two levels (params, a list of records).
const maxJSONDepth = 32

// PackToJSON renders p as a JSON object per admin-interfaces.md §3.3,
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

// ipCompanions are the helper elements of an IP field (§3.2.1).
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
		if e.Len() == 1 && !inSet(arrayFields, e.Name) {
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

// ipAt reads value i of the IP field name (§3.2.1): the IPv6 array when
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
// is required. The web handler reports it as ErrInvalidParameter.
type JSONError struct{ Reason string }

func (e *JSONError) Error() string { return "JSON-RPC Parse Error: " + e.Reason }

// JSONToPack converts a JSON-RPC "params" object into a request PACK per
// admin-interfaces.md §3.4: keys carry a type suffix (_u32 _u64 _bool _str
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

// decodeJSON parses one JSON document into jsonObj, []any, string, uint64,
// bool and nil values, keeping key order.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := readJSON(dec, 0)
	if err != nil {
		return nil, jsonErr(dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &JSONError{fmt.Sprintf("unexpected data after the JSON value at offset %d", dec.InputOffset())}
	}
	return v, nil
}

func jsonErr(dec *json.Decoder, err error) error {
	var je *JSONError
	if errors.As(err, &je) {
		return je
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &JSONError{"unexpected end of JSON input"}
	}
	return &JSONError{fmt.Sprintf("%v (offset %d)", err, dec.InputOffset())}
}

func readJSON(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, &JSONError{fmt.Sprintf("JSON nested deeper than %d levels", maxJSONDepth)}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := jsonObj{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := readJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj = append(obj, jsonKV{k.(string), v})
			}
			_, err := dec.Token() // '}'
			return obj, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := readJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token() // ']'
			return arr, err
		}
		return nil, &JSONError{fmt.Sprintf("unexpected %q", t)}
	case json.Number:
		n, err := strconv.ParseUint(string(t), 10, 64)
		if err != nil {
			return nil, &JSONError{fmt.Sprintf("number %s: only non-negative integers up to 2^64-1 are accepted", t)}
		}
		return n, nil
	}
	return tok, nil // string, bool or nil
}

// typeSuffixes are the key suffixes of §3.4, in no particular order.
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
}

// column returns the element name with n zero values of type t, creating
// (or replacing, if it had another shape) it.
func (b *packBuilder) column(name string, t pack.Type, n int) *pack.Element {
	k := strings.ToUpper(name)
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
	b := &packBuilder{elems: map[string]*pack.Element{}}
	for _, kv := range obj {
		if arr, ok := kv.Val.([]any); ok && len(arr) > 0 {
			if _, isObj := arr[0].(jsonObj); isObj {
				// A list of records; its own key is irrelevant (§3.4 rule 4).
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
			// ignored (§3.4 rule 5)
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

// toUint coerces a JSON value to an integer (§3.4): bools are 0/1, strings
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

// toBool coerces a JSON value to a bool (§3.4): non-zero numbers, and
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
	out, err := base64.RawStdEncoding.DecodeString(string(clean))
	if err != nil {
		return []byte{}
	}
	return out
}
