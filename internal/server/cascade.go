package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/runset"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// Cascade connections (docs/protocol/hub.md#cascade, docs/protocol/session.md#cascades-as-clients): a hub of this server logs in to a hub of another server in
// bridge mode and keeps that session up; on the local hub the link is the
// port SID-LINK-<n>, under the cascade's own policy.

// CascadeClientString is what a cascade calls itself in the login: the
// real server's cascade string, which makes peers treat the session as a
// bridge.
const CascadeClientString = "SoftEther VPN Server Developer Edition (Cascade Mode)"

// cascadeUser is the user name of cascade sessions on the local hub.
const cascadeUser = "Cascade"

// cascadeRetry is the fixed retry interval of cascades, randomised by
// ±20 % as the real server does (the link itself waits 60 s instead after
// "busy" errors, docs/protocol/session.md#client-retries).
const cascadeRetry = 10 * time.Second

// linkRun are the running cascade links of one hub, keyed by upper-cased
// account name, whose values are the cascades' settings (so any change to
// a cascade's settings restarts it).
type linkRun = runset.Set[string, config.Cascade, *runningLink]

// runningLink runs one online cascade of one hub.
type runningLink struct {
	s      *Server
	hub    *Hub
	cfg    config.Cascade
	name   string // local session name, SID-LINK-<n>
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	link    *client.Link // the current attempt cycle's link, nil between them
	port    *hub.Port
	lastErr error
	since   time.Time // when the current state began
}

// LinkInfo is the admin view of one cascade (EnumLink, GetLinkStatus).
type LinkInfo struct {
	AccountName string
	Hostname    string // remote server
	Port        uint32
	RemoteHub   string
	Username    string
	Online      bool // configured to run

	// Run-time state, meaningful when Online.
	SessionName      string           // local session, SID-LINK-<n>
	State            client.LinkState // connecting, established, retrying, stopped
	Connected        bool             // State == LinkEstablished
	LastError        error
	Since            time.Time // when State began
	Connections      int       // current TCP connections
	Welcome          *wire.Welcome
	ServerCertSHA256 string
	Server           wire.Hello // the remote server's product, version and build
	Cipher           string     // TLS cipher suite
	Stats            hub.Stats  // of the local SID-LINK port; zero when not attached
}

// ApplyCascades makes the hub's running cascades match its configured
// ones (config.Hub.Cascades): online ones run, offline or removed ones
// stop, and ones whose settings changed in any way restart. Nothing runs
// while the server is not serving, nor for a hub that was removed.
// reconcile calls it for each hub whose configuration changed.
func (s *Server) ApplyCascades(h *Hub) {
	h.links.Sync(func() map[string]config.Cascade {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.adm.serving || s.hubs[strings.ToUpper(h.cfg.Name)] != h {
			return nil
		}
		want := map[string]config.Cascade{}
		for _, c := range h.cfg.Cascades {
			if c.Online {
				want[strings.ToUpper(c.AccountName)] = c.Detached()
			}
		}
		return want
	}) // startLink never fails: a link with bad settings reports why in its status
}

// newLinkRun returns the cascade set of a new hub.
func (s *Server) newLinkRun(h *Hub) *linkRun {
	return runset.New(func(_ string, c config.Cascade) (*runningLink, error) { return s.startLink(h, c), nil })
}

func (s *Server) startLink(h *Hub, c config.Cascade) *runningLink {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningLink{
		s: s, hub: h, cfg: c,
		name:   fmt.Sprintf("SID-LINK-%d", h.counter.Add(1)),
		cancel: cancel, done: make(chan struct{}), since: time.Now(),
	}
	// LH_LINK_START
	s.log.Info("cascade connection started", "hub", h.Name(), "cascade", c.AccountName,
		"server", net.JoinHostPort(c.Hostname, strconv.Itoa(int(c.Port))), "remote_hub", c.HubName, "user", c.Username)
	go func() {
		defer close(r.done)
		// A panic ends this cascade only, with the error for CascadeStatusGet.
		defer guard.Recover(s.log.With("hub", h.Name(), "cascade", c.AccountName), "cascade", r.setErr)
		r.run(ctx)
	}()
	return r
}

// Stop ends the link and waits for it.
func (r *runningLink) Stop() {
	r.cancel()
	<-r.done
	// LH_LINK_STOP
	r.s.log.Info("cascade connection stopped", "hub", r.hub.Name(), "cascade", r.cfg.AccountName)
}

// options are the client settings of the cascade.
func (r *runningLink) options() (client.LinkOptions, error) {
	c := &r.cfg
	o := client.LinkOptions{
		Options: client.Options{
			Server:         net.JoinHostPort(c.Hostname, strconv.Itoa(int(c.Port))),
			Hub:            c.HubName,
			User:           c.Username,
			MaxConnections: int(c.MaxConnection),
			HalfDuplex:     c.HalfConnection,
			Compress:       c.UseCompress,
			NoEncrypt:      !c.UseEncrypt,
			BridgeMode:     true,
			QoS:            !c.DisableQoS,
		},
		ConnectionInterval: time.Duration(max(c.AdditionalConnectionInterval, 1)) * time.Second,
		ConnectionLifetime: time.Duration(c.ConnectionDisconnectSpan) * time.Second,
		ClientString:       CascadeClientString,
		Retries:            -1,
		Log:                r.s.log.With("hub", r.hub.Name(), "cascade", c.AccountName),
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = 8
	}
	switch c.AuthType {
	case config.CascadeAuthAnonymous:
		o.Anonymous = true
	case config.CascadeAuthPassword:
		if len(c.HashedPassword) != 20 {
			return o, errors.New("cascade has password authentication but no 20-byte HashedPassword")
		}
		o.PasswordHash = c.HashedPassword
	case config.CascadeAuthPlain:
		// Auth type 2, as SoftEther sends it: the remote may check it
		// against RADIUS or an NT domain.
		o.Password, o.PlainPassword = c.PlainPassword, true
	default:
		return o, fmt.Errorf("cascade auth type %d is not supported (anonymous, password and plain password are)", c.AuthType)
	}
	if c.CheckServerCert {
		if len(c.ServerCert) == 0 {
			return o, errors.New("cascade checks the server certificate but has none configured")
		}
		sum := sha256.Sum256(c.ServerCert)
		o.PinSHA256 = hex.EncodeToString(sum[:])
	}
	return o, nil
}

// cascadePolicy is the cascade's own policy normalised as the real server
// does for the local side of a link (docs/protocol/hub.md#session-types).
func cascadePolicy(p *config.Policy) hub.Policy {
	pol := config.DefaultPolicy()
	if p != nil {
		pol = *p
	}
	pol.Access, pol.NoBridge, pol.NoRouting, pol.MonitorPort = true, false, false, false
	return hubPolicy(pol, false, false)
}

// run keeps the cascade up until ctx ends: while the hub is online it
// attaches the local port and runs a link over it.
func (r *runningLink) run(ctx context.Context) {
	o, err := r.options()
	if err != nil {
		r.setErr(err)
		r.s.log.Error("cascade cannot start; fix its settings", "hub", r.hub.Name(), "cascade", r.cfg.AccountName, "err", err)
		return
	}
	pol := cascadePolicy(r.cfg.Policy)
	for ctx.Err() == nil {
		portCtx, cancel := context.WithCancelCause(ctx)
		port, err := r.hub.Attach(hub.PortConfig{
			Name: r.name, User: cascadeUser, Kind: hub.KindCascade, Policy: pol,
			Disconnect: func(reason error) { cancel(reason) },
		})
		if err != nil {
			cancel(nil)
			r.setErr(err)
			sleep(ctx, time.Second) // hub offline: look again in a second
			continue
		}
		// The link retries by itself, forever, every 10 s ±20 % (drawn
		// for each attempt, so many cascades never retry in step), 60 s
		// after "busy" errors.
		lo := o
		lo.RetryInterval, lo.RetryJitter = cascadeRetry, 0.2
		l := client.NewLink(lo, &portAdapter{port})
		r.mu.Lock()
		r.link, r.port = l, port
		r.since = time.Now()
		r.mu.Unlock()
		// A panic in the link (a bug a hostile peer found) ends this
		// attempt as an error, and the cascade retries after a pause.
		err = guard.Run(r.s.log.With("hub", r.hub.Name(), "cascade", r.cfg.AccountName), "cascade link", func() error {
			l.Run(portCtx)
			return nil
		})
		r.mu.Lock()
		r.lastErr = l.Status().LastError
		if err != nil {
			r.lastErr = err
		}
		r.link, r.port = nil, nil
		r.mu.Unlock()
		port.Close()
		cancel(nil)
		if err != nil {
			sleep(ctx, cascadeRetry)
		}
	}
}

func (r *runningLink) setErr(err error) {
	r.mu.Lock()
	r.link = nil
	r.lastErr = err
	r.since = time.Now()
	r.mu.Unlock()
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// info fills the run-time part of a LinkInfo.
func (r *runningLink) info(li *LinkInfo) {
	r.mu.Lock()
	l, port := r.link, r.port
	li.SessionName = r.name
	li.LastError, li.Since = r.lastErr, r.since
	r.mu.Unlock()
	li.State = client.LinkRetrying
	if l != nil {
		st := l.Status()
		li.State, li.Since, li.Connections = st.State, st.Since, st.Connections
		li.Welcome, li.ServerCertSHA256 = st.Welcome, st.ServerCertSHA256
		li.Server, li.Cipher = st.Server, st.Cipher
		if st.LastError != nil {
			li.LastError = st.LastError
		}
	}
	li.Connected = li.State == client.LinkEstablished
	if port != nil {
		li.Stats = port.Stats()
	}
}

// Links lists the cascades of the named hub with their state, in
// configuration order (EnumLink), with the hub's name as configured.
func (s *Server) Links(hubName string) (string, []LinkInfo, error) {
	s.mu.Lock()
	h := s.hubs[strings.ToUpper(hubName)]
	var name string
	var list []*config.Cascade
	if h != nil {
		name, list = h.cfg.Name, h.cfg.Cascades // published: never changed in place
	}
	s.mu.Unlock()
	if h == nil {
		return "", nil, vpnerr.HubNotFound
	}
	out := make([]LinkInfo, 0, len(list))
	for _, c := range list {
		li := LinkInfo{
			AccountName: c.AccountName, Hostname: c.Hostname, Port: c.Port, RemoteHub: c.HubName,
			Username: c.Username, Online: c.Online, State: client.LinkStopped,
		}
		if r, _, ok := h.links.Get(strings.ToUpper(c.AccountName)); ok {
			r.info(&li)
		}
		out = append(out, li)
	}
	return name, out, nil
}

// Link returns one cascade of the named hub by account name
// (GetLinkStatus), with the hub's name as configured.
func (s *Server) Link(hubName, account string) (string, LinkInfo, error) {
	name, list, err := s.Links(hubName)
	if err != nil {
		return "", LinkInfo{}, err
	}
	for _, li := range list {
		if strings.EqualFold(li.AccountName, account) {
			return name, li, nil
		}
	}
	return "", LinkInfo{}, vpnerr.ObjectNotFound
}
