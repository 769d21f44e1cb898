package config

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse (text and binary): it must not
// panic, and whatever it accepts must encode to a fixed point.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(realFixture); err == nil {
		f.Add(b)
		if root, err := Parse(b); err == nil {
			f.Add(root.EncodeBinary())
		}
	}
	f.Add([]byte("declare root\n{\n\tstring a $20$24$\n\tbyte b AQ\n\tdeclare x\n\t{\n\t}\n}\n"))
	f.Add([]byte("declare root\r{\ruint64 x 99999999999999999999999\r}"))
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
		if text2 := again.Encode(); !bytes.Equal(text, text2) {
			t.Fatalf("encode is not stable:\n%q\n%q", text, text2)
		}
		bin, err := Parse(root.EncodeBinary())
		if err != nil {
			t.Fatalf("binary re-parse failed: %v", err)
		}
		if !bytes.Equal(bin.Encode(), text) {
			t.Fatal("binary round trip changed the tree")
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
