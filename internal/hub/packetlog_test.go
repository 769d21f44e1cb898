package hub

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

// recordSink collects packet-log records.
type recordSink struct {
	mu   sync.Mutex
	recs []PacketRecord
}

func (s *recordSink) add(r PacketRecord) {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
}

func (s *recordSink) take() []PacketRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs
	s.recs = nil
	return r
}

func TestPacketLogLevels(t *testing.T) {
	syn := eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, tcp(1000, 80, tcpSYN)))
	data := eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, tcp(1000, 80, tcpACK)))
	get := eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, append(tcp(1000, 80, tcpACK), "GET / HTTP/1.1\r\n"...)))
	dns := eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoUDP, 0, udp(5353, 53, []byte("q"))))
	udpData := ipFrame(mac(2), mac(1), "10.0.0.1", "10.0.0.2")
	dhcpReq := dhcp(bcast, mac(1), 1, 3, mac(1), "0.0.0.0")
	arp := arpRequest(mac(1), "10.0.0.1", "10.0.0.2")
	other := raw(mac(2), mac(1))
	ipv6f := eth(mac(2), mac(1), etherIPv6, ipv6("fe80::1", "fe80::2", protoUDP, udp(1, 2, []byte("x"))))

	defaults := PacketLogLevels{TCPConn: PacketLogHeader, DHCP: PacketLogHeader} // SoftEther's
	cases := []struct {
		name   string
		pl     PacketLog
		frames [][]byte
		want   []PacketLogLevel // per frame; None = no record
	}{
		{"defaults", PacketLog{Levels: defaults},
			[][]byte{syn, data, dns, udpData, dhcpReq, arp, other, ipv6f, get},
			[]PacketLogLevel{1, 0, 1, 0, 1, 0, 0, 0, 1}},
		{"ethernet all", PacketLog{Levels: PacketLogLevels{Ethernet: PacketLogAll}},
			[][]byte{data, other}, []PacketLogLevel{2, 2}},
		{"tcp header, tcpconn all", PacketLog{Levels: PacketLogLevels{TCP: PacketLogHeader, TCPConn: PacketLogAll}},
			[][]byte{syn, data, udpData}, []PacketLogLevel{2, 1, 0}},
		{"arp and ip", PacketLog{Levels: PacketLogLevels{ARP: PacketLogHeader, IP: PacketLogHeader}},
			[][]byte{arp, udpData, ipv6f, other}, []PacketLogLevel{1, 1, 1, 0}},
		{"no IPv4", PacketLog{Levels: PacketLogLevels{Ethernet: PacketLogHeader}, NoIPv4: true},
			[][]byte{arp, udpData, ipv6f, other}, []PacketLogLevel{0, 0, 1, 1}},
		{"no IPv6", PacketLog{Levels: PacketLogLevels{Ethernet: PacketLogHeader}, NoIPv6: true},
			[][]byte{udpData, ipv6f}, []PacketLogLevel{1, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, _ := testHub(t, nil)
			a := attach(t, h, "A", Policy{})
			b := attach(t, h, "B", Policy{})
			send(b, raw(bcast, mac(2))) // b owns mac 2: unicast from now on
			var sink recordSink
			pl := c.pl
			pl.Sink = sink.add
			h.SetPacketLog(&pl)
			for i, f := range c.frames {
				send(a, f)
				recs := sink.take()
				if c.want[i] == PacketLogNone {
					if len(recs) != 0 {
						t.Errorf("frame %d: logged %+v, want no record", i, recs)
					}
					continue
				}
				if len(recs) != 1 || recs[0].Level != c.want[i] {
					t.Errorf("frame %d: records %+v, want one at level %d", i, recs, c.want[i])
				}
			}
		})
	}
}

func TestPacketLogRecord(t *testing.T) {
	h, _ := testHub(t, nil)
	phys := netip.MustParseAddr("192.0.2.10")
	a, err := h.Attach(PortConfig{Name: "SID-A-1", User: "a", Kind: KindClient, Physical: phys})
	if err != nil {
		t.Fatal(err)
	}
	b := attach(t, h, "SID-B-2", Policy{})
	var sink recordSink
	h.SetPacketLog(&PacketLog{Levels: PacketLogLevels{TCPConn: PacketLogHeader}, Sink: sink.add, HeaderBytes: 40})
	syn := eth(bcast, mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, tcp(1000, 80, tcpSYN)))
	send(a, syn) // flooded
	send(b, eth(mac(1), mac(2), etherIPv4, ipv4("10.0.0.2", "10.0.0.1", protoTCP, 0, tcp(80, 1000, tcpSYN|tcpACK))))
	recs := sink.take()
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(recs), recs)
	}
	fl, uni := recs[0], recs[1]
	if fl.SrcSession != "SID-A-1" || fl.DstSession != "" || fl.SrcPhysical != phys || fl.Length != len(syn) || len(fl.Frame) != 40 {
		t.Errorf("flooded frame's record: %+v", fl)
	}
	if uni.SrcSession != "SID-B-2" || uni.DstSession != "SID-A-1" || uni.DstPhysical != phys || uni.Time.IsZero() {
		t.Errorf("unicast frame's record: %+v", uni)
	}
	// Off again.
	h.SetPacketLog(nil)
	send(a, syn)
	if recs := sink.take(); len(recs) != 0 {
		t.Errorf("records after SetPacketLog(nil): %+v", recs)
	}
}

// TestMaxLoggedPacketsPerMinute: a client session's logged frames beyond
// the cap are dropped, not only unlogged, until the minute is over; frames
// the log does not record, and sessions the cap does not bind, pass.
func TestMaxLoggedPacketsPerMinute(t *testing.T) {
	h, clk := testHub(t, func(o *Options) { o.MaxLoggedPacketsPerMinute = 3 })
	a := attachKind(t, h, "SID-A-1", KindClient, Policy{})
	b := attachKind(t, h, "SID-B-2", KindClient, Policy{})
	nat := attachKind(t, h, "SecureNAT", KindSecureNAT, Policy{})
	var sink recordSink
	h.SetPacketLog(&PacketLog{Levels: PacketLogLevels{TCPConn: PacketLogHeader}, Sink: sink.add})
	send(b, raw(mac(1), mac(2))) // b's MAC is known: a's frames to it are unicast
	drain(a)
	syn := eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, tcp(1000, 80, tcpSYN)))
	data := eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, tcp(1000, 80, tcpACK)))
	for range 5 {
		send(a, syn)
	}
	if got := len(drain(b)); got != 3 {
		t.Fatalf("%d of 5 logged frames passed a cap of 3", got)
	}
	if got := len(sink.take()); got != 3 {
		t.Fatalf("%d records, want 3", got)
	}
	send(a, data) // not logged at these levels: not counted, not capped
	if got := len(drain(b)); got != 1 {
		t.Fatalf("an unlogged frame was dropped by the cap")
	}
	for range 5 { // SecureNAT is not capped
		send(nat, eth(mac(2), mac(9), etherIPv4, ipv4("10.0.0.9", "10.0.0.2", protoTCP, 0, tcp(1000, 80, tcpSYN))))
	}
	if got := len(drain(b)); got != 5 {
		t.Fatalf("%d of 5 SecureNAT frames passed; the cap does not apply to it", got)
	}
	clk.Advance(61 * time.Second)
	send(a, syn)
	if got := len(drain(b)); got != 1 {
		t.Fatalf("the cap still held after the minute")
	}
}
