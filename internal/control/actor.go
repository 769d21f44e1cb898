package control

import (
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Limits of the configuration, reported by GetCaps and enforced by the
// operations.
const (
	MaxHubs        = 100000
	MaxUsersPerHub = 10000
	MaxGroupsOfHub = 10000
	MaxAccessLists = 32768
	MaxCascades    = 1024
)

// Actor is who asks for an operation: the server administrator, or the
// administrator of one hub. The front-ends have already checked that a
// hub administrator only names its own hub; the operations apply the
// hub's administration options (docs/protocol/admin.md#hub-admin-options),
// which bind hub administrators only.
type Actor struct {
	ServerAdmin bool
	Hub         string // the hub of a hub administrator
}

// denied reports whether the hub's administration option option (such as
// "no_change_users") forbids the actor what it asks for.
func (who Actor) denied(h *config.Hub, option string) bool {
	return !who.ServerAdmin && option != "" && h.AdminOption(option) != 0
}

// overLimit reports whether a hub administrator has reached the limit
// that the hub's administration option option (such as "max_users", 0 =
// none) sets, with n entries already there.
func (who Actor) overLimit(h *config.Hub, option string, n int) bool {
	if who.ServerAdmin {
		return false
	}
	limit := h.AdminOption(option)
	return limit != 0 && n >= int(limit)
}

// editHub is the hub called name of next, copied to change, after the
// actor's right to change it was checked against option.
func (who Actor) editHub(next *config.Server, name, option string) (*config.Hub, error) {
	h := next.Hub(name)
	switch {
	case h == nil:
		return nil, vpnerr.HubNotFound
	case who.denied(h, option):
		return nil, vpnerr.NotEnoughRight
	}
	return next.EditHub(name), nil
}

// ReadHub runs read with the hub called name of the current configuration,
// or answers HubNotFound; read must not change the hub. It takes no lock:
// a change under way is not waited for.
func (o *Owner) ReadHub(name string, read func(h *config.Hub) error) error {
	h := o.Current().Hub(name)
	if h == nil {
		return vpnerr.HubNotFound
	}
	return read(h)
}

// Allow answers nil when the hub called hubName exists and its
// administration option option (such as "no_disconnect_session"; "" =
// none) does not forbid the actor what it asks for: for methods that act
// on what runs (sessions, tables) rather than on the configuration.
func (o *Owner) Allow(who Actor, hubName, option string) error {
	return o.ReadHub(hubName, func(h *config.Hub) error {
		if who.denied(h, option) {
			return vpnerr.NotEnoughRight
		}
		return nil
	})
}
