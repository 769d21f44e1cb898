package server

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/logfile"
	"github.com/ethervpn/ethervpn/internal/packetlog"
)

// packetLogQueue bounds the packet-log records waiting for the writer;
// beyond it records are dropped (and counted), never frames.
const packetLogQueue = 16384

// hostServices reads the port names the packet log writes, from
// /etc/services as SoftEther does; without the file ports stay numbers.
func hostServices() packetlog.Services {
	b, err := os.ReadFile("/etc/services")
	if err != nil {
		return packetlog.Services{}
	}
	return packetlog.ParseServices(string(b))
}

// applyHubLogs puts a hub's log settings into effect: its security log
// file on or off, and its packet log (SavePacketLog, the PACKET_LOG_*
// levels and PacketLogSwitchType of LogSetting, NoIPv4PacketLog and
// NoIPv6PacketLog of Option). The caller holds s.mu or is building the
// server.
func (s *Server) applyHubLogs(h *Hub) {
	hc := h.cfg
	s.seclog.setEnabled(hc.Name, hc.LogSecurity, switchType(hc.Log.SecurityLogSwitchType))
	if !hc.LogPacket {
		h.SetPacketLog(nil)
		return
	}
	lv := func(v uint32) hub.PacketLogLevel { return hub.PacketLogLevel(min(v, 2)) }
	p := hc.Log.PacketLog
	h.SetPacketLog(&hub.PacketLog{
		Levels: hub.PacketLogLevels{
			Ethernet: lv(p.Ethernet), ARP: lv(p.ARP), IP: lv(p.IP), ICMP: lv(p.ICMP),
			TCP: lv(p.TCP), TCPConn: lv(p.TCPConn), UDP: lv(p.UDP), DHCP: lv(p.DHCP),
		},
		NoIPv4: hc.Options.NoIPv4PacketLog,
		NoIPv6: hc.Options.NoIPv6PacketLog,
		Sink:   s.plog.Sink(hc.Name, switchType(hc.Log.PacketLogSwitchType)),
	})
}

// switchType is the log switch type v of a hub's settings; one that is
// not a switch type is daily.
func switchType(v uint32) int {
	if v <= logfile.SwitchMonth {
		return int(v)
	}
	return logfile.SwitchDay
}

// packetLogToSyslog sends packet-log records to the syslog server instead
// of the files when SetSysLog's SaveType is 3, as SoftEther does. A
// record of a datagram to the syslog server itself is dropped: sent on,
// it would make another such datagram, a loop (SoftEther's check for it
// never matches).
func (s *Server) packetLogToSyslog(hubName string, r *hub.PacketRecord, t time.Time, csv string) bool {
	sys := s.seclog.w.syslog.Load()
	if sys == nil || sys.saveType < syslogAll {
		return false
	}
	if dst, ok := packetlog.UDPDestination(r.Frame); ok {
		if ra, ok := sys.conn.RemoteAddr().(*net.UDPAddr); ok && ra.AddrPort().Addr().Unmap() == dst.Addr().Unmap() && ra.AddrPort().Port() == dst.Port() {
			return true
		}
	}
	sys.send(fmt.Sprintf("[%s/VPN/%s] (%s) PACKET_LOG: %s", sys.machine, hubName, t.Format("2006-01-02 15:04:05.000"), csv))
	return true
}
