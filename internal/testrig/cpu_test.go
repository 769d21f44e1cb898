package testrig

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPinCPU pins a shell and checks the binding of the shell and of
// the child it started before.
func TestPinCPU(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sh: %v", err)
	}
	defer cmd.Process.Kill()
	var child int
	for deadline := time.Now().Add(5 * time.Second); child == 0; {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/task/" + strconv.Itoa(cmd.Process.Pid) + "/children")
		if f := strings.Fields(string(b)); len(f) > 0 {
			child, _ = strconv.Atoi(f[0])
		} else if time.Now().After(deadline) {
			t.Fatal("the shell started no child in 5 s")
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	defer unix.Kill(child, unix.SIGKILL)
	if err := PinCPU(cmd.Process.Pid, 0); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{cmd.Process.Pid, child} {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(pid, &set); err != nil {
			t.Fatal(err)
		}
		if set.Count() != 1 || !set.IsSet(0) {
			t.Fatalf("pid %d after PinCPU(0): %d CPUs, CPU 0 set: %v", pid, set.Count(), set.IsSet(0))
		}
	}
}
