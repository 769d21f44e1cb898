package server

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ethervpn/ethervpn/internal/bridge"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/runset"
)

// localBridges are the local bridges of root/LocalBridgeList that run
// while the server serves (docs/protocol/hub.md#local-bridge).
type localBridges = runset.Set[bridgeKey, config.LocalBridge, *runningBridge]

// bridgeKey names a running local bridge: its configuration key and the
// hub it is attached to, by identity, so that a hub deleted and created
// again under the same name gets its bridge restarted.
type bridgeKey struct {
	key string // config.LocalBridge.Key
	hub *Hub
}

type runningBridge struct {
	b      *bridge.Bridge
	cancel context.CancelFunc
	done   chan struct{}
}

// LocalBridgeInfo is the admin view of one configured local bridge.
type LocalBridgeInfo struct {
	config.LocalBridge
	Session string // hub session name (SID-LOCALBRIDGE-<n>); "" when not running
	Active  bool   // the device is open and attached to the hub
	Err     error  // why it is not active, if known
}

// ApplyLocalBridges makes the running local bridges match
// root/LocalBridgeList: it starts the listed ones, stops those no longer
// listed and restarts those whose settings or hub changed. Nothing runs
// while the server is not serving. The admin methods that change the list
// call it afterwards.
func (s *Server) ApplyLocalBridges() {
	s.bridges.Sync(func() map[bridgeKey]config.LocalBridge { // a bridge never fails to start: it reports device errors in its status
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.adm.serving {
			return nil
		}
		want := map[bridgeKey]config.LocalBridge{}
		for _, b := range s.cfg.LocalBridges.List {
			if h := s.hubs[strings.ToUpper(b.HubName)]; h != nil {
				want[bridgeKey{b.Key(), h}] = b.Clone()
			} else {
				s.log.Warn("local bridge to a virtual hub that does not exist; not started", "bridge", b.String())
			}
		}
		return want
	})
}

// startBridge runs one local bridge until it is stopped.
func (s *Server) startBridge(k bridgeKey, c config.LocalBridge) (*runningBridge, error) {
	r := &runningBridge{done: make(chan struct{})}
	r.b = bridge.New(k.hub.Hub, bridge.Config{
		Name:           fmt.Sprintf("SID-LOCALBRIDGE-%d", k.hub.counter.Add(1)),
		Device:         c.DeviceName,
		TapMode:        c.TapMode,
		TapMAC:         c.TapMAC,
		NoPromiscuous:  c.NoPromiscuousMode,
		Monitor:        c.MonitorMode,
		LimitBroadcast: c.LimitBroadcast,
		Log:            s.log,
	})
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.Background())
	go func() {
		defer close(r.done)
		defer guard.Recover(s.log.With("device", c.DeviceName), "local bridge", nil)
		r.b.Run(ctx)
	}()
	return r, nil
}

// Stop ends the bridge (closing its device) and waits for it.
func (r *runningBridge) Stop() {
	r.cancel()
	<-r.done
}

// LocalBridges lists the configured local bridges with their state, for
// the admin's EnumLocalBridge.
func (s *Server) LocalBridges() []LocalBridgeInfo {
	s.mu.Lock()
	list := slices.Clone(s.cfg.LocalBridges.List)
	hubs := make([]*Hub, len(list))
	for i, c := range list {
		hubs[i] = s.hubs[strings.ToUpper(c.HubName)]
	}
	s.mu.Unlock()
	out := make([]LocalBridgeInfo, 0, len(list))
	for i, c := range list {
		info := LocalBridgeInfo{LocalBridge: c}
		if r, _, ok := s.bridges.Get(bridgeKey{c.Key(), hubs[i]}); ok {
			info.Session = r.b.Config().Name
			info.Active = r.b.Active()
			info.Err = r.b.Err()
		}
		out = append(out, info)
	}
	return out
}
