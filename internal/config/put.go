package config

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"time"
)

// The put helpers write a modelled value into a loaded tree only when it
// differs from what the tree already says (absent or mistyped items read as
// zero, as in the real server). So an unchanged model leaves the tree byte
// for byte as it was, odd spellings and all.

// child calls fill on parent's sub-folder called name. A sub-folder that
// does not exist yet is created, but only kept if fill put something in
// it, so an unchanged model adds no empty folders to a sparse file.
func child(parent *Folder, name string, fill func(*Folder)) {
	if c := parent.Folder(name); c != nil {
		fill(c)
		return
	}
	c := NewFolder(name)
	fill(c)
	if len(c.Items) > 0 || len(c.Folders) > 0 {
		parent.Folders = append(parent.Folders, c)
	}
}

func putString(f *Folder, name, v string) {
	if f.GetString(name) != v {
		f.SetString(name, v)
	}
}

func putUint(f *Folder, name string, v uint32) {
	if f.GetUint(name) != v {
		f.SetUint(name, v)
	}
}

func putUint64(f *Folder, name string, v uint64) {
	if f.GetUint64(name) != v {
		f.SetUint64(name, v)
	}
}

func putBool(f *Folder, name string, v bool) {
	if f.GetBool(name) != v {
		f.SetBool(name, v)
	}
}

func putBytes(f *Folder, name string, v []byte) {
	if !bytes.Equal(f.GetBytes(name), v) {
		f.SetBytes(name, v)
	}
}

// putOptionalBytes writes v, or removes the item when v is empty (for
// items the real writer only emits when set).
func putOptionalBytes(f *Folder, name string, v []byte) {
	if len(v) == 0 {
		f.Remove(name)
		return
	}
	putBytes(f, name, v)
}

func putTime(f *Folder, name string, t time.Time) { putUint64(f, name, toSETime(t)) }

// getAddr reads an IP address stored as text; unparsable text gives the
// zero Addr.
func getAddr(f *Folder, name string) netip.Addr {
	a, _ := netip.ParseAddr(f.GetString(name))
	return a
}

func putAddr(f *Folder, name string, a netip.Addr) {
	if getAddr(f, name) == a && f.Item(name) != nil {
		return
	}
	if !a.IsValid() {
		if f.Item(name) == nil {
			return
		}
		f.SetString(name, "0.0.0.0")
		return
	}
	f.SetString(name, a.String())
}

// getMAC reads a MAC address written as "5E-00-11-22-33-44".
func getMAC(f *Folder, name string) net.HardwareAddr {
	m, err := net.ParseMAC(f.GetString(name))
	if err != nil || len(m) != 6 {
		return nil
	}
	return m
}

func putMAC(f *Folder, name string, m net.HardwareAddr) {
	if bytes.Equal(getMAC(f, name), m) {
		return
	}
	f.SetString(name, formatMAC(m))
}

// formatMAC writes a MAC the SoftEther way: upper-case hex joined by '-'.
func formatMAC(m net.HardwareAddr) string {
	return strings.ToUpper(strings.ReplaceAll(m.String(), ":", "-"))
}

// seTimeOffset is SoftEther's fixed offset between its 64-bit time and
// Unix milliseconds (a JST legacy), see docs/protocol/admin.md#se-time.
const seTimeOffset = 32400000

// toSETime converts t to SE-time; the zero Time is 0 ("never").
func toSETime(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	ms := t.UnixMilli() - seTimeOffset
	if ms < 0 {
		return 0
	}
	return uint64(ms)
}

// fromSETime converts SE-time to a UTC time; 0 is the zero Time.
func fromSETime(v uint64) time.Time {
	if v == 0 || v > 1<<62 {
		return time.Time{}
	}
	return time.UnixMilli(int64(v) + seTimeOffset).UTC()
}
