package server

import (
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// admGetKeep answers the keep-alive (KeepConnect) settings (RPC_KEEP).
func admGetKeep(a *adminCall) (*pack.Pack, error) {
	var k config.KeepConnect
	a.s.ctl.View(func(cur *config.Server) { k = cur.KeepConnect })
	out := pack.New()
	out.AddBool("UseKeepConnect", k.Use)
	out.AddStr("KeepConnectHost", k.Host)
	out.AddInt("KeepConnectPort", k.Port)
	out.AddInt("KeepConnectProtocol", k.Protocol)
	out.AddInt("KeepConnectInterval", k.Interval)
	return out, nil
}

// admSetKeep stores the keep-alive settings. ethervpn keeps them for
// SoftEther compatibility but never sends the packets: it does not contact
// hosts on the Internet on its own.
func admSetKeep(a *adminCall) (*pack.Pack, error) {
	in := a.in
	k, err := a.s.ctl.SetKeep(config.KeepConnect{
		Use: in.Bool("UseKeepConnect"), Host: in.Str("KeepConnectHost"), Port: in.Int("KeepConnectPort"),
		Protocol: in.Int("KeepConnectProtocol"), Interval: in.Int("KeepConnectInterval"),
	})
	if err != nil {
		return nil, err
	}
	if k.Use {
		a.s.log.Warn("keep-alive settings stored; ethervpn does not send keep-alive packets to Internet hosts")
	}
	return echo(in), nil
}

// admGetSysLog answers the syslog settings (SYSLOG_SETTING).
func admGetSysLog(a *adminCall) (*pack.Pack, error) {
	var l config.Syslog
	a.s.ctl.View(func(cur *config.Server) { l = cur.Syslog })
	out := pack.New()
	out.AddInt("SaveType", l.SaveType)
	out.AddStr("Hostname", l.HostName)
	out.AddInt("Port", l.Port)
	return out, nil
}

// admSetSysLog stores the syslog settings; what runs starts or stops
// forwarding (applySyslog).
func admSetSysLog(a *adminCall) (*pack.Pack, error) {
	_, err := a.s.ctl.SetSysLog(config.Syslog{SaveType: a.in.Int("SaveType"), HostName: a.in.Str("Hostname"), Port: a.in.Int("Port")})
	return echoOr(a, err)
}

// admRebootServer is refused: restart the process (systemctl restart, or
// SIGTERM and start) instead. Resetting the configuration is a matter of
// moving vpn_server.config away while the server is stopped.
func admRebootServer(a *adminCall) (*pack.Pack, error) {
	a.s.log.Warn("RebootServer refused: restart the ethervpn process instead")
	return nil, vpnerr.NotSupported
}

// applySyslog starts syslog forwarding as the configuration says. A host
// that cannot be reached now (no route, name not resolved) stays in the
// configuration all the same, as the real vpnserver keeps it (SoftEther
// Admin.c, StSetSysLog checks nothing): the settings are the
// administrator's, and the server tries again when it starts.
func (s *Server) applySyslog() {
	s.mu.Lock()
	l := s.cfg.Syslog
	s.mu.Unlock()
	if err := s.seclog.setSyslog(int(l.SaveType), l.HostName, uint16(l.Port)); err != nil {
		s.log.Warn("syslog settings stored but logs are not forwarded: check the host name and the route to it, then restart the server (or change the settings)",
			"host", l.HostName, "port", l.Port, "err", err)
		s.seclog.setSyslog(syslogOff, "", 0) // not on to the previous host either
	}
}
