package server

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/ethervpn/ethervpn/internal/runset"
)

// configListeners are the TCP listeners of ListenerList that are enabled:
// one runset keyed by port, whose value is the address to bind (ListenIP),
// so that a changed ListenIP reopens them all. They are open while the
// server serves under Run. Listeners handed to Serve by its caller are not
// part of the set; a configured port that one of them serves is skipped.
type configListeners = runset.Set[uint16, string, *openListener]

// openListener is one open configured listener.
type openListener struct{ ln net.Listener }

// Stop closes the listener; its accept loop ends and the sessions that
// came in through it carry on.
func (l *openListener) Stop() { l.ln.Close() }

// listen opens one configured port and starts accepting on it. A
// bind failure is logged and shows as Errors=1 in EnumListener, as on
// SoftEther; the next syncListeners tries again.
func (s *Server) listen(port uint16, ip string) (*openListener, error) {
	addr := net.JoinHostPort(ip, strconv.Itoa(int(port)))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EACCES) {
			s.log.Warn("cannot bind a privileged port without root or CAP_NET_BIND_SERVICE; skipping it", "port", port)
		} else {
			s.log.Warn("cannot listen; is the port free?", "addr", addr, "err", err)
		}
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.log.Info("listening", "addr", ln.Addr().String())
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return &openListener{ln}, nil
}

// syncListeners opens and closes the configured listeners to match
// ListenerList and ListenIP while the server serves them (under Run), and
// closes them all when it does not. Admin methods that change listeners
// call it.
func (s *Server) syncListeners() {
	s.cfgListeners.Sync(func() map[uint16]string {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.adm.serving || !s.openConfigured {
			return nil
		}
		ip := s.cfg.ListenIP
		if ip == "0.0.0.0" {
			ip = ""
		}
		given := map[uint16]bool{}
		for _, ln := range s.listeners {
			given[listenerPort(ln)] = true
		}
		want := map[uint16]string{}
		for _, l := range s.cfg.Listeners {
			if l.Enabled && l.Port != 0 && !given[l.Port] {
				want[l.Port] = ip
			}
		}
		return want
	})
}

// listening reports which ports are open (configured or given to Serve).
func (s *Server) listening() map[uint16]bool {
	open := map[uint16]bool{}
	s.mu.Lock()
	for _, ln := range s.listeners {
		open[listenerPort(ln)] = true
	}
	s.mu.Unlock()
	s.cfgListeners.Each(func(port uint16, _ string, _ *openListener) { open[port] = true })
	return open
}

func listenerPort(ln net.Listener) uint16 {
	if ta, ok := ln.Addr().(*net.TCPAddr); ok {
		return uint16(ta.Port)
	}
	return 0
}

// isServing reports whether Serve runs (configured listeners that are
// enabled but not open are then in error).
func (s *Server) isServing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adm.serving
}
