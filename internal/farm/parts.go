package farm

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
)

// The configuration of a farm node is two things: what all nodes share
// (hubs, users, groups, access lists, the server certificate and admin
// password, protocol settings) and what stays on the node (its
// listeners, local bridges, UDP ports, dynamic DNS client). The shared
// part lives in etcd as one value per object, so that a change of one
// user writes one small value and etcd's request limit (1.5 MiB by
// default) never meets a hub of 10,000 users; the whole configuration,
// both parts, is still written to the node's own file.

// Part keys, under the farm's config/ prefix.
const (
	keyServer = "server" // the shared rest of the tree
	keyHub    = "hub/"   // hub/<HUB>: a hub without its users and groups
	keyUser   = "user/"  // user/<HUB>/<USER>
	keyGroup  = "group/" // group/<HUB>/<GROUP>
	rootName  = "root"   // the root folder's name in a file
	hubsName  = "VirtualHUB"
)

// localFolders are the root's folders that belong to the node: with its
// farm settings (config.FarmFolder), whose certificate files are the
// node's own.
var localFolders = []string{"ListenerList", "LocalBridgeList", "DDnsClient", config.FarmFolder}

// localServerItems are the ServerConfiguration items that belong to the
// node: where it listens.
var localServerItems = []string{"ListenIP", "PortsUDP"}

// localRootItems are the root's items that belong to the node (its
// file's own revision counter).
var localRootItems = []string{"ConfigRevision"}

// part is one shared object of the configuration: its folder and key.
type part struct {
	key    string
	folder *config.Folder
}

// splitShared lists the shared parts of a configuration tree. It does not
// change root: the parts are shallow copies where they leave something
// out, sharing the items and sub-folders they keep.
func splitShared(root *config.Folder) []part {
	server := &config.Folder{Name: rootName}
	for _, it := range root.Items {
		if !hasName(localRootItems, it.Name) {
			server.Items = append(server.Items, it)
		}
	}
	var parts []part
	for _, f := range root.Folders {
		switch {
		case hasName(localFolders, f.Name):
		case strings.EqualFold(f.Name, hubsName):
			for _, hub := range f.Folders {
				parts = append(parts, splitHub(hub)...)
			}
		case strings.EqualFold(f.Name, "ServerConfiguration"):
			sc := &config.Folder{Name: f.Name, Folders: f.Folders}
			for _, it := range f.Items {
				if !hasName(localServerItems, it.Name) {
					sc.Items = append(sc.Items, it)
				}
			}
			server.Folders = append(server.Folders, sc)
		default:
			server.Folders = append(server.Folders, f)
		}
	}
	return append(parts, part{keyServer, server})
}

// splitHub gives a hub's parts: the hub without its users and groups, and
// each user and group.
func splitHub(hub *config.Folder) []part {
	name := keyName(hub.Name)
	bare := &config.Folder{Name: hub.Name, Items: hub.Items}
	var parts []part
	for _, f := range hub.Folders {
		if !strings.EqualFold(f.Name, "SecurityAccountDatabase") {
			bare.Folders = append(bare.Folders, f)
			continue
		}
		db := &config.Folder{Name: f.Name, Items: f.Items}
		for _, sub := range f.Folders {
			switch {
			case strings.EqualFold(sub.Name, "UserList"):
				db.Folders = append(db.Folders, &config.Folder{Name: sub.Name, Items: sub.Items})
				for _, u := range sub.Folders {
					parts = append(parts, part{keyUser + name + "/" + keyName(u.Name), u})
				}
			case strings.EqualFold(sub.Name, "GroupList"):
				db.Folders = append(db.Folders, &config.Folder{Name: sub.Name, Items: sub.Items})
				for _, g := range sub.Folders {
					parts = append(parts, part{keyGroup + name + "/" + keyName(g.Name), g})
				}
			default:
				db.Folders = append(db.Folders, sub)
			}
		}
		bare.Folders = append(bare.Folders, db)
	}
	return append(parts, part{keyHub + name, bare})
}

// keyName is a name as it appears in a key: names are compared without
// regard to case, so one object has one key whatever case it is given.
func keyName(name string) string { return url.PathEscape(strings.ToUpper(name)) }

// hasName reports whether names holds name, compared as the
// configuration compares names.
func hasName(names []string, name string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) })
}

// joinShared builds a node's configuration tree from its own file's tree
// (for the node's parts) and the shared parts read from the farm, keyed
// as splitShared keys them. local is not changed.
func joinShared(local *config.Folder, shared map[string]*config.Folder) (*config.Folder, error) {
	server := shared[keyServer]
	if server == nil {
		return nil, fmt.Errorf("the farm's configuration has no %q part", keyServer)
	}
	root := &config.Folder{Name: rootName}
	root.Items = append(root.Items, server.Items...)
	for _, name := range localRootItems {
		if it := local.Item(name); it != nil {
			root.Items = append(root.Items, it)
		}
	}
	for _, f := range server.Folders {
		if strings.EqualFold(f.Name, "ServerConfiguration") {
			sc := &config.Folder{Name: f.Name, Items: slices.Clone(f.Items), Folders: f.Folders}
			for _, name := range localServerItems {
				if it := local.Folder("ServerConfiguration").Item(name); it != nil {
					sc.Items = append(sc.Items, it)
				}
			}
			f = sc
		}
		root.Folders = append(root.Folders, f)
	}
	for _, name := range localFolders {
		if f := local.Folder(name); f != nil {
			root.Folders = append(root.Folders, f)
		}
	}
	hubs, err := joinHubs(shared)
	if err != nil {
		return nil, err
	}
	root.Folders = append(root.Folders, hubs)
	return root, nil
}

// joinHubs builds the VirtualHUB folder from the hub, user and group
// parts.
func joinHubs(shared map[string]*config.Folder) (*config.Folder, error) {
	hubs := &config.Folder{Name: hubsName}
	byKey := map[string]*config.Folder{}
	keys := make([]string, 0, len(shared))
	for k := range shared {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if name, ok := strings.CutPrefix(k, keyHub); ok {
			hub := shared[k].Clone() // users join it below; the part stays as read
			hubs.Folders = append(hubs.Folders, hub)
			byKey[name] = hub
		}
	}
	for _, k := range keys {
		var list string
		rest, ok := strings.CutPrefix(k, keyUser)
		if ok {
			list = "UserList"
		} else if rest, ok = strings.CutPrefix(k, keyGroup); ok {
			list = "GroupList"
		} else {
			continue
		}
		hubName, _, _ := strings.Cut(rest, "/")
		hub := byKey[hubName]
		if hub == nil {
			return nil, fmt.Errorf("the farm's configuration has %q but no hub %q", k, hubName)
		}
		hub.Ensure("SecurityAccountDatabase").Ensure(list).Folders =
			append(hub.Folder("SecurityAccountDatabase").Folder(list).Folders, shared[k])
	}
	return hubs, nil
}
