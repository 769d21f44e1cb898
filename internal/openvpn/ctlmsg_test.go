package openvpn

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestControlReader reads NUL-terminated messages one byte at a time,
// drops one over the bound, and goes on with the next.
func TestControlReader(t *testing.T) {
	in := "PUSH_REQUEST\x00" + strings.Repeat("x", 40) + "\x00EXIT\x00"
	cr := newControlReader(iotest.OneByteReader(strings.NewReader(in)), make([]byte, 16), 32)
	var got []string
	for {
		msg, err := cr.next()
		if errors.Is(err, errControlTooLong) {
			got = append(got, "(too long)")
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, msg)
	}
	// The long message's tail, read after the drop, ends at its NUL.
	if want := "PUSH_REQUEST|(too long)|xxxxxxx|EXIT"; strings.Join(got, "|") != want {
		t.Fatalf("messages %q, want %s", got, want)
	}
}

// FuzzControlReader: whatever the stream, messages come out in order,
// none longer than the bound plus one read, and the reader never panics.
func FuzzControlReader(f *testing.F) {
	f.Add([]byte("PUSH_REPLY,route 10.0.0.0\x00AUTH_FAILED\x00"), uint8(3))
	f.Add([]byte("\x00\x00\x00"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		size := int(chunk%64) + 1
		cr := newControlReader(bytes.NewReader(in), make([]byte, size), 32)
		for {
			msg, err := cr.next()
			if errors.Is(err, errControlTooLong) {
				continue
			}
			if err != nil {
				return
			}
			if strings.IndexByte(msg, 0) >= 0 || len(msg) > 32+size {
				t.Fatalf("message %q (read size %d)", msg, size)
			}
		}
	})
}
