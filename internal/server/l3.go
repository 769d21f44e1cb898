package server

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/l3"
	"github.com/ethervpn/ethervpn/internal/runset"
)

// l3Switches are the virtual layer-3 switches of root/VirtualLayer3SwitchList
// whose Active flag is set; they run while the server serves
// (docs/protocol/hub.md#layer-3-switch).
type l3Switches = runset.Set[string, l3.Config, *runningSwitch] // by upper-cased name

type runningSwitch struct {
	sw     *l3.Switch
	cancel context.CancelFunc
	done   chan struct{}
}

// Stop ends the switch and waits for it.
func (r *runningSwitch) Stop() {
	r.cancel()
	<-r.done
}

// ApplyL3Switches makes the running switches match the configuration: it
// starts the active ones, stops the others and restarts those whose
// interfaces or routes changed. Nothing runs while the server is not
// serving. Whether a switch is online (all its hubs online) the switch
// itself polls, so hub changes need no call.
func (s *Server) ApplyL3Switches() {
	err := s.l3.Sync(func() map[string]l3.Config {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.adm.serving {
			return nil
		}
		want := map[string]l3.Config{}
		for _, sw := range s.cfg.L3Switches {
			if sw.Active {
				want[strings.ToUpper(sw.Name)] = l3ConfigOf(sw)
			}
		}
		return want
	})
	if err != nil {
		s.log.Warn("virtual layer-3 switch cannot start; check its interfaces and routes (RouterIfList, RouterTableList)", "err", err)
	}
}

// startL3Switch runs one switch until it is stopped.
func (s *Server) startL3Switch(_ string, c l3.Config) (*runningSwitch, error) {
	c.Lookup = s.l3Lookup
	c.SessionName = s.l3SessionName(c.Name)
	c.Log = s.log
	sw, err := l3.New(c)
	if err != nil {
		return nil, fmt.Errorf("switch %s: %w", c.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningSwitch{sw: sw, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer guard.Recover(s.log.With("switch", c.Name), "virtual layer-3 switch", nil)
		sw.Run(ctx)
	}()
	return r, nil
}

// l3ConfigOf is what the switch runs with. Interfaces and routes whose
// addresses or masks do not make a prefix are left out; the admin methods
// never store them.
func l3ConfigOf(sw config.L3Switch) l3.Config {
	c := l3.Config{Name: sw.Name}
	for _, x := range sw.Interfaces {
		if bits := control.MaskLen(x.Mask); bits > 0 && x.IP.Is4() {
			c.Interfaces = append(c.Interfaces, l3.Interface{HubName: x.HubName, Addr: netip.PrefixFrom(x.IP, bits)})
		}
	}
	for _, r := range sw.Routes {
		if bits := control.MaskLen(r.Mask); bits >= 0 && r.Network.Is4() {
			c.Routes = append(c.Routes, l3.Route{Network: netip.PrefixFrom(r.Network, bits), Gateway: orV4Zero(r.Gateway), Metric: r.Metric})
		}
	}
	return c
}

func (s *Server) l3Lookup(name string) *hub.Hub {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hubs[strings.ToUpper(name)]; h != nil {
		return h.Hub
	}
	return nil
}

// l3SessionName numbers interface sessions with the hub's session counter:
// SID-L3-<SWITCH>-<n> (docs/protocol/hub.md#session-types).
func (s *Server) l3SessionName(sw string) func(string) string {
	return func(hubName string) string {
		s.mu.Lock()
		h := s.hubs[strings.ToUpper(hubName)]
		s.mu.Unlock()
		var n uint64
		if h != nil {
			n = h.counter.Add(1)
		}
		return fmt.Sprintf("SID-L3-%s-%d", strings.ToUpper(sw), n)
	}
}

// l3Online reports whether the named switch runs and is online. It may be
// called under Server.mu.
func (s *Server) l3Online(name string) bool {
	r, _, ok := s.l3.Get(strings.ToUpper(name))
	return ok && r.sw.Online()
}
