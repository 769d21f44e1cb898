package config

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

const realFixture = "testdata/real-5.01.vpn_server.config"

func readFixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(realFixture)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The real vpnserver's own file must come back byte for byte.
func TestRealFileRoundTrip(t *testing.T) {
	b := readFixture(t)
	root, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := root.Encode(); !bytes.Equal(got, b) {
		t.Fatalf("Encode(Parse(real)) differs from the real file:\n%s", firstDiff(got, b))
	}
}

// firstDiff shows where two renderings part ways.
func firstDiff(got, want []byte) string {
	gl := strings.Split(string(got), "\n")
	wl := strings.Split(string(want), "\n")
	for i := 0; i < len(gl) && i < len(wl); i++ {
		if gl[i] != wl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + strings.TrimRight(gl[i], "\r") + "\nwant: " + strings.TrimRight(wl[i], "\r")
		}
	}
	return "lengths differ: got " + strconv.Itoa(len(gl)) + " lines, want " + strconv.Itoa(len(wl))
}

func TestParseTolerantInput(t *testing.T) {
	// no BOM, no banner, LF and bare CR line ends, odd spacing and case,
	// comments, base64 without padding, unknown items kept
	in := "# hand-written\n\ndeclare root\n{\r" +
		"  UINT   ConfigRevision   7\n" +
		"\tstring Name hello$20world\n" +
		"# a comment\n" +
		"\t// another\n" +
		"\tbool On 1\n" +
		"\tbool Off FALSE\n" +
		"\tbyte Empty $\n" +
		"\tbyte NoPad AQID\n" +
		"\tDECLARE Sub\n\t{\n\t\tuint64 Big 18446744073709551615\n\t}\n" +
		"}\n# trailing comment"
	root, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ConfigRevision", root.GetUint("configrevision"), uint32(7)},
		{"Name", root.GetString("NAME"), "hello world"},
		{"On", root.GetBool("On"), true},
		{"Off", root.GetBool("Off"), false},
		{"Empty", len(root.GetBytes("Empty")), 0},
		{"NoPad", string(root.GetBytes("NoPad")), "\x01\x02\x03"},
		{"Big", root.Folder("sub").GetUint64("big"), uint64(18446744073709551615)},
		{"type mismatch", root.GetBool("ConfigRevision"), false},
		{"absent", root.GetString("Nope"), ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// Input SoftEther's reader would take in part (skipping the lines it does
// not understand, or ending a folder at the end of the file) is refused,
// naming the line: a damaged file must not load with part of its settings.
func TestParseStrict(t *testing.T) {
	const head = "declare root\n{\n" // lines 1-2
	for _, c := range []struct {
		name, in string
		line     int
	}{
		{"unclosed root", head + "uint A 1\n", 3},
		{"unclosed folder", head + "declare X\n{\nuint A 1\n}\ndeclare Y\n{\n", 8},
		{"declare at the end", head + "declare X\n", 3},
		{"no brace after declare", head + "declare X\nuint A 1\n}\n}\n", 4},
		{"stray brace", head + "{\n}\n", 3},
		{"extra close", head + "}\n}\n", 4},
		{"close with words", head + "} x\n", 3},
		{"garbage line", head + "garbage line here\n}\n", 3},
		{"extra value word", head + "uint A 7 extra\n}\n", 3},
		{"item without value", head + "uint A\n}\n", 3},
		{"declare two words", head + "declare a b\n{\n}\n}\n", 3},
		{"number with junk", head + "uint A 12abc\n}\n", 3},
		{"negative number", head + "uint A -1\n}\n", 3},
		{"uint overflow", head + "uint A 4294967296\n}\n", 3},
		{"uint64 overflow", head + "uint64 A 18446744073709551616\n}\n", 3},
		{"bool word", head + "bool A no\n}\n", 3},
		{"bad base64", head + "byte X !!!!\n}\n", 3},
		{"text after root", head + "}\nuint A 1\n", 4},
		{"second folder", head + "}\ndeclare root\n{\n}\n", 4},
		{"item before root", "uint A 1\n" + head + "}\n", 1},
		{"other top folder", "declare other\n{\n}\n", 1},
	} {
		_, err := Parse([]byte(c.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%s: Parse = %v, want a SyntaxError", c.name, err)
			continue
		}
		if se.Line != c.line {
			t.Errorf("%s: error at line %d, want %d: %v", c.name, se.Line, c.line, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"no root":        "declare other\n{\n}\n",
		"bad base64":     "declare root\n{\nbyte X !!!!\n}\n",
		"deep":           strings.Repeat("declare a\n{\n", maxDepth+10),
		"binary junk":    "SEVPN_DB" + strings.Repeat("x", 30),
		"binary short":   "SEVPN_DB",
		"only a comment": "# nothing\n",
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: Parse succeeded, want an error", name)
		}
	}
	if _, err := Parse(nil); !errors.Is(err, ErrNoRoot) {
		t.Errorf("Parse(nil) = %v, want ErrNoRoot", err)
	}
}

func TestEscaping(t *testing.T) {
	cases := []struct{ in, esc string }{
		{"", "$"},
		{"plain", "plain"},
		{"a b", "a$20b"},
		{"$", "$24"},
		{"$$", "$24$24"},
		{"tab\tcr\rlf\n", "tab$09cr$0Dlf$0A"},
		{"443, 992", "443,$20992"},
		{"\x00\x1f\x7f", "$00$1F\x7f"},
		{"日本語 ü", "日本語$20ü"},
		{"100%", "100%"},
	}
	for _, c := range cases {
		if got := escape(c.in); got != c.esc {
			t.Errorf("escape(%q) = %q, want %q", c.in, got, c.esc)
		}
		if got := unescape(c.esc); got != c.in {
			t.Errorf("unescape(%q) = %q, want %q", c.esc, got, c.in)
		}
	}
	// '$' not followed by two hex digits stays literal; hex case is free
	for in, want := range map[string]string{"a$": "a$", "$2": "$2", "$zz": "$zz", "$2a": "*", "x$4": "x$4"} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}

	// through a whole file: names and values with awkward bytes survive
	root := NewFolder(RootName)
	odd := []string{"", "$", " lead", "trail ", "a\r\nb", "ü$20", "x\x00y"}
	for _, s := range odd {
		sub := root.Ensure("f" + s)
		sub.SetString("s"+s, s)
		sub.SetBytes("b", []byte(s))
	}
	back, err := Parse(root.Encode())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range odd {
		sub := back.Folder("f" + s)
		if sub == nil {
			t.Fatalf("folder %q lost", "f"+s)
		}
		if got := sub.GetString("s" + s); got != s {
			t.Errorf("string %q came back as %q", s, got)
		}
		if got := string(sub.GetBytes("b")); got != s {
			t.Errorf("bytes %q came back as %q", s, got)
		}
	}
}

func TestEncodeLayout(t *testing.T) {
	root := NewFolder(RootName)
	root.Ensure("zeta")
	root.Ensure("Alpha").SetBool("x", true)
	root.SetUint("b", 2)
	root.SetString("A", "1")
	root.SetUint64("c", 1<<40)
	root.Ensure("empty")
	leaf := NewFolder("onlyitems")
	leaf.SetBytes("k", []byte{0xff})
	root.Folders = append(root.Folders, leaf)
	want := bom + banner +
		"declare root\r\n{\r\n" +
		"\tstring A 1\r\n" +
		"\tuint b 2\r\n" +
		"\tuint64 c 1099511627776\r\n" +
		"\r\n" +
		"\tdeclare Alpha\r\n\t{\r\n\t\tbool x true\r\n\t}\r\n" +
		"\tdeclare empty\r\n\t{\r\n\t}\r\n" +
		"\tdeclare onlyitems\r\n\t{\r\n\t\tbyte k /w==\r\n\t}\r\n" +
		"\tdeclare zeta\r\n\t{\r\n\t}\r\n" +
		"}\r\n"
	if got := string(root.Encode()); got != want {
		t.Fatalf("Encode:\n%q\nwant\n%q", got, want)
	}
}

func TestCompareNames(t *testing.T) {
	// upper-case comparison, '_' (0x5F) after letters, UTF-8 (negative as
	// signed char) before ASCII and before the end of a shorter name
	pairs := []struct {
		a, b string
		want int
	}{
		{"a", "B", -1}, {"b", "A", 1}, {"abc", "ABC", 0}, {"Z", "_", -1},
		{"ab", "abc", -1}, {"ab\xc3", "ab", -1}, {"\xc3", "A", -1},
		{"NoIpTable", "NoIPv4PacketLog", -1}, {"UsernameHubSeparator", "UseWebTimePage", -1},
	}
	for _, p := range pairs {
		if got := compareNames(p.a, p.b); got != p.want {
			t.Errorf("compareNames(%q, %q) = %d, want %d", p.a, p.b, got, p.want)
		}
	}
}

func TestAccessors(t *testing.T) {
	f := NewFolder(RootName)
	f.SetUint("X", 1)
	f.SetString("x", "now a string") // replaces, keeps first spelling
	if len(f.Items) != 1 || f.Items[0].Name != "X" || f.GetString("X") != "now a string" {
		t.Fatalf("replace failed: %+v", f.Items[0])
	}
	b := []byte{1, 2}
	f.SetBytes("B", b)
	b[0] = 9
	if f.GetBytes("b")[0] != 1 {
		t.Error("SetBytes must copy its argument")
	}
	sub := f.Ensure("Sub")
	if f.Ensure("SUB") != sub {
		t.Error("Ensure created a second folder")
	}
	f.Remove("sub")
	f.Remove("x")
	if f.Folder("Sub") != nil || f.Item("X") != nil || f.Item("B") == nil {
		t.Errorf("Remove: items %v folders %v", f.Items, f.Folders)
	}
	var nilFolder *Folder
	if nilFolder.GetString("a") != "" || nilFolder.Folder("a") != nil {
		t.Error("getters on a nil folder must return zero values")
	}
}

// compareNames' fast path agrees with the plain definition: bytes
// compared as signed chars after upper-casing a-z, a string's end
// reading as 0.
func FuzzCompareNames(f *testing.F) {
	for _, s := range [][2]string{{"abc", "ABD"}, {"a", "a\x80"}, {"a\x00", "a"}, {"Zz", "zZ"}, {"", "\xff"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		want := 0
		for i := 0; i < len(a) || i < len(b); i++ {
			if ca, cb := upperSigned(a, i), upperSigned(b, i); ca != cb {
				want = 1
				if ca < cb {
					want = -1
				}
				break
			}
		}
		if got := compareNames(a, b); got != want {
			t.Fatalf("compareNames(%q, %q) = %d, want %d", a, b, got, want)
		}
	})
}
