package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/ethervpn/ethervpn/internal/openvpn"
	"github.com/ethervpn/ethervpn/internal/osprio"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// The ovload benchmark loads an OpenVPN server with in-process clients
// (internal/openvpn's client) instead of one real openvpn client and
// iperf3, so that the server, not the client, is the limit:
//
//	ethervpn-bench ovload [-n 2,8] [-t 10] [-runs 1] [-window 512] [-servers ethervpn,softether,openvpn]
//
// N clients in tap mode (AES-256-GCM over UDP) log in to one hub; they
// form N/2 pairs, and each client sends 1514-byte Ethernet frames to its
// partner's MAC as fast as the server passes them: at most -window/N
// frames of one direction in flight (sent and not yet received), so the
// generator spends little on frames a saturated server would drop.
// Every frame received is checked (addresses and content) and counted;
// frames written off after 20 ms without progress count as lost.
//
// Servers: ethervpn's OpenVPN on UDP 1194, the real vpnserver 5.01's
// (hub DEFAULT, as the native benchmark configures it) and openvpn 2.6
// --server in tap mode with client-to-client (it switches frames between
// its clients by MAC, as a hub does). Fairness on two cores: every server
// process (and its threads) runs on CPU 0, the generator (this process)
// on CPU 1 with one Go P, all at nice -20 (what vpnserver and ethervpn
// give themselves; openvpn and the generator are raised to it). The clients reach the server over a veth of
// MTU 9000 (a sealed 1514-byte frame is a 1566-byte datagram, which a
// 1500 underlay would fragment) and send with UDP GSO, so that a frame
// costs the generator less than it costs the server; the receiving
// sockets never ask for UDP GRO, so each server reads (and each client
// is sent) one datagram per frame. On a veth the kernel's receive work
// runs on the sender's CPU: each side pays for delivering the other's
// datagrams, every server alike.
//
// All servers are set up first; the runs are taken in turns (run 1 of
// each server, then run 2...), per client count.

// ovLoadRun is one measurement of one server at one client count.
type ovLoadRun struct {
	clients   int
	secs      float64
	frames    uint64  // frames delivered to their partner, checked
	lost      uint64  // frames sent and never delivered
	bad       uint64  // delivered with wrong content
	serverCPU float64 // seconds
	genCPU    float64 // seconds
	// serverWait and genWait are the seconds the threads were runnable
	// but waited for their CPU (/proc/PID/task/*/schedstat): the share
	// other work on this machine took.
	serverWait, genWait float64
	mbps, fps           float64
	cpuPerGB            float64
	err                 error
}

// ovLoadRow is one server's topology and runs.
type ovLoadRow struct {
	kind    testrig.ServerKind
	r       *testrig.Runner
	server  *testrig.Proc
	clients []*ovClient
	runs    map[int][]ovLoadRun // by client count
	err     error
}

const (
	ovFrameLen = 1514
	ovBatch    = 32
	// ovWriteOff is how long a sender waits for its partner to receive
	// anything before it writes the frames in flight off as lost.
	ovWriteOff = 20 * time.Millisecond
)

// runOVLoad is "ethervpn-bench ovload".
func runOVLoad(args []string) int {
	fs := flag.NewFlagSet("ovload", flag.ExitOnError)
	counts := fs.String("n", "2,8", "client counts (even), one measurement each")
	secs := fs.Int("t", 10, "seconds per run")
	runs := fs.Int("runs", 1, "runs per server and client count; the table shows medians")
	window := fs.Int("window", 512, "frames in flight at most, shared by the N directions (at least 16 each)")
	servers := fs.String("servers", "ethervpn,softether,openvpn", "servers to measure, in order (ethervpn@PATH runs the binary at PATH)")
	fs.Parse(args)
	var ns []int
	for _, s := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 || n%2 != 0 || n > 200 {
			fmt.Fprintf(os.Stderr, "-n: %q is not an even client count from 2 to 200\n", s)
			return 2
		}
		ns = append(ns, n)
	}
	var kinds []testrig.ServerKind
	for _, name := range strings.Split(*servers, ",") {
		k := testrig.ServerKind(strings.TrimSpace(name))
		if _, ok := ethervpnBuild(k); ok || k == testrig.Ethervpn || k == testrig.SoftEther || k == kindOpenVPN {
			kinds = append(kinds, k)
			continue
		}
		fmt.Fprintf(os.Stderr, "unknown server %q (want ethervpn, softether or openvpn)\n", name)
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "ethervpn-bench ovload needs root (network namespaces)")
		return 1
	}
	var miss []string
	for _, k := range kinds {
		switch k {
		case testrig.SoftEther:
			miss = append(miss, testrig.Missing()...)
		case kindOpenVPN:
			if _, err := os.Stat("/usr/sbin/openvpn"); err != nil {
				miss = append(miss, "openvpn")
			}
		}
	}
	if len(miss) > 0 {
		fmt.Fprintf(os.Stderr, "ethervpn-bench ovload needs: %s\n", strings.Join(slices.Compact(miss), ", "))
		return 1
	}
	if runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "ethervpn-bench ovload needs two CPUs: one for the server, one for the generator")
		return 1
	}
	defer testrig.RemoveBuilds()
	maxN := slices.Max(ns)
	var cert, key []byte
	certRunner := testrig.NewRunner(os.Stderr)
	if err := certRunner.Try(func() { cert, key = benchCert(certRunner) }); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	certRunner.Close()
	rows := make([]*ovLoadRow, len(kinds))
	for i, k := range kinds {
		row := &ovLoadRow{kind: k, r: testrig.NewRunner(os.Stderr), runs: map[int][]ovLoadRun{}}
		rows[i] = row
		defer row.r.Close()
		if err := row.r.Try(func() { setupOVLoad(row, maxN, cert, key) }); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", k, err)
			row.err = err
			row.r.Close()
		}
	}
	// The generator: this process on CPU 1, one P (its goroutines then
	// never wait for each other across CPUs).
	restore, err := ovPinSelf(1)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pinning the generator: %v\n", err)
		return 1
	}
	prevProcs := runtime.GOMAXPROCS(1)
	if path := os.Getenv("ETHERVPN_BENCH_CPUPROFILE"); path != "" {
		// The generator's own profile, to see what a run costs it.
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	for _, n := range ns {
		for i := 1; i <= *runs; i++ {
			for _, row := range rows {
				if row.err != nil {
					continue
				}
				rn := measureOVLoad(row, n, *window, time.Duration(*secs)*time.Second)
				row.r.Logf("%s, %d clients, run %d: %.0f Mbit/s, %.0f frames/s, %d lost, %d bad, server %.2f CPU-s (%.2f s waiting for a CPU), generator %.2f CPU-s (%.2f s waiting)",
					row.kind, n, i, rn.mbps, rn.fps, rn.lost, rn.bad, rn.serverCPU, rn.serverWait, rn.genCPU, rn.genWait)
				if rn.err != nil {
					row.r.Logf("%s: %v", row.kind, rn.err)
				}
				row.runs[n] = append(row.runs[n], rn)
			}
		}
	}
	runtime.GOMAXPROCS(prevProcs)
	restore()
	code := 0
	for _, row := range rows {
		for _, c := range row.clients {
			c.close()
		}
		row.r.Close()
		if row.err != nil {
			code = 1
		}
	}
	printOVLoad(os.Stdout, ns, *secs, *runs, *window, rows)
	return code
}

// setupOVLoad starts row's server in a rig of its own, pins it to CPU 0
// and connects maxN clients from one client namespace.
func setupOVLoad(row *ovLoadRow, maxN int, cert, key []byte) {
	r := row.r
	rig := testrig.New(r)
	cli := rig.AddClient()
	// A 1514-byte frame sealed is a 1566-byte IP datagram: an underlay of
	// MTU 9000 carries it whole (at 1500 every datagram would travel in
	// two fragments, on every server alike), and lets the generator send
	// with UDP GSO.
	must(r, "ip", "-n", rig.Server.Name, "link", "set", "c1", "mtu", "9000")
	must(r, "ip", "-n", cli.Name, "link", "set", "u0", "mtu", "9000")
	switch bin, ok := ethervpnBuild(row.kind); {
	case ok:
		old, had := os.LookupEnv("ETHERVPN_BIN")
		os.Setenv("ETHERVPN_BIN", bin)
		row.server = startOVLoadServer(r, rig, testrig.Ethervpn, maxN, cert, key).Proc
		if had {
			os.Setenv("ETHERVPN_BIN", old)
		} else {
			os.Unsetenv("ETHERVPN_BIN")
		}
	case row.kind == kindOpenVPN:
		row.server = startOpenVPNTapServer(r, rig, cert, key)
	default:
		row.server = startOVLoadServer(r, rig, row.kind, maxN, cert, key).Proc
	}
	if err := ovPinTree(row.server.Pid(), 0); err != nil {
		r.Fatalf("pinning %s to CPU 0: %v", row.kind, err)
	}
	pinned, err := x509.ParseCertificate(cert)
	if err != nil {
		r.Fatalf("%v", err)
	}
	addr := fmt.Sprintf("%s:%d", cli.ServerIP, nativeUDPPort)
	for i := range maxN {
		c, err := dialOVClient(cli, addr, i, pinned)
		if err != nil {
			for _, c := range row.clients {
				c.close()
			}
			r.Fatalf("client %d of %s: %v\nserver log: %s", i+1, row.kind, err, tail(row.server.Log(), 15))
		}
		row.clients = append(row.clients, c)
	}
	for i := 0; i+1 < maxN; i += 2 {
		row.clients[i].peer, row.clients[i+1].peer = row.clients[i+1], row.clients[i]
	}
	// Threads a server started while the clients logged in.
	if err := ovPinTree(row.server.Pid(), 0); err != nil {
		r.Fatalf("pinning %s to CPU 0: %v", row.kind, err)
	}
}

// startOVLoadServer starts ethervpn or vpnserver with hub DEFAULT and
// users user1..userN, OpenVPN on UDP 1194 and the benchmark's
// certificate.
func startOVLoadServer(r *testrig.Runner, rig *testrig.Rig, kind testrig.ServerKind, n int, cert, key []byte) *testrig.Server {
	hub := testrig.HubConfig{Name: nativeHub, Password: "hubpw"}
	for i := 1; i <= n; i++ {
		hub.Users = append(hub.Users, testrig.UserConfig{Name: fmt.Sprintf("user%d", i), Password: benchPassword})
	}
	root := openVPNConfig(r, &testrig.ServerConfig{Port: 25555, Hubs: []testrig.HubConfig{hub}}, cert, key)
	return rig.StartServerText(kind, 25555, "", root.Encode())
}

// startOpenVPNTapServer starts openvpn --server in tap mode with
// client-to-client in the server namespace: it switches its clients'
// frames itself, by MAC, without the tap device.
func startOpenVPNTapServer(r *testrig.Runner, rig *testrig.Rig, cert, key []byte) *testrig.Proc {
	// --duplicate-cn: every client is "UNDEF" without certificates.
	return startOpenVPNd(r, rig.Server, cert, key, "tap", "--client-to-client", "--duplicate-cn")
}

// ovClient is one generator client: an OpenVPN client on a UDP socket
// made in the client namespace, a receiving goroutine (recvmmsg) that
// checks and counts its partner's frames, and, during a run, a sending
// goroutine (sendmmsg).
type ovClient struct {
	c      *openvpn.Client
	conn   *net.UDPConn
	pc     *ipv4.PacketConn
	mac    [6]byte
	peer   *ovClient
	window uint64

	sent, writtenOff atomic.Uint64 // frames this client sent (and gave up on)
	recv, bad, other atomic.Uint64 // frames from the partner (checked), bad ones, others
	credit           chan struct{} // the partner received something
	template         [ovFrameLen]byte

	stop chan struct{}
	wg   sync.WaitGroup
}

// ovMAC is client i's MAC address (locally administered).
func ovMAC(i int) [6]byte { return [6]byte{0x02, 0x4c, 0x4f, 0x41, byte(i >> 8), byte(i)} }

// dialOVClient connects client i (user<i+1>) to addr from ns.
func dialOVClient(ns *testrig.Netns, addr string, i int, pinned *x509.Certificate) (*ovClient, error) {
	var conn *net.UDPConn
	if err := ns.Do(func() error {
		raddr, err := net.ResolveUDPAddr("udp4", addr)
		if err != nil {
			return err
		}
		conn, err = net.DialUDP("udp4", nil, raddr)
		return err
	}); err != nil {
		return nil, err
	}
	conn.SetReadBuffer(4 << 20)
	conn.SetWriteBuffer(4 << 20)
	lc := &ovClient{conn: conn, pc: ipv4.NewPacketConn(conn), mac: ovMAC(i),
		credit: make(chan struct{}, 1), stop: make(chan struct{})}
	opts := &openvpn.ClientOptions{
		TLS: &tls.Config{
			// The benchmark's own self-signed certificate, pinned as
			// openvpn's peer-fingerprint pins it.
			InsecureSkipVerify: true,
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 || !bytes.Equal(raw[0], pinned.Raw) {
					return errors.New("not the benchmark's server certificate")
				}
				return nil
			},
		},
		Username: fmt.Sprintf("user%d", i+1), Password: benchPassword,
		DevType: "tap", Ciphers: []string{nativeCipher},
		HandshakeTimeout: 30 * time.Second,
		OnData:           lc.onFrame,
	}
	lc.c = openvpn.NewClient(opts, func(p []byte) { conn.Write(p) })
	lc.wg.Add(2)
	go lc.receive()
	go lc.keepalive()
	lc.c.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := lc.c.Handshake(ctx); err != nil {
		lc.close()
		return nil, err
	}
	if c := lc.c.Cipher(); c != nativeCipher {
		lc.close()
		return nil, fmt.Errorf("data cipher %s, want %s", c, nativeCipher)
	}
	return lc, nil
}

// receive reads the server's datagrams in batches until close.
func (lc *ovClient) receive() {
	defer lc.wg.Done()
	msgs := make([]ipv4.Message, ovBatch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, openvpn.MaxPacket+512)}
	}
	for {
		n, err := lc.pc.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(time.Millisecond) // ECONNREFUSED from an ICMP error
			continue
		}
		for _, m := range msgs[:n] {
			lc.c.HandlePacket(m.Buffers[0][:m.N])
		}
		if p := lc.peer; p != nil {
			select {
			case p.credit <- struct{}{}:
			default:
			}
		}
	}
}

// onFrame checks a decrypted frame: from the partner to this client, with
// the partner's content.
func (lc *ovClient) onFrame(f []byte) {
	p := lc.peer
	if p == nil || len(f) < 14 || [6]byte(f[0:6]) != lc.mac || [6]byte(f[6:12]) != p.mac {
		lc.other.Add(1) // the server's own traffic, floods before learning
		return
	}
	if len(f) != ovFrameLen || !bytes.Equal(f[18:], p.template[18:]) {
		lc.bad.Add(1)
		return
	}
	lc.recv.Add(1)
}

// keepalive sends OpenVPN's ping every 2 s, so that idle sessions
// (between runs) stay up on every server.
func (lc *ovClient) keepalive() {
	defer lc.wg.Done()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			lc.c.SendPing()
		case <-lc.stop:
			return
		}
	}
}

// send sends frames to the partner until stop is closed, keeping at most
// window of them in flight.
func (lc *ovClient) send(stop <-chan struct{}, done *sync.WaitGroup) {
	defer done.Done()
	p := lc.peer
	frame := lc.template
	bufs := make([][]byte, ovBatch)
	msgs := make([]ipv4.Message, ovBatch)
	for i := range bufs {
		bufs[i] = make([]byte, 0, ovFrameLen+128)
		msgs[i].Buffers = [][]byte{nil}
	}
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	var seq uint32
	// The sealed frame's size is the GSO segment size.
	probe, err := lc.c.SealData(nil, frame[:])
	if err != nil {
		return
	}
	lc.sent.Add(1) // the probe is never sent: count it as lost, not as in flight
	lc.writtenOff.Add(1)
	seg := len(probe)
	gso := ovSetGSO(lc.conn, seg) == nil
	big := make([]byte, 0, ovBatch*(seg+64))
	for {
		select {
		case <-stop:
			return
		default:
		}
		sent := lc.sent.Load()
		inflight := sent - p.recv.Load() - lc.writtenOff.Load()
		if inflight >= lc.window {
			idle.Reset(ovWriteOff)
			select {
			case <-lc.credit:
			case <-idle.C:
				// Nothing arrived for a while: what is in flight is lost.
				lc.writtenOff.Store(sent - p.recv.Load())
			case <-stop:
				return
			}
			continue
		}
		k := int(min(uint64(ovBatch), lc.window-inflight))
		if gso {
			// One datagram of k sealed frames, each of segment size:
			// the kernel cuts it (UDP GSO), one pass through the stack.
			buf := big[:0]
			for range k {
				seq++
				frame[14], frame[15], frame[16], frame[17] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
				n := len(buf)
				var err error
				if buf, err = lc.c.SealData(buf, frame[:]); err != nil {
					return
				}
				if len(buf)-n != seg {
					gso = false // the key changed size: plain batches from now
				}
			}
			// A full socket buffer or an ICMP error: the frames count as
			// sent, and lost.
			lc.conn.Write(buf)
			lc.sent.Add(uint64(k))
			continue
		}
		for j := range k {
			seq++
			frame[14], frame[15], frame[16], frame[17] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
			out, err := lc.c.SealData(bufs[j][:0], frame[:])
			if err != nil {
				return
			}
			msgs[j].Buffers[0] = out
		}
		for off := 0; off < k; {
			n, err := lc.pc.WriteBatch(msgs[off:k], 0)
			if err != nil {
				n = k - off // as above: sent, and lost
			}
			off += n
		}
		lc.sent.Add(uint64(k))
	}
}

// ovSetGSO makes the kernel cut every datagram written on conn into
// segments of size bytes (UDP_SEGMENT, Linux 4.18+).
func ovSetGSO(conn *net.UDPConn, size int) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT, size)
	}); err != nil {
		return err
	}
	return serr
}

func (lc *ovClient) close() {
	select {
	case <-lc.stop:
		return
	default:
	}
	close(lc.stop)
	lc.c.Close()
	lc.conn.Close()
	lc.wg.Wait()
}

// measureOVLoad runs the first n clients of row for d (after a second of
// warm-up in which the server learns the MACs) and measures.
func measureOVLoad(row *ovLoadRow, n, window int, d time.Duration) (rn ovLoadRun) {
	rn.clients = n
	cs := row.clients[:n]
	for _, c := range cs {
		c.window = uint64(max(16, window/n))
		c.template = [ovFrameLen]byte{}
		copy(c.template[0:6], c.peer.mac[:])
		copy(c.template[6:12], c.mac[:])
		c.template[12], c.template[13] = 0x88, 0xb5 // IEEE local experimental
		for j := 18; j < ovFrameLen; j++ {
			c.template[j] = byte(j) ^ c.mac[5]
		}
	}
	base := make([]uint64, len(cs))
	for i, c := range cs {
		base[i] = c.sent.Load() - c.peer.recv.Load()
		c.writtenOff.Store(base[i])
		c.bad.Store(0)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go c.send(stop, &wg)
	}
	time.Sleep(time.Second)
	total := func() (f uint64) {
		for _, c := range cs {
			f += c.recv.Load()
		}
		return f
	}
	f0, s0, g0 := total(), ovCPU(row.server.Pid()), ovCPU(os.Getpid())
	sw0, gw0 := ovRunWait(row.server.Pid()), ovRunWait(os.Getpid())
	t0 := time.Now()
	time.Sleep(d)
	f1, s1, g1 := total(), ovCPU(row.server.Pid()), ovCPU(os.Getpid())
	rn.serverWait, rn.genWait = ovRunWait(row.server.Pid())-sw0, ovRunWait(os.Getpid())-gw0
	rn.secs = time.Since(t0).Seconds()
	close(stop)
	wg.Wait()
	time.Sleep(300 * time.Millisecond) // the last frames in flight
	for i, c := range cs {
		// Sent this run and not delivered; a late frame of the previous
		// run counts against this one's losses.
		if lost := c.sent.Load() - c.peer.recv.Load() - base[i]; lost < 1<<62 {
			rn.lost += lost
		}
		rn.bad += c.peer.bad.Load()
	}
	rn.frames, rn.serverCPU, rn.genCPU = f1-f0, s1-s0, g1-g0
	rn.fps = float64(rn.frames) / rn.secs
	rn.mbps = rn.fps * ovFrameLen * 8 / 1e6
	if gb := float64(rn.frames) * ovFrameLen / 1e9; gb > 0 {
		rn.cpuPerGB = rn.serverCPU / gb
	}
	if row.server.Exited() {
		rn.err = fmt.Errorf("the server exited: %s", tail(row.server.Log(), 10))
	}
	return rn
}

// ovCPU is a process's CPU seconds, all threads; -1 if unreadable.
func ovCPU(pid int) float64 {
	s, err := testrig.CPUSeconds(pid)
	if err != nil {
		return -1
	}
	return s
}

// ovRunWait is the seconds pid's threads (those alive now) have spent
// runnable but waiting for a CPU.
func ovRunWait(pid int) float64 {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var ns float64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			v, _ := strconv.ParseFloat(f[1], 64)
			ns += v
		}
	}
	return ns / 1e9
}

// ovPinTree pins every thread of pid and of its descendants to cpu.
func ovPinTree(pid, cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	for _, p := range testrig.ProcTree(pid) {
		if err := ovPinThreads(p, set); err != nil {
			return err
		}
	}
	return nil
}

// ovPinThreads sets the affinity of every thread of pid, and its nice
// value to osprio.HighNice.
func ovPinThreads(pid int, set unix.CPUSet) error {
	tids := testrig.Threads(pid)
	if len(tids) == 0 {
		return fmt.Errorf("process %d has no threads", pid)
	}
	for _, tid := range tids {
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return err
		}
		// The priority vpnserver and ethervpn give themselves, for
		// openvpn and the generator too: on a shared machine a thread
		// at nice 0 waits behind every one at -20.
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, osprio.HighNice); err != nil && !errors.Is(err, unix.ESRCH) {
			return err
		}
	}
	return nil
}

// ovPinSelf pins this process's threads to cpu at nice -20 (threads made
// later inherit both) and returns the function that gives them every CPU
// and nice 0 back.
func ovPinSelf(cpu int) (func(), error) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return nil, err
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := ovPinThreads(os.Getpid(), set); err != nil {
		return nil, err
	}
	return func() {
		ovPinThreads(os.Getpid(), all)
		for _, t := range testrig.Threads(os.Getpid()) {
			unix.Setpriority(unix.PRIO_PROCESS, t, 0)
		}
	}, nil
}

// ovLoadName is the table's name of a row.
func ovLoadName(k testrig.ServerKind) string {
	switch k {
	case testrig.Ethervpn:
		return "ethervpn"
	case testrig.SoftEther:
		return "vpnserver 5.01"
	case kindOpenVPN:
		return "openvpn 2.6 --server"
	}
	return string(k)
}

// ovMedian is the run of median throughput.
func ovMedian(runs []ovLoadRun) ovLoadRun {
	rs := slices.Clone(runs)
	sort.Slice(rs, func(i, j int) bool { return rs[i].mbps < rs[j].mbps })
	return rs[len(rs)/2]
}

func printOVLoad(w io.Writer, ns []int, secs, runs, window int, rows []*ovLoadRow) {
	fmt.Fprintf(w, "\nOpenVPN load: N in-process clients, tap, %s over UDP, N/2 pairs on one hub sending %d-byte frames to each other (%d in flight),\n"+
		"%d s per run, %d run(s), medians; server pinned to CPU 0, generator to CPU 1 (one Go P), both at nice -20 as vpnserver sets itself\n",
		nativeCipher, ovFrameLen, window, secs, runs)
	for _, n := range ns {
		tw := newTable(w, fmt.Sprintf("%d clients", n),
			"server\tMbit/s\tframes/s\tframes lost\tbad\tserver CPU-s\tserver CPU-s per GB\tgenerator CPU-s\twaited for a CPU, server/generator s\truns (Mbit/s)\t")
		med := map[testrig.ServerKind]ovLoadRun{}
		for _, row := range rows {
			if row.err != nil {
				fmt.Fprintf(tw, "%s\tfailed\t%v\t\t\t\t\t\t\t\t\n", ovLoadName(row.kind), row.err)
				continue
			}
			rs := row.runs[n]
			if len(rs) == 0 {
				continue
			}
			m := ovMedian(rs)
			med[row.kind] = m
			var each []string
			for _, r := range rs {
				each = append(each, fmt.Sprintf("%.0f", r.mbps))
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f / %.2f\t%s\t\n", ovLoadName(row.kind), m.mbps, m.fps, m.lost, m.bad,
				m.serverCPU, m.cpuPerGB, m.genCPU, m.serverWait, m.genWait, strings.Join(each, " "))
		}
		tw.Flush()
		fmt.Fprintln(w, "(a server that used well under its CPU while the generator waited for one was not the limit in that run: other work on this machine took the generator's CPU)")
		for _, row := range rows {
			e, ok := med[row.kind]
			if !ok || (row.kind != testrig.Ethervpn && !strings.HasPrefix(string(row.kind), "ethervpn@")) {
				continue
			}
			for _, ref := range []struct {
				kind   testrig.ServerKind
				target float64
			}{{testrig.SoftEther, 2}, {kindOpenVPN, 1}} {
				if s, ok := med[ref.kind]; ok && s.mbps > 0 && s.cpuPerGB > 0 {
					fmt.Fprintf(w, "%s/%s: throughput %.2fx (target >= %.0fx), server CPU per GB %.2fx (lower is better)\n",
						ovLoadName(row.kind), ovLoadName(ref.kind), e.mbps/s.mbps, ref.target, e.cpuPerGB/s.cpuPerGB)
				}
			}
		}
	}
}
