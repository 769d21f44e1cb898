package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// RootName is the name of the top-level folder of every configuration file.
const RootName = "root"

// maxDepth bounds folder nesting on input. Real files nest about eight
// levels; the bound keeps hostile input from exhausting the stack.
const maxDepth = 256

// ErrNoRoot is returned by Parse when the input has no top-level folder
// called "root" (for example an empty or truncated file).
var ErrNoRoot = errors.New(`no "declare root" folder: the file is empty, truncated or not a configuration file`)

// SyntaxError is a text file that does not follow the grammar, at a line.
type SyntaxError struct {
	Line   int    // 1-based
	Reason string // what is wrong there
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// bom is the UTF-8 byte order mark the real writer puts first.
const bom = "\xef\xbb\xbf"

// banner is the comment block the real writer puts before the root folder.
const banner = "# Software Configuration File\r\n" +
	"# ---------------------------\r\n" +
	"# \r\n" +
	"# You may edit this file when the VPN Server / Client / Bridge program is not running.\r\n" +
	"# \r\n" +
	"# In prior to edit this file manually by your text editor,\r\n" +
	"# shutdown the VPN Server / Client / Bridge background service.\r\n" +
	"# Otherwise, all changes will be lost.\r\n" +
	"# \r\n"

// Parse reads a configuration file in either format: text (optional BOM
// and banner, CR, LF or CRLF line ends) or binary (starting "SEVPN_DB",
// checksum verified, nothing after the root folder). It returns the
// top-level folder called "root".
//
// Text input is read strictly, unlike SoftEther's reader (Cfg.c,
// CfgReadNextTextBUF), which skips lines it does not recognise, reads
// "12abc" as 12 and takes a file that ends inside a folder as complete: so
// a truncated or damaged file would load with part of its settings. Here
// every line must be blank, a comment ("#" or "//"), "declare NAME" followed
// by "{", "}", or "TYPE NAME VALUE" with a value of that type; every folder
// must be closed; and nothing but comments may follow the root folder. A
// raw control byte (below 0x20, other than TAB, CR and LF) anywhere, even
// in a comment, is refused: both writers escape those bytes (Cfg.c,
// CfgEscape writes "$00"), so a raw one means the file was damaged, say
// by a run of zeros from a disk or copy error, which would otherwise merge
// lines or cut names and values and load with settings quietly lost.
// (Escaped ones, "$00", are deliberate and read as the byte.) Any other
// input is a *SyntaxError naming the line.
func Parse(b []byte) (*Folder, error) {
	if bytes.HasPrefix(b, []byte(binaryMagic)) {
		return parseBinary(b)
	}
	return parseText(b)
}

func parseText(b []byte) (*Folder, error) {
	b = bytes.TrimPrefix(b, []byte(bom))
	var root *Folder
	var open []*Folder // folders not closed yet, root first
	wantBrace := false // the previous line was "declare NAME"
	lineNo := 0
	bad := func(format string, a ...any) error {
		return &SyntaxError{Line: lineNo, Reason: fmt.Sprintf(format, a...)}
	}
	for len(b) > 0 {
		// split off one line; CR, LF and CRLF all end a line
		i := bytes.IndexAny(b, "\r\n")
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line = b[:i]
			if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			b = b[i+1:]
		}
		lineNo++
		if i := rawControl(line); i >= 0 {
			return nil, bad("raw control byte 0x%02X at column %d: the writer escapes such bytes ($%02X), so the file is damaged (zeros or garbage from a disk or copy error); restore a backup or repair the line", line[i], i+1, line[i])
		}
		tok := fieldsSpaceTab(line)
		if len(tok) == 0 || strings.HasPrefix(tok[0], "#") || strings.HasPrefix(tok[0], "//") {
			continue
		}
		if wantBrace {
			if len(tok) != 1 || tok[0] != "{" {
				f := open[len(open)-1]
				return nil, bad("%q where the \"{\" of folder %q (declared on line %d) belongs", clip(line), f.Name, f.line)
			}
			wantBrace = false
			continue
		}
		if root != nil && len(open) == 0 {
			return nil, bad("%q after the end of the root folder: a configuration file holds one folder called root", clip(line))
		}
		switch {
		case tok[0] == "}":
			if len(tok) != 1 {
				return nil, bad("%q: a \"}\" line holds nothing else", clip(line))
			}
			if len(open) == 0 {
				return nil, bad("\"}\" before the root folder closes nothing")
			}
			open = open[:len(open)-1]
		case tok[0] == "{":
			return nil, bad("\"{\" without a declare line before it")
		case strings.EqualFold(tok[0], "declare"):
			if len(tok) != 2 {
				return nil, bad("%q: declare takes one folder name (spaces in names are written $20)", clip(line))
			}
			if len(open) > maxDepth {
				return nil, bad("folders nested deeper than %d", maxDepth)
			}
			f := NewFolder(unescape(tok[1]))
			f.line = lineNo
			if len(open) == 0 {
				if !strings.EqualFold(f.Name, RootName) {
					return nil, bad("top-level folder %q: a configuration file holds one folder called root", f.Name)
				}
				root = f
			} else {
				parent := open[len(open)-1]
				parent.Folders = append(parent.Folders, f)
			}
			open = append(open, f)
			wantBrace = true
		default:
			t := itemTypeFromKeyword(tok[0])
			if t == 0 {
				return nil, bad("%q is not a configuration line (want declare, {, }, or an item: string, uint, uint64, bool or byte, a name and a value)", clip(line))
			}
			if len(open) == 0 {
				return nil, bad("%q before the root folder: items belong inside \"declare root\"", clip(line))
			}
			if len(tok) != 3 {
				return nil, bad("%q: an item is a type, a name and one value (spaces in values are written $20)", clip(line))
			}
			it, err := parseItem(t, unescape(tok[1]), tok[2])
			if err != nil {
				return nil, bad("%v", err)
			}
			it.line = lineNo
			cur := open[len(open)-1]
			cur.Items = append(cur.Items, it)
		}
	}
	if root == nil {
		return nil, ErrNoRoot
	}
	if len(open) > 0 {
		f := open[len(open)-1]
		what := fmt.Sprintf("folder %q (declared on line %d) is not closed", f.Name, f.line)
		if wantBrace {
			what = fmt.Sprintf("folder %q (declared on line %d) has no \"{\"", f.Name, f.line)
		}
		return nil, &SyntaxError{Line: lineNo, Reason: "the file ends but " + what + ": it is truncated or a \"}\" is missing"}
	}
	return root, nil
}

// clip shortens a line quoted in an error.
func clip(line []byte) string {
	const max = 60
	if len(line) > max {
		return string(line[:max]) + "..."
	}
	return string(line)
}

// rawControl returns the index of the first control byte in line that no
// writer leaves raw (anything below 0x20 but TAB; line ends are already
// split off), or -1.
func rawControl(line []byte) int {
	for i, c := range line {
		if c < 0x20 && c != '\t' {
			return i
		}
	}
	return -1
}

// fieldsSpaceTab splits a line into tokens separated by runs of spaces and
// TABs (and only those: other bytes, even other whitespace, belong to
// tokens, as in the real reader).
func fieldsSpaceTab(line []byte) []string {
	var tok []string
	start := -1
	for i, c := range line {
		if c == ' ' || c == '\t' {
			if start >= 0 {
				tok = append(tok, string(line[start:i]))
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		tok = append(tok, string(line[start:]))
	}
	return tok
}

// parseItem converts the value token of a text item line. Numbers must be
// decimal digits only and fit their type; bools are true, false or a
// number (non-zero is true, as in the real reader).
func parseItem(t ItemType, name, value string) (*Item, error) {
	it := &Item{Name: name, Type: t}
	var err error
	switch t {
	case String:
		it.Str = unescape(value)
	case Uint:
		if it.Uint, err = strconv.ParseUint(value, 10, 32); err != nil {
			return nil, fmt.Errorf("uint item %q: %q is not a number from 0 to 4294967295", name, clip([]byte(value)))
		}
	case Uint64:
		if it.Uint, err = strconv.ParseUint(value, 10, 64); err != nil {
			return nil, fmt.Errorf("uint64 item %q: %q is not a number from 0 to 18446744073709551615", name, clip([]byte(value)))
		}
	case Bool:
		switch {
		case strings.EqualFold(value, "true"):
			it.Bool = true
		case strings.EqualFold(value, "false"):
		case allDigits(value):
			it.Bool = strings.Trim(value, "0") != ""
		default:
			return nil, fmt.Errorf("bool item %q: %q is not true or false", name, clip([]byte(value)))
		}
	case Byte:
		raw := unescape(value)
		data, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			// be lenient about missing padding, as hand-edited files may lack it
			data, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(raw, "="))
			if err != nil {
				return nil, fmt.Errorf("byte item %q: bad base64 value", name)
			}
		}
		it.Bytes = data
	}
	return it, nil
}

// allDigits reports whether s is one or more decimal digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// needsEscape reports whether the writer must escape byte c: control
// characters, space, and the escape character itself.
func needsEscape(c byte) bool { return c <= ' ' || c == '$' }

// escape encodes s for a text file: bytes 0x00-0x20 and '$' become '$'
// and two upper-case hex digits; an empty string becomes a lone "$".
func escape(s string) string {
	if s == "" {
		return "$"
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			sb.WriteByte('$')
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&15])
		} else {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// unescape reverses escape. A '$' that is not followed by two hex digits
// is kept as it is.
func unescape(s string) string {
	if s == "$" {
		return ""
	}
	if !strings.Contains(s, "$") {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			sb.WriteByte(byte(v))
			i += 2
			continue
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Encode renders f as a text configuration file exactly as the real
// SoftEther writer does: BOM, banner, CRLF line ends, one TAB per level,
// items sorted by name, an empty line, then sub-folders sorted by name.
// f is written as the top-level folder, so it should be the root.
// Items with an invalid type are not written.
func (f *Folder) Encode() []byte {
	var b bytes.Buffer
	// Grow once to about the size of the last encoding: a configuration
	// of a hub of 10,000 users is megabytes, and growing by doubling
	// costs more than the encoding.
	hint := lastEncodedSize.Load()
	b.Grow(int(hint + hint/8))
	defer func() { lastEncodedSize.Store(int64(b.Len())) }()
	b.WriteString(bom)
	b.WriteString(banner)
	encodeFolder(&b, f, 0)
	return b.Bytes()
}

// EncodePart renders f as a configuration text whose root holds f alone,
// without the file's BOM and banner: a part of a configuration kept
// elsewhere (a farm keeps each hub and user as its own value). Parse
// reads it back; f is the root's one folder.
func (f *Folder) EncodePart() []byte {
	var b bytes.Buffer
	b.WriteString("declare root\r\n{\r\n")
	encodeFolder(&b, f, 1)
	b.WriteString("}\r\n")
	return b.Bytes()
}

// lastEncodedSize is the length of the last encoding (see Encode).
var lastEncodedSize atomic.Int64

func encodeFolder(b *bytes.Buffer, f *Folder, depth int) {
	if f.enc != nil && f.encDepth == depth {
		b.Write(f.enc)
		return
	}
	if f.final {
		start := b.Len()
		defer func() { f.enc, f.encDepth = bytes.Clone(b.Bytes()[start:]), depth }()
	}
	indent(b, depth)
	b.WriteString("declare ")
	writeEscaped(b, f.Name)
	b.WriteString("\r\n")
	indent(b, depth)
	b.WriteString("{\r\n")

	// Files are kept in name order, so sorting is rarely needed: copy
	// only then (a hub's user list is large and saved at every change).
	items := f.Items
	if !slices.IsSortedFunc(items, func(x, y *Item) int { return compareNames(x.Name, y.Name) }) {
		items = slices.Clone(items)
		slices.SortStableFunc(items, func(x, y *Item) int { return compareNames(x.Name, y.Name) })
	}
	written := 0
	for _, it := range items {
		if encodeItem(b, it, depth+1) {
			written++
		}
	}
	if written > 0 && len(f.Folders) > 0 {
		b.WriteString("\r\n")
	}
	folders := f.Folders
	if !slices.IsSortedFunc(folders, func(x, y *Folder) int { return compareNames(x.Name, y.Name) }) {
		folders = slices.Clone(folders)
		slices.SortStableFunc(folders, func(x, y *Folder) int { return compareNames(x.Name, y.Name) })
	}
	for _, c := range folders {
		encodeFolder(b, c, depth+1)
	}

	indent(b, depth)
	b.WriteString("}\r\n")
}

// encodeItem writes one item line into b, without allocating.
func encodeItem(b *bytes.Buffer, it *Item, depth int) bool {
	switch it.Type {
	case String, Uint, Uint64, Bool, Byte:
	default:
		return false
	}
	indent(b, depth)
	b.WriteString(it.Type.String())
	b.WriteByte(' ')
	writeEscaped(b, it.Name)
	b.WriteByte(' ')
	switch it.Type {
	case String:
		writeEscaped(b, it.Str)
	case Uint:
		b.Write(strconv.AppendUint(b.AvailableBuffer(), uint64(uint32(it.Uint)), 10))
	case Uint64:
		b.Write(strconv.AppendUint(b.AvailableBuffer(), it.Uint, 10))
	case Bool:
		b.Write(strconv.AppendBool(b.AvailableBuffer(), it.Bool))
	case Byte:
		if len(it.Bytes) == 0 {
			b.WriteByte('$') // an empty value, as escape writes it
		} else {
			// base64 never needs escaping (A-Z a-z 0-9 + / =)
			b.Write(base64.StdEncoding.AppendEncode(b.AvailableBuffer(), it.Bytes))
		}
	}
	b.WriteString("\r\n")
	return true
}

// writeEscaped writes escape(s) into b without allocating: the runs that
// need no escaping are copied whole.
func writeEscaped(b *bytes.Buffer, s string) {
	if s == "" {
		b.WriteByte('$')
		return
	}
	const hex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; needsEscape(c) {
			b.WriteString(s[start:i])
			b.Write([]byte{'$', hex[c>>4], hex[c&15]})
			start = i + 1
		}
	}
	b.WriteString(s[start:])
}

const tabs = "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t"

func indent(b *bytes.Buffer, depth int) {
	for ; depth > len(tabs); depth -= len(tabs) {
		b.WriteString(tabs)
	}
	b.WriteString(tabs[:depth])
}

// compareNames orders names as the real writer does: ASCII letters
// upper-cased, bytes compared as signed chars (so UTF-8 sorts before
// ASCII), and a name that ends compares as a 0 byte.
func compareNames(a, b string) int {
	// The common prefix byte by byte (the hot path: a save of a large
	// file compares every pair of neighbours); the tail as below.
	n := min(len(a), len(b))
	i := 0
	for ; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ua, ub := upperSigned(a, i), upperSigned(b, i); ua != ub {
			if ua < ub {
				return -1
			}
			return 1
		}
	}
	for ; ; i++ {
		if i >= len(a) && i >= len(b) {
			return 0
		}
		ca, cb := upperSigned(a, i), upperSigned(b, i)
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
}

func upperSigned(s string, i int) int8 {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	if c >= 'a' && c <= 'z' {
		c -= 'a' - 'A'
	}
	return int8(c)
}
