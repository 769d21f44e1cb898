package server

import (
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
)

// extOption is one of the hub options that GetHubExtOptions and
// SetHubExtOptions expose by name (vpncmd's ExtOptionList and
// ExtOptionSet): an item of the hub's Option folder (config.HubOptions),
// two of them under another name there.
type extOption struct {
	name string // as in the RPC
	item string // in VirtualHUB/<hub>/Option; "" = name
}

// extOptions lists the options in SoftEther's order (Hub.c,
// HubOptionStructToData); config.HubOptions has a new hub's defaults.
var extOptions = []extOption{
	{name: "NoAddressPollingIPv4", item: "NoArpPolling"},
	{name: "NoAddressPollingIPv6", item: "NoIPv6AddrPolling"},
	{name: "NoIpTable"},
	{name: "NoMacAddressLog"},
	{name: "ManageOnlyPrivateIP"},
	{name: "ManageOnlyLocalUnicastIPv6"},
	{name: "DisableIPParsing"},
	{name: "YieldAfterStorePacket"},
	{name: "NoSpinLockForPacketDelay"},
	{name: "BroadcastStormDetectionThreshold"},
	{name: "ClientMinimumRequiredBuild"},
	{name: "FilterPPPoE"},
	{name: "FilterOSPF"},
	{name: "FilterIPv4"},
	{name: "FilterIPv6"},
	{name: "FilterNonIP"},
	{name: "NoIPv4PacketLog"},
	{name: "NoIPv6PacketLog"},
	{name: "FilterBPDU"},
	{name: "NoIPv6DefaultRouterInRAWhenIPv6"},
	{name: "NoLookBPDUBridgeId"},
	{name: "NoManageVlanId"},
	{name: "VlanTypeId"},
	{name: "FixForDLinkBPDU"},
	{name: "RequiredClientId"},
	{name: "AdjustTcpMssValue"},
	{name: "DisableAdjustTcpMss"},
	{name: "NoDhcpPacketLogOutsideHub"},
	{name: "DisableHttpParsing"},
	{name: "DisableUdpAcceleration"},
	{name: "DisableUdpFilterForLocalBridgeNic"},
	{name: "ApplyIPv4AccessListOnArpPacket"},
	{name: "RemoveDefGwOnDhcpForLocalhost"},
	{name: "SecureNAT_MaxTcpSessionsPerIp"},
	{name: "SecureNAT_MaxTcpSynSentPerIp"},
	{name: "SecureNAT_MaxUdpSessionsPerIp"},
	{name: "SecureNAT_MaxDnsSessionsPerIp"},
	{name: "SecureNAT_MaxIcmpSessionsPerIp"},
	{name: "AccessListIncludeFileCacheLifetime"},
	{name: "DisableKernelModeSecureNAT"},
	{name: "DisableIpRawModeSecureNAT"},
	{name: "DisableUserModeSecureNAT"},
	{name: "DisableCheckMacOnLocalBridge"},
	{name: "DisableCorrectIpOffloadChecksum"},
	{name: "BroadcastLimiterStrictMode"},
	{name: "MaxLoggedPacketsPerMinute"},
	{name: "DoNotSaveHeavySecurityLogs"},
	{name: "DropBroadcastsInPrivacyFilterMode"},
	{name: "DropArpInPrivacyFilterMode"},
	{name: "AllowSameUserInPrivacyFilterMode"},
	{name: "SuppressClientUpdateNotification"},
	{name: "FloodingSendQueueBufferQuota"},
	{name: "AssignVLanIdByRadiusAttribute"},
	{name: "DenyAllRadiusLoginWithNoVlanAssign"},
	{name: "SecureNAT_RandomizeAssignIp"},
	{name: "DetectDormantSessionInterval"},
	{name: "NoPhysicalIPOnPacketLog"},
	{name: "UseHubNameAsDhcpUserClassOption"},
	{name: "UseHubNameAsRadiusNasId"},
	{name: "AllowEapMatchUserByCert"},
	{name: "DhcpDiscoverTimeoutMs"},
}

func (o extOption) itemName() string {
	if o.item != "" {
		return o.item
	}
	return o.name
}

// extOptionsPack is the RPC_ADMIN_OPTION answer listing every option of a
// hub.
func extOptionsPack(h *config.Hub) *pack.Pack {
	out := pack.New()
	out.AddStr("HubName", h.Name)
	out.AddInt("NumItem", uint32(len(extOptions)))
	l := newList(out)
	for _, o := range extOptions {
		v, _ := h.Options.Get(o.itemName())
		l.row()
		l.str("Name", o.name)
		l.int("Value", v)
		l.uni("Descrption", o.name) // sic, as SoftEther spells the element
	}
	l.done()
	return out
}

func admGetHubExtOptions(a *adminCall) (*pack.Pack, error) {
	var out *pack.Pack
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		out = extOptionsPack(h)
		return nil
	})
	return out, err
}

// admSetHubExtOptions changes the listed options (unknown names are
// ignored, as SoftEther does). A hub administrator may unless the hub's
// admin option deny_hub_admin_change_ext_option forbids it. The options
// apply at once (a port's queue size and MSS clamp when it attaches).
func admSetHubExtOptions(a *adminCall) (*pack.Pack, error) {
	var opts []config.AdminOption
	for _, o := range namedValues(a.in) {
		if x, ok := extOptionByName[o.Name]; ok {
			opts = append(opts, config.AdminOption{Name: x.itemName(), Value: o.Value})
		}
	}
	h, err := a.s.ctl.SetHubOptions(a.actor(), a.hub, opts)
	if err != nil {
		return nil, err
	}
	return extOptionsPack(h), nil
}

// extOptionByName indexes extOptions.
var extOptionByName = func() map[string]extOption {
	m := make(map[string]extOption, len(extOptions))
	for _, o := range extOptions {
		m[o.name] = o
	}
	return m
}()
