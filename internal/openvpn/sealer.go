package openvpn

import (
	"sync"
	"sync/atomic"
)

// sealer encrypts data packets with the newest keys into one reused
// buffer and sends them, or appends them to a caller's batch. A server
// Session and a Client each have one.
type sealer struct {
	keys atomic.Pointer[DataKeys] // the newest keys, nil before the first
	mu   sync.Mutex               // guards buf
	buf  []byte
	sent *atomic.Uint64 // the owner's DataOut
	send func([]byte)
}

func (t *sealer) sendData(pkt []byte) error {
	dk := t.keys.Load()
	if dk == nil {
		return ErrNoKey
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out, err := dk.Seal(t.buf[:0], pkt)
	if err != nil {
		return err
	}
	t.buf = out[:0]
	t.sent.Add(1)
	t.send(out)
	return nil
}

func (t *sealer) sealData(dst, pkt []byte) ([]byte, error) {
	dk := t.keys.Load()
	if dk == nil {
		return nil, ErrNoKey
	}
	out, err := dk.Seal(dst, pkt)
	if err != nil {
		return nil, err
	}
	t.sent.Add(1)
	return out, nil
}
