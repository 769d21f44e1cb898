package securenat

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"github.com/ethervpn/ethervpn/internal/guard"
)

// DNS proxy timing. upstreamTimeout is per upstream server; a query tries
// every server in turn and then answers SERVFAIL itself.
var (
	upstreamTimeout = 2500 * time.Millisecond
	dnsConnIdle     = 10 * time.Second // DNS-over-TCP client connections
)

// maxDNSQueries bounds the queries being resolved at once; more are dropped
// (the client retries).
const maxDNSQueries = 256

// dnsProxy relays DNS queries sent to the virtual host's port 53 (UDP and
// TCP) to the upstream resolvers, passing answers back unchanged.
type dnsProxy struct {
	n   *SecureNAT
	udp *gonet.UDPConn
	tcp *gonet.TCPListener
	sem chan struct{}
	wg  sync.WaitGroup
}

func startDNS(n *SecureNAT) (*dnsProxy, error) {
	addr := tcpip.FullAddress{NIC: nicID, Addr: tcpAddr(n.cfg.ip), Port: 53}
	u, err := gonet.DialUDP(n.stack, &addr, nil, ipv4.ProtocolNumber)
	if err != nil {
		return nil, fmt.Errorf("securenat: DNS proxy on UDP port 53: %w", err)
	}
	l, err := gonet.ListenTCP(n.stack, addr, ipv4.ProtocolNumber)
	if err != nil {
		u.Close()
		return nil, fmt.Errorf("securenat: DNS proxy on TCP port 53: %w", err)
	}
	d := &dnsProxy{n: n, udp: u, tcp: l, sem: make(chan struct{}, maxDNSQueries)}
	d.wg.Add(2)
	go d.serveUDP()
	go d.serveTCP()
	return d, nil
}

func (d *dnsProxy) close() {
	d.udp.Close()
	d.tcp.Close()
	d.wg.Wait()
}

// acquire takes a query slot, or reports false when all are busy.
func (d *dnsProxy) acquire() bool {
	select {
	case d.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (d *dnsProxy) serveUDP() {
	defer d.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		nr, from, err := d.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		client, ok := from.(*net.UDPAddr)
		if !ok || !isDNSQuery(buf[:nr]) || !d.acquire() {
			continue // not a query, or overloaded
		}
		q := append([]byte(nil), buf[:nr]...)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer func() { <-d.sem }()
			defer guard.Recover(d.n.opt.Log, "SecureNAT DNS query", nil)
			d.n.trackDNS(client.AddrPort())
			if resp := d.n.resolve(q, "udp"); resp != nil {
				d.udp.WriteTo(resp, client)
			}
		}()
	}
}

func (d *dnsProxy) serveTCP() {
	defer d.wg.Done()
	for {
		c, err := d.tcp.Accept()
		if err != nil {
			return
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer guard.Recover(d.n.opt.Log, "SecureNAT DNS over TCP", func(error) { c.Close() })
			d.serveTCPConn(c)
		}()
	}
}

// serveTCPConn answers length-prefixed queries on one client connection
// (RFC 7766), one at a time, until the client closes or goes idle.
func (d *dnsProxy) serveTCPConn(c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(d.n.ctx, func() { c.Close() })
	defer stop()
	r := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(dnsConnIdle))
		q, err := readDNSTCP(r)
		if err != nil || !isDNSQuery(q) {
			return
		}
		resp := d.n.resolve(q, "tcp")
		if resp == nil {
			return
		}
		if err := writeDNSTCP(c, resp); err != nil {
			return
		}
	}
}

// isDNSQuery reports whether b can be relayed as a query: a whole DNS
// header with QR clear (an answer is never relayed, so that clients cannot
// bounce answers off the upstream servers).
func isDNSQuery(b []byte) bool { return len(b) >= 12 && b[2]&0x80 == 0 }

// readDNSTCP reads one length-prefixed DNS message (RFC 1035 4.2.2).
func readDNSTCP(r io.Reader) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

func writeDNSTCP(w io.Writer, msg []byte) error {
	if len(msg) > 0xffff {
		return errors.New("securenat: DNS message too long for TCP")
	}
	b := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(b, uint16(len(msg)))
	copy(b[2:], msg)
	_, err := w.Write(b)
	return err
}

// trackDNS records a DNS query in the NAT table as a UDP entry from the
// client to the virtual host's port 53, as SoftEther lists its DNS relay
// flows; the entry lives until the UDP timeout after the last query.
func (n *SecureNAT) trackDNS(client netip.AddrPort) {
	client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	dest := netip.AddrPortFrom(n.cfg.ip, 53)
	if f := n.nat.lookup(flowKey{ProtoUDP, client, dest}); f != nil {
		f.touch()
		return
	}
	f := n.nat.newFlow(ProtoUDP, client, dest)
	f.passive = true
	if n.nat.add(f) {
		n.logCreated(f)
	}
}

// resolve relays one query to the upstream servers in turn over network
// ("udp" or "tcp") and returns the first answer unchanged. When none
// answers it returns a SERVFAIL for the query; nil means the query is too
// broken to answer at all.
func (n *SecureNAT) resolve(q []byte, network string) []byte {
	for _, up := range n.opt.Resolvers {
		if n.ctx.Err() != nil {
			return nil
		}
		resp, err := n.exchange(q, network, up)
		if err == nil {
			return resp
		}
		n.logf("DNS_UPSTREAM_FAILED", []slog.Attr{slog.String("upstream", up.String()), slog.String("error", err.Error())},
			"The DNS server %s did not answer: %v", up, err)
	}
	return servfail(q)
}

// exchange sends q to one upstream server and waits for the answer with the
// same id.
func (n *SecureNAT) exchange(q []byte, network string, up netip.AddrPort) ([]byte, error) {
	ctx, cancel := context.WithTimeout(n.ctx, upstreamTimeout)
	defer cancel()
	c, err := n.opt.Dial(ctx, network, up.String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(upstreamTimeout))
	if network == "tcp" {
		if err := writeDNSTCP(c, q); err != nil {
			return nil, err
		}
		resp, err := readDNSTCP(c)
		if err != nil {
			return nil, err
		}
		if !answers(resp, q) {
			return nil, errors.New("answer does not match the query")
		}
		return resp, nil
	}
	if _, err := c.Write(q); err != nil {
		return nil, err
	}
	buf := make([]byte, 64<<10)
	for {
		nr, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		if answers(buf[:nr], q) {
			return append([]byte(nil), buf[:nr]...), nil
		}
	}
}

// answers reports whether resp is an answer to query q: a whole header,
// the query's ID, and QR set (an upstream echoing the query back must not
// reach the client as its answer).
func answers(resp, q []byte) bool {
	return len(resp) >= 12 && resp[0] == q[0] && resp[1] == q[1] && resp[2]&0x80 != 0
}

// servfail builds the SERVFAIL answer to q: same id, opcode and question. A
// query whose question section cannot be parsed gets a bare header.
func servfail(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	var req dns.Msg
	if err := req.Unpack(q); err == nil {
		var resp dns.Msg
		resp.SetRcode(&req, dns.RcodeServerFailure)
		resp.RecursionAvailable = true
		if b, err := resp.Pack(); err == nil {
			return b
		}
	}
	h := make([]byte, 12)
	copy(h, q[:4])
	h[2] = 0x80 | q[2]&0x79 // QR, keep opcode and RD
	h[3] = 0x80 | dns.RcodeServerFailure
	return h
}

// systemResolvers reads the nameserver lines of a resolv.conf file; with
// none it falls back to 127.0.0.1:53, as SoftEther does.
func systemResolvers(path string) []netip.AddrPort {
	var out []netip.AddrPort
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && fields[0] == "nameserver" {
				if a, err := netip.ParseAddr(fields[1]); err == nil {
					out = append(out, netip.AddrPortFrom(a.WithZone(""), 53))
				}
			}
		}
	}
	if len(out) == 0 {
		out = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53")}
	}
	return out
}
