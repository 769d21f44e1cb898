package control

import (
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// UserSettings are what CreateUser and SetUser set on a user.
type UserSettings struct {
	GroupName      string // "" = no group; otherwise a group of the hub
	RealName, Note string
	ExpireTime     time.Time      // zero = never
	Policy         *config.Policy // nil = none of its own

	AuthType uint32 // 0 anonymous, 1 password (the kinds the server runs)
	// PasswordHash (SHA0(pw || UPPER(name))) and NTLMHash (MD4, or nil)
	// for AuthType 1. An empty PasswordHash keeps a password user's
	// current password.
	PasswordHash, NTLMHash []byte
}

// Auth types of the user database that the server runs.
const (
	AuthAnonymous = 0
	AuthPassword  = 1
)

// apply sets s on u, a user of h.
func (s *UserSettings) apply(h *config.Hub, u *config.User) error {
	group := s.GroupName
	if group != "" {
		g := h.Group(group)
		if g == nil {
			return vpnerr.GroupNotFound
		}
		group = g.Name
	}
	switch s.AuthType {
	case AuthAnonymous:
		u.AuthType, u.PasswordHash, u.NTLMHash = AuthAnonymous, nil, nil
	case AuthPassword:
		switch {
		case len(s.PasswordHash) != 0:
			u.PasswordHash, u.NTLMHash = s.PasswordHash, s.NTLMHash
		case u.AuthType != AuthPassword || len(u.PasswordHash) == 0:
			return vpnerr.InvalidParameter // a password user needs a password
		}
		u.AuthType = AuthPassword
	default:
		return vpnerr.NotSupportedAuthOnOpensource
	}
	u.GroupName, u.RealName, u.Note = group, s.RealName, s.Note
	u.ExpireTime, u.Policy = s.ExpireTime, s.Policy
	return nil
}

// CreateUser adds the user name to a hub and returns it as saved.
func (o *Owner) CreateUser(who Actor, hubName, name string, s UserSettings) (*config.User, error) {
	var made *config.User
	err := o.Update(func(next *config.Server) error {
		h, err := who.editHub(next, hubName, "no_change_users")
		switch {
		case err != nil:
			return err
		case len(h.Users) >= MaxUsersPerHub || who.overLimit(h, "max_users", len(h.Users)):
			return vpnerr.TooManyUser
		case h.User(name) != nil:
			return vpnerr.UserAlreadyExists
		}
		u := config.NewUser(name)
		if err := s.apply(h, u); err != nil {
			return err
		}
		h.Users = append(h.Users, u)
		made = u
		return nil
	})
	return made, err
}

// SetUser changes the user name of a hub and returns it as saved.
func (o *Owner) SetUser(who Actor, hubName, name string, s UserSettings) (*config.User, error) {
	var changed *config.User
	err := o.Update(func(next *config.Server) error {
		h, err := who.editHub(next, hubName, "no_change_users")
		if err != nil {
			return err
		}
		u := h.EditUser(name)
		if u == nil {
			return vpnerr.ObjectNotFound
		}
		if err := s.apply(h, u); err != nil {
			return err
		}
		u.UpdatedTime = time.UnixMilli(time.Now().UnixMilli()).UTC()
		changed = u
		return nil
	})
	return changed, err
}

// DeleteUser removes the user name from a hub.
func (o *Owner) DeleteUser(who Actor, hubName, name string) error {
	return o.Update(func(next *config.Server) error {
		h, err := who.editHub(next, hubName, "no_change_users")
		if err != nil {
			return err
		}
		if !h.RemoveUser(name) {
			return vpnerr.ObjectNotFound
		}
		return nil
	})
}

// GroupSettings are what CreateGroup and SetGroup set on a group.
type GroupSettings struct {
	RealName, Note string
	Policy         *config.Policy // nil = no group policy
}

// CreateGroup adds the group name to a hub and returns it as saved.
func (o *Owner) CreateGroup(who Actor, hubName, name string, s GroupSettings) (*config.Group, error) {
	var made *config.Group
	err := o.Update(func(next *config.Server) error {
		h, err := who.editHub(next, hubName, "no_change_groups")
		switch {
		case err != nil:
			return err
		case h.Group(name) != nil:
			return vpnerr.GroupAlreadyExists
		case len(h.Groups) >= MaxGroupsOfHub || who.overLimit(h, "max_groups", len(h.Groups)):
			return vpnerr.TooManyGroup
		}
		g := config.NewGroup(name)
		g.RealName, g.Note, g.Policy = s.RealName, s.Note, s.Policy
		h.Groups = append(h.Groups, g)
		made = g
		return nil
	})
	return made, err
}

// SetGroup changes the group name of a hub and returns it as saved.
func (o *Owner) SetGroup(who Actor, hubName, name string, s GroupSettings) (*config.Group, error) {
	var changed *config.Group
	err := o.Update(func(next *config.Server) error {
		h, err := who.editHub(next, hubName, "no_change_groups")
		if err != nil {
			return err
		}
		g := h.EditGroup(name)
		if g == nil {
			return vpnerr.ObjectNotFound
		}
		g.RealName, g.Note, g.Policy = s.RealName, s.Note, s.Policy
		changed = g
		return nil
	})
	return changed, err
}

// DeleteGroup removes the group name from a hub; its members are left
// without a group.
func (o *Owner) DeleteGroup(who Actor, hubName, name string) error {
	return o.Update(func(next *config.Server) error {
		h, err := who.editHub(next, hubName, "no_change_groups")
		if err != nil {
			return err
		}
		g := h.Group(name)
		if g == nil {
			return vpnerr.ObjectNotFound
		}
		for i, u := range h.Users {
			if strings.EqualFold(u.GroupName, g.Name) {
				h.EditUserAt(i).GroupName = ""
			}
		}
		h.RemoveGroup(name)
		return nil
	})
}
