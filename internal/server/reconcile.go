package server

import (
	"bytes"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
)

// reconcile is the owner's apply function (see internal/control): it
// makes to the server's configuration and brings what runs in line with
// it: hubs are started or closed, a kept hub whose settings changed gets
// its forwarding options, logs, access lists, source address list and
// online state again, SecureNAT restarts where its settings or the hub's
// state changed, and cascades, local bridges, layer-3 switches,
// listeners, the certificate and syslog forwarding follow the
// configuration. Parts whose settings did not change are left running
// untouched (no session or NAT state is lost for them). A hub whose
// users or groups alone changed only gets its new configuration.
//
// The owner replaces what a change touches and never changes a published
// configuration, so an unchanged hub keeps its pointer; one that differs
// is compared by value (a configuration read back after a failed save is
// all new pointers with mostly equal values). A configuration replaced
// whole (replaced, see control.ApplyFunc) restarts every hub.
func (s *Server) reconcile(to *config.Server, replaced bool) {
	s.mu.Lock()
	from := s.cfg
	s.cfg = to
	want := make(map[string]*config.Hub, len(to.Hubs))
	for _, hc := range to.Hubs {
		want[strings.ToUpper(hc.Name)] = hc
	}
	var removed, started, changed []*Hub
	for key, h := range s.hubs {
		if replaced || want[key] == nil {
			delete(s.hubs, key)
			removed = append(removed, h)
		}
	}
	for _, hc := range to.Hubs {
		key := strings.ToUpper(hc.Name)
		h := s.hubs[key]
		if h == nil {
			started = append(started, s.addHub(hc))
			continue
		}
		old := h.cfg
		h.cfg = hc
		if old == hc || sameHubSettings(old, hc) {
			continue
		}
		opt := h.Options()
		s.dataPathOptions(&opt, hc)
		h.SetOptions(opt)
		s.applyHubLogs(h)
		s.applyACList(h)
		h.SetOnline(hc.Online)
		changed = append(changed, h)
	}
	if !bytes.Equal(from.CertDER, to.CertDER) || !bytes.Equal(from.KeyDER, to.KeyDER) {
		if cert, ok, err := configuredCert(to); err == nil && ok {
			s.cert, s.tls = cert, tlsConfig(cert)
		} else {
			s.log.Error("the restored server certificate is unusable; keeping the one in use", "err", err)
		}
	}
	syslogChanged := replaced || from.Syslog != to.Syslog
	s.mu.Unlock()

	for _, h := range removed {
		h.Close() // disconnects its sessions
		s.ApplySecureNAT(h)
		s.ApplyCascades(h)
		s.log.Info("virtual hub stopped", "hub", h.Name())
	}
	// Access lists read their user list files, which is never done under
	// s.mu (a slow or hostile file must not stall logins).
	for _, h := range append(started, changed...) {
		s.ApplyAccessLists(h)
	}
	for _, h := range append(started, changed...) {
		s.ApplySecureNAT(h) // restarts it only if its settings changed
		s.ApplyCascades(h)
	}
	s.ApplyLocalBridges()
	s.ApplyL3Switches()
	s.syncListeners()
	s.syncUDP()
	if syslogChanged {
		s.applySyslog()
	}
}

// sameHubSettings reports whether two configurations of a hub differ at
// most in their users and groups, which what runs reads at each login.
func sameHubSettings(a, b *config.Hub) bool {
	x, y := *a, *b
	x.Users, x.Groups, y.Users, y.Groups = nil, nil, nil, nil
	return x.Equal(&y)
}

// applyRunning brings every long-running thing the configuration
// describes in line with it and with whether the server serves: the
// configured listeners, local bridges, layer-3 switches, and each hub's
// cascades and SecureNAT. Serve calls it when it starts and stops.
func (s *Server) applyRunning() {
	s.syncListeners()
	s.syncUDP()
	s.ApplyLocalBridges()
	for _, h := range s.Hubs() {
		s.ApplyCascades(h)
		s.ApplySecureNAT(h)
	}
	s.ApplyL3Switches()
}
