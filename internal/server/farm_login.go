package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/farm"
	"github.com/ethervpn/ethervpn/internal/securenat"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// Logins in a farm. Any node takes a login and checks the password
// against the shared users; then the session goes where the farm puts it:
// a dynamic hub's sessions to the node that hosts the hub (placed by the
// first session), a static hub's to the least loaded node. A session for
// another node gets SoftEther's redirect with a ticket kept in etcd; the
// client logs in there with the ticket (authtype 99), and that node
// consumes the ticket, so a ticket is good once, for the node it names,
// for the hub and user it was issued for.

// placeGrace keeps a dynamic hub placed on its node for a while after the
// last placement that sent a session here, so that a login on its way to
// the hub does not find it given up.
const placeGrace = 10 * time.Second

// hosted is what a node knows of the dynamic hubs it hosts.
type hosted struct {
	mu      sync.Mutex
	placed  map[string]time.Time         // hub (upper case) -> when a session was last sent here
	keepers map[string]*farm.LeaseKeeper // hub (upper case) -> its SecureNAT's leases in etcd
}

// farmRedirect decides where the session of an authenticated login goes.
// It returns done when the client was redirected (the connection is
// finished), or an error for the client when the farm cannot say.
func (h *handshake) farmRedirect(hb *Hub, user *config.User, req *wire.Login, log *slog.Logger) (done bool, code vpnerr.Error) {
	fm := h.s.farm
	node := fm.node.Load()
	if node == nil {
		log.Warn("a farm login while this node is not in the farm (etcd unreachable?); refused")
		return false, vpnerr.CouldNotHostHubOnFarm
	}
	ctx, cancel := context.WithTimeout(h.s.life, fm.opts.Timeout)
	defer cancel()
	var target farm.Member
	var err error
	if h.s.hubConfig(hb).Type == config.HubStatic {
		var members []farm.Member
		if members, err = node.Members(ctx); err == nil {
			var ok bool
			if target, ok = farm.Choose(members); !ok {
				err = farm.ErrNoNode
			}
		}
	} else {
		target, err = node.Place(ctx, hb.Name())
	}
	if err != nil {
		log.Warn("the farm could not place the session; refused", "err", err)
		return false, vpnerr.CouldNotHostHubOnFarm
	}
	if target.Name == node.Name() {
		if h.s.hubConfig(hb).Type != config.HubStatic {
			h.markPlaced(hb)
		}
		return false, vpnerr.NoError
	}
	r := &wire.Redirect{Addr: target.Address, Cert: h.s.cert.Certificate[0]}
	for _, p := range target.Ports {
		r.Ports = append(r.Ports, uint32(p))
	}
	rand.Read(r.Ticket[:])
	err = node.IssueTicket(ctx, target, farm.Ticket{ID: r.Ticket, Hub: hb.Name(), User: user.Name,
		RealUser: req.User, Group: user.GroupName})
	if err != nil {
		log.Warn("could not keep the redirect's ticket in etcd; refused", "err", err)
		return false, vpnerr.CouldNotHostHubOnFarm
	}
	log.Info(fmt.Sprintf(`Connection "%s": user "%s" redirected to farm node "%s" (%s).`, h.connectionName(), user.Name, target.Name, target.Address),
		"event", "LH_FARM_REDIRECT", "node", target.Name)
	if err := wire.WritePack(h.tc, r.Pack()); err != nil {
		return true, vpnerr.NoError
	}
	// The client answers with an empty pack before it goes (SoftEther
	// Protocol.c:4611-4686).
	h.raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	wire.ReadPackRequest(h.br)
	return true, vpnerr.NoError
}

// ticketUser checks a ticket login: the ticket must be in etcd, issued
// for this node, this hub and this user.
func (h *handshake) ticketUser(hb *Hub, req *wire.Login) (*config.User, vpnerr.Error) {
	fm := h.s.farm
	if fm == nil || len(req.Ticket) != farm.TicketSize {
		return nil, vpnerr.AuthTypeNotSupported
	}
	node := fm.node.Load()
	if node == nil {
		return nil, vpnerr.CouldNotHostHubOnFarm
	}
	ctx, cancel := context.WithTimeout(h.s.life, fm.opts.Timeout)
	defer cancel()
	t, err := node.ConsumeTicket(ctx, [farm.TicketSize]byte(req.Ticket))
	if err != nil {
		if !errors.Is(err, farm.ErrNoTicket) {
			h.log.Warn("a ticket login could not be checked", "err", err)
		}
		return nil, vpnerr.AccessDenied
	}
	if !strings.EqualFold(t.Hub, hb.Name()) || !strings.EqualFold(t.User, req.User) && !strings.EqualFold(t.RealUser, req.User) {
		h.log.Warn("a ticket presented for another hub or user; refused", "ticket_hub", t.Hub, "ticket_user", t.User)
		return nil, vpnerr.AccessDenied
	}
	u := h.s.hubConfig(hb).User(t.User)
	if u == nil {
		return nil, vpnerr.AuthFailed // deleted since the redirect
	}
	if h.s.hubConfig(hb).Type != config.HubStatic {
		h.markPlaced(hb)
	}
	return u, vpnerr.NoError
}

// markPlaced notes that a session was sent to a dynamic hub here; the
// first one starts the hub's SecureNAT here.
func (h *handshake) markPlaced(hb *Hub) {
	fm := h.s.farm
	fm.hosted.mu.Lock()
	if fm.hosted.placed == nil {
		fm.hosted.placed = map[string]time.Time{}
	}
	key := strings.ToUpper(hb.Name())
	_, was := fm.hosted.placed[key]
	fm.hosted.placed[key] = time.Now()
	fm.hosted.mu.Unlock()
	if !was {
		h.s.ApplySecureNAT(hb)
	}
}

// natHere reports whether hub's SecureNAT runs on this node (a dynamic
// hub placed here; never a static hub, where SoftEther refuses
// SecureNAT: Admin.c, StEnableSecureNAT) and with which keeper of its
// leases. The caller holds s.mu.
func (fm *farmNode) natHere(hub *config.Hub) (securenat.LeaseKeeper, bool) {
	if hub.Type == config.HubStatic {
		return nil, false
	}
	key := strings.ToUpper(hub.Name)
	fm.hosted.mu.Lock()
	defer fm.hosted.mu.Unlock()
	if _, ok := fm.hosted.placed[key]; !ok {
		return nil, false
	}
	if fm.hosted.keepers == nil {
		fm.hosted.keepers = map[string]*farm.LeaseKeeper{}
	}
	k := fm.hosted.keepers[key]
	if k == nil {
		k = farm.NewLeaseKeeper(fm.life, fm.cli, fm.root, hub.Name, fm.opts.Timeout, fm.log.With("hub", hub.Name))
		fm.hosted.keepers[key] = k
	}
	return k, true
}

// releaseIdle gives up the dynamic hubs hosted here that have had no
// session for placeGrace (SoftEther deletes an empty dynamic hub from its
// member each control cycle: Server.c:8505-8525).
func (fm *farmNode) releaseIdle(ctx context.Context, s *Server, node *farm.Node) (hubs []string) {
	busy := map[string]bool{}
	for _, x := range s.Sessions() {
		busy[strings.ToUpper(x.Hub.Name())] = true
	}
	fm.hosted.mu.Lock()
	var idle []string
	for hub, at := range fm.hosted.placed {
		switch {
		case busy[hub]:
			fm.hosted.placed[hub] = time.Now()
			hubs = append(hubs, hub)
		case time.Since(at) > placeGrace:
			idle = append(idle, hub)
			delete(fm.hosted.placed, hub)
		default:
			hubs = append(hubs, hub)
		}
	}
	fm.hosted.mu.Unlock()
	for _, hub := range idle {
		if err := node.Release(ctx, hub); err != nil {
			fm.log.Warn("could not give up an idle dynamic hub", "hub", hub, "err", err)
		}
		if hb := s.LookupHub(hub); hb != nil {
			s.ApplySecureNAT(hb) // stops: the hub's SecureNAT runs where it is placed
		}
	}
	return hubs
}

// numberBlock is how many session numbers a node takes from a hub's
// farm-wide counter at a time (farm.Node.SessionNumbers).
const numberBlock = 16

// numbers are the session numbers a node holds of each hub's farm-wide
// counter: [next, end).
type numbers struct {
	mu     sync.Mutex
	blocks map[string][2]uint64 // hub (upper case) -> next, end
}

// sessionNumber is the number in the name of a new session of hb
// (SID-USER-n): in a farm, from the hub's farm-wide counter, so that no
// two sessions of a hub, on whichever nodes, have one name; on a single
// server, the hub's own counter.
func (h *handshake) sessionNumber(hb *Hub) uint64 {
	fm := h.s.farm
	if fm == nil {
		return hb.counter.Add(1)
	}
	key := strings.ToUpper(hb.Name())
	fm.numbers.mu.Lock()
	if b := fm.numbers.blocks[key]; b[0] < b[1] {
		fm.numbers.blocks[key] = [2]uint64{b[0] + 1, b[1]}
		fm.numbers.mu.Unlock()
		return b[0]
	}
	fm.numbers.mu.Unlock()
	var first uint64
	err := errors.New("this node is not in the farm")
	if node := fm.node.Load(); node != nil {
		ctx, cancel := context.WithTimeout(h.s.life, fm.opts.Timeout)
		first, err = node.SessionNumbers(ctx, hb.Name(), numberBlock)
		cancel()
	}
	if err != nil {
		// The login got here through etcd a moment ago: a name that may
		// meet another node's is better than refusing the session.
		h.log.Warn("could not take session numbers from the farm; naming the session with this node's counter", "err", err)
		return hb.counter.Add(1)
	}
	fm.numbers.mu.Lock()
	if fm.numbers.blocks == nil {
		fm.numbers.blocks = map[string][2]uint64{}
	}
	fm.numbers.blocks[key] = [2]uint64{first + 1, first + numberBlock}
	fm.numbers.mu.Unlock()
	return first
}
