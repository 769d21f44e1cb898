package control

import (
	"slices"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Virtual layer-3 switches (docs/protocol/admin.md#layer-3-switches). The
// front-end has checked the syntax of names and addresses; these
// operations check what depends on the configuration. Only the server
// administrator calls them (the method table says so).

// editL3 is the switch called name of next, to change in place (Clone
// copied the switches), or Layer3SwNotFound.
func editL3(next *config.Server, name string) (*config.L3Switch, error) {
	i := slices.IndexFunc(next.L3Switches, func(sw config.L3Switch) bool { return strings.EqualFold(sw.Name, name) })
	if i < 0 {
		return nil, vpnerr.Layer3SwNotFound
	}
	return &next.L3Switches[i], nil
}

// L3Switch runs read with the switch called name of the current
// configuration, or answers Layer3SwNotFound; read must not change it.
func (o *Owner) L3Switch(name string, read func(sw *config.L3Switch) error) error {
	var err error
	o.View(func(cur *config.Server) {
		i := slices.IndexFunc(cur.L3Switches, func(sw config.L3Switch) bool { return strings.EqualFold(sw.Name, name) })
		if i < 0 {
			err = vpnerr.Layer3SwNotFound
			return
		}
		err = read(&cur.L3Switches[i])
	})
	return err
}

// AddL3Switch adds a stopped switch called name, without interfaces.
func (o *Owner) AddL3Switch(name string) error {
	return o.Update(func(next *config.Server) error {
		if _, err := editL3(next, name); err == nil {
			return vpnerr.Layer3SwExists
		}
		next.L3Switches = append(next.L3Switches, config.L3Switch{L3SwitchSettings: config.L3SwitchSettings{Name: name}})
		return nil
	})
}

// DelL3Switch removes the switch called name (what runs stops it).
func (o *Owner) DelL3Switch(name string) error {
	return o.Update(func(next *config.Server) error {
		n := len(next.L3Switches)
		next.L3Switches = slices.DeleteFunc(next.L3Switches, func(sw config.L3Switch) bool { return strings.EqualFold(sw.Name, name) })
		if len(next.L3Switches) == n {
			return vpnerr.Layer3SwNotFound
		}
		return nil
	})
}

// SetL3SwitchActive starts (active) or stops the switch called name. A
// switch without interfaces cannot start.
func (o *Owner) SetL3SwitchActive(name string, active bool) error {
	return o.Update(func(next *config.Server) error {
		sw, err := editL3(next, name)
		switch {
		case err != nil:
			return err
		case active && len(sw.Interfaces) == 0:
			return vpnerr.Layer3CantStartSwitch
		}
		sw.Active = active
		return nil
	})
}

// AddL3If gives the switch called name an interface on a hub. Interfaces
// change only while the switch is stopped, one per hub.
func (o *Owner) AddL3If(name string, x config.L3Interface) error {
	return o.Update(func(next *config.Server) error {
		sw, err := editL3(next, name)
		switch {
		case err != nil:
			return err
		case x.HubName == "" || sw.Active: // changed only while stopped (docs/protocol/hub.md#layer-3-switch)
			return vpnerr.Layer3IfAddFailed
		case slices.ContainsFunc(sw.Interfaces, func(y config.L3Interface) bool { return strings.EqualFold(y.HubName, x.HubName) }):
			return vpnerr.Layer3IfExists
		}
		sw.Interfaces = append(sw.Interfaces, x)
		return nil
	})
}

// DelL3If removes the interface on hubName from the stopped switch
// called name.
func (o *Owner) DelL3If(name, hubName string) error {
	return o.Update(func(next *config.Server) error {
		sw, err := editL3(next, name)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(sw.Interfaces, func(x config.L3Interface) bool { return strings.EqualFold(x.HubName, hubName) })
		if i < 0 || sw.Active {
			return vpnerr.Layer3IfDelFailed
		}
		sw.Interfaces = slices.Delete(sw.Interfaces, i, i+1)
		return nil
	})
}

// AddL3Table adds a static route to the stopped switch called name; a
// switch holds one route per network and gateway.
func (o *Owner) AddL3Table(name string, r config.L3Route) error {
	return o.Update(func(next *config.Server) error {
		sw, err := editL3(next, name)
		switch {
		case err != nil:
			return err
		case sw.Active || slices.ContainsFunc(sw.Routes, r.SameDestination):
			return vpnerr.Layer3TableAddFailed
		}
		sw.Routes = append(sw.Routes, r)
		return nil
	})
}

// DelL3Table removes the route to r's network through r's gateway (any
// metric) from the stopped switch called name.
func (o *Owner) DelL3Table(name string, r config.L3Route) error {
	return o.Update(func(next *config.Server) error {
		sw, err := editL3(next, name)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(sw.Routes, r.SameDestination)
		if i < 0 || sw.Active {
			return vpnerr.Layer3TableDelFailed
		}
		sw.Routes = slices.Delete(sw.Routes, i, i+1)
		return nil
	})
}
