package testrig

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// udhcpcScript is the busybox udhcpc hook the rig installs: it configures
// the interface (address and default route, never resolv.conf) and appends
// one line per event to the file $RIG_DHCP_EVENTS. udhcpc passes the subnet
// mask both as $subnet (dotted) and $mask (prefix length).
const udhcpcScript = `#!/bin/sh
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface" 2>/dev/null
	ip link set "$interface" up
	;;
bound|renew)
	ip -4 addr flush dev "$interface" 2>/dev/null
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
	;;
esac
echo "event=$1 ip=$ip mask=$subnet router=$router dns=$(echo $dns | tr ' ' ,) lease=$lease serverid=$serverid domain=$domain" >>"$RIG_DHCP_EVENTS"
exit 0
`

// DHCPClient is busybox udhcpc running in the foreground on one interface
// of a namespace. It stays bound (renewing as it should) until Release or
// Stop; every event of its hook is recorded.
type DHCPClient struct {
	Proc   *Proc
	events string
}

// DHCPEvent is one run of the udhcpc hook: Event is "deconfig", "bound",
// "renew", "leasefail" or "nak", and the other fields are what udhcpc
// passed along (empty when it passed nothing).
type DHCPEvent struct {
	Event, IP, Mask, Router, DNS, ServerID, Domain string
	LeaseSeconds                                   int
}

// StartDHCP starts udhcpc on iface in the namespace, sending hostname
// (option 12). It returns at once; WaitLease waits for the lease.
func (r *Rig) StartDHCP(n *Netns, iface, hostname string) *DHCPClient {
	r.t.Helper()
	script := filepath.Join(r.Dir, "udhcpc.script")
	if err := os.WriteFile(script, []byte(udhcpcScript), 0o755); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	d := &DHCPClient{events: filepath.Join(n.Dir, "dhcp-"+iface+".events")}
	os.Remove(d.events)
	args := n.Cmd("env", "RIG_DHCP_EVENTS="+d.events,
		"busybox", "udhcpc", "-f", "-i", iface, "-s", script, "-x", "hostname:"+hostname,
		// DISCOVER every second, and again at once after a failure.
		"-t", "60", "-T", "1", "-A", "1")
	d.Proc = StartProc(r.t, "udhcpc "+n.Name, filepath.Join(n.Dir, "udhcpc-"+iface+".log"), args...)
	d.Proc.StopGrace = 2 * time.Second
	return d
}

// Events returns the hook events so far, oldest first.
func (d *DHCPClient) Events() []DHCPEvent {
	b, _ := os.ReadFile(d.events)
	var evs []DHCPEvent
	for _, line := range strings.Split(string(b), "\n") {
		if ev, err := ParseDHCPEvent(line); err == nil {
			evs = append(evs, ev)
		}
	}
	return evs
}

// WaitLease waits for the first "bound" event and returns it.
func (d *DHCPClient) WaitLease(timeout time.Duration) (DHCPEvent, error) {
	return d.waitEvent("bound", 0, timeout)
}

// waitEvent waits for an event of the kind among the events after the
// first skip ones.
func (d *DHCPClient) waitEvent(kind string, skip int, timeout time.Duration) (DHCPEvent, error) {
	var found DHCPEvent
	ok := waitFor(timeout, 10*time.Millisecond, func() bool {
		evs := d.Events()
		for i := skip; i < len(evs); i++ {
			if evs[i].Event == kind {
				found = evs[i]
				return true
			}
		}
		return d.Proc.Exited()
	})
	if !ok || found.Event == "" {
		return found, fmt.Errorf("testrig: udhcpc: no %s event after %v; log: %s", kind, timeout, lastLines(d.Proc.Log(), 5))
	}
	return found, nil
}

// Release makes udhcpc send a DHCPRELEASE (SIGUSR2; busybox 1.35 sends none
// on exit) and waits until it has deconfigured the interface. udhcpc then
// stays idle until Stop.
func (d *DHCPClient) Release() error {
	n := len(d.Events())
	if err := d.Proc.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		return err
	}
	_, err := d.waitEvent("deconfig", n, 5*time.Second)
	return err
}

// Stop ends udhcpc (it is also stopped on cleanup).
func (d *DHCPClient) Stop() { _ = d.Proc.Stop(d.Proc.StopGrace) }

// ParseDHCPEvent reads one line the rig's udhcpc hook wrote:
// "event=bound ip=… mask=… router=… dns=a,b lease=7200 serverid=… domain=…".
func ParseDHCPEvent(line string) (DHCPEvent, error) {
	var ev DHCPEvent
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return ev, fmt.Errorf("testrig: udhcpc event field %q has no '='", f)
		}
		switch k {
		case "event":
			ev.Event = v
		case "ip":
			ev.IP = v
		case "mask":
			ev.Mask = v
		case "router":
			ev.Router = v
		case "dns":
			ev.DNS = v
		case "serverid":
			ev.ServerID = v
		case "domain":
			ev.Domain = v
		case "lease":
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return ev, fmt.Errorf("testrig: udhcpc lease time %q", v)
			}
			ev.LeaseSeconds = n
		}
	}
	if ev.Event == "" {
		return ev, fmt.Errorf("testrig: udhcpc event line %q names no event", line)
	}
	return ev, nil
}

// WaitSessionUp waits until vpnclient logs "Now connected" for the
// connection begun by the latest StartConnect. It notices the session
// sooner than WaitConnected, which polls AccountList through vpncmd, and
// so suits timing a connection.
func (c *Client) WaitSessionUp(timeout time.Duration) error {
	if waitFor(timeout, 5*time.Millisecond, func() bool {
		log := c.Proc.Log()
		return c.logMark <= len(log) && strings.Contains(log[c.logMark:], "Now connected")
	}) {
		return nil
	}
	if code, cause := c.LastError(); code != 0 {
		return fmt.Errorf("vpnclient in %s: connection failed: %s (code %d)", c.Netns.Name, cause, code)
	}
	return fmt.Errorf("vpnclient in %s: no session after %v", c.Netns.Name, timeout)
}
