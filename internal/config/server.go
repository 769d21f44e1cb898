package config

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/sha0"
)

// ErrBadConfig is returned by FromTree for a tree without the
// ServerConfiguration folder; the real server then starts from defaults.
var ErrBadConfig = errors.New("config: bad config (no ServerConfiguration folder)")

// Server is the typed view of a vpn_server.config: every part the Go
// server serves, as values (Equal compares two configurations whole).
// What the model does not know stays in Tree, which ToTree updates in
// place, so nothing the real server or an operator wrote is lost on a
// rewrite: scalar settings are written item by item where they differ;
// lists (access list, AC list, admin options, switches, bridges) and
// option sets are written only when they differ from what was last read
// or written, reusing the folder of each entry so that its unknown items
// survive.
type Server struct {
	Tree *Folder // the whole file; unmodelled items live here

	AdminPasswordHash []byte     // ServerConfiguration/HashedPassword = SHA0(pw); see EmptyPasswordHash
	ListenIP          string     // ServerConfiguration/ListenIP, "0.0.0.0" = all
	Listeners         []Listener // ListenerList
	CertDER, KeyDER   []byte     // ServerConfiguration/ServerCert (X.509) and ServerKey (PKCS#1); empty = generate
	CipherName        string     // ServerConfiguration/CipherName, "~DEFAULT~" or an OpenSSL name
	// NoHighPriorityProcess (ServerConfiguration) keeps the process at its
	// normal CPU priority instead of nice -20. Read only: the tree keeps it.
	NoHighPriorityProcess bool
	Hubs                  []*Hub // VirtualHUB/<name>, in file order

	Syslog       Syslog        // ServerConfiguration/SyslogSettings
	KeepConnect  KeepConnect   // ServerConfiguration/UseKeepConnect, KeepConnect*
	Options      ServerOptions // ServerConfiguration limits and housekeeping
	L3Switches   []L3Switch    // VirtualLayer3SwitchList, by name (ToTree sorts them so)
	LocalBridges Bridges       // LocalBridgeList, in file order

	// The native protocols (protocols.go).
	PortsUDP             []uint16       // ServerConfiguration/PortsUDP, sorted, each once
	UsernameHubSeparator string         // ServerConfiguration/UsernameHubSeparator, one character
	Proto                ProtoOptions   // ServerConfiguration/Proto
	WireGuardKeys        []WireGuardKey // WireGuardKeyList, by key (SortWireGuardKeys)

	// loaded holds the parts above as last read or written; ToTree writes
	// a part only when it differs (see Hub.loaded for why).
	loaded      serverParts
	loadedProto protoParts
}

// Listener is one TCP listener of ListenerList.
type Listener struct {
	Port       uint16
	Enabled    bool
	DisableDos bool
}

// IsEmptyPasswordHash reports whether a stored admin password hash means
// "no password": absent, not 20 bytes, or SHA0("") (what SoftEther stores
// for an empty password).
func IsEmptyPasswordHash(h []byte) bool {
	empty := sha0.AdminHash("")
	return len(h) != len(empty) || bytes.Equal(h, empty[:])
}

// FromTree builds the typed view of root (a parsed vpn_server.config). The
// returned Server keeps root as its Tree. Missing items read as zero, as in
// the real server; a modelled item that is present but unusable (of
// another type, or a password hash of the wrong length) is a *ValueError.
func FromTree(root *Folder) (*Server, error) {
	sc := root.Folder("ServerConfiguration")
	if sc == nil {
		return nil, ErrBadConfig
	}
	if err := checkValues(root); err != nil {
		return nil, err
	}
	s := &Server{
		Tree:              root,
		AdminPasswordHash: sc.GetBytes("HashedPassword"),
		ListenIP:          sc.GetString("ListenIP"),
		CertDER:           sc.GetBytes("ServerCert"),
		KeyDER:            sc.GetBytes("ServerKey"),
		CipherName:        sc.GetString("CipherName"),

		NoHighPriorityProcess: sc.GetBool("NoHighPriorityProcess"),
	}
	for _, f := range root.Folder("ListenerList").subfolders() {
		port := f.GetUint("Port")
		if port == 0 || port > 65535 {
			continue // the real server ignores these entries
		}
		s.Listeners = append(s.Listeners, Listener{
			Port: uint16(port), Enabled: f.GetBool("Enabled"), DisableDos: f.GetBool("DisableDos"),
		})
	}
	for _, f := range root.Folder("VirtualHUB").subfolders() {
		s.Hubs = append(s.Hubs, readHub(f))
	}
	s.Syslog, s.KeepConnect, s.Options = readSyslog(sc), readKeepConnect(sc), readServerOptions(sc)
	s.L3Switches = readL3Switches(root)
	s.readProtocols(root, sc)
	s.LocalBridges.List, s.LocalBridges.DoNotDisableOffloading = LocalBridges(root)
	s.loaded = serverParts{
		syslog: s.Syslog, keepConnect: s.KeepConnect, options: s.Options,
		l3: cloneL3(s.L3Switches), bridges: s.LocalBridges.clone(),
	}
	return s, nil
}

// subfolders is f.Folders, safe on a nil folder.
func (f *Folder) subfolders() []*Folder {
	if f == nil {
		return nil
	}
	return f.Folders
}

// ToTree writes the modelled values back into s.Tree and returns it.
// Values that did not change leave the tree untouched; hubs, users and
// groups removed from the model disappear from the tree, renamed ones are
// renamed, and new ones get the complete folder the real server writes.
// A Server without a Tree starts from Default's tree.
func (s *Server) ToTree() *Folder {
	if s.Tree == nil {
		s.Tree = Default().Tree
	}
	root := s.Tree
	sc := root.Ensure("ServerConfiguration")
	if !bytes.Equal(sc.GetBytes("HashedPassword"), s.AdminPasswordHash) {
		hash := s.AdminPasswordHash
		if len(hash) != sha0.Size {
			empty := sha0.AdminHash("") // how SoftEther stores "no password"
			hash = empty[:]
		}
		sc.SetBytes("HashedPassword", hash)
	}
	putString(sc, "ListenIP", s.ListenIP)
	putOptionalBytes(sc, "ServerCert", s.CertDER)
	putOptionalBytes(sc, "ServerKey", s.KeyDER)
	putString(sc, "CipherName", s.CipherName)
	writeChanged(s.Syslog, &s.loaded.syslog, func() { s.Syslog.write(sc) })
	writeChanged(s.KeepConnect, &s.loaded.keepConnect, func() { s.KeepConnect.write(sc) })
	writeChanged(s.Options, &s.loaded.options, func() { s.Options.write(sc) })
	sortL3(s.L3Switches)
	if !slices.EqualFunc(s.L3Switches, s.loaded.l3, L3Switch.Equal) {
		writeL3Switches(root, s.L3Switches)
		s.loaded.l3 = cloneL3(s.L3Switches)
	}
	if !s.LocalBridges.Equal(s.loaded.bridges) {
		writeBridges(root, s.LocalBridges)
		s.loaded.bridges = s.LocalBridges.clone()
	}
	s.writeProtocols(root, sc)
	child(root, "ListenerList", s.writeListeners)
	child(root, "VirtualHUB", func(vh *Folder) {
		vh.Folders = vh.Folders[:0]
		for _, h := range s.Hubs {
			vh.Folders = append(vh.Folders, h.toFolder())
		}
	})
	return root
}

// writeListeners rebuilds ListenerList in model order. An existing entry
// with the same port is reused with its name (keeping anything unknown in
// it); a new entry is called Listener<n> with the first free n. Entries
// the real server ignores (port 0 or out of range) are kept as they are.
func (s *Server) writeListeners(ll *Folder) {
	old := ll.Folders
	ll.Folders = nil
	for _, l := range s.Listeners {
		var f *Folder
		for j, o := range old {
			if o != nil && o.GetUint("Port") == uint32(l.Port) {
				f, old[j] = o, nil
				break
			}
		}
		if f == nil {
			f = NewFolder("")
			f.SetBool("DisableDos", l.DisableDos)
			f.SetBool("Enabled", l.Enabled)
			f.SetUint("Port", uint32(l.Port))
		}
		putBool(f, "DisableDos", l.DisableDos)
		putBool(f, "Enabled", l.Enabled)
		putUint(f, "Port", uint32(l.Port))
		ll.Folders = append(ll.Folders, f)
	}
	for _, o := range old {
		if o != nil && (o.GetUint("Port") == 0 || o.GetUint("Port") > 65535) {
			ll.Folders = append(ll.Folders, o)
		}
	}
	for _, f := range ll.Folders {
		for n := 0; f.Name == ""; n++ {
			if name := "Listener" + strconv.Itoa(n); ll.Folder(name) == nil {
				f.Name = name
			}
		}
	}
}

// Hub returns the hub called name (case-insensitive), or nil.
func (s *Server) Hub(name string) *Hub {
	for _, h := range s.Hubs {
		if strings.EqualFold(h.Name, name) {
			return h
		}
	}
	return nil
}

// RemoveHub deletes the hub called name from the model (and, at the next
// ToTree, from the tree). It reports whether the hub existed.
func (s *Server) RemoveHub(name string) bool {
	for i, h := range s.Hubs {
		if strings.EqualFold(h.Name, name) {
			s.Hubs = append(s.Hubs[:i], s.Hubs[i+1:]...)
			return true
		}
	}
	return false
}
