package tap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var nsSeq int

// inNetns creates a network namespace for the test, runs f on a thread
// that has entered it, and removes the namespace at the end of the test.
// tapWithPeer creates TAP device name in a namespace of its own, with
// address <subnet>.1/24 and a static neighbour <subnet>.2 (MAC
// 02:00:00:00:00:02), so that the namespace's packets to <subnet>.2 leave
// through the device.
func tapWithPeer(t *testing.T, name, subnet string) (*Device, string) {
	t.Helper()
	var dev *Device
	var err error
	ns := inNetns(t, func() { dev, err = Create(Config{Name: name}) })
	if err != nil {
		t.Fatal(err)
	}
	ipIn(t, ns, "addr", "add", subnet+".1/24", "dev", name)
	ipIn(t, ns, "neigh", "add", subnet+".2", "lladdr", "02:00:00:00:00:02", "dev", name)
	return dev, ns
}

func inNetns(t *testing.T, f func()) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) to create TAP devices and network namespaces")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no /dev/net/tun: %v", err)
	}
	nsSeq++
	name := fmt.Sprintf("evtap%d-%d", os.Getpid()%100000, nsSeq)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	enterNetns(t, name, f)
	return name
}

// enterNetns runs f on a thread that has entered the network namespace
// name.
func enterNetns(t *testing.T, name string, f func()) {
	t.Helper()
	ns, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	runtime.LockOSThread()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime then discards it.
		t.Fatalf("returning to the original namespace: %v", err)
	}
	runtime.UnlockOSThread()
}

func ipIn(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// arpRequest builds an ARP request from mac/ip asking for target.
func arpRequest(mac net.HardwareAddr, ip, target net.IP) []byte {
	f := make([]byte, 42)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:], mac)
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	copy(f[14:], []byte{0, 1, 8, 0, 6, 4, 0, 1})
	copy(f[22:], mac)
	copy(f[28:], ip.To4())
	copy(f[38:], target.To4())
	return f
}

func TestDeviceConfigAndARPThroughPort(t *testing.T) {
	var dev *Device
	var err error
	mac := net.HardwareAddr{0x5e, 1, 2, 3, 4, 5}
	ns := inNetns(t, func() { dev, err = Create(Config{Name: "evtap0", MTU: 1400, MAC: mac, TxQueueLen: 2000}) })
	if err != nil {
		t.Fatal(err)
	}
	p := NewPort(dev, 16)
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run() }()

	link := ipIn(t, ns, "link", "show", "evtap0")
	for _, want := range []string{"mtu 1400", "5e:01:02:03:04:05", "UP", "qlen 2000"} {
		if !strings.Contains(link, want) {
			t.Fatalf("link lacks %q: %s", want, link)
		}
	}
	ipIn(t, ns, "addr", "add", "10.77.0.1/24", "dev", "evtap0")

	// The host answers an ARP request written into the TAP; the reply
	// comes out through the port.
	peer := net.HardwareAddr{0x02, 0, 0, 0, 0, 9}
	p.Input([][]byte{arpRequest(peer, net.IPv4(10, 77, 0, 2), net.IPv4(10, 77, 0, 1))})
	deadline := time.After(5 * time.Second)
	for found := false; !found; {
		select {
		case <-p.Ready():
		case <-deadline:
			t.Fatal("no ARP reply from the host")
		}
		p.Output(64, func(f []byte) {
			if len(f) >= 42 && bytes.Equal(f[:6], peer) && binary.BigEndian.Uint16(f[12:]) == 0x0806 &&
				f[21] == 2 && bytes.Equal(f[6:12], mac) {
				found = true
			}
		})
	}
	st := p.Stats()
	if st.ToDevice != 1 || st.FromDevice == 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	// Closing removed the device.
	if out, err := exec.Command("ip", "-n", ns, "link", "show", "evtap0").CombinedOutput(); err == nil {
		t.Fatalf("device still there after Close: %s", out)
	}
}

func TestPortQueueBoundedAndBatched(t *testing.T) {
	dev, ns := tapWithPeer(t, "evtap1", "10.78.0")
	defer dev.Close()
	p := NewPort(dev, 8)
	go p.Run()
	defer p.Close()
	// 50 UDP datagrams from the host: with nobody draining, the ring
	// holds 8 and the rest wait in the kernel or are dropped there.
	out, err := exec.Command("ip", "netns", "exec", ns, "bash", "-c",
		"for i in $(seq 50); do echo x > /dev/udp/10.78.0.2/9; done").CombinedOutput()
	if err != nil {
		t.Fatalf("sending: %v: %s", err, out)
	}
	time.Sleep(200 * time.Millisecond)
	var got int
	n := p.Output(100, func([]byte) { got++ })
	if n != 8 || got != 8 {
		t.Fatalf("first Output: %d frames, want the ring's 8", n)
	}
	// Draining makes room: the rest follow.
	deadline := time.Now().Add(5 * time.Second)
	for got < 50 && time.Now().Before(deadline) {
		got += p.Output(100, func([]byte) {})
		time.Sleep(10 * time.Millisecond)
	}
	if got < 50 {
		t.Fatalf("%d of 50 frames came out", got)
	}
}

func TestCreateErrors(t *testing.T) {
	if _, err := Create(Config{Name: "a-name-that-is-too-long"}); err == nil {
		t.Fatal("accepted a 23-byte interface name")
	}
	err := wrapPerm("creating TAP \"x\"", unix.EPERM)
	if !errors.Is(err, ErrPermission) || !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
		t.Fatalf("permission error %v does not name CAP_NET_ADMIN", err)
	}
	if errors.Is(wrapPerm("x", unix.EBUSY), ErrPermission) {
		t.Fatal("EBUSY reported as a missing privilege")
	}
	if mac := RandomMAC(); mac[0] != 0x5e || len(mac) != 6 {
		t.Fatalf("random MAC %v", mac)
	}
}

func TestReadBatchAllocatesNothing(t *testing.T) {
	dev, ns := tapWithPeer(t, "evtap2", "10.79.0")
	defer dev.Close()
	if out, err := exec.Command("ip", "netns", "exec", ns, "bash", "-c",
		"for i in $(seq 20); do echo x > /dev/udp/10.79.0.2/9; done").CombinedOutput(); err != nil {
		t.Fatalf("sending: %v: %s", err, out)
	}
	bufs := [][]byte{make([]byte, 2048), make([]byte, 2048)}
	sizes := make([]int, 2)
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := dev.ReadBatch(bufs, sizes); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per ReadBatch", allocs)
	}
}
