package client

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/sha0"
)

const sampleAccounts = `
# two accounts
[account office]
server = "vpn.example.com:443"
hub = DEFAULT
user = alice
password-hash = %HASH%   # alice's
tap = vpn_office
max-connections = 8
half-duplex = yes
retry-interval = 30
connection-lifetime = 600
pin-cert = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"

[account "lab"]
server = 10.0.0.1:5555
hub = LAB
user = guest
anonymous = true
tap = vpn_lab
retries = 3
`

func TestParseAccounts(t *testing.T) {
	hash := sha0.HashPassword("alice", "alicepw")
	accts, err := ParseAccounts(strings.NewReader(strings.ReplaceAll(sampleAccounts, "%HASH%", EncodeHash(hash[:]))))
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 2 {
		t.Fatalf("%d accounts", len(accts))
	}
	a, b := accts[0], accts[1]
	if a.Name != "office" || a.TAP != "vpn_office" || a.Link.Server != "vpn.example.com:443" || a.Link.Hub != "DEFAULT" ||
		a.Link.User != "alice" || !bytes.Equal(a.Link.PasswordHash, hash[:]) || a.Link.MaxConnections != 8 ||
		!a.Link.HalfDuplex || a.Link.RetryInterval != 30*time.Second || a.Link.ConnectionLifetime != 10*time.Minute ||
		a.Link.Retries != -1 || a.Link.ConnectionInterval != time.Second || len(a.Link.PinSHA256) != 95 {
		t.Fatalf("office: %+v", a)
	}
	if b.Name != "lab" || !b.Link.Anonymous || b.Link.Retries != 3 || b.Link.MaxConnections != 1 || b.Link.RetryInterval != 15*time.Second {
		t.Fatalf("lab: %+v", b)
	}
}

func TestParseAccountsErrors(t *testing.T) {
	base := "[account a]\nserver = s:1\nhub = H\nuser = u\nanonymous = yes\n"
	cases := map[string]string{
		"":                                     "no [account",
		"server = x\n":                         "outside",
		"[account]\n":                          "section header",
		"[account a]\n[account a]\n":           "twice",
		base + "password = secret\n":           "plain passwords",
		base + "max-connections = 33\n":        "1..32",
		base + "retry-interval = 2\n":          "below 5 s",
		base + "connection-interval = 0\n":     "below 1 s",
		base + "password-hash = abc\n":         "20-byte",
		base + "colour = blue\n":               "unknown setting",
		base + "half-duplex = maybe\n":         "yes or no",
		base + "just words\n":                  "key = value",
		base + "pin-cert = 12\n":               "SHA-256",
		"[account a]\nserver = s:1\nhub = H\n": "user is required",
	}
	for in, want := range cases {
		_, err := ParseAccounts(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one mentioning %q", in, err, want)
		}
	}
}

func FuzzParseAccounts(f *testing.F) {
	f.Add(sampleAccounts)
	f.Add("[account a]\nserver = s:1\nhub = H\nuser = u\nanonymous = yes\n")
	f.Add("[account \"x]\n#\"\n= =\n")
	f.Fuzz(func(t *testing.T, s string) {
		accts, err := ParseAccounts(strings.NewReader(s))
		if err == nil {
			for _, a := range accts {
				if a.Validate() != nil {
					t.Fatalf("accepted an invalid account %+v", a)
				}
			}
		}
	})
}
