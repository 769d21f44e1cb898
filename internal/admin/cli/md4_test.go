package cli

import (
	"encoding/hex"
	"testing"
)

func TestMD4(t *testing.T) {
	for in, want := range map[string]string{ // RFC 1320 test suite
		"":    "31d6cfe0d16ae931b73c59d7e0c089c0",
		"a":   "bde52cb31de33e46245e05fbdbd6fb24",
		"abc": "a448017aaf21d8525fc10ae87aa6729d",
		"12345678901234567890123456789012345678901234567890123456789012345678901234567890": "e33b4ddc9c38f2199c3e7b164fcc0536",
	} {
		if got := md4([]byte(in)); hex.EncodeToString(got[:]) != want {
			t.Errorf("md4(%q) = %x, want %s", in, got, want)
		}
	}
	// admin-interfaces.md §1.7: NT hash of "secret1".
	if got := ntHash("secret1"); hex.EncodeToString(got[:]) != "b39a61f16a4e11fa80580241f1d4aae8" {
		t.Errorf("ntHash(secret1) = %x", got)
	}
}
