package dhcpd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// TestUdhcpcInterop runs the real busybox udhcpc against the server: the
// client sits in a namespace of its own on one end of a veth pair, and the
// test moves frames between the other end (an AF_PACKET socket in the rig's
// server namespace) and HandleFrame.
func TestUdhcpcInterop(t *testing.T) {
	var miss []string
	if os.Geteuid() != 0 {
		miss = append(miss, "root")
	}
	for _, p := range []string{"ip", "busybox"} {
		if _, err := exec.LookPath(p); err != nil {
			miss = append(miss, p)
		}
	}
	if len(miss) > 0 {
		msg := "udhcpc interop test needs " + strings.Join(miss, ", ")
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	rig := testrig.New(t)
	client := rig.AddClient() // server side "c1", client side "u0"
	h := newHarness(t, defaultConfig())
	h.now = time.Time{}
	h.s.cfg.clock = time.Now

	fd, err := packetSocket(rig.Server.Name, "c1")
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		bridgeFrames(t, fd, h.s, stop)
	}()
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		unix.Close(fd)
	})

	script := filepath.Join(client.Dir, "udhcpc.script")
	result := filepath.Join(client.Dir, "udhcpc.out")
	// The script records what udhcpc learnt and configures the address, so
	// that the kernel can send the unicast RELEASE of "udhcpc -R".
	err = os.WriteFile(script, []byte("#!/bin/sh\n"+
		`echo "$1 ip=$ip subnet=$subnet router=$router dns=$dns lease=$lease serverid=$serverid domain=$domain" >> `+result+"\n"+
		`[ "$1" = bound ] && ip addr replace "$ip/$subnet" dev "$interface"`+"\n"+
		"exit 0\n"), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	udhcpc := func(extra ...string) string {
		t.Helper()
		os.Remove(result)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		args := append([]string{"netns", "exec", client.Name, "busybox", "udhcpc", "-i", "u0", "-f", "-q", "-n",
			"-t", "5", "-T", "1", "-s", script, "-x", "hostname:interop"}, extra...)
		out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("udhcpc: %v\n%s", err, out)
		}
		got, err := os.ReadFile(result)
		if err != nil {
			t.Fatalf("udhcpc script did not run: %v\n%s", err, out)
		}
		return string(got)
	}

	got := udhcpc()
	want := "bound ip=192.168.30.10 subnet=255.255.255.0 router=192.168.30.1 dns=192.168.30.1 lease=7200 serverid=192.168.30.1 domain=example.test"
	if !strings.Contains(got, want) {
		t.Fatalf("udhcpc reported\n%s\nwant %s", got, want)
	}
	ls := h.s.Leases()
	if len(ls) != 1 || ls[0].IP != ip4("192.168.30.10") || ls[0].Hostname != "interop" {
		t.Fatalf("lease table %+v", ls)
	}

	// Again, staying bound this time, then releasing on SIGUSR2 (busybox
	// 1.35 does not send the RELEASE of "-q -R"): same address, and the
	// lease stays, as on SoftEther (RELEASE is ignored).
	os.Remove(result)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", client.Name, "busybox", "udhcpc", "-i", "u0", "-f",
		"-t", "5", "-T", "1", "-s", script, "-x", "hostname:interop")
	var cmdOut strings.Builder
	cmd.Stdout, cmd.Stderr = &cmdOut, &cmdOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the deferred Wait below
		if t.Failed() {
			t.Logf("udhcpc output:\n%s", cmdOut.String())
		}
	})
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	waitFor(t, "the second lease", func() bool {
		b, _ := os.ReadFile(result)
		return strings.Contains(string(b), "bound ip=192.168.30.10 ")
	})
	h.logs.take()
	if err := cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the RELEASE", func() bool {
		for _, m := range h.logs.take() {
			if strings.HasPrefix(m, "DEBUG SecureNAT: DHCP RELEASE ignored") {
				return true
			}
		}
		return false
	})
	if ls := h.s.Leases(); len(ls) != 1 || ls[0].IP != ip4("192.168.30.10") {
		t.Fatalf("lease table after RELEASE %+v, want the lease kept", ls)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// packetSocket opens an AF_PACKET socket on ifname inside netns. The thread
// enters the namespace only for the socket call; the socket stays there.
func packetSocket(netns, ifname string) (int, error) {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return -1, err
	}
	defer orig.Close()
	target, err := os.Open(filepath.Join("/run/netns", netns))
	if err != nil {
		runtime.UnlockOSThread()
		return -1, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return -1, err
	}
	fd, err := func() (int, error) {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return -1, err
		}
		proto := htons(unix.ETH_P_ALL)
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
		if err != nil {
			return -1, err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return -1, err
		}
		tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	}()
	if err2 := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err2 != nil {
		// Leave the thread locked: the runtime discards it when the
		// goroutine ends instead of reusing a thread in the wrong namespace.
		return fd, errors.Join(err, fmt.Errorf("restoring the namespace: %w", err2))
	}
	runtime.UnlockOSThread()
	return fd, err
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// bridgeFrames feeds every frame arriving on fd to s and writes the
// replies back, until stop is closed.
func bridgeFrames(t *testing.T, fd int, s *Server, stop <-chan struct{}) {
	buf := make([]byte, 2048)
	var out [][]byte
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			t.Errorf("recvfrom: %v", err)
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		out, _ = s.HandleFrame(buf[:n], out[:0])
		if r := arpReply(buf[:n], s); r != nil {
			out = append(out, r)
		}
		for _, f := range out {
			if _, err := unix.Write(fd, f); err != nil {
				t.Errorf("write: %v", err)
			}
		}
	}
}

// arpReply answers an ARP request for the server's address, the job of the
// SecureNAT virtual host around the DHCP server.
func arpReply(f []byte, s *Server) []byte {
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:14]) != 0x0806 || binary.BigEndian.Uint16(f[20:22]) != 1 {
		return nil
	}
	ip := s.cfg.serverIP.As4()
	if string(f[38:42]) != string(ip[:]) {
		return nil
	}
	r := make([]byte, 42)
	copy(r[0:6], f[6:12])
	copy(r[6:12], s.cfg.serverMAC[:])
	copy(r[12:20], f[12:20]) // ethertype, hardware/protocol types and sizes
	binary.BigEndian.PutUint16(r[20:22], 2)
	copy(r[22:28], s.cfg.serverMAC[:])
	copy(r[28:32], ip[:])
	copy(r[32:42], f[22:32]) // the asker's MAC and IP
	return r
}
