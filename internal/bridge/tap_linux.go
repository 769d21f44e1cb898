package bridge

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/tap"
)

// tapFrames is the most frames one read wake-up collects from a TAP.
const tapFrames = 64

// frameBuf holds one frame read from a TAP: the hub's largest frame, with
// room to see (and drop) anything longer.
const frameBuf = ether.MaxFrameSize + 512

// tapConn is a TAP device this process created (internal/tap); it
// disappears when it is closed. A TAP hands over one frame per read and
// write, so a batch is what is ready at one wake-up.
type tapConn struct {
	dev    *tap.Device
	bufs   [][]byte // tapFrames buffers of frameBuf bytes
	sizes  []int
	frames [][]byte
}

// TapName is the name of the TAP device a TapMode bridge creates for
// device name dev, as SoftEther names it ("tap_" + name, cut to the
// 15-character limit of Linux interface names).
func TapName(dev string) string {
	n := "tap_" + dev
	if len(n) > unix.IFNAMSIZ-1 {
		n = n[:unix.IFNAMSIZ-1]
	}
	return n
}

// openTap creates the TAP device name with the given MAC and brings it up.
func openTap(name string, mac net.HardwareAddr) (*tapConn, error) {
	dev, err := tap.Create(tap.Config{Name: name, MAC: mac})
	if err != nil {
		return nil, tapError(name, err)
	}
	t := &tapConn{
		dev:    dev,
		bufs:   make([][]byte, tapFrames),
		sizes:  make([]int, tapFrames),
		frames: make([][]byte, 0, tapFrames),
	}
	backing := make([]byte, tapFrames*frameBuf)
	for i := range t.bufs {
		t.bufs[i] = backing[i*frameBuf : (i+1)*frameBuf : (i+1)*frameBuf]
	}
	return t, nil
}

// tapError explains why creating TAP name failed: a missing privilege as
// a PrivilegeError naming CAP_NET_ADMIN, a missing /dev/net/tun with a
// hint.
func tapError(name string, err error) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("creating TAP %s: /dev/net/tun is missing (load the tun module or create the device node): %w", name, err)
	case errors.Is(err, tap.ErrPermission) && errors.As(err, &errno):
		return privilege(errno, "CAP_NET_ADMIN", "creating TAP "+name)
	}
	return err
}

func (t *tapConn) hwAddr() net.HardwareAddr { return t.dev.MAC() }
func (t *tapConn) close() error             { return t.dev.Close() }
func (t *tapConn) dropped() uint64          { return 0 }

// read waits for a frame, then takes whatever else is ready (up to
// tapFrames) and passes the batch to input.
func (t *tapConn) read(input func([][]byte)) error {
	n, err := t.dev.ReadBatch(t.bufs, t.sizes)
	t.frames = t.frames[:0]
	for i, size := range t.sizes[:n] {
		if size < ether.MinFrameSize || size > ether.MaxFrameSize {
			continue // the hub would drop it anyway
		}
		t.frames = append(t.frames, t.bufs[i][:size])
	}
	if len(t.frames) > 0 {
		input(t.frames)
	}
	return err
}

// write writes each frame to the TAP; frames it refuses (longer than its
// MTU allows, or any while the device is down: EIO, also while it moves to
// another namespace) are skipped and counted, as a NIC without link drops
// them: the bridge, and with it the TAP device, stays.
func (t *tapConn) write(frames []*hub.Frame) (skipped int, err error) {
	for _, f := range frames {
		err := t.dev.Write(f.Bytes())
		switch {
		case err == nil:
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EMSGSIZE), errors.Is(err, unix.EIO):
			skipped++
		default:
			return skipped, fmt.Errorf("writing to %s: %w", t.dev.Name(), err)
		}
	}
	return skipped, nil
}
