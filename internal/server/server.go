// Package server is the VPN Server: it listens on the VPN ports, terminates
// TLS, runs the SoftEther handshake, authenticates users against the hubs of
// the configuration and attaches each session to its Virtual Hub.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/native"
	"github.com/ethervpn/ethervpn/internal/osprio"
	"github.com/ethervpn/ethervpn/internal/packetlog"
	"github.com/ethervpn/ethervpn/internal/runset"
	"github.com/ethervpn/ethervpn/internal/session"
)

// ConfigFile is the name of the configuration file inside the data directory.
const ConfigFile = "vpn_server.config"

// Product identity sent in the hello. The real client only displays it.
const (
	productName    = "SoftEther VPN Server Developer Edition (64 bit) (ethervpn)"
	productVersion = 501
	productBuild   = 9674
)

// Server is one running VPN server.
type Server struct {
	dir  string
	log  *slog.Logger
	tls  *tls.Config
	cert tls.Certificate

	// ctl owns the configuration (see internal/control). Its lock is
	// taken before mu, never after.
	ctl *control.Owner
	// farm is the server's membership of a farm, nil when it stands
	// alone (farm.go).
	farm *farmNode

	mu       sync.Mutex
	cfg      *config.Server  // what runs: ctl's current configuration, set by reconcile under mu
	hubs     map[string]*Hub // by upper-cased name
	sessions map[[20]byte]*Session
	counter  uint64 // connection ids (CID-n)

	adminRPC AdminRPC
	web      http.Handler
	webSrv   webServer // see web.go

	limiter      *loginLimiters
	seclog       *securityLog
	plog         *packetlog.Writer
	conns        *connLimiter
	listeners    []net.Listener   // given to Serve
	cfgListeners *configListeners // ListenerList (see listeners.go)
	udp          *udpListeners    // OpenVPN's PortsUDP (see openvpn.go)
	ovpn         ovpnStats        // what the OpenVPN service dropped
	ovpnMACs     native.UniqueIDs // numbers of the tun clients' MACs
	wguard       wgService        // the WireGuard server (see wireguard.go)
	// openConfigured: Run serves the configured listeners (guarded by mu).
	openConfigured bool
	wg             sync.WaitGroup // accept loops
	sessWG         sync.WaitGroup // session goroutines; Add only under mu while serving
	track          connTracker    // connections in the handshake or the admin RPC (see conn.go)
	// life ends when Serve begins to stop: it ends the admin RPC
	// connections and the pauses of answers to wrong passwords.
	life    context.Context
	endLife context.CancelFunc

	adm adminState // see admin.go

	bridges    *localBridges // see localbridge.go
	l3         *l3Switches   // see l3.go
	bridgeRole atomic.Bool   // VPN Bridge: no VPN logins (see bridgerole.go)

	queues *hub.QueueBudget // bounds the output queues of every hub together (see dataPathOptions)

	// testAdmitted, when set (tests only), runs after a login passed the
	// hub's session limits and before its port is attached: tests widen
	// that window to prove that racing logins are counted.
	testAdmitted func()
}

// Hub is a Virtual Hub together with its configuration.
type Hub struct {
	*hub.Hub
	cfg     *config.Hub   // its configuration, guarded by Server.mu (replaced, never changed, by the owner's changes)
	counter atomic.Uint64 // session numbers (SID-USER-n)

	nat   *natRun  // its SecureNAT (see securenat.go)
	links *linkRun // its cascades (see cascade.go)

	acList atomic.Pointer[[]acEntry] // the Source IP Address Limit List in effect

	aclApply aclApply   // see acl.go
	admitMu  sync.Mutex // held from the session-limit checks to the attach (see hubadmin.go)
}

// Session is one logged-in session of a hub.
type Session struct {
	*session.Session
	Name    string
	User    string
	Hub     *Hub
	Created time.Time
	Remote  net.Addr
	port    *hub.Port
	key     [20]byte
	encrypt bool
}

// Open loads DIR/vpn_server.config, or creates DIR and a default
// configuration on first start, and prepares the hubs. It does not listen
// yet: call Run.
//
// A file that exists but cannot be used (damaged, truncated, a value the
// server cannot use, an unusable certificate or key) is an error naming
// the file, the line and the reason, and the newest backup that
// RestoreBackup would put back; the file is then left exactly as it was.
func Open(dir string, log *slog.Logger) (*Server, error) {
	return open(dir, log, nil)
}

// open is Open, for a node of a farm when f is not nil (OpenNode).
func open(dir string, log *slog.Logger, f *FarmOptions) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	path := filepath.Join(dir, ConfigFile)
	store := &config.Store{Path: path}
	if removed, err := store.RemoveStaleTemp(); len(removed) > 0 || err != nil {
		log.Info("removed temporary configuration files an interrupted save left behind", "files", removed, "err", err)
	}
	var src control.Store = store
	var fm *farmNode
	if f != nil {
		var err error
		if fm, err = openFarm(*f, store, log); err != nil {
			return nil, err
		}
		src = fm.store
	}
	var cfg *config.Server
	root, err := src.Load()
	if f != nil && err != nil {
		// etcd cannot be read: a node that ran before starts from the
		// copy in its file and takes the farm's configuration when etcd
		// answers (farmNode.run); a new node cannot start.
		if root, err = fm.fromFile(store, err); err != nil {
			fm.close()
			return nil, err
		}
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		log.Info("no configuration found: starting from the default", "file", path)
		cfg = config.Default()
	case err != nil:
		return nil, refuseConfig(store, err)
	default:
		if cfg, err = readConfig(root); err != nil {
			return nil, refuseConfig(store, fmt.Errorf("%s: %w", path, err))
		}
		log.Info("configuration loaded", "file", path, "hubs", len(cfg.Hubs), "listeners", len(cfg.Listeners))
		warnEmptyAdminPassword(log, root, cfg)
	}
	raisePriority(cfg, log)
	seclog := newSecurityLog(log.Handler(), dir)
	log = slog.New(seclog)
	s := &Server{
		seclog:   seclog,
		dir:      dir,
		log:      log,
		cfg:      cfg,
		hubs:     map[string]*Hub{},
		sessions: map[[20]byte]*Session{},
		limiter:  newLoginLimiters(),
		conns:    newConnLimiterFromConfig(cfg),
		adm:      adminState{started: time.Now()},
	}
	s.life, s.endLife = context.WithCancel(context.Background())
	s.farm = fm
	s.ctl = control.New(cfg, src, log)
	s.ctl.SetApply(s.reconcile)
	s.cfgListeners = runset.New(s.listen)
	s.udp = runset.New(s.listenUDP)
	s.bridges = runset.New(s.startBridge)
	s.l3 = runset.New(s.startL3Switch)
	s.plog = packetlog.NewWriter(filepath.Join(dir, "packet_log"), hostServices(), packetLogQueue, s.packetLogToSyslog)
	if err := s.loadCert(); err != nil {
		return nil, err
	}
	if made, err := cfg.EnsureWireGuardKey(); err != nil { // saved below, as the certificate
		return nil, fmt.Errorf("generating the WireGuard key: %w", err)
	} else if made {
		log.Info("generated the server's WireGuard private key")
	}
	for _, hc := range cfg.Hubs {
		s.addHub(hc)
	}
	for _, h := range s.hubs {
		s.ApplyAccessLists(h) // reads user list files: not under s.mu, so not in addHub
		s.ApplySecureNAT(h)
	}
	s.applySyslog()
	if err := s.Save(); err != nil {
		return nil, err
	}
	return s, nil
}

// readConfig builds the model of a loaded file and checks what the model
// leaves to the server: the certificate and key.
func readConfig(root *config.Folder) (*config.Server, error) {
	cfg, err := config.FromTree(root)
	if err != nil {
		return nil, err
	}
	if _, _, err := configuredCert(cfg); err != nil {
		sc := root.Folder("ServerConfiguration")
		if line := sc.ItemLine("ServerCert"); line > 0 {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		return nil, err
	}
	return cfg, nil
}

// refuseConfig explains a configuration the server will not start with
// and what the administrator can do.
func refuseConfig(store *config.Store, err error) error {
	hint := fmt.Sprintf("no backup exists in %s: fix the file, or move it away to start from the defaults", store.BackupDir())
	if list, _ := store.Backups(); len(list) > 0 {
		hint = fmt.Sprintf("the newest backup is %s (saved %s): `ethervpn server --restore-backup` with the same --data-dir puts it back (keeping the damaged file), or fix the file",
			list[0].Path, list[0].Time.Format("2006-01-02 15:04:05"))
	}
	return fmt.Errorf("refusing to start (the configuration file was not changed): %w; %s", err, hint)
}

// ErrConfigUsable is returned by RestoreBackup when the configuration
// file loads as it is.
var ErrConfigUsable = errors.New("the configuration loads as it is: nothing was restored (to go back to an older backup, stop the server and copy it over the file)")

// RestoreBackup puts the newest usable backup of DIR/vpn_server.config
// in place of the file (see config.Store.RestoreBackup): one the server
// would start with. It returns the backup used and where the replaced file
// was kept ("" when there was none). A file the server would start with
// is left alone (ErrConfigUsable).
func RestoreBackup(dir string) (config.Backup, string, error) {
	store := &config.Store{Path: filepath.Join(dir, ConfigFile)}
	if root, err := store.Load(); err == nil {
		if _, err := readConfig(root); err == nil {
			return config.Backup{}, "", fmt.Errorf("%s: %w", store.Path, ErrConfigUsable)
		}
	}
	return store.RestoreBackup(func(root *config.Folder) error {
		_, err := readConfig(root)
		return err
	})
}

// configuredCert parses the certificate and key of the configuration. It
// reports ok=false when there is neither (a first start, or a file
// without them: the server then makes one); one without the other, or
// either unusable, is an error saying which.
func configuredCert(cfg *config.Server) (cert tls.Certificate, ok bool, err error) {
	switch {
	case len(cfg.CertDER) == 0 && len(cfg.KeyDER) == 0:
		return tls.Certificate{}, false, nil
	case len(cfg.KeyDER) == 0:
		return tls.Certificate{}, false, errors.New("ServerConfiguration has a ServerCert but no ServerKey; restore the key, or remove ServerCert to have a new self-signed certificate made")
	case len(cfg.CertDER) == 0:
		return tls.Certificate{}, false, errors.New("ServerConfiguration has a ServerKey but no ServerCert; restore the certificate, or remove ServerKey to have a new self-signed certificate made")
	}
	if cert, err = parseKeyPair(cfg.CertDER, cfg.KeyDER); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("%w (set a usable pair with ServerCertSet, or remove ServerCert and ServerKey to have a new self-signed certificate made)", err)
	}
	return cert, true, nil
}

// loadCert uses the configured certificate, or makes and keeps a new one
// when the configuration has none. An unusable one is an error: replacing
// it silently would change the server's identity under its clients.
func (s *Server) loadCert() error {
	cert, ok, err := configuredCert(s.cfg)
	if err != nil {
		return err
	}
	if ok {
		s.cert, s.tls = cert, tlsConfig(cert)
		return nil
	}
	certDER, keyDER, err := newSelfSignedCert()
	if err != nil {
		return fmt.Errorf("generating server certificate: %w", err)
	}
	if cert, err = parseKeyPair(certDER, keyDER); err != nil {
		return err
	}
	s.cfg.CertDER, s.cfg.KeyDER = certDER, keyDER
	s.cert, s.tls = cert, tlsConfig(cert)
	s.log.Info("generated a self-signed server certificate", "subject", s.cert.Leaf.Subject.CommonName)
	return nil
}

func (s *Server) addHub(hc *config.Hub) *Hub {
	opt := hub.DefaultOptions()
	opt.Log = s.log // the hub names itself in every record
	s.dataPathOptions(&opt, hc)
	h := &Hub{Hub: hub.New(hc.Name, opt), cfg: hc}
	h.nat, h.links = s.newNatRun(h), s.newLinkRun(h)
	s.applyHubLogs(h)
	s.applyACList(h)
	h.SetOnline(hc.Online)
	s.hubs[strings.ToUpper(hc.Name)] = h
	s.log.Info("virtual hub started", "hub", hc.Name, "online", hc.Online, "users", len(hc.Users))
	return h
}

// LookupHub returns the hub with the given name (case-insensitive).
func (s *Server) LookupHub(name string) *Hub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hubs[strings.ToUpper(name)]
}

// Hubs returns the hubs.
func (s *Server) Hubs() []*Hub {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := make([]*Hub, 0, len(s.hubs))
	for _, h := range s.hubs {
		hs = append(hs, h)
	}
	return hs
}

// Sessions returns the live sessions of every hub.
func (s *Server) Sessions() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := make([]*Session, 0, len(s.sessions))
	for _, x := range s.sessions {
		ss = append(ss, x)
	}
	return ss
}

// Save writes the configuration atomically.
func (s *Server) Save() error {
	if err := s.ctl.Save(); err != nil {
		return fmt.Errorf("saving %s: %w", filepath.Join(s.dir, ConfigFile), err)
	}
	return nil
}

// Run serves on the configured listeners (ListenerList), kept in line
// with the configuration as administrators change it, until ctx is done.
// It fails at once when none could be opened.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	s.openConfigured = true
	s.mu.Unlock()
	return s.Serve(ctx)
}

// Serve accepts VPN connections on lns until ctx is done; then it closes
// the listeners and every session and saves the configuration. The
// configured listeners are not opened (Run opens them): Serve is for
// embedding and tests, which choose their own listeners.
func (s *Server) Serve(ctx context.Context, lns ...net.Listener) error {
	s.mu.Lock()
	s.listeners = append(s.listeners, lns...)
	s.adm.serving = true
	s.mu.Unlock()
	s.syncListeners()
	if len(lns) == 0 && s.cfgListeners.Len() == 0 {
		s.mu.Lock()
		s.adm.serving = false
		s.mu.Unlock()
		return errors.New("no listener could be opened: check ListenerList in the configuration and that the ports are free")
	}
	for _, ln := range lns {
		s.log.Info("listening", "addr", ln.Addr().String())
		s.wg.Add(1)
		go s.acceptLoop(ln)
	}
	s.applyRunning()
	s.wg.Add(1)
	go func() {
		defer guard.Recover(s.log, "log eraser", nil)
		s.runLogEraser(ctx)
	}()
	if s.farm != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer guard.Recover(s.log, "farm", nil)
			s.farm.run(ctx, s)
		}()
	}
	<-ctx.Done()
	s.log.Info("stopping")
	// Every listener (those given, and the configured ones through
	// applyRunning), cascade, local bridge, switch and SecureNAT.
	s.mu.Lock()
	s.adm.serving = false
	lns = s.listeners
	s.mu.Unlock()
	s.endLife() // before applyRunning: SecureNAT runs until the server's life ends
	for _, ln := range lns {
		ln.Close()
	}
	s.applyRunning()
	s.webSrv.stop()
	for _, x := range s.Sessions() {
		x.Close(errServerStopping)
	}
	s.wg.Wait()
	s.track.stop() // after the accept loops: no connection comes in any more
	s.sessWG.Wait()
	err := s.Save()
	if s.farm != nil {
		s.farm.close()
	}
	if err != nil {
		return err
	}
	s.seclog.w.close()
	s.plog.Close()
	if n := s.plog.Dropped(); n > 0 {
		s.log.Warn("packet log records were dropped because the disk did not keep up", "records", n)
	}
	s.log.Info("configuration saved; stopped")
	return nil
}

var errServerStopping = errors.New("server is stopping")

// pause waits for d, or less when the server stops.
func (s *Server) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.life.Done():
	}
}

// Addrs returns the addresses the server listens on.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var as []net.Addr
	for _, l := range s.listeners {
		as = append(as, l.Addr())
	}
	s.cfgListeners.Each(func(_ uint16, _ string, l *openListener) { as = append(as, l.ln.Addr()) })
	return as
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, do not spin.
			delay = min(max(delay*2, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		addr := netip.Addr{}
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			addr = ap.Addr().Unmap()
		}
		lc, reason := s.conns.accept(c, addr)
		if lc == nil {
			if s.conns.shouldLog(time.Now()) {
				s.log.Warn("connection refused: "+reason+" (DoS protection; see ServerConfiguration: MaxConnectionsPerIP, MaxUnestablishedConnections, DisableDosProtection)", "remote", addr.String())
			}
			c.Close()
			continue
		}
		if !s.track.add(lc) { // stopping
			lc.Close()
			continue
		}
		go func() {
			defer s.track.done(lc)
			s.serveConn(lc)
		}()
	}
}

// raisePriority gives the process SoftEther's nice -20 unless the config's
// NoHighPriorityProcess says not to (see package osprio for why).
func raisePriority(cfg *config.Server, log *slog.Logger) {
	if cfg.NoHighPriorityProcess {
		log.Info("keeping the normal CPU priority (NoHighPriorityProcess is set)")
		return
	}
	if err := osprio.Raise(); err != nil {
		log.Warn("cannot raise the CPU priority", "err", err)
		return
	}
	log.Info("CPU priority raised as SoftEther does (set ServerConfiguration/NoHighPriorityProcess true to keep it normal)", "nice", osprio.HighNice)
}

// warnEmptyAdminPassword says so when the loaded file leaves the server
// administrator without a password. SoftEther always writes HashedPassword
// (SHA-0 of "" when none is set), so a file without the item was damaged
// or written by hand: a damaged item name (a byte changed on disk) reads
// as an unknown item, and the password would be lost without a word.
func warnEmptyAdminPassword(log *slog.Logger, root *config.Folder, cfg *config.Server) {
	if !config.IsEmptyPasswordHash(cfg.AdminPasswordHash) {
		return
	}
	if root.Folder("ServerConfiguration").Item("HashedPassword") == nil {
		log.Warn("the configuration has no ServerConfiguration/HashedPassword item (a damaged or hand-written file?): the server administrator has no password, so administration is allowed from this machine only; set one with ServerPasswordSet, or restore a backup (ethervpn server --restore-backup)")
		return
	}
	log.Warn("the server administrator has no password: administration is allowed from this machine only; set one with ServerPasswordSet")
}
