package config

import (
	"slices"
	"strings"
)

// Copy-on-write editing of the model, for the owner of the server's state
// (internal/control): a published configuration is never changed; a
// change starts from Clone and replaces, through EditHub, EditUser and
// EditGroup, only what it touches. A SetUser on a hub of 10,000 users so
// copies one hub's slices and one user, not the server.
//
// The tree (Server.Tree) and the writer-side bookkeeping (the loaded
// parts, each entry's folder) are shared by the copies: only the owner,
// under its lock, reads or writes them (ToTree, Cascades), never a reader
// of a published configuration.

// Clone returns a copy of s to change: its slices are its own, the hubs
// and their users are still shared (replace them with EditHub).
func (s *Server) Clone() *Server {
	c := *s
	c.AdminPasswordHash = slices.Clone(s.AdminPasswordHash)
	c.Listeners = slices.Clone(s.Listeners)
	c.Hubs = slices.Clone(s.Hubs)
	c.L3Switches = cloneL3(s.L3Switches)
	c.LocalBridges = s.LocalBridges.clone()
	c.PortsUDP, c.WireGuardKeys = slices.Clone(s.PortsUDP), slices.Clone(s.WireGuardKeys)
	return &c
}

// EditHub replaces the hub called name (case-insensitive) by a copy of it
// to change and returns the copy, or nil when there is no such hub. Call
// it on a Clone, never on a published configuration.
func (s *Server) EditHub(name string) *Hub {
	i := slices.IndexFunc(s.Hubs, func(h *Hub) bool { return strings.EqualFold(h.Name, name) })
	if i < 0 {
		return nil
	}
	h := s.Hubs[i].clone()
	s.Hubs[i] = h
	return h
}

// clone copies h with slices of its own; users, groups and cascades stay
// shared.
func (h *Hub) clone() *Hub {
	c := *h
	c.Users = slices.Clone(h.Users)
	c.Groups = slices.Clone(h.Groups)
	c.AcList = slices.Clone(h.AcList)
	c.AccessList = slices.Clone(h.AccessList)
	c.AdminOptions = slices.Clone(h.AdminOptions)
	c.Cascades = slices.Clone(h.Cascades) // the cascades stay shared (see EditCascade)
	c.SecureNAT.MAC = slices.Clone(h.SecureNAT.MAC)
	return &c
}

// EditUser replaces the user called name by a copy to change and returns
// it, or nil. Call it on a hub returned by EditHub.
func (h *Hub) EditUser(name string) *User {
	i := slices.IndexFunc(h.Users, func(u *User) bool { return strings.EqualFold(u.Name, name) })
	if i < 0 {
		return nil
	}
	return h.EditUserAt(i)
}

// EditUserAt replaces the user h.Users[i] by a copy to change and returns
// it. Call it on a hub returned by EditHub.
func (h *Hub) EditUserAt(i int) *User {
	c := *h.Users[i]
	c.Policy = clonePolicy(c.Policy)
	if c.folder != nil {
		// The copy is written at the next save, into a folder of its own:
		// the published user keeps its written folder untouched, and a
		// store that remembers written folders by identity (the farm's,
		// internal/farm ConfigStore.write) sees the copy as changed.
		c.folder = c.folder.Clone()
	}
	h.Users[i] = &c
	return &c
}

// EditGroup replaces the group called name by a copy to change and
// returns it, or nil. Call it on a hub returned by EditHub.
func (h *Hub) EditGroup(name string) *Group {
	i := slices.IndexFunc(h.Groups, func(g *Group) bool { return strings.EqualFold(g.Name, name) })
	if i < 0 {
		return nil
	}
	c := *h.Groups[i]
	c.Policy = clonePolicy(c.Policy)
	h.Groups[i] = &c
	return &c
}

func clonePolicy(p *Policy) *Policy {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
