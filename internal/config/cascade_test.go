package config

import (
	"bytes"
	"encoding/base64"
	"net"
	"strings"
	"testing"
)

// cascadeFixture is a hub with one cascade and a server with two local
// bridges, in the layout the real vpnserver 5.01 writes (one cascade with
// a plain password so that the RC4 encoding is covered; a real file has
// HashedPassword for standard passwords).
const cascadeFixture = `declare root
{
	declare LocalBridgeList
	{
		bool DoNotDisableOffloading false

		declare LocalBridge0
		{
			string DeviceName eth1
			string HubName HUB1
			bool LimitBroadcast false
			bool MonitorMode false
			bool NoPromiscuousMode false
			bool TapMode false
		}
		declare LocalBridge1
		{
			string DeviceName vpn
			string HubName HUB1
			bool LimitBroadcast true
			bool MonitorMode true
			bool NoPromiscuousMode false
			bool TapMode true
			string TapMacAddress 5E-11-22-33-44-55
		}
	}
	declare ServerConfiguration
	{
	}
	declare VirtualHUB
	{
		declare HUB1
		{
			bool Online true

			declare CascadeList
			{
				declare Cascade0
				{
					bool CheckServerCert false
					bool Online true

					declare ClientAuth
					{
						uint AuthType 2
						byte EncryptedPassword D/MNgRVdGw==
						string Username alice
					}
					declare ClientOption
					{
						string AccountName link2
						uint AdditionalConnectionInterval 1
						string BindLocalIP 0.0.0.0
						uint BindLocalPort 0
						uint ConnectionDisconnectSpan 0
						string CustomHttpHeader $
						string DeviceName _SEHUBLINKCLI_
						bool DisableQoS false
						bool HalfConnection false
						bool HideNicInfoWindow false
						bool HideStatusWindow false
						string Hostname 127.0.0.1
						string HubName TEST
						uint MaxConnection 8
						bool NoRoutingTracking true
						bool NoUdpAcceleration false
						uint NumRetry 4294967295
						uint Port 5555
						uint PortUDP 0
						byte ProxyPassword $
						string ProxyName $
						uint ProxyPort 0
						uint ProxyType 0
						string ProxyUsername $
						bool RequireBridgeRoutingMode true
						bool RequireMonitorMode false
						uint RetryInterval 10
						bool UseCompress false
						bool UseEncrypt true
					}
					declare Policy
					{
						bool CheckMac true
						bool DHCPFilter true
						uint MaxUpload 1000000
					}
				}
			}
		}
	}
}
`

func TestRC4Password(t *testing.T) {
	// Verified against the real server (docs/protocol/config.md#stored-secrets).
	if got := base64.StdEncoding.EncodeToString(rc4Password([]byte("alicepw"))); got != "D/MNgRVdGw==" {
		t.Errorf("RC4(alicepw) = %s", got)
	}
	if rc4Password(nil) != nil {
		t.Error("an empty password encodes to something")
	}
}

func TestCascadesAndBridges(t *testing.T) {
	root, err := Parse([]byte(cascadeFixture))
	if err != nil {
		t.Fatal(err)
	}
	s, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	cs := s.Hub("HUB1").Cascades
	if len(cs) != 1 {
		t.Fatalf("%d cascades", len(cs))
	}
	c := cs[0]
	if c.Name() != "Cascade0" || !c.Online || c.AuthType != CascadeAuthPlain || c.Username != "alice" ||
		c.PlainPassword != "alicepw" || c.AccountName != "link2" || c.Hostname != "127.0.0.1" || c.Port != 5555 ||
		c.HubName != "TEST" || c.MaxConnection != 8 || !c.UseEncrypt || c.AdditionalConnectionInterval != 1 {
		t.Errorf("cascade: %+v", c)
	}
	if c.Policy == nil || !c.Policy.CheckMac || !c.Policy.DHCPFilter || c.Policy.MaxUpload != 1000000 {
		t.Errorf("cascade policy: %+v", c.Policy)
	}

	bs, keep := LocalBridges(root)
	if keep || len(bs) != 2 {
		t.Fatalf("bridges %+v, DoNotDisableOffloading %v", bs, keep)
	}
	if b := bs[1]; b.DeviceName != "vpn" || !b.TapMode || !b.MonitorMode || !b.LimitBroadcast ||
		!bytes.Equal(b.TapMAC, net.HardwareAddr{0x5e, 0x11, 0x22, 0x33, 0x44, 0x55}) {
		t.Errorf("bridge: %+v", b)
	}
	if bs[0].Key() == bs[1].Key() || !strings.Contains(bs[1].String(), "TAP") {
		t.Errorf("keys %q %q", bs[0].Key(), bs[1].Key())
	}

	// Writing an unchanged cascade back leaves the file as it was.
	before := string(s.ToTree().Encode())
	if after := string(s.ToTree().Encode()); after != before {
		t.Errorf("unchanged cascade rewrote the file:\n%s", after)
	}

	// A changed one only changes its items; a new one gets a full folder.
	s = s.Clone()
	h := s.EditHub("HUB1")
	c = h.EditCascade("LINK2")
	c.Online = false
	c.AuthType, c.PlainPassword = CascadeAuthPassword, ""
	c.HashedPassword = bytes.Repeat([]byte{7}, 20)
	n := NewCascade("back", "10.0.0.1", 443, "DEFAULT", "bob")
	n.Online = true
	h.AddCascade(n)
	again, err := Parse(s.ToTree().Encode())
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := FromTree(again)
	cs = s2.Hub("HUB1").Cascades
	if len(cs) != 2 || cs[0].Online || cs[0].PlainPassword != "" || !bytes.Equal(cs[0].HashedPassword, c.HashedPassword) {
		t.Fatalf("after update: %+v", cs)
	}
	if cs[1].Name() != "Cascade1" || cs[1].AccountName != "back" || !cs[1].Online || cs[1].MaxConnection != 8 {
		t.Errorf("new cascade: %+v", cs[1])
	}
	opt := again.Folder("VirtualHUB").Folder("HUB1").Folder("CascadeList").Folder("Cascade1").Folder("ClientOption")
	if opt.GetString("DeviceName") != "_SEHUBLINKCLI_" || opt.GetUint("NumRetry") != 0xffffffff || !opt.GetBool("RequireBridgeRoutingMode") {
		t.Errorf("new cascade lacks the real server's items:\n%s", again.Encode())
	}
	if opt := again.Folder("VirtualHUB").Folder("HUB1").Folder("CascadeList").Folder("Cascade0").Folder("ClientOption"); opt.GetString("BindLocalIP") != "0.0.0.0" {
		t.Error("an item the model does not know was lost")
	}
	if !s2.Hub("HUB1").RemoveCascade("LINK2") || s2.Hub("HUB1").RemoveCascade("link2") || len(s2.Hub("HUB1").Cascades) != 1 {
		t.Error("RemoveCascade")
	}
}

// FuzzCascades reads cascades and bridges out of arbitrary trees: no
// panics, and an unchanged cascade written back changes nothing.
func FuzzCascades(f *testing.F) {
	f.Add([]byte(cascadeFixture))
	f.Add([]byte("declare root\n{\n\tdeclare LocalBridgeList\n\t{\n\t\tdeclare x\n\t\t{\n\t\t\tuint HubName 1\n\t\t}\n\t}\n}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		root, err := Parse(b)
		if err != nil {
			return
		}
		LocalBridges(root)
		for _, hf := range root.Folder("VirtualHUB").subfolders() {
			before := string(hf.Encode())
			for _, c := range Cascades(hf) {
				c.write(c.folder)
			}
			if after := string(hf.Encode()); after != before {
				t.Fatalf("unchanged cascades rewrote the hub:\n%s\n%s", before, after)
			}
		}
	})
}
