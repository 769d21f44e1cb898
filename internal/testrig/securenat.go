package testrig

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SoftEther's SecureNAT addresses, which SecureNATConfig always uses: the
// virtual host is the router and DNS server of 192.168.30.0/24 and leases
// .10 to .200.
const (
	SecureNATIP        = "192.168.30.1"
	SecureNATFirstIP   = "192.168.30.10"
	SecureNATLastIP    = "192.168.30.200"
	SecureNATMask      = "255.255.255.0"
	SecureNATMAC       = "5E-00-AC-1D-00-01" // fixed, so that captures are readable
	secureNATDefLease  = 7200
	secureNATDefTCPIdl = 1800
	secureNATDefUDPIdl = 60
)

// SecureNATConfig enables SecureNAT on a hub with SoftEther's default
// settings, except for the fields set here.
type SecureNATConfig struct {
	// TCPTimeout and UDPTimeout are the NAT idle timeouts in seconds;
	// 0 means SoftEther's defaults, 1800 and 60. Both servers clamp them
	// to at least 60 and 10.
	TCPTimeout, UDPTimeout int
	// LeaseSeconds is the DHCP lease time; 0 means 7200.
	LeaseSeconds int
}

// renderSecureNAT writes a hub's SecureNAT folder the way the real server
// does. A hub without SecureNAT gets only "Disabled true", which both
// servers complete with their defaults.
func renderSecureNAT(f *cfgFolder, c *SecureNATConfig) {
	if c == nil {
		f.item("bool", "Disabled", "true")
		return
	}
	or := func(v, def int) string {
		if v == 0 {
			v = def
		}
		return strconv.Itoa(v)
	}
	f.item("bool", "Disabled", "false")
	f.item("bool", "SaveLog", "true")
	d := f.folder("VirtualDhcpServer")
	d.item("string", "DhcpDnsServerAddress", SecureNATIP)
	d.item("string", "DhcpDnsServerAddress2", "0.0.0.0")
	d.item("string", "DhcpDomainName", "")
	d.item("bool", "DhcpEnabled", "true")
	d.item("uint", "DhcpExpireTimeSpan", or(c.LeaseSeconds, secureNATDefLease))
	d.item("string", "DhcpGatewayAddress", SecureNATIP)
	d.item("string", "DhcpLeaseIPEnd", SecureNATLastIP)
	d.item("string", "DhcpLeaseIPStart", SecureNATFirstIP)
	d.item("string", "DhcpPushRoutes", "")
	d.item("string", "DhcpSubnetMask", SecureNATMask)
	h := f.folder("VirtualHost")
	h.item("string", "VirtualHostIp", SecureNATIP)
	h.item("string", "VirtualHostIpSubnetMask", SecureNATMask)
	h.item("string", "VirtualHostMacAddress", SecureNATMAC)
	r := f.folder("VirtualRouter")
	r.item("bool", "NatEnabled", "true")
	r.item("uint", "NatMtu", "1500")
	r.item("uint", "NatTcpTimeout", or(c.TCPTimeout, secureNATDefTCPIdl))
	r.item("uint", "NatUdpTimeout", or(c.UDPTimeout, secureNATDefUDPIdl))
}

// NATRow is one row of vpncmd's NatTable.
type NATRow struct {
	ID                int
	Protocol          string // "TCP/IP", "UDP/IP", "ICMP", "DNS"
	SrcHost, DstHost  string
	SrcPort, DstPort  int
	ReceiveSize, Sent string // as printed, e.g. "1,638" and "320"
	TCPStatus         string // "Connecting", "Running", ... ("" unless TCP)
	Created, LastComm string
}

// DHCPRow is one row of vpncmd's DhcpTable.
type DHCPRow struct {
	ID       int
	LeasedAt string
	Expires  string
	MAC      string // "5E-FA-03-4C-84-20"
	IP       string
	Hostname string
}

// NatTable reads the hub's SecureNAT session table with vpncmd.
func (s *Server) NatTable(hub string) ([]NATRow, error) {
	recs, err := s.vpncmdCSV(hub, "NatTable", 10)
	if err != nil {
		return nil, err
	}
	var rows []NATRow
	for _, f := range recs {
		r := NATRow{Protocol: f[1], SrcHost: f[2], DstHost: f[4], Created: f[6], LastComm: f[7], TCPStatus: f[9]}
		var errs [3]error
		r.ID, errs[0] = strconv.Atoi(f[0])
		r.SrcPort, errs[1] = strconv.Atoi(f[3])
		r.DstPort, errs[2] = strconv.Atoi(f[5])
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("testrig: NatTable row %q: %w", f, e)
			}
		}
		r.ReceiveSize, r.Sent, _ = strings.Cut(f[8], " / ")
		rows = append(rows, r)
	}
	return rows, nil
}

// DhcpTable reads the hub's SecureNAT DHCP lease table with vpncmd.
func (s *Server) DhcpTable(hub string) ([]DHCPRow, error) {
	recs, err := s.vpncmdCSV(hub, "DhcpTable", 6)
	if err != nil {
		return nil, err
	}
	var rows []DHCPRow
	for _, f := range recs {
		id, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("testrig: DhcpTable row %q: %w", f, err)
		}
		rows = append(rows, DHCPRow{ID: id, LeasedAt: f[1], Expires: f[2], MAC: f[3], IP: f[4], Hostname: f[5]})
	}
	return rows, nil
}

// vpncmdCSV runs one hub command with vpncmd /CSV in server admin mode and
// returns the table's records without the header.
func (s *Server) vpncmdCSV(hub, command string, columns int) ([][]string, error) {
	dir := filepath.Join(s.rig.Server.Dir, "vpncmd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	script, err := os.CreateTemp(dir, "csv-*.txt")
	if err != nil {
		return nil, err
	}
	defer os.Remove(script.Name())
	_, err = fmt.Fprintf(script, "Hub %s\n%s\n", hub, command)
	if err := errors.Join(err, script.Close()); err != nil {
		return nil, err
	}
	cmd := []string{VpncmdPath, "127.0.0.1:" + strconv.Itoa(s.Port), "/SERVER", "/CSV", "/IN:" + script.Name()}
	if s.AdminPassword != "" {
		cmd = append(cmd, "/PASSWORD:"+s.AdminPassword)
	}
	out, err := run(30*time.Second, s.rig.Server.SoftEtherCmd(dir, cmd...)...)
	if err != nil {
		return nil, err
	}
	return ParseVpncmdCSV(out, columns)
}

// ParseVpncmdCSV reads the table in vpncmd /CSV output: the first line
// starting with "ID," is the header, and the records follow it up to the
// first empty line, each of exactly columns fields (numbers may carry
// quoted thousands separators). An empty table is no error.
func ParseVpncmdCSV(out string, columns int) ([][]string, error) {
	lines := strings.Split(strings.ReplaceAll(out, "\r", ""), "\n")
	header := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "ID,") && strings.Count(l, ",") == columns-1 {
			header = i
			break
		}
	}
	if header < 0 {
		return nil, fmt.Errorf("testrig: no %d-column table in vpncmd output %q", columns, lastLines(out, 5))
	}
	end := header + 1
	for end < len(lines) && strings.TrimSpace(lines[end]) != "" {
		end++
	}
	r := csv.NewReader(strings.NewReader(strings.Join(lines[header+1:end], "\n")))
	r.FieldsPerRecord = columns
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("testrig: vpncmd CSV: %w", err)
	}
	return rows, nil
}
