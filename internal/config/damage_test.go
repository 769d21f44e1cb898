package config

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// realisticFile is the real vpnserver's file (two hubs, a group, users
// with passwords and a policy, a certificate and key) with a cascade added,
// so that cutting it can lose any kind of setting.
func realisticFile(t *testing.T) []byte {
	t.Helper()
	s, _ := loadReal(t)
	c := NewCascade("uplink", "192.0.2.1", 5555, "REMOTE", "bob")
	c.AuthType = CascadeAuthPassword
	c.HashedPassword = bytes.Repeat([]byte{7}, 20)
	s.Hub("TESTHUB").AddCascade(c)
	return s.ToTree().Encode()
}

// modelOf is what the server would run from b: its tree as the model
// writes it back.
func modelOf(b []byte) ([]byte, error) {
	root, err := Parse(b)
	if err != nil {
		return nil, err
	}
	s, err := FromTree(root)
	if err != nil {
		return nil, err
	}
	return s.ToTree().Encode(), nil
}

// A file cut at any offset either reads as the whole configuration (the
// cut fell in the line end after the root folder) or is refused: none
// loads with part of its hubs, users or certificate (issue 9 item 2:
// cut at 20 random offsets, 19 files loaded with 0-97 % of the users).
func TestTruncatedFileRefused(t *testing.T) {
	full := realisticFile(t)
	want, err := modelOf(full)
	if err != nil {
		t.Fatal(err)
	}
	// every line end (before, inside and after its CRLF), the last bytes,
	// and 200 random offsets
	cuts := map[int]bool{}
	for i, c := range full {
		if c == '\r' {
			cuts[i], cuts[i+1], cuts[i+2] = true, true, true
		}
	}
	for n := len(full) - 8; n < len(full); n++ {
		cuts[n] = true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		cuts[rng.IntN(len(full))] = true
	}
	loaded := 0
	for n := range cuts {
		if n >= len(full) {
			continue
		}
		got, err := modelOf(full[:n])
		if err != nil {
			continue
		}
		loaded++
		if !bytes.Equal(got, want) {
			t.Fatalf("cut at %d of %d loaded a different configuration:\n%s", n, len(full), firstDiff(got, want))
		}
	}
	// only the cut between the last "}" and its CRLF can load
	if loaded > 2 {
		t.Errorf("%d cuts loaded", loaded)
	}
}

// The binary format: every cut fails the checksum or the length checks.
func TestTruncatedBinaryRefused(t *testing.T) {
	root, err := Parse(realisticFile(t))
	if err != nil {
		t.Fatal(err)
	}
	full := root.EncodeBinary()
	rng := rand.New(rand.NewPCG(9, 2))
	for range 200 {
		n := rng.IntN(len(full))
		if _, err := Parse(full[:n]); err == nil {
			t.Fatalf("binary file cut at %d of %d loaded", n, len(full))
		}
	}
}

// Damage other than truncation is refused with the line: garbage in the
// middle, a lost or doubled brace, a changed value.
func TestDamagedFileRefused(t *testing.T) {
	full := string(realisticFile(t))
	lines := strings.SplitAfter(full, "\r\n")
	lineOf := func(substr string) int {
		for i, l := range lines {
			if strings.Contains(l, substr) {
				return i + 1
			}
		}
		t.Fatalf("no line with %q", substr)
		return 0
	}
	pw := lineOf("\t\tbyte HashedPassword ")
	cases := []struct {
		name string
		edit func() string
		line int
	}{
		{"garbage line", func() string { return replaceLine(lines, pw, "\t\tx\x00\xff garbage\r\n") }, pw},
		{"lost close", func() string { return replaceLine(lines, lineOf("\t}\r\n"), "") }, 0},
		{"extra close", func() string { return replaceLine(lines, pw, lines[pw-1]+"\t}\r\n") }, 0},
		{"short admin hash", func() string { return replaceLine(lines, pw, "\t\tbyte HashedPassword AAAA\r\n") }, pw},
		{"hash as a string", func() string { return replaceLine(lines, pw, "\t\tstring HashedPassword x\r\n") }, pw},
		{"hub online as text", func() string {
			l := lineOf("\t\t\tbool Online true")
			return replaceLine(lines, l, "\t\t\tstring Online true\r\n")
		}, lineOf("\t\t\tbool Online true")},
		{"port with junk", func() string {
			l := lineOf("uint Port 5555")
			return replaceLine(lines, l, "\t\t\tuint Port 5555x\r\n")
		}, lineOf("uint Port 5555")},
	}
	for _, c := range cases {
		_, err := modelOf([]byte(c.edit()))
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		var se *SyntaxError
		var ve *ValueError
		line := 0
		switch {
		case errors.As(err, &se):
			line = se.Line
		case errors.As(err, &ve):
			line = ve.Line
		default:
			t.Errorf("%s: %v, want a SyntaxError or ValueError", c.name, err)
			continue
		}
		if c.line != 0 && line != c.line {
			t.Errorf("%s: error at line %d, want %d: %v", c.name, line, c.line, err)
		}
		if !strings.Contains(err.Error(), "line ") {
			t.Errorf("%s: error names no line: %v", c.name, err)
		}
	}
}

// replaceLine returns the lines joined with line n (1-based) replaced.
func replaceLine(lines []string, n int, with string) string {
	out := append([]string{}, lines[:n-1]...)
	out = append(out, with)
	return strings.Join(append(out, lines[n:]...), "")
}

// Modelled items that are present but unusable are refused by FromTree
// (the real server reads them as zero: no admin password, hub offline),
// also when the tree did not come from a text file.
func TestFromTreeRefusesUnusableValues(t *testing.T) {
	for _, c := range []struct {
		name string
		path string
		edit func(root *Folder)
	}{
		{"admin hash length", "ServerConfiguration/HashedPassword", func(r *Folder) {
			r.Folder("ServerConfiguration").SetBytes("HashedPassword", []byte{1, 2, 3})
		}},
		{"hub secure password", "VirtualHUB/TESTHUB/SecurePassword", func(r *Folder) {
			r.Folder("VirtualHUB").Folder("TESTHUB").SetBytes("SecurePassword", nil)
		}},
		{"user password hash", "VirtualHUB/TESTHUB/SecurityAccountDatabase/UserList/alice/AuthPassword", func(r *Folder) {
			r.Folder("VirtualHUB").Folder("TESTHUB").Folder("SecurityAccountDatabase").Folder("UserList").Folder("alice").SetBytes("AuthPassword", make([]byte, 19))
		}},
		{"listener port type", "ListenerList/Listener0/Port", func(r *Folder) {
			r.Folder("ListenerList").Folder("Listener0").SetString("Port", "443")
		}},
		{"policy type", "VirtualHUB/TESTHUB/SecurityAccountDatabase/UserList/alice/Policy/MaxUpload", func(r *Folder) {
			r.Folder("VirtualHUB").Folder("TESTHUB").Folder("SecurityAccountDatabase").Folder("UserList").Folder("alice").Folder("Policy").SetBool("MaxUpload", true)
		}},
	} {
		root, err := Parse(readFixture(t))
		if err != nil {
			t.Fatal(err)
		}
		c.edit(root)
		root, err = Parse(root.EncodeBinary()) // no line numbers
		if err != nil {
			t.Fatal(err)
		}
		_, err = FromTree(root)
		var ve *ValueError
		if !errors.As(err, &ve) || ve.Path != c.path {
			t.Errorf("%s: FromTree = %v, want a ValueError for %s", c.name, err, c.path)
		}
	}
	// the files SoftEther and we write pass
	if _, err := FromTree(Default().Tree); err != nil {
		t.Errorf("default: %v", err)
	}
}

// nulRefused checks that damaged, a copy of full with zeros written from
// offset off on, is refused with a SyntaxError at the line of the first
// zero.
func nulRefused(t *testing.T, full, damaged []byte, off int) {
	t.Helper()
	_, err := modelOf(damaged)
	if err == nil {
		t.Fatalf("zeros at offset %d of %d: loaded", off, len(full))
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("zeros at offset %d: %v, want a SyntaxError", off, err)
	}
	// the line of the first zero; a zero over a line end's LF belongs to
	// the line after the CR
	want := 1 + bytes.Count(bytes.ReplaceAll(full[:off], []byte("\r\n"), []byte("\n")), []byte("\n")) +
		bytes.Count(bytes.ReplaceAll(full[:off], []byte("\r\n"), []byte("")), []byte("\r"))
	if se.Line != want || !strings.Contains(se.Reason, "control byte 0x00") {
		t.Fatalf("zeros at offset %d: %v, want line %d and the control byte named", off, err, want)
	}
}

// Zeros written into the file (a disk or copy error, or the red team's
// "dd if=/dev/zero bs=512 seek=20 count=1 conv=notrunc") are refused with
// the line: before, a zero run merged 15 hub option lines into one item
// name and a single zero lost DhcpGatewayAddress, and the server loaded
// and saved the file so (issue 9, red team F5).
func TestNULDamageRefused(t *testing.T) {
	full := realisticFile(t)
	if len(full) < 12000 {
		t.Fatalf("the file is %d bytes, the test wants more than 12000", len(full))
	}
	// a single zero at every eighth offset, the BOM and every byte of
	// and next to a line end; 12000 lost DhcpGatewayAddress
	offs := map[int]bool{0: true, 1: true, 2: true, 12000: true}
	for off, c := range full {
		if off%8 == 0 {
			offs[off] = true
		}
		if c == '\r' || c == '\n' {
			offs[off-1], offs[off], offs[off+1] = true, true, off+1 < len(full)
		}
	}
	for off, ok := range offs {
		if !ok {
			continue
		}
		damaged := bytes.Clone(full)
		damaged[off] = 0
		if _, err := Parse(damaged); err == nil {
			nulRefused(t, full, damaged, off) // reports the offset
		}
	}
	// the line is named for a sample of them
	rng := rand.New(rand.NewPCG(5, 20))
	for i := range 100 {
		off := rng.IntN(len(full))
		if i == 0 {
			off = 12000
		}
		damaged := bytes.Clone(full)
		damaged[off] = 0
		nulRefused(t, full, damaged, off)
	}
	// runs of zeros: whole 512-byte blocks as dd writes them, and random
	// runs, also running past the end of the file
	for off := 0; off < len(full); off += 512 {
		damaged := bytes.Clone(full)
		copy(damaged[off:], make([]byte, 512))
		nulRefused(t, full, damaged, off)
	}
	for range 100 {
		off, n := rng.IntN(len(full)), 1+rng.IntN(600)
		damaged := bytes.Clone(full)
		copy(damaged[off:], make([]byte, n))
		nulRefused(t, full, damaged, off)
	}
	// zeros appended (a crash after the size grew, before the data came)
	damaged := append(bytes.Clone(full), make([]byte, 4096)...)
	nulRefused(t, full, damaged, len(full))
	// other raw control bytes are damage too; TAB is not
	for _, c := range []byte{1, 0x0b, 0x0c, 0x1a, 0x1f} {
		d := bytes.Replace(full, []byte("\tuint "), []byte{'\t', c, 'u', 'i', 'n', 't', ' '}, 1)
		if _, err := Parse(d); err == nil {
			t.Errorf("raw byte 0x%02X loaded", c)
		}
	}
	if _, err := Parse(bytes.ReplaceAll(full, []byte("\r\n\t"), []byte("\r\n\t\t\t"))); err != nil {
		t.Errorf("extra TABs refused: %v", err)
	}
}

// The binary format needs no such check: its SHA-0 covers every byte
// after the header, so zeros anywhere fail it.
func TestZeroedBinaryRefused(t *testing.T) {
	root, err := Parse(realisticFile(t))
	if err != nil {
		t.Fatal(err)
	}
	full := root.EncodeBinary()
	rng := rand.New(rand.NewPCG(7, 3))
	for range 200 {
		off := rng.IntN(len(full))
		damaged := bytes.Clone(full)
		copy(damaged[off:], make([]byte, 1+rng.IntN(512)))
		if bytes.Equal(damaged, full) {
			continue // the bytes were zeros already
		}
		if _, err := Parse(damaged); err == nil {
			t.Fatalf("binary file with zeros at %d loaded", off)
		}
	}
}
