// Package config reads and writes SoftEther VPN configuration files
// (vpn_server.config and friends) and offers a typed view of the parts the
// server uses.
//
// The file is a tree of folders holding typed items. The generic tree
// (Folder, Item, Parse, Encode, Load, Save) keeps everything it reads,
// including items and folders this program does not understand, so that
// rewriting a file never loses settings. The typed model (Server, Hub, User,
// ...) reads from and writes back into such a tree.
//
// Format reference: docs/protocol/config.md#text-format.
package config

import (
	"slices"
	"strings"
)

// ItemType is the type of a configuration item. The values are SoftEther's
// own type numbers, as used in the binary file format.
type ItemType int

// The item types. The zero ItemType is invalid.
const (
	Uint   ItemType = 1 // 32-bit unsigned integer ("uint")
	Uint64 ItemType = 2 // 64-bit unsigned integer ("uint64")
	Byte   ItemType = 3 // byte string, base64 in text files ("byte")
	String ItemType = 4 // UTF-8 text ("string")
	Bool   ItemType = 5 // boolean ("bool")
)

// String returns the keyword used for t in text files.
func (t ItemType) String() string {
	switch t {
	case Uint:
		return "uint"
	case Uint64:
		return "uint64"
	case Byte:
		return "byte"
	case String:
		return "string"
	case Bool:
		return "bool"
	}
	return "invalid"
}

// itemTypeFromKeyword maps a text-file type keyword (any case) to its type;
// it returns 0 for anything else.
func itemTypeFromKeyword(s string) ItemType {
	for _, t := range []ItemType{Uint, Uint64, Byte, String, Bool} {
		if strings.EqualFold(s, t.String()) {
			return t
		}
	}
	return 0
}

// Item is one named, typed value. Only the field matching Type is
// meaningful: Str for String, Uint for Uint and Uint64, Bool for Bool and
// Bytes for Byte.
type Item struct {
	Name  string
	Type  ItemType
	Str   string
	Uint  uint64
	Bool  bool
	Bytes []byte

	line int // where a text file declared it (0 = not read from text)
}

// Folder is a named node holding items and sub-folders, in the order they
// were read or added. Names are compared case-insensitively. A folder may
// hold several items or folders with the same name (a hand-edited file can);
// lookups then return the first.
type Folder struct {
	Name    string
	Items   []*Item
	Folders []*Folder

	line int // where a text file declared it (0 = not read from text)

	// final marks a folder whose content the model will not change
	// without saying so (a user's folder once written, see User.toFolder):
	// Encode keeps its encoding in enc (at depth encDepth) and reuses it,
	// so that saving a hub of 10,000 users encodes only those that
	// changed. Any change through the methods below drops both.
	final    bool
	enc      []byte
	encDepth int
}

// changed drops what Encode kept of f (see final).
func (f *Folder) changed() { f.final, f.enc = false, nil }

// Final reports whether the model marked f as a folder it does not change
// in place (a written user, see final): while f is final, its content is
// what it was when it was written, so a writer that keeps its own copy of
// f's encoding (a farm's shared store) need not encode it again.
func (f *Folder) Final() bool { return f.final }

// NewFolder returns an empty folder called name.
func NewFolder(name string) *Folder { return &Folder{Name: name} }

// Folder returns the first sub-folder called name, or nil.
func (f *Folder) Folder(name string) *Folder {
	if f == nil {
		return nil
	}
	for _, c := range f.Folders {
		if strings.EqualFold(c.Name, name) {
			return c
		}
	}
	return nil
}

// Ensure returns the sub-folder called name, creating it if it is absent.
func (f *Folder) Ensure(name string) *Folder {
	f.changed()
	if c := f.Folder(name); c != nil {
		return c
	}
	c := NewFolder(name)
	f.Folders = append(f.Folders, c)
	return c
}

// Item returns the first item called name, or nil.
func (f *Folder) Item(name string) *Item {
	if f == nil {
		return nil
	}
	for _, it := range f.Items {
		if strings.EqualFold(it.Name, name) {
			return it
		}
	}
	return nil
}

// ItemLine returns the line of a text file where the item called name
// was read, or 0 (absent, or not read from text).
func (f *Folder) ItemLine(name string) int {
	if it := f.Item(name); it != nil {
		return it.line
	}
	return 0
}

// typed returns the item called name if it has type t.
func (f *Folder) typed(name string, t ItemType) *Item {
	if it := f.Item(name); it != nil && it.Type == t {
		return it
	}
	return nil
}

// GetString returns the string item called name, or "" when it is absent
// or not a string.
func (f *Folder) GetString(name string) string {
	if it := f.typed(name, String); it != nil {
		return it.Str
	}
	return ""
}

// GetUint returns the uint item called name, or 0 when it is absent or not
// a uint (SoftEther reads a type mismatch as the zero value too).
func (f *Folder) GetUint(name string) uint32 {
	if it := f.typed(name, Uint); it != nil {
		return uint32(it.Uint)
	}
	return 0
}

// GetUint64 returns the uint64 item called name, or 0.
func (f *Folder) GetUint64(name string) uint64 {
	if it := f.typed(name, Uint64); it != nil {
		return it.Uint
	}
	return 0
}

// GetBool returns the bool item called name, or false.
func (f *Folder) GetBool(name string) bool {
	if it := f.typed(name, Bool); it != nil {
		return it.Bool
	}
	return false
}

// GetBytes returns the byte item called name, or nil. The slice is the
// item's own; copy it before changing it.
func (f *Folder) GetBytes(name string) []byte {
	if it := f.typed(name, Byte); it != nil {
		return it.Bytes
	}
	return nil
}

// set replaces the first item called name by it (keeping its position and
// its spelling of the name) or adds it before the first item whose name
// sorts after it, so that a folder kept in file order stays so and Encode
// need not sort it.
func (f *Folder) set(it *Item) {
	f.changed()
	if old := f.Item(it.Name); old != nil {
		it.Name = old.Name
		*old = *it
		return
	}
	i := slices.IndexFunc(f.Items, func(x *Item) bool { return compareNames(x.Name, it.Name) > 0 })
	if i < 0 {
		i = len(f.Items)
	}
	f.Items = slices.Insert(f.Items, i, it)
}

// SetString sets the string item called name, replacing any item of that
// name whatever its type.
func (f *Folder) SetString(name, v string) { f.set(&Item{Name: name, Type: String, Str: v}) }

// SetUint sets the uint item called name.
func (f *Folder) SetUint(name string, v uint32) {
	f.set(&Item{Name: name, Type: Uint, Uint: uint64(v)})
}

// SetUint64 sets the uint64 item called name.
func (f *Folder) SetUint64(name string, v uint64) { f.set(&Item{Name: name, Type: Uint64, Uint: v}) }

// SetBool sets the bool item called name.
func (f *Folder) SetBool(name string, v bool) { f.set(&Item{Name: name, Type: Bool, Bool: v}) }

// SetBytes sets the byte item called name to a copy of v.
func (f *Folder) SetBytes(name string, v []byte) {
	f.set(&Item{Name: name, Type: Byte, Bytes: append([]byte{}, v...)})
}

// Remove deletes every item and sub-folder called name.
func (f *Folder) Remove(name string) {
	f.changed()
	items := f.Items[:0]
	for _, it := range f.Items {
		if !strings.EqualFold(it.Name, name) {
			items = append(items, it)
		}
	}
	clear(f.Items[len(items):])
	f.Items = items
	folders := f.Folders[:0]
	for _, c := range f.Folders {
		if !strings.EqualFold(c.Name, name) {
			folders = append(folders, c)
		}
	}
	clear(f.Folders[len(folders):])
	f.Folders = folders
}

// Clone returns a deep copy of f.
func (f *Folder) Clone() *Folder {
	c := &Folder{Name: f.Name, line: f.line}
	for _, it := range f.Items {
		n := *it
		if it.Bytes != nil {
			n.Bytes = append([]byte{}, it.Bytes...)
		}
		c.Items = append(c.Items, &n)
	}
	for _, sub := range f.Folders {
		c.Folders = append(c.Folders, sub.Clone())
	}
	return c
}

// Equal reports whether f and g hold the same tree: the same names, item
// types and values. Order counts only as the file keeps it: items and
// sub-folders are compared in the order Encode writes them (by name), and
// where the text was read from does not count.
func (f *Folder) Equal(g *Folder) bool {
	if f == nil || g == nil {
		return f == g
	}
	if f.Name != g.Name || len(f.Items) != len(g.Items) || len(f.Folders) != len(g.Folders) {
		return false
	}
	return sameByName(f.Items, g.Items, func(x *Item) string { return x.Name }, (*Item).equal) &&
		sameByName(f.Folders, g.Folders, func(x *Folder) string { return x.Name }, (*Folder).Equal)
}

// sameByName reports whether a and b, of equal length, hold equal elements
// once each is sorted by name (stably: repeated names keep their order).
func sameByName[T any](a, b []T, name func(T) string, equal func(x, y T) bool) bool {
	byName := func(x, y T) int { return compareNames(name(x), name(y)) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortStableFunc(a, byName)
	slices.SortStableFunc(b, byName)
	for i := range a {
		if !equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// equal compares the meaningful part of two items (see Item).
func (it *Item) equal(o *Item) bool {
	if it.Name != o.Name || it.Type != o.Type {
		return false
	}
	switch it.Type {
	case String:
		return it.Str == o.Str
	case Uint:
		return uint32(it.Uint) == uint32(o.Uint)
	case Uint64:
		return it.Uint == o.Uint
	case Bool:
		return it.Bool == o.Bool
	case Byte:
		return string(it.Bytes) == string(o.Bytes)
	}
	return true
}
