package native

import "strings"

// DefaultHub is the hub a login name without a (known) hub goes to when the
// server names no other default (SoftEther SERVER_DEFAULT_HUB_NAME).
const DefaultHub = "DEFAULT"

// DefaultSeparator is the character between the user and the hub in
// "user@hub" (SoftEther Cedar.h, DEFAULT_USERNAME_HUB_SEPARATOR; the server
// item ServerConfiguration/UsernameHubSeparator changes it).
const DefaultSeparator = '@'

// SplitUsername finds the Virtual Hub and the user name in the login name
// that a native client (OpenVPN, PPP, SSTP, EAP) sent, as SoftEther's
// PPPParseUsername (Proto_PPP.c) does:
//
//   - spaces and tabs around the name are dropped;
//   - "hub\user", with a backslash that is neither the first nor the last
//     character, names hub when exists(hub); when it does not, the whole
//     name is the user (the separator is then not looked at);
//   - otherwise the name is split at the last sep: "user@hub" names hub
//     when exists(hub), and when it does not the whole name is the user;
//     "user@" (nothing after the last sep) is the user "user";
//   - a name without a hub goes to defaultHub ("" means DefaultHub).
//
// sep is the configured separator; a byte that is not printable ASCII
// (0 included) means DefaultSeparator, as SoftEther reads the setting
// (Server.c, SiLoadServerCfg). exists reports whether a hub of that name
// exists (the caller decides case-insensitivity, as SoftEther's hub lookup
// is). user may be empty ("@hub"); the caller refuses that login.
func SplitUsername(name string, sep byte, defaultHub string, exists func(hub string) bool) (hub, user string) {
	if sep < 0x20 || sep > 0x7e {
		sep = DefaultSeparator
	}
	if defaultHub == "" {
		defaultHub = DefaultHub
	}
	src := strings.Trim(name, " \t")
	if i := strings.IndexByte(src, '\\'); i >= 1 && i < len(src)-1 {
		if h := src[:i]; exists(h) {
			return h, src[i+1:]
		}
		return defaultHub, src
	}
	i := strings.LastIndexByte(src, sep)
	if i < 0 {
		return defaultHub, src
	}
	user, hub = src[:i], src[i+1:]
	// SoftEther's IsEmptyStr: a hub part of only spaces and tabs is none.
	if strings.Trim(hub, " \t") == "" {
		return defaultHub, user
	}
	if !exists(hub) {
		return defaultHub, src
	}
	return hub, user
}
