package server

import (
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// serverConfLocked is the ServerConfiguration folder (s.mu held).
func (s *Server) serverConfLocked() *config.Folder { return s.cfg.Tree.Ensure("ServerConfiguration") }

// admGetKeep answers the keep-alive (KeepConnect) settings (RPC_KEEP).
func admGetKeep(a *adminCall) (*pack.Pack, error) {
	a.lock()
	defer a.unlock()
	sc := a.s.serverConfLocked()
	out := pack.New()
	out.AddBool("UseKeepConnect", sc.GetBool("UseKeepConnect"))
	out.AddStr("KeepConnectHost", sc.GetString("KeepConnectHost"))
	out.AddInt("KeepConnectPort", sc.GetUint("KeepConnectPort"))
	out.AddInt("KeepConnectProtocol", sc.GetUint("KeepConnectProtocol"))
	out.AddInt("KeepConnectInterval", sc.GetUint("KeepConnectInterval"))
	return out, nil
}

// admSetKeep stores the keep-alive settings. ethervpn keeps them for
// SoftEther compatibility but never sends the packets: it does not contact
// hosts on the Internet on its own.
func admSetKeep(a *adminCall) (*pack.Pack, error) {
	in := a.in
	host, port, proto, interval := in.Str("KeepConnectHost"), in.Int("KeepConnectPort"), in.Int("KeepConnectProtocol"), in.Int("KeepConnectInterval")
	if in.Bool("UseKeepConnect") && (host == "" || port == 0 || port > 65535 || proto > 1) {
		return nil, vpnerr.InvalidParameter
	}
	interval = min(max(interval, 5), 600)
	a.lock()
	sc := a.s.serverConfLocked()
	sc.SetBool("UseKeepConnect", in.Bool("UseKeepConnect"))
	sc.SetString("KeepConnectHost", host)
	sc.SetUint("KeepConnectPort", port)
	sc.SetUint("KeepConnectProtocol", proto)
	sc.SetUint("KeepConnectInterval", interval)
	a.unlock()
	if in.Bool("UseKeepConnect") {
		a.s.log.Warn("keep-alive settings stored; ethervpn does not send keep-alive packets to Internet hosts")
	}
	return echo(in), nil
}

// admGetSysLog answers the syslog settings (SYSLOG_SETTING).
func admGetSysLog(a *adminCall) (*pack.Pack, error) {
	a.lock()
	defer a.unlock()
	f := a.s.serverConfLocked().Ensure("SyslogSettings")
	out := pack.New()
	out.AddInt("SaveType", f.GetUint("SaveType"))
	out.AddStr("Hostname", f.GetString("HostName"))
	out.AddInt("Port", f.GetUint("Port"))
	return out, nil
}

// admSetSysLog stores the syslog settings and starts or stops forwarding.
func admSetSysLog(a *adminCall) (*pack.Pack, error) {
	saveType, host, port := a.in.Int("SaveType"), a.in.Str("Hostname"), a.in.Int("Port")
	if saveType > syslogAll || port > 65535 || (saveType != syslogOff && host == "") {
		return nil, vpnerr.InvalidParameter
	}
	if port == 0 {
		port = 514
	}
	// A host that cannot be reached now (no route, name not resolved) is
	// stored all the same, as the real vpnserver does (SoftEther Admin.c,
	// StSetSysLog checks nothing): the settings are the administrator's,
	// and the server tries again when it starts.
	if err := a.s.seclog.setSyslog(int(saveType), host, uint16(port)); err != nil {
		a.s.log.Warn("syslog settings stored but logs are not forwarded: check the host name and the route to it, then set them again or restart the server",
			"host", host, "port", port, "err", err)
		a.s.seclog.setSyslog(syslogOff, "", 0) // not on to the previous host either
	}
	a.lock()
	f := a.s.serverConfLocked().Ensure("SyslogSettings")
	f.SetUint("SaveType", saveType)
	f.SetString("HostName", host)
	f.SetUint("Port", port)
	a.unlock()
	return echo(a.in), nil
}

// admRebootServer is refused: restart the process (systemctl restart, or
// SIGTERM and start) instead. Resetting the configuration is a matter of
// moving vpn_server.config away while the server is stopped.
func admRebootServer(a *adminCall) (*pack.Pack, error) {
	a.s.log.Warn("RebootServer refused: restart the ethervpn process instead")
	return nil, vpnerr.NotSupported
}

// applySyslog starts syslog forwarding as the configuration says.
func (s *Server) applySyslog() {
	s.mu.Lock()
	f := s.serverConfLocked().Folder("SyslogSettings")
	var saveType, port uint32
	var host string
	if f != nil {
		saveType, host, port = f.GetUint("SaveType"), f.GetString("HostName"), f.GetUint("Port")
	}
	s.mu.Unlock()
	if err := s.seclog.setSyslog(int(saveType), host, uint16(port)); err != nil {
		s.log.Warn("cannot forward logs to syslog", "err", err)
	}
}
