package pack

import (
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"
)

// Encode appends the wire form to dst: elements sorted case-insensitively by
// name (ASCII), except an element named "pencore" which is always written
// last (as the real writer does). It grows dst at most once.
func (p *Pack) Encode(dst []byte) []byte {
	dst = slices.Grow(dst, p.encodedLen())
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.elems)))
	pen := p.pencoreIndex()
	for i := range p.elems {
		if i != pen {
			dst = appendElement(dst, &p.elems[i])
		}
	}
	if pen >= 0 {
		dst = appendElement(dst, &p.elems[pen])
	}
	return dst
}

// encodedLen returns the exact size of the wire form.
func (p *Pack) encodedLen() int {
	n := 4
	for i := range p.elems {
		e := &p.elems[i]
		n += 4 + len(e.Name) + 4 + 4
		switch e.Type {
		case TypeInt:
			n += 4 * len(e.Ints)
		case TypeInt64:
			n += 8 * len(e.Ints)
		case TypeData:
			for _, b := range e.Blobs {
				n += 4 + len(b)
			}
		case TypeStr:
			for _, s := range e.Strs {
				n += 4 + len(s)
			}
		case TypeUniStr:
			for _, s := range e.Strs {
				n += 4 + len(s) + 1
			}
		}
	}
	return n
}

func appendElement(dst []byte, e *Element) []byte {
	be := binary.BigEndian
	// Quirk: the prefix counts a NUL terminator that is not written.
	dst = be.AppendUint32(dst, uint32(len(e.Name)+1))
	dst = append(dst, e.Name...)
	dst = be.AppendUint32(dst, uint32(e.Type))
	dst = be.AppendUint32(dst, uint32(e.Len()))
	switch e.Type {
	case TypeInt:
		for _, v := range e.Ints {
			dst = be.AppendUint32(dst, uint32(v))
		}
	case TypeInt64:
		for _, v := range e.Ints {
			dst = be.AppendUint64(dst, v)
		}
	case TypeData:
		for _, b := range e.Blobs {
			dst = be.AppendUint32(dst, uint32(len(b)))
			dst = append(dst, b...)
		}
	case TypeStr:
		for _, s := range e.Strs {
			dst = be.AppendUint32(dst, uint32(len(s)))
			dst = append(dst, s...)
		}
	case TypeUniStr:
		for _, s := range e.Strs {
			dst = be.AppendUint32(dst, uint32(len(s)+1))
			dst = append(dst, s...)
			dst = append(dst, 0)
		}
	}
	return dst
}

// DecodeError explains why Decode rejected its input.
type DecodeError struct {
	Element int    // index of the offending element on the wire; -1 if none
	Name    string // its name, when already read
	Reason  string
}

func (e *DecodeError) Error() string {
	switch {
	case e.Element < 0:
		return "pack: " + e.Reason
	case e.Name == "":
		return fmt.Sprintf("pack: element %d: %s", e.Element, e.Reason)
	}
	return fmt.Sprintf("pack: element %d %q: %s", e.Element, e.Name, e.Reason)
}

// decoder walks the input; each read checks the remaining length first.
type decoder struct {
	b    []byte
	elem int    // index of the element being read
	name []byte // its name once known
	cost int    // memory the decoded PACK may still take, see DecodeBudget
	dry  bool   // only check the input and count the cost: allocate nothing
}

// Memory that decoded elements and values take besides their bytes: an
// Element, a slice header (DATA), a string header (STR, UNISTR) and a
// uint64 (INT, INT64). An empty DATA value is 4 bytes on the wire and 24 in
// memory, so the cost of a PACK is bounded by its decoder, not its size.
const (
	elementCost = int(unsafe.Sizeof(Element{}))
	blobCost    = int(unsafe.Sizeof([]byte(nil)))
	strCost     = int(unsafe.Sizeof(""))
	intCost     = 8
)

var valueCost = [...]int{TypeInt: intCost, TypeData: blobCost, TypeStr: strCost, TypeUniStr: strCost, TypeInt64: intCost}

// spend charges n bytes of memory to the decoded PACK before they are
// allocated.
func (d *decoder) spend(n uint64, what string) error {
	if n > uint64(d.cost) {
		return d.fail("%s would take the decoded PACK over its memory budget (%d bytes more needed, %d left)", what, n, d.cost)
	}
	d.cost -= int(n)
	return nil
}

func (d *decoder) fail(format string, args ...any) error {
	return &DecodeError{Element: d.elem, Name: cleanName(string(d.name)), Reason: fmt.Sprintf(format, args...)}
}

func (d *decoder) u32(what string) (uint32, error) {
	if len(d.b) < 4 {
		return 0, d.fail("truncated %s: need 4 bytes, %d remain", what, len(d.b))
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v, nil
}

// bytes returns the next n bytes without copying.
func (d *decoder) bytes(n uint32, what string) ([]byte, error) {
	if uint64(n) > uint64(len(d.b)) {
		return nil, d.fail("%s %d exceeds remaining %d bytes", what, n, len(d.b))
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v, nil
}

// Smallest wire size of an element (empty name, one INT) and of a value by
// type; used to reject counts the remaining input cannot hold before
// allocating for them.
const minElementSize = 4 + 4 + 4 + 4

var minValueSize = [...]int{TypeInt: 4, TypeData: 4, TypeStr: 4, TypeUniStr: 4, TypeInt64: 8}

// Decode parses a PACK with the real reader's limits: <= 262144 elements,
// <= 262144 values per element, value size <= 384 MiB and never larger than
// the remaining input, name length prefix 1..64 (quirk: prefix = strlen+1,
// strlen bytes follow), value_count >= 1, duplicate names (case-insensitive)
// rejected, unknown type rejected; trailing bytes ignored. Like the real
// reader, names end at a NUL and STR/UNISTR values end at a NUL and are
// trimmed of leading/trailing spaces and tabs. Errors are *DecodeError.
// The decoded PACK takes at most DefaultBudget(len(b)) bytes of memory.
func Decode(b []byte) (*Pack, error) {
	return DecodeBudget(b, DefaultBudget(len(b)))
}

// DefaultBudget is the memory Decode lets a PACK of size bytes take once
// decoded: three times its size, plus 64 KiB for small PACKs with many
// elements. Real PACKs stay well under it (a full access list of 32,768
// rules, rich in IP addresses and MAC masks, takes about 2.3 times its
// size); a PACK of empty values, which would take six, is refused.
func DefaultBudget(size int) int { return 3*size + 64<<10 }

// DecodeBudget is Decode with the memory of the decoded PACK (its element
// and value headers and bytes) bounded by budget bytes: a PACK that needs
// more is refused with a *DecodeError before the allocation that would
// exceed it.
func DecodeBudget(b []byte, budget int) (*Pack, error) {
	// A first pass that allocates nothing refuses a PACK over its budget
	// at no cost but the time to walk it.
	if _, err := (&decoder{b: b, elem: -1, cost: max(budget, 0), dry: true}).decode(); err != nil {
		return nil, err
	}
	return (&decoder{b: b, elem: -1, cost: max(budget, 0)}).decode()
}

// decode reads the whole PACK; nil in a dry run.
func (d *decoder) decode() (*Pack, error) {
	n, err := d.u32("element count")
	if err != nil {
		return nil, err
	}
	if n > MaxElements {
		return nil, d.fail("element count %d exceeds %d", n, MaxElements)
	}
	if uint64(n)*minElementSize > uint64(len(d.b)) {
		return nil, d.fail("element count %d needs at least %d bytes, %d remain", n, uint64(n)*minElementSize, len(d.b))
	}
	if err := d.spend(uint64(n)*uint64(elementCost), "the element array"); err != nil {
		return nil, err
	}
	if d.dry {
		for i := range int(n) {
			d.elem, d.name = i, nil
			if _, err := d.element(); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	p := &Pack{elems: make([]Element, 0, n)}
	for i := range int(n) {
		d.elem, d.name = i, nil
		e, err := d.element()
		if err != nil {
			return nil, err
		}
		p.elems = append(p.elems, e)
	}

	// Sorting once is O(n log n) even for hostile element counts, and
	// puts duplicates next to each other.
	slices.SortFunc(p.elems, func(a, b Element) int { return compareNames(a.Name, b.Name) })
	for i := 1; i < len(p.elems); i++ {
		if compareNames(p.elems[i-1].Name, p.elems[i].Name) == 0 {
			return nil, &DecodeError{Element: -1, Reason: fmt.Sprintf(
				"duplicate element name %q / %q (names are case-insensitive)", p.elems[i-1].Name, p.elems[i].Name)}
		}
	}
	return p, nil
}

func (d *decoder) element() (Element, error) {
	var e Element
	nameLen, err := d.u32("name length")
	if err != nil {
		return e, err
	}
	if nameLen < 1 || nameLen > MaxNameLen+1 {
		return e, d.fail("name length prefix %d outside 1..%d", nameLen, MaxNameLen+1)
	}
	name, err := d.bytes(nameLen-1, "name length")
	if err != nil {
		return e, err
	}
	d.name = name
	if !d.dry {
		e.Name = cleanName(string(name))
	}

	t, err := d.u32("type")
	if err != nil {
		return e, err
	}
	if t > uint32(TypeInt64) {
		return e, d.fail("unknown value type %d", t)
	}
	e.Type = Type(t)
	count, err := d.u32("value count")
	if err != nil {
		return e, err
	}
	switch {
	case count == 0:
		return e, d.fail("no values")
	case count > MaxValues:
		return e, d.fail("value count %d exceeds %d", count, MaxValues)
	case uint64(count)*uint64(minValueSize[t]) > uint64(len(d.b)):
		return e, d.fail("%d %s values need at least %d bytes, %d remain",
			count, e.Type, uint64(count)*uint64(minValueSize[t]), len(d.b))
	}

	if err := d.spend(uint64(count)*uint64(valueCost[t]), "its values"); err != nil {
		return e, err
	}
	if d.dry {
		return e, d.skipValues(e.Type, count)
	}
	switch e.Type {
	case TypeInt:
		e.Ints = make([]uint64, count)
		for i := range e.Ints {
			v, _ := d.u32("INT value") // length checked above
			e.Ints[i] = uint64(v)
		}
	case TypeInt64:
		e.Ints = make([]uint64, count)
		for i := range e.Ints {
			e.Ints[i] = binary.BigEndian.Uint64(d.b)
			d.b = d.b[8:]
		}
	case TypeData:
		e.Blobs = make([][]byte, count)
		for i := range e.Blobs {
			v, err := d.value()
			if err != nil {
				return e, err
			}
			if err := d.spend(uint64(len(v)), "a DATA value"); err != nil {
				return e, err
			}
			e.Blobs[i] = append([]byte{}, v...) // never alias the caller's buffer
		}
	case TypeStr, TypeUniStr:
		// A UNISTR's trailing NUL (and a size-0 UNISTR, which the spec
		// says to accept as "") is handled by cleanStr cutting at NUL.
		e.Strs = make([]string, count)
		for i := range e.Strs {
			v, err := d.value()
			if err != nil {
				return e, err
			}
			if err := d.spend(uint64(len(v)), "a string value"); err != nil {
				return e, err
			}
			e.Strs[i] = cleanStr(string(v))
		}
	}
	return e, nil
}

// skipValues passes over count values of type t, charging their bytes.
func (d *decoder) skipValues(t Type, count uint32) error {
	switch t {
	case TypeInt, TypeInt64:
		d.b = d.b[int(count)*minValueSize[t]:] // length checked by element
		return nil
	}
	for range count {
		v, err := d.value()
		if err != nil {
			return err
		}
		if err := d.spend(uint64(len(v)), "a value"); err != nil {
			return err
		}
	}
	return nil
}

// value reads one size-prefixed DATA, STR or UNISTR value.
func (d *decoder) value() ([]byte, error) {
	size, err := d.u32("value size")
	if err != nil {
		return nil, err
	}
	if size > MaxValueSize {
		return nil, d.fail("value size %d exceeds %d", size, MaxValueSize)
	}
	return d.bytes(size, "value size")
}
