package server

import (
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/securenat"
)

// SecureNAT returns the hub's running SecureNAT, or nil.
func (h *Hub) SecureNAT() *securenat.SecureNAT {
	h.natMu.Lock()
	defer h.natMu.Unlock()
	return h.nat
}

// ApplySecureNAT starts, restarts or stops the hub's SecureNAT so that it
// matches the hub's configuration and online state. Settings changes take
// effect through a restart, as on SoftEther.
func (s *Server) ApplySecureNAT(h *Hub) error {
	s.mu.Lock()
	cfg := h.cfg.SecureNAT
	limits := natLimits(s.cfg, h.cfg.Name)
	s.mu.Unlock()

	h.natMu.Lock()
	defer h.natMu.Unlock()
	if h.nat != nil {
		h.nat.Stop()
		h.nat = nil
	}
	if !cfg.Enabled || !h.Online() {
		return nil
	}
	n, err := securenat.Start(h.Hub, cfg, securenat.Options{Log: s.log, Limits: limits})
	if err != nil {
		s.log.Error("SecureNAT could not start; fix its settings (SecureNatHostSet, NatSet, DhcpSet)", "hub", h.Name(), "err", err)
		return err
	}
	h.nat = n
	return nil
}

// natLimits reads the hub options SecureNAT_Max*PerIp from the hub's
// Option folder (0 = unlimited).
func natLimits(c *config.Server, hubName string) securenat.Limits {
	var opt *config.Folder
	if hubs := c.Tree.Folder("VirtualHUB"); hubs != nil {
		for _, f := range hubs.Folders {
			if strings.EqualFold(f.Name, hubName) {
				opt = f.Folder("Option")
			}
		}
	}
	if opt == nil {
		return securenat.Limits{}
	}
	return securenat.Limits{
		MaxTCPPerIP:        int(opt.GetUint("SecureNAT_MaxTcpSessionsPerIp")),
		MaxTCPSynSentPerIP: int(opt.GetUint("SecureNAT_MaxTcpSynSentPerIp")),
		MaxUDPPerIP:        int(opt.GetUint("SecureNAT_MaxUdpSessionsPerIp")),
		MaxICMPPerIP:       int(opt.GetUint("SecureNAT_MaxIcmpSessionsPerIp")),
	}
}
