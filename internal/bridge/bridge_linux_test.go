package bridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/tap"
)

// labs numbers the labs of this process, so that names never collide with
// a previous test's links that the kernel is still tearing down.
var labs int

// netLab is a set of network namespaces, each joined to the test's own
// namespace by a veth pair whose near end a bridge can open.
type netLab struct {
	t      *testing.T
	prefix string
}

func newNetLab(t *testing.T) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_NET_RAW) to create namespaces, veths and raw sockets")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
	labs++
	return &netLab{t: t, prefix: fmt.Sprintf("evb%d%c", os.Getpid()%10000, 'a'+labs%26)}
}

func (l *netLab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// host makes namespace <prefix>n<i> with a veth whose far end has addr
// (CIDR) and returns the near end's name, left in this namespace, up and
// without addresses.
func (l *netLab) host(i int, addr string) (ns, near string) {
	ns = fmt.Sprintf("%sn%d", l.prefix, i)
	near, far := fmt.Sprintf("%sa%d", l.prefix, i), fmt.Sprintf("%sb%d", l.prefix, i)
	l.ip("netns", "add", ns)
	l.t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	l.ip("link", "add", near, "type", "veth", "peer", "name", far)
	l.t.Cleanup(func() { exec.Command("ip", "link", "del", near).Run() })
	// IPv6 would add router solicitations and DAD to the traffic.
	os.WriteFile("/proc/sys/net/ipv6/conf/"+near+"/disable_ipv6", []byte("1"), 0)
	l.ip("link", "set", far, "netns", ns)
	l.ip("link", "set", near, "up")
	l.ip("-n", ns, "addr", "add", addr, "dev", far)
	l.ip("-n", ns, "link", "set", far, "up")
	l.ip("-n", ns, "link", "set", "lo", "up")
	return ns, far
}

// inNetns runs f on an OS thread that is inside namespace ns; sockets f
// opens stay in ns.
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			t.Error(err)
			return
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			t.Error(err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		f()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // otherwise the thread dies with the goroutine
		}
	}()
	<-done
}

// startBridge runs a bridge until the test ends and waits for it to be
// active.
func startBridge(t *testing.T, h *hub.Hub, c Config) *Bridge {
	t.Helper()
	b := New(h, c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(5 * time.Second); !b.Active(); {
		if time.Now().After(deadline) {
			t.Fatalf("bridge %s not active: %v", c.Name, b.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return b
}

// transfer sends size bytes over TCP from namespace from to addr, where a
// listener in namespace to receives them, and checks what arrived.
func transfer(t *testing.T, from, to, addr string, size int) {
	t.Helper()
	var ln net.Listener
	inNetns(t, to, func() {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			t.Error(err)
		}
	})
	if ln == nil {
		t.FailNow()
	}
	defer ln.Close()
	got := make(chan [32]byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- [32]byte{}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		h := sha256.New()
		io.Copy(h, c)
		got <- [32]byte(h.Sum(nil))
	}()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*31 + i>>9)
	}
	var c net.Conn
	inNetns(t, from, func() {
		d := net.Dialer{Timeout: 10 * time.Second}
		var err error
		if c, err = d.Dial("tcp", addr); err != nil {
			t.Errorf("dial %s from %s: %v", addr, from, err)
		}
	})
	if c == nil {
		t.FailNow()
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(data); err != nil {
		t.Fatalf("sending: %v", err)
	}
	c.Close()
	if sum := <-got; sum != sha256.Sum256(data) {
		t.Fatalf("%d bytes from %s to %s arrived damaged or incomplete", size, from, to)
	}
}

// TestBridgeVeth bridges two veths into one hub and moves TCP streams
// between the namespaces behind them, untagged and on a VLAN: the veths
// hand over GSO super-frames with partial checksums and strip VLAN tags,
// so this covers segmentation, checksum completion and tag re-insertion.
func TestBridgeVeth(t *testing.T) {
	l := newNetLab(t)
	ns0, far0 := l.host(0, "10.201.0.1/24")
	ns1, far1 := l.host(1, "10.201.0.2/24")
	vlan := true
	for i, ns := range []string{ns0, ns1} {
		far := []string{far0, far1}[i]
		if out, err := exec.Command("ip", "-n", ns, "link", "add", "link", far, "name", "v5", "type", "vlan", "id", "5").CombinedOutput(); err != nil {
			t.Logf("no VLAN test: this kernel cannot make VLAN interfaces (8021q): %s", out)
			vlan = false
			break
		}
		l.ip("-n", ns, "addr", "add", fmt.Sprintf("10.202.0.%d/24", i+1), "dev", "v5")
		l.ip("-n", ns, "link", "set", "v5", "up")
	}
	h := hub.New("TEST", hub.DefaultOptions())
	defer h.Close()
	b0 := startBridge(t, h, Config{Name: "SID-LOCALBRIDGE-1", Device: l.prefix + "a0"})
	b1 := startBridge(t, h, Config{Name: "SID-LOCALBRIDGE-2", Device: l.prefix + "a1"})

	transfer(t, ns0, ns1, "10.201.0.2:5001", 8<<20)
	// The segments b0 cut from a0's super-frames leave through b1 merged
	// again (whole, as the transfer's checksum shows).
	if b1.merged.Load() == 0 {
		t.Error("no TCP segments were merged into GSO packets on the way out")
	}
	transfer(t, ns1, ns0, "10.201.0.1:5002", 4<<20)
	if vlan {
		transfer(t, ns1, ns0, "10.202.0.1:5003", 4<<20)
	}

	var ports int
	for _, p := range h.Ports() {
		if p.Kind == hub.KindLocalBridge && p.User == UserName {
			ports++
		}
	}
	if ports != 2 {
		t.Errorf("%d local bridge ports on the hub, want 2", ports)
	}
	if n := b0.skipped.Load(); n != 0 {
		t.Errorf("%d frames refused by the device", n)
	}
}

// TestBridgeTap bridges a TAP the bridge creates to a veth; the TAP is
// then moved into a namespace of its own, which reaches the veth's.
func TestBridgeTap(t *testing.T) {
	l := newNetLab(t)
	ns0, _ := l.host(0, "10.203.0.1/24")
	h := hub.New("TEST", hub.DefaultOptions())
	defer h.Close()
	startBridge(t, h, Config{Name: "SID-LOCALBRIDGE-1", Device: l.prefix + "a0"})
	mac := net.HardwareAddr{0x5e, 1, 2, 3, 4, 5}
	dev := l.prefix + "t"
	startBridge(t, h, Config{Name: "SID-LOCALBRIDGE-2", Device: dev, TapMode: true, TapMAC: mac})

	tapDev := TapName(dev)
	ifi, err := net.InterfaceByName(tapDev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ifi.HardwareAddr, mac) || ifi.Flags&net.FlagUp == 0 {
		t.Errorf("TAP %s: MAC %s flags %s", tapDev, ifi.HardwareAddr, ifi.Flags)
	}
	ns2 := l.prefix + "n2"
	l.ip("netns", "add", ns2)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns2).Run() })
	l.ip("link", "set", tapDev, "netns", ns2)
	l.ip("-n", ns2, "addr", "add", "10.203.0.3/24", "dev", tapDev)
	l.ip("-n", ns2, "link", "set", tapDev, "up")
	transfer(t, ns2, ns0, "10.203.0.1:5003", 2<<20)
	transfer(t, ns0, ns2, "10.203.0.3:5004", 2<<20)
}

// TestBridgeMissingDevice: a bridge to a device that does not exist keeps
// retrying and says why.
func TestBridgeMissingDevice(t *testing.T) {
	h := hub.New("TEST", hub.DefaultOptions())
	defer h.Close()
	b := New(h, Config{Name: "SID-LOCALBRIDGE-1", Device: "evb-nonexist"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	b.Run(ctx)
	if b.Active() || b.Err() == nil || !strings.Contains(b.Err().Error(), "evb-nonexist") {
		t.Errorf("active %v, err %v", b.Active(), b.Err())
	}
}

func TestPrivilegeError(t *testing.T) {
	err := privilege(unix.EPERM, "CAP_NET_RAW", "opening a raw socket on eth0")
	var pe *PrivilegeError
	if !errors.As(err, &pe) || !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "CAP_NET_RAW") {
		t.Errorf("%v", err)
	}
	if err := privilege(unix.ENODEV, "CAP_NET_RAW", "x"); errors.As(err, &pe) {
		t.Errorf("ENODEV reported as a privilege problem: %v", err)
	}
	// internal/tap's permission error becomes one naming CAP_NET_ADMIN.
	err = tapError("tap_x", fmt.Errorf("tap: creating TAP: %w (%w)", tap.ErrPermission, unix.EACCES))
	if !errors.As(err, &pe) || pe.Capability != "CAP_NET_ADMIN" || !errors.Is(err, unix.EACCES) ||
		!strings.Contains(err.Error(), "CAP_NET_ADMIN") || !strings.Contains(err.Error(), "tap_x") {
		t.Errorf("TAP permission error: %v", err)
	}
	if err := tapError("tap_x", fmt.Errorf("tap: opening /dev/net/tun: %w", unix.ENOENT)); !strings.Contains(err.Error(), "/dev/net/tun is missing") {
		t.Errorf("missing /dev/net/tun: %v", err)
	}
}

// TestBridgeVLANTag sends a VLAN-tagged broadcast into a veth; the kernel
// takes the tag out of the frame on receive, and the bridge must put it
// back before the frame enters the hub.
func TestBridgeVLANTag(t *testing.T) {
	l := newNetLab(t)
	ns0, far0 := l.host(0, "10.204.0.1/24")
	h := hub.New("TEST", hub.DefaultOptions())
	defer h.Close()
	startBridge(t, h, Config{Name: "SID-LOCALBRIDGE-1", Device: l.prefix + "a0"})
	probe, err := h.Attach(hub.PortConfig{Name: "SID-PROBE-1", User: "probe", Kind: hub.KindClient})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()

	frame := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x42,
		0x81, 0x00, 0x20, 0x07, // PCP 1, VLAN 7
		0x88, 0xb5, // local experimental EtherType
	}
	frame = append(frame, bytes.Repeat([]byte("vlan"), 12)...)
	inNetns(t, ns0, func() {
		ifi, err := net.InterfaceByName(far0)
		if err != nil {
			t.Error(err)
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}); err != nil {
			t.Error(err)
		}
	})
	deadline := time.After(3 * time.Second)
	for {
		select {
		case <-probe.Ready():
		case <-deadline:
			t.Fatal("the tagged frame did not reach the hub")
		}
		for _, f := range probe.Drain(nil, 0) {
			b := bytes.Clone(f.Bytes())
			f.Release()
			if len(b) > 16 && b[11] == 0x42 {
				if !bytes.Equal(b, frame) {
					t.Fatalf("frame in the hub:\n% x\nwant\n% x", b, frame)
				}
				return
			}
		}
	}
}

// TestBridgeTapDown: frames for a TAP that is down (EIO on write, also while
// it moves to another namespace) are dropped; the bridge and its TAP stay.
func TestBridgeTapDown(t *testing.T) {
	l := newNetLab(t)
	h := hub.New("TEST", hub.DefaultOptions())
	defer h.Close()
	dev := l.prefix + "d"
	b := startBridge(t, h, Config{Name: "SID-LOCALBRIDGE-1", Device: dev, TapMode: true})
	tapDev := TapName(dev)
	before, err := net.InterfaceByName(tapDev)
	if err != nil {
		t.Fatal(err)
	}
	l.ip("link", "set", tapDev, "down")
	p, err := h.Attach(hub.PortConfig{Name: "SID-TEST-1", User: "test", Kind: hub.KindBridge})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	bcast := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5}, make([]byte, 46)...)
	for range 10 {
		p.Input([][]byte{bcast})
	}
	time.Sleep(300 * time.Millisecond)
	after, err := net.InterfaceByName(tapDev)
	if err != nil || after.Index != before.Index || !b.Active() {
		t.Fatalf("after writes to the down TAP: interface %v (%v), was index %d; bridge active %v, err %v",
			after, err, before.Index, b.Active(), b.Err())
	}
}
