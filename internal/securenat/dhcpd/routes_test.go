package dhcpd

import (
	"strings"
	"testing"
)

func TestParsePushRoutes(t *testing.T) {
	routes, err := ParsePushRoutes("10.1.2.3/8/192.168.30.254,\t0.0.0.0/0.0.0.0/192.168.30.1\n172.16.0.0/255.240.0.0/192.168.30.2")
	if err != nil {
		t.Fatal(err)
	}
	want := "10.0.0.0/255.0.0.0/192.168.30.254, 0.0.0.0/0.0.0.0/192.168.30.1, 172.16.0.0/255.240.0.0/192.168.30.2"
	if got := FormatPushRoutes(routes); got != want {
		t.Errorf("normalised %q\nwant %q", got, want)
	}
	if r, err := ParsePushRoutes(" \n "); err != nil || len(r) != 0 {
		t.Errorf("blank text: %v %v", r, err)
	}
	for _, bad := range []string{
		"10.0.0.0/8",
		"10.0.0.0/33/1.2.3.4",
		"10.0.0.0/255.0.255.0/1.2.3.4",
		"10.0.0/8/1.2.3.4",
		"::/0/1.2.3.4",
		"10.0.0.0/8/gw",
		strings.Repeat("10.0.0.0/8/1.2.3.4 ", MaxPushRoutes+1),
	} {
		if _, err := ParsePushRoutes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
