package control

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// hubsOwner is the owner of a default configuration with hubs DEFAULT
// and LIMITED (whose hub administrators may change nothing the options
// guard), saved to the returned store.
func hubsOwner(t *testing.T) (*Owner, *memStore) {
	t.Helper()
	cfg := config.Default()
	lim := config.NewHub("LIMITED")
	for _, opt := range []string{"no_online", "no_offline", "no_change_admin_password", "no_securenat",
		"no_securenat_enablenat", "no_securenat_enabledhcp", "no_change_log_config", "no_change_log_switch_type"} {
		lim.SetAdminOption(opt, 1)
	}
	cfg.Hubs = append(cfg.Hubs, lim)
	return ownerOf(t, cfg)
}

var limitedAdmin = Actor{Hub: "LIMITED"}

func pw(plain string) HubSettings {
	h, s := HubPasswordHashes(plain)
	return HubSettings{HashedPassword: h, SecurePassword: s}
}

// Refused hub changes (bad input, rights, the hub's admin options) leave
// the published configuration as it was, the very same pointer.
func TestHubChangesRefused(t *testing.T) {
	o, _ := hubsOwner(t)
	before := o.Current()
	zero := pw("x")
	zero.HashedPassword = make([]byte, 20)
	lanOff := NATOptions{}
	lanOff.SecureNAT = before.Hub("LIMITED").SecureNAT
	lanOff.NatEnabled = true
	limOnline := !before.Hub("LIMITED").Online
	cases := []struct {
		name string
		err  error
		do   func() error
	}{
		{"create by hub admin", vpnerr.NotEnoughRight, func() error { _, err := o.CreateHub(limitedAdmin, "NEW", pw("")); return err }},
		{"create with a zero hash", vpnerr.InvalidParameter, func() error { _, err := o.CreateHub(serverAdmin, "NEW", zero); return err }},
		{"create existing", vpnerr.HubAlreadyExists, func() error { _, err := o.CreateHub(serverAdmin, "default", pw("")); return err }},
		{"set missing", vpnerr.HubNotFound, func() error { return o.SetHub(serverAdmin, "NONE", pw("")) }},
		{"set password, no_change_admin_password", vpnerr.NotEnoughRight, func() error { return o.SetHub(limitedAdmin, "LIMITED", pw("new")) }},
		{"empty password from afar", vpnerr.InvalidParameter, func() error {
			s := pw("")
			s.NoEmptyPassword = true
			return o.SetHub(Actor{Hub: "DEFAULT"}, "DEFAULT", s)
		}},
		{"online, no_online/no_offline", vpnerr.NotEnoughRight, func() error { return o.SetHubOnline(limitedAdmin, "LIMITED", limOnline) }},
		{"delete by hub admin", vpnerr.NotEnoughRight, func() error { return o.DeleteHub(limitedAdmin, "LIMITED") }},
		{"delete missing", vpnerr.HubNotFound, func() error { return o.DeleteHub(serverAdmin, "NONE") }},
		{"enable SecureNAT, no_securenat", vpnerr.NotEnoughRight, func() error { _, err := o.SetSecureNATEnabled(limitedAdmin, "LIMITED", true); return err }},
		{"NAT option, bad MAC", vpnerr.InvalidParameter, func() error {
			n := lanOff
			n.MAC = nil
			return o.SetSecureNATOption(serverAdmin, "LIMITED", n)
		}},
		{"NAT option, network address", vpnerr.InvalidParameter, func() error {
			n := lanOff
			n.IP = n.IP.Prev() // 192.168.30.0
			return o.SetSecureNATOption(serverAdmin, "LIMITED", n)
		}},
		{"NAT option, bad push routes", vpnerr.InvalidParameter, func() error {
			n := lanOff
			n.SetPushRoutes, n.DHCPPushRoutes = true, "10.0.0.0/99/1.2.3.4"
			return o.SetSecureNATOption(serverAdmin, "LIMITED", n)
		}},
		{"NAT option, no_securenat", vpnerr.NotEnoughRight, func() error { return o.SetSecureNATOption(limitedAdmin, "LIMITED", lanOff) }},
		{"hub log, bad switch type", vpnerr.InvalidParameter, func() error {
			return o.SetHubLog(serverAdmin, "DEFAULT", HubLog{Log: config.LogSetting{PacketLogSwitchType: 6}})
		}},
		{"hub log, no_change_log_config", vpnerr.NotEnoughRight, func() error {
			return o.SetHubLog(limitedAdmin, "LIMITED", HubLog{Log: before.Hub("LIMITED").Log})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { refused(t, o, c.err, c.do) })
	}
	if o.Current() != before {
		t.Fatal("the refused changes published a configuration")
	}
}

// Hub changes are saved: an owner that loads the store sees them.
func TestHubChangesSaved(t *testing.T) {
	o, st := hubsOwner(t)
	s := pw("hubpw")
	s.Online, s.MaxSession = true, 5
	if _, err := o.CreateHub(serverAdmin, "NEW", s); err != nil {
		t.Fatal(err)
	}
	if err := o.SetHub(serverAdmin, "DEFAULT", HubSettings{Online: true, MaxSession: 9, NoEnum: true}); err != nil {
		t.Fatal(err)
	}
	if err := o.SetHubOnline(serverAdmin, "NEW", false); err != nil {
		t.Fatal(err)
	}
	if err := o.DeleteHub(serverAdmin, "LIMITED"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.SetSecureNATEnabled(serverAdmin, "NEW", true); err != nil {
		t.Fatal(err)
	}
	l := HubLog{SaveSecurityLog: false, SavePacketLog: true, Log: config.LogSetting{SecurityLogSwitchType: 2, PacketLogSwitchType: 5}}
	l.Log.PacketLog.ICMP = 7 // clamped to 2 (all)
	if err := o.SetHubLog(serverAdmin, "NEW", l); err != nil {
		t.Fatal(err)
	}
	back := loadStore(t, st)
	n, d := back.Hub("NEW"), back.Hub("DEFAULT")
	wantH, _ := HubPasswordHashes("hubpw")
	switch {
	case n == nil || back.Hub("LIMITED") != nil:
		t.Fatalf("hubs after create and delete: %d", len(back.Hubs))
	case !bytes.Equal(n.HashedPassword, wantH) || n.MaxSession != 5 || n.Online || !n.SecureNAT.Enabled:
		t.Errorf("NEW read back: password %x max %d online %v SecureNAT %v", n.HashedPassword, n.MaxSession, n.Online, n.SecureNAT.Enabled)
	case n.LogSecurity || !n.LogPacket || n.Log.SecurityLogSwitchType != 2 || n.Log.PacketLogSwitchType != 5 || n.Log.PacketLog.ICMP != 2:
		t.Errorf("NEW log read back: %v %v %+v", n.LogSecurity, n.LogPacket, n.Log)
	case d.MaxSession != 9 || !d.NoEnum || !d.Online:
		t.Errorf("DEFAULT read back: max %d noenum %v online %v", d.MaxSession, d.NoEnum, d.Online)
	}
	if !back.Hub("NEW").Equal(o.Current().Hub("NEW")) {
		t.Error("the saved hub differs from the published one")
	}
}

// A hub administrator whose hub forbids going online or offline still
// gets SetHub's other settings; the hub stays as it was.
func TestSetHubKeepsOnlineWhenDenied(t *testing.T) {
	o, _ := hubsOwner(t)
	was := o.Current().Hub("LIMITED").Online
	if err := o.SetHub(limitedAdmin, "LIMITED", HubSettings{Online: !was, MaxSession: 3}); err != nil {
		t.Fatal(err)
	}
	if h := o.Current().Hub("LIMITED"); h.Online != was || h.MaxSession != 3 {
		t.Errorf("online %v max %d, want %v and 3", h.Online, h.MaxSession, was)
	}
}

// A change whose save fails changes nothing.
func TestHubChangeFailedSave(t *testing.T) {
	o, st := hubsOwner(t)
	st.full = true
	if _, err := o.CreateHub(serverAdmin, "NEW", pw("")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("CreateHub on a full disk: %v", err)
	}
	if err := o.SetHubLog(serverAdmin, "DEFAULT", HubLog{}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("SetHubLog on a full disk: %v", err)
	}
	cur := o.Current()
	if cur.Hub("NEW") != nil || !cur.Hub("DEFAULT").LogSecurity {
		t.Error("a change whose save failed was published")
	}
	st.full = false
	if back := loadStore(t, st); !back.Equal(cur) {
		t.Error("the store and the published configuration differ")
	}
}

// Reading the SecureNAT options changes nothing when the hub has a MAC;
// a hub without one (a hand-written file) gets one chosen once and
// saved, and every later read answers the same.
func TestSecureNATOptionReadChangesNothing(t *testing.T) {
	o, st := hubsOwner(t)
	before := o.Current()
	n, err := o.SecureNATOption("DEFAULT")
	if err != nil {
		t.Fatal(err)
	}
	if o.Current() != before || !bytes.Equal(n.MAC, before.Hub("DEFAULT").SecureNAT.MAC) {
		t.Fatal("reading the SecureNAT options changed the configuration")
	}

	if err := o.Update(func(next *config.Server) error {
		next.EditHub("DEFAULT").SecureNAT.MAC = nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	noMAC := o.Current()
	first, err := o.SecureNATOption("DEFAULT")
	if err != nil {
		t.Fatal(err)
	}
	if len(first.MAC) != 6 {
		t.Fatalf("MAC %v", first.MAC)
	}
	if noMAC.Hub("DEFAULT").SecureNAT.MAC != nil {
		t.Fatal("the read changed the published configuration in place")
	}
	again, err := o.SecureNATOption("DEFAULT")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.MAC, again.MAC) {
		t.Errorf("second read answers %v, first %v", again.MAC, first.MAC)
	}
	if saved := loadStore(t, st).Hub("DEFAULT").SecureNAT.MAC; !bytes.Equal(saved, first.MAC) {
		t.Errorf("saved MAC %v, answered %v", saved, first.MAC)
	}
}
