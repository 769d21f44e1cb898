package server

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/ethervpn/ethervpn/internal/config"
)

// reconcile makes to the server's configuration and brings what runs in
// line with it: hubs are started or closed, a kept hub whose settings
// changed gets its forwarding options, logs, access lists, source address
// list and online state again, SecureNAT restarts where its settings or
// the hub's state changed, and cascades, local bridges, layer-3 switches,
// listeners, the certificate and syslog forwarding follow the
// configuration. Parts whose settings did not change are left running
// untouched (no session or NAT state is lost for them).
//
// Admin methods change the configuration and what runs in one step; a
// change that cannot be kept is undone through this one function, which
// is also the place where a control plane that validates, persists and
// then applies would apply.
func (s *Server) reconcile(to *config.Server) {
	s.mu.Lock()
	from := s.cfg
	fromTree, toTree := from.ToTree(), to.ToTree()
	s.cfg = to
	want := make(map[string]*config.Hub, len(to.Hubs))
	for _, hc := range to.Hubs {
		want[strings.ToUpper(hc.Name)] = hc
	}
	var removed, started, changed []*Hub
	for key, h := range s.hubs {
		if want[key] == nil {
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
		h.cfg = hc
		if hubFolder(fromTree, hc.Name).Equal(hubFolder(toTree, hc.Name)) {
			continue
		}
		opt := h.Options()
		s.dataPathOptions(&opt, hc.Name)
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
	syslogChanged := !fromTree.Folder("ServerConfiguration").Folder("SyslogSettings").Equal(
		toTree.Folder("ServerConfiguration").Folder("SyslogSettings"))
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
	if syslogChanged {
		s.applySyslog()
	}
}

// hubFolder is the folder of the hub called name in a configuration tree.
func hubFolder(root *config.Folder, name string) *config.Folder {
	return root.Folder("VirtualHUB").Folder(name)
}

// snapshot is a copy of the configuration to go back to.
func (s *Server) snapshot() *config.Folder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.ToTree().Clone()
}

// changedSince reports whether the configuration differs from snap.
func (s *Server) changedSince(snap *config.Folder) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.cfg.ToTree().Equal(snap)
}

// rollback puts the configuration snap back and brings what runs in line
// with it (see reconcile), after the change named by method could not be
// kept because of why.
func (s *Server) rollback(snap *config.Folder, method string, why error) {
	cfg, err := config.FromTree(snap)
	if err != nil {
		// snap is a copy of what ran, so this is a bug; keep what runs
		s.log.Error("cannot roll back an admin change: the previous configuration does not read back", "method", method, "err", err, "reason", why)
		return
	}
	s.reconcile(cfg)
	hint := "the server runs the configuration it had before the change"
	if errors.Is(why, syscall.ENOSPC) || errors.Is(why, syscall.EDQUOT) {
		hint = fmt.Sprintf("the disk is full: free space for %s, then repeat the change", s.dir)
	}
	s.log.Error("admin change rolled back", "method", method, "reason", why.Error(), "hint", hint)
}

// applyRunning brings every long-running thing the configuration
// describes in line with it and with whether the server serves: the
// configured listeners, local bridges, layer-3 switches, and each hub's
// cascades and SecureNAT. Serve calls it when it starts and stops.
func (s *Server) applyRunning() {
	s.syncListeners()
	s.ApplyLocalBridges()
	for _, h := range s.Hubs() {
		s.ApplyCascades(h)
		s.ApplySecureNAT(h)
	}
	s.ApplyL3Switches()
}
