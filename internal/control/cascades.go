package control

import (
	"errors"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Cascade operations (docs/protocol/admin.md#cascades). A cascade is a
// value of its hub's configuration (config.Hub.Cascades); the runtime
// starts, restarts or stops the links when the hub's cascades differ from
// what runs (any setting changed restarts that cascade).

// errUnchanged ends an Update that has nothing to change, so that nothing
// is saved or published.
var errUnchanged = errors.New("nothing to change")

// checkCascade refuses settings the cascade client cannot run, with the
// codes SoftEther answers, and normalises the others as SoftEther
// normalises a link.
func checkCascade(c *config.Cascade) error {
	switch c.AuthType {
	case config.CascadeAuthAnonymous, config.CascadeAuthPassword, config.CascadeAuthPlain:
	case config.CascadeAuthCert, 5:
		return vpnerr.NotSupported // certificate logins are not implemented by the cascade client
	default:
		return vpnerr.InternalError // smart cards and unknown types, as SoftEther answers
	}
	if c.Hostname == "" || c.Port == 0 || c.Port > 65535 {
		return vpnerr.InvalidParameter
	}
	c.MaxConnection = min(max(c.MaxConnection, 1), 32)
	c.AdditionalConnectionInterval = max(c.AdditionalConnectionInterval, 1)
	// Only the credentials of the auth type are kept.
	if c.AuthType != config.CascadeAuthPassword || len(c.HashedPassword) != sha0.Size {
		c.HashedPassword = nil
	}
	if c.AuthType != config.CascadeAuthPlain {
		c.PlainPassword = ""
	}
	// A cascade always carries a policy, without the items a cascade
	// session cannot use (SoftEther's NormalizeLinkPolicy).
	pol := config.DefaultPolicy()
	if c.Policy != nil {
		pol = *c.Policy
	}
	pol.Access, pol.NoBridge, pol.NoRouting, pol.MonitorPort = true, false, false, false
	c.Policy = &pol
	return nil
}

// editCascades is the hub called hubName of next, copied to change, for
// an actor allowed to change its cascades (the hub's "no_cascade" option
// binds hub administrators).
func (who Actor) editCascades(next *config.Server, hubName string) (*config.Hub, error) {
	return who.editHub(next, hubName, "no_cascade")
}

// CreateCascade adds the cascade c (named by its AccountName) to a hub,
// offline whatever c says, and returns it as saved.
func (o *Owner) CreateCascade(who Actor, hubName string, c config.Cascade) (*config.Cascade, error) {
	var made *config.Cascade
	err := o.Update(func(next *config.Server) error {
		h, err := who.editCascades(next, hubName)
		switch {
		case err != nil:
			return err
		case h.Cascade(c.AccountName) != nil:
			return vpnerr.LinkAlreadyExists
		case c.AccountName == "" || len(h.Cascades) >= MaxCascades:
			return vpnerr.InternalError // as SoftEther's NewLink failure
		}
		if err := checkCascade(&c); err != nil {
			return err
		}
		c.Online = false // a new cascade starts offline
		made = &c
		h.AddCascade(made)
		return nil
	})
	return made, err
}

// SetCascade replaces the settings of the hub's cascade account with c
// (its AccountName too, which may change the name's case), keeping
// whether it is online, and returns it as saved. An online cascade
// restarts with the new settings.
func (o *Owner) SetCascade(who Actor, hubName, account string, c config.Cascade) (*config.Cascade, error) {
	var changed *config.Cascade
	err := o.Update(func(next *config.Server) error {
		h, err := who.editCascades(next, hubName)
		if err != nil {
			return err
		}
		old := h.Cascade(account)
		if old == nil {
			return vpnerr.ObjectNotFound
		}
		if err := checkCascade(&c); err != nil {
			return err
		}
		c.Online = old.Online
		changed = h.ReplaceCascade(account, c)
		return nil
	})
	return changed, err
}

// SetCascadeOnline switches the hub's cascade account online (it runs) or
// offline (it stops).
func (o *Owner) SetCascadeOnline(who Actor, hubName, account string, online bool) error {
	if account == "" {
		return vpnerr.InvalidParameter
	}
	return o.Update(func(next *config.Server) error {
		h, err := who.editCascades(next, hubName)
		if err != nil {
			return err
		}
		c := h.EditCascade(account)
		if c == nil {
			return vpnerr.ObjectNotFound
		}
		c.Online = online
		return nil
	})
}

// DeleteCascade removes the hub's cascade account; a running one stops.
func (o *Owner) DeleteCascade(who Actor, hubName, account string) error {
	if account == "" {
		return vpnerr.InvalidParameter
	}
	return o.Update(func(next *config.Server) error {
		h, err := who.editCascades(next, hubName)
		if err != nil {
			return err
		}
		if !h.RemoveCascade(account) {
			return vpnerr.ObjectNotFound
		}
		return nil
	})
}

// RenameCascade renames the hub's cascade oldName to newName; a running
// one restarts under its new name. Renaming to the same name (in any
// case) changes nothing, as in SoftEther.
func (o *Owner) RenameCascade(who Actor, hubName, oldName, newName string) error {
	if oldName == "" || newName == "" {
		return vpnerr.InvalidParameter
	}
	err := o.Update(func(next *config.Server) error {
		h, err := who.editCascades(next, hubName)
		switch {
		case err != nil:
			return err
		case h.Cascade(oldName) == nil:
			return vpnerr.ObjectNotFound
		case strings.EqualFold(oldName, newName):
			return errUnchanged
		case h.Cascade(newName) != nil:
			return vpnerr.LinkAlreadyExists
		}
		h.EditCascade(oldName).AccountName = newName
		return nil
	})
	if err == errUnchanged {
		return nil
	}
	return err
}
