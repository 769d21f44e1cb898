package testrig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Rig is one test topology: a server namespace and client namespaces, each
// client linked to the server by its own veth pair. All of it is removed by
// the cleanup registered with the TB.
type Rig struct {
	t       TB
	Prefix  string // namespace name prefix, unique per rig
	Dir     string // scratch directory for configs, logs and state
	Server  *Netns
	clients int
	// clientNs are the client namespaces and serverAddrs the addresses
	// AddServerAddress added, each routed from every client namespace.
	clientNs    []*Netns
	serverAddrs []string
}

// Netns is a network namespace created by the rig.
type Netns struct {
	Name string
	// IP is this namespace's underlay address and ServerIP the server
	// namespace's address on the same veth (both empty for the server).
	IP, ServerIP string
	// Dir is a scratch directory for this namespace's processes.
	Dir string
}

var rigSeq atomic.Int32

// New creates the server namespace of a new rig.
func New(t TB) *Rig {
	t.Helper()
	prefix := fmt.Sprintf("ev%03d%d", os.Getpid()%1000, rigSeq.Add(1))
	dir, err := os.MkdirTemp("", "ethervpn-rig-"+prefix+"-")
	if err != nil {
		t.Fatalf("testrig: %v", err)
	}
	t.Cleanup(func() {
		if os.Getenv("ETHERVPN_E2E_KEEP") != "" {
			t.Logf("testrig: keeping %s (ETHERVPN_E2E_KEEP set)", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("testrig: %v", err)
		}
	})
	r := &Rig{t: t, Prefix: prefix, Dir: dir}
	r.Server = r.addNetns("srv")
	return r
}

// addNetns creates one namespace with lo up, IPv6 off (so no frames appear
// that a test did not send) and a resolver that points at its own loopback.
func (r *Rig) addNetns(short string) *Netns {
	r.t.Helper()
	n := &Netns{Name: r.Prefix + "-" + short, Dir: filepath.Join(r.Dir, short)}
	if err := os.MkdirAll(n.Dir, 0o700); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	etc := filepath.Join("/etc/netns", n.Name)
	// A namespace of the same name can only be a leftover of a crashed run
	// of a process with the same PID.
	_, _ = run(10*time.Second, "ip", "netns", "del", n.Name)
	r.t.Cleanup(func() {
		if _, err := run(10*time.Second, "ip", "netns", "del", n.Name); err != nil {
			r.t.Logf("testrig: %v", err)
		}
		os.RemoveAll(etc)
	})
	r.must("ip", "netns", "add", n.Name)
	r.must("ip", "-n", n.Name, "link", "set", "lo", "up")
	r.must("ip", "netns", "exec", n.Name, "sysctl", "-qw",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv4.ip_forward=0")
	// ip netns exec bind-mounts /etc/netns/NAME/* over /etc: no resolver
	// outside the namespace is ever asked.
	if err := os.MkdirAll(etc, 0o755); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	_ = os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644)
	_ = os.WriteFile(filepath.Join(etc, "hosts"), []byte("127.0.0.1 localhost\n"), 0o644)
	return n
}

// AddClient creates the next client namespace "cN" with a veth underlay to
// the server namespace: 10.250.N.1/30 on the server side ("cN" there),
// 10.250.N.2/30 on the client side ("u0").
func (r *Rig) AddClient() *Netns {
	r.t.Helper()
	r.clients++
	i := r.clients
	n := r.addNetns(fmt.Sprintf("c%d", i))
	n.IP = fmt.Sprintf("10.250.%d.2", i)
	n.ServerIP = fmt.Sprintf("10.250.%d.1", i)
	srvIf := fmt.Sprintf("c%d", i)
	r.must("ip", "link", "add", srvIf, "netns", r.Server.Name, "type", "veth", "peer", "name", "u0", "netns", n.Name)
	r.must("ip", "-n", r.Server.Name, "addr", "add", n.ServerIP+"/30", "dev", srvIf)
	r.must("ip", "-n", n.Name, "addr", "add", n.IP+"/30", "dev", "u0")
	r.must("ip", "-n", r.Server.Name, "link", "set", srvIf, "up")
	r.must("ip", "-n", n.Name, "link", "set", "u0", "up")
	for _, ip := range r.serverAddrs {
		r.must("ip", "-n", n.Name, "route", "add", ip+"/32", "via", n.ServerIP)
	}
	r.clientNs = append(r.clientNs, n)
	return n
}

func (r *Rig) must(args ...string) string {
	r.t.Helper()
	out, err := run(30*time.Second, args...)
	if err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	return out
}

// Cmd returns args prefixed so that they run inside the namespace.
func (n *Netns) Cmd(args ...string) []string {
	return append([]string{"ip", "netns", "exec", n.Name}, args...)
}

// Run runs a short command inside the namespace and returns its output.
func (n *Netns) Run(timeout time.Duration, args ...string) (string, error) {
	return run(timeout, n.Cmd(args...)...)
}

// SoftEtherCmd returns args prefixed so that a SoftEther program runs inside
// the namespace and in a private mount namespace in which the Debian build's
// compiled-in state directories are bind mounts of base/{db,log,run}. Every
// step execs, so the PID is that of the program.
func (n *Netns) SoftEtherCmd(base string, args ...string) []string {
	for _, d := range []string{"db", "log", "run"} {
		_ = os.MkdirAll(filepath.Join(base, d), 0o700)
	}
	const script = `b=$1; shift
mkdir -p /var/lib/softether /var/log/softether /run/softether
mount --bind "$b/db" /var/lib/softether
mount --bind "$b/log" /var/log/softether
mount --bind "$b/run" /run/softether
exec "$@"`
	return append(n.Cmd("unshare", "-m", "--propagation", "private", "sh", "-c", script, "se-exec", base), args...)
}

// MAC returns the hardware address of iface in the namespace
// ("aa:bb:cc:dd:ee:ff").
func (n *Netns) MAC(iface string) (string, error) {
	out, err := n.Run(10*time.Second, "cat", "/sys/class/net/"+iface+"/address")
	return strings.TrimSpace(out), err
}
