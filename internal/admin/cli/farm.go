package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// farmCommands are vpncmd's commands of a server farm (SoftEther
// Command.c: PsClusterSettingGet, PsClusterMemberList,
// PsClusterMemberInfoGet, PsClusterConnectionStatusGet, and the hub
// types PsHubCreateDynamic/Static, PsHubSetDynamic/Static), with vpncmd's
// captions (strtable_en.stb).
func farmCommands() []*command {
	return []*command{
		{name: "ClusterSettingGet", run: clusterSettingGet},
		{name: "ClusterMemberList", run: clusterMemberList},
		{name: "ClusterMemberInfoGet", params: []param{arg("id", "Cluster Member ID to Get Info:")}, run: clusterMemberInfoGet},
		{name: "ClusterConnectionStatusGet", run: clusterConnectionStatusGet},
		{name: "HubCreateDynamic", params: []param{arg("name", "Name of Virtual Hub to be created:"), opt("PASSWORD")}, run: hubCreateTyped(2)},
		{name: "HubCreateStatic", params: []param{arg("name", "Name of Virtual Hub to be created:"), opt("PASSWORD")}, run: hubCreateTyped(1)},
		{name: "HubSetDynamic", params: []param{arg("name", "Name of Virtual Hub to change:")}, run: hubSetType(2)},
		{name: "HubSetStatic", params: []param{arg("name", "Name of Virtual Hub to change:")}, run: hubSetType(1)},
	}
}

func init() {
	for k, v := range map[string]string{
		"ClusterSettingGet":          "Get Clustering Configuration of Current VPN Server",
		"ClusterMemberList":          "Get List of Cluster Members",
		"ClusterMemberInfoGet":       "Get Cluster Member Information",
		"ClusterConnectionStatusGet": "Get Connection Status to Cluster Controller",
		"HubCreateDynamic":           "Create New Dynamic Virtual Hub (For Clustering)",
		"HubCreateStatic":            "Create New Static Virtual Hub (For Clustering)",
		"HubSetDynamic":              "Change Virtual Hub Type to Dynamic Virtual Hub",
		"HubSetStatic":               "Change Virtual Hub Type to Static Virtual Hub",
	} {
		commandDesc[k] = v
	}
}

func clusterSettingGet(s *Session, _ cmdArgs) error {
	p, err := s.call("GetFarmSetting", pack.New())
	if err != nil {
		return err
	}
	typ, weight := p.Int("ServerType"), p.Int("Weight")
	if weight == 0 {
		weight = 100 // FARM_DEFAULT_WEIGHT, as vpncmd shows it
	}
	t := newStandard()
	t.item("Current Configuration", serverType(typ))
	if typ == 1 {
		t.item("Controller Function Only", yesNo(p.Bool("ControllerOnly")))
	}
	if typ != 0 {
		t.item("Performance Standard in Cluster", dec(uint64(weight)))
	}
	if typ == 2 {
		ip := "(No setting)"
		if a := p.IP("PublicIp"); a.IsValid() && !a.IsUnspecified() {
			ip = a.String()
		}
		t.item("Public IP Address", ip)
		ports := make([]string, p.Count("Ports"))
		for i := range ports {
			ports[i] = dec(uint64(p.IntAt("Ports", i)))
		}
		t.item("List of Public Ports", strings.Join(ports, ", "))
		t.item("Destination Controller", fmt.Sprintf("%s:%d", p.Str("ControllerName"), p.Int("ControllerPort")))
	}
	s.show(t)
	return nil
}

func clusterMemberList(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumFarmMember", pack.New())
	if err != nil {
		return err
	}
	t := newList(rcol("ID"), col("Type"), col("Connection Started at"), col("Host Name"), rcol("Point"),
		rcol("Number of Sessions"), rcol("Number of TCP Connections"), rcol("Number of Operating Hubs"),
		rcol("Using Client Connection Licenses"), rcol("Using Bridge Connection Licenses"))
	for i := range count(p, "Id") {
		typ := "Member"
		if u64At(p, "Controller", i) != 0 {
			typ = "Controller"
		}
		t.add(dec(u64At(p, "Id", i)), typ, dateTimeW(u64At(p, "ConnectedTime", i), "(None)"), strAt(p, "Hostname", i),
			dec(u64At(p, "Point", i)), dec(u64At(p, "NumSessions", i)), dec(u64At(p, "NumTcpConnections", i)),
			dec(u64At(p, "NumHubs", i)), dec(u64At(p, "AssignedClientLicense", i)), dec(u64At(p, "AssignedBridgeLicense", i)))
	}
	s.show(t)
	return nil
}

func clusterMemberInfoGet(s *Session, a cmdArgs) error {
	id, _ := strconv.ParseUint(a[""], 10, 32) // vpncmd's UniToInt: not a number is 0
	in := pack.New()
	in.AddInt("Id", uint32(id))
	p, err := s.call("GetFarmInfo", in)
	if err != nil {
		return err
	}
	t := newStandard()
	typ := "Cluster Member Server"
	if p.Bool("Controller") {
		typ = "Cluster Controller"
	}
	t.item("Server Type", typ)
	t.item("Connection Established at", dateTimeW(p.Int64("ConnectedTime"), "(None)"))
	t.item("IP Address", ipAt(p, "Ip", 0).String())
	t.item("Host Name", p.Str("Hostname"))
	t.item("Point", dec(uint64(p.Int("Point"))))
	t.item("Performance Standard Ratio", dec(uint64(p.Int("Weight"))))
	n := p.Count("Ports")
	t.item("Number of Public Ports", dec(uint64(n)))
	for i := range n {
		t.item(fmt.Sprintf("Public Port #%d (TCP/IP)", i+1), dec(uint64(p.IntAt("Ports", i))))
	}
	hubs := p.Count("HubName")
	t.item("Number of Running Virtual Hubs", dec(uint64(hubs)))
	for i := range hubs {
		// Labelled by the hub's real type; vpncmd 5.01 swaps the two
		// labels (Command.c, PsClusterMemberInfoGet uses
		// SM_FMINFO_HUB_TAG_2 "(Static)" for a dynamic hub).
		kind := "Static"
		if u64At(p, "DynamicHub", i) != 0 {
			kind = "Dynamic"
		}
		t.item(fmt.Sprintf("Virtual Hub #%d", i+1), strAt(p, "HubName", i)+" ("+kind+")")
	}
	t.item("Number of Sessions", dec(uint64(p.Int("NumSessions"))))
	t.item("Number of TCP Connections", dec(uint64(p.Int("NumTcpConnections"))))
	s.show(t)
	return nil
}

func clusterConnectionStatusGet(s *Session, _ cmdArgs) error {
	p, err := s.call("GetFarmConnectionStatus", pack.New())
	if err != nil {
		return err
	}
	t := newStandard()
	online := p.Bool("Online")
	if online {
		t.item("Controller IP Address", ipAt(p, "Ip", 0).String())
		t.item("Controller TCP/IP Port", dec(uint64(p.Int("Port"))))
		t.item("Connection Status", "Online")
	} else {
		t.item("Controller IP Address", "(Not Connected)")
		t.item("Controller TCP/IP Port", "(Not Connected)")
		t.item("Connection Status", "Offline")
		t.item("Last Error", fmt.Sprintf("%s (Error Code: %d)", vpnerr.Error(p.Int("LastError")).Message(), p.Int("LastError")))
	}
	t.item("Connection Started at", dateTimeW(p.Int64("StartedTime"), "(None)"))
	t.item("First Connection Established at", dateTimeW(p.Int64("FirstConnectedTime"), "(None)"))
	t.item("Current Connection Established at", dateTimeW(p.Int64("CurrentConnectedTime"), "(None)"))
	t.item("Number of Connection Attempts", dec(uint64(p.Int("NumTry"))))
	t.item("Number of Successful Connections", dec(uint64(p.Int("NumConnected"))))
	t.item("Number of Failed Connections", dec(uint64(p.Int("NumFailed"))))
	s.show(t)
	return nil
}

// hubCreateTyped is HubCreateDynamic (typ 2) or HubCreateStatic (typ 1):
// HubCreate with the hub type given.
func hubCreateTyped(typ uint32) func(s *Session, a cmdArgs) error {
	return func(s *Session, a cmdArgs) error { return createHub(s, a, typ) }
}

// hubSetType is HubSetDynamic or HubSetStatic: GetHub, then SetHub with
// the new type, as vpncmd does.
func hubSetType(typ uint32) func(s *Session, a cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		in := pack.New()
		in.AddStr("HubName", a[""])
		p, err := s.call("GetHub", in)
		if err != nil {
			return err
		}
		p.AddStr("HubName", a[""])
		p.AddInt("HubType", typ)
		_, err = s.call("SetHub", p)
		return err
	}
}
