package server

import (
	"bytes"
	"testing"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// SetConfig restarts every hub, even one whose settings the new file does
// not change: its sessions end, as when SoftEther restarts its core.
func TestSetConfigRestartsEveryHub(t *testing.T) {
	s, d, _ := openAdmin(t)
	old := s.LookupHub("DEFAULT")
	if old == nil {
		t.Fatal("no DEFAULT hub")
	}
	data := call(t, d, serverAdm, "GetConfig", pack.New()).Data("FileData")
	call(t, d, serverAdm, "SetConfig", params("FileData", data))
	if h := s.LookupHub("DEFAULT"); h == nil || h == old {
		t.Fatalf("after SetConfig the hub is %p, before %p: want a new hub", h, old)
	}
	// a later change keeps the hubs it does not touch
	now := s.LookupHub("DEFAULT")
	call(t, d, serverAdm, "CreateListener", params("Port", 15555, "Enable", false))
	if s.LookupHub("DEFAULT") != now {
		t.Error("a change after SetConfig restarted the hubs")
	}
	if got := call(t, d, serverAdm, "GetConfig", pack.New()).Data("FileData"); len(got) <= len(data) {
		t.Error("the listener is not in the configuration")
	}
}

// The certificate an administrator sets is the one new connections get.
func TestSetServerCertInUse(t *testing.T) {
	s, d, _ := openAdmin(t)
	certDER, keyDER, err := newSelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	call(t, d, serverAdm, "SetServerCert", params("Cert", certDER, "Key", keyDER))
	if got := s.currentTLS().Certificates[0].Certificate[0]; !bytes.Equal(got, certDER) {
		t.Error("the certificate in use is not the one set")
	}
	if got := call(t, d, serverAdm, "GetServerCert", pack.New()).Data("Cert"); !bytes.Equal(got, certDER) {
		t.Error("GetServerCert does not answer the certificate set")
	}
	wantCode(t, d, serverAdm, "SetServerCert", params("Cert", certDER, "Key", []byte("no key")), vpnerr.ProtocolError)
}
