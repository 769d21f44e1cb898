// Package osprio raises the CPU scheduling priority of the running process,
// as SoftEther's vpnserver, vpnbridge and vpnclient do at start (nice -20,
// unless the server's NoHighPriorityProcess setting says not to).
//
// A VPN server forwards other people's packets: when it has to wait for the
// CPU behind bulk work on the same machine, every tunnel's latency grows,
// queues fill and the tunnelled TCP flows back off. On a shared host the
// real SoftEther programs run at nice -20, so a server left at nice 0 next
// to them gets a tiny share of the CPU whenever they are busy.
package osprio

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// HighNice is the nice value SoftEther's programs give themselves.
const HighNice = -20

// Raise sets every thread of this process to nice HighNice. On Linux the
// nice value belongs to a thread, and a new thread inherits it from the one
// that creates it, so once all current threads are raised the Go runtime's
// later threads are too. It needs CAP_SYS_NICE (root) or an RLIMIT_NICE
// that allows it; the error says so.
func Raise() error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("listing this process's threads: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		err = unix.Setpriority(unix.PRIO_PROCESS, tid, HighNice)
		if err != nil && err != unix.ESRCH { // ESRCH: the thread has exited meanwhile
			return fmt.Errorf("setting nice %d: %w (needs root or CAP_SYS_NICE; the process keeps its priority)", HighNice, err)
		}
	}
	return nil
}

// Current reports the nice value of the calling thread.
func Current() (int, error) {
	// The raw getpriority system call returns 20-nice so that it is never
	// negative; x/sys passes that value through.
	p, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		return 0, err
	}
	return 20 - p, nil
}
