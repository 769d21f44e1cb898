package server

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/ethervpn/ethervpn/internal/bridge"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/guard"
)

// localBridges are the local bridges of root/LocalBridgeList that run
// while the server serves (hub-and-securenat.md §10.1).
type localBridges struct {
	mu      sync.Mutex
	serving bool
	run     map[string]*runningBridge // by config.LocalBridge.Key
}

type runningBridge struct {
	cfg    config.LocalBridge
	hub    *Hub
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
	s.mu.Lock()
	// LocalBridgeList is not part of the typed model: the tree is current.
	want, _ := config.LocalBridges(s.cfg.Tree)
	hubs := make(map[string]*Hub, len(want))
	for _, b := range want {
		hubs[b.Key()] = s.hubs[strings.ToUpper(b.HubName)]
	}
	s.mu.Unlock()

	lb := &s.bridges
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.run == nil {
		lb.run = map[string]*runningBridge{}
	}
	keep := map[string]bool{}
	if lb.serving {
		for _, c := range want {
			keep[c.Key()] = true
		}
	}
	for key, r := range lb.run {
		if !keep[key] || hubs[key] != r.hub || !sameBridge(r.cfg, want, key) {
			r.stop()
			delete(lb.run, key)
		}
	}
	if !lb.serving {
		return
	}
	for _, c := range want {
		key := c.Key()
		h := hubs[key]
		if lb.run[key] != nil {
			continue
		}
		if h == nil {
			s.log.Warn("local bridge to a virtual hub that does not exist; not started", "bridge", c.String())
			continue
		}
		r := &runningBridge{cfg: c, hub: h, done: make(chan struct{})}
		r.b = bridge.New(h.Hub, bridge.Config{
			Name:           fmt.Sprintf("SID-LOCALBRIDGE-%d", h.counter.Add(1)),
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
		lb.run[key] = r
	}
}

func (r *runningBridge) stop() {
	r.cancel()
	<-r.done
}

// sameBridge reports whether the configuration wanted under key is still
// the one r runs.
func sameBridge(have config.LocalBridge, want []config.LocalBridge, key string) bool {
	for _, w := range want {
		if w.Key() == key {
			return w.String() == have.String() && w.NoPromiscuousMode == have.NoPromiscuousMode &&
				w.MonitorMode == have.MonitorMode && w.LimitBroadcast == have.LimitBroadcast &&
				string(w.TapMAC) == string(have.TapMAC)
		}
	}
	return false
}

// LocalBridges lists the configured local bridges with their state, for
// the admin's EnumLocalBridge.
func (s *Server) LocalBridges() []LocalBridgeInfo {
	s.mu.Lock()
	list, _ := config.LocalBridges(s.cfg.Tree)
	s.mu.Unlock()
	lb := &s.bridges
	lb.mu.Lock()
	defer lb.mu.Unlock()
	out := make([]LocalBridgeInfo, 0, len(list))
	for _, c := range list {
		info := LocalBridgeInfo{LocalBridge: c}
		if r := lb.run[c.Key()]; r != nil {
			info.Session = r.b.Config().Name
			info.Active = r.b.Active()
			info.Err = r.b.Err()
		}
		out = append(out, info)
	}
	return out
}

// startLocalBridges runs the configured local bridges; Serve calls it.
func (s *Server) startLocalBridges() {
	s.bridges.mu.Lock()
	s.bridges.serving = true
	s.bridges.mu.Unlock()
	s.ApplyLocalBridges()
}

// stopLocalBridges stops every local bridge (closing their devices; a TAP
// the server made disappears); Serve calls it on shutdown.
func (s *Server) stopLocalBridges() {
	s.bridges.mu.Lock()
	s.bridges.serving = false
	s.bridges.mu.Unlock()
	s.ApplyLocalBridges()
}
