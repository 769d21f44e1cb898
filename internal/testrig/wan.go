package testrig

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// Addresses of the wan link AddWAN creates.
const (
	WANHostIP   = "10.254.0.2" // the wan host
	WANServerIP = "10.254.0.1" // the server namespace's side
)

// AddWAN creates the "wan" namespace: a host standing for the Internet
// that SecureNAT reaches through the server namespace's ordinary sockets.
// A veth joins them (WANServerIP/24 "wan0" in the server namespace,
// WANHostIP/24 "eth0" on the wan host), and the server namespace's
// resolv.conf names the wan host as its only DNS server. Call it before
// StartServer: both servers read resolv.conf when they start.
//
// The server namespace still has no default route: the wan subnet and the
// client underlays are all it can reach.
func (r *Rig) AddWAN() *Netns {
	r.t.Helper()
	n := r.addNetns("wan")
	n.IP, n.ServerIP = WANHostIP, WANServerIP
	r.must("ip", "link", "add", "wan0", "netns", r.Server.Name, "type", "veth", "peer", "name", "eth0", "netns", n.Name)
	r.must("ip", "-n", r.Server.Name, "addr", "add", WANServerIP+"/24", "dev", "wan0")
	r.must("ip", "-n", n.Name, "addr", "add", WANHostIP+"/24", "dev", "eth0")
	r.must("ip", "-n", r.Server.Name, "link", "set", "wan0", "up")
	r.must("ip", "-n", n.Name, "link", "set", "eth0", "up")
	conf := filepath.Join("/etc/netns", r.Server.Name, "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver "+WANHostIP+"\n"), 0o644); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	return n
}

// Do runs f on an OS thread that has entered the namespace. Sockets f
// opens belong to the namespace for their whole life, so a test can talk
// from inside a namespace without a helper process. f must not start
// goroutines that open sockets, and must use IP addresses, not names.
func (n *Netns) Do(f func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open(filepath.Join("/run/netns", n.Name))
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("testrig: entering %s: %w", n.Name, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked: the runtime ends it with the goroutine
		// instead of reusing a thread in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("testrig: leaving %s: %w", n.Name, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// DNSZone is the zone the rig's DNS responder answers for.
const DNSZone = "rig.test."

// DNSServer is a small authoritative DNS server on port 53 (UDP and TCP): A queries
// for names under DNSZone get one A record (the address it was started
// with, TTL 60), other types there get an empty answer, and names outside
// the zone get REFUSED, so nothing is ever resolved off the machine.
type DNSServer struct {
	conn    net.PacketConn
	ln      net.Listener
	answer  net.IP
	wg      sync.WaitGroup
	mu      sync.Mutex
	queries []string // "name type" of each query answered
}

// StartDNSServer starts a DNSServer on ip:53 inside the namespace that
// answers A queries with ip. Stop (also run on cleanup) ends it, after
// which queries meet a closed port.
func (r *Rig) StartDNSServer(n *Netns, ip string) *DNSServer {
	r.t.Helper()
	addr := net.ParseIP(ip).To4()
	if addr == nil {
		r.t.Fatalf("testrig: DNS server address %q is not IPv4", ip)
	}
	s := &DNSServer{answer: addr}
	err := n.Do(func() error {
		var err error
		if s.conn, err = net.ListenPacket("udp4", net.JoinHostPort(ip, "53")); err != nil {
			return err
		}
		if s.ln, err = net.Listen("tcp4", net.JoinHostPort(ip, "53")); err != nil {
			s.conn.Close()
		}
		return err
	})
	if err != nil {
		r.t.Fatalf("testrig: DNS server in %s: %v", n.Name, err)
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	r.t.Cleanup(s.Stop)
	return s
}

func (s *DNSServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 4096)
	for {
		nr, peer, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.answerQuery(buf[:nr]); resp != nil {
			_, _ = s.conn.WriteTo(resp, peer)
		}
	}
}

// serveTCP answers DNS over TCP (RFC 1035 4.2.2: each message is preceded
// by its 16-bit length), one connection at a time.
func (s *DNSServer) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		dc := &dns.Conn{Conn: c}
		for {
			q, err := dc.ReadMsgHeader(nil)
			if err != nil {
				break
			}
			resp := s.answerQuery(q)
			if resp == nil {
				break
			}
			if _, err := dc.Write(resp); err != nil {
				break
			}
		}
		c.Close()
	}
}

func (s *DNSServer) answerQuery(q []byte) []byte {
	resp, what := DNSAnswer(q, s.answer)
	if resp != nil {
		s.mu.Lock()
		s.queries = append(s.queries, what)
		s.mu.Unlock()
	}
	return resp
}

// Queries lists the questions answered so far, as "name TYPE".
func (s *DNSServer) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// Stop closes the server's sockets; it may be called again.
func (s *DNSServer) Stop() {
	s.conn.Close()
	s.ln.Close()
	s.wg.Wait()
}

// DNSAnswer builds the DNSServer's answer to the query q, and a short
// description of the question. It returns nil for anything that is not a
// query with exactly one question.
func DNSAnswer(q []byte, a net.IP) ([]byte, string) {
	var req dns.Msg
	if err := req.Unpack(q); err != nil || req.Response || req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 {
		return nil, ""
	}
	question := req.Question[0]
	var resp dns.Msg
	resp.SetReply(&req)
	resp.Authoritative = true
	switch {
	case !dns.IsSubDomain(DNSZone, strings.ToLower(question.Name)):
		resp.Rcode = dns.RcodeRefused
	case question.Qtype == dns.TypeA && question.Qclass == dns.ClassINET:
		resp.Answer = []dns.RR{&dns.A{
			Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A:   a,
		}}
	}
	b, err := resp.Pack()
	if err != nil {
		return nil, ""
	}
	return b, question.Name + " " + dns.TypeToString[question.Qtype]
}

// HTTPPort is the port of the HTTP server StartHTTPServer runs.
const HTTPPort = 8080

// StartHTTPServer serves a directory with busybox httpd on HTTPPort in the
// namespace (stopped on cleanup), with one file "/blob" of size random
// bytes in it, and returns the file's contents.
func (r *Rig) StartHTTPServer(n *Netns, size int) []byte {
	r.t.Helper()
	root := filepath.Join(n.Dir, "www")
	if err := os.MkdirAll(root, 0o755); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	blob := make([]byte, size)
	if _, err := rand.Read(blob); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "blob"), blob, 0o644); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	port := strconv.Itoa(HTTPPort)
	p := StartProc(r.t, "httpd "+n.Name, filepath.Join(n.Dir, "httpd.log"),
		n.Cmd("busybox", "httpd", "-f", "-p", port, "-h", root)...)
	p.StopGrace = 2 * time.Second
	if err := n.WaitTCP("127.0.0.1", HTTPPort, 10*time.Second, p); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	return blob
}

// IperfUDPResult is the receiver's view of one iperf3 UDP run.
type IperfUDPResult struct {
	Packets, LostPackets int64
	BitsPerSecond        float64 // as received
	LostPercent          float64
}

// IperfUDP runs an iperf3 UDP client from the namespace to dst (which runs
// StartIperfServer) for d at bitrate (iperf3 -b syntax, e.g. "100M").
func (n *Netns) IperfUDP(dst string, d time.Duration, bitrate string) (IperfUDPResult, error) {
	secs := max(int(d.Round(time.Second)/time.Second), 1)
	out, err := n.Run(time.Duration(secs+30)*time.Second, "iperf3", "-c", dst, "-p", strconv.Itoa(IperfPort),
		"-u", "-b", bitrate, "-t", strconv.Itoa(secs), "-J", "--connect-timeout", "5000")
	res, perr := ParseIperfUDPJSON([]byte(out))
	if err != nil {
		return res, err
	}
	return res, perr
}

// ParseIperfUDPJSON reads the receiver totals of iperf3 -u -J output.
func ParseIperfUDPJSON(b []byte) (IperfUDPResult, error) {
	var doc struct {
		Error string `json:"error"`
		End   struct {
			SumReceived *struct {
				BitsPerSecond float64 `json:"bits_per_second"`
				LostPackets   int64   `json:"lost_packets"`
				Packets       int64   `json:"packets"`
				LostPercent   float64 `json:"lost_percent"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return IperfUDPResult{}, fmt.Errorf("testrig: iperf3 output: %w", err)
	}
	if doc.Error != "" {
		return IperfUDPResult{}, fmt.Errorf("testrig: iperf3: %s", doc.Error)
	}
	s := doc.End.SumReceived
	if s == nil {
		return IperfUDPResult{}, errors.New("testrig: iperf3 output has no receiver totals")
	}
	return IperfUDPResult{Packets: s.Packets, LostPackets: s.LostPackets, BitsPerSecond: s.BitsPerSecond, LostPercent: s.LostPercent}, nil
}
