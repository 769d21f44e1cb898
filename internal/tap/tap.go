// Package tap creates Linux TAP devices and moves Ethernet frames through
// them in batches: several frames per wake-up of the reader, no allocation
// per frame.
//
// A device lives as long as its file descriptor: Close removes it. Creating
// one needs CAP_NET_ADMIN in the network namespace of the calling thread,
// which is where the device appears.
package tap

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config describes the device to create.
type Config struct {
	// Name is the interface name (at most 15 bytes); "" lets the kernel
	// pick one (tap0, tap1, ...).
	Name string
	// MTU of the interface; 0 keeps the kernel's default (1500).
	MTU int
	// MAC is the interface's hardware address; nil picks a random
	// locally administered one starting with 5E, as vpnclient's adapters do.
	MAC net.HardwareAddr
	// TxQueueLen is the kernel's queue of frames waiting for Read; 0 keeps
	// the default. A longer queue absorbs bursts while the VPN is busy.
	TxQueueLen int
	// Offload opens the device with a virtio_net_hdr in front of every
	// frame (IFF_VNET_HDR) and lets the kernel hand over TCP (and UDP)
	// segments of up to 64 KiB with checksums left to complete, and take
	// such segments too: one system call then moves many frames. Port cuts
	// them into wire frames and merges frames for writing; a caller of
	// ReadBatch and Write deals with the header itself.
	Offload bool
}

// Device is one TAP interface.
type Device struct {
	f    *os.File
	rc   syscall.RawConn
	name string
	mac  net.HardwareAddr
	// offload: every read and write starts with a virtio_net_hdr.
	offload bool

	// State of the batch read in progress; readFn is bound once so that
	// ReadBatch does not allocate a closure per call.
	rbufs  [][]byte
	rsizes []int
	rn     int
	rerr   error
	readFn func(fd uintptr) bool

	// wops is a free list of write operations (see Write).
	wops chan *writeOp
}

// maxWriteOps is how many concurrent Writes keep their operation for the
// next call; more allocate one (Port.Input runs on each connection reader
// of a session, and a session has at most 32 connections).
const maxWriteOps = 32

// ErrPermission is wrapped by Create's error when the process lacks
// CAP_NET_ADMIN.
var ErrPermission = errors.New("creating a TAP device needs the CAP_NET_ADMIN capability (run as root, or grant it, e.g. setcap cap_net_admin+ep on the binary)")

// Create creates the TAP device, sets its MTU and MAC address and brings it
// up.
func Create(cfg Config) (*Device, error) {
	if len(cfg.Name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tap: interface name %q is longer than %d bytes", cfg.Name, unix.IFNAMSIZ-1)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, wrapPerm(fmt.Sprintf("opening /dev/net/tun for %q", cfg.Name), err)
	}
	ifr, err := unix.NewIfreq(cfg.Name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tap: %w", err)
	}
	flags := uint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if cfg.Offload {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, wrapPerm(fmt.Sprintf("creating TAP %q", cfg.Name), err)
	}
	if cfg.Offload {
		if err := setOffload(fd); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("tap: enabling offloads on %s: %w", ifr.Name(), err)
		}
	}
	d := &Device{name: ifr.Name(), offload: cfg.Offload, wops: make(chan *writeOp, maxWriteOps)}
	// The descriptor is non-blocking, so os.NewFile registers it with the
	// runtime's poller: a blocked ReadBatch parks a goroutine, not a thread.
	d.f = os.NewFile(uintptr(fd), "/dev/net/tun:"+d.name)
	if d.rc, err = d.f.SyscallConn(); err != nil {
		d.f.Close()
		return nil, fmt.Errorf("tap: %w", err)
	}
	d.readFn = d.readSome
	if err := d.configure(cfg); err != nil {
		d.f.Close()
		return nil, err
	}
	return d, nil
}

// setOffload tells the kernel which offloads the reader completes:
// checksums, TCP segmentation and, where the kernel knows it (6.2 and
// later), UDP segmentation.
func setOffload(fd int) error {
	const tcp = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6
	err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tcp|unix.TUN_F_USO4|unix.TUN_F_USO6)
	if err == unix.EINVAL {
		err = unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tcp)
	}
	return err
}

// wrapPerm adds what was being done to err, and ErrPermission when err
// says a privilege is missing; the system error stays wrapped too.
func wrapPerm(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("tap: %s: %w (%w)", what, ErrPermission, err)
	}
	return fmt.Errorf("tap: %s: %w", what, err)
}

// configure sets MTU, MAC and queue length and brings the interface up,
// through an ordinary socket as ip(8) does with SIOCSIF* ioctls.
func (d *Device) configure(cfg Config) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tap: control socket: %w", err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(d.name)
	if err != nil {
		return fmt.Errorf("tap: %w", err)
	}
	if cfg.MTU > 0 {
		ifr.SetUint32(uint32(cfg.MTU))
		if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, ifr); err != nil {
			return wrapPerm(fmt.Sprintf("setting MTU %d on %s", cfg.MTU, d.name), err)
		}
	}
	if cfg.TxQueueLen > 0 {
		ifr.SetUint32(uint32(cfg.TxQueueLen))
		if err := unix.IoctlIfreq(s, unix.SIOCSIFTXQLEN, ifr); err != nil {
			return wrapPerm(fmt.Sprintf("setting the queue length of %s", d.name), err)
		}
	}
	mac := cfg.MAC
	if mac == nil {
		mac = RandomMAC()
	}
	if len(mac) != 6 {
		return fmt.Errorf("tap: MAC address %v is not 6 bytes", mac)
	}
	if err := setHardwareAddr(s, d.name, mac); err != nil {
		return wrapPerm(fmt.Sprintf("setting MAC %v on %s", mac, d.name), err)
	}
	d.mac = append(net.HardwareAddr(nil), mac...)
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tap: reading flags of %s: %w", d.name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return wrapPerm(fmt.Sprintf("bringing %s up", d.name), err)
	}
	return nil
}

// ifreqHW is struct ifreq with the sockaddr of SIOCSIFHWADDR, which
// unix.Ifreq has no setter for.
type ifreqHW struct {
	name   [unix.IFNAMSIZ]byte
	family uint16
	data   [14]byte
	_      [8]byte // the rest of the union
}

func setHardwareAddr(sock int, name string, mac net.HardwareAddr) error {
	var r ifreqHW
	copy(r.name[:], name)
	r.family = unix.ARPHRD_ETHER
	copy(r.data[:], mac)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(sock), unix.SIOCSIFHWADDR, uintptr(unsafe.Pointer(&r)))
	if errno != 0 {
		return errno
	}
	return nil
}

// RandomMAC returns a random unicast, locally administered address
// 5E:xx:xx:xx:xx:xx.
func RandomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	rand.Read(mac[1:])
	mac[0] = 0x5e
	return mac
}

// Name is the interface name.
func (d *Device) Name() string { return d.name }

// MAC is the interface's hardware address.
func (d *Device) MAC() net.HardwareAddr { return d.mac }

// Offload says whether the device was created with Config.Offload: every
// buffer ReadBatch fills and every frame given to Write then starts with a
// 10-byte virtio_net_hdr.
func (d *Device) Offload() bool { return d.offload }

// ReadBatch waits for at least one frame and reads up to len(bufs) frames
// that are already queued, frame i into bufs[i] with its length in sizes[i].
// It returns the number of frames read. A frame longer than its buffer is
// truncated by the kernel. Only one goroutine may call ReadBatch at a time.
func (d *Device) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	if len(bufs) == 0 || len(sizes) < len(bufs) {
		return 0, errors.New("tap: ReadBatch needs at least one buffer and a size slot for each")
	}
	d.rbufs, d.rsizes, d.rn, d.rerr = bufs, sizes, 0, nil
	err := d.rc.Read(d.readFn)
	n, rerr := d.rn, d.rerr
	d.rbufs, d.rsizes = nil, nil
	if n > 0 {
		return n, nil
	}
	if rerr != nil {
		return 0, fmt.Errorf("tap: reading %s: %w", d.name, rerr)
	}
	if err != nil {
		return 0, fmt.Errorf("tap: reading %s: %w", d.name, err)
	}
	return 0, nil
}

// The device's reads and writes are raw system calls (no runtime
// bookkeeping), run inside syscall.RawConn, which keeps the descriptor open
// during the call and waits through the runtime's poller when the device is
// not ready. On the non-blocking descriptor they never block, and the
// bookkeeping of ordinary calls hands the goroutine's processor to another
// thread whenever a call runs long: a 64 KiB write into the TAP runs the
// kernel's whole receive path of the tunnelled TCP, so the client's threads
// kept waking each other (futex) and the runtime's monitor kept polling
// (nanosleep), as internal/wire's rawOp found for the server's sockets.

// readSome reads frames until the queue is empty or the buffers are full;
// returning false makes the runtime wait until the device is readable.
func (d *Device) readSome(fd uintptr) bool {
	for d.rn < len(d.rbufs) {
		b := d.rbufs[d.rn]
		m, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return d.rn > 0
		default:
			d.rerr = e
			return true
		}
		d.rsizes[d.rn] = int(m)
		d.rn++
	}
	return true
}

// writeOp is one Write's system call; fn is its write method, bound once
// so that a Write does not allocate a closure.
type writeOp struct {
	frame []byte
	err   error
	fn    func(fd uintptr) bool
}

func (o *writeOp) write(fd uintptr) bool {
	for {
		_, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(o.frame))), uintptr(len(o.frame)))
		switch e {
		case 0:
			return true
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			o.err = e
			return true
		}
	}
}

// Write sends one frame into the interface, as if the device had received
// it from the wire (with Offload, behind its virtio_net_hdr). The kernel
// takes a TAP write at once (it never waits), so writers do not need
// batching to avoid blocking. Writes may run concurrently.
func (d *Device) Write(frame []byte) error {
	var o *writeOp
	select {
	case o = <-d.wops:
	default:
		o = &writeOp{}
		o.fn = o.write
	}
	o.frame = frame
	err := d.rc.Write(o.fn)
	if err == nil && o.err != nil {
		err = fmt.Errorf("tap: writing to %s: %w", d.name, o.err)
	}
	o.frame, o.err = nil, nil
	select {
	case d.wops <- o:
	default:
	}
	return err
}

// Close removes the device. A ReadBatch in progress returns an error.
func (d *Device) Close() error { return d.f.Close() }
