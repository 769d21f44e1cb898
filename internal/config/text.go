package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// RootName is the name of the top-level folder of every configuration file.
const RootName = "root"

// maxDepth bounds folder nesting on input. Real files nest about eight
// levels; the bound keeps hostile input from exhausting the stack.
const maxDepth = 256

// ErrNoRoot is returned by Parse when the input has no top-level folder
// called "root" (for example an empty or truncated file).
var ErrNoRoot = errors.New("config: no root folder")

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
// checksum verified). It returns the top-level folder called "root".
// Lines the text grammar does not recognise are skipped, as the real
// reader does.
func Parse(b []byte) (*Folder, error) {
	if bytes.HasPrefix(b, []byte(binaryMagic)) {
		return parseBinary(b)
	}
	return parseText(b)
}

func parseText(b []byte) (*Folder, error) {
	b = bytes.TrimPrefix(b, []byte(bom))
	top := NewFolder("")
	stack := []*Folder{top}
	lineNo := 0
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
		tok := fieldsSpaceTab(line)
		if len(tok) == 0 {
			continue
		}
		cur := stack[len(stack)-1]
		switch {
		case tok[0] == "}":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		case strings.EqualFold(tok[0], "declare") && len(tok) >= 2:
			if len(stack) > maxDepth {
				return nil, fmt.Errorf("config: line %d: folders nested deeper than %d", lineNo, maxDepth)
			}
			f := NewFolder(unescape(tok[1]))
			cur.Folders = append(cur.Folders, f)
			stack = append(stack, f)
		case len(tok) >= 3 && itemTypeFromKeyword(tok[0]) != 0:
			it, err := parseItem(itemTypeFromKeyword(tok[0]), unescape(tok[1]), tok[2])
			if err != nil {
				return nil, fmt.Errorf("config: line %d: %w", lineNo, err)
			}
			cur.Items = append(cur.Items, it)
		}
	}
	root := top.Folder(RootName)
	if root == nil {
		return nil, ErrNoRoot
	}
	return root, nil
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

// parseItem converts the value token of a text item line.
func parseItem(t ItemType, name, value string) (*Item, error) {
	it := &Item{Name: name, Type: t}
	switch t {
	case String:
		it.Str = unescape(value)
	case Uint:
		it.Uint = leadingDecimal(value, math.MaxUint32)
	case Uint64:
		it.Uint = leadingDecimal(value, math.MaxUint64)
	case Bool:
		it.Bool = strings.EqualFold(value, "true") || leadingDecimal(value, math.MaxUint64) != 0
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

// leadingDecimal parses the decimal digits at the start of s (none = 0),
// saturating at max, like the C library conversion the real reader uses.
func leadingDecimal(s string, max uint64) uint64 {
	var v uint64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if v > (max-d)/10 {
			return max
		}
		v = v*10 + d
	}
	return v
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
	b.WriteString(bom)
	b.WriteString(banner)
	encodeFolder(&b, f, 0)
	return b.Bytes()
}

func encodeFolder(b *bytes.Buffer, f *Folder, depth int) {
	indent(b, depth)
	b.WriteString("declare ")
	b.WriteString(escape(f.Name))
	b.WriteString("\r\n")
	indent(b, depth)
	b.WriteString("{\r\n")

	items := slices.Clone(f.Items)
	slices.SortStableFunc(items, func(x, y *Item) int { return compareNames(x.Name, y.Name) })
	written := 0
	for _, it := range items {
		if encodeItem(b, it, depth+1) {
			written++
		}
	}
	if written > 0 && len(f.Folders) > 0 {
		b.WriteString("\r\n")
	}
	folders := slices.Clone(f.Folders)
	slices.SortStableFunc(folders, func(x, y *Folder) int { return compareNames(x.Name, y.Name) })
	for _, c := range folders {
		encodeFolder(b, c, depth+1)
	}

	indent(b, depth)
	b.WriteString("}\r\n")
}

func encodeItem(b *bytes.Buffer, it *Item, depth int) bool {
	var v string
	switch it.Type {
	case String:
		v = escape(it.Str)
	case Uint:
		v = strconv.FormatUint(uint64(uint32(it.Uint)), 10)
	case Uint64:
		v = strconv.FormatUint(it.Uint, 10)
	case Bool:
		v = strconv.FormatBool(it.Bool)
	case Byte:
		v = escape(base64.StdEncoding.EncodeToString(it.Bytes))
	default:
		return false
	}
	indent(b, depth)
	b.WriteString(it.Type.String())
	b.WriteByte(' ')
	b.WriteString(escape(it.Name))
	b.WriteByte(' ')
	b.WriteString(v)
	b.WriteString("\r\n")
	return true
}

func indent(b *bytes.Buffer, depth int) {
	for range depth {
		b.WriteByte('\t')
	}
}

// compareNames orders names as the real writer does: ASCII letters
// upper-cased, bytes compared as signed chars (so UTF-8 sorts before
// ASCII), and a name that ends compares as a 0 byte.
func compareNames(a, b string) int {
	for i := 0; ; i++ {
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
