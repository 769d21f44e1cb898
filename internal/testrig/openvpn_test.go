package testrig

import "testing"

// Only the remote line's host and the bare auth-user-pass change; CRLF
// files (SoftEther 5.01's) keep working.
func TestRewriteOpenVPNRemote(t *testing.T) {
	in := "client\r\nproto udp\r\nremote 203.0.113.7 1194\r\n;remote other 1\r\nauth-user-pass\r\n<ca>\r\nX\r\n</ca>\r\n"
	got, err := RewriteOpenVPNRemote([]byte(in), "10.250.1.1", "/tmp/auth")
	if err != nil {
		t.Fatal(err)
	}
	want := "client\r\nproto udp\r\nremote 10.250.1.1 1194\n;remote other 1\r\nauth-user-pass /tmp/auth\n<ca>\r\nX\r\n</ca>\r\n"
	if string(got) != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if _, err := RewriteOpenVPNRemote([]byte("client\nproto udp\n"), "10.250.1.1", ""); err == nil {
		t.Error("a file without a remote line was accepted")
	}
}
