package cli

import (
	"strings"

	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// extOptionCommands are vpncmd's ExtOptionList and ExtOptionSet: the hub's
// extended options (GetHubExtOptions / SetHubExtOptions).
func extOptionCommands() []*command {
	return []*command{
		{name: "ExtOptionList", needHub: true, run: extOptionList},
		{name: "ExtOptionSet", needHub: true, params: []param{
			arg("name", "Name of Extended Option to Change Value:"), opt("VALUE"),
		}, run: extOptionSet},
	}
}

func extOptionList(s *Session, _ cmdArgs) error {
	out, err := s.call("GetHubExtOptions", s.hubPack())
	if err != nil {
		return err
	}
	t := newStandard()
	for i := range out.Count("Name") {
		t.item(out.StrAt("Name", i), dec(uint64(out.IntAt("Value", i))))
	}
	s.show(t)
	return nil
}

// extOptionSet changes one option: like vpncmd it reads the whole list,
// changes the named entry (names are case-insensitive) and sends the list
// back, so an unknown name is reported rather than ignored.
func extOptionSet(s *Session, a cmdArgs) error {
	value, ok := a["VALUE"]
	if !ok {
		return usageError("Specify the value with /VALUE:integer.")
	}
	v, err := parseUint("The value", value, 0, 1<<32-1)
	if err != nil {
		return err
	}
	cur, err := s.call("GetHubExtOptions", s.hubPack())
	if err != nil {
		return err
	}
	n := cur.Count("Name")
	names, values := make([]string, n), make([]uint32, n)
	found := false
	for i := range n {
		names[i], values[i] = cur.StrAt("Name", i), cur.IntAt("Value", i)
		if strings.EqualFold(names[i], a[""]) {
			values[i], found = v, true
		}
	}
	if !found {
		return vpnerr.ObjectNotFound
	}
	in := s.hubPack()
	in.AddInt("NumItem", uint32(n))
	in.AddStrs("Name", names)
	in.AddInts("Value", values)
	_, err = s.call("SetHubExtOptions", in)
	return err
}
