package server

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
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
	hf := s.hubTreeFolder(h.cfg.Name)
	logs := hf.Folder("LogSetting")
	s.seclog.setEnabled(h.cfg.Name, h.cfg.LogSecurity, switchType(logs, "SecurityLogSwitchType"))
	if !h.cfg.LogPacket {
		h.SetPacketLog(nil)
		return
	}
	lv := func(name string) hub.PacketLogLevel {
		return hub.PacketLogLevel(min(logs.GetUint(name), 2))
	}
	h.SetPacketLog(&hub.PacketLog{
		Levels: hub.PacketLogLevels{
			Ethernet: lv("PACKET_LOG_ETHERNET"), ARP: lv("PACKET_LOG_ARP"), IP: lv("PACKET_LOG_IP"),
			ICMP: lv("PACKET_LOG_ICMP"), TCP: lv("PACKET_LOG_TCP"), TCPConn: lv("PACKET_LOG_TCP_CONN"),
			UDP: lv("PACKET_LOG_UDP"), DHCP: lv("PACKET_LOG_DHCP"),
		},
		NoIPv4: h.cfg.Options.NoIPv4PacketLog,
		NoIPv6: h.cfg.Options.NoIPv6PacketLog,
		Sink:   s.plog.Sink(h.cfg.Name, switchType(logs, "PacketLogSwitchType")),
	})
}

// switchType reads a log switch type item; absent, it is daily.
func switchType(logs *config.Folder, item string) int {
	if it := logs.Item(item); it != nil && it.Type == config.Uint && it.Uint <= logfile.SwitchMonth {
		return int(it.Uint)
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
