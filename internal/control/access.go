package control

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// MaxAcEntries bounds a hub's source IP address limit list (SoftEther
// MAX_HUB_ACS).
const MaxAcEntries = 4096

// UserLists checks, before a hub's new access list is saved, the user
// list files its rules name (include:FILE, exclude:FILE). The runtime
// reads those files, so it provides the checks; their errors refuse the
// change (as InvalidParameter).
type UserLists interface {
	// CheckField refuses a user field of a rule being added that names a
	// file where user lists are not kept. Rules already in the list are
	// not checked again: a list loaded from a file stays editable.
	CheckField(field string) error
	// CheckList refuses a hub's access list whose user list files go
	// beyond the bounds on what one hub's lists may name.
	CheckList(hub string, list []config.Access) error
}

// AddAccess adds rule to a hub's access list. The list is kept sorted as
// SoftEther sorts it (priority, then pass before discard); a rule's Id is
// its position from 1, and each rule gets a UniqueID of its own.
func (o *Owner) AddAccess(who Actor, hubName string, rule config.Access, lists UserLists) error {
	return o.changeAccess(who, hubName, lists, func(h *config.Hub) error {
		n := len(h.AccessList)
		if n >= MaxAccessLists || who.overLimit(h, "max_accesslists", n) {
			return vpnerr.TooManyAccessList
		}
		if err := prepareRule(h, &rule, lists); err != nil {
			return err
		}
		h.AccessList = append(h.AccessList, rule)
		return nil
	})
}

// DeleteAccess removes a rule from a hub's access list: id is its
// position (1..N) below 32768, its UniqueID from there. The files of the
// rules left are not checked: a list loaded beyond the bounds on them can
// be cut down rule by rule.
func (o *Owner) DeleteAccess(who Actor, hubName string, id uint32) error {
	return o.changeAccess(who, hubName, nil, func(h *config.Hub) error {
		i := -1
		switch {
		case id >= minUniqueID:
			i = slices.IndexFunc(h.AccessList, func(r config.Access) bool { return r.UniqueID == id })
		case id >= 1 && int(id) <= len(h.AccessList):
			i = int(id) - 1
		}
		if i < 0 {
			return vpnerr.ObjectNotFound
		}
		h.AccessList = slices.Delete(h.AccessList, i, i+1)
		return nil
	})
}

// SetAccessList replaces a hub's access list with rules.
func (o *Owner) SetAccessList(who Actor, hubName string, rules []config.Access, lists UserLists) error {
	return o.changeAccess(who, hubName, lists, func(h *config.Hub) error {
		n := len(rules)
		// a hub administrator's list may hold max_accesslists rules
		if n > MaxAccessLists || who.overLimit(h, "max_accesslists", n-1) {
			return vpnerr.TooManyAccessList
		}
		h.AccessList = make([]config.Access, n)
		for i, r := range rules {
			if err := prepareRule(h, &r, lists); err != nil {
				return err
			}
			h.AccessList[i] = r
		}
		return nil
	})
}

// changeAccess runs change on a copy of the hub's access list, then sorts
// and numbers the list and has lists check the user list files it names:
// a list beyond their bounds is refused before it is saved.
func (o *Owner) changeAccess(who Actor, hubName string, lists UserLists, change func(h *config.Hub) error) error {
	return o.Update(func(next *config.Server) error {
		h, err := who.editHub(next, hubName, "no_change_access_list")
		if err != nil {
			return err
		}
		if err := change(h); err != nil {
			return err
		}
		sortAccessList(h.AccessList)
		if lists != nil {
			return lists.CheckList(h.Name, h.AccessList)
		}
		return nil
	})
}

// minUniqueID is the smallest UniqueID: DeleteAccess tells positions from
// unique ids by it.
const minUniqueID = 32768

// sortAccessList sorts rules as SoftEther does (priority, then pass before
// discard, otherwise in the order given) and gives each rule without a
// UniqueID one that no other rule has.
func sortAccessList(rules []config.Access) {
	slices.SortStableFunc(rules, func(a, b config.Access) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		return cmp.Compare(b2i(a.Discard), b2i(b.Discard))
	})
	for i := range rules {
		for rules[i].UniqueID == 0 {
			var b [4]byte
			rand.Read(b[:])
			id := minUniqueID + binary.BigEndian.Uint32(b[:])%(1<<31)
			if !slices.ContainsFunc(rules, func(r config.Access) bool { return r.UniqueID == id }) {
				rules[i].UniqueID = id
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// prepareRule brings a rule an administrator adds in line with what
// SoftEther stores (Admin.c, StAddAccess and StSetAccessList): a port
// range ends no lower than it starts, delay, jitter and loss are clamped,
// and the hub's administration options apply, whoever the administrator
// is: no_delay_jitter_packet_loss zeroes delay, jitter and loss, and
// no_access_list_include_file clears include:/exclude: user fields. A
// user list file that lists refuses is an error.
func prepareRule(h *config.Hub, r *config.Access, lists UserLists) error {
	r.SrcPortEnd = max(r.SrcPortEnd, r.SrcPortStart)
	r.DstPortEnd = max(r.DstPortEnd, r.DstPortStart)
	r.Delay, r.Jitter, r.Loss = min(r.Delay, 10000), min(r.Jitter, 100), min(r.Loss, 100)
	if h.AdminOption("no_delay_jitter_packet_loss") != 0 {
		r.Delay, r.Jitter, r.Loss = 0, 0, 0
	}
	if h.AdminOption("no_access_list_include_file") != 0 {
		if IsUserListField(r.SrcUsername) {
			r.SrcUsername = ""
		}
		if IsUserListField(r.DstUsername) {
			r.DstUsername = ""
		}
	}
	if lists != nil {
		for _, field := range []string{r.SrcUsername, r.DstUsername} {
			if err := lists.CheckField(field); err != nil {
				return err
			}
		}
	}
	return nil
}

// IsUserListField reports whether an access-list user field names a user
// list file ("include:FILE" or "exclude:FILE", any case) rather than a
// user or group.
func IsUserListField(field string) bool {
	low := strings.ToLower(field)
	return strings.HasPrefix(low, "include:") || strings.HasPrefix(low, "exclude:")
}

// SetAcList replaces a hub's source IP address limit list and returns the
// hub as saved: the list sorted as SoftEther keeps it (priority, then
// allow before deny), an entry's Id being its position from 1.
func (o *Owner) SetAcList(who Actor, hubName string, list []config.AcEntry) (*config.Hub, error) {
	if len(list) > MaxAcEntries {
		return nil, vpnerr.InvalidParameter
	}
	for _, e := range list {
		// a real mask of the other family is a mistake; 0.0.0.0 is what
		// SoftEther reads for a missing mask and matches the whole family
		if !e.IP.IsValid() || e.Mask.IsValid() && e.Mask.Is4() != e.IP.Unmap().Is4() && !e.Mask.IsUnspecified() {
			return nil, vpnerr.InvalidParameter
		}
	}
	var saved *config.Hub
	err := o.Update(func(next *config.Server) error {
		h, err := who.editHub(next, hubName, "no_change_access_control_list")
		if err != nil {
			return err
		}
		h.AcList = SortAcList(list)
		saved = h
		return nil
	})
	return saved, err
}

// SortAcList returns a copy of list in the order it applies: priority,
// then allow before deny, otherwise as given; addresses lose their zone.
func SortAcList(list []config.AcEntry) []config.AcEntry {
	out := slices.Clone(list)
	slices.SortStableFunc(out, func(a, b config.AcEntry) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		return cmp.Compare(b2i(a.Deny), b2i(b.Deny))
	})
	for i := range out {
		out[i].IP = out[i].IP.WithZone("")
		if out[i].Mask.IsValid() {
			out[i].Mask = out[i].Mask.WithZone("")
		}
	}
	return out
}
