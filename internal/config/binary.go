package config

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/ethervpn/ethervpn/internal/sha0"
)

// binaryMagic starts a configuration file in SoftEther's binary format,
// which the real server writes only when "$save_binary" exists in its
// directory. It is followed by SHA-0 of the rest of the file and one
// folder, all integers big-endian:
//
//	FOLDER  := NAME name, u32 nfolders, FOLDER*, u32 nitems, ITEM*
//	ITEM    := NAME name, u32 type, payload
//	NAME    := u32 len+1, len bytes
//	payload := u32 (Uint) | u64 (Uint64) | u32 n, n bytes (Byte, String) | u32 0/1 (Bool)
const binaryMagic = "SEVPN_DB"

// errTruncated reports binary input that ends in the middle of a value.
var errTruncated = errors.New("config: binary file is truncated")

func parseBinary(b []byte) (*Folder, error) {
	const hdr = len(binaryMagic) + 20
	if len(b) < hdr {
		return nil, errTruncated
	}
	body := b[hdr:]
	if sum := sha0.Sum(body); !bytes.Equal(sum[:], b[len(binaryMagic):hdr]) {
		return nil, errors.New("config: binary file checksum mismatch (corrupt file)")
	}
	r := &binReader{b: body}
	f, err := r.folder(0)
	if err != nil {
		return nil, err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("config: binary file has %d bytes after the root folder (corrupt file)", len(r.b))
	}
	// the single outermost folder is the root itself
	if !strings.EqualFold(f.Name, RootName) {
		return nil, ErrNoRoot
	}
	return f, nil
}

// binReader decodes the binary folder encoding from a byte slice.
type binReader struct{ b []byte }

func (r *binReader) u32() (uint32, error) {
	if len(r.b) < 4 {
		return 0, errTruncated
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v, nil
}

func (r *binReader) u64() (uint64, error) {
	if len(r.b) < 8 {
		return 0, errTruncated
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v, nil
}

// bytes returns the next n bytes; n is checked against what is left so a
// hostile length cannot make us allocate.
func (r *binReader) bytes(n uint32) ([]byte, error) {
	if uint64(n) > uint64(len(r.b)) {
		return nil, errTruncated
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v, nil
}

func (r *binReader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", errors.New("config: binary file has a name with length 0")
	}
	v, err := r.bytes(n - 1)
	return string(v), err
}

func (r *binReader) folder(depth int) (*Folder, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("config: binary folders nested deeper than %d", maxDepth)
	}
	name, err := r.name()
	if err != nil {
		return nil, err
	}
	f := NewFolder(name)
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	for range n {
		c, err := r.folder(depth + 1)
		if err != nil {
			return nil, err
		}
		f.Folders = append(f.Folders, c)
	}
	if n, err = r.u32(); err != nil {
		return nil, err
	}
	for range n {
		it, err := r.item()
		if err != nil {
			return nil, err
		}
		f.Items = append(f.Items, it)
	}
	return f, nil
}

func (r *binReader) item() (*Item, error) {
	name, err := r.name()
	if err != nil {
		return nil, err
	}
	t, err := r.u32()
	if err != nil {
		return nil, err
	}
	it := &Item{Name: name, Type: ItemType(t)}
	switch it.Type {
	case Uint, Bool:
		v, err := r.u32()
		if err != nil {
			return nil, err
		}
		it.Uint, it.Bool = uint64(v), v != 0
		if it.Type == Bool {
			it.Uint = 0
		}
	case Uint64:
		if it.Uint, err = r.u64(); err != nil {
			return nil, err
		}
	case Byte, String:
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		v, err := r.bytes(n)
		if err != nil {
			return nil, err
		}
		if it.Type == String {
			it.Str = string(v)
		} else {
			it.Bytes = bytes.Clone(v)
		}
	default:
		return nil, fmt.Errorf("config: binary item %q has unknown type %d", name, t)
	}
	return it, nil
}

// EncodeBinary renders f in SoftEther's binary format (see binaryMagic).
// The server writes text; this exists for tools and tests.
func (f *Folder) EncodeBinary() []byte {
	var body bytes.Buffer
	writeBinFolder(&body, f)
	sum := sha0.Sum(body.Bytes())
	out := make([]byte, 0, len(binaryMagic)+len(sum)+body.Len())
	out = append(out, binaryMagic...)
	out = append(out, sum[:]...)
	return append(out, body.Bytes()...)
}

func writeBinFolder(b *bytes.Buffer, f *Folder) {
	writeBinName(b, f.Name)
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(f.Folders))))
	for _, c := range f.Folders {
		writeBinFolder(b, c)
	}
	n := 0
	for _, it := range f.Items {
		if it.Type >= Uint && it.Type <= Bool {
			n++
		}
	}
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(n)))
	for _, it := range f.Items {
		var v []byte
		switch it.Type {
		case Uint:
			v = binary.BigEndian.AppendUint32(nil, uint32(it.Uint))
		case Uint64:
			v = binary.BigEndian.AppendUint64(nil, it.Uint)
		case Bool:
			x := uint32(0)
			if it.Bool {
				x = 1
			}
			v = binary.BigEndian.AppendUint32(nil, x)
		case Byte:
			v = append(binary.BigEndian.AppendUint32(nil, uint32(len(it.Bytes))), it.Bytes...)
		case String:
			v = append(binary.BigEndian.AppendUint32(nil, uint32(len(it.Str))), it.Str...)
		default:
			continue
		}
		writeBinName(b, it.Name)
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(it.Type)))
		b.Write(v)
	}
}

func writeBinName(b *bytes.Buffer, s string) {
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s)+1)))
	b.WriteString(s)
}
