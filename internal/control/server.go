package control

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Server-wide settings: listeners, the administrator password, TLS,
// keep-alive, syslog and the whole configuration. Only the server
// administrator calls these operations (the method table says so).

// listenerIndex is the index of the listener on port in ls, or -1.
func listenerIndex(ls []config.Listener, port uint32) int {
	return slices.IndexFunc(ls, func(l config.Listener) bool { return uint32(l.Port) == port })
}

// CreateListener adds a TCP listener on port, enabled or not.
func (o *Owner) CreateListener(port uint32, enable bool) error {
	if port == 0 || port > 65535 {
		return vpnerr.InvalidParameter
	}
	return o.Update(func(next *config.Server) error {
		if listenerIndex(next.Listeners, port) >= 0 {
			return vpnerr.ListenerAlreadyExists
		}
		next.Listeners = append(next.Listeners, config.Listener{Port: uint16(port), Enabled: enable})
		return nil
	})
}

// DeleteListener removes the listener on port.
func (o *Owner) DeleteListener(port uint32) error {
	return o.Update(func(next *config.Server) error {
		i := listenerIndex(next.Listeners, port)
		if i < 0 {
			return vpnerr.ListenerNotFound
		}
		next.Listeners = slices.Delete(next.Listeners, i, i+1)
		return nil
	})
}

// EnableListener opens (enable) or closes the listener on port, which
// stays configured.
func (o *Owner) EnableListener(port uint32, enable bool) error {
	return o.Update(func(next *config.Server) error {
		i := listenerIndex(next.Listeners, port)
		if i < 0 {
			return vpnerr.ListenerNotFound
		}
		next.Listeners[i].Enabled = enable
		return nil
	})
}

// SetServerPassword sets the server administrator's password as its hash
// SHA0(password); SHA0("") means none (administration from localhost
// only).
func (o *Owner) SetServerPassword(hash []byte) error {
	return o.Update(func(next *config.Server) error {
		next.AdminPasswordHash = bytes.Clone(hash)
		return nil
	})
}

// SetServerCipher sets the TLS cipher name, which the front-end has
// checked against what the server offers.
func (o *Owner) SetServerCipher(name string) error {
	if name == "" {
		return vpnerr.InvalidParameter
	}
	return o.Update(func(next *config.Server) error {
		next.CipherName = name
		return nil
	})
}

// SetServerCert sets the server's certificate and private key (DER),
// which the front-end has checked to be a usable pair; what runs uses
// them for new connections.
func (o *Owner) SetServerCert(certDER, keyDER []byte) error {
	if len(certDER) == 0 || len(keyDER) == 0 {
		return vpnerr.InvalidParameter
	}
	return o.Update(func(next *config.Server) error {
		next.CertDER, next.KeyDER = bytes.Clone(certDER), bytes.Clone(keyDER)
		return nil
	})
}

// SetKeep sets the keep-alive settings and returns them as saved (the
// interval is kept between 5 and 600 seconds, as in SoftEther).
func (o *Owner) SetKeep(k config.KeepConnect) (config.KeepConnect, error) {
	if k.Use && (k.Host == "" || k.Port == 0 || k.Port > 65535 || k.Protocol > 1) {
		return k, vpnerr.InvalidParameter
	}
	k.Interval = min(max(k.Interval, 5), 600)
	return k, o.Update(func(next *config.Server) error {
		next.KeepConnect = k
		return nil
	})
}

// Syslog save types (config.Syslog.SaveType).
const (
	SyslogOff = 0
	SyslogAll = 3 // server, hub security and packet logs
)

// SetSysLog sets where the logs are sent by syslog and returns the
// settings as saved (port 0 is 514). A host that cannot be reached now is
// stored all the same, as the real vpnserver does: what runs says so in
// its log.
func (o *Owner) SetSysLog(l config.Syslog) (config.Syslog, error) {
	if l.SaveType > SyslogAll || l.Port > 65535 || (l.SaveType != SyslogOff && l.HostName == "") {
		return l, vpnerr.InvalidParameter
	}
	if l.Port == 0 {
		l.Port = 514
	}
	return l, o.Update(func(next *config.Server) error {
		next.Syslog = l
		return nil
	})
}

// ConfigText is the current configuration as the text of its file.
func (o *Owner) ConfigText() []byte {
	var text []byte
	o.View(func(cur *config.Server) { text = cur.ToTree().Encode() }) // the tree is written under the owner's lock only
	return text
}

// SetConfig replaces the whole configuration with the file text. read
// builds and checks the model of the parsed file as the server does when
// it starts (a file the server would refuse to start with is refused
// here, before anything changes); it runs under the owner's lock. What
// runs then restarts from the new configuration (see ApplyFunc).
func (o *Owner) SetConfig(text []byte, read func(root *config.Folder) (*config.Server, error)) error {
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i] // a C string, as vpncmd sends it
	}
	root, err := config.Parse(text)
	if err != nil {
		return refusedConfig(err)
	}
	return o.update(func(next *config.Server) error {
		cfg, err := read(root)
		if err != nil {
			return refusedConfig(err)
		}
		*next = *cfg
		return nil
	}, true)
}

// refusedConfig is a configuration file that SetConfig refused: it
// answers as InvalidParameter and says why.
func refusedConfig(err error) error {
	return fmt.Errorf("%w: configuration refused: %v", vpnerr.InvalidParameter, err)
}
