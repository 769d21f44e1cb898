package native

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/ethervpn/ethervpn/internal/sha0"
)

// VirtualMAC returns the Ethernet address of a native session: 0xCA
// followed by bytes 1..5 of SHA-0 over "<machine>@<hub>@<uniqueID>",
// upper-cased (ASCII letters only) and trimmed of spaces and tabs, as
// SoftEther's NewServerSessionEx (Session.c, "Generate a MAC address for
// IPC") makes it. machine is the server's host name (MachineName), hub the
// hub's name as configured, uniqueID the session's number among the hub's
// native sessions (UniqueIDs). SoftEther recognises such an address by its
// first byte (Session.c, IsIpcMacAddress); 0xCA also makes it a locally
// administered unicast address.
func VirtualMAC(machine, hub string, uniqueID uint32) [6]byte {
	s := []byte(machine + "@" + hub + "@" + strconv.FormatUint(uint64(uniqueID), 10))
	for i, c := range s {
		if 'a' <= c && c <= 'z' {
			s[i] = c - 'a' + 'A'
		}
	}
	h := sha0.Sum([]byte(strings.Trim(string(s), " \t")))
	return [6]byte{0xCA, h[1], h[2], h[3], h[4], h[5]}
}

var machineName = sync.OnceValue(func() string {
	return machineNameFrom(os.Hostname, "/etc/hosts")
})

// MachineName returns the server's host name as SoftEther's GetMachineName
// (Mayaqua Network.c, GetMachineNameEx) finds it: the kernel's host name,
// or when that is empty or starts with "localhost", the last name other
// than localhost* on the 127.0.0.1 line of /etc/hosts; "Unknown" when the
// host name cannot be read. It is read once.
func MachineName() string { return machineName() }

func machineNameFrom(hostname func() (string, error), hostsFile string) string {
	name, err := hostname()
	if err != nil {
		return "Unknown"
	}
	if name != "" && !strings.HasPrefix(name, "localhost") {
		return name
	}
	f, err := os.Open(hostsFile)
	if err != nil {
		return name
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		t := strings.Fields(sc.Text())
		if len(t) < 2 || !strings.EqualFold(t[0], "127.0.0.1") {
			continue
		}
		for _, n := range t[1:] {
			if !strings.HasPrefix(n, "localhost") {
				name = n
			}
		}
	}
	return name
}

// UniqueIDs hands out the numbers that VirtualMAC takes, one set per hub:
// the smallest number from 1 up that no live native session of the hub
// holds, as SoftEther's GetNewUniqueId (Hub.c) picks it. So a session that
// reconnects after the last one left gets the same number, and with it the
// same MAC (and from the DHCP server, likely the same address).
type UniqueIDs struct {
	mu   sync.Mutex
	used map[uint32]struct{}
}

// Take returns the smallest free number (>= 1) and marks it used.
func (u *UniqueIDs) Take() uint32 {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.used == nil {
		u.used = make(map[uint32]struct{})
	}
	id := uint32(1)
	for ; ; id++ {
		if _, ok := u.used[id]; !ok {
			break
		}
	}
	u.used[id] = struct{}{}
	return id
}

// Put frees a number that Take returned.
func (u *UniqueIDs) Put(id uint32) {
	u.mu.Lock()
	delete(u.used, id)
	u.mu.Unlock()
}
