package cli

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// seTime converts SoftEther's time (Unix ms - 9 h) to local time.
func seTime(se uint64) time.Time { return time.UnixMilli(int64(se) + 32400000).Local() }

// dateTime is vpncmd's "2006-01-02 15:04:05", or none for time 0.
func dateTime(se uint64, none string) string {
	if se == 0 {
		return none
	}
	return seTime(se).Format("2006-01-02 15:04:05")
}

// dateTimeW is vpncmd's long form with the weekday: "2026-11-21 (Sat) 06:29:47".
func dateTimeW(se uint64, none string) string {
	if se == 0 {
		return none
	}
	return seTime(se).Format("2006-01-02 (Mon) 15:04:05")
}

// num formats n with thousands separators, as vpncmd does for sizes.
func num(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func dec(n uint64) string { return strconv.FormatUint(n, 10) }

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// mac formats a MAC address as vpncmd does: 5E-AA-2E-9D-AC-70.
func mac(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, "-")
}

// parseMAC reads "00-AC-01-23-45-67", "00:ac:01:23:45:67" or "00ac01234567".
func parseMAC(s string) ([]byte, bool) {
	h := strings.NewReplacer("-", "", ":", "", ".", "").Replace(s)
	if len(h) != 12 {
		return nil, false
	}
	out := make([]byte, 6)
	for i := range out {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, false
		}
		out[i] = byte(v)
	}
	return out, true
}

// u64At reads value i of an INT or INT64 element.
func u64At(p *pack.Pack, name string, i int) uint64 {
	if e, ok := p.Lookup(name); ok && (e.Type == pack.TypeInt || e.Type == pack.TypeInt64) && i < len(e.Ints) {
		return e.Ints[i]
	}
	return 0
}

// strAt reads value i of a STR or UNISTR element.
func strAt(p *pack.Pack, name string, i int) string {
	if e, ok := p.Lookup(name); ok && (e.Type == pack.TypeStr || e.Type == pack.TypeUniStr) && i < len(e.Strs) {
		return e.Strs[i]
	}
	return ""
}

// dataAt reads value i of a DATA element.
func dataAt(p *pack.Pack, name string, i int) []byte {
	if e, ok := p.Lookup(name); ok && e.Type == pack.TypeData && i < len(e.Blobs) {
		return e.Blobs[i]
	}
	return nil
}

// ipAt reads value i of an IP field (docs/protocol/admin.md#ip-fields).
func ipAt(p *pack.Pack, name string, i int) netip.Addr {
	if u64At(p, name+"@ipv6_bool", i) != 0 {
		if a := dataAt(p, name+"@ipv6_array", i); len(a) == 16 {
			return netip.AddrFrom16([16]byte(a))
		}
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(u64At(p, name, i)))
	return netip.AddrFrom4(b)
}

// ipOrNone shows 0.0.0.0 as "None", as vpncmd does for optional addresses.
func ipOrNone(ip netip.Addr) string {
	if ip.IsUnspecified() {
		return "None"
	}
	return ip.String()
}

// count is the number of records of a list: the values of its key field.
func count(p *pack.Pack, key string) int { return p.Count(key) }

// trafficRows adds the eight traffic counters of a Traffic block
// (prefix "" or "Ex.").
func trafficRows(t *table, p *pack.Pack) {
	for _, dir := range []struct{ name, key string }{{"Outgoing", "Send"}, {"Incoming", "Recv"}} {
		for _, kind := range []string{"Unicast", "Broadcast"} {
			t.item(dir.name+" "+kind+" Packets", num(p.Int64(dir.key+"."+kind+"Count"))+" packets")
			t.item(dir.name+" "+kind+" Total Size", num(p.Int64(dir.key+"."+kind+"Bytes"))+" bytes")
		}
	}
}

// transfer sums the TrafficEx counters of record i: bytes and packets.
func transfer(p *pack.Pack, i int) (bytes, packets uint64) {
	for _, d := range []string{"Ex.Recv.", "Ex.Send."} {
		for _, k := range []string{"Broadcast", "Unicast"} {
			bytes += u64At(p, d+k+"Bytes", i)
			packets += u64At(p, d+k+"Count", i)
		}
	}
	return bytes, packets
}
