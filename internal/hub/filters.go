package hub

// Filters are the hub-wide protocol filters of SoftEther's hub options
// (FilterPPPoE, FilterOSPF, FilterIPv4, FilterIPv6, FilterNonIP,
// FilterBPDU; docs/protocol/hub.md#hub-options): frames of these kinds entering
// the hub from any port are dropped, before the access list, and counted
// with the access-list drops as on SoftEther, where they are part of the
// access-list check.
type Filters struct {
	PPPoE bool // ethertypes 0x8863 and 0x8864 (PPPoE discovery and session)
	OSPF  bool // IPv4 protocol 89
	IPv4  bool // ethertypes 0x0800 and 0x0806 (IPv4 and ARP)
	IPv6  bool // ethertype 0x86DD
	NonIP bool // any ethertype but IPv4, ARP and IPv6
	BPDU  bool // IEEE 802.1D spanning-tree BPDUs (802.3 frames with LLC 0x42/0x42)
}

// drops reports whether the filters drop frame b, parsed into pk. The
// ethertype tests look at the outermost type, before any VLAN tag, as
// SoftEther's do.
func (f *Filters) drops(b []byte, pk *packet) bool {
	et := pk.outerType
	switch {
	case f.PPPoE && (et == 0x8863 || et == 0x8864),
		f.OSPF && pk.l3 == l3IPv4 && pk.proto == 89,
		f.IPv4 && (et == etherIPv4 || et == etherARP),
		f.IPv6 && et == etherIPv6,
		f.NonIP && et != etherIPv4 && et != etherARP && et != etherIPv6,
		f.BPDU && isBPDU(b):
		return true
	}
	return false
}

// bpduSize is the size of a configuration BPDU after the LLC header.
const bpduSize = 35

// isBPDU reports whether b is an IEEE 802.3 frame (a length, not an
// ethertype, at offset 12) whose LLC header has the spanning-tree SAPs and
// that holds a whole BPDU: SoftEther's test.
func isBPDU(b []byte) bool {
	if len(b) < 14+3+bpduSize {
		return false
	}
	length := int(b[12])<<8 | int(b[13])
	return length < 0x600 && length <= len(b)-14 && length >= 3 && b[14] == 0x42 && b[15] == 0x42
}
