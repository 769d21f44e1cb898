package sha0

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) [Size]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != Size {
		t.Fatalf("bad test vector %q", s)
	}
	return [Size]byte(b)
}

// Vectors from docs/protocol/session.md#password-hashing and docs/protocol/admin.md#hashes.
func TestSum(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "f96cea198ad1dd5617ac084a3d92c6107708c0ef"},
		{"abc", "0164b8a914cd2a5e74c4f7ff082c4d97f1edf880"},
		{strings.Repeat("a", 1000), "8a14112b4ba0c9544d50e2b7d06cdcbbf122824c"},
		{"hubpass", "a11fc7853551c6eaab4a1dbe6421a46a009b397f"},
		{"hubpassADMINISTRATOR", "48734fda8746843e2799880e6b5d3546ee350d41"},
		{"ADMINISTRATOR", "6e9c375ff3b913c6ba1ba71c9e5e2e5e60ed9302"},
		{"secret1U1", "017d7b706dd974c6bf56e39463d7618e39450769"},
	} {
		if got := Sum([]byte(tc.in)); got != mustHex(t, tc.want) {
			t.Errorf("Sum(%.20q) = %x, want %s", tc.in, got, tc.want)
		}
	}
}

// The base64 column of docs/protocol/admin.md#hashes is how hashes appear in the
// configuration file and JSON.
func TestSumBase64(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "+WzqGYrR3VYXrAhKPZLGEHcIwO8=",
		"abc":                  "AWS4qRTNKl50xPf/CCxNl/Ht+IA=",
		"hubpass":              "oR/HhTVRxuqrSh2+ZCGkagCbOX8=",
		"hubpassADMINISTRATOR": "SHNP2odGhD4nmYgOa101Ru41DUE=",
		"ADMINISTRATOR":        "bpw3X/O5E8a6G6ccnl4uXmDtkwI=",
	} {
		s := Sum([]byte(in))
		if got := base64.StdEncoding.EncodeToString(s[:]); got != want {
			t.Errorf("Sum(%q) = %s, want %s", in, got, want)
		}
	}
}

// Streaming writes in odd pieces must give the one-shot result, across block
// boundaries and padding edge cases (55, 56, 63, 64 bytes...).
func TestStreaming(t *testing.T) {
	msg := make([]byte, 300)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	for n := 0; n <= len(msg); n++ {
		want := Sum(msg[:n])
		for _, step := range []int{1, 3, 63, 64, 65} {
			h := New()
			for p := msg[:n]; len(p) > 0; {
				k := min(step, len(p))
				h.Write(p[:k])
				p = p[k:]
			}
			got := h.Sum(nil)
			if !bytes.Equal(got, want[:]) {
				t.Fatalf("len %d step %d: got %x want %x", n, step, got, want)
			}
			// Sum must not disturb the running state.
			if again := h.Sum(nil); !bytes.Equal(again, got) {
				t.Fatalf("len %d: second Sum differs", n)
			}
		}
	}
}

func TestHashPassword(t *testing.T) {
	for _, tc := range []struct{ user, pw, want string }{
		{"alice", "secret", "0e782dacdb78918d73007999da81bc408906d451"},
		{"Bob", "pw2", "2981e363f200f2373dd38efaa717f101c07ef590"},
		{"u1", "secret1", "017d7b706dd974c6bf56e39463d7618e39450769"},
		{"u2", "pw", "9a91efa61c0c3c17280d2a98eb8afa8003586198"},
		{"administrator", "hubpass", "48734fda8746843e2799880e6b5d3546ee350d41"},
	} {
		if got := HashPassword(tc.user, tc.pw); got != mustHex(t, tc.want) {
			t.Errorf("HashPassword(%q, %q) = %x, want %s", tc.user, tc.pw, got, tc.want)
		}
	}
}

// Only a-z are upper-cased: non-ASCII user names are hashed byte for byte,
// and long user names (more than one block) work.
func TestHashPasswordUpperASCIIOnly(t *testing.T) {
	for _, user := range []string{"josé", "ÿü", strings.Repeat("abcé", 40)} {
		up := []byte(user)
		for i, c := range up {
			if 'a' <= c && c <= 'z' {
				up[i] = c - 32
			}
		}
		want := Sum(append([]byte("pw"), up...))
		if got := HashPassword(user, "pw"); got != want {
			t.Errorf("HashPassword(%q) = %x, want %x", user, got, want)
		}
	}
}

func TestSecurePassword(t *testing.T) {
	var random [Size]byte
	for i := range random {
		random[i] = byte(i)
	}
	got := SecurePassword(HashPassword("alice", "secret"), random)
	if want := mustHex(t, "1394b82845bfb7a2711c4963f2b62978cb2c6ce3"); got != want {
		t.Errorf("SecurePassword = %x, want %x", got, want)
	}
}

func TestAdminHash(t *testing.T) {
	if got, want := AdminHash("hubpass"), mustHex(t, "a11fc7853551c6eaab4a1dbe6421a46a009b397f"); got != want {
		t.Errorf("AdminHash(hubpass) = %x, want %x", got, want)
	}
	if got, want := AdminHash(""), mustHex(t, "f96cea198ad1dd5617ac084a3d92c6107708c0ef"); got != want {
		t.Errorf("AdminHash(\"\") = %x, want %x", got, want)
	}
}

func TestHashInterface(t *testing.T) {
	h := New()
	if h.Size() != Size || h.BlockSize() != BlockSize {
		t.Fatalf("Size/BlockSize = %d/%d", h.Size(), h.BlockSize())
	}
	h.Write([]byte("junk"))
	h.Reset()
	h.Write([]byte("abc"))
	want := Sum([]byte("abc"))
	if got := h.Sum([]byte{0xff}); !bytes.Equal(got, append([]byte{0xff}, want[:]...)) {
		t.Fatalf("Sum with prefix = %x", got)
	}
}

func BenchmarkSum(b *testing.B) {
	for _, n := range []int{40, 1024, 64 << 10} {
		msg := make([]byte, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				Sum(msg)
			}
		})
	}
}

func BenchmarkSecurePassword(b *testing.B) {
	var random [Size]byte
	b.ReportAllocs()
	for b.Loop() {
		SecurePassword(HashPassword("alice", "secret"), random)
	}
}

func TestNTPasswordHash(t *testing.T) {
	// docs/protocol/admin.md#hashes: NT hash of "secret1".
	if got := NTPasswordHash("secret1"); hex.EncodeToString(got[:]) != "b39a61f16a4e11fa80580241f1d4aae8" {
		t.Errorf("NTPasswordHash(secret1) = %x", got)
	}
}
