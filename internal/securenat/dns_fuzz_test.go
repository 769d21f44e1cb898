package securenat

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/miekg/dns"
)

// FuzzDNSProxy drives the DNS proxy with arbitrary bytes on all three
// sides it parses: a client's query (over UDP, and as a TCP stream of
// length-prefixed queries), and an upstream server's UDP datagrams and TCP
// stream. Whatever the bytes, the proxy must not panic, and every answer it
// gives a client must answer that query: the query's ID, the QR bit set,
// framed correctly on TCP.
func FuzzDNSProxy(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("www.example.test.", dns.TypeA)
	query, _ := q.Pack()
	a := new(dns.Msg)
	a.SetReply(q)
	rr, _ := dns.NewRR("www.example.test. 60 IN A 10.254.0.2")
	a.Answer = append(a.Answer, rr)
	answer, _ := a.Pack()
	framed := func(msgs ...[]byte) []byte {
		var b []byte
		for _, m := range msgs {
			b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
			b = append(b, m...)
		}
		return b
	}
	f.Add(query, framed(answer), framed(answer), framed(query, query))
	f.Add(query, framed(query, answer), framed(query), framed(query[:5]))
	f.Add(query[:12], []byte{}, []byte{0, 40, 1}, framed(query[:11], query))
	f.Add([]byte{0, 1, 0x80}, framed([]byte{0, 1, 0x80}), []byte{}, []byte{0})

	var up upstream
	e := newEnv(f, func(c *config.SecureNAT, o *Options) {
		c.SaveLog = true // the upstream-failure log lines run too
		o.Log = slog.New(slog.DiscardHandler)
		o.Resolvers = []netip.AddrPort{netip.MustParseAddrPort("10.99.0.53:53")}
		o.Dial = up.dial
	})
	n := e.nat
	f.Fuzz(func(t *testing.T, query, udpAnswers, tcpAnswer, clientStream []byte) {
		up.udp, up.tcp = udpAnswers, tcpAnswer
		if isDNSQuery(query) {
			for _, network := range []string{"udp", "tcp"} {
				checkAnswer(t, query, n.resolve(query, network))
			}
		}
		// A client's TCP connection: every answer it gets is framed and
		// answers the query it sent before.
		c := &scriptConn{r: bytes.NewReader(clientStream)}
		n.dns.serveTCPConn(c)
		var queries [][]byte
		for r := bytes.NewReader(clientStream); ; {
			m, err := readDNSTCP(r)
			if err != nil || !isDNSQuery(m) {
				break
			}
			queries = append(queries, m)
		}
		out := bytes.NewReader(c.w.Bytes())
		for i := 0; out.Len() > 0; i++ {
			resp, err := readDNSTCP(out)
			if err != nil {
				t.Fatalf("answer %d to a TCP client is not framed: %v", i, err)
			}
			if i >= len(queries) {
				t.Fatalf("%d answers to %d queries", i+1, len(queries))
			}
			checkAnswer(t, queries[i], resp)
		}
	})
}

// checkAnswer fails unless resp answers query q.
func checkAnswer(t *testing.T, q, resp []byte) {
	t.Helper()
	if len(resp) < 12 || resp[0] != q[0] || resp[1] != q[1] || resp[2]&0x80 == 0 {
		t.Fatalf("answer % x does not answer query % x", resp[:min(len(resp), 12)], q[:12])
	}
}

// upstream is a scripted upstream DNS server: UDP answers are a sequence
// of length-prefixed datagrams, the TCP answer a raw stream.
type upstream struct{ udp, tcp []byte }

func (u *upstream) dial(_ context.Context, network, _ string) (net.Conn, error) {
	c := &scriptConn{}
	if network == "udp" {
		c.datagrams = true
		c.r = bytes.NewReader(u.udp)
	} else {
		c.r = bytes.NewReader(u.tcp)
	}
	return c, nil
}

// scriptConn reads a script and records what is written. With datagrams,
// each Read returns one length-prefixed datagram of the script; at its end
// Read reports io.EOF, as a closed socket would, so nothing waits.
type scriptConn struct {
	r         *bytes.Reader
	w         bytes.Buffer
	datagrams bool
}

func (c *scriptConn) Read(p []byte) (int, error) {
	if !c.datagrams {
		return c.r.Read(p)
	}
	d, err := readDNSTCP(c.r)
	if err != nil {
		return 0, io.EOF
	}
	return copy(p, d), nil
}

func (c *scriptConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.UDPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.UDPAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }
