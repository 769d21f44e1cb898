package bridge

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ethervpn/ethervpn/internal/hub"
)

// tapFrames is the most frames one read wake-up collects from a TAP.
const tapFrames = 64

// tapConn is a TAP device this process created; it disappears when the
// descriptor closes. A TAP hands over one frame per read and write, so a
// batch is what is ready at one wake-up.
type tapConn struct {
	name string
	mac  net.HardwareAddr
	f    *os.File
	rc   syscall.RawConn

	bufs   []byte // tapFrames * frameBuf
	frames [][]byte
}

// frameBuf holds one frame read from a TAP: the hub's largest frame, with
// room to see (and drop) anything longer.
const frameBuf = hub.MaxFrameSize + 512

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
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("creating TAP %s: /dev/net/tun is missing (load the tun module or create the device node): %w", name, err)
		}
		return nil, privilege(err, "CAP_NET_ADMIN", "creating TAP "+name)
	}
	fail := func(what string, err error) (*tapConn, error) {
		unix.Close(fd)
		return nil, privilege(err, "CAP_NET_ADMIN", what+" "+name)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fail("naming TAP", err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fail("creating TAP", err)
	}
	if err := setMACAndUp(name, mac); err != nil {
		return fail("configuring TAP", err)
	}
	f := os.NewFile(uintptr(fd), "tap:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &tapConn{
		name: name, mac: mac, f: f, rc: rc,
		bufs:   make([]byte, tapFrames*frameBuf),
		frames: make([][]byte, 0, tapFrames),
	}, nil
}

// ifreqHW is struct ifreq holding a hardware address (SIOCSIFHWADDR).
type ifreqHW struct {
	name   [unix.IFNAMSIZ]byte
	family uint16
	data   [14]byte
	_      [8]byte
}

// setMACAndUp sets the interface's MAC address and brings it up.
func setMACAndUp(name string, mac net.HardwareAddr) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	if len(mac) == 6 {
		var req ifreqHW
		copy(req.name[:], name)
		req.family = unix.ARPHRD_ETHER
		copy(req.data[:], mac)
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(s), unix.SIOCSIFHWADDR, uintptr(unsafe.Pointer(&req))); e != 0 {
			return fmt.Errorf("setting MAC %s: %w", mac, e)
		}
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing it up: %w", err)
	}
	return nil
}

func (t *tapConn) hwAddr() net.HardwareAddr { return t.mac }
func (t *tapConn) close() error             { return t.f.Close() }
func (t *tapConn) dropped() uint64          { return 0 }

// read waits for a frame, then takes whatever else is ready (up to
// tapFrames) and passes the batch to input.
func (t *tapConn) read(input func([][]byte)) error {
	t.frames = t.frames[:0]
	var errno syscall.Errno
	err := t.rc.Read(func(fd uintptr) bool {
		for len(t.frames) < tapFrames {
			i := len(t.frames)
			buf := t.bufs[i*frameBuf : (i+1)*frameBuf]
			n, err := unix.Read(int(fd), buf)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				return len(t.frames) > 0
			}
			if err != nil {
				errno, _ = err.(syscall.Errno)
				return true
			}
			if n < hub.MinFrameSize || n > hub.MaxFrameSize {
				continue // the hub would drop it anyway
			}
			t.frames = append(t.frames, buf[:n])
		}
		return true
	})
	if len(t.frames) > 0 {
		input(t.frames)
	}
	if err != nil {
		return err
	}
	if errno != 0 {
		return fmt.Errorf("reading from %s: %w", t.name, errno)
	}
	return nil
}

// write writes each frame to the TAP.
func (t *tapConn) write(frames []*hub.Frame) (skipped int, err error) {
	i := 0
	var errno syscall.Errno
	err = t.rc.Write(func(fd uintptr) bool {
		for i < len(frames) {
			_, err := unix.Write(int(fd), frames[i].Bytes())
			switch err {
			case nil:
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			case unix.EINVAL, unix.EMSGSIZE:
				skipped++
			default:
				errno, _ = err.(syscall.Errno)
				return true
			}
			i++
		}
		return true
	})
	if err != nil {
		return skipped, err
	}
	if errno != 0 {
		return skipped, fmt.Errorf("writing to %s: %w", t.name, errno)
	}
	return skipped, nil
}
