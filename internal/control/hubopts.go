package control

import (
	"slices"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// HubAdminOptionNames are the hub administration options in SoftEther's
// order (Admin.c, admin_options): the limits and rights of a hub's
// administrators that GetHubAdminOptions lists and SetHubAdminOptions sets.
var HubAdminOptionNames = []string{
	"allow_hub_admin_change_option", "max_users", "max_multilogins_per_user", "max_groups", "max_accesslists",
	"max_sessions_client_bridge_apply", "max_sessions", "max_sessions_client", "max_sessions_bridge",
	"max_bitrates_download", "max_bitrates_upload", "deny_empty_password", "deny_bridge", "deny_routing",
	"deny_qos", "deny_change_user_password", "no_change_users", "no_change_groups", "no_securenat",
	"no_securenat_enablenat", "no_securenat_enabledhcp", "no_cascade", "no_online", "no_offline",
	"no_change_log_config", "no_disconnect_session", "no_delete_iptable", "no_delete_mactable",
	"no_enum_session", "no_query_session", "no_change_admin_password", "no_change_log_switch_type",
	"no_change_access_list", "no_change_access_control_list", "no_change_cert_list", "no_change_crl_list",
	"no_read_log_file", "no_change_msg", "deny_hub_admin_change_ext_option", "no_delay_jitter_packet_loss",
	"no_access_list_include_file",
}

// SetHubAdminOptions sets the listed administration options of a hub and
// returns the hub as saved; names it does not know are ignored, as
// SoftEther does. A hub administrator may only when the hub's
// allow_hub_admin_change_option is set.
func (o *Owner) SetHubAdminOptions(who Actor, hubName string, opts []config.AdminOption) (*config.Hub, error) {
	var saved *config.Hub
	err := o.Update(func(next *config.Server) error {
		h := next.Hub(hubName)
		if h == nil {
			return vpnerr.HubNotFound
		}
		if !who.ServerAdmin && h.AdminOption("allow_hub_admin_change_option") == 0 {
			return vpnerr.NotEnoughRight
		}
		h = next.EditHub(hubName)
		for _, opt := range opts {
			if slices.Contains(HubAdminOptionNames, opt.Name) {
				h.SetAdminOption(opt.Name, opt.Value)
			}
		}
		saved = h
		return nil
	})
	return saved, err
}

// SetHubOptions sets the listed options of a hub (the items of its Option
// folder, config.HubOptions; vpncmd's ExtOptionSet) and returns the hub
// as saved; names the model does not know are ignored, as SoftEther does.
// A hub administrator may unless the hub's deny_hub_admin_change_ext_option
// forbids it.
func (o *Owner) SetHubOptions(who Actor, hubName string, opts []config.AdminOption) (*config.Hub, error) {
	var saved *config.Hub
	err := o.Update(func(next *config.Server) error {
		h, err := who.editHub(next, hubName, "deny_hub_admin_change_ext_option")
		if err != nil {
			return err
		}
		for _, opt := range opts {
			h.Options.Set(opt.Name, opt.Value)
		}
		saved = h
		return nil
	})
	return saved, err
}
