package config

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ethervpn/ethervpn/internal/sha0"
)

// buildBinary writes the documented layout by hand, independently of
// EncodeBinary, so the reader is checked against the spec, not itself.
func buildBinary(t *testing.T) []byte {
	t.Helper()
	var body bytes.Buffer
	u32 := func(v uint32) { binary.Write(&body, binary.BigEndian, v) }
	name := func(s string) { u32(uint32(len(s) + 1)); body.WriteString(s) }
	name("root")
	u32(1) // one sub-folder
	{
		name("Sub")
		u32(0)
		u32(1)
		name("Text")
		u32(4)
		u32(5)
		body.WriteString("héllo"[:5])
	}
	u32(4) // four items
	name("N")
	u32(1)
	u32(42)
	name("Big")
	u32(2)
	binary.Write(&body, binary.BigEndian, uint64(1)<<50)
	name("Blob")
	u32(3)
	u32(3)
	body.Write([]byte{0, 1, 2})
	name("Flag")
	u32(5)
	u32(1)
	sum := sha0.Sum(body.Bytes())
	return append(append([]byte("SEVPN_DB"), sum[:]...), body.Bytes()...)
}

func TestParseBinary(t *testing.T) {
	b := buildBinary(t)
	root, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if root.GetUint("n") != 42 || root.GetUint64("Big") != 1<<50 || !root.GetBool("Flag") ||
		!bytes.Equal(root.GetBytes("Blob"), []byte{0, 1, 2}) || root.Folder("Sub").GetString("Text") != "héllo"[:5] {
		t.Fatalf("decoded wrong values: %+v", root)
	}
	// our encoder writes the same bytes for the same tree
	if got := root.EncodeBinary(); !bytes.Equal(got, b) {
		t.Errorf("EncodeBinary differs from the hand-built file")
	}

	// any flipped byte after the header breaks the checksum
	bad := bytes.Clone(b)
	bad[len(bad)-1] ^= 1
	if _, err := Parse(bad); err == nil {
		t.Error("corrupt binary file accepted")
	}
	// truncation, with a valid checksum over the truncated body
	short := b[28 : len(b)-3]
	sum := sha0.Sum(short)
	if _, err := Parse(append(append([]byte("SEVPN_DB"), sum[:]...), short...)); err == nil {
		t.Error("truncated binary file accepted")
	}
	// bytes after the root folder, with a valid checksum
	long := append(bytes.Clone(b[28:]), 0, 0, 0, 1)
	sum = sha0.Sum(long)
	if _, err := Parse(append(append([]byte("SEVPN_DB"), sum[:]...), long...)); err == nil {
		t.Error("binary file with bytes after the root folder accepted")
	}
}

// The real file converted to binary and back gives the same text.
func TestBinaryRealFile(t *testing.T) {
	b := readFixture(t)
	root, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(root.EncodeBinary())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Encode(), b) {
		t.Fatal("text -> binary -> text changed the file")
	}
}
