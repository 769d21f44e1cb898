package cli

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// param is one parameter of a command: the default (positional) one when
// name is "", else /NAME:value.
type param struct {
	name       string
	label      string // the default parameter's name in messages, e.g. "name"
	prompt     string
	required   bool
	allowEmpty bool
}

// command is one vpncmd command.
type command struct {
	name    string
	needHub bool // needs a selected hub (Hub command)
	quit    bool
	params  []param
	run     func(s *Session, a cmdArgs) error
}

func (c *command) desc() string {
	if d, ok := commandDesc[c.name]; ok {
		return d
	}
	return c.name
}

func (c *command) hasDefault() bool {
	for _, p := range c.params {
		if p.name == "" {
			return true
		}
	}
	return false
}

var errNotFound = errors.New("command not found")

// findCommand looks a command up like vpncmd: case-insensitive, and a
// unique prefix is enough.
func findCommand(name string) (*command, error) {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	n, err := matchName(name, names, "command")
	if err != nil {
		if strings.HasPrefix(err.Error(), "unknown") {
			return nil, errNotFound
		}
		return nil, err
	}
	for _, c := range commands {
		if c.name == n {
			return c, nil
		}
	}
	return nil, errNotFound
}

// Parameter shorthands.
func arg(label, prompt string) param { return param{label: label, prompt: prompt, required: true} }
func optArg(label string) param      { return param{label: label} }
func opt(name string) param          { return param{name: name} }

var commands []*command

func init() {
	commands = []*command{
		// Server
		{name: "ServerInfoGet", run: serverInfoGet},
		{name: "ServerStatusGet", run: serverStatusGet},
		{name: "ListenerList", run: listenerList},
		{name: "ListenerCreate", params: []param{arg("port", "Port Number:")}, run: listener("CreateListener", true)},
		{name: "ListenerDelete", params: []param{arg("port", "Port Number:")}, run: listener("DeleteListener", true)},
		{name: "ListenerEnable", params: []param{arg("port", "Port Number:")}, run: listener("EnableListener", true)},
		{name: "ListenerDisable", params: []param{arg("port", "Port Number:")}, run: listener("EnableListener", false)},
		{name: "ServerPasswordSet", params: []param{optArg("password")}, run: serverPasswordSet},
		{name: "ServerCipherGet", run: serverCipherGet},
		{name: "ServerCipherSet", params: []param{arg("name", "Encrypted Algorithm Name to Specify:")}, run: serverCipherSet},
		{name: "HubCreate", params: []param{arg("name", "Name of Virtual Hub to be created:"), opt("PASSWORD")}, run: hubCreate},
		{name: "HubDelete", params: []param{arg("name", "Name of Virtual Hub to delete:")}, run: hubDelete},
		{name: "HubList", run: hubList},
		{name: "Hub", params: []param{optArg("name")}, run: hubSelect},
		{name: "Caps", run: caps},
		{name: "Flush", run: flush},
		{name: "ConfigGet", params: []param{optArg("path")}, run: configGet},
		// Hub
		{name: "Online", needHub: true, run: hubOnline(true)},
		{name: "Offline", needHub: true, run: hubOnline(false)},
		{name: "StatusGet", needHub: true, run: statusGet},
		{name: "SetHubPassword", needHub: true, params: []param{optArg("password")}, run: setHubPassword},
		{name: "UserCreate", needHub: true, params: []param{arg("name", "User Name:"), opt("GROUP"), opt("REALNAME"), opt("NOTE")}, run: userCreate},
		{name: "UserDelete", needHub: true, params: []param{arg("name", "User Name:")}, run: nameCall("DeleteUser")},
		{name: "UserList", needHub: true, run: userList},
		{name: "UserGet", needHub: true, params: []param{arg("name", "User Name:")}, run: userGet},
		{name: "UserPasswordSet", needHub: true, params: []param{arg("name", "User Name:"), opt("PASSWORD")}, run: userPasswordSet},
		{name: "GroupCreate", needHub: true, params: []param{arg("name", "Group Name:"), opt("REALNAME"), opt("NOTE")}, run: groupCreate},
		{name: "GroupDelete", needHub: true, params: []param{arg("name", "Group Name:")}, run: nameCall("DeleteGroup")},
		{name: "GroupList", needHub: true, run: groupList},
		{name: "SessionList", needHub: true, run: sessionList},
		{name: "SessionDisconnect", needHub: true, params: []param{arg("name", "Session Name:")}, run: nameCall("DeleteSession")},
		{name: "MacTable", needHub: true, params: []param{optArg("session_name")}, run: macTable},
		{name: "MacDelete", needHub: true, params: []param{arg("id", "ID to Delete:")}, run: tableDelete("DeleteMacTable")},
		{name: "IpTable", needHub: true, params: []param{optArg("session_name")}, run: ipTable},
		{name: "IpDelete", needHub: true, params: []param{arg("id", "ID to Delete:")}, run: tableDelete("DeleteIpTable")},
		{name: "SecureNatEnable", needHub: true, run: hubCall("EnableSecureNAT")},
		{name: "SecureNatDisable", needHub: true, run: hubCall("DisableSecureNAT")},
		{name: "SecureNatStatusGet", needHub: true, run: secureNatStatusGet},
		{name: "SecureNatHostGet", needHub: true, run: secureNatHostGet},
		{name: "SecureNatHostSet", needHub: true, params: []param{opt("MAC"), opt("IP"), opt("MASK")}, run: secureNatHostSet},
		{name: "NatGet", needHub: true, run: natGet},
		{name: "NatSet", needHub: true, params: []param{opt("MTU"), opt("TCPTIMEOUT"), opt("UDPTIMEOUT"), opt("LOG")}, run: natSet},
		{name: "NatEnable", needHub: true, run: natOption("UseNat", true)},
		{name: "NatDisable", needHub: true, run: natOption("UseNat", false)},
		{name: "NatTable", needHub: true, run: natTable},
		{name: "DhcpGet", needHub: true, run: dhcpGet},
		{name: "DhcpSet", needHub: true, params: []param{opt("START"), opt("END"), opt("MASK"), opt("EXPIRE"), opt("GW"), opt("DNS"), opt("DNS2"), opt("DOMAIN"), opt("LOG"), opt("PUSHROUTE")}, run: dhcpSet},
		{name: "DhcpEnable", needHub: true, run: natOption("UseDhcp", true)},
		{name: "DhcpDisable", needHub: true, run: natOption("UseDhcp", false)},
		{name: "DhcpTable", needHub: true, run: dhcpTable},
		{name: "Exit", quit: true},
		{name: "Quit", quit: true},
	}
	commands = append(commands, cascadeCommands()...)   // cascade.go
	commands = append(commands, routerCommands()...)    // router.go
	commands = append(commands, extOptionCommands()...) // extoption.go
	commands = append(commands, acListCommands()...)    // aclist.go
	commands = append(commands, logCommands()...)       // log.go
	commands = append(commands, accessCommands()...)    // access.go
	commands = append(commands, protocolCommands()...)  // protocols.go
	commands = append(commands, farmCommands()...)      // farm.go
}

// hubPack starts a request for the selected hub.
func (s *Session) hubPack() *pack.Pack {
	p := pack.New()
	p.AddStr("HubName", s.hub)
	return p
}

func (s *Session) show(t *table) { t.print(s.out, s.csv) }

func parseUint(what, v string, lo, hi uint64) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil || n < lo || n > hi {
		return 0, usageError(fmt.Sprintf("%s must be a number from %d to %d, not %q.", what, lo, hi, v))
	}
	return uint32(n), nil
}

// password returns /PASSWORD (or the default parameter) or asks for it
// twice, as vpncmd does.
func (s *Session) password(a cmdArgs, key string) (string, error) {
	if v, ok := a[key]; ok {
		return v, nil
	}
	if s.ask == nil {
		return "", usageError("Specify the password with /PASSWORD:password (there is no keyboard to ask it from).")
	}
	fmt.Fprint(s.out, "Please enter the password. To cancel press the Ctrl+D key.\n\n")
	for {
		pw, err := s.ask("Password: ")
		if err != nil {
			return "", vpnerr.UserCancel
		}
		again, err := s.ask("Confirm input: ")
		if err != nil {
			return "", vpnerr.UserCancel
		}
		if pw == again {
			return pw, nil
		}
		fmt.Fprint(s.out, "The password and the password confirmation do not match. Please input the password and confirmation again.\n\n")
	}
}

// noneOr returns "" for vpncmd's "none", else v.
func noneOr(v string) string {
	if strings.EqualFold(v, "none") {
		return ""
	}
	return v
}

func parseYesNo(what, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "y", "true", "1", "on":
		return true, nil
	case "no", "n", "false", "0", "off":
		return false, nil
	}
	return false, usageError(fmt.Sprintf("%s must be yes or no, not %q.", what, v))
}

// ---- server commands

func serverInfoGet(s *Session, _ cmdArgs) error {
	p, err := s.call("GetServerInfo", pack.New())
	if err != nil {
		return err
	}
	t := newStandard()
	t.item("Product Name", p.Str("ServerProductName"))
	t.item("Version", p.Str("ServerVersionString"))
	t.item("Build", p.Str("ServerBuildInfoString"))
	t.item("Host Name", p.Str("ServerHostName"))
	t.item("Server Type", serverType(p.Int("ServerType")))
	t.item("Type of Operating System", p.Str("OsSystemName"))
	t.item("Product Name of Operating System", p.Str("OsProductName"))
	t.item("Operating System Vendor", p.Str("OsVendorName"))
	t.item("Operating System Version", p.Str("OsVersion"))
	t.item("Type of OS Kernel", p.Str("KernelName"))
	t.item("Version of OS Kernel", p.Str("KernelVersion"))
	s.show(t)
	return nil
}

func serverType(t uint32) string {
	switch t {
	case 1:
		return "Cluster Controller"
	case 2:
		return "Cluster Member Server"
	}
	return "Standalone Server"
}

func serverStatusGet(s *Session, _ cmdArgs) error {
	p, err := s.call("GetServerStatus", pack.New())
	if err != nil {
		return err
	}
	t := newStandard()
	t.item("Server Type", serverType(p.Int("ServerType")))
	t.item("Number of Active Sockets", dec(uint64(p.Int("NumTcpConnections"))))
	t.item("Number of Virtual Hubs", dec(uint64(p.Int("NumHubTotal"))))
	t.item("Number of Sessions", dec(uint64(p.Int("NumSessionsTotal"))))
	t.item("Number of MAC Address Tables", dec(uint64(p.Int("NumMacTables"))))
	t.item("Number of IP Address Tables", dec(uint64(p.Int("NumIpTables"))))
	t.item("Number of Users", dec(uint64(p.Int("NumUsers"))))
	t.item("Number of Groups", dec(uint64(p.Int("NumGroups"))))
	t.item("Using Client Connection Licenses (This Server)", dec(uint64(p.Int("AssignedClientLicenses"))))
	t.item("Using Bridge Connection Licenses (This Server)", dec(uint64(p.Int("AssignedBridgeLicenses"))))
	trafficRows(t, p)
	t.item("Server Started at", dateTimeW(p.Int64("StartTime"), "(None)"))
	t.item("Current Time", seTime(p.Int64("CurrentTime")).Format("2006-01-02 15:04:05.000"))
	t.item("64 bit High-Precision Logical System Clock", dec(p.Int64("CurrentTick")))
	s.show(t)
	return nil
}

func listenerList(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumListener", pack.New())
	if err != nil {
		return err
	}
	t := newList(col("Port Number"), col("Status"))
	for i := range count(p, "Ports") {
		status := "Stopped"
		switch {
		case u64At(p, "Errors", i) != 0:
			status = "Error"
		case u64At(p, "Enables", i) != 0:
			status = "Listening"
		}
		t.add("TCP "+dec(u64At(p, "Ports", i)), status)
	}
	s.show(t)
	return nil
}

func listener(method string, enable bool) func(*Session, cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		port, err := parseUint("The port number", a[""], 1, 65535)
		if err != nil {
			return err
		}
		in := pack.New()
		in.AddInt("Port", port)
		in.AddBool("Enable", enable)
		_, err = s.call(method, in)
		return err
	}
}

func serverPasswordSet(s *Session, a cmdArgs) error {
	pw, err := s.password(a, "")
	if err != nil {
		return err
	}
	h := sha0.AdminHash(pw)
	in := pack.New()
	in.AddData("HashedPassword", h[:])
	in.AddStr("PlainTextPassword", "")
	_, err = s.call("SetServerPassword", in)
	return err
}

func serverCipherGet(s *Session, _ cmdArgs) error {
	cur, err := s.call("GetServerCipher", pack.New())
	if err != nil {
		return err
	}
	list, err := s.call("GetServerCipherList", pack.New())
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Encrypted Algorithm Currently Used by VPN Server: \n %s\n\nList of Usable Encrypted Algorithm Names: \n", cur.Str("String"))
	for _, c := range strings.Split(list.Str("String"), ";") {
		if c != "" {
			fmt.Fprintf(s.out, " %s\n", c)
		}
	}
	return nil
}

func serverCipherSet(s *Session, a cmdArgs) error {
	in := pack.New()
	in.AddStr("String", a[""])
	_, err := s.call("SetServerCipher", in)
	return err
}

func hubCreate(s *Session, a cmdArgs) error {
	info, err := s.call("GetServerInfo", pack.New())
	if err != nil {
		return err
	}
	var hubType uint32
	if info.Int("ServerType") == 1 {
		hubType = 2 // a cluster controller creates dynamic hubs
	}
	return createHub(s, a, hubType)
}

// createHub is HubCreate with the hub type given.
func createHub(s *Session, a cmdArgs, hubType uint32) error {
	pw, err := s.password(a, "PASSWORD")
	if err != nil {
		return err
	}
	hashed := sha0.AdminHash(pw)
	secure := sha0.HashPassword("administrator", pw)
	in := pack.New()
	in.AddStr("HubName", a[""])
	in.AddData("HashedPassword", hashed[:])
	in.AddData("SecurePassword", secure[:])
	in.AddBool("Online", true)
	in.AddInt("HubType", hubType)
	in.AddInt("MaxSession", 0)
	in.AddBool("NoEnum", false)
	in.AddStr("AdminPasswordPlainText", "")
	_, err = s.call("CreateHub", in)
	return err
}

func hubDelete(s *Session, a cmdArgs) error {
	in := pack.New()
	in.AddStr("HubName", a[""])
	if _, err := s.call("DeleteHub", in); err != nil {
		return err
	}
	if strings.EqualFold(s.hub, a[""]) {
		s.hub = ""
	}
	return nil
}

func hubTypeName(t uint64) string {
	switch t {
	case 1:
		return "Static Hub"
	case 2:
		return "Dynamic Hub"
	}
	return "Standalone"
}

func onlineName(b bool) string {
	if b {
		return "Online"
	}
	return "Offline"
}

func hubList(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumHub", pack.New())
	if err != nil {
		return err
	}
	t := newList(col("Virtual Hub Name"), col("Status"), col("Type"), rcol("Users"), rcol("Groups"), rcol("Sessions"),
		rcol("MAC Tables"), rcol("IP Tables"), rcol("Num Logins"), col("Last Login"), col("Last Communication"),
		rcol("Transfer Bytes"), rcol("Transfer Packets"))
	for i := range count(p, "HubName") {
		bytes, packets := transfer(p, i)
		t.add(strAt(p, "HubName", i), onlineName(u64At(p, "Online", i) != 0), hubTypeName(u64At(p, "HubType", i)),
			dec(u64At(p, "NumUsers", i)), dec(u64At(p, "NumGroups", i)), dec(u64At(p, "NumSessions", i)),
			dec(u64At(p, "NumMacTables", i)), dec(u64At(p, "NumIpTables", i)), dec(u64At(p, "NumLogin", i)),
			dateTime(u64At(p, "LastLoginTime", i), "(None)"), dateTime(u64At(p, "LastCommTime", i), "(None)"),
			num(bytes), num(packets))
	}
	s.show(t)
	return nil
}

func hubSelect(s *Session, a cmdArgs) error {
	if a[""] == "" {
		s.hub = ""
		fmt.Fprintln(s.out, "The Virtual Hub selection has been unselected.")
		return nil
	}
	return s.selectHub(a[""])
}

func caps(s *Session, _ cmdArgs) error {
	p, err := s.call("GetCaps", pack.New())
	if err != nil {
		return err
	}
	t := newStandard()
	add := func(name string, v uint64) {
		caption := capsText[name]
		if caption == "" {
			caption = name
		}
		value := dec(v)
		if strings.HasPrefix(name, "b_") {
			value = yesNo(v != 0)
		}
		t.item(caption, value)
	}
	if n := count(p, "CapsName"); n > 0 {
		for i := range n {
			add(strAt(p, "CapsName", i), u64At(p, "CapsValue", i))
		}
	} else {
		for _, e := range p.Elements() {
			if strings.HasPrefix(e.Name, "caps_") && e.Type == pack.TypeInt {
				add(e.Name[len("caps_"):], e.Ints[0])
			}
		}
	}
	s.show(t)
	return nil
}

func flush(s *Session, _ cmdArgs) error {
	fmt.Fprintln(s.out, "Writing volatile data from memory to the disk...")
	p, err := s.call("Flush", pack.New())
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Saving completed. The file size is %s bytes.\n", num(uint64(p.Int("IntValue"))))
	return nil
}

func configGet(s *Session, a cmdArgs) error {
	in := pack.New()
	in.AddStr("FileName", "")
	p, err := s.call("GetConfig", in)
	if err != nil {
		return err
	}
	data := p.Data("FileData")
	if path := a[""]; path != "" {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return usageError(fmt.Sprintf("Cannot write %s: %v", path, err))
		}
		return nil
	}
	s.out.Write(data)
	fmt.Fprintln(s.out)
	return nil
}

// ---- hub commands

func hubOnline(on bool) func(*Session, cmdArgs) error {
	return func(s *Session, _ cmdArgs) error {
		in := s.hubPack()
		in.AddBool("Online", on)
		_, err := s.call("SetHubOnline", in)
		return err
	}
}

func hubCall(method string) func(*Session, cmdArgs) error {
	return func(s *Session, _ cmdArgs) error {
		_, err := s.call(method, s.hubPack())
		return err
	}
}

func nameCall(method string) func(*Session, cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		in := s.hubPack()
		in.AddStr("Name", a[""])
		_, err := s.call(method, in)
		return err
	}
}

func tableDelete(method string) func(*Session, cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		id, err := parseUint("The ID", a[""], 1, 1<<32-1)
		if err != nil {
			return err
		}
		in := s.hubPack()
		in.AddInt("Key", id)
		_, err = s.call(method, in)
		return err
	}
}

func statusGet(s *Session, _ cmdArgs) error {
	p, err := s.call("GetHubStatus", s.hubPack())
	if err != nil {
		return err
	}
	t := newStandard()
	t.item("Virtual Hub Name", p.Str("HubName"))
	t.item("Status", onlineName(p.Bool("Online")))
	t.item("Type", hubTypeName(uint64(p.Int("HubType"))))
	if p.Int("HubType") == 0 {
		t.item("SecureNAT", map[bool]string{true: "Enabled", false: "Disabled"}[p.Bool("SecureNATEnabled")])
	}
	for _, r := range []struct{ caption, key string }{
		{"Sessions", "NumSessions"}, {"Access Lists", "NumAccessLists"}, {"Users", "NumUsers"},
		{"Groups", "NumGroups"}, {"MAC Tables", "NumMacTables"}, {"IP Tables", "NumIpTables"}, {"Num Logins", "NumLogin"},
	} {
		t.item(r.caption, dec(uint64(p.Int(r.key))))
	}
	t.item("Last Login", dateTime(p.Int64("LastLoginTime"), "(None)"))
	t.item("Last Communication", dateTime(p.Int64("LastCommTime"), "(None)"))
	t.item("Created at", dateTime(p.Int64("CreatedTime"), "(None)"))
	trafficRows(t, p)
	s.show(t)
	return nil
}

func setHubPassword(s *Session, a cmdArgs) error {
	pw, err := s.password(a, "")
	if err != nil {
		return err
	}
	p, err := s.call("GetHub", s.hubPack())
	if err != nil {
		return err
	}
	hashed := sha0.AdminHash(pw)
	secure := sha0.HashPassword("administrator", pw)
	p.AddData("HashedPassword", hashed[:])
	p.AddData("SecurePassword", secure[:])
	_, err = s.call("SetHub", p)
	return err
}

func userCreate(s *Session, a cmdArgs) error {
	in := s.hubPack()
	in.AddStr("Name", a[""])
	in.AddStr("GroupName", noneOr(a["GROUP"]))
	in.AddUniStr("Realname", noneOr(a["REALNAME"]))
	in.AddUniStr("Note", noneOr(a["NOTE"]))
	if a[""] == "*" {
		in.AddInt("AuthType", 4) // the RADIUS / NT domain catch-all user
	} else {
		// Password authentication with random hashes: nobody can log in
		// until UserPasswordSet, as with vpncmd.
		key, nt := make([]byte, 20), make([]byte, 16)
		rand.Read(key)
		rand.Read(nt)
		in.AddInt("AuthType", 1)
		in.AddData("HashedKey", key)
		in.AddData("NtLmSecureHash", nt)
	}
	_, err := s.call("CreateUser", in)
	return err
}

var authTypeNames = []string{"Anonymous Authentication", "Password Authentication", "Individual Certificate Authentication",
	"Signed Certificate Authentication", "RADIUS Authentication", "NT Domain Authentication"}

func authTypeName(t uint64) string {
	if t < uint64(len(authTypeNames)) {
		return authTypeNames[t]
	}
	return dec(t)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func userList(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumUser", s.hubPack())
	if err != nil {
		return err
	}
	t := newList(col("User Name"), col("Full Name"), col("Group Name"), col("Description"), col("Auth Method"),
		rcol("Num Logins"), col("Last Login"), col("Expiration Date"), rcol("Transfer Bytes"), rcol("Transfer Packets"))
	for i := range count(p, "Name") {
		bytes, packets := transfer(p, i)
		t.add(strAt(p, "Name", i), strAt(p, "Realname", i), dash(strAt(p, "GroupName", i)), strAt(p, "Note", i),
			authTypeName(u64At(p, "AuthType", i)), dec(u64At(p, "NumLogin", i)),
			dateTime(u64At(p, "LastLoginTime", i), "(None)"), dateTime(u64At(p, "Expires", i), "No Expiration"),
			num(bytes), num(packets))
	}
	s.show(t)
	return nil
}

func userGet(s *Session, a cmdArgs) error {
	in := s.hubPack()
	in.AddStr("Name", a[""])
	p, err := s.call("GetUser", in)
	if err != nil {
		return err
	}
	t := newStandard()
	t.item("User Name", p.Str("Name"))
	t.item("Full Name", p.UniStr("Realname"))
	t.item("Description", p.UniStr("Note"))
	if g := p.Str("GroupName"); g != "" {
		t.item("Group Name", g)
	}
	t.item("Expiration Date", dateTimeW(p.Int64("ExpireTime"), "(None)"))
	t.item("Auth Type", authTypeName(uint64(p.Int("AuthType"))))
	t.add(separator, separator)
	t.item("Created on", dateTimeW(p.Int64("CreatedTime"), "(None)"))
	t.item("Updated on", dateTimeW(p.Int64("UpdatedTime"), "(None)"))
	trafficRows(t, p)
	t.item("Number of Logins", dec(uint64(p.Int("NumLogin"))))
	s.show(t)
	return nil
}

func userPasswordSet(s *Session, a cmdArgs) error {
	pw, err := s.password(a, "PASSWORD")
	if err != nil {
		return err
	}
	in := s.hubPack()
	in.AddStr("Name", a[""])
	p, err := s.call("GetUser", in)
	if err != nil {
		return err
	}
	key := sha0.HashPassword(p.Str("Name"), pw)
	nt := sha0.NTPasswordHash(pw)
	p.AddStr("HubName", s.hub)
	p.AddInt("AuthType", 1)
	p.AddData("HashedKey", key[:])
	p.AddData("NtLmSecureHash", nt[:])
	_, err = s.call("SetUser", p)
	return err
}

func groupCreate(s *Session, a cmdArgs) error {
	in := s.hubPack()
	in.AddStr("Name", a[""])
	in.AddUniStr("Realname", noneOr(a["REALNAME"]))
	in.AddUniStr("Note", noneOr(a["NOTE"]))
	_, err := s.call("CreateGroup", in)
	return err
}

func groupList(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumGroup", s.hubPack())
	if err != nil {
		return err
	}
	t := newList(col("Group Name"), col("Full Name"), col("Description"), rcol("Num Users"))
	for i := range count(p, "Name") {
		t.add(strAt(p, "Name", i), strAt(p, "Realname", i), strAt(p, "Note", i), dec(u64At(p, "NumUsers", i)))
	}
	s.show(t)
	return nil
}

func sessionList(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumSession", s.hubPack())
	if err != nil {
		return err
	}
	t := newList(col("Session Name"), col("VLAN ID"), col("Location"), col("User Name"), col("Source Host Name"),
		col("TCP Connections"), rcol("Transfer Bytes"), rcol("Transfer Packets"))
	for i := range count(p, "Name") {
		where, host, tcp := "Local Session", strAt(p, "Hostname", i),
			dec(u64At(p, "CurrentNumTcp", i))+" / "+dec(u64At(p, "MaxNumTcp", i))
		switch {
		case u64At(p, "RemoteSession", i) != 0:
			where = "On '" + strAt(p, "RemoteHostname", i) + "'"
		case u64At(p, "LinkMode", i) != 0:
			where, host, tcp = "Cascade Connection", "Virtual Host", "None"
		case u64At(p, "SecureNATMode", i) != 0:
			where, host, tcp = "SecureNAT Session", "Virtual Host", "None"
		case u64At(p, "BridgeMode", i) != 0:
			where, host, tcp = "Local Bridge Session", "Ethernet Bridge", "None"
		case u64At(p, "Layer3Mode", i) != 0:
			where, host, tcp = "Local Bridge Session", "Virtual Layer 3 Switch", "None"
		}
		vlan := "-"
		if v := u64At(p, "VLanId", i); v != 0 {
			vlan = dec(v)
		}
		t.add(strAt(p, "Name", i), vlan, where, strAt(p, "Username", i), host, tcp,
			num(u64At(p, "PacketSize", i)), num(u64At(p, "PacketNum", i)))
	}
	s.show(t)
	return nil
}

func location(p *pack.Pack, i int) string {
	if u64At(p, "RemoteItem", i) != 0 {
		return "On '" + strAt(p, "RemoteHostname", i) + "'"
	}
	return "On This Server"
}

func macTable(s *Session, a cmdArgs) error {
	p, err := s.call("EnumMacTable", s.hubPack())
	if err != nil {
		return err
	}
	t := newList(rcol("ID"), col("Session Name"), col("VLAN ID"), col("MAC Address"), col("Created at"), col("Updated at"), col("Location"))
	for i := range count(p, "SessionName") {
		if a[""] != "" && !strings.EqualFold(a[""], strAt(p, "SessionName", i)) {
			continue
		}
		vlan := "-"
		if v := u64At(p, "VlanId", i); v != 0 {
			vlan = dec(v)
		}
		t.add(dec(u64At(p, "Key", i)), strAt(p, "SessionName", i), vlan, mac(dataAt(p, "MacAddress", i)),
			dateTime(u64At(p, "CreatedTime", i), "(None)"), dateTime(u64At(p, "UpdatedTime", i), "(None)"), location(p, i))
	}
	s.show(t)
	return nil
}

func ipTable(s *Session, a cmdArgs) error {
	p, err := s.call("EnumIpTable", s.hubPack())
	if err != nil {
		return err
	}
	t := newList(rcol("ID"), col("Session Name"), col("IP Address"), col("Created at"), col("Updated at"), col("Location"))
	for i := range count(p, "SessionName") {
		if a[""] != "" && !strings.EqualFold(a[""], strAt(p, "SessionName", i)) {
			continue
		}
		ip := ipAt(p, "IpAddress", i).String()
		if u64At(p, "DhcpAllocated", i) != 0 {
			ip += " (DHCP)"
		}
		t.add(dec(u64At(p, "Key", i)), strAt(p, "SessionName", i), ip,
			dateTime(u64At(p, "CreatedTime", i), "(None)"), dateTime(u64At(p, "UpdatedTime", i), "(None)"), location(p, i))
	}
	s.show(t)
	return nil
}

func secureNatStatusGet(s *Session, _ cmdArgs) error {
	p, err := s.call("GetSecureNATStatus", s.hubPack())
	if err != nil {
		return err
	}
	t := newStandard()
	t.item("Virtual Hub Name", s.hub)
	t.item("NAT TCP/IP Sessions", dec(uint64(p.Int("NumTcpSessions")))+" Session")
	t.item("NAT UDP/IP Sessions", dec(uint64(p.Int("NumUdpSessions")))+" Session")
	t.item("NAT ICMP Sessions", dec(uint64(p.Int("NumIcmpSessions")))+" Session")
	t.item("NAT DNS Sessions", dec(uint64(p.Int("NumDnsSessions")))+" Session")
	t.item("Allocated DHCP Clients", dec(uint64(p.Int("NumDhcpClients")))+" Client")
	t.item("Kernel-mode NAT is Active", yesNo(p.Bool("IsKernelMode")))
	t.item("Raw IP mode NAT is Active", yesNo(p.Bool("IsRawIpMode")))
	s.show(t)
	return nil
}

// natOptions reads the selected hub's SecureNAT options (VH_OPTION).
func (s *Session) natOptions() (*pack.Pack, error) {
	in := pack.New()
	in.AddStr("RpcHubName", s.hub)
	return s.call("GetSecureNATOption", in)
}

// setNATOptions writes back the full option set, as vpncmd does.
func (s *Session) setNATOptions(p *pack.Pack) error {
	p.AddStr("RpcHubName", s.hub)
	_, err := s.call("SetSecureNATOption", p)
	return err
}

func secureNatHostGet(s *Session, _ cmdArgs) error {
	p, err := s.natOptions()
	if err != nil {
		return err
	}
	t := newStandard()
	t.item("MAC Address", mac(p.Data("MacAddress")))
	t.item("IP Address", p.IP("Ip").String())
	t.item("Subnet Mask", p.IP("Mask").String())
	s.show(t)
	return nil
}

// setIP stores /PARAM as an IP field unless it is absent (or "none" when
// noneKeeps): then the current value stays.
func setIP(p *pack.Pack, field, what, v string, given, noneKeeps bool) error {
	if !given {
		return nil
	}
	if strings.EqualFold(v, "none") || v == "" {
		if !noneKeeps {
			p.AddIP(field, netip.IPv4Unspecified())
		}
		return nil
	}
	ip, err := netip.ParseAddr(v)
	if err != nil || !ip.Is4() {
		return usageError(fmt.Sprintf("%s %q is not an IPv4 address.", what, v))
	}
	p.AddIP(field, ip)
	return nil
}

func secureNatHostSet(s *Session, a cmdArgs) error {
	p, err := s.natOptions()
	if err != nil {
		return err
	}
	if v := a["MAC"]; a.has("MAC") && noneOr(v) != "" {
		m, ok := parseMAC(v)
		if !ok {
			return usageError(fmt.Sprintf("The MAC address %q is invalid (example: 00-AC-01-23-45-67).", v))
		}
		p.AddData("MacAddress", m)
	}
	if err := setIP(p, "Ip", "The IP address", a["IP"], a.has("IP"), true); err != nil {
		return err
	}
	if err := setIP(p, "Mask", "The subnet mask", a["MASK"], a.has("MASK"), true); err != nil {
		return err
	}
	return s.setNATOptions(p)
}

func natGet(s *Session, _ cmdArgs) error {
	p, err := s.natOptions()
	if err != nil {
		return err
	}
	t := newStandard()
	t.item("Use Virtual NAT Function", yesNo(p.Bool("UseNat")))
	t.item("MTU Value", dec(uint64(p.Int("Mtu"))))
	t.item("TCP Session Timeout (Seconds)", dec(uint64(p.Int("NatTcpTimeout"))))
	t.item("UDP Session Timeout (Seconds)", dec(uint64(p.Int("NatUdpTimeout"))))
	t.item("Save NAT and DHCP Operation Log", yesNo(p.Bool("SaveLog")))
	s.show(t)
	return nil
}

func natSet(s *Session, a cmdArgs) error {
	p, err := s.natOptions()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		param, field, what string
		lo, hi             uint64
	}{
		{"MTU", "Mtu", "The MTU", 64, 1500},
		{"TCPTIMEOUT", "NatTcpTimeout", "The TCP session timeout", 1, 1<<31 - 1},
		{"UDPTIMEOUT", "NatUdpTimeout", "The UDP session timeout", 1, 1<<31 - 1},
	} {
		if v, ok := a[f.param]; ok {
			n, err := parseUint(f.what, v, f.lo, f.hi)
			if err != nil {
				return err
			}
			p.AddInt(f.field, n)
		}
	}
	if v, ok := a["LOG"]; ok {
		b, err := parseYesNo("/LOG", v)
		if err != nil {
			return err
		}
		p.AddBool("SaveLog", b)
	}
	return s.setNATOptions(p)
}

func natOption(field string, on bool) func(*Session, cmdArgs) error {
	return func(s *Session, _ cmdArgs) error {
		p, err := s.natOptions()
		if err != nil {
			return err
		}
		p.AddBool(field, on)
		return s.setNATOptions(p)
	}
}

var natProtocols = []string{"TCP/IP", "UDP/IP", "DNS", "ICMP"}

func natTable(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumNAT", s.hubPack())
	if err != nil {
		return err
	}
	t := newList(rcol("ID"), col("Protocol"), col("Source Host"), rcol("Source Port"), col("Destination Host"),
		rcol("Destination Port"), col("Session Created On"), col("Last Communication Time"), rcol("Receive / Send Size"),
		col("TCP Connection Status"))
	for i := range count(p, "Id") {
		proto := u64At(p, "Protocol", i)
		pname, status := dec(proto), "-"
		if proto < uint64(len(natProtocols)) {
			pname = natProtocols[proto]
		}
		if proto == 0 {
			status = []string{"Connecting", "Sending RST", "Connected", "Established", "Waiting for Disconnect"}[min(u64At(p, "TcpStatus", i), 4)]
		}
		t.add(dec(u64At(p, "Id", i)), pname, strAt(p, "SrcHost", i), dec(u64At(p, "SrcPort", i)),
			strAt(p, "DestHost", i), dec(u64At(p, "DestPort", i)),
			dateTime(u64At(p, "CreatedTime", i), "(None)"), dateTime(u64At(p, "LastCommTime", i), "(None)"),
			num(u64At(p, "RecvSize", i))+" / "+num(u64At(p, "SendSize", i))+" bytes", status)
	}
	s.show(t)
	return nil
}

func dhcpGet(s *Session, _ cmdArgs) error {
	p, err := s.natOptions()
	if err != nil {
		return err
	}
	t := newStandard()
	t.item("Use Virtual DHCP Function", yesNo(p.Bool("UseDhcp")))
	t.item("Start Distribution Address Band", p.IP("DhcpLeaseIPStart").String())
	t.item("End Distribution Address Band", p.IP("DhcpLeaseIPEnd").String())
	t.item("Subnet Mask", p.IP("DhcpSubnetMask").String())
	t.item("Lease Limit (Seconds)", dec(uint64(p.Int("DhcpExpireTimeSpan"))))
	t.item("Default Gateway Address", ipOrNone(p.IP("DhcpGatewayAddress")))
	t.item("DNS Server Address 1", ipOrNone(p.IP("DhcpDnsServerAddress")))
	t.item("DNS Server Address 2", ipOrNone(p.IP("DhcpDnsServerAddress2")))
	t.item("Domain Name", p.Str("DhcpDomainName"))
	t.item("Save NAT and DHCP Operation Log", yesNo(p.Bool("SaveLog")))
	t.item("Static Routing Table to Push", p.Str("DhcpPushRoutes"))
	s.show(t)
	return nil
}

func dhcpSet(s *Session, a cmdArgs) error {
	p, err := s.natOptions()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		param, field, what string
		noneKeeps          bool
	}{
		{"START", "DhcpLeaseIPStart", "The start address", true},
		{"END", "DhcpLeaseIPEnd", "The end address", true},
		{"MASK", "DhcpSubnetMask", "The subnet mask", true},
		{"GW", "DhcpGatewayAddress", "The default gateway", false},
		{"DNS", "DhcpDnsServerAddress", "The DNS server", false},
		{"DNS2", "DhcpDnsServerAddress2", "The second DNS server", false},
	} {
		if err := setIP(p, f.field, f.what, a[f.param], a.has(f.param), f.noneKeeps); err != nil {
			return err
		}
	}
	if v, ok := a["EXPIRE"]; ok {
		n, err := parseUint("The lease limit", v, 15, 1<<31-1)
		if err != nil {
			return err
		}
		p.AddInt("DhcpExpireTimeSpan", n)
	}
	if v, ok := a["DOMAIN"]; ok {
		p.AddStr("DhcpDomainName", noneOr(v))
	}
	if v, ok := a["LOG"]; ok {
		b, err := parseYesNo("/LOG", v)
		if err != nil {
			return err
		}
		p.AddBool("SaveLog", b)
	}
	if v, ok := a["PUSHROUTE"]; ok {
		p.AddStr("DhcpPushRoutes", noneOr(v))
	}
	p.AddBool("ApplyDhcpPushRoutes", true)
	return s.setNATOptions(p)
}

func dhcpTable(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumDHCP", s.hubPack())
	if err != nil {
		return err
	}
	t := newList(rcol("ID"), col("Leased at"), col("Expires at"), col("MAC Address"), col("Allocated IP"), col("Client Host Name"))
	for i := range count(p, "Id") {
		t.add(dec(u64At(p, "Id", i)), dateTime(u64At(p, "LeasedTime", i), "(None)"), dateTime(u64At(p, "ExpireTime", i), "(None)"),
			mac(dataAt(p, "MacAddress", i)), ipAt(p, "IpAddress", i).String(), strAt(p, "Hostname", i))
	}
	s.show(t)
	return nil
}
