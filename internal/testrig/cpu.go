package testrig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Benchmarks on a small machine give the server under test and the load
// generator a core each, so that neither's cost hides inside the other's.

// PinCPU binds every thread of process pid and of its descendants (the
// real vpnserver runs under the shells that set up its namespace and
// mounts) to the given CPUs. Threads created later inherit the binding
// from the thread that creates them.
func PinCPU(pid int, cpus ...int) error {
	var errs []error
	for _, p := range ProcTree(pid) {
		errs = append(errs, PinThreads(p, cpus...))
	}
	return errors.Join(errs...)
}

// PinThreads binds every thread of process pid, and not its children, to
// the given CPUs: a benchmark pins itself with it without moving the
// servers it started.
func PinThreads(pid int, cpus ...int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	tids := Threads(pid)
	if len(tids) == 0 {
		return fmt.Errorf("testrig: pinning %d: no such process", pid)
	}
	var errs []error
	for _, tid := range tids {
		// A thread that ended since the listing is not an error.
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("testrig: pinning thread %d of %d: %w", tid, pid, err))
		}
	}
	return errors.Join(errs...)
}

// Threads lists the thread ids of process pid (none when it has ended).
func Threads(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var tids []int
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
}

// ProcTree returns pid and its live descendants, parents before
// children, from the parent ids in /proc.
func ProcTree(pid int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		p, err1 := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		pp, err2 := strconv.Atoi(fields[1])
		if err1 == nil && err2 == nil {
			children[pp] = append(children[pp], p)
		}
	}
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// TreeCPUSeconds is the CPU seconds of process pid and its live
// descendants.
func TreeCPUSeconds(pid int) (float64, error) {
	var sum float64
	for _, p := range ProcTree(pid) {
		s, err := CPUSeconds(p)
		if err != nil && p == pid {
			return 0, err
		}
		sum += s
	}
	return sum, nil
}

// NumCPU is the number of CPUs this process may run on.
func NumCPU() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 1
	}
	return set.Count()
}
