package testrig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ServerKind selects the VPN server implementation under test.
type ServerKind string

// The server implementations the rig can start.
const (
	Ethervpn  ServerKind = "ethervpn"
	SoftEther ServerKind = "softether" // the real Debian vpnserver 5.01
)

// Paths of the Debian SoftEther programs. hamcore.se2 sits next to each.
const (
	VpnServerPath = "/usr/libexec/softether/vpnserver/vpnserver"
	VpnClientPath = "/usr/libexec/softether/vpnclient/vpnclient"
	VpncmdPath    = "/usr/libexec/softether/vpncmd/vpncmd"
)

// ParseServerKind accepts "ethervpn" or "softether".
func ParseServerKind(s string) (ServerKind, error) {
	switch k := ServerKind(strings.TrimSpace(strings.ToLower(s))); k {
	case Ethervpn, SoftEther:
		return k, nil
	}
	return "", fmt.Errorf("unknown server %q (want ethervpn or softether)", s)
}

// SelectedServer returns the implementation named by ETHERVPN_E2E_SERVER
// (default ethervpn).
func SelectedServer(t TB) ServerKind {
	t.Helper()
	v := os.Getenv("ETHERVPN_E2E_SERVER")
	if v == "" {
		return Ethervpn
	}
	k, err := ParseServerKind(v)
	if err != nil {
		t.Fatalf("ETHERVPN_E2E_SERVER: %v", err)
	}
	return k
}

// Server is a running VPN server in the rig's server namespace.
type Server struct {
	Kind ServerKind
	// Port is the TCP listener the clients use; AdminPassword the server
	// administrator password written in the configuration.
	Port          int
	AdminPassword string
	Proc          *Proc
	// DataDir holds vpn_server.config (and whatever the server writes).
	DataDir string
	rig     *Rig
	args    []string // the command line, for Restart
	dir     string   // where the logs go
	starts  int
}

// StartServer writes cfg into a fresh data directory and starts the chosen
// server on it, returning once the listener accepts TCP connections.
func (r *Rig) StartServer(kind ServerKind, cfg *ServerConfig) *Server {
	r.t.Helper()
	return r.StartServerText(kind, cfg.Port, cfg.AdminPassword, cfg.Render())
}

// StartServerText is StartServer with a ready configuration text (for
// example one written by the real vpnserver) that listens on port.
func (r *Rig) StartServerText(kind ServerKind, port int, adminPassword string, config []byte) *Server {
	r.t.Helper()
	return r.startServer(kind, port, adminPassword, config, nil)
}

// StartEthervpn is StartServer for ethervpn with extra arguments after
// "server --data-dir DIR", such as a farm node's --farm, --farm-address
// and --farm-name. Several may run in the server namespace on different
// ports.
func (r *Rig) StartEthervpn(cfg *ServerConfig, extra ...string) *Server {
	r.t.Helper()
	return r.startServer(Ethervpn, cfg.Port, cfg.AdminPassword, cfg.Render(), extra)
}

func (r *Rig) startServer(kind ServerKind, port int, adminPassword string, config []byte, extra []string) *Server {
	r.t.Helper()
	s := &Server{Kind: kind, Port: port, AdminPassword: adminPassword, rig: r}
	dir, err := os.MkdirTemp(r.Server.Dir, string(kind)+"-")
	if err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	var args []string
	switch kind {
	case Ethervpn:
		s.DataDir = filepath.Join(dir, "data")
		args = r.Server.Cmd(append([]string{EthervpnBinary(r.t), "server", "--data-dir", s.DataDir}, extra...)...)
	case SoftEther:
		// SoftEtherCmd mounts dir/db over /var/lib/softether.
		s.DataDir = filepath.Join(dir, "db")
		args = r.Server.SoftEtherCmd(dir, VpnServerPath, "start", "--foreground")
	default:
		r.t.Fatalf("testrig: unknown server kind %q", kind)
	}
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	if err := os.WriteFile(filepath.Join(s.DataDir, "vpn_server.config"), config, 0o600); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	s.args, s.dir = args, dir
	s.start()
	return s
}

// start starts the server's process on its data directory and waits for
// its listener; each start writes its own log.
func (s *Server) start() {
	r := s.rig
	r.t.Helper()
	s.starts++
	log := "server.log"
	if s.starts > 1 {
		log = fmt.Sprintf("server-%d.log", s.starts)
	}
	s.Proc = StartProc(r.t, string(s.Kind)+" server", filepath.Join(s.dir, log), s.args...)
	if err := r.Server.WaitTCP("127.0.0.1", s.Port, 30*time.Second, s.Proc); err != nil {
		r.t.Fatalf("testrig: %s did not start: %v; log: %s", s.Kind, err, lastLines(s.Proc.Log(), 10))
	}
	r.t.Logf("testrig: %s server up in %s (pid %d, port %d)", s.Kind, r.Server.Name, s.Proc.Pid(), s.Port)
}

// Restart starts the server again on the same data directory, with
// whatever configuration it saved, after its process ended (a Stop, a
// kill or a crash). It returns once the listener accepts connections.
func (s *Server) Restart() {
	s.rig.t.Helper()
	if !s.Proc.Exited() {
		s.rig.t.Fatalf("testrig: Restart of %s while its process (pid %d) runs", s.Kind, s.Proc.Pid())
	}
	s.start()
}

// PacketLog returns the packet-log lines the server wrote for hub (stop
// the server first: both write the last records on the way out). The real
// vpnserver in --foreground mode writes its logs to stdout, without the
// hub's name, so with it the lines of every hub come back.
func (s *Server) PacketLog(hub string) ([]string, error) {
	var text string
	if s.Kind == SoftEther {
		text = s.Proc.Log()
	} else {
		files, err := filepath.Glob(filepath.Join(s.DataDir, "packet_log", hub, "pkt_*.log"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			text += string(b)
		}
	}
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimRight(l, "\r")
		if packetLogLine.MatchString(l) {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// packetLogLine matches the start of a packet-log record.
var packetLogLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d,\d\d:\d\d:\d\d\.\d{3},`)

// Stop stops the server (SIGTERM, then SIGKILL after 20 s).
func (s *Server) Stop() error { return s.Proc.Stop(20 * time.Second) }

// LogTail returns the last n lines the server process wrote, for failure
// messages.
func (s *Server) LogTail(n int) string {
	return lastLines(s.Proc.Log(), n)
}

// ConfigText returns the server's current vpn_server.config.
func (s *Server) ConfigText() ([]byte, error) {
	return os.ReadFile(filepath.Join(s.DataDir, "vpn_server.config"))
}

// Vpncmd runs vpncmd in server-admin mode against the real vpnserver, one
// command per line as in a vpncmd /IN: file (e.g. "Hub HUB1", then hub
// commands). It fails for ethervpn, whose admin RPC this rig does not use.
func (s *Server) Vpncmd(lines ...string) (string, error) {
	if s.Kind != SoftEther {
		return "", errors.New("testrig: vpncmd administration is only wired for the real vpnserver")
	}
	f, err := os.CreateTemp(s.rig.Server.Dir, "vpncmd-*.txt")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		f.Close()
		return "", err
	}
	f.Close()
	cmd := []string{VpncmdPath, "127.0.0.1:" + strconv.Itoa(s.Port), "/SERVER", "/IN:" + f.Name()}
	if s.AdminPassword != "" {
		cmd = append(cmd, "/PASSWORD:"+s.AdminPassword)
	}
	return run(60*time.Second, s.rig.Server.SoftEtherCmd(filepath.Join(s.rig.Server.Dir, "vpncmd"), cmd...)...)
}

// WaitTCP waits until host:port inside the namespace accepts a connection.
// It gives up early when proc (if not nil) exits.
func (n *Netns) WaitTCP(host string, port int, timeout time.Duration, proc *Proc) error {
	probe := fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", host, port)
	var exited bool
	ok := waitFor(timeout, 100*time.Millisecond, func() bool {
		if proc != nil && proc.Exited() {
			exited = true
			return true
		}
		_, err := n.Run(5*time.Second, "bash", "-c", probe)
		return err == nil
	})
	switch {
	case exited:
		return fmt.Errorf("%s exited", proc.Name)
	case !ok:
		return fmt.Errorf("%s:%d not accepting after %v", host, port, timeout)
	}
	return nil
}

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// EthervpnBinary returns the ethervpn server binary: $ETHERVPN_BIN if set,
// else one built once per process with go build from the module root above
// the working directory. RemoveBuilds deletes it.
func EthervpnBinary(t TB) string {
	t.Helper()
	if p := os.Getenv("ETHERVPN_BIN"); p != "" {
		return p
	}
	build.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			build.err = err
			return
		}
		if build.dir, err = os.MkdirTemp("", "ethervpn-build-"); err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(build.dir, "ethervpn")
		_, build.err = run(5*time.Minute, "sh", "-c",
			`cd "$1" && exec go build -o "$2" ./cmd/ethervpn`, "build", root, build.path)
	})
	if build.err != nil {
		t.Fatalf("testrig: building ethervpn: %v", build.err)
	}
	return build.path
}

// RemoveBuilds deletes the binary EthervpnBinary built (call it once at the
// end, e.g. from TestMain).
func RemoveBuilds() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testrig: no go.mod above the working directory")
		}
		dir = parent
	}
}
