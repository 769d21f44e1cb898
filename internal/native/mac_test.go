package native

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethervpn/ethervpn/internal/sha0"
)

func TestVirtualMAC(t *testing.T) {
	// The string SoftEther hashes: "%s@%s@%u", upper-cased, trimmed.
	h := sha0.Sum([]byte("MYHOST@VPN@1"))
	want := [6]byte{0xCA, h[1], h[2], h[3], h[4], h[5]}
	for _, in := range [][2]string{{"myhost", "vpn"}, {"MyHost", "VPN"}, {" myhost", "Vpn"}} {
		if got := VirtualMAC(in[0], in[1], 1); got != want {
			t.Errorf("VirtualMAC(%q, %q, 1) = % x, want % x", in[0], in[1], got, want)
		}
	}
	// Pinned, so that a change of the hash or the format shows.
	if pin := [6]byte{0xca, 0x8d, 0x90, 0x1a, 0xab, 0x69}; want != pin {
		t.Fatalf("VirtualMAC(myhost, VPN, 1) = % x, pinned % x", want, pin)
	}
	if VirtualMAC("myhost", "VPN", 2) == want || VirtualMAC("myhost", "VPN2", 1) == want {
		t.Error("a different hub or number gave the same MAC")
	}
	// Only ASCII letters are upper-cased (SoftEther's ToUpper).
	h = sha0.Sum([]byte("Hé@VPN@7"))
	if got := VirtualMAC("hé", "VPN", 7); got != [6]byte{0xCA, h[1], h[2], h[3], h[4], h[5]} {
		t.Errorf("non-ASCII name: % x", got)
	}
}

func TestSHA0Vector(t *testing.T) {
	// FIPS 180 (1993) test vector, so that VirtualMAC rests on a checked SHA-0.
	if got := sha0.Sum([]byte("abc")); string(got[:4]) != "\x01\x64\xb8\xa9" {
		t.Fatalf("SHA-0(abc) = % x", got)
	}
}

func TestMachineName(t *testing.T) {
	hosts := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hosts, []byte("# c\n127.0.0.1\tlocalhost box1 box2\n::1 localhost six\n"), 0o644)
	host := func(n string, err error) func() (string, error) { return func() (string, error) { return n, err } }
	for _, tc := range []struct {
		hn   string
		err  error
		want string
	}{
		{"vpn1", nil, "vpn1"},
		{"localhost.localdomain", nil, "box2"},
		{"", nil, "box2"},
		{"x", errors.New("no"), "Unknown"},
	} {
		if got := machineNameFrom(host(tc.hn, tc.err), hosts); got != tc.want {
			t.Errorf("hostname %q: got %q, want %q", tc.hn, got, tc.want)
		}
	}
	if MachineName() == "" {
		t.Error("MachineName is empty")
	}
}

func TestUniqueIDs(t *testing.T) {
	var u UniqueIDs
	if a, b, c := u.Take(), u.Take(), u.Take(); a != 1 || b != 2 || c != 3 {
		t.Fatalf("got %d %d %d", a, b, c)
	}
	u.Put(2)
	if got := u.Take(); got != 2 {
		t.Fatalf("after Put(2): %d", got)
	}
	if got := u.Take(); got != 4 {
		t.Fatalf("next: %d", got)
	}
}
