package config

import (
	"fmt"
	"strconv"
	"strings"
)

// HubOptions are the items of a hub's Option folder (SoftEther Server.c,
// SiWriteHubOptionCfg; vpncmd ExtOptionList shows them), except MaxSession
// and NoEnum, which are Hub.MaxSession and Hub.NoEnum. Field names are
// the item names. All fields are comparable: two option sets compare with
// ==, and a field added later is part of it; hubOptionItems must list it
// (TestHubOptionItemsCoverStruct checks that).
type HubOptions struct {
	NoArpPolling                       bool
	NoIPv6AddrPolling                  bool
	NoIpTable                          bool
	NoMacAddressLog                    bool
	ManageOnlyPrivateIP                bool
	ManageOnlyLocalUnicastIPv6         bool
	DisableIPParsing                   bool
	YieldAfterStorePacket              bool
	NoSpinLockForPacketDelay           bool
	BroadcastStormDetectionThreshold   uint32
	ClientMinimumRequiredBuild         uint32
	FilterPPPoE                        bool
	FilterOSPF                         bool
	FilterIPv4                         bool
	FilterIPv6                         bool
	FilterNonIP                        bool
	NoIPv4PacketLog                    bool
	NoIPv6PacketLog                    bool
	FilterBPDU                         bool
	NoIPv6DefaultRouterInRAWhenIPv6    bool
	NoLookBPDUBridgeId                 bool
	NoManageVlanId                     bool
	VlanTypeId                         uint32
	FixForDLinkBPDU                    bool
	RequiredClientId                   uint32
	AdjustTcpMssValue                  uint32
	DisableAdjustTcpMss                bool
	NoDhcpPacketLogOutsideHub          bool
	DisableHttpParsing                 bool
	DisableUdpAcceleration             bool
	DisableUdpFilterForLocalBridgeNic  bool
	ApplyIPv4AccessListOnArpPacket     bool
	RemoveDefGwOnDhcpForLocalhost      bool
	SecureNAT_MaxTcpSessionsPerIp      uint32
	SecureNAT_MaxTcpSynSentPerIp       uint32
	SecureNAT_MaxUdpSessionsPerIp      uint32
	SecureNAT_MaxDnsSessionsPerIp      uint32
	SecureNAT_MaxIcmpSessionsPerIp     uint32
	AccessListIncludeFileCacheLifetime uint32
	DisableKernelModeSecureNAT         bool
	DisableIpRawModeSecureNAT          bool
	DisableUserModeSecureNAT           bool
	DisableCheckMacOnLocalBridge       bool
	DisableCorrectIpOffloadChecksum    bool
	BroadcastLimiterStrictMode         bool
	MaxLoggedPacketsPerMinute          uint32
	DoNotSaveHeavySecurityLogs         bool
	DropBroadcastsInPrivacyFilterMode  bool
	DropArpInPrivacyFilterMode         bool
	AllowSameUserInPrivacyFilterMode   bool
	SuppressClientUpdateNotification   bool
	FloodingSendQueueBufferQuota       uint32
	AssignVLanIdByRadiusAttribute      bool
	DenyAllRadiusLoginWithNoVlanAssign bool
	SecureNAT_RandomizeAssignIp        bool
	DetectDormantSessionInterval       uint32
	NoPhysicalIPOnPacketLog            bool
	UseHubNameAsDhcpUserClassOption    bool
	UseHubNameAsRadiusNasId            bool
	AllowEapMatchUserByCert            bool
	DhcpDiscoverTimeoutMs              uint32
}

type optKind int

const (
	optBool optKind = iota
	optUint
	optHex // a string item holding a hexadecimal number (VlanTypeId)
)

// hubOptionItem ties an Option item to its field. def is the value of an
// absent item, as a new hub has it (SoftEther Hub.c, NewHubOption... and
// SiLoadHubOptionCfg).
type hubOptionItem struct {
	name string
	kind optKind
	def  uint32
	b    func(*HubOptions) *bool
	u    func(*HubOptions) *uint32
}

// hubOptionItems lists the items in SoftEther's order (Hub.c,
// HubOptionStructToData).
var hubOptionItems = []hubOptionItem{
	{name: "NoArpPolling", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.NoArpPolling }},
	{name: "NoIPv6AddrPolling", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.NoIPv6AddrPolling }},
	{name: "NoIpTable", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.NoIpTable }},
	{name: "NoMacAddressLog", kind: optBool, def: 1, b: func(o *HubOptions) *bool { return &o.NoMacAddressLog }},
	{name: "ManageOnlyPrivateIP", kind: optBool, def: 1, b: func(o *HubOptions) *bool { return &o.ManageOnlyPrivateIP }},
	{name: "ManageOnlyLocalUnicastIPv6", kind: optBool, def: 1, b: func(o *HubOptions) *bool { return &o.ManageOnlyLocalUnicastIPv6 }},
	{name: "DisableIPParsing", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DisableIPParsing }},
	{name: "YieldAfterStorePacket", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.YieldAfterStorePacket }},
	{name: "NoSpinLockForPacketDelay", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.NoSpinLockForPacketDelay }},
	{name: "BroadcastStormDetectionThreshold", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.BroadcastStormDetectionThreshold }},
	{name: "ClientMinimumRequiredBuild", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.ClientMinimumRequiredBuild }},
	{name: "FilterPPPoE", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.FilterPPPoE }},
	{name: "FilterOSPF", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.FilterOSPF }},
	{name: "FilterIPv4", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.FilterIPv4 }},
	{name: "FilterIPv6", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.FilterIPv6 }},
	{name: "FilterNonIP", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.FilterNonIP }},
	{name: "NoIPv4PacketLog", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.NoIPv4PacketLog }},
	{name: "NoIPv6PacketLog", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.NoIPv6PacketLog }},
	{name: "FilterBPDU", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.FilterBPDU }},
	{name: "NoIPv6DefaultRouterInRAWhenIPv6", kind: optBool, def: 1, b: func(o *HubOptions) *bool { return &o.NoIPv6DefaultRouterInRAWhenIPv6 }},
	{name: "NoLookBPDUBridgeId", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.NoLookBPDUBridgeId }},
	{name: "NoManageVlanId", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.NoManageVlanId }},
	{name: "VlanTypeId", kind: optHex, def: 0x8100, u: func(o *HubOptions) *uint32 { return &o.VlanTypeId }},
	{name: "FixForDLinkBPDU", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.FixForDLinkBPDU }},
	{name: "RequiredClientId", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.RequiredClientId }},
	{name: "AdjustTcpMssValue", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.AdjustTcpMssValue }},
	{name: "DisableAdjustTcpMss", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DisableAdjustTcpMss }},
	{name: "NoDhcpPacketLogOutsideHub", kind: optBool, def: 1, b: func(o *HubOptions) *bool { return &o.NoDhcpPacketLogOutsideHub }},
	{name: "DisableHttpParsing", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DisableHttpParsing }},
	{name: "DisableUdpAcceleration", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DisableUdpAcceleration }},
	{name: "DisableUdpFilterForLocalBridgeNic", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DisableUdpFilterForLocalBridgeNic }},
	{name: "ApplyIPv4AccessListOnArpPacket", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.ApplyIPv4AccessListOnArpPacket }},
	{name: "RemoveDefGwOnDhcpForLocalhost", kind: optBool, def: 1, b: func(o *HubOptions) *bool { return &o.RemoveDefGwOnDhcpForLocalhost }},
	{name: "SecureNAT_MaxTcpSessionsPerIp", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.SecureNAT_MaxTcpSessionsPerIp }},
	{name: "SecureNAT_MaxTcpSynSentPerIp", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.SecureNAT_MaxTcpSynSentPerIp }},
	{name: "SecureNAT_MaxUdpSessionsPerIp", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.SecureNAT_MaxUdpSessionsPerIp }},
	{name: "SecureNAT_MaxDnsSessionsPerIp", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.SecureNAT_MaxDnsSessionsPerIp }},
	{name: "SecureNAT_MaxIcmpSessionsPerIp", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.SecureNAT_MaxIcmpSessionsPerIp }},
	{name: "AccessListIncludeFileCacheLifetime", kind: optUint, def: 30, u: func(o *HubOptions) *uint32 { return &o.AccessListIncludeFileCacheLifetime }},
	{name: "DisableKernelModeSecureNAT", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DisableKernelModeSecureNAT }},
	{name: "DisableIpRawModeSecureNAT", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DisableIpRawModeSecureNAT }},
	{name: "DisableUserModeSecureNAT", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DisableUserModeSecureNAT }},
	{name: "DisableCheckMacOnLocalBridge", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DisableCheckMacOnLocalBridge }},
	{name: "DisableCorrectIpOffloadChecksum", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DisableCorrectIpOffloadChecksum }},
	{name: "BroadcastLimiterStrictMode", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.BroadcastLimiterStrictMode }},
	{name: "MaxLoggedPacketsPerMinute", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.MaxLoggedPacketsPerMinute }},
	{name: "DoNotSaveHeavySecurityLogs", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DoNotSaveHeavySecurityLogs }},
	{name: "DropBroadcastsInPrivacyFilterMode", kind: optBool, def: 1, b: func(o *HubOptions) *bool { return &o.DropBroadcastsInPrivacyFilterMode }},
	{name: "DropArpInPrivacyFilterMode", kind: optBool, def: 1, b: func(o *HubOptions) *bool { return &o.DropArpInPrivacyFilterMode }},
	{name: "AllowSameUserInPrivacyFilterMode", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.AllowSameUserInPrivacyFilterMode }},
	{name: "SuppressClientUpdateNotification", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.SuppressClientUpdateNotification }},
	{name: "FloodingSendQueueBufferQuota", kind: optUint, def: 33554432, u: func(o *HubOptions) *uint32 { return &o.FloodingSendQueueBufferQuota }},
	{name: "AssignVLanIdByRadiusAttribute", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.AssignVLanIdByRadiusAttribute }},
	{name: "DenyAllRadiusLoginWithNoVlanAssign", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.DenyAllRadiusLoginWithNoVlanAssign }},
	{name: "SecureNAT_RandomizeAssignIp", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.SecureNAT_RandomizeAssignIp }},
	{name: "DetectDormantSessionInterval", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.DetectDormantSessionInterval }},
	{name: "NoPhysicalIPOnPacketLog", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.NoPhysicalIPOnPacketLog }},
	{name: "UseHubNameAsDhcpUserClassOption", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.UseHubNameAsDhcpUserClassOption }},
	{name: "UseHubNameAsRadiusNasId", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.UseHubNameAsRadiusNasId }},
	{name: "AllowEapMatchUserByCert", kind: optBool, def: 0, b: func(o *HubOptions) *bool { return &o.AllowEapMatchUserByCert }},
	{name: "DhcpDiscoverTimeoutMs", kind: optUint, def: 0, u: func(o *HubOptions) *uint32 { return &o.DhcpDiscoverTimeoutMs }},
}

// DefaultHubOptions are the options of a new hub.
func DefaultHubOptions() HubOptions {
	var o HubOptions
	for _, it := range hubOptionItems {
		it.set(&o, it.def)
	}
	return o
}

// Get returns the option called name (an item name, case-insensitive) as a
// number (booleans 0 or 1) and whether the model knows it.
func (o *HubOptions) Get(name string) (uint32, bool) {
	for _, it := range hubOptionItems {
		if strings.EqualFold(it.name, name) {
			return it.get(o), true
		}
	}
	return 0, false
}

// Set sets the option called name (booleans: non-zero is true); it
// reports whether the model knows the name.
func (o *HubOptions) Set(name string, v uint32) bool {
	for _, it := range hubOptionItems {
		if strings.EqualFold(it.name, name) {
			it.set(o, v)
			return true
		}
	}
	return false
}

func (it hubOptionItem) get(o *HubOptions) uint32 {
	if it.b != nil {
		if *it.b(o) {
			return 1
		}
		return 0
	}
	return *it.u(o)
}

func (it hubOptionItem) set(o *HubOptions, v uint32) {
	if it.b != nil {
		*it.b(o) = v != 0
		return
	}
	*it.u(o) = v
}

// read reads the item from an Option folder: absent or unusable, it is
// the default.
func (it hubOptionItem) read(f *Folder) uint32 {
	x := f.Item(it.name)
	if x == nil {
		return it.def
	}
	switch {
	case x.Type == Bool:
		if x.Bool {
			return 1
		}
		return 0
	case x.Type == Uint:
		return uint32(x.Uint)
	case x.Type == String:
		if v, err := strconv.ParseUint(x.Str, 0, 32); err == nil {
			return uint32(v)
		}
	}
	return it.def
}

// write stores v in the folder.
func (it hubOptionItem) write(f *Folder, v uint32) {
	switch it.kind {
	case optBool:
		f.SetBool(it.name, v != 0)
	case optUint:
		f.SetUint(it.name, v)
	case optHex:
		f.SetString(it.name, fmt.Sprintf("0x%x", v))
	}
}

func readHubOptions(opt *Folder) HubOptions {
	var o HubOptions
	for _, it := range hubOptionItems {
		it.set(&o, it.read(opt))
	}
	return o
}

// write stores o in the hub's Option folder, item by item, only where it
// differs from what the folder says.
func (o *HubOptions) write(hub *Folder) {
	opt := hub.Ensure("Option")
	for _, it := range hubOptionItems {
		if v := it.get(o); v != it.read(opt) { // an absent item reads as its default
			it.write(opt, v)
		}
	}
}
