package server

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Settings that are stored in the configuration and returned as the spec
// says: the hub administration options (the admin methods check them,
// hubadmin.go applies them at login) and the access lists, which acl.go
// puts into effect. They are
// kept in the configuration tree itself (in the real server's folder
// layout, so the real vpnserver reads them) and every change is logged as
// not yet in effect where that matters for security.

// --- access lists (docs/protocol/admin.md#access-lists, docs/protocol/config.md#accounts-access-lists-and-cascades) ---

// fieldKind says how an access-list field is carried in a PACK and stored
// in the configuration.
type fieldKind int

const (
	fkStr  fieldKind = iota // STR / string
	fkUni                   // UNISTR / string
	fkBool                  // INT 0/1 / bool
	fkUint                  // INT / uint
	fkIP4                   // IP (four elements) / dotted string
	fkIP6                   // DATA(16) / IPv6 text
	fkMAC                   // DATA(6) / XX-XX-XX-XX-XX-XX
)

var aclFields = []struct {
	name string
	kind fieldKind
}{
	{"Note", fkUni}, {"Active", fkBool}, {"Priority", fkUint}, {"Discard", fkBool}, {"IsIPv6", fkBool},
	{"SrcIpAddress", fkIP4}, {"SrcSubnetMask", fkIP4}, {"DestIpAddress", fkIP4}, {"DestSubnetMask", fkIP4},
	{"SrcIpAddress6", fkIP6}, {"SrcSubnetMask6", fkIP6}, {"DestIpAddress6", fkIP6}, {"DestSubnetMask6", fkIP6},
	{"Protocol", fkUint}, {"SrcPortStart", fkUint}, {"SrcPortEnd", fkUint}, {"DestPortStart", fkUint}, {"DestPortEnd", fkUint},
	{"SrcUsername", fkStr}, {"DestUsername", fkStr},
	{"CheckSrcMac", fkBool}, {"SrcMacAddress", fkMAC}, {"SrcMacMask", fkMAC},
	{"CheckDstMac", fkBool}, {"DstMacAddress", fkMAC}, {"DstMacMask", fkMAC},
	{"CheckTcpState", fkBool}, {"Established", fkBool}, {"RedirectUrl", fkStr},
	{"Delay", fkUint}, {"Jitter", fkUint}, {"Loss", fkUint},
}

// value i of element name, whatever its type (nil if absent).
func valueAt(p *pack.Pack, name string, i int) (e pack.Element, ok bool) {
	e, ok = p.Lookup(name)
	return e, ok && i < e.Len()
}

func intAt(p *pack.Pack, name string, i int) uint32 {
	if e, ok := valueAt(p, name, i); ok && e.Type == pack.TypeInt {
		return uint32(e.Ints[i])
	}
	return 0
}

func dataAt(p *pack.Pack, name string, i int) []byte {
	if e, ok := valueAt(p, name, i); ok && e.Type == pack.TypeData {
		return e.Blobs[i]
	}
	return nil
}

func strAt(p *pack.Pack, name string, i int) string {
	if e, ok := valueAt(p, name, i); ok && (e.Type == pack.TypeStr || e.Type == pack.TypeUniStr) {
		return e.Strs[i]
	}
	return ""
}

// ip4At reads value i of an IP field (IPv4 INT form).
func ip4At(p *pack.Pack, name string, i int) netip.Addr {
	v := intAt(p, name, i)
	return netip.AddrFrom4([4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
}

// aclFolder converts rule i of a request into its configuration folder,
// applying SoftEther's clamps.
func aclFolder(p *pack.Pack, i int) *config.Folder {
	f := config.NewFolder("")
	v6 := intAt(p, "IsIPv6", i) != 0
	for _, fd := range aclFields {
		switch fd.kind {
		case fkStr, fkUni:
			f.SetString(fd.name, strAt(p, fd.name, i))
		case fkBool:
			f.SetBool(fd.name, intAt(p, fd.name, i) != 0)
		case fkUint:
			f.SetUint(fd.name, intAt(p, fd.name, i))
		case fkIP4:
			if !v6 {
				f.SetString(fd.name, ip4At(p, fd.name, i).String())
			}
		case fkIP6:
			if v6 {
				if b := dataAt(p, fd.name, i); len(b) == 16 {
					f.SetString(fd.name, netip.AddrFrom16([16]byte(b)).String())
				} else {
					f.SetString(fd.name, "::")
				}
			}
		case fkMAC:
			if b := dataAt(p, fd.name, i); len(b) == 6 {
				f.SetString(fd.name, strings.ToUpper(strings.ReplaceAll(net.HardwareAddr(b).String(), ":", "-")))
			}
		}
	}
	for _, pr := range [][2]string{{"SrcPortStart", "SrcPortEnd"}, {"DestPortStart", "DestPortEnd"}} {
		if f.GetUint(pr[1]) < f.GetUint(pr[0]) {
			f.SetUint(pr[1], f.GetUint(pr[0]))
		}
	}
	f.SetUint("Delay", min(f.GetUint("Delay"), 10000))
	f.SetUint("Jitter", min(f.GetUint("Jitter"), 100))
	f.SetUint("Loss", min(f.GetUint("Loss"), 100))
	return f
}

// aclRow adds one stored rule to a list.
func aclRow(l *list, f *config.Folder, id int) {
	v6 := f.GetBool("IsIPv6")
	l.row()
	l.int("Id", uint32(id))
	l.int("UniqueId", f.GetUint("UniqueId"))
	for _, fd := range aclFields {
		switch fd.kind {
		case fkStr:
			l.str(fd.name, f.GetString(fd.name))
		case fkUni:
			l.uni(fd.name, f.GetString(fd.name))
		case fkBool:
			l.bool(fd.name, f.GetBool(fd.name))
		case fkUint:
			l.int(fd.name, f.GetUint(fd.name))
		case fkIP4:
			a, err := netip.ParseAddr(f.GetString(fd.name))
			if v6 {
				a = netip.AddrFrom4([4]byte{223, 255, 255, 253}) // SoftEther's placeholder in IPv6 rules
				if strings.Contains(fd.name, "Mask") {
					a = netip.AddrFrom4([4]byte{255, 255, 255, 255})
				}
			} else if err != nil || !a.Is4() {
				a = netip.IPv4Unspecified()
			}
			l.ip(fd.name, a)
		case fkIP6:
			var b [16]byte
			if a, err := netip.ParseAddr(f.GetString(fd.name)); err == nil && v6 {
				b = a.As16()
			}
			l.data(fd.name, b[:])
		case fkMAC:
			m, err := net.ParseMAC(f.GetString(fd.name))
			if err != nil || len(m) != 6 {
				m = make(net.HardwareAddr, 6)
			}
			l.data(fd.name, m)
		}
	}
}

// setACL stores rules sorted as SoftEther sorts them (priority, then pass
// before discard) with the folder names (= Ids) renumbered 1..N.
func setACL(hubFolder *config.Folder, rules []*config.Folder) {
	slices.SortStableFunc(rules, func(a, b *config.Folder) int {
		if c := cmp.Compare(a.GetUint("Priority"), b.GetUint("Priority")); c != 0 {
			return c
		}
		return cmp.Compare(b2u(a.GetBool("Discard")), b2u(b.GetBool("Discard")))
	})
	for i, r := range rules {
		r.Name = strconv.Itoa(i + 1)
		if r.GetUint("UniqueId") == 0 {
			r.SetUint("UniqueId", newUniqueID(rules))
		}
	}
	acl := hubFolder.Ensure("AccessList")
	acl.Folders = rules
}

// newUniqueID picks an id >= 32768 not used by rules (DeleteAccess tells
// positions from unique ids by that threshold).
func newUniqueID(rules []*config.Folder) uint32 {
	for {
		var b [4]byte
		rand.Read(b[:])
		id := 32768 + (uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]))%(1<<31)
		if !slices.ContainsFunc(rules, func(r *config.Folder) bool { return r.GetUint("UniqueId") == id }) {
			return id
		}
	}
}

func (a *adminCall) aclHub() (*Hub, *config.Folder, error) {
	h, err := a.s.hubLocked(a.hub)
	if err != nil {
		return nil, nil, err
	}
	return h, a.s.hubFolderLocked(h), nil
}

// changeAccessList runs change on the hub's access list under the server
// lock, then puts the changed list into effect without it: user list
// files are read then.
func (a *adminCall) changeAccessList(change func(h *Hub, f *config.Folder) error) (*pack.Pack, error) {
	a.lock()
	h, f, err := a.aclHub()
	if err == nil && a.hubAdminDenied(h, "no_change_access_list") {
		err = vpnerr.NotEnoughRight
	}
	if err == nil {
		err = change(h, f)
	}
	var snap aclSnapshot
	if err == nil {
		snap = a.s.accessListLocked(h)
	}
	a.unlock()
	if err != nil {
		return nil, err
	}
	// A list beyond the bounds on user list files is refused; the
	// dispatcher then puts the previous configuration back.
	if err := a.s.installAccessList(h, snap, true); err != nil {
		return nil, fmt.Errorf("%v (%w)", err, vpnerr.InvalidParameter)
	}
	return echo(a.in), nil
}

// overLimit reports whether an admin option limit (0 = none) is reached.
func overLimit(hc *config.Hub, option string, n int) bool {
	limit := hc.AdminOption(option)
	return limit != 0 && n >= int(limit)
}

func admAddAccess(a *adminCall) (*pack.Pack, error) {
	return a.changeAccessList(func(h *Hub, f *config.Folder) error {
		rules := slices.Clone(f.Folder("AccessList").Folders)
		if len(rules) >= control.MaxAccessLists || (!a.c.ServerAdmin && overLimit(h.cfg, "max_accesslists", len(rules))) {
			return vpnerr.TooManyAccessList
		}
		rule := aclFolder(a.in, 0)
		if err := a.s.prepareRule(f, rule); err != nil {
			return err
		}
		setACL(f, append(rules, rule))
		return nil
	})
}

func admDeleteAccess(a *adminCall) (*pack.Pack, error) {
	return a.changeAccessList(func(h *Hub, f *config.Folder) error {
		rules := slices.Clone(f.Folder("AccessList").Folders)
		id := a.in.Int("Id")
		i := -1
		if id < 32768 {
			if id >= 1 && int(id) <= len(rules) {
				i = int(id) - 1
			}
		} else {
			i = slices.IndexFunc(rules, func(r *config.Folder) bool { return r.GetUint("UniqueId") == id })
		}
		if i < 0 {
			return vpnerr.ObjectNotFound
		}
		setACL(f, slices.Delete(rules, i, i+1))
		return nil
	})
}

func admEnumAccess(a *adminCall) (*pack.Pack, error) {
	a.lock()
	defer a.unlock()
	h, f, err := a.aclHub()
	if err != nil {
		return nil, err
	}
	out := pack.New()
	out.AddStr("HubName", h.cfg.Name)
	l := newList(out)
	for i, r := range f.Folder("AccessList").Folders {
		aclRow(l, r, i+1)
	}
	l.done()
	return out, nil
}

func admSetAccessList(a *adminCall) (*pack.Pack, error) {
	return a.changeAccessList(func(h *Hub, f *config.Folder) error {
		n := a.in.Count("Protocol")
		if n > control.MaxAccessLists || (!a.c.ServerAdmin && overLimit(h.cfg, "max_accesslists", n-1)) {
			return vpnerr.TooManyAccessList
		}
		rules := make([]*config.Folder, n)
		for i := range rules {
			rules[i] = aclFolder(a.in, i)
			if err := a.s.prepareRule(f, rules[i]); err != nil {
				return err
			}
		}
		setACL(f, rules)
		return nil
	})
}

// --- hub administration options (docs/protocol/admin.md#hub-admin-options) ---

var hubAdminOptions = []string{
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

func adminOptionsPack(hubName string, get func(string) uint32) *pack.Pack {
	out := pack.New()
	out.AddStr("HubName", hubName)
	out.AddInt("NumItem", uint32(len(hubAdminOptions)))
	l := newList(out)
	for _, n := range hubAdminOptions {
		l.row()
		l.str("Name", n)
		l.int("Value", get(n))
		l.uni("Descrption", n) // sic
	}
	l.done()
	return out
}

func admGetHubAdminOptions(a *adminCall) (*pack.Pack, error) {
	a.lock()
	defer a.unlock()
	h, err := a.hubFor("")
	if err != nil {
		return nil, err
	}
	return adminOptionsPack(h.cfg.Name, h.cfg.AdminOption), nil
}

func admGetDefaultHubAdminOptions(a *adminCall) (*pack.Pack, error) {
	return adminOptionsPack("", func(string) uint32 { return 0 }), nil
}

func admSetHubAdminOptions(a *adminCall) (*pack.Pack, error) {
	a.lock()
	defer a.unlock()
	h, err := a.hubFor("")
	if err != nil {
		return nil, err
	}
	if !a.c.ServerAdmin && h.cfg.AdminOption("allow_hub_admin_change_option") == 0 {
		return nil, vpnerr.NotEnoughRight
	}
	for i := range a.in.Count("Name") {
		name := a.in.StrAt("Name", i)
		if !slices.Contains(hubAdminOptions, name) {
			continue
		}
		h.cfg.SetAdminOption(name, a.in.IntAt("Value", i))
	}
	return adminOptionsPack(h.cfg.Name, h.cfg.AdminOption), nil
}
