package native

import (
	"strings"
	"testing"
)

// hubs is the set of existing hubs in the tests; SoftEther's hub lookup is
// case-insensitive.
func hubs(names ...string) func(string) bool {
	return func(h string) bool {
		for _, n := range names {
			if strings.EqualFold(n, h) {
				return true
			}
		}
		return false
	}
}

func TestSplitUsername(t *testing.T) {
	exists := hubs("VPN", "sales", "a@b")
	tests := []struct {
		in        string
		sep       byte
		def       string
		hub, user string
	}{
		{"alice", 0, "", "DEFAULT", "alice"},
		{"alice@VPN", 0, "", "VPN", "alice"},
		{"alice@vpn", '@', "", "vpn", "alice"},
		{"alice@nohub", '@', "", "DEFAULT", "alice@nohub"},
		{"a@b@sales", '@', "", "sales", "a@b"},  // the last separator
		{"x@a@b", '@', "", "DEFAULT", "x@a@b"},  // "b" is no hub; "a@b" is not tried
		{"VPN\\alice", '@', "", "VPN", "alice"}, // hub\user
		{"VPN\\alice@sales", '@', "", "VPN", "alice@sales"},
		{"nohub\\alice@sales", '@', "", "DEFAULT", "nohub\\alice@sales"}, // a backslash excludes the separator
		{"\\alice@VPN", '@', "", "VPN", "\\alice"},                       // a leading backslash is no hub\user
		{"VPN\\", '@', "", "DEFAULT", "VPN\\"},                           // nor a trailing one
		{"alice@", '@', "", "DEFAULT", "alice"},
		{"alice@ \t", '@', "", "DEFAULT", "alice"},
		{"@VPN", '@', "", "VPN", ""},
		{"  alice@VPN\t", '@', "", "VPN", "alice"},
		{"alice/VPN", '/', "", "VPN", "alice"},
		{"alice@VPN", '/', "", "DEFAULT", "alice@VPN"},
		{"alice@VPN", 0x7f, "", "VPN", "alice"}, // unprintable separator: '@'
		{"alice", 0, "sales", "sales", "alice"},
		{"", 0, "", "DEFAULT", ""},
	}
	for _, tc := range tests {
		hub, user := SplitUsername(tc.in, tc.sep, tc.def, exists)
		if hub != tc.hub || user != tc.user {
			t.Errorf("SplitUsername(%q, %q, %q) = (%q, %q), want (%q, %q)", tc.in, tc.sep, tc.def, hub, user, tc.hub, tc.user)
		}
	}
}

// FuzzSplitUsername checks that any name splits without a panic into parts
// of the name: the user is a substring of the trimmed name, and the hub is
// either one that exists and appears in the name, or the default.
func FuzzSplitUsername(f *testing.F) {
	for _, s := range []string{"alice", "a@VPN", "VPN\\a", "a@b@c", "\\", "@", " \t@VPN ", "x\\y@z"} {
		f.Add(s, byte('@'))
	}
	f.Fuzz(func(t *testing.T, name string, sep byte) {
		exists := func(h string) bool { return len(h)%2 == 1 } // arbitrary but deterministic
		hub, user := SplitUsername(name, sep, "", exists)
		src := strings.Trim(name, " \t")
		if !strings.Contains(src, user) {
			t.Fatalf("user %q is not part of %q", user, src)
		}
		if hub != DefaultHub && (!exists(hub) || !strings.Contains(src, hub)) {
			t.Fatalf("hub %q neither exists in %q nor is the default", hub, src)
		}
		if hub != DefaultHub && len(hub)+len(user)+1 != len(src) {
			t.Fatalf("hub %q and user %q do not make up %q", hub, user, src)
		}
	})
}
