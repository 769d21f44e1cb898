package control

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

func TestListenerOperations(t *testing.T) {
	o, st := serverOwner(t)
	n := len(o.Current().Listeners)
	refused(t, o, vpnerr.InvalidParameter, func() error { return o.CreateListener(70000, true) })
	if err := o.CreateListener(15555, false); err != nil {
		t.Fatal(err)
	}
	refused(t, o, vpnerr.ListenerAlreadyExists, func() error { return o.CreateListener(15555, true) })
	refused(t, o, vpnerr.ListenerNotFound, func() error { return o.EnableListener(15556, true) })
	refused(t, o, vpnerr.ListenerNotFound, func() error { return o.DeleteListener(15556) })
	if err := o.EnableListener(15555, true); err != nil {
		t.Fatal(err)
	}
	ls := loadStore(t, st).Listeners
	if len(ls) != n+1 || ls[n] != (config.Listener{Port: 15555, Enabled: true}) {
		t.Fatalf("saved listeners = %+v", ls)
	}

	st.full = true
	if err := o.DeleteListener(15555); err == nil {
		t.Fatal("a change that could not be saved succeeded")
	}
	if len(o.Current().Listeners) != n+1 {
		t.Fatal("a failed save removed the listener")
	}
	st.full = false
	if err := o.DeleteListener(15555); err != nil {
		t.Fatal(err)
	}
	if len(loadStore(t, st).Listeners) != n {
		t.Fatal("the deleted listener is still saved")
	}
}

func TestServerSettingOperations(t *testing.T) {
	o, st := serverOwner(t)
	refused(t, o, vpnerr.InvalidParameter, func() error {
		_, err := o.SetKeep(config.KeepConnect{Use: true, Host: "keep.example", Port: 80, Protocol: 2})
		return err
	})
	refused(t, o, vpnerr.InvalidParameter, func() error {
		_, err := o.SetSysLog(config.Syslog{SaveType: 1})
		return err
	})
	refused(t, o, vpnerr.InvalidParameter, func() error {
		_, err := o.SetSysLog(config.Syslog{SaveType: 4, HostName: "log.example"})
		return err
	})
	refused(t, o, vpnerr.InvalidParameter, func() error { return o.SetServerCipher("") })
	refused(t, o, vpnerr.InvalidParameter, func() error { return o.SetServerCert(nil, []byte{1}) })

	k, err := o.SetKeep(config.KeepConnect{Use: true, Host: "keep.example", Port: 80, Protocol: 1, Interval: 1})
	if err != nil || k.Interval != 5 {
		t.Fatalf("SetKeep = %+v, %v; want the interval raised to 5", k, err)
	}
	l, err := o.SetSysLog(config.Syslog{SaveType: 2, HostName: "log.example"})
	if err != nil || l.Port != 514 {
		t.Fatalf("SetSysLog = %+v, %v; want port 514", l, err)
	}
	hash := bytes.Repeat([]byte{7}, 20)
	for _, err := range []error{
		o.SetServerPassword(hash),
		o.SetServerCipher("ECDHE-RSA-AES128-GCM-SHA256"),
		o.SetServerCert([]byte("cert"), []byte("key")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := loadStore(t, st)
	if got.KeepConnect != k || got.Syslog != l || !bytes.Equal(got.AdminPasswordHash, hash) ||
		got.CipherName != "ECDHE-RSA-AES128-GCM-SHA256" || string(got.CertDER) != "cert" || string(got.KeyDER) != "key" {
		t.Fatalf("saved settings: keep %+v syslog %+v cipher %q", got.KeepConnect, got.Syslog, got.CipherName)
	}

	st.full = true
	if _, err := o.SetSysLog(config.Syslog{}); err == nil {
		t.Fatal("a change that could not be saved succeeded")
	}
	if o.Current().Syslog != l {
		t.Fatal("a failed save changed the syslog settings")
	}
}

func TestSetConfig(t *testing.T) {
	o, st := serverOwner(t)
	read := func(root *config.Folder) (*config.Server, error) { return config.FromTree(root) }
	refused(t, o, vpnerr.InvalidParameter, func() error { return o.SetConfig([]byte("declare root {"), read) })
	refused(t, o, vpnerr.InvalidParameter, func() error {
		return o.SetConfig([]byte("declare root\n{\n}\n"), read) // no ServerConfiguration
	})

	cfg := config.Default()
	cfg.Hubs = append(cfg.Hubs, config.NewHub("OTHER"))
	text := append(cfg.ToTree().Encode(), 0) // a C string, as vpncmd sends it
	refused(t, o, vpnerr.InvalidParameter, func() error {
		return o.SetConfig(text, func(*config.Folder) (*config.Server, error) { return nil, errors.New("bad certificate") })
	})

	st.full = true
	if err := o.SetConfig(text, read); err == nil {
		t.Fatal("a change that could not be saved succeeded")
	}
	if o.Current().Hub("OTHER") != nil || o.Current().Hub("HUB") == nil {
		t.Fatal("a failed save replaced the configuration")
	}
	st.full = false
	if err := o.SetConfig(text, read); err != nil {
		t.Fatal(err)
	}
	got := loadStore(t, st)
	if got.Hub("OTHER") == nil || got.Hub("HUB") != nil {
		t.Fatalf("saved hubs after SetConfig: %d", len(got.Hubs))
	}
}
