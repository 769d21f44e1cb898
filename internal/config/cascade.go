package config

import (
	"bytes"
	"crypto/rc4"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Typed views of the cascade connections of a hub
// (VirtualHUB/<hub>/CascadeList/Cascade<n>, docs/protocol/config.md#accounts-access-lists-and-cascades) and
// of the local bridges (LocalBridgeList, docs/protocol/config.md#local-bridges). They are read from and
// written into the configuration tree in place, like the rest of the
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

	folder *Folder
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

// Cascades returns the hub's cascades (see the package function).
func (h *Hub) Cascades() []*Cascade { return Cascades(h.folder) }

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
// gives a new one: offline, 8 connections, encryption on, bridge mode.
func NewCascade(account, host string, port uint32, hubName, user string) *Cascade {
	return &Cascade{CascadeSettings: CascadeSettings{
		AccountName: account, Hostname: host, Port: port, HubName: hubName, Username: user,
		MaxConnection: 8, UseEncrypt: true, AdditionalConnectionInterval: 1,
	}}
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

// PutCascade writes c into the hub's CascadeList: into its own folder when
// it was read from this hub, else into a new Cascade<n> with the first
// free n (and the full set of items the real server writes).
func (h *Hub) PutCascade(c *Cascade) {
	if h.folder == nil {
		h.folder = newHubFolder()
	}
	list := h.folder.Ensure("CascadeList")
	if c.folder == nil || !containsFolder(list, c.folder) {
		f := NewFolder("")
		for n := 0; f.Name == ""; n++ {
			if name := "Cascade" + strconv.Itoa(n); list.Folder(name) == nil {
				f.Name = name
			}
		}
		opt := f.Ensure("ClientOption")
		for _, it := range cascadeOptionDefaults {
			n := *it
			opt.Items = append(opt.Items, &n)
		}
		list.Folders = append(list.Folders, f)
		c.folder = f
	}
	c.write(c.folder)
}

// RemoveCascade deletes the cascade whose AccountName is account
// (case-insensitive); it reports whether there was one.
func (h *Hub) RemoveCascade(account string) bool {
	list := h.folder.Folder("CascadeList")
	for i, f := range list.subfolders() {
		if strings.EqualFold(f.Folder("ClientOption").GetString("AccountName"), account) {
			list.Folders = append(list.Folders[:i], list.Folders[i+1:]...)
			return true
		}
	}
	return false
}

func containsFolder(list, f *Folder) bool {
	for _, x := range list.Folders {
		if x == f {
			return true
		}
	}
	return false
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
