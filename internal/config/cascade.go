package config

import (
	"bytes"
	"crypto/rc4"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Typed views of the cascade connections of a hub
// (VirtualHUB/<hub>/CascadeList/Cascade<n>, docs/protocol/config.md#accounts-access-lists-and-cascades) and
// of the local bridges (LocalBridgeList, docs/protocol/config.md#local-bridges). A hub's cascades
// are read once with the hub (Hub.Cascades) and written back into the
// folders they came from only when they changed, like the rest of the
// model, so items this program does not use (proxy settings, UDP
// acceleration, ...) survive a rewrite.

// Cascade auth types (ClientAuth/AuthType, client numbering).
const (
	CascadeAuthAnonymous = 0
	CascadeAuthPassword  = 1 // HashedPassword = SHA0(pw || UPPER(user))
	CascadeAuthPlain     = 2 // EncryptedPassword = RC4("EncryptP", pw)
	CascadeAuthCert      = 3
)

// Cascade is one CascadeList/Cascade<n> folder. Its scalar settings are
// in the embedded CascadeSettings, compared with ==; Equal adds the byte
// strings and the policy. So a scalar field added to CascadeSettings is
// compared without anyone listing it, and TestEqualCoversEveryField fails
// when a field added here is left out of Equal.
type Cascade struct {
	CascadeSettings

	ServerCert     []byte // DER, only when set
	HashedPassword []byte // ClientAuth, AuthType 1
	ClientCert     []byte // ClientAuth, AuthType 3, DER
	ClientKey      []byte // ClientAuth, AuthType 3, DER

	// Policy is the cascade's own policy, enforced on the local hub's
	// side of the link; nil when the folder has none.
	Policy *Policy

	folder *Folder // where it was read from or last written to; nil for a new one
}

// CascadeSettings are the comparable settings of a cascade.
type CascadeSettings struct {
	Online          bool
	CheckServerCert bool

	// ClientAuth
	AuthType      uint32
	Username      string
	PlainPassword string // AuthType 2, stored RC4-"encrypted" (see rc4Password)

	// ClientOption
	AccountName                  string
	Hostname                     string
	Port                         uint32
	HubName                      string
	MaxConnection                uint32
	UseEncrypt                   bool
	UseCompress                  bool
	HalfConnection               bool
	DisableQoS                   bool
	AdditionalConnectionInterval uint32 // seconds
	ConnectionDisconnectSpan     uint32 // seconds, 0 = never recycle connections
}

// Equal reports whether two cascades have the same settings (the folder
// they were read from does not count).
func (c *Cascade) Equal(o *Cascade) bool {
	return c.CascadeSettings == o.CascadeSettings &&
		bytes.Equal(c.ServerCert, o.ServerCert) && bytes.Equal(c.HashedPassword, o.HashedPassword) &&
		bytes.Equal(c.ClientCert, o.ClientCert) && bytes.Equal(c.ClientKey, o.ClientKey) &&
		samePolicy(c.Policy, o.Policy)
}

// Name returns the cascade's folder name ("Cascade0", ...), or "" for one
// not yet written.
func (c *Cascade) Name() string {
	if c.folder == nil {
		return ""
	}
	return c.folder.Name
}

// Detached returns the cascade's settings alone, without its place in the
// configuration tree: a plain value that compares (reflect.DeepEqual) equal
// to another exactly when every setting is the same, and that stays valid
// while the tree changes.
func (c *Cascade) Detached() Cascade {
	d := *c
	d.folder = nil
	return d
}

// Cascades reads the CascadeList of a hub folder (VirtualHUB/<hub>), in
// file order. A missing list is no cascades.
func Cascades(hub *Folder) []*Cascade {
	var out []*Cascade
	for _, f := range hub.Folder("CascadeList").subfolders() {
		out = append(out, readCascade(f))
	}
	return out
}

// Cascade returns the hub's cascade whose AccountName is account
// (case-insensitive), or nil.
func (h *Hub) Cascade(account string) *Cascade {
	if i := h.cascadeIndex(account); i >= 0 {
		return h.Cascades[i]
	}
	return nil
}

func (h *Hub) cascadeIndex(account string) int {
	return slices.IndexFunc(h.Cascades, func(c *Cascade) bool { return strings.EqualFold(c.AccountName, account) })
}

func readCascade(f *Folder) *Cascade {
	auth, opt := f.Folder("ClientAuth"), f.Folder("ClientOption")
	return &Cascade{
		ServerCert:     f.GetBytes("ServerCert"),
		HashedPassword: auth.GetBytes("HashedPassword"),
		ClientCert:     auth.GetBytes("ClientCert"),
		ClientKey:      auth.GetBytes("ClientKey"),
		Policy:         readPolicy(f.Folder("Policy")),
		folder:         f,
		CascadeSettings: CascadeSettings{
			Online:                       f.GetBool("Online"),
			CheckServerCert:              f.GetBool("CheckServerCert"),
			AuthType:                     auth.GetUint("AuthType"),
			Username:                     auth.GetString("Username"),
			PlainPassword:                string(rc4Password(auth.GetBytes("EncryptedPassword"))),
			AccountName:                  opt.GetString("AccountName"),
			Hostname:                     opt.GetString("Hostname"),
			Port:                         opt.GetUint("Port"),
			HubName:                      opt.GetString("HubName"),
			MaxConnection:                opt.GetUint("MaxConnection"),
			UseEncrypt:                   opt.GetBool("UseEncrypt"),
			UseCompress:                  opt.GetBool("UseCompress"),
			HalfConnection:               opt.GetBool("HalfConnection"),
			DisableQoS:                   opt.GetBool("DisableQoS"),
			AdditionalConnectionInterval: opt.GetUint("AdditionalConnectionInterval"),
			ConnectionDisconnectSpan:     opt.GetUint("ConnectionDisconnectSpan"),
		},
	}
}

// NewCascade returns a cascade with the settings vpncmd's CascadeCreate
// gives a new one: offline, 8 connections, encryption on, bridge mode,
// the default policy (the real server does not load a cascade without a
// policy).
func NewCascade(account, host string, port uint32, hubName, user string) *Cascade {
	pol := DefaultPolicy()
	return &Cascade{CascadeSettings: CascadeSettings{
		AccountName: account, Hostname: host, Port: port, HubName: hubName, Username: user,
		MaxConnection: 8, UseEncrypt: true, AdditionalConnectionInterval: 1,
	}, Policy: &pol}
}

// cascadeOptionDefaults are the ClientOption items a real server writes
// that this model does not use; a new cascade gets them so that the real
// server reads it exactly as it wrote it.
var cascadeOptionDefaults = []*Item{
	{Name: "PortUDP", Type: Uint},
	{Name: "ProxyType", Type: Uint},
	{Name: "ProxyName", Type: String},
	{Name: "ProxyPort", Type: Uint},
	{Name: "ProxyUsername", Type: String},
	{Name: "ProxyPassword", Type: Byte},
	{Name: "CustomHttpHeader", Type: String},
	{Name: "NumRetry", Type: Uint, Uint: 0xffffffff},
	{Name: "RetryInterval", Type: Uint, Uint: 10},
	{Name: "NoRoutingTracking", Type: Bool, Bool: true},
	{Name: "DeviceName", Type: String, Str: "_SEHUBLINKCLI_"},
	{Name: "HideStatusWindow", Type: Bool},
	{Name: "HideNicInfoWindow", Type: Bool},
	{Name: "RequireMonitorMode", Type: Bool},
	{Name: "RequireBridgeRoutingMode", Type: Bool, Bool: true},
	{Name: "NoUdpAcceleration", Type: Bool},
}

// writeCascades makes the hub folder's CascadeList hold h.Cascades when
// they differ from what was last read or written (h.loaded.cascades): each
// cascade is written into its own folder when it was read from this list,
// so that the items the model does not know survive, and a new one into a
// new Cascade<n> with the first free n and the full set of items the real
// server writes. Folders of removed cascades go.
func (h *Hub) writeCascades(hub *Folder) {
	if slices.EqualFunc(h.Cascades, h.loaded.cascades, func(c *Cascade, l Cascade) bool { return c.folder == l.folder && c.Equal(&l) }) {
		return
	}
	list := hub.Ensure("CascadeList")
	old := make(map[*Folder]bool, len(list.Folders))
	for _, f := range list.Folders {
		old[f] = true
	}
	used := make(map[*Folder]bool, len(h.Cascades))
	var names []string
	for _, c := range h.Cascades {
		// A cascade read from another list, or a copy sharing another
		// one's folder, gets a folder of its own.
		if c.folder != nil && old[c.folder] && !used[c.folder] {
			used[c.folder] = true
			names = append(names, strings.ToUpper(c.folder.Name))
		}
	}
	folders := make([]*Folder, 0, len(h.Cascades))
	for _, c := range h.Cascades {
		if c.folder == nil || !used[c.folder] {
			c.folder = newCascadeFolder(&names)
		}
		delete(used, c.folder) // a second cascade of the same folder gets a new one
		c.write(c.folder)
		folders = append(folders, c.folder)
	}
	list.Folders = folders
	h.loaded.cascades = snapshotCascades(h.Cascades)
}

// newCascadeFolder returns the folder of a new cascade, named Cascade<n>
// with the first n not in names (upper-cased), which it adds to names.
func newCascadeFolder(names *[]string) *Folder {
	f := NewFolder("")
	for n := 0; f.Name == ""; n++ {
		if name := "Cascade" + strconv.Itoa(n); !slices.Contains(*names, strings.ToUpper(name)) {
			f.Name = name
		}
	}
	*names = append(*names, strings.ToUpper(f.Name))
	opt := f.Ensure("ClientOption")
	for _, it := range cascadeOptionDefaults {
		n := *it
		opt.Items = append(opt.Items, &n)
	}
	return f
}

// snapshotCascades is what writeCascades compares the cascades with next
// time: copies (with the folder each was written to), so that a change to
// a cascade in place is seen too.
func snapshotCascades(list []*Cascade) []Cascade {
	out := make([]Cascade, len(list))
	for i, c := range list {
		out[i] = *c
		out[i].Policy = clonePolicy(c.Policy)
	}
	return out
}

// write stores c in f, changing only what differs.
func (c *Cascade) write(f *Folder) {
	putBool(f, "CheckServerCert", c.CheckServerCert)
	putBool(f, "Online", c.Online)
	putSecret(f, "ServerCert", c.ServerCert)
	child(f, "ClientAuth", func(auth *Folder) {
		putUint(auth, "AuthType", c.AuthType)
		putString(auth, "Username", c.Username)
		putSecret(auth, "HashedPassword", c.HashedPassword)
		putSecret(auth, "EncryptedPassword", rc4Password([]byte(c.PlainPassword)))
		putSecret(auth, "ClientCert", c.ClientCert)
		putSecret(auth, "ClientKey", c.ClientKey)
	})
	child(f, "ClientOption", func(opt *Folder) {
		putString(opt, "AccountName", c.AccountName)
		putString(opt, "Hostname", c.Hostname)
		putUint(opt, "Port", c.Port)
		putString(opt, "HubName", c.HubName)
		putUint(opt, "MaxConnection", c.MaxConnection)
		putBool(opt, "UseEncrypt", c.UseEncrypt)
		putBool(opt, "UseCompress", c.UseCompress)
		putBool(opt, "HalfConnection", c.HalfConnection)
		putBool(opt, "DisableQoS", c.DisableQoS)
		putUint(opt, "AdditionalConnectionInterval", c.AdditionalConnectionInterval)
		putUint(opt, "ConnectionDisconnectSpan", c.ConnectionDisconnectSpan)
	})
	writePolicy(f, c.Policy)
}

// putSecret writes v, or removes the byte item when v is empty (items
// the real writer only emits when set). An item of another type reads as
// empty and is left alone, so an unchanged model changes nothing.
func putSecret(f *Folder, name string, v []byte) {
	if len(v) == 0 {
		if it := f.Item(name); it != nil && it.Type == Byte {
			f.Remove(name)
		}
		return
	}
	putBytes(f, name, v)
}

// rc4Password encrypts or decrypts (the same operation) a password the
// way SoftEther stores cascade plain passwords and proxy passwords: RC4
// keyed with the 8 bytes "EncryptP" (docs/protocol/config.md#stored-secrets).
func rc4Password(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	c, err := rc4.NewCipher([]byte("EncryptP"))
	if err != nil {
		panic("config: RC4 key: " + err.Error()) // a constant 8-byte key cannot fail
	}
	out := make([]byte, len(b))
	c.XORKeyStream(out, b)
	return out
}

// LocalBridge is one LocalBridgeList/LocalBridge<n> folder.
type LocalBridge struct {
	HubName           string
	DeviceName        string
	NoPromiscuousMode bool
	MonitorMode       bool
	LimitBroadcast    bool
	TapMode           bool
	TapMAC            net.HardwareAddr // TapMacAddress, only with TapMode; nil = random
}

// LocalBridges reads root/LocalBridgeList: the bridges in file order and
// the list's DoNotDisableOffloading flag. Entries without a hub or device
// name are skipped, as the real server does.
func LocalBridges(root *Folder) (bridges []LocalBridge, doNotDisableOffloading bool) {
	list := root.Folder("LocalBridgeList")
	for _, f := range inNumberOrder(list, "LocalBridge") {
		b := LocalBridge{
			HubName:           f.GetString("HubName"),
			DeviceName:        f.GetString("DeviceName"),
			NoPromiscuousMode: f.GetBool("NoPromiscuousMode"),
			MonitorMode:       f.GetBool("MonitorMode"),
			LimitBroadcast:    f.GetBool("LimitBroadcast"),
			TapMode:           f.GetBool("TapMode"),
		}
		if b.TapMode {
			b.TapMAC = getMAC(f, "TapMacAddress")
		}
		if b.HubName == "" || b.DeviceName == "" {
			continue
		}
		bridges = append(bridges, b)
	}
	return bridges, list.GetBool("DoNotDisableOffloading")
}

// Key identifies a local bridge: its hub and device, case-insensitive.
func (b LocalBridge) Key() string {
	return strings.ToUpper(b.HubName) + "\x00" + strings.ToUpper(b.DeviceName)
}

// String describes the bridge for logs.
func (b LocalBridge) String() string {
	mode := "NIC"
	if b.TapMode {
		mode = "TAP"
	}
	return fmt.Sprintf("%s <-> %s (%s)", b.HubName, b.DeviceName, mode)
}
