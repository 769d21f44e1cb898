package securenat

import (
	"log/slog"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/securenat/dhcpd"
)

// dhcpGlue connects the DHCP server to the virtual host: DHCP requests are
// taken out of the frame path before the stack sees them, and the replies go
// straight to the hub.
type dhcpGlue struct {
	srv *dhcpd.Server
	out [][]byte // reply scratch; only the hub reader goroutine uses it
}

func newDHCPGlue(c config.SecureNAT, s settings, log *slog.Logger, keep LeaseKeeper) (*dhcpGlue, error) {
	if !s.saveLog {
		log = nil
	}
	var restore []dhcpd.Lease
	var onLease func(dhcpd.Lease)
	if keep != nil {
		restore, onLease = keep.Load(), keep.Keep
	}
	srv, err := dhcpd.New(dhcpd.Config{
		Restore: restore, OnLease: onLease,
		ServerIP: s.ip, Mask: c.DHCPMask,
		RangeStart: c.DHCPStart, RangeEnd: c.DHCPEnd,
		Gateway: c.DHCPGateway, DNS: c.DHCPDNS, DNS2: c.DHCPDNS2,
		Domain:     c.DHCPDomain,
		LeaseTime:  dhcpd.LeaseTimeFromSeconds(c.DHCPExpire),
		PushRoutes: c.DHCPPushRoutes,
		ServerMAC:  s.mac,
		Log:        log,
	})
	if err != nil {
		return nil, err
	}
	return &dhcpGlue{srv: srv}, nil
}

// handle gives a UDP-to-port-67 frame to the DHCP server; frames it does not
// take (not addressed to this server) continue into the stack.
func (g *dhcpGlue) handle(n *SecureNAT, frame []byte) {
	out, ok := g.srv.HandleFrame(frame, g.out[:0])
	if !ok {
		n.link.deliver(frame)
		return
	}
	if len(out) > 0 {
		n.link.appendOut(out...)
	}
	clear(out)
	g.out = out[:0]
}

// expire ends leases on time, so their log lines appear even when the
// segment is quiet (docs/protocol/securenat.md#threads-and-timing: the lease sweep runs every second).
func (g *dhcpGlue) expire(done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			g.srv.ExpireNow()
		}
	}
}

// DHCPTable lists the committed DHCP leases (docs/protocol/securenat.md#lease-table); empty when the DHCP
// server is off.
func (n *SecureNAT) DHCPTable() []dhcpd.Lease {
	if n.dhcp == nil {
		return nil
	}
	return n.dhcp.srv.Leases()
}
