package testrig

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// PinCPU binds every thread of process pid and of its descendants to the
// given CPUs. Benchmarks on a small machine use it to give the server
// under test and the load generator a core each, so that neither's cost
// hides inside the other's. Threads created later inherit the binding
// from the thread that creates them.
func PinCPU(pid int, cpus ...int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return pinTree(pid, &set, 0)
}

func pinTree(pid int, set *unix.CPUSet, depth int) error {
	if depth > 16 {
		return fmt.Errorf("testrig: process tree under %d deeper than 16", pid)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return fmt.Errorf("testrig: pinning %d: %w", pid, err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread that ended since ReadDir is not an error.
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("testrig: pinning thread %d of %d: %w", tid, pid, err)
		}
		kids, _ := os.ReadFile(filepath.Join(fmt.Sprintf("/proc/%d/task", pid), t.Name(), "children"))
		for _, f := range strings.Fields(string(kids)) {
			if child, err := strconv.Atoi(f); err == nil {
				if err := pinTree(child, set, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// NumCPU is the number of CPUs this process may run on.
func NumCPU() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 1
	}
	return set.Count()
}
