package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/session"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// LinkOptions configure a Link: where to connect (Options) and how to keep
// the session alive.
type LinkOptions struct {
	Options
	// ConnectionInterval is the pause between additional connection
	// attempts (default 1 s, as vpnclient's AdditionalConnectionInterval).
	ConnectionInterval time.Duration
	// ConnectionLifetime makes the link close every TCP connection after
	// this long and open a fresh one in its place; 0 keeps them.
	ConnectionLifetime time.Duration
	// RetryInterval is the pause before logging in again after the session
	// was lost or a login failed (default 15 s; 60 s is used instead after
	// the server said it is busy, see docs/protocol/session.md#client-retries).
	RetryInterval time.Duration
	// RetryJitter spreads each retry pause randomly by up to this fraction
	// either way (cascades use 0.2, as SoftEther's do), so that many links
	// to one server do not retry in step.
	RetryJitter float64
	// Retries is how many failed attempts in a row are retried; -1 retries
	// forever. An attempt that reached the established state resets the
	// count.
	Retries int
	// ClientString is the client_str of the login; "" means ClientString.
	// Cascades send SoftEther's cascade string so that peers treat them as
	// bridges.
	ClientString string
	// AutoDisconnect makes the link obey the AutoDisconnect policy of the
	// welcome: end the session after that many seconds and not log in
	// again. The real VPN Client does; cascades do not.
	AutoDisconnect bool
	// Log receives the link's events; nil discards them.
	Log *slog.Logger
}

// LinkState is where a Link is in its life cycle.
type LinkState int

// Link states.
const (
	LinkConnecting  LinkState = iota // dialling and logging in
	LinkEstablished                  // the session is up
	LinkRetrying                     // waiting for the next login attempt
	LinkStopped                      // Run has returned
)

func (s LinkState) String() string {
	switch s {
	case LinkConnecting:
		return "connecting"
	case LinkEstablished:
		return "established"
	case LinkRetrying:
		return "retrying"
	case LinkStopped:
		return "stopped"
	}
	return fmt.Sprintf("LinkState(%d)", int(s))
}

// LinkStatus is a snapshot of a Link.
type LinkStatus struct {
	State     LinkState
	LastError error // why the latest attempt or session ended
	// Connections is the number of TCP connections of the session.
	Connections int
	// Welcome is the server's answer to the current session's login (nil
	// while there is no session).
	Welcome *wire.Welcome
	// Since is when State was entered.
	Since time.Time
	// ServerCertSHA256 is the hex SHA-256 of the server's certificate.
	ServerCertSHA256 string
	// Server is the server's hello (product, version, build) and Cipher
	// the TLS cipher suite of the current session.
	Server wire.Hello
	Cipher string
}

// Link keeps one session to a VPN server alive: it logs in, opens additional
// connections up to the negotiated maximum one per ConnectionInterval,
// re-opens dropped ones, recycles connections after ConnectionLifetime, and
// after losing the session logs in again after RetryInterval (Retries
// times; -1 = unlimited). Frames flow between the session and port.
type Link struct {
	o    LinkOptions
	port session.Port
	log  *slog.Logger

	mu     sync.Mutex
	status LinkStatus
	sess   *session.Session
}

// busyRetryInterval is the pause after errors that say the server is busy
// or the hub stopping, as the real client waits (docs/protocol/session.md#client-retries).
const busyRetryInterval = 60 * time.Second

// NewLink prepares a link; Run starts it.
func NewLink(o LinkOptions, port session.Port) *Link {
	if o.ConnectionInterval <= 0 {
		o.ConnectionInterval = time.Second
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 15 * time.Second
	}
	o.MaxConnections = min(max(o.MaxConnections, 1), 32)
	o.Options.clientStr = o.ClientString
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("server", o.Server, "hub", o.Hub, "user", o.User)
	return &Link{o: o, port: port, log: log, status: LinkStatus{State: LinkConnecting, Since: time.Now()}}
}

// Status returns a snapshot of the link's state.
func (l *Link) Status() LinkStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.status
	if l.sess != nil {
		st.Connections = l.sess.NumConns()
	}
	return st
}

func (l *Link) setState(s LinkState, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.status.State != s {
		l.status.Since = time.Now()
	}
	l.status.State = s
	if err != nil {
		l.status.LastError = err
	}
}

// Run keeps the session up until ctx ends (it then returns nil) or the
// retries are exhausted (it returns the last error).
func (l *Link) Run(ctx context.Context) error {
	failures := 0
	for {
		l.setState(LinkConnecting, nil)
		var established bool
		// A panic while logging in or running the session (a bug a hostile
		// server found) fails this attempt like any error: retried, logged.
		err := guard.Run(l.log, "VPN client session", func() (err error) {
			established, err = l.runSession(ctx)
			return err
		})
		if ctx.Err() != nil {
			l.setState(LinkStopped, nil)
			return nil
		}
		if errors.Is(err, vpnerr.AutoDisconnected) {
			// As vpnclient: the policy's disconnection is final.
			l.log.Warn("the server's AutoDisconnect policy ended the session; not connecting again", "err", err)
			l.setState(LinkStopped, err)
			return err
		}
		if established {
			failures = 0
		} else {
			failures++
		}
		if l.o.Retries >= 0 && failures > l.o.Retries {
			l.log.Error("giving up: no retries left", "err", err)
			l.setState(LinkStopped, err)
			return err
		}
		wait := jitter(retryDelay(err, l.o.RetryInterval), l.o.RetryJitter)
		l.log.Warn("not connected; retrying", "err", err, "retry_in", wait)
		l.setState(LinkRetrying, err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			l.setState(LinkStopped, nil)
			return nil
		case <-t.C:
		}
	}
}

// jitter spreads d uniformly over d×(1±f).
func jitter(d time.Duration, f float64) time.Duration {
	if f <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 - f + 2*f*mrand.Float64()))
}

// retryDelay is the pause before the next login after err.
func retryDelay(err error, base time.Duration) time.Duration {
	var code vpnerr.Error
	if errors.As(err, &code) {
		switch code {
		case vpnerr.HubStopping, vpnerr.HubIsBusy, vpnerr.TooManyUserSession, 21 /* license */ :
			return max(base, busyRetryInterval)
		}
	}
	return base
}

// effectiveMaxConnections is how many TCP connections the client keeps: what
// the welcome granted within its own limit, raised to 2 (half-duplex needs
// a connection each way) and, when the server granted QoS, to 2 or 4 as the
// real client does (docs/protocol/session.md#parameter-negotiation).
func effectiveMaxConnections(own int, w *wire.Welcome) int {
	n := max(min(int(w.MaxConnection), own, 32), 1)
	if w.HalfConnection {
		n = max(n, 2)
	}
	if w.QoS {
		if w.HalfConnection {
			n = max(n, 4)
		} else {
			n = max(n, 2)
		}
	}
	return n
}

// attempt is the outcome of one additional connection attempt.
type attempt struct {
	c   *Conn
	err error
}

// runSession logs in and keeps the session's connections until the session
// ends. established says whether the login succeeded.
func (l *Link) runSession(ctx context.Context) (established bool, err error) {
	o := l.o.Options
	w, first, err := Login(ctx, &o)
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(first.Cert())
	want := effectiveMaxConnections(o.MaxConnections, w)
	sess := session.New(l.port, session.Params{
		Role: session.Client, Timeout: w.Timeout, MaxConnections: want,
		HalfDuplex: w.HalfConnection, Compress: w.UseCompress, Log: l.log,
	})
	// Additional connections go to the address the first one reached, as
	// the real client caches it, so that a name with several addresses
	// cannot spread one session over several servers.
	addl := o
	addl.Server = first.Raw.RemoteAddr().String()

	sessCtx, cancel := context.WithCancel(ctx)
	var lifetimers sync.WaitGroup
	defer lifetimers.Wait()
	defer cancel()

	var live liveConns
	add := func(c *Conn) error {
		tc := live.track(c.Raw)
		err := sess.AddConn(tc, func(wire.Direction) (session.Stream, error) { return c.Stream, nil })
		if err != nil {
			tc.Close()
			return err
		}
		if l.o.ConnectionLifetime > 0 {
			lifetimers.Add(1)
			go func() {
				defer lifetimers.Done()
				t := time.NewTimer(l.o.ConnectionLifetime)
				defer t.Stop()
				select {
				case <-t.C:
					l.log.Debug("connection lifetime reached; replacing the connection")
				case <-sessCtx.Done():
				}
				c.Raw.Close()
			}()
		}
		return nil
	}
	if err := add(first); err != nil {
		sess.Close(err)
		return false, err
	}
	l.mu.Lock()
	l.sess = sess
	l.status.Welcome = w
	l.status.ServerCertSHA256 = hex.EncodeToString(sum[:])
	l.status.Server, l.status.Cipher = first.Server, first.Cipher
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.sess = nil
		l.status.Welcome = nil
		l.mu.Unlock()
	}()
	l.setState(LinkEstablished, nil)
	l.log.Info("Now connected", "session", w.SessionName, "max_connections", want,
		"half_duplex", w.HalfConnection, "encrypt", w.UseEncrypt, "compress", w.UseCompress, "qos", w.QoS,
		"server_cert_sha256", hex.EncodeToString(sum[:]))

	waitErr := make(chan error, 1)
	go func() { waitErr <- sess.Wait() }()

	results := make(chan attempt)
	pending := 0
	// A server may accept additional connections for a session it no
	// longer serves and close them at once (the real vpnserver does after
	// a connection of the session was reset). The session is healthy while
	// some connection has lasted a while; if none has for a few seconds
	// (at most the session timeout, at least 5 s), log in afresh.
	stableAge := 2 * l.o.ConnectionInterval
	if l.o.ConnectionLifetime > 0 {
		stableAge = min(stableAge, l.o.ConnectionLifetime/2)
	}
	unhealthyLimit := min(w.Timeout, max(5*time.Second, 4*l.o.ConnectionInterval))
	var autoDisconnect <-chan time.Time
	if secs := w.Policy["AutoDisconnect"]; l.o.AutoDisconnect && secs > 0 {
		t := time.NewTimer(time.Duration(secs) * time.Second)
		defer t.Stop()
		autoDisconnect = t.C
		l.log.Info("the server's AutoDisconnect policy ends this session after its time", "seconds", secs)
	}
	lastHealthy := time.Now()
	tick := time.NewTicker(l.o.ConnectionInterval)
	defer tick.Stop()
	// Attempts still running when the session ends are cancelled and hand
	// their connection back through results; drain them so none leaks.
	defer func() {
		cancel()
		for ; pending > 0; pending-- {
			if r := <-results; r.c != nil {
				r.c.Raw.Close()
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			sess.Close(nil)
			<-waitErr
			return true, ctx.Err()
		case err := <-waitErr:
			if err == nil {
				err = vpnerr.Disconnected
			}
			return true, fmt.Errorf("session ended: %w", err)
		case <-autoDisconnect:
			sess.Close(vpnerr.AutoDisconnected)
			<-waitErr
			return true, vpnerr.AutoDisconnected
		case now := <-tick.C:
			if live.oldestAge(now) >= stableAge {
				lastHealthy = now
			} else if now.Sub(lastHealthy) > unhealthyLimit {
				err := fmt.Errorf("no connection of the session stayed up for %v: %w", unhealthyLimit, vpnerr.SessionTimeout)
				sess.Close(err)
				<-waitErr
				return true, err
			}
			if sess.NumConns()+pending < want {
				pending++
				go func() {
					var c *Conn
					err := guard.Run(l.log, "additional connection", func() (err error) {
						c, err = AdditionalConnect(sessCtx, &addl, w, first.Cert())
						return err
					})
					results <- attempt{c, err}
				}()
			}
		case r := <-results:
			pending--
			if r.err != nil {
				var code vpnerr.Error
				if errors.As(r.err, &code) && (code == vpnerr.SessionTimeout || code == vpnerr.InvalidProtocol) {
					// The server no longer knows the session (it
					// restarted or removed it): log in afresh.
					sess.Close(r.err)
					<-waitErr
					return true, fmt.Errorf("server dropped the session: %w", r.err)
				}
				if errors.Is(r.err, errCertChanged) {
					sess.Close(r.err)
					<-waitErr
					return true, r.err
				}
				l.log.Debug("additional connection failed", "err", r.err)
				continue
			}
			if err := add(r.c); err != nil {
				l.log.Debug("additional connection not attached", "err", err)
				continue
			}
			l.checkDirections(sess, want, r.c)
			l.log.Debug("additional connection attached", "connections", sess.NumConns(), "direction", r.c.Stream.Dir)
		}
	}
}

// checkDirections applies the real client's half-duplex rule: a full set of
// connections that all carry the same direction cannot move traffic both
// ways, so the newest one is closed and will be replaced.
func (l *Link) checkDirections(sess *session.Session, want int, newest *Conn) {
	if !sess.Params().HalfDuplex || sess.NumConns() < want {
		return
	}
	if s2c, c2s := sess.Directions(); s2c == 0 || c2s == 0 {
		l.log.Debug("all half-duplex connections have one direction; closing the newest")
		newest.Raw.Close()
	}
}

// liveConns tracks when each open connection of a session was attached.
type liveConns struct {
	mu   sync.Mutex
	open map[*trackedConn]time.Time
}

// trackedConn removes itself from liveConns when the session closes it.
type trackedConn struct {
	net.Conn
	live *liveConns
	once sync.Once
}

func (l *liveConns) track(c net.Conn) net.Conn {
	t := &trackedConn{Conn: c, live: l}
	l.mu.Lock()
	if l.open == nil {
		l.open = map[*trackedConn]time.Time{}
	}
	l.open[t] = time.Now()
	l.mu.Unlock()
	return t
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.live.mu.Lock()
		delete(t.live.open, t)
		t.live.mu.Unlock()
	})
	return t.Conn.Close()
}

// oldestAge is how long the oldest open connection has been attached (0
// with none).
func (l *liveConns) oldestAge(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var age time.Duration
	for _, at := range l.open {
		age = max(age, now.Sub(at))
	}
	return age
}
