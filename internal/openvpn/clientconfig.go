package openvpn

import (
	"archive/zip"
	"bytes"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// ClientConfig is what a client configuration file must say about the
// server: where it is, how to reach it and which certificate to trust.
// It is the input of the admin method MakeOpenVpnConfigFile (SoftEther
// Admin.c, StMakeOpenVpnConfigFile), which fills the same facts into its
// hamcore/openvpn_sample.ovpn.
type ClientConfig struct {
	Host    string   // the server's host name or address, as the client dials it
	Port    int      // a UDP port of PortsUDP, or an SSL-VPN listener port for TCP
	Proto   string   // "udp" or "tcp"
	CACert  []byte   // the certificate the client trusts (DER): the server's own when self-signed
	Ciphers []string // data-ciphers offered, best first; nil means DefaultAEADCiphers
	Machine string   // the server's machine name: prefixes the file names as in SoftEther
	Time    time.Time
}

// DefaultAEADCiphers are the data-channel ciphers a generated file offers:
// the AEAD ciphers this server negotiates (DefaultCiphers without CBC),
// which is also OpenVPN 2.6's own default list. The CBC ciphers stay
// available to hand-written files (SoftEther's sample names AES-128-CBC)
// but a new file should not ask for them.
var DefaultAEADCiphers = []string{"AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"}

// Names of the files in the zip, after the machine-name prefix: those of
// SoftEther's StMakeOpenVpnConfigFile ("openvpn_remote_access_l3.ovpn",
// "openvpn_site_to_site_bridge_l2.ovpn" and readme.txt; its readme.pdf, a
// copy of readme.txt's manual, is left out).
const (
	ReadmeName = "readme.txt"
	L3Suffix   = "openvpn_remote_access_l3.ovpn"
	L2Suffix   = "openvpn_site_to_site_bridge_l2.ovpn"
)

// FilePrefix is the prefix SoftEther puts before both .ovpn names: the
// machine name cut to 16 characters, lower case, and "_" (nothing when
// the name is empty).
func FilePrefix(machine string) string {
	if len(machine) > 16 {
		machine = machine[:16]
	}
	if machine == "" {
		return ""
	}
	return strings.ToLower(machine) + "_"
}

// File renders the client file for dev "tun" (layer 3: the client gets
// an address from the hub's DHCP server, pushed by the server) or "tap"
// (layer 2: the client's tap is a port of the hub). openvpn 2.6 reads
// it as it is; the user only supplies a user name and password.
func (c ClientConfig) File(dev string) []byte {
	var b bytes.Buffer
	mode := "Remote access (layer 3, a tun device): this computer gets an IPv4 address\n" +
		"# from the DHCP server of the Virtual Hub (SecureNAT's or one on a bridged LAN)."
	if dev == "tap" {
		mode = "Site-to-site bridge (layer 2, a tap device): Ethernet frames pass between\n" +
			"# the tap device and the Virtual Hub. Bridge the tap with a LAN (or run a DHCP\n" +
			"# client on it) yourself."
	}
	ciphers := c.Ciphers
	if len(ciphers) == 0 {
		ciphers = DefaultAEADCiphers
	}
	fmt.Fprintf(&b, `# OpenVPN client configuration for an ethervpn (SoftEther VPN compatible) server,
# made by the server's OpenVpnMakeConfig command.
#
# %s
#
# Log in with the user name and password of a user of a Virtual Hub. Write the
# user name as "user@HUB" (or "HUB\user"); a plain "user" logs in to the hub
# DEFAULT. openvpn asks for both when it starts; to keep them in a file, write
# "auth-user-pass FILE" with the user name on the first line of FILE and the
# password on the second.
#
# If the client cannot reach the server by the address below (a server behind
# NAT, or one with a DNS name), change the "remote" line.

client
dev %s
proto %s
remote %s %d
resolv-retry infinite
nobind
persist-key
persist-tun
auth-user-pass
data-ciphers %s
verb 3

# The server's certificate: the client accepts no other server.
<ca>
%s</ca>
`, mode, dev, c.Proto, c.Host, c.Port, strings.Join(ciphers, ":"),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.CACert}))
	return b.Bytes()
}

// readme is the zip's readme.txt.
const readme = `OpenVPN client configuration files
==================================

This archive holds two configuration files for the OpenVPN client (2.4 or
later; 2.6 recommended), made by the server's OpenVpnMakeConfig command:

  *_openvpn_remote_access_l3.ovpn
      Remote access (tun device). The client gets an IPv4 address, the
      gateway and DNS servers from the DHCP server of the Virtual Hub, which
      must have one (enable SecureNAT, or bridge the hub with a LAN that has
      a DHCP server).

  *_openvpn_site_to_site_bridge_l2.ovpn
      Layer-2 bridge (tap device). The tap device becomes a port of the
      Virtual Hub; bridge it with a LAN of the client's computer.

Start the client with "openvpn --config FILE.ovpn" (or import the file into
your OpenVPN application) and log in with a user of the Virtual Hub: the user
name as "user@HUB" and that user's password.

The files name the server by the address the server found for itself. If the
clients reach it by another name or address, edit the "remote" line.
`

// Zip returns the archive MakeOpenVpnConfigFile answers: readme.txt and
// the tun and tap files, named as SoftEther names them.
func (c ClientConfig) Zip() ([]byte, error) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	prefix := FilePrefix(c.Machine)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{ReadmeName, []byte(readme)},
		{prefix + L3Suffix, c.File("tun")},
		{prefix + L2Suffix, c.File("tap")},
	} {
		fw, err := w.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: c.Time})
		if err != nil {
			return nil, err
		}
		if _, err := fw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
