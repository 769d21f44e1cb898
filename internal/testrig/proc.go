package testrig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a long-running process started by the rig. Its PID is the PID of
// the final program: every wrapper (ip netns exec, unshare, sh -c) execs.
type Proc struct {
	Name    string // for log messages
	LogPath string // stdout and stderr
	// StopGrace is how long the cleanup waits after SIGTERM before SIGKILL.
	StopGrace time.Duration
	cmd       *exec.Cmd
	done      chan struct{}
	err       error
}

// StartProc starts args[0] with args[1:] in the background, output to
// logPath. The process is stopped by Stop, which t.Cleanup also calls.
func StartProc(t TB, name, logPath string, args ...string) *Proc {
	t.Helper()
	return startProcTo(t, name, logPath, nil, args...)
}

// startProcTo is StartProc with stdout sent to stdout instead of the log
// file when stdout is not nil.
func startProcTo(t TB, name, logPath string, stdout *os.File, args ...string) *Proc {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	if stdout != nil {
		cmd.Stdout = stdout
	}
	// Own process group, so a terminal's ^C reaches only the test binary,
	// which then cleans up in order. Pdeathsig stops the process should the
	// test binary die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startOnSpawner(cmd); err != nil {
		f.Close()
		t.Fatalf("%s: start %q: %v", name, args, err)
	}
	p := &Proc{Name: name, LogPath: logPath, StopGrace: 15 * time.Second, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		start := time.Now()
		killed := p.stop(p.StopGrace)
		if d := time.Since(start); killed || d > 3*time.Second {
			t.Logf("testrig: %s (pid %d) took %v to stop (SIGKILL needed: %v)", name, p.Pid(), d.Round(time.Millisecond), killed)
		}
	})
	return p
}

// The processes are started from one OS thread that never exits: Linux
// sends Pdeathsig when the thread that forked a process ends, not the
// process, and Go ends a thread whose goroutine locked it and switched it
// into a network namespace (Netns.Do, the interop tests' pings), so a
// process forked on such a thread was killed at random when a test
// pinged (seen as the OpenVPN renegotiation test failing one run in
// three).
var (
	spawnOnce sync.Once
	spawnReq  = make(chan func())
)

// startOnSpawner runs cmd.Start on the spawner thread.
func startOnSpawner(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // for good: the thread must outlive every child
			for f := range spawnReq {
				f()
			}
		}()
	})
	done := make(chan error, 1)
	spawnReq <- func() { done <- cmd.Start() }
	return <-done
}

// Pid is the process ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Log returns what the process has written so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Stop sends SIGTERM, waits up to grace, then SIGKILL. It returns the
// process's exit error (nil for a clean exit) and may be called repeatedly.
func (p *Proc) Stop(grace time.Duration) error {
	p.stop(grace)
	return p.err
}

// stop is Stop reporting whether SIGKILL was needed.
func (p *Proc) stop(grace time.Duration) (killed bool) {
	if p.Exited() {
		return false
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return false
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return true
	}
}

// CPUSeconds returns the process's user+system CPU time from /proc/PID/stat.
func (p *Proc) CPUSeconds() (float64, error) {
	return CPUSeconds(p.Pid())
}

// clockTicks is USER_HZ, which is 100 on every Linux architecture Go supports.
const clockTicks = 100

// CPUSeconds returns utime+stime of pid in seconds.
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU extracts utime+stime (fields 14 and 15) from a /proc/PID/stat
// line. The command name (field 2) may contain spaces and parentheses, so
// fields are counted from the last ')'.
func parseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("testrig: /proc stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("testrig: /proc stat: %d fields after the name, want >= 13", len(f))
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("testrig: /proc stat: %w", err)
	}
	return float64(u+s) / clockTicks, nil
}

// run runs a short command with a timeout and returns its combined output.
func run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v", timeout)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, lastLines(out.String(), 5))
	}
	return out.String(), nil
}

// lastLines returns the last n lines of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// waitFor polls cond every interval until it returns true or timeout passes.
func waitFor(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}
