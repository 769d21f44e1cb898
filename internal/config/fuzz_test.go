package config

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse (text and binary): it must not
// panic; whatever it accepts must come back as the same tree when written
// and read again (text and binary) and encode to a fixed point; and, the
// strictness that keeps a damaged file from loading, no shorter prefix of
// an accepted input may be accepted as a different tree.
func FuzzParse(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input, and a 20 KB file
	// makes each step slow. The real file is covered by the unit tests.
	small := NewFolder(RootName)
	small.SetUint("ConfigRevision", 3)
	small.Ensure("ServerConfiguration").SetBytes("HashedPassword", make([]byte, 20))
	hub := small.Ensure("VirtualHUB").Ensure("H")
	hub.SetBool("Online", true)
	hub.SetUint64("CreatedTime", 1795209357395)
	hub.SetString("Note", "a b$")
	f.Add(small.Encode())
	f.Add(small.EncodeBinary())
	f.Add([]byte("declare root\n{\n\tstring a $20$24$\n\tbyte b AQ\n\tdeclare x\n\t{\n\t}\n}\n"))
	f.Add([]byte("declare root\r{\ruint64 x 18446744073709551615\r}"))
	f.Add([]byte("# c\ndeclare root\n{\nbool b 1\n\tdeclare ServerConfiguration\n{\nbyte HashedPassword AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n}\n}\n// end"))
	f.Add([]byte("SEVPN_DB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		root, err := Parse(b)
		if err != nil {
			return
		}
		text := root.Encode()
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("re-parse of our own output failed: %v\n%q", err, text)
		}
		if !again.Equal(root) {
			t.Fatalf("parse -> write -> parse changed the tree:\n%q", text)
		}
		if text2 := again.Encode(); !bytes.Equal(text, text2) {
			t.Fatalf("encode is not stable:\n%q\n%q", text, text2)
		}
		bin, err := Parse(root.EncodeBinary())
		if err != nil {
			t.Fatalf("binary re-parse failed: %v", err)
		}
		if !bin.Equal(root) {
			t.Fatal("binary round trip changed the tree")
		}
		// A cut input is refused or the same tree (only line ends and
		// comments may follow the root folder).
		for _, n := range []int{len(b) - 1, len(b) - 2, len(b) / 2, len(b) / 3, 2 * len(b) / 3} {
			if n <= 0 || n >= len(b) {
				continue
			}
			if cut, err := Parse(b[:n]); err == nil && !cut.Equal(root) {
				t.Fatalf("the first %d of %d bytes parse as a different tree", n, len(b))
			}
		}
		// the typed model accepts whatever the tree holds, and an unchanged
		// model leaves the tree as it was
		if s, err := FromTree(again); err == nil {
			if got := s.ToTree().Encode(); !bytes.Equal(got, text) {
				t.Fatalf("unchanged model rewrote the tree:\n%q\n%q", text, got)
			}
		}
	})
}
