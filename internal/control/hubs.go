package control

import (
	"bytes"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// HubSettings are what CreateHub and SetHub set on a hub.
type HubSettings struct {
	Online     bool
	MaxSession uint32 // 0 = unlimited
	NoEnum     bool   // hidden from anonymous enumeration

	// HashedPassword (SHA0(pw)) and SecurePassword (SHA0(pw ||
	// "ADMINISTRATOR")) are the hub administrators' password. CreateHub
	// needs both; SetHub keeps the current password unless both are
	// given, as SoftEther does.
	HashedPassword, SecurePassword []byte
	// NoEmptyPassword refuses the empty password in SetHub for a hub
	// administrator (one who connects from another host: the empty
	// password would open the hub's administration to anyone).
	NoEmptyPassword bool
	// Type is the hub's type in a farm (config.HubStandalone, HubStatic,
	// HubDynamic): CreateHub sets it, SetHub when ChangeType is set.
	Type       uint32
	ChangeType bool
}

// validHash reports whether b is a full, non-zero password hash. An
// all-zero hash is refused: a zero HashedPassword would let anyone
// administer the hub over the binary RPC.
func validHash(b []byte) bool {
	return len(b) == sha0.Size && !bytes.Equal(b, make([]byte, sha0.Size))
}

// CreateHub adds the hub name (a standalone hub) and returns it as saved.
// Only a server administrator may; the caller has checked the name's
// spelling.
func (o *Owner) CreateHub(who Actor, name string, s HubSettings) (*config.Hub, error) {
	if !who.ServerAdmin {
		return nil, vpnerr.NotEnoughRight
	}
	if !validHash(s.HashedPassword) || !validHash(s.SecurePassword) {
		return nil, vpnerr.InvalidParameter
	}
	var made *config.Hub
	err := o.Update(func(next *config.Server) error {
		switch {
		case len(next.Hubs) >= MaxHubs:
			return vpnerr.TooManyHubs
		case next.Hub(name) != nil:
			return vpnerr.HubAlreadyExists
		}
		if err := checkHubType(who, nil, s.Type); err != nil {
			return err
		}
		h := config.NewHub(name)
		h.HashedPassword, h.SecurePassword = bytes.Clone(s.HashedPassword), bytes.Clone(s.SecurePassword)
		h.Online, h.MaxSession, h.NoEnum, h.Type = s.Online, s.MaxSession, s.NoEnum, s.Type
		next.Hubs = append(next.Hubs, h)
		made = h
		return nil
	})
	return made, err
}

// SetHub changes the settings of the hub name. A hub administrator whose
// hub sets no_online or no_offline gets the other settings while the hub
// stays online or offline, as SoftEther's StSetHub does.
func (o *Owner) SetHub(who Actor, name string, s HubSettings) error {
	return o.Update(func(next *config.Server) error {
		cur := next.Hub(name)
		if cur == nil {
			return vpnerr.HubNotFound
		}
		setPassword := validHash(s.HashedPassword) && validHash(s.SecurePassword)
		if setPassword {
			if who.denied(cur, "no_change_admin_password") {
				return vpnerr.NotEnoughRight
			}
			emptyH, emptyS := HubPasswordHashes("")
			if !who.ServerAdmin && s.NoEmptyPassword &&
				(bytes.Equal(s.HashedPassword, emptyH) || bytes.Equal(s.SecurePassword, emptyS)) {
				return vpnerr.InvalidParameter
			}
		}
		if s.ChangeType {
			if err := checkHubType(who, cur, s.Type); err != nil {
				return err
			}
		}
		h := next.EditHub(name)
		if s.ChangeType {
			h.Type = s.Type
		}
		if setPassword {
			h.HashedPassword, h.SecurePassword = bytes.Clone(s.HashedPassword), bytes.Clone(s.SecurePassword)
		}
		h.MaxSession, h.NoEnum = s.MaxSession, s.NoEnum
		if !onlineDenied(who, h, s.Online) {
			h.Online = s.Online
		}
		return nil
	})
}

// HubPasswordHashes returns the two hashes of a hub administrators'
// password plain (HubSettings.HashedPassword and SecurePassword).
func HubPasswordHashes(plain string) (hashed, secure []byte) {
	h := sha0.AdminHash(plain)
	sp := sha0.Sum([]byte(plain + "ADMINISTRATOR"))
	return h[:], sp[:]
}

// onlineDenied reports whether the hub's administration options forbid
// the actor to put the hub online (no_online) or offline (no_offline).
func onlineDenied(who Actor, h *config.Hub, online bool) bool {
	if online {
		return who.denied(h, "no_online")
	}
	return who.denied(h, "no_offline")
}

// SetHubOnline puts the hub name online or offline.
func (o *Owner) SetHubOnline(who Actor, name string, online bool) error {
	return o.Update(func(next *config.Server) error {
		h := next.Hub(name)
		switch {
		case h == nil:
			return vpnerr.HubNotFound
		case onlineDenied(who, h, online):
			return vpnerr.NotEnoughRight
		}
		next.EditHub(name).Online = online
		return nil
	})
}

// DeleteHub removes the hub name; the runtime then closes it, which
// disconnects its sessions and stops its SecureNAT and cascades. Only a
// server administrator may.
func (o *Owner) DeleteHub(who Actor, name string) error {
	if !who.ServerAdmin {
		return vpnerr.NotEnoughRight
	}
	return o.Update(func(next *config.Server) error {
		if !next.RemoveHub(name) {
			return vpnerr.HubNotFound
		}
		return nil
	})
}

// Hubs runs read with the hubs of the current configuration that the
// actor may see (a hub administrator sees its own hub only); read must
// not change them.
func (o *Owner) Hubs(who Actor, read func(hubs []*config.Hub)) {
	o.View(func(cur *config.Server) {
		if who.ServerAdmin {
			read(cur.Hubs)
			return
		}
		var mine []*config.Hub
		if h := cur.Hub(who.Hub); h != nil {
			mine = append(mine, h)
		}
		read(mine)
	})
}
