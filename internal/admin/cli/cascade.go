package cli

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Cascade connection and local bridge commands, with vpncmd's names,
// parameters, prompts and output (texts from its English string table).

// cascadeCommands are registered with the others in commands.go.
func cascadeCommands() []*command {
	name := arg("name", "Cascade Connection Name:")
	req := func(n, prompt string) param { return param{name: n, prompt: prompt, required: true} }
	server := req("SERVER", "Destination VPN Server Host Name and Port Number:")
	hub := req("HUB", "Destination Virtual Hub Name:")
	user := req("USERNAME", "Connecting User Name:")
	return []*command{
		{name: "CascadeList", needHub: true, run: cascadeList},
		{name: "CascadeCreate", needHub: true, params: []param{name, server, hub, user}, run: cascadeCreate},
		{name: "CascadeSet", needHub: true, params: []param{name, server, hub}, run: cascadeSet},
		{name: "CascadeGet", needHub: true, params: []param{name}, run: cascadeGet},
		{name: "CascadeDelete", needHub: true, params: []param{name}, run: linkCall("DeleteLink")},
		{name: "CascadeUsernameSet", needHub: true, params: []param{name, user}, run: cascadeUsernameSet},
		{name: "CascadeAnonymousSet", needHub: true, params: []param{name}, run: cascadeEdit(func(p *pack.Pack) { p.AddInt("AuthType", 0) })},
		{name: "CascadePasswordSet", needHub: true, params: []param{name, opt("PASSWORD"), req("TYPE", "Specify standard or radius:")}, run: cascadePasswordSet},
		{name: "CascadeEncryptEnable", needHub: true, params: []param{name}, run: cascadeEdit(func(p *pack.Pack) { p.AddBool("UseEncrypt", true) })},
		{name: "CascadeEncryptDisable", needHub: true, params: []param{name}, run: cascadeEdit(func(p *pack.Pack) { p.AddBool("UseEncrypt", false) })},
		{name: "CascadeCompressEnable", needHub: true, params: []param{name}, run: cascadeEdit(func(p *pack.Pack) { p.AddBool("UseCompress", true) })},
		{name: "CascadeCompressDisable", needHub: true, params: []param{name}, run: cascadeEdit(func(p *pack.Pack) { p.AddBool("UseCompress", false) })},
		{name: "CascadeDetailSet", needHub: true, params: []param{name,
			req("MAXTCP", "Number of TCP Connections to Use in VPN Communication:"),
			req("INTERVAL", "Interval between Establishing Each TCP Connection:"),
			req("TTL", "Connection Life of Each TCP Connection (0 for no keep-alive):"),
			req("HALF", "Enable half-duplex mode (yes/no):"),
			req("NOQOS", "Disable QoS Control Function (yes/no):")}, run: cascadeDetailSet},
		{name: "CascadeStatusGet", needHub: true, params: []param{name}, run: cascadeStatusGet},
		{name: "CascadeRename", needHub: true, params: []param{arg("name", "Current Name:"), req("NEW", "New Name:")}, run: cascadeRename},
		{name: "CascadeOnline", needHub: true, params: []param{name}, run: linkCall("SetLinkOnline")},
		{name: "CascadeOffline", needHub: true, params: []param{name}, run: linkCall("SetLinkOffline")},

		{name: "BridgeDeviceList", run: bridgeDeviceList},
		{name: "BridgeList", run: bridgeList},
		{name: "BridgeCreate", params: []param{arg("hubname", "Virtual Hub Name to Create Bridge:"),
			req("DEVICE", "Bridge Destination Device Name:"), opt("TAP")}, run: bridgeCreate},
		{name: "BridgeDelete", params: []param{arg("hubname", "Virtual Hub Name to Delete Bridge:"),
			req("DEVICE", "Bridge Device Name to Delete:")}, run: bridgeDelete},
	}
}

func init() {
	for k, v := range map[string]string{
		"CascadeList":            "Get List of Cascade Connections",
		"CascadeCreate":          "Create New Cascade Connection",
		"CascadeSet":             "Set the Destination for Cascade Connection",
		"CascadeGet":             "Get the Cascade Connection Setting",
		"CascadeDelete":          "Delete Cascade Connection Setting",
		"CascadeUsernameSet":     "Set User Name to Use Connection of Cascade Connection",
		"CascadeAnonymousSet":    "Set User Authentication Type of Cascade Connection to Anonymous Authentication",
		"CascadePasswordSet":     "Set User Authentication Type of Cascade Connection to Password Authentication",
		"CascadeEncryptEnable":   "Enable Encryption when Communicating by Cascade Connection",
		"CascadeEncryptDisable":  "Disable Encryption when Communicating by Cascade Connection",
		"CascadeCompressEnable":  "Enable Data Compression when Communicating by Cascade Connection",
		"CascadeCompressDisable": "Disable Data Compression when Communicating by Cascade Connection",
		"CascadeDetailSet":       "Set Advanced Settings for Cascade Connection",
		"CascadeStatusGet":       "Get Current Cascade Connection Status",
		"CascadeRename":          "Change Name of Cascade Connection",
		"CascadeOnline":          "Switch Cascade Connection to Online Status",
		"CascadeOffline":         "Switch Cascade Connection to Offline Status",
		"BridgeDeviceList":       "Get List of Network Adapters Usable as Local Bridge",
		"BridgeList":             "Get List of Local Bridge Connection",
		"BridgeCreate":           "Create Local Bridge Connection",
		"BridgeDelete":           "Delete Local Bridge Connection",
	} {
		commandDesc[k] = v
	}
}

// showGrid prints t side by side whatever its width (vpncmd's CtFree).
func (s *Session) showGrid(t *table) {
	if s.csv {
		t.printCSV(s.out)
		return
	}
	printGrid(s.out, t.cols, t.rows)
}

// showRecords prints t as one Item|Value block per record (vpncmd's
// CtFreeEx with the standard view), or as CSV.
func (s *Session) showRecords(t *table) {
	if s.csv {
		t.printCSV(s.out)
		return
	}
	t.printVertical(s.out)
}

// parseHostPort reads vpncmd's /SERVER:host:port (the port is required).
func parseHostPort(v string) (string, uint32, error) {
	host, port, err := net.SplitHostPort(strings.TrimSpace(v))
	n, perr := strconv.ParseUint(port, 10, 16)
	if err != nil || host == "" || perr != nil || n == 0 {
		return "", 0, usageError("The host name and port number specification is invalid. \n" +
			"Please specify using the format of host name:port number, or IP address:port number.")
	}
	return host, uint32(n), nil
}

// linkPack starts an RPC_LINK request for cascade name on the selected hub.
func (s *Session) linkPack(name string) *pack.Pack {
	p := s.hubPack()
	p.AddUniStr("AccountName", name)
	return p
}

func linkCall(method string) func(*Session, cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		_, err := s.call(method, s.linkPack(a[""]))
		return err
	}
}

// getLink reads a cascade's full settings (GetLink), which the setters
// change and write back whole, as vpncmd does.
func (s *Session) getLink(name string) (*pack.Pack, error) {
	in := pack.New()
	in.AddStr("HubName_Ex", s.hub)
	in.AddUniStr("AccountName", name)
	return s.call("GetLink", in)
}

func (s *Session) setLink(p *pack.Pack) error {
	p.AddStr("HubName_Ex", s.hub)
	_, err := s.call("SetLink", p)
	return err
}

// cascadeEdit is GetLink, change, SetLink.
func cascadeEdit(change func(p *pack.Pack)) func(*Session, cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		p, err := s.getLink(a[""])
		if err != nil {
			return err
		}
		change(p)
		return s.setLink(p)
	}
}

func cascadeList(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumLink", s.hubPack())
	if err != nil {
		return err
	}
	t := newList(col("Setting Name"), col("Status"), col("Established at"), col("Destination VPN Server"), col("Virtual Hub"))
	for i := range count(p, "AccountName") {
		status := "Offline (Stopped)"
		switch e := vpnerr.Error(u64At(p, "LastError", i)); {
		case u64At(p, "Online", i) == 0:
		case u64At(p, "Connected", i) != 0:
			status = "Online (Established)"
		case e != 0:
			status = fmt.Sprintf("Error %d: %s", uint32(e), e.Message())
		default:
			status = "Connecting"
		}
		remoteHub := strAt(p, "ConnectedHubName", i)
		if remoteHub == "" {
			remoteHub = strAt(p, "TargetHubName", i)
		}
		t.add(strAt(p, "AccountName", i), status, dateTimeW(u64At(p, "ConnectedTime", i), "(None)"),
			strAt(p, "Hostname", i), remoteHub)
	}
	s.showRecords(t)
	return nil
}

func cascadeCreate(s *Session, a cmdArgs) error {
	host, port, err := parseHostPort(a["SERVER"])
	if err != nil {
		return err
	}
	// What vpncmd sends: an offline cascade with 8 encrypted connections,
	// anonymous authentication and the default policy.
	p := pack.New()
	p.AddStr("HubName_Ex", s.hub)
	p.AddBool("Online", false)
	p.AddUniStr("AccountName", a[""])
	p.AddStr("Hostname", host)
	p.AddInt("Port", port)
	p.AddStr("HubName", a["HUB"])
	p.AddInt("NumRetry", 0xFFFFFFFF)
	p.AddInt("RetryInterval", 15)
	p.AddInt("MaxConnection", 8)
	p.AddBool("UseEncrypt", true)
	p.AddInt("AdditionalConnectionInterval", 1)
	p.AddBool("RequireBridgeRoutingMode", true)
	p.AddInt("AuthType", 0)
	p.AddStr("Username", a["USERNAME"])
	for _, it := range policyItems {
		p.AddInt("policy:"+it.name, it.def)
	}
	p.AddBool("policy:Ver3", true)
	_, err = s.call("CreateLink", p)
	return err
}

func cascadeSet(s *Session, a cmdArgs) error {
	host, port, err := parseHostPort(a["SERVER"])
	if err != nil {
		return err
	}
	p, err := s.getLink(a[""])
	if err != nil {
		return err
	}
	p.AddStr("Hostname", host)
	p.AddInt("Port", port)
	p.AddStr("HubName", a["HUB"])
	return s.setLink(p)
}

func enableDisable(b bool) string {
	if b {
		return "Enable"
	}
	return "Disable"
}

var clientAuthTypeNames = []string{"Anonymous Authentication", "Standard Password Authentication",
	"RADIUS or NT Domain Authentication", "Client Certificate Authentication", "Smart Card Authentication",
	"OpenSSL Engine Authentication"}

func cascadeGet(s *Session, a cmdArgs) error {
	p, err := s.getLink(a[""])
	if err != nil {
		return err
	}
	t := newStandard()
	t.item("VPN Connection Setting Name", p.UniStr("AccountName"))
	t.item("Destination VPN Server Host Name", p.Str("Hostname"))
	t.item("Destination VPN Server Port Number", dec(uint64(p.Int("Port"))))
	t.item("Destination VPN Server Virtual Hub Name", p.Str("HubName"))
	proxy := p.Int("ProxyType")
	proxyName := "Unknown Protocol"
	if proxy < 3 {
		proxyName = []string{"Direct TCP/IP Connection", "Connection via HTTP Proxy", "Connection via SOCKS4 Proxy"}[proxy]
	}
	t.item("Proxy Server Type", proxyName)
	if proxy != 0 {
		t.item("Proxy Server Host Name", p.Str("ProxyName"))
		t.item("Proxy Server Port Number", dec(uint64(p.Int("ProxyPort"))))
		t.item("Proxy Server User Name", p.Str("ProxyUsername"))
	}
	t.item("Verify Server Certificate", enableDisable(p.Bool("CheckServerCert")))
	if p.Bool("CheckServerCert") {
		t.item("Trust System Certificate Store", enableDisable(p.Bool("AddDefaultCA")))
	}
	t.item("Device Name Used for Connection", p.Str("DeviceName"))
	auth := "PW_TYPE_" + dec(uint64(p.Int("AuthType")))
	if n := p.Int("AuthType"); int(n) < len(clientAuthTypeNames) {
		auth = clientAuthTypeNames[n]
	}
	t.item("Authentication Type", auth)
	t.item("User Name", p.Str("Username"))
	t.item("Number of TCP Connections to Use in VPN Communication", dec(uint64(p.Int("MaxConnection"))))
	t.item("Interval between Establishing Each TCP Connection", dec(uint64(p.Int("AdditionalConnectionInterval"))))
	ttl := "Infinite"
	if v := p.Int("ConnectionDisconnectSpan"); v != 0 {
		ttl = dec(uint64(v))
	}
	t.item("Connection Life of Each TCP Connection", ttl)
	t.item("Use Half Duplex Mode", enableDisable(p.Bool("HalfConnection")))
	t.item("Encryption by SSL", enableDisable(p.Bool("UseEncrypt")))
	t.item("Data Compression", enableDisable(p.Bool("UseCompress")))
	t.item("Connect by Bridge / Router Mode", enableDisable(p.Bool("RequireBridgeRoutingMode")))
	t.item("Connect by Monitoring Mode", enableDisable(p.Bool("RequireMonitorMode")))
	t.item("No Adjustment for Routing Table", enableDisable(p.Bool("NoRoutingTracking")))
	t.item("Do not Use QoS Control Function", enableDisable(p.Bool("DisableQoS")))
	s.show(t)

	if !s.csv {
		fmt.Fprint(s.out, "\n[Cascade Session Security Policy Setting Value]\n")
	}
	pt := newList(col("Policy name"), col("Simple description of policy"), col("Setting value"))
	for _, it := range policyItems {
		if it.cascade {
			pt.add(it.name, it.title, it.format(p.Int("policy:"+it.name)))
		}
	}
	s.showGrid(pt)
	return nil
}

func cascadeUsernameSet(s *Session, a cmdArgs) error {
	p, err := s.getLink(a[""])
	if err != nil {
		return err
	}
	p.AddStr("Username", a["USERNAME"])
	if p.Int("AuthType") == 1 {
		fmt.Fprintln(s.out, "The auth type for this Connection Setting is currently set as password authentication. "+
			"After changing the user name, you must use the CascadePasswordSet command to reset the password.")
	}
	return s.setLink(p)
}

func cascadePasswordSet(s *Session, a cmdArgs) error {
	pw, err := s.password(a, "PASSWORD")
	if err != nil {
		return err
	}
	p, err := s.getLink(a[""])
	if err != nil {
		return err
	}
	typ := strings.ToLower(a["TYPE"])
	switch {
	case typ != "" && strings.HasPrefix("standard", typ):
		h := sha0.HashPassword(p.Str("Username"), pw)
		p.AddInt("AuthType", 1)
		p.AddData("HashedPassword", h[:])
	case typ != "" && (strings.HasPrefix("radius", typ) || strings.HasPrefix("ntdomain", typ)):
		p.AddInt("AuthType", 2)
		p.AddStr("PlainPassword", pw)
	default:
		fmt.Fprintln(s.out, "The standard or radius specification is invalid.")
		return vpnerr.InvalidParameter
	}
	return s.setLink(p)
}

func cascadeDetailSet(s *Session, a cmdArgs) error {
	maxTCP, err := parseUint("The number of TCP connections", a["MAXTCP"], 1, 32)
	if err != nil {
		return usageError("Specify an integer in the range 1 to 32 for the number of TCP connections.")
	}
	interval, err := parseUint("The interval", a["INTERVAL"], 1, 1<<32-1)
	if err != nil {
		return usageError("Set at least 1 second for the interval to establish a TCP connection.")
	}
	ttl, err := parseUint("The connection life", a["TTL"], 0, 1<<32-1)
	if err != nil {
		return err
	}
	p, err := s.getLink(a[""])
	if err != nil {
		return err
	}
	p.AddInt("MaxConnection", maxTCP)
	p.AddInt("AdditionalConnectionInterval", interval)
	p.AddInt("ConnectionDisconnectSpan", ttl)
	p.AddBool("HalfConnection", vpncmdYes(a["HALF"]))
	p.AddBool("DisableQoS", vpncmdYes(a["NOQOS"]))
	return s.setLink(p)
}

// vpncmdYes is vpncmd's GetParamYes: "y..." or "t..." or a non-zero number.
func vpncmdYes(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	n, _ := strconv.Atoi(v)
	return strings.HasPrefix(v, "y") || strings.HasPrefix(v, "t") || n != 0
}

var sessionStatusNames = []string{"Connection to VPN Server Started", "Negotiating", "Authenticating User",
	"Connection is Established", "Retrying", "Idle"}

func cascadeStatusGet(s *Session, a cmdArgs) error {
	in := pack.New()
	in.AddStr("HubName_Ex", s.hub)
	in.AddUniStr("AccountName", a[""])
	p, err := s.call("GetLinkStatus", in)
	if err != nil {
		return err
	}
	connected := p.Bool("Connected")
	t := newStandard()
	t.item("VPN Connection Setting Name", p.UniStr("AccountName"))
	status := "Connection Completed (Session Established)"
	if !connected {
		status = "Trying to Connect"
		if st := p.Int("SessionStatus"); int(st) < len(sessionStatusNames) {
			status = sessionStatusNames[st]
		}
	}
	t.item("Session Status", status)
	if connected {
		vlan := "-"
		if v := p.Int("VLanId"); v != 0 {
			vlan = dec(uint64(v))
		}
		t.item("VLAN ID", vlan)
		t.item("Server Name", p.Str("ServerName"))
		t.item("Port Number", fmt.Sprintf("TCP Port %d", p.Int("ServerPort")))
		t.item("Server Product Name", p.Str("ServerProductName"))
		ver := p.Int("ServerProductVer")
		t.item("Server Version", fmt.Sprintf("%d.%02d", ver/100, ver%100))
		t.item("Server Build", fmt.Sprintf("Build %d", p.Int("ServerProductBuild")))
	}
	t.item("Connection Started at", dateTimeW(p.Int64("StartTime"), "(None)"))
	t.item("First Session has been Established since", dateTimeW(p.Int64("FirstConnectionEstablisiedTime"), "-"))
	if connected {
		t.item("Current Session has been Established since", dateTimeW(p.Int64("CurrentConnectionEstablishTime"), "(None)"))
	}
	t.item("Number of Established Sessions", fmt.Sprintf("%d Times", p.Int("NumConnectionsEstablished")))
	if connected {
		half := p.Bool("HalfConnection")
		t.item("Half Duplex TCP Connection Mode", map[bool]string{true: "Yes (Half Duplex Mode)", false: "No (Full Duplex Mode)"}[half])
		t.item("VoIP / QoS Function", map[bool]string{true: "Enabled", false: "Disabled"}[p.Bool("QoS")])
		t.item("Number of TCP Connections", dec(uint64(p.Int("NumTcpConnections"))))
		if half {
			t.item("Number of Uplink TCP Connections", dec(uint64(p.Int("NumTcpConnectionsUpload"))))
			t.item("Number of Downlink TCP Connections", dec(uint64(p.Int("NumTcpConnectionsDownload"))))
		}
		t.item("Maximum Number of TCP Connections", dec(uint64(p.Int("MaxTcpConnections"))))
		enc := "Disabled (No Encryption)"
		cipher, proto := p.Str("CipherName"), p.Str("ProtocolVersion")
		switch {
		case !p.Bool("UseEncrypt"):
		case cipher != "" && proto != "":
			enc = fmt.Sprintf("Enabled (%s Algorithm: %s)", proto, cipher)
		case cipher != "":
			enc = fmt.Sprintf("Enabled (Algorithm: %s)", cipher)
		default:
			enc = "Enabled"
		}
		t.item("Encryption", enc)
		comp := "No (No Compression)"
		if p.Bool("UseCompress") {
			var percent uint64
			if total := p.Int64("TotalRecvSize") + p.Int64("TotalSendSize"); total > 0 {
				real := p.Int64("TotalRecvSizeReal") + p.Int64("TotalSendSizeReal")
				if real < total {
					percent = 100 - real*100/total
				}
			}
			comp = fmt.Sprintf("Yes (%d %%)", percent)
		}
		t.item("Use of Compression", comp)
		if v := p.Str("UnderlayProtocol"); v != "" {
			t.item("Physical Underlay Protocol", v)
		}
		if v := p.Str("ProtocolDetails"); v != "" {
			t.item("Protocol Details", v)
		}
		t.item("UDP Acceleration is Supported", yesNo(p.Bool("IsUdpAccelerationEnabled")))
		t.item("UDP Acceleration is Active", yesNo(p.Bool("IsUsingUdpAcceleration")))
		t.item("Session Name", p.Str("SessionName"))
		if c := p.Str("ConnectionName"); !strings.EqualFold(c, "INITING") {
			t.item("Connection Name", c)
		}
		t.item("Session Key (160 bit)", strings.ToUpper(fmt.Sprintf("%x", p.Data("SessionKey"))))
		t.item("Bridge / Router Mode", yesNo(p.Bool("IsBridgeMode")))
		t.item("Monitoring Mode", yesNo(p.Bool("IsMonitorMode")))
		t.item("Outgoing Data Size", num(p.Int64("TotalSendSize"))+" bytes")
		t.item("Incoming Data Size", num(p.Int64("TotalRecvSize"))+" bytes")
		for _, dir := range []struct{ name, key string }{{"Outgoing", "Send"}, {"Incoming", "Recv"}} {
			for _, kind := range []string{"Unicast", "Broadcast"} {
				t.item(dir.name+" "+kind+" Packets", num(p.Int64(dir.key+"."+kind+"Count"))+" packets")
				t.item(dir.name+" "+kind+" Total Size", num(p.Int64(dir.key+"."+kind+"Bytes"))+" bytes")
			}
		}
	}
	s.show(t)
	return nil
}

func cascadeRename(s *Session, a cmdArgs) error {
	p := s.hubPack()
	p.AddUniStr("OldAccountName", a[""])
	p.AddUniStr("NewAccountName", a["NEW"])
	_, err := s.call("RenameLink", p)
	return err
}

// ---- local bridges

func bridgeDeviceList(s *Session, _ cmdArgs) error {
	in := pack.New()
	in.AddInt("NumItem", 0)
	p, err := s.call("EnumEthernet", in)
	if err != nil {
		return err
	}
	for i := range count(p, "DeviceName") {
		fmt.Fprintln(s.out, strAt(p, "DeviceName", i))
	}
	return nil
}

func bridgeList(s *Session, _ cmdArgs) error {
	in := pack.New()
	in.AddInt("NumItem", 0)
	p, err := s.call("EnumLocalBridge", in)
	if err != nil {
		return err
	}
	t := newList(col("Number"), col("Virtual Hub Name"), col("Network Adapter or Tap Device Name"), col("Status"))
	for i := range count(p, "DeviceName") {
		status := "Offline"
		if u64At(p, "Online", i) != 0 {
			status = "Error"
			if u64At(p, "Active", i) != 0 {
				status = "Operating"
			}
		}
		t.add(dec(uint64(i+1)), strAt(p, "HubNameLB", i), strAt(p, "DeviceName", i), status)
	}
	s.showGrid(t)
	return nil
}

// bridgeNotice is what vpncmd prints after BridgeCreate.
const bridgeNotice = "While in the condition that occurs immediately after a new bridge connection is made when bridging to a physical network adapter, depending on the type of network adapter, there are cases where it will not be possible to communicate using TCP/IP to the network adapter using a bridge connection from a computer on the virtual network. \n" +
	"(This phenomenon is known to occur for Intel and Broadcom network adapters.) \n\n\n" +
	"If this issue arises, remedy the situation by restarting the computer on which VPN Server / Bridge is running. Normal communication will be possible after the computer has restarted. \n\n\n" +
	"Also many wireless network adapters will not respond to the sending of packets in promiscuous mode and when this occurs you will be unable to use the Local Bridge. If this issue arises, try using a regular wired network adapter instead of the wireless network adapter.\n\n"

func bridgeCreate(s *Session, a cmdArgs) error {
	in := pack.New()
	in.AddStr("DeviceName", a["DEVICE"])
	in.AddStr("HubNameLB", a[""])
	in.AddBool("TapMode", vpncmdYes(a["TAP"]))
	if _, err := s.call("AddLocalBridge", in); err != nil {
		return err
	}
	if !s.csv {
		fmt.Fprint(s.out, bridgeNotice)
	}
	return nil
}

func bridgeDelete(s *Session, a cmdArgs) error {
	in := pack.New()
	in.AddStr("DeviceName", a["DEVICE"])
	in.AddStr("HubNameLB", a[""])
	in.AddBool("TapMode", false)
	_, err := s.call("DeleteLocalBridge", in)
	return err
}

// ---- security policies as vpncmd shows them

// policyItem is one security policy item (SoftEther's policy table).
type policyItem struct {
	name, title string
	isInt       bool
	allowZero   bool   // 0 means "no setting" ("-")
	unit        string // format of an integer value
	def         uint32 // value of the default policy
	cascade     bool   // meaningful for a cascade session
}

func (it policyItem) format(v uint32) string {
	switch {
	case !it.isInt:
		return yesNo(v != 0)
	case v == 0 && it.allowZero:
		return "-"
	}
	return fmt.Sprintf(it.unit, v)
}

// policyItems are the policy items in SoftEther's order.
var policyItems = func() []policyItem {
	b := func(name, title string) policyItem { return policyItem{name: name, title: title, cascade: true} }
	n := func(name, title, unit string, allowZero bool) policyItem {
		return policyItem{name: name, title: title, isInt: true, allowZero: allowZero, unit: unit, cascade: true}
	}
	items := []policyItem{
		b("Access", "Allow Access"),
		b("DHCPFilter", "Filter DHCP Packets (IPv4)"),
		b("DHCPNoServer", "Disallow DHCP Server Operation (IPv4)"),
		b("DHCPForce", "Enforce DHCP Allocated IP Addresses (IPv4)"),
		b("NoBridge", "Deny Bridge Operation"),
		b("NoRouting", "Deny Routing Operation (IPv4)"),
		b("CheckMac", "Deny MAC Addresses Duplication"),
		b("CheckIP", "Deny IP Address Duplication (IPv4)"),
		b("ArpDhcpOnly", "Deny Non-ARP / Non-DHCP / Non-ICMPv6 broadcasts"),
		b("PrivacyFilter", "Privacy Filter Mode"),
		b("NoServer", "Deny Operation as TCP/IP Server (IPv4)"),
		b("NoBroadcastLimiter", "Unlimited Number of Broadcasts"),
		b("MonitorPort", "Allow Monitoring Mode"),
		n("MaxConnection", "Maximum Number of TCP Connections", "%d", false),
		n("TimeOut", "Time-out Period", "%d seconds", false),
		n("MaxMac", "Maximum Number of MAC Addresses", "%d", true),
		n("MaxIP", "Maximum Number of IP Addresses (IPv4)", "%d", true),
		n("MaxUpload", "Upload Bandwidth", "%d bps", true),
		n("MaxDownload", "Download Bandwidth", "%d bps", true),
		b("FixPassword", "Deny Changing Password"),
		n("MultiLogins", "Maximum Number of Multiple Logins", "%d", true),
		b("NoQoS", "Deny VoIP / QoS Function"),
		b("RSandRAFilter", "Filter RS / RA Packets (IPv6)"),
		b("RAFilter", "Filter RA Packets (IPv6)"),
		b("DHCPv6Filter", "Filter DHCP Packets (IPv6)"),
		b("DHCPv6NoServer", "Disallow DHCP Server Operation (IPv6)"),
		b("NoRoutingV6", "Deny Routing Operation (IPv6)"),
		b("CheckIPv6", "Deny IP Address Duplication (IPv6)"),
		b("NoServerV6", "Deny Operation as TCP/IP Server (IPv6)"),
		n("MaxIPv6", "Maximum Number of IP Addresses (IPv6)", "%d", true),
		b("NoSavePassword", "Disallow Password Save in VPN Client"),
		n("AutoDisconnect", "VPN Client Automatic Disconnect", "%d seconds", true),
		b("FilterIPv4", "Filter All IPv4 Packets"),
		b("FilterIPv6", "Filter All IPv6 Packets"),
		b("FilterNonIP", "Filter All Non-IP Packets"),
		b("NoIPv6DefaultRouterInRA", "No Default-Router on IPv6 RA"),
		b("NoIPv6DefaultRouterInRAWhenIPv6", "No Default-Router on IPv6 RA (physical IPv6)"),
		n("VLanId", "VLAN ID (IEEE802.1Q)", "%d", true),
	}
	// Items a cascade session cannot use (SoftEther's
	// PolicyIsSupportedForCascade), and the default policy's values.
	for i := range items {
		switch items[i].name {
		case "Access", "NoBridge", "NoRouting", "MonitorPort", "MaxConnection", "TimeOut", "FixPassword",
			"MultiLogins", "NoQoS", "NoRoutingV6", "NoSavePassword", "AutoDisconnect", "NoIPv6DefaultRouterInRAWhenIPv6":
			items[i].cascade = false
		}
		switch items[i].name {
		case "Access":
			items[i].def = 1
		case "MaxConnection":
			items[i].def = 32
		case "TimeOut":
			items[i].def = 20
		}
	}
	return items
}()
