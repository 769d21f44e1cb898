package config

import "strings"

// FarmFolder is the root folder of a node's farm settings,
// root/EtherVPNFarm. It is ethervpn's own (SoftEther keeps its cluster
// settings in ServerConfiguration, Server.c SiWriteServerCfg, for a farm
// of another kind), belongs to the node and never goes to the farm's etcd.
const FarmFolder = "EtherVPNFarm"

// Farm is what root/EtherVPNFarm holds: how the node joins a farm, the
// same settings as ethervpn server's --farm* flags, which override them.
type Farm struct {
	Endpoints  []string // Endpoints: the etcd client URLs, comma-separated
	Address    string   // Address: the node's IPv4 address for redirects
	Weight     uint32   // Weight: the node's share of sessions (0 = 100)
	NoSessions bool     // NoSessions: logins and admin only
	Name       string   // Name: the node's name (the host name if empty)
	Cluster    string   // Cluster: the farm's name on its etcd
	// CaFile, CertFile and KeyFile are PEM files for TLS to etcd: the CA
	// that signed etcd's certificate, and the node's client certificate
	// and key.
	CAFile, CertFile, KeyFile string
}

// ReadFarm reads the farm settings of a configuration tree; ok is false
// when it has none (no folder, or no endpoints).
func ReadFarm(root *Folder) (f Farm, ok bool) {
	d := root.Folder(FarmFolder)
	if d == nil {
		return Farm{}, false
	}
	for _, e := range strings.Split(d.GetString("Endpoints"), ",") {
		if e = strings.TrimSpace(e); e != "" {
			f.Endpoints = append(f.Endpoints, e)
		}
	}
	f.Address = strings.TrimSpace(d.GetString("Address"))
	f.Weight = d.GetUint("Weight")
	f.NoSessions = d.GetBool("NoSessions")
	f.Name = d.GetString("Name")
	f.Cluster = d.GetString("Cluster")
	f.CAFile = d.GetString("CaFile")
	f.CertFile = d.GetString("CertFile")
	f.KeyFile = d.GetString("KeyFile")
	return f, len(f.Endpoints) > 0
}

// Put writes f into root/EtherVPNFarm.
func (f Farm) Put(root *Folder) {
	d := root.Ensure(FarmFolder)
	d.SetString("Endpoints", strings.Join(f.Endpoints, ","))
	d.SetString("Address", f.Address)
	d.SetUint("Weight", f.Weight)
	d.SetBool("NoSessions", f.NoSessions)
	d.SetString("Name", f.Name)
	d.SetString("Cluster", f.Cluster)
	d.SetString("CaFile", f.CAFile)
	d.SetString("CertFile", f.CertFile)
	d.SetString("KeyFile", f.KeyFile)
}
