package farm

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ethervpn/ethervpn/internal/farm/etcdtest"
)

func join(t *testing.T, cli *clientv3.Client, name string, weight uint32) *Node {
	t.Helper()
	n, err := Join(context.Background(), NodeConfig{Client: cli, Root: "/test/", TTL: 2 * time.Second,
		Self: Member{Name: name, Address: netip.MustParseAddr("10.0.0.1"), Ports: []uint16{443}, Weight: weight}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Leave() })
	return n
}

func TestPointFollowsSoftEthersFormula(t *testing.T) {
	for _, c := range []struct {
		sessions, weight, want uint32
	}{
		{0, 100, 100000},
		{10, 100, 99990},
		{10, 0, 99990}, // weight 0 counts as 100
		{10, 200, 99995},
		{10, 50, 99980},
		{200000, 100, 0}, // beyond the cap
	} {
		if got := (Member{Sessions: c.sessions, Weight: c.weight}).Point(); got != c.want {
			t.Errorf("sessions %d weight %d: point %d, want %d", c.sessions, c.weight, got, c.want)
		}
	}
}

func TestChooseTakesHighestPointLaterOnTie(t *testing.T) {
	t0 := time.Now()
	a := Member{Name: "a", Sessions: 5, Weight: 100, Joined: t0}
	b := Member{Name: "b", Sessions: 5, Weight: 100, Joined: t0.Add(time.Second)}
	c := Member{Name: "c", Sessions: 1, Weight: 100, Joined: t0, NoSessions: true}
	if m, _ := Choose([]Member{a, b, c}); m.Name != "b" {
		t.Errorf("tie: chose %s, want the later node b", m.Name)
	}
	a.Sessions = 1
	if m, _ := Choose([]Member{a, b, c}); m.Name != "a" {
		t.Errorf("chose %s, want the less loaded a", m.Name)
	}
	if _, ok := Choose([]Member{c}); ok {
		t.Error("chose a node that takes no sessions")
	}
}

func TestMembersAndLeaseEnd(t *testing.T) {
	cli := etcdtest.Start(t)
	a := join(t, cli, "a", 100)
	b := join(t, cli, "b", 100)
	if err := b.Report(context.Background(), 7, 14, []string{"H"}); err != nil {
		t.Fatal(err)
	}
	ms, err := a.Members(context.Background())
	if err != nil || len(ms) != 2 {
		t.Fatalf("members: %v %+v", err, ms)
	}
	if m, _ := byName(ms, "b"); m.Sessions != 7 || m.TCPConnections != 14 || m.Lease == 0 {
		t.Errorf("b's record: %+v", m)
	}
	b.Leave()
	ms, _ = a.Members(context.Background())
	if len(ms) != 1 || ms[0].Name != "a" {
		t.Fatalf("after b left: %+v", ms)
	}
}

func TestTicketIsUsedOnceByItsNode(t *testing.T) {
	cli := etcdtest.Start(t)
	a := join(t, cli, "a", 100)
	b := join(t, cli, "b", 100)
	ctx := context.Background()
	tk := Ticket{ID: [TicketSize]byte{1, 2, 3}, Hub: "H", User: "alice"}
	if err := a.IssueTicket(ctx, b.self, tk); err != nil {
		t.Fatal(err)
	}
	got, err := b.ConsumeTicket(ctx, tk.ID)
	if err != nil || got.User != "alice" || got.Hub != "H" || got.Node != "b" {
		t.Fatalf("consume: %v %+v", err, got)
	}
	if _, err := b.ConsumeTicket(ctx, tk.ID); !errors.Is(err, ErrNoTicket) {
		t.Fatalf("second use: %v, want ErrNoTicket", err)
	}
	// A ticket for b presented to a is spent and refused.
	tk.ID[0] = 9
	a.IssueTicket(ctx, b.self, tk)
	if _, err := a.ConsumeTicket(ctx, tk.ID); err == nil {
		t.Fatal("node a accepted a ticket issued for node b")
	}
	if _, err := b.ConsumeTicket(ctx, tk.ID); !errors.Is(err, ErrNoTicket) {
		t.Fatalf("the ticket refused by a: %v, want it spent", err)
	}
	if _, err := b.ConsumeTicket(ctx, [TicketSize]byte{7}); !errors.Is(err, ErrNoTicket) {
		t.Fatalf("a ticket never issued: %v", err)
	}
}

func TestTicketExpiresAndIsSwept(t *testing.T) {
	cli := etcdtest.Start(t)
	ctx := context.Background()
	var ns []*Node
	for _, name := range []string{"a", "b"} {
		n, err := Join(ctx, NodeConfig{Client: cli, Root: "/test/", TicketTTL: time.Second, Self: Member{Name: name}})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Leave()
		ns = append(ns, n)
	}
	a, b := ns[0], ns[1]
	for i, to := range []*Node{a, a, b} {
		if err := a.IssueTicket(ctx, to.self, Ticket{ID: [TicketSize]byte{4, byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.SweepTickets(ctx); err != nil || n != 0 {
		t.Fatalf("sweep of fresh tickets: %d, %v; want none swept", n, err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := a.ConsumeTicket(ctx, [TicketSize]byte{4, 0}); !errors.Is(err, ErrNoTicket) {
		t.Fatalf("an expired ticket: %v, want ErrNoTicket", err)
	}
	// a sweeps its other expired ticket, not b's: b sweeps its own.
	if n, err := a.SweepTickets(ctx); err != nil || n != 1 {
		t.Fatalf("a swept %d tickets (%v), want 1", n, err)
	}
	if n, err := b.SweepTickets(ctx); err != nil || n != 1 {
		t.Fatalf("b swept %d tickets (%v), want 1", n, err)
	}
	if left := ticketKeys(t, cli); len(left) != 0 {
		t.Fatalf("tickets left after the sweeps: %v", left)
	}
}

// TestTicketGoesWithItsNode: a ticket issued for a node that then dies
// (its etcd client gone, its lease left to run out) is deleted with the
// node's lease, and no ticket can be issued for the dead node.
func TestTicketGoesWithItsNode(t *testing.T) {
	cli := etcdtest.Start(t)
	a := join(t, cli, "a", 100)
	bcli, err := clientv3.New(clientv3.Config{Endpoints: cli.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := join(t, bcli, "b", 100)
	ctx := context.Background()
	if err := a.IssueTicket(ctx, b.self, Ticket{ID: [TicketSize]byte{5}, Hub: "H", User: "alice"}); err != nil {
		t.Fatal(err)
	}
	if left := ticketKeys(t, cli); len(left) != 1 {
		t.Fatalf("tickets after issuing one: %v", left)
	}
	bcli.Close() // b dies: nobody keeps its lease alive, nobody revokes it
	deadline := time.Now().Add(15 * time.Second)
	for len(ticketKeys(t, cli)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the dead node's ticket is still in etcd 15 s later (its lease is 2 s)")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ms, err := a.Members(ctx); err != nil || len(ms) != 1 {
		t.Fatalf("members after b died: %+v %v", ms, err)
	}
	if err := a.IssueTicket(ctx, b.self, Ticket{ID: [TicketSize]byte{6}}); err == nil {
		t.Fatal("a ticket was issued for a node whose lease has ended")
	}
}

// ticketKeys lists the tickets in etcd.
func ticketKeys(t *testing.T, cli *clientv3.Client) []string {
	t.Helper()
	resp, err := cli.Get(context.Background(), "/test/tickets/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	return keys
}

func TestTwoNodesRacingPlaceHubOnOneHost(t *testing.T) {
	cli := etcdtest.Start(t)
	nodes := []*Node{join(t, cli, "a", 100), join(t, cli, "b", 100), join(t, cli, "c", 100)}
	for round := range 10 {
		hub := "HUB" + string(rune('A'+round))
		var wg sync.WaitGroup
		hosts := make([]string, len(nodes))
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := n.Place(context.Background(), hub)
				if err != nil {
					t.Error(err)
				}
				hosts[i] = m.Name
			}()
		}
		wg.Wait()
		if hosts[0] == "" || hosts[0] != hosts[1] || hosts[1] != hosts[2] {
			t.Fatalf("%s placed on %v", hub, hosts)
		}
	}
}

func TestPlacementFollowsLoadAndHostsLease(t *testing.T) {
	cli := etcdtest.Start(t)
	ctx := context.Background()
	a := join(t, cli, "a", 100)
	b := join(t, cli, "b", 100)
	a.Report(ctx, 50, 50, nil)
	m, err := a.Place(ctx, "H")
	if err != nil || m.Name != "b" {
		t.Fatalf("placed on %q (%v), want the idle node b", m.Name, err)
	}
	// The host dies: its lease ends and takes the placement.
	b.Leave()
	if _, ok, _ := a.Host(ctx, "H"); ok {
		t.Fatal("the placement outlived its host's lease")
	}
	if m, err = a.Place(ctx, "H"); err != nil || m.Name != "a" {
		t.Fatalf("placed again on %q (%v), want a", m.Name, err)
	}
	// Only the host releases it.
	c := join(t, cli, "c", 100)
	c.Release(ctx, "H")
	if host, _, _ := a.Host(ctx, "H"); host != "a" {
		t.Fatalf("another node released a's hub: host %q", host)
	}
	a.Release(ctx, "H")
	if _, ok, _ := a.Host(ctx, "H"); ok {
		t.Fatal("the host's release left the placement")
	}
	// A farm whose nodes take no sessions cannot place.
	a.Leave()
	c.Leave()
	d, _ := Join(ctx, NodeConfig{Client: cli, Root: "/test/", Self: Member{Name: "d", NoSessions: true}})
	defer d.Leave()
	if _, err := d.Place(ctx, "H2"); !errors.Is(err, ErrNoNode) {
		t.Fatalf("placing with no node for sessions: %v, want ErrNoNode", err)
	}
}

// A node that joined again with a new lease (etcd was away) keeps the
// dynamic hub it still hosts: its placement moves to the new lease and
// outlives the old one; a hub another node placed meanwhile stays there.
func TestClaimMovesPlacementToNewLease(t *testing.T) {
	cli := etcdtest.Start(t)
	ctx := context.Background()
	old := join(t, cli, "a", 100)
	if m, err := old.Place(ctx, "HUB"); err != nil || m.Name != "a" {
		t.Fatalf("placed on %q, %v; want a", m.Name, err)
	}
	again := join(t, cli, "a", 100) // the same node, joined again
	b := join(t, cli, "b", 100)
	if host, err := again.Claim(ctx, "HUB"); err != nil || host != "a" {
		t.Fatalf("claim: %q, %v; want a", host, err)
	}
	old.Leave() // the old lease ends
	if host, ok, err := b.Host(ctx, "HUB"); err != nil || !ok || host != "a" {
		t.Fatalf("after the old lease ended the hub is on %q (%v, %v); want still a", host, ok, err)
	}
	// Placement gone with the old lease before the claim: placed again.
	if _, err := b.Place(ctx, "OTHER"); err != nil {
		t.Fatal(err)
	}
	if host, err := again.Claim(ctx, "OTHER"); err != nil || host != "b" {
		t.Fatalf("claim of a hub on b: %q, %v; want b (left there)", host, err)
	}
	if err := again.Release(ctx, "HUB"); err != nil {
		t.Fatal(err)
	}
	if host, err := again.Claim(ctx, "HUB"); err != nil || host != "a" {
		t.Fatalf("claim of an unplaced hub: %q, %v; want a", host, err)
	}
}

// Place, on the node that hosts the hub, keeps the placement on the
// node's current lease after it joined again (the server places its
// hubs again when it rejoins).
func TestPlaceMovesOwnPlacementToNewLease(t *testing.T) {
	cli := etcdtest.Start(t)
	ctx := context.Background()
	old := join(t, cli, "a", 100)
	if m, err := old.Place(ctx, "HUB"); err != nil || m.Name != "a" {
		t.Fatalf("placed on %q, %v; want a", m.Name, err)
	}
	again := join(t, cli, "a", 100)
	if m, err := again.Place(ctx, "HUB"); err != nil || m.Name != "a" {
		t.Fatalf("placed again on %q, %v; want a", m.Name, err)
	}
	old.Leave()
	if host, ok, err := again.Host(ctx, "HUB"); err != nil || !ok || host != "a" {
		t.Fatalf("after the old lease ended the hub is on %q (%v, %v); want still a", host, ok, err)
	}
}

func TestSessionNumbersAreFarmWide(t *testing.T) {
	cli := etcdtest.Start(t)
	nodes := []*Node{join(t, cli, "a", 100), join(t, cli, "b", 100), join(t, cli, "c", 100)}
	var mu sync.Mutex
	taken := map[uint64]string{}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				first, err := n.SessionNumbers(context.Background(), "h", 4)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for k := first; k < first+4; k++ {
					if other, dup := taken[k]; dup {
						t.Errorf("number %d given to %s and %s", k, other, n.Name())
					}
					taken[k] = n.Name()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// 3 nodes × 10 blocks of 4, from 1, without a gap.
	for k := uint64(1); k <= 120; k++ {
		if _, ok := taken[k]; !ok {
			t.Fatalf("number %d was not given (%d given)", k, len(taken))
		}
	}
	// Another hub has its own counter, and "H" is "h".
	if first, err := nodes[0].SessionNumbers(context.Background(), "other", 4); err != nil || first != 1 {
		t.Fatalf("another hub's first number: %d, %v", first, err)
	}
	if first, err := nodes[0].SessionNumbers(context.Background(), "H", 4); err != nil || first != 121 {
		t.Fatalf("hub H's next number: %d, %v; want 121", first, err)
	}
}
