package pack

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// unhex decodes a hex dump, ignoring whitespace and "0000 "-style offsets
// at the start of lines.
func unhex(t testing.TB, dump string) []byte {
	t.Helper()
	var sb strings.Builder
	for _, line := range strings.Split(dump, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && len(f[0]) == 4 {
			f = f[1:] // offset column
		}
		sb.WriteString(strings.Join(f, ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatalf("bad hex dump: %v", err)
	}
	return b
}

// Worked examples of docs/protocol/session.md#pack-examples.
const (
	errorPackHex = `00 00 00 01 00 00 00 06 65 72 72 6f 72 00 00 00 00 00 00 00 01 00 00 00 09`
	helloPackHex = `
0000  00 00 00 03 00 00 00 06 68 65 6c 6c 6f 00 00 00
0010  02 00 00 00 01 00 00 00 02 47 6f 00 00 00 07 72
0020  61 6e 64 6f 6d 00 00 00 01 00 00 00 01 00 00 00
0030  14 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e
0040  0f 10 11 12 13 00 00 00 08 76 65 72 73 69 6f 6e
0050  00 00 00 00 00 00 00 01 00 00 01 f5`
	uniPackHex = `
0000  00 00 00 03 00 00 00 05 6e 61 6d 65 00 00 00 03
0010  00 00 00 01 00 00 00 04 68 c3 a9 00 00 00 00 02
0020  74 00 00 00 04 00 00 00 01 01 02 03 04 05 06 07
0030  08 00 00 00 05 50 6f 72 74 00 00 00 00 00 00 00
0040  02 00 00 01 bb 00 00 03 e0`
	// docs/protocol/admin.md#pack-values: {function_name:"Test", IntValue:42}.
	rpcPackHex = `00 00 00 02
00 00 00 0e 66 75 6e 63 74 69 6f 6e 5f 6e 61 6d 65
00 00 00 02 00 00 00 01 00 00 00 04 54 65 73 74
00 00 00 09 49 6e 74 56 61 6c 75 65
00 00 00 00 00 00 00 01 00 00 00 2a`
)

func counting(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestGoldenError(t *testing.T) {
	p := New()
	p.AddInt("error", 9)
	want := unhex(t, errorPackHex)
	if got := p.Encode(nil); !bytes.Equal(got, want) {
		t.Fatalf("Encode = % x\nwant     % x", got, want)
	}
	q, err := Decode(want)
	if err != nil || q.Int("error") != 9 {
		t.Fatalf("Decode = %v, %v", q, err)
	}
}

func TestGoldenHello(t *testing.T) {
	p := New()
	// Added out of order on purpose: Encode sorts.
	p.AddInt("version", 501)
	p.AddData("random", counting(20))
	p.AddStr("hello", "Go")
	want := unhex(t, helloPackHex)
	if len(want) != 92 {
		t.Fatalf("example is %d bytes, want 92", len(want))
	}
	if got := p.Encode(nil); !bytes.Equal(got, want) {
		t.Fatalf("Encode = % x\nwant     % x", got, want)
	}
	q, err := Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	if q.Str("hello") != "Go" || !bytes.Equal(q.Data("random"), counting(20)) || q.Int("version") != 501 {
		t.Fatalf("decoded %+v", q.Elements())
	}
}

// The third example is written in unsorted order; the real reader accepts
// any order and the writer sorts, so re-encoding moves "Port" before "t".
func TestGoldenUniStrInt64Array(t *testing.T) {
	in := unhex(t, uniPackHex)
	p, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.UniStr("name"); got != "hé" {
		t.Errorf("name = %q", got)
	}
	if got := p.Int64("t"); got != 0x0102030405060708 {
		t.Errorf("t = %#x", got)
	}
	if p.Count("port") != 2 || p.IntAt("PORT", 0) != 443 || p.IntAt("Port", 1) != 992 {
		t.Errorf("Port = %d values %d,%d", p.Count("port"), p.IntAt("Port", 0), p.IntAt("Port", 1))
	}

	// Element spans inside the example: name [4:0x1c], t [0x1c:0x31], Port [0x31:].
	sorted := slices.Concat(in[:4], in[4:0x1c], in[0x31:], in[0x1c:0x31])
	if got := p.Encode(nil); !bytes.Equal(got, sorted) {
		t.Fatalf("Encode = % x\nwant     % x", got, sorted)
	}

	q := New()
	q.AddInts("Port", []uint32{443, 992})
	q.AddInt64("t", 0x0102030405060708)
	q.AddUniStr("name", "hé")
	if got := q.Encode(nil); !bytes.Equal(got, sorted) {
		t.Fatalf("built Encode = % x\nwant           % x", got, sorted)
	}
}

func TestGoldenRPC(t *testing.T) {
	p := New()
	p.AddInt("IntValue", 42)
	p.AddStr("function_name", "Test")
	want := unhex(t, rpcPackHex)
	if len(want) != 61 {
		t.Fatalf("example is %d bytes, want 61", len(want))
	}
	if got := p.Encode(nil); !bytes.Equal(got, want) {
		t.Fatalf("Encode = % x\nwant     % x", got, want)
	}
}

// Value encodings quoted in docs/protocol/admin.md#pack-values.
func TestAdminValueEncodings(t *testing.T) {
	for _, tc := range []struct {
		add  func(*Pack)
		tail string
	}{
		{func(p *Pack) { p.AddUniStr("Realname", "Bob") }, "00 00 00 03 00 00 00 01 00 00 00 04 42 6f 62 00"},
		{func(p *Pack) { p.AddUniStr("Realname", "") }, "00 00 00 03 00 00 00 01 00 00 00 01 00"},
		{func(p *Pack) { p.AddStrs("HubName", []string{"DEFAULT", "TEST"}) },
			"00 00 00 02 00 00 00 02 00 00 00 07 44 45 46 41 55 4c 54 00 00 00 04 54 45 53 54"},
		{func(p *Pack) { p.AddInt64("CreatedTime", 0x000001a1fa99b929) }, "00 00 00 04 00 00 00 01 00 00 01 a1 fa 99 b9 29"},
		{func(p *Pack) { p.AddData("Msg", nil) }, "00 00 00 01 00 00 00 01 00 00 00 00"},
	} {
		p := New()
		tc.add(p)
		got := p.Encode(nil)
		if want := unhex(t, tc.tail); !bytes.HasSuffix(got, want) {
			t.Errorf("Encode = % x, want suffix % x", got, want)
		}
	}
}

func richPack() *Pack {
	p := New()
	p.AddInt("error", 0)
	p.AddInts("ports", []uint32{443, 992, 1194, 5555})
	p.AddInt64("time", 1<<40+7)
	p.AddBool("use_encrypt", true)
	p.AddBool("use_compress", false)
	p.AddData("random", counting(20))
	p.AddData("empty", []byte{})
	p.AddStr("method", "login")
	p.AddStrs("hubs", []string{"DEFAULT", "", "TEST"})
	p.AddUniStr("client_str", "SoftEther VPN Client – ünïcode")
	p.AddIP("ClientIpAddress", netip.MustParseAddr("10.1.2.3"))
	p.AddIP("v6", netip.MustParseAddr("fe80::1%4"))
	p.AddElement(Element{Name: "blobs", Type: TypeData, Blobs: [][]byte{{1}, {}, {2, 3}}})
	p.AddPencore()
	return p
}

func TestRoundTrip(t *testing.T) {
	p := richPack()
	enc := p.Encode(nil)
	q, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !equalElements(p.Elements(), q.Elements()) {
		t.Fatalf("round trip changed elements:\n%+v\n%+v", p.Elements(), q.Elements())
	}
	if again := q.Encode(nil); !bytes.Equal(again, enc) {
		t.Fatal("re-encoding differs")
	}
	// Encode appends.
	prefix := []byte("xyz")
	if got := p.Encode(prefix); !bytes.Equal(got, append([]byte("xyz"), enc...)) {
		t.Fatal("Encode did not append to dst")
	}
	// Trailing bytes are ignored, as by the real reader.
	if _, err := Decode(append(enc, 1, 2, 3)); err != nil {
		t.Fatalf("trailing bytes: %v", err)
	}
}

func equalElements(a, b []Element) bool {
	return slices.EqualFunc(a, b, func(x, y Element) bool {
		return x.Name == y.Name && x.Type == y.Type && x.Len() == y.Len() &&
			slices.Equal(x.Ints, y.Ints) && slices.Equal(x.Strs, y.Strs) &&
			slices.EqualFunc(x.Blobs, y.Blobs, bytes.Equal)
	})
}

func TestCaseInsensitiveNames(t *testing.T) {
	p := New()
	p.AddInt("Foo", 1)
	if !p.Has("FOO") || p.Int("foo") != 1 {
		t.Fatal("lookup is not case-insensitive")
	}
	p.AddStr("fOO", "x") // replaces, keeps the new spelling
	if p.Len() != 1 || p.Int("Foo") != 0 || p.Str("FOO") != "x" {
		t.Fatalf("replace: len %d int %d str %q", p.Len(), p.Int("Foo"), p.Str("FOO"))
	}
	if e, ok := p.Lookup("foo"); !ok || e.Name != "fOO" || e.Type != TypeStr {
		t.Fatalf("Lookup = %+v, %v", e, ok)
	}
	p.Delete("FoO")
	if p.Has("foo") || p.Len() != 0 {
		t.Fatal("Delete is not case-insensitive")
	}
}

func TestTypedGetters(t *testing.T) {
	p := New()
	p.AddStr("s", "text")
	p.AddInt("i", 7)
	p.AddInt64("i64", 9)
	p.AddData("d", []byte{1})
	p.AddUniStr("u", "uni")
	if p.Int("s") != 0 || p.Int("i64") != 0 || p.Int64("i") != 0 || p.Str("u") != "" ||
		p.UniStr("s") != "" || p.Data("s") != nil || p.Bool("s") || p.StrAt("i", 0) != "" {
		t.Fatal("a getter ignored the element type")
	}
	if p.Int("i") != 7 || p.Int64("i64") != 9 || p.Str("s") != "text" || p.UniStr("u") != "uni" ||
		!bytes.Equal(p.Data("d"), []byte{1}) || !p.Bool("i") {
		t.Fatal("a getter failed on the right type")
	}
	if p.Int("absent") != 0 || p.Has("absent") || p.Count("absent") != 0 || p.IP("absent").IsValid() {
		t.Fatal("absent element not zero")
	}
	if _, ok := p.Lookup("absent"); ok {
		t.Fatal("Lookup found an absent element")
	}
	if p.IntAt("i", 1) != 0 || p.IntAt("i", -1) != 0 || p.StrAt("s", 1) != "" {
		t.Fatal("out-of-range index not zero")
	}
	if p.Count("s") != 1 {
		t.Fatal("Count of one value")
	}
}

// The real writer sorts with StrCmpi, which upper-cases: "_" (0x5f) sorts
// after letters, and bytes >= 0x80 (signed chars) before everything.
func TestEncodingOrder(t *testing.T) {
	p := New()
	for _, n := range []string{"pencore", "b", "a_b", "AAB", "a", "\x80x", "Z", "aa"} {
		p.AddInt(n, 1)
	}
	var got []string
	for _, e := range p.Elements() {
		got = append(got, e.Name)
	}
	want := []string{"\x80x", "a", "aa", "AAB", "a_b", "b", "Z", "pencore"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %q, want %q", got, want)
	}
	q, err := Decode(p.Encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Elements(); got[len(got)-1].Name != "pencore" {
		t.Fatalf("pencore not last after decode: %q", got[len(got)-1].Name)
	}
}

func TestPencore(t *testing.T) {
	sizes := map[int]bool{}
	for range 50 {
		p := New()
		p.AddInt("zzz", 1)
		p.AddPencore()
		n := len(p.Data("pencore"))
		if n > 999 {
			t.Fatalf("pencore %d bytes", n)
		}
		sizes[n] = true
		els := p.Elements()
		if els[len(els)-1].Name != "pencore" {
			t.Fatal("pencore not last")
		}
	}
	if len(sizes) < 10 {
		t.Fatalf("pencore length barely varies: %v", sizes)
	}
}

func TestIP(t *testing.T) {
	p := New()
	p.AddIP("ip", netip.MustParseAddr("127.0.0.1"))
	if got := p.Int("ip"); got != 16777343 {
		t.Fatalf("127.0.0.1 stored as %d, want 16777343", got)
	}
	if p.Int("ip@ipv6_bool") != 0 || !bytes.Equal(p.Data("ip@ipv6_array"), make([]byte, 16)) ||
		p.Int("ip@ipv6_scope_id") != 0 || p.Len() != 4 {
		t.Fatalf("IPv4 companions wrong: %+v", p.Elements())
	}
	if !bytes.Contains(p.Encode(nil), []byte{'i', 'p', 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x00, 0x00, 0x7f}) {
		t.Fatal("wire bytes of 127.0.0.1 are not 01 00 00 7f")
	}

	for _, tc := range []struct {
		ip   string
		want uint32
	}{{"192.168.30.1", 18786496}, {"255.255.255.0", 16777215}, {"::ffff:10.0.0.1", 0x0100000a}} {
		p.AddIP("x", netip.MustParseAddr(tc.ip))
		if got := p.Int("x"); got != tc.want {
			t.Errorf("%s stored as %d, want %d", tc.ip, got, tc.want)
		}
		if got := p.IP("x"); got != netip.MustParseAddr(tc.ip).Unmap() {
			t.Errorf("IP(%s) = %v", tc.ip, got)
		}
	}

	v6 := netip.MustParseAddr("fe80::1234%7")
	p.AddIP("v6", v6)
	if p.Int("v6") != 0 || p.Int("v6@ipv6_bool") != 1 || p.Int("v6@ipv6_scope_id") != 7 {
		t.Fatalf("IPv6 elements wrong")
	}
	q, err := Decode(p.Encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := q.IP("V6"); got != v6 {
		t.Fatalf("IPv6 round trip = %v, want %v", got, v6)
	}
	if got := q.IP("ip"); got != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("IPv4 round trip = %v", got)
	}

	p.AddIP("none", netip.Addr{})
	if got := p.IP("none"); got != netip.IPv4Unspecified() {
		t.Fatalf("invalid Addr stored as %v, want 0.0.0.0", got)
	}
	p.AddData("v6@ipv6_array", []byte{1, 2, 3})
	if p.IP("v6").IsValid() {
		t.Fatal("short IPv6 array accepted")
	}
}

// Strings are stored like the real implementation's C strings: they end at
// NUL and are trimmed of spaces and tabs, on both add and decode.
func TestStringCleaning(t *testing.T) {
	p := New()
	p.AddStr("s", " \thello world\t ")
	p.AddUniStr("u", "  wörld\x00junk")
	p.AddStrs("a", []string{" x ", "y\x00z"})
	if p.Str("s") != "hello world" || p.UniStr("u") != "wörld" || p.StrAt("a", 0) != "x" || p.StrAt("a", 1) != "y" {
		t.Fatalf("cleaned values: %q %q %q %q", p.Str("s"), p.UniStr("u"), p.StrAt("a", 0), p.StrAt("a", 1))
	}

	raw := unhex(t, `00 00 00 02
		00 00 00 02 73  00 00 00 02 00 00 00 01  00 00 00 06 20 61 00 62 20 20
		00 00 00 02 75  00 00 00 03 00 00 00 02  00 00 00 00  00 00 00 03 09 62 00`)
	q, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if q.Str("s") != "a" {
		t.Errorf("STR %q, want %q", q.Str("s"), "a")
	}
	if e, _ := q.Lookup("u"); !slices.Equal(e.Strs, []string{"", "b"}) {
		t.Errorf("UNISTR values %q", e.Strs)
	}
}

func TestNames(t *testing.T) {
	long := strings.Repeat("n", 70)
	p := New()
	p.AddInt(long, 5)
	e := p.Elements()[0]
	if len(e.Name) != MaxNameLen || p.Int(long) != 5 || p.Int(long[:MaxNameLen]) != 5 {
		t.Fatalf("long name stored as %q", e.Name)
	}
	p.AddInt("", 1) // the empty name is legal on the wire (prefix 1)
	q, err := Decode(p.Encode(nil))
	if err != nil || q.Int("") != 1 || q.Int(long) != 5 {
		t.Fatalf("empty/long names round trip: %v", err)
	}
}

func TestAddElement(t *testing.T) {
	p := New()
	ints := []uint64{1, 2}
	p.AddElement(Element{Name: "i", Type: TypeInt, Ints: ints, Strs: []string{"ignored"}})
	ints[0] = 99 // AddElement copies
	if e, _ := p.Lookup("i"); !slices.Equal(e.Ints, []uint64{1, 2}) || e.Strs != nil {
		t.Fatalf("stored %+v", e)
	}
	p.AddElement(Element{Name: "I", Type: TypeStr}) // no values: removes
	if p.Has("i") {
		t.Fatal("empty element not removed")
	}
	p.AddInts("x", []uint32{1})
	p.AddInts("x", nil)
	p.AddStrs("y", nil)
	if p.Len() != 0 {
		t.Fatal("empty arrays stored")
	}
	for _, bad := range []Element{
		{Name: "big", Type: TypeInt, Ints: []uint64{1 << 32}},
		{Name: "type", Type: 5, Ints: []uint64{1}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AddElement(%+v) did not panic", bad)
				}
			}()
			p.AddElement(bad)
		}()
	}
}

func TestDecodeErrors(t *testing.T) {
	// Three one-value INT elements named a, b, c.
	abc := "00 00 00 02 61 00 00 00 00 00 00 00 01 00 00 00 01 " +
		"00 00 00 02 62 00 00 00 00 00 00 00 01 00 00 00 01 " +
		"00 00 00 02 63 00 00 00 00 00 00 00 01 00 00 00 01 "
	for _, tc := range []struct{ name, hex, want string }{
		{"empty", "", "pack: truncated element count: need 4 bytes, 0 remain"},
		{"too many elements", "00 04 00 01", "element count 262145 exceeds 262144"},
		{"count beyond input", "00 00 00 02 00 00 00 02 61 00 00 00 00 00 00 00 01 00 00 00 01",
			"element count 2 needs at least 32 bytes, 17 remain"},
		{"value size", "00 00 00 04 " + abc + "00 00 00 04 66 6f 6f 00 00 00 01 00 00 00 01 00 01 86 9f" +
			" 00 00 00 00 00 00 00 00 00 00 00 00",
			`pack: element 3 "foo": value size 99999 exceeds remaining 12 bytes`},
		{"name prefix 0", "00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 01",
			"pack: element 0: name length prefix 0 outside 1..64"},
		{"name prefix 65", "00 00 00 01 00 00 00 41 00 00 00 00 00 00 00 01 00 00 00 01",
			"name length prefix 65 outside 1..64"},
		{"zero values", "00 00 00 01 00 00 00 02 61 00 00 00 00 00 00 00 00 00 00 00 00",
			`pack: element 0 "a": no values`},
		{"unknown type", "00 00 00 01 00 00 00 02 61 00 00 00 05 00 00 00 01 00 00 00 00",
			`element 0 "a": unknown value type 5`},
		{"too many values", "00 00 00 01 00 00 00 02 61 00 00 00 00 00 04 00 01 00 00 00 00",
			"value count 262145 exceeds 262144"},
		{"values beyond input", "00 00 00 01 00 00 00 02 61 00 00 00 04 00 00 00 01 00 00 00 00",
			"1 INT64 values need at least 8 bytes, 4 remain"},
		{"huge value", "00 00 00 01 00 00 00 02 61 00 00 00 01 00 00 00 01 18 00 00 01",
			"value size 402653185 exceeds 402653184"},
		{"duplicate", "00 00 00 02 00 00 00 02 61 00 00 00 00 00 00 00 01 00 00 00 01" +
			" 00 00 00 02 41 00 00 00 02 00 00 00 01 00 00 00 00",
			"duplicate element name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(unhex(t, tc.hex))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error is %T, not *DecodeError", err)
			}
		})
	}
}

func TestTruncatedInputs(t *testing.T) {
	enc := richPack().Encode(nil)
	for i := range len(enc) {
		if p, err := Decode(enc[:i]); err == nil {
			t.Fatalf("Decode of %d/%d bytes succeeded: %+v", i, len(enc), p.Elements())
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds allocations; counts are meaningless")
	}
	p := richPack()
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = p.Encode(buf[:0]) }); n != 0 {
		t.Errorf("Encode into a large enough buffer: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { p.Encode(nil) }); n != 1 {
		t.Errorf("Encode(nil): %v allocs, want 1", n)
	}
}

func FuzzDecode(f *testing.F) {
	for _, h := range []string{errorPackHex, helloPackHex, uniPackHex, rpcPackHex, "00 00 00 00"} {
		f.Add(unhex(f, h))
	}
	f.Add(richPack().Encode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		enc := p.Encode(nil)
		// The re-encoded PACK may be shorter (trailing bytes, trimmed
		// strings) but never costs more than the original.
		q, err := DecodeBudget(enc, DefaultBudget(len(b)))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !equalElements(p.Elements(), q.Elements()) {
			t.Fatalf("elements changed:\n%+v\n%+v", p.Elements(), q.Elements())
		}
		if again := q.Encode(nil); !bytes.Equal(again, enc) {
			t.Fatal("encoding is not stable")
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	p := richPack()
	buf := p.Encode(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = p.Encode(buf[:0])
	}
}

func BenchmarkDecode(b *testing.B) {
	enc := richPack().Encode(nil)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func TestIPColumn(t *testing.T) {
	// Three addresses as the real PackAddIpEx writes a column of them.
	p := New()
	v6 := netip.MustParseAddr("2001:db8::1").As16()
	ll := netip.MustParseAddr("fe80::1").As16()
	p.AddInts("IpAddress", []uint32{0x0302010a, 0, 0})
	p.AddInts("IpAddress@ipv6_bool", []uint32{0, 1, 1})
	p.AddElement(Element{Name: "IpAddress@ipv6_array", Type: TypeData, Blobs: [][]byte{make([]byte, 16), v6[:], ll[:]}})
	p.AddInts("IpAddress@ipv6_scope_id", []uint32{0, 0, 3})
	q, err := Decode(p.Encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []string{"10.1.2.3", "2001:db8::1", "fe80::1%3"} {
		if got := q.IPAt("IpAddress", i); got.String() != w {
			t.Errorf("IPAt(%d) = %v, want %s", i, got, w)
		}
	}
	if q.IPAt("IpAddress", 3).IsValid() || q.IPAt("IpAddress", -1).IsValid() {
		t.Error("an index out of range read as an address")
	}
	if q.IP("IpAddress").String() != "10.1.2.3" {
		t.Errorf("IP = %v", q.IP("IpAddress"))
	}
}

func TestAddIPs(t *testing.T) {
	ips := []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fe80::1%3"), {}}
	p := New()
	p.AddIPs("IP", ips)
	p.AddIPs("None", nil)
	q, err := Decode(p.Encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []string{"10.1.2.3", "fe80::1%3", "0.0.0.0"} {
		if got := q.IPAt("IP", i); got.String() != w {
			t.Errorf("IPAt(%d) = %v, want %s", i, got, w)
		}
	}
	if q.Has("None") {
		t.Error("an empty column was written")
	}
}

// emptyValues is a PACK of elements holding MaxValues empty values of type
// t each: 4 bytes per value on the wire.
func emptyValues(t Type, elems int) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(elems))
	for i := range elems {
		name := fmt.Sprintf("e%d", i)
		b = binary.BigEndian.AppendUint32(b, uint32(len(name)+1))
		b = append(b, name...)
		b = binary.BigEndian.AppendUint32(b, uint32(t))
		b = binary.BigEndian.AppendUint32(b, MaxValues)
		b = append(b, make([]byte, 4*MaxValues)...)
	}
	return b
}

// A PACK of empty values would take up to six times its size once decoded;
// Decode refuses it before it costs more than DefaultBudget, while a
// legitimate PACK dense in small values (an access list) decodes.
func TestDecodeBudget(t *testing.T) {
	for _, typ := range []Type{TypeData, TypeStr, TypeUniStr} {
		b := emptyValues(typ, 4)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Decode(b)
		runtime.ReadMemStats(&after)
		var de *DecodeError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "budget") {
			t.Errorf("%s: %d-byte PACK of empty values: Decode = %v, want a budget DecodeError", typ, len(b), err)
		}
		// Refused before anything is allocated for it.
		if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
			t.Errorf("%s: refusing a %d-byte PACK allocated %d bytes", typ, len(b), got)
		}
	}

	// 4,096 access rules as SoftEther's InRpcAccess writes them: INTs,
	// IP addresses (four elements each), MAC addresses and masks, empty
	// strings.
	const rules = 4096
	acl := New()
	ints := make([]uint32, rules)
	for _, n := range []string{"Id", "Active", "Priority", "Discard", "Protocol", "SrcPortStart", "SrcPortEnd",
		"DestPortStart", "DestPortEnd", "CheckSrcMac", "CheckDstMac", "CheckTcpState", "Established", "Delay",
		"Jitter", "Loss", "IsIPv6", "UniqueId"} {
		acl.AddInts(n, ints)
	}
	ips := make([]netip.Addr, rules)
	for i := range ips {
		ips[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	}
	for _, n := range []string{"SrcIpAddress", "SrcSubnetMask", "DestIpAddress", "DestSubnetMask"} {
		acl.AddIPs(n, ips)
	}
	data := func(name string, size int) {
		e := Element{Name: name, Type: TypeData, Blobs: make([][]byte, rules)}
		for i := range e.Blobs {
			e.Blobs[i] = make([]byte, size)
		}
		acl.AddElement(e)
	}
	for _, n := range []string{"SrcMacAddress", "SrcMacMask", "DstMacAddress", "DstMacMask"} {
		data(n, 6)
	}
	for _, n := range []string{"SrcIpAddress6", "SrcSubnetMask6", "DestIpAddress6", "DestSubnetMask6"} {
		data(n, 16)
	}
	empty := make([]string, rules)
	acl.AddStrs("SrcUsername", empty)
	acl.AddStrs("DestUsername", empty)
	acl.AddStrs("RedirectUrl", empty)
	acl.AddElement(Element{Name: "Note", Type: TypeUniStr, Strs: empty})
	b := acl.Encode(nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(b)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Errorf("access list of %d rules (%d bytes): %v", rules, len(b), err)
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(DefaultBudget(len(b))); got > limit {
		t.Errorf("decoding a %d-byte access list allocated %d bytes, over its budget of %d", len(b), got, limit)
	}
	if _, err := DecodeBudget(b, len(b)); err == nil {
		t.Errorf("access list decoded within a budget of its own size")
	}
}
