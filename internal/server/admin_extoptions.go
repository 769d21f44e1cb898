package server

import (
	"fmt"
	"strconv"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
)

// extOption is one of the hub options that GetHubExtOptions and
// SetHubExtOptions expose by name (vpncmd's ExtOptionList and
// ExtOptionSet). They live in the hub's Option folder of the configuration,
// two of them under another name there.
type extOption struct {
	name   string // as in the RPC
	item   string // in VirtualHUB/<hub>/Option; "" = name
	kind   extKind
	defVal uint32 // when the folder lacks the item
}

type extKind int

const (
	extBool extKind = iota
	extUint
	extHex // a string item holding a hexadecimal number (VlanTypeId)
)

// extOptions lists the options in SoftEther's order (Hub.c,
// HubOptionStructToData), with the defaults of a new hub.
var extOptions = []extOption{
	{name: "NoAddressPollingIPv4", item: "NoArpPolling"},
	{name: "NoAddressPollingIPv6", item: "NoIPv6AddrPolling"},
	{name: "NoIpTable"},
	{name: "NoMacAddressLog", defVal: 1},
	{name: "ManageOnlyPrivateIP", defVal: 1},
	{name: "ManageOnlyLocalUnicastIPv6", defVal: 1},
	{name: "DisableIPParsing"},
	{name: "YieldAfterStorePacket"},
	{name: "NoSpinLockForPacketDelay"},
	{name: "BroadcastStormDetectionThreshold", kind: extUint},
	{name: "ClientMinimumRequiredBuild", kind: extUint},
	{name: "FilterPPPoE"},
	{name: "FilterOSPF"},
	{name: "FilterIPv4"},
	{name: "FilterIPv6"},
	{name: "FilterNonIP"},
	{name: "NoIPv4PacketLog"},
	{name: "NoIPv6PacketLog"},
	{name: "FilterBPDU"},
	{name: "NoIPv6DefaultRouterInRAWhenIPv6", defVal: 1},
	{name: "NoLookBPDUBridgeId"},
	{name: "NoManageVlanId"},
	{name: "VlanTypeId", kind: extHex, defVal: 0x8100},
	{name: "FixForDLinkBPDU"},
	{name: "RequiredClientId", kind: extUint},
	{name: "AdjustTcpMssValue", kind: extUint},
	{name: "DisableAdjustTcpMss"},
	{name: "NoDhcpPacketLogOutsideHub", defVal: 1},
	{name: "DisableHttpParsing"},
	{name: "DisableUdpAcceleration"},
	{name: "DisableUdpFilterForLocalBridgeNic"},
	{name: "ApplyIPv4AccessListOnArpPacket"},
	{name: "RemoveDefGwOnDhcpForLocalhost", defVal: 1},
	{name: "SecureNAT_MaxTcpSessionsPerIp", kind: extUint},
	{name: "SecureNAT_MaxTcpSynSentPerIp", kind: extUint},
	{name: "SecureNAT_MaxUdpSessionsPerIp", kind: extUint},
	{name: "SecureNAT_MaxDnsSessionsPerIp", kind: extUint},
	{name: "SecureNAT_MaxIcmpSessionsPerIp", kind: extUint},
	{name: "AccessListIncludeFileCacheLifetime", kind: extUint, defVal: 30},
	{name: "DisableKernelModeSecureNAT"},
	{name: "DisableIpRawModeSecureNAT"},
	{name: "DisableUserModeSecureNAT"},
	{name: "DisableCheckMacOnLocalBridge"},
	{name: "DisableCorrectIpOffloadChecksum"},
	{name: "BroadcastLimiterStrictMode"},
	{name: "MaxLoggedPacketsPerMinute", kind: extUint},
	{name: "DoNotSaveHeavySecurityLogs"},
	{name: "DropBroadcastsInPrivacyFilterMode", defVal: 1},
	{name: "DropArpInPrivacyFilterMode", defVal: 1},
	{name: "AllowSameUserInPrivacyFilterMode"},
	{name: "SuppressClientUpdateNotification"},
	{name: "FloodingSendQueueBufferQuota", kind: extUint, defVal: 33554432},
	{name: "AssignVLanIdByRadiusAttribute"},
	{name: "DenyAllRadiusLoginWithNoVlanAssign"},
	{name: "SecureNAT_RandomizeAssignIp"},
	{name: "DetectDormantSessionInterval", kind: extUint},
	{name: "NoPhysicalIPOnPacketLog"},
	{name: "UseHubNameAsDhcpUserClassOption"},
	{name: "UseHubNameAsRadiusNasId"},
	{name: "AllowEapMatchUserByCert"},
	{name: "DhcpDiscoverTimeoutMs", kind: extUint},
}

func (o extOption) itemName() string {
	if o.item != "" {
		return o.item
	}
	return o.name
}

// get reads the option from a hub's Option folder (nil reads defaults).
func (o extOption) get(f *config.Folder) uint32 {
	it := f.Item(o.itemName())
	if it == nil {
		return o.defVal
	}
	switch it.Type {
	case config.Bool:
		if it.Bool {
			return 1
		}
		return 0
	case config.String:
		if v, err := strconv.ParseUint(it.Str, 0, 32); err == nil {
			return uint32(v)
		}
		return o.defVal
	}
	return f.GetUint(o.itemName())
}

// set writes v into the Option folder with the item type SoftEther uses.
func (o extOption) set(f *config.Folder, v uint32) {
	switch o.kind {
	case extBool:
		f.SetBool(o.itemName(), v != 0)
	case extHex:
		f.SetString(o.itemName(), fmt.Sprintf("0x%04x", v))
	default:
		f.SetUint(o.itemName(), v)
	}
}

// extOptionsPack is the RPC_ADMIN_OPTION answer listing every option of f.
func extOptionsPack(hubName string, f *config.Folder) *pack.Pack {
	out := pack.New()
	out.AddStr("HubName", hubName)
	out.AddInt("NumItem", uint32(len(extOptions)))
	l := newList(out)
	for _, o := range extOptions {
		l.row()
		l.str("Name", o.name)
		l.int("Value", o.get(f))
		l.uni("Descrption", o.name) // sic, as SoftEther spells the element
	}
	l.done()
	return out
}

func admGetHubExtOptions(a *adminCall) (*pack.Pack, error) {
	a.lock()
	defer a.unlock()
	h, err := a.hubFor("")
	if err != nil {
		return nil, err
	}
	return extOptionsPack(h.cfg.Name, a.s.hubFolderLocked(h).Folder("Option")), nil
}

// admSetHubExtOptions changes the listed options (unknown names are
// ignored, as SoftEther does). A hub administrator may unless the hub's
// admin option deny_hub_admin_change_ext_option forbids it. The options
// apply at once (a port's queue size and MSS clamp when it attaches).
func admSetHubExtOptions(a *adminCall) (*pack.Pack, error) {
	a.lock()
	defer a.unlock()
	h, err := a.hubFor("deny_hub_admin_change_ext_option")
	if err != nil {
		return nil, err
	}
	f := a.s.hubFolderLocked(h).Ensure("Option")
	for i := range a.in.Count("Name") {
		if o, ok := extOptionByName[a.in.StrAt("Name", i)]; ok {
			o.set(f, a.in.IntAt("Value", i))
		}
	}
	opt := h.Options()
	a.s.dataPathOptions(&opt, h.cfg.Name)
	h.SetOptions(opt)
	a.s.applyHubLogs(h) // NoIPv4PacketLog, NoIPv6PacketLog
	return extOptionsPack(h.cfg.Name, f), nil
}

// extOptionByName indexes extOptions.
var extOptionByName = func() map[string]extOption {
	m := make(map[string]extOption, len(extOptions))
	for _, o := range extOptions {
		m[o.name] = o
	}
	return m
}()

// hubOption is the value of the named option (its RPC name) in a hub's
// Option folder, a new hub's value when the folder lacks it.
func hubOption(f *config.Folder, name string) uint32 {
	o, ok := extOptionByName[name]
	if !ok {
		panic("server: no hub option " + name)
	}
	return o.get(f)
}
