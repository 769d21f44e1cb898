package server

import (
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/runset"
	"github.com/ethervpn/ethervpn/internal/securenat"
)

// natSettings is what a hub's SecureNAT runs with; a change to any of it
// restarts the SecureNAT.
type natSettings struct {
	cfg    config.SecureNAT
	limits securenat.Limits
	leases securenat.LeaseKeeper // a farm's dynamic hub: its leases in etcd
}

// natRun is the running SecureNAT of a hub: a set of at most one, under
// the key natKey.
type natRun = runset.Set[struct{}, natSettings, *securenat.SecureNAT]

var natKey struct{}

// SecureNAT returns the hub's running SecureNAT, or nil.
func (h *Hub) SecureNAT() *securenat.SecureNAT {
	n, _, _ := h.nat.Get(natKey)
	return n
}

// newNatRun returns the SecureNAT set of a new hub.
func (s *Server) newNatRun(h *Hub) *natRun {
	return runset.New(func(_ struct{}, v natSettings) (*securenat.SecureNAT, error) {
		n, err := securenat.Start(h.Hub, v.cfg, securenat.Options{Log: s.log, Limits: v.limits, Leases: v.leases})
		if err != nil {
			s.log.Error("SecureNAT could not start; fix its settings (SecureNatHostSet, NatSet, DhcpSet)", "hub", h.Name(), "err", err)
		}
		return n, err
	})
}

// ApplySecureNAT starts, restarts or stops the hub's SecureNAT so that it
// matches the hub's configuration and online state: it runs while both
// the setting and the hub are on, and restarts (as on SoftEther) when any
// of its settings changed. The error is that of a start that failed.
func (s *Server) ApplySecureNAT(h *Hub) error {
	return h.nat.Sync(func() map[struct{}]natSettings {
		s.mu.Lock()
		defer s.mu.Unlock()
		// SecureNAT runs from Open (before Serve) until Serve stops.
		if !h.cfg.SecureNAT.Enabled || !h.Online() || s.life.Err() != nil {
			return nil
		}
		v := natSettings{cfg: h.cfg.SecureNAT, limits: natLimits(h.cfg)}
		if s.farm != nil {
			// In a farm, a hub's SecureNAT runs where the hub's sessions
			// are: on the node that hosts the dynamic hub.
			var here bool
			if v.leases, here = s.farm.natHere(h.cfg); !here {
				return nil
			}
		}
		return map[struct{}]natSettings{natKey: v}
	})
}

// natLimits are the hub options SecureNAT_Max*PerIp of hc (0 =
// unlimited).
func natLimits(hc *config.Hub) securenat.Limits {
	o := &hc.Options
	return securenat.Limits{
		MaxTCPPerIP:        int(o.SecureNAT_MaxTcpSessionsPerIp),
		MaxTCPSynSentPerIP: int(o.SecureNAT_MaxTcpSynSentPerIp),
		MaxUDPPerIP:        int(o.SecureNAT_MaxUdpSessionsPerIp),
		MaxICMPPerIP:       int(o.SecureNAT_MaxIcmpSessionsPerIp),
	}
}
