package testrig

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Client is a real SoftEther vpnclient running in its own namespace, with one
// virtual NIC (TAP "vpn_<NIC>") and one account named "acc".
type Client struct {
	Netns *Netns
	Proc  *Proc
	// NIC is the virtual NIC name; the TAP device is "vpn_" + NIC.
	NIC  string
	base string
	rig  *Rig
	// logMark is the length of the vpnclient log when the latest
	// connection attempt began; LastError looks only after it.
	logMark int
	starts  int // processes started, for the log files' names
}

// Account is the connection setting of a Client. The zero value (plus hub and
// credentials) is vpnclient's default account with UDP acceleration off:
// 1 TCP connection + QoS (which makes 2), encryption on, no compression.
type Account struct {
	Hub, User, Password string
	Anonymous           bool // anonymous authentication (User still names the user)
	MaxTCP              int  // 1..32; 0 means 1
	Half                bool // half-duplex
	NoQoS               bool
	Compress            bool
	NoEncrypt           bool
	Monitor             bool // request monitor mode
	Bridge              bool // request bridge/router mode
	UDPAccel            bool // leave UDP acceleration on
	// Retries is how often vpnclient connects again by itself after a
	// failed login or a lost session, 5 s apart (0: never).
	Retries int
}

// AccountName is the name of the account every Client uses.
const AccountName = "acc"

// StartClient starts a vpnclient in ns and creates its NIC (TAP vpn_<nic>).
func (r *Rig) StartClient(ns *Netns, nic string) *Client {
	r.t.Helper()
	c := &Client{Netns: ns, NIC: nic, base: filepath.Join(ns.Dir, "vpnclient"), rig: r}
	// The real vpnclient now and then comes up with its admin RPC dead
	// (vpncmd gets "Connection to the server failed" for good and the process
	// needs SIGKILL). That is the client under test's start-up, not the
	// server under test, so it gets one more start before the test fails.
	var err error
	for attempt := 1; ; attempt++ {
		if err = c.start(r, attempt); err == nil {
			break
		}
		if attempt == 2 {
			r.t.Fatalf("testrig: %v", err)
		}
		r.t.Logf("testrig: %v; starting vpnclient again", err)
		_ = c.Proc.Stop(c.Proc.StopGrace)
	}
	if _, err := c.Vpncmd("NicCreate", nic); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	if !waitFor(10*time.Second, 100*time.Millisecond, func() bool {
		_, err = ns.Run(5*time.Second, "ip", "link", "set", c.TAP(), "up")
		return err == nil
	}) {
		r.t.Fatalf("testrig: TAP %s did not appear in %s: %v", c.TAP(), ns.Name, err)
	}
	return c
}

// start starts the vpnclient process and waits until its admin RPC answers.
func (c *Client) start(r *Rig, attempt int) error {
	ns := c.Netns
	c.starts++
	c.Proc = StartProc(r.t, "vpnclient "+ns.Name, filepath.Join(ns.Dir, fmt.Sprintf("vpnclient-%d.log", c.starts)),
		ns.SoftEtherCmd(c.base, VpnClientPath, "start", "--foreground")...)
	// vpnclient normally stops in well under a second; one that hangs is
	// logged by the cleanup and should not cost a test much time.
	c.Proc.StopGrace = 5 * time.Second
	if err := ns.WaitTCP("127.0.0.1", 9931, 30*time.Second, c.Proc); err != nil {
		return fmt.Errorf("vpnclient in %s: %v; log: %s", ns.Name, err, lastLines(c.Proc.Log(), 10))
	}
	// The admin port can accept a moment before the RPC answers.
	var err error
	if !waitFor(15*time.Second, 300*time.Millisecond, func() bool {
		_, err = c.Vpncmd("VersionGet")
		return err == nil
	}) {
		return fmt.Errorf("vpncmd cannot talk to vpnclient in %s: %v; log: %s", ns.Name, err, lastLines(c.Proc.Log(), 10))
	}
	return nil
}

// Restart stops the vpnclient process and starts it again on the state it
// saved (its NIC and account), and brings the TAP up again. The real 5.01
// vpnclient passes no frames after losing a session to a server that died
// until its process is restarted (ethervpn issue 12).
func (c *Client) Restart() error {
	_ = c.Stop()
	var err error
	for attempt := 1; attempt <= 2; attempt++ {
		if err = c.start(c.rig, attempt); err == nil {
			break
		}
		_ = c.Proc.Stop(c.Proc.StopGrace)
	}
	if err != nil {
		return err
	}
	if !waitFor(10*time.Second, 100*time.Millisecond, func() bool {
		_, err = c.Netns.Run(5*time.Second, "ip", "link", "set", c.TAP(), "up")
		return err == nil
	}) {
		return fmt.Errorf("testrig: TAP %s did not come back in %s: %v", c.TAP(), c.Netns.Name, err)
	}
	return nil
}

// Stop stops the vpnclient process (it is also stopped on cleanup).
func (c *Client) Stop() error { return c.Proc.Stop(c.Proc.StopGrace) }

// TAP is the name of the client's TAP device in its namespace.
func (c *Client) TAP() string { return "vpn_" + c.NIC }

// Vpncmd runs one vpncmd command against this client, e.g.
// Vpncmd("AccountList").
func (c *Client) Vpncmd(args ...string) (string, error) {
	return c.vpncmd(nil, args...)
}

// vpncmd runs one command with global options (such as /CSV) before /CMD.
func (c *Client) vpncmd(opts []string, args ...string) (string, error) {
	cmd := append([]string{VpncmdPath, "localhost", "/CLIENT"}, opts...)
	cmd = append(append(cmd, "/CMD"), args...)
	return run(30*time.Second, c.Netns.SoftEtherCmd(filepath.Join(c.Netns.Dir, "vpncmd"), cmd...)...)
}

// vpncmdBatch runs several vpncmd commands (one per line) in one vpncmd call.
func (c *Client) vpncmdBatch(lines []string) (string, error) {
	f := filepath.Join(c.Netns.Dir, "vpncmd-batch.txt")
	if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return "", err
	}
	cmd := []string{VpncmdPath, "localhost", "/CLIENT", "/IN:" + f}
	return run(60*time.Second, c.Netns.SoftEtherCmd(filepath.Join(c.Netns.Dir, "vpncmd"), cmd...)...)
}

// Configure (re)creates the account for srv with acc's settings, without
// connecting. The client reaches the server over its underlay.
func (c *Client) Configure(srv *Server, acc Account) error {
	_, _ = c.Vpncmd("AccountDisconnect", AccountName)
	_, _ = c.Vpncmd("AccountDelete", AccountName)
	maxTCP := acc.MaxTCP
	if maxTCP == 0 {
		maxTCP = 1
	}
	lines := []string{
		fmt.Sprintf("AccountCreate %s /SERVER:%s:%d /HUB:%s /USERNAME:%s /NICNAME:%s",
			AccountName, c.Netns.ServerIP, srv.Port, acc.Hub, acc.User, c.NIC),
	}
	if acc.Anonymous {
		lines = append(lines, "AccountAnonymousSet "+AccountName)
	} else {
		lines = append(lines, fmt.Sprintf("AccountPasswordSet %s /PASSWORD:%s /TYPE:standard", AccountName, acc.Password))
	}
	lines = append(lines,
		fmt.Sprintf("AccountDetailSet %s /MAXTCP:%d /INTERVAL:1 /TTL:0 /HALF:%s /BRIDGE:%s /MONITOR:%s /NOTRACK:no /NOQOS:%s /DISABLEUDP:%s",
			AccountName, maxTCP, yesNo(acc.Half), yesNo(acc.Bridge), yesNo(acc.Monitor), yesNo(acc.NoQoS), yesNo(!acc.UDPAccel)),
		pick(acc.Compress, "AccountCompressEnable ", "AccountCompressDisable ")+AccountName,
		pick(acc.NoEncrypt, "AccountEncryptDisable ", "AccountEncryptEnable ")+AccountName,
		// vpnclient's default retries a refused login forever.
		fmt.Sprintf("AccountRetrySet %s /NUM:%d /INTERVAL:5", AccountName, acc.Retries),
	)
	if out, err := c.vpncmdBatch(lines); err != nil {
		return fmt.Errorf("configuring account in %s: %w: %s", c.Netns.Name, err, lastLines(out, 8))
	}
	return nil
}

// Connect configures the account, connects it and waits until the session
// is established (or 30 s passed).
func (c *Client) Connect(srv *Server, acc Account) error {
	if err := c.Configure(srv, acc); err != nil {
		return err
	}
	if err := c.StartConnect(); err != nil {
		return err
	}
	return c.WaitConnected(30 * time.Second)
}

// StartConnect starts connecting the configured account without waiting.
func (c *Client) StartConnect() error {
	c.logMark = len(c.Proc.Log())
	_, err := c.Vpncmd("AccountConnect", AccountName)
	return err
}

// WaitConnected waits until AccountList shows the account as connected. It
// gives up early when the attempt has ended with a logged cause (accounts are
// configured without retries).
func (c *Client) WaitConnected(timeout time.Duration) error {
	var state string
	var code int
	var cause string
	if waitFor(timeout, 200*time.Millisecond, func() bool {
		state = c.State()
		if state == "Connected" {
			return true
		}
		code, cause = c.LastError()
		return code != 0 && state == "Offline"
	}) && state == "Connected" {
		return nil
	}
	if code != 0 {
		return fmt.Errorf("vpnclient in %s: connection failed: %s (code %d)", c.Netns.Name, cause, code)
	}
	return fmt.Errorf("vpnclient in %s: account state %q after %v", c.Netns.Name, state, timeout)
}

// State is the account's status column in AccountList ("Connected",
// "Offline", "Connecting", ...), or "" if it cannot be read.
func (c *Client) State() string {
	out, err := c.vpncmd([]string{"/CSV"}, "AccountList")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) >= 2 && f[0] == AccountName {
			return f[1]
		}
	}
	return ""
}

// Disconnect disconnects the account and waits until it is offline.
func (c *Client) Disconnect() error {
	if _, err := c.Vpncmd("AccountDisconnect", AccountName); err != nil {
		return err
	}
	if !waitFor(10*time.Second, 200*time.Millisecond, func() bool { return c.State() == "Offline" }) {
		return fmt.Errorf("vpnclient in %s: still %q after disconnect", c.Netns.Name, c.State())
	}
	return nil
}

var causeRE = regexp.MustCompile(`Cause: (.*?) \(code (\d+)\)`)

// LastError returns why the connection begun by the latest StartConnect (or
// Connect) failed or ended, as vpnclient logged it, e.g. 9 and "User
// authentication failed.", or 0 and "" if nothing was logged yet.
func (c *Client) LastError() (code int, msg string) {
	log := c.Proc.Log()
	if c.logMark <= len(log) {
		log = log[c.logMark:]
	}
	return ParseClientCause(log)
}

// ParseClientCause finds the last "Cause: <msg> (code N)" in a vpnclient log.
func ParseClientCause(log string) (code int, msg string) {
	m := causeRE.FindAllStringSubmatch(log, -1)
	if m == nil {
		return 0, ""
	}
	last := m[len(m)-1]
	code, err := strconv.Atoi(last[2])
	if err != nil {
		return 0, ""
	}
	return code, last[1]
}

// SetIP gives the TAP a static IPv4 address (CIDR, e.g. "192.168.77.1/24"),
// replacing any it had.
func (c *Client) SetIP(cidr string) error {
	if _, err := c.Netns.Run(10*time.Second, "ip", "addr", "flush", "dev", c.TAP()); err != nil {
		return err
	}
	_, err := c.Netns.Run(10*time.Second, "ip", "addr", "add", cidr, "dev", c.TAP())
	return err
}

// Status returns the parsed AccountStatusGet output.
func (c *Client) Status() (AccountStatus, error) {
	out, err := c.Vpncmd("AccountStatusGet", AccountName)
	if err != nil {
		return nil, err
	}
	return ParseAccountStatus(out), nil
}

// AccountStatus is vpncmd's AccountStatusGet table: item name -> value,
// e.g. "Number of TCP Connections" -> "2".
type AccountStatus map[string]string

// Well-known AccountStatus items.
const (
	StatusSessionStatus  = "Session Status"
	StatusTCPConnections = "Number of TCP Connections"
	StatusHalfDuplex     = "Half Duplex TCP Connection Mode"
	StatusEncryption     = "Encryption"
	StatusCompression    = "Use of Compression"
	StatusUDPAccel       = "UDP Acceleration is Active"
	StatusMonitorMode    = "Monitoring Mode"
	StatusBridgeMode     = "Bridge / Router Mode"
	StatusQoS            = "VoIP / QoS Function"
)

// ParseAccountStatus parses vpncmd's two-column "Item|Value" table.
func ParseAccountStatus(out string) AccountStatus {
	st := AccountStatus{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), "|")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" || k == "Item" || strings.Trim(k, "-+") == "" {
			continue
		}
		st[k] = v
	}
	return st
}

// Int returns the leading integer of an item's value (-1 if none).
func (s AccountStatus) Int(item string) int {
	v := s[item]
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(v[:end])
	if err != nil {
		return -1
	}
	return n
}

// Yes reports whether an item's value starts with "Yes" or "Enabled".
func (s AccountStatus) Yes(item string) bool {
	v := s[item]
	return strings.HasPrefix(v, "Yes") || strings.HasPrefix(v, "Enabled")
}

func yesNo(b bool) string { return pick(b, "yes", "no") }

func pick(b bool, ifTrue, ifFalse string) string {
	if b {
		return ifTrue
	}
	return ifFalse
}
