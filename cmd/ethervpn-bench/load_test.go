package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/server"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// sendFrames has port p make n data frames and returns copies of them.
func sendFrames(p *genPort, n int) [][]byte {
	p.running.Store(true)
	var out [][]byte
	for len(out) < n {
		p.Output(min(n-len(out), 7), func(f []byte) { out = append(out, slices.Clone(f)) })
	}
	return out
}

// TestFrameCheck feeds a receiving port the frames of its partner with
// one lost, two swapped, one corrupt and one from another session, and
// checks that each is counted as such.
func TestFrameCheck(t *testing.T) {
	const size = 1514
	tx, rx := newGenPort(0, size), newGenPort(1, size)
	frames := sendFrames(tx, 20)
	if got := tx.sent.Load(); got != 20 {
		t.Fatalf("sent %d, want 20", got)
	}
	for i, f := range frames {
		if len(f) != size || frameKind(f) != kindData {
			t.Fatalf("frame %d: %d bytes, kind %d", i, len(f), frameKind(f))
		}
	}
	// In order: all good.
	rx.Input(frames[:5])
	c := &rx.check
	if c.frames.Load() != 5 || c.bytes.Load() != 5*size || c.gaps.Load() != 0 || c.late.Load() != 0 {
		t.Fatalf("in order: %d frames, %d bytes, %d gaps, %d late", c.frames.Load(), c.bytes.Load(), c.gaps.Load(), c.late.Load())
	}
	// Frame 5 lost: one gap.
	rx.Input(frames[6:7])
	if c.gaps.Load() != 1 {
		t.Fatalf("after a lost frame: %d gaps, want 1", c.gaps.Load())
	}
	// 8 before 7: 7 is late, and no longer counted as a gap.
	rx.Input([][]byte{frames[8], frames[7]})
	if c.late.Load() != 1 || c.gaps.Load() != 1 || c.frames.Load() != 8 {
		t.Fatalf("after a swap: %d late, %d gaps, %d frames; want 1, 1, 8", c.late.Load(), c.gaps.Load(), c.frames.Load())
	}
	// A flipped byte in the payload, a truncated frame.
	bad := slices.Clone(frames[9])
	bad[700] ^= 1
	rx.Input([][]byte{bad, frames[10][:size-1]})
	if c.corrupt.Load() != 2 || c.frames.Load() != 8 {
		t.Fatalf("after corrupt frames: %d corrupt, %d frames; want 2, 8", c.corrupt.Load(), c.frames.Load())
	}
	// A good frame of another session, and something not the generator's.
	other := sendFrames(newGenPort(2, size), 1)[0]
	junk := make([]byte, 100)
	rx.Input([][]byte{other, junk})
	if c.foreign.Load() != 2 {
		t.Fatalf("foreign frames: %d, want 2", c.foreign.Load())
	}
	// The sequence goes on after the corrupt 9 and 10: two more gaps.
	rx.Input(frames[11:])
	if c.frames.Load() != 17 || c.gaps.Load() != 3 {
		t.Fatalf("at the end: %d frames, %d gaps; want 17, 3", c.frames.Load(), c.gaps.Load())
	}

	// A probe is echoed by the partner and timed by its sender.
	tx.running.Store(false)
	rx.running.Store(false)
	tx.probe.Store(true)
	var ctrl [][]byte
	tx.Output(256, func(f []byte) { ctrl = append(ctrl, slices.Clone(f)) })
	if len(ctrl) != 1 || frameKind(ctrl[0]) != kindProbe {
		t.Fatalf("probe: %d frames", len(ctrl))
	}
	rx.Input(ctrl)
	ctrl = nil
	rx.Output(256, func(f []byte) { ctrl = append(ctrl, slices.Clone(f)) })
	if len(ctrl) != 1 || frameKind(ctrl[0]) != kindEcho {
		t.Fatalf("echo: %d frames", len(ctrl))
	}
	tx.Input(ctrl)
	if len(tx.rtts) != 1 || tx.rtts[0] <= 0 || tx.rtts[0] > time.Minute {
		t.Fatalf("round trips: %v", tx.rtts)
	}
}

// TestLoadQuick runs the generator against an in-process ethervpn server
// on loopback: 4 sessions, a short measurement.
func TestLoadQuick(t *testing.T) {
	for _, window := range []int{0, 256} {
		t.Run(fmt.Sprintf("window=%d", window), func(t *testing.T) { testLoadQuick(t, window) })
	}
}

func testLoadQuick(t *testing.T, window int) {
	if testing.Short() {
		t.Skip("streams for a few seconds")
	}
	dir := t.TempDir()
	cfg := config.Default()
	h := cfg.Hub("DEFAULT")
	for i := range 4 {
		hash := sha0.HashPassword(loadUser(i), benchPassword)
		h.Users = append(h.Users, &config.User{Name: loadUser(i), AuthType: 1, PasswordHash: hash[:]})
	}
	if err := config.Save(dir+"/"+server.ConfigFile, cfg.ToTree()); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Open(dir, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("server: %v", err)
		}
	}()

	g, err := newLoadGen(ctx, genOptions{server: ln.Addr().String(), hub: "DEFAULT", password: benchPassword, user: loadUser, size: 1514, parallel: 4, window: window}, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	rn, err := measureLoad(g, 200*time.Millisecond, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := rn.final
	t.Logf("%.0f Mbit/s, %.0f frames/s, sent %d, received %d, gaps %d, late %d, corrupt %d, foreign %d, %d probes, p50 %v",
		rn.mbps(), rn.fps(), f.sent, f.frames, f.gaps, f.late, f.corrupt, f.foreign, len(rn.rtts), percentile(rn.rtts, 50))
	if rn.frames == 0 || f.frames == 0 || f.frames > f.sent {
		t.Errorf("received %d frames in the window, %d in all, of %d sent", rn.frames, f.frames, f.sent)
	}
	if f.late != 0 || f.corrupt != 0 || f.foreign != 0 {
		t.Errorf("late %d, corrupt %d, foreign %d; want none through one hub", f.late, f.corrupt, f.foreign)
	}
	if len(rn.rtts) == 0 {
		t.Error("no probe came back")
	}
	if window > 0 && f.sent-f.frames > f.sent/2 {
		t.Errorf("with a window of %d frames, %d of %d frames lost", window, f.sent-f.frames, f.sent)
	}
	if rn.genCPU <= 0 {
		t.Errorf("generator CPU %v s", rn.genCPU)
	}
}

// TestProcAccounting checks what the benchmarks read from /proc: a child
// process is in this process's tree, and the tree's CPU, memory and the
// host's busy time are read.
func TestProcAccounting(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a child: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	tree := testrig.ProcTree(os.Getpid())
	if tree[0] != os.Getpid() || !slices.Contains(tree, cmd.Process.Pid) {
		t.Errorf("testrig.ProcTree(self) = %v, want self first and child %d", tree, cmd.Process.Pid)
	}
	if slices.Contains(testrig.ProcTree(cmd.Process.Pid), os.Getpid()) {
		t.Error("the child's tree holds its parent")
	}
	if rss, err := treeRSS(os.Getpid()); err != nil || rss < 1<<20 {
		t.Errorf("treeRSS(self) = %d, %v", rss, err)
	}
	if _, err := testrig.TreeCPUSeconds(os.Getpid()); err != nil {
		t.Error(err)
	}
	if _, err := treeRSS(1 << 30); err == nil {
		t.Error("treeRSS of no process: no error")
	}
	if b, err := hostBusy(); err != nil || b <= 0 {
		t.Errorf("hostBusy = %v, %v", b, err)
	}
}

// TestLoadTable prints the load table with a failed server and checks the
// ratio lines against the targets.
func TestLoadTable(t *testing.T) {
	opt := loadOptions{sessions: []int{2, 8}, duration: 10 * time.Second, warmup: time.Second, runs: 1, size: 1514, window: 256, pinned: true}
	run := func(n int, gb, cpu float64) loadRun {
		return loadRun{n: n, window: 10 * time.Second, bytes: uint64(gb * 1e9), frames: uint64(gb * 1e9 / 1514), serverCPU: cpu,
			final: genCounts{sent: 100, frames: 90}, rtts: []time.Duration{time.Millisecond, 3 * time.Millisecond}}
	}
	var b strings.Builder
	printLoadTable(&b, opt, []loadResult{
		{server: testrig.Ethervpn, runs: map[int][]loadRun{2: {run(2, 4, 4)}, 8: {run(8, 3, 3)}}},
		{server: testrig.SoftEther, runs: map[int][]loadRun{2: {run(2, 2, 4)}, 8: {run(8, 1, 4)}}},
	})
	out := b.String()
	for _, want := range []string{
		"ethervpn/softether, 2 sessions: throughput 2.00x, CPU per GB 0.50x",
		"ethervpn/softether, 8 sessions: throughput 3.00x, CPU per GB 0.25x (lower is better), probe p99 1.00x; issue 13 targets: throughput >= 1.5x met, CPU per GB <= 0.5x met",
		"server pinned to CPU 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	printLoadTable(&b, opt, []loadResult{{server: testrig.Ethervpn, err: errors.New("boom")}})
	if !strings.Contains(b.String(), "failed") || !strings.Contains(b.String(), "boom") {
		t.Errorf("failed server:\n%s", b.String())
	}
}

// TestIdleConfig parses the idle benchmark's configuration with ethervpn's
// loader: DoS protection off, every user there.
func TestIdleConfig(t *testing.T) {
	text, err := idleConfig(idlePort, 3)
	if err != nil {
		t.Fatal(err)
	}
	root, err := config.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if !root.Folder("ServerConfiguration").GetBool("DisableDosProtection") || !root.Folder("ListenerList").Folder("Listener0").GetBool("DisableDos") {
		t.Error("DoS protection is on")
	}
	cfg, err := config.FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Options.DisableDosProtection {
		t.Error("the server's options keep DoS protection on")
	}
	var h *config.Hub
	for _, x := range cfg.Hubs {
		if x.Name == idleHub {
			h = x
		}
	}
	if h == nil || len(h.Users) != 3 || h.Users[2].Name != loadUser(2) {
		t.Fatalf("hub %s: %+v", idleHub, h)
	}
}

// TestIdleTable checks the idle table's ratio and target lines: each
// ethervpn row is compared once, with the softether row of its pair.
func TestIdleTable(t *testing.T) {
	row := func(k testrig.ServerKind, n int, kib float64) idleRun {
		return idleRun{server: k, n: n, login: time.Second, rssBefore: 10 << 20, rssIdle: 10<<20 + int64(kib*1024*float64(n)), cpu: 1, hold: 10 * time.Second}
	}
	var b strings.Builder
	printIdleTable(&b, idleOptions{parallel: 32, hold: 10 * time.Second}, []idleRun{
		row(testrig.Ethervpn, 10000, 70), row(testrig.Ethervpn, 2000, 60), row(testrig.SoftEther, 2000, 250),
	})
	out := b.String()
	for want, count := range map[string]int{
		"issue 13 targets, 10000 sessions on ethervpn: held met, <= 64 KiB per session MISSED": 1,
		"ethervpn/softether, 2000 sessions: memory per session 0.24x":                          1,
		"ethervpn's memory per session <= half of vpnserver's met":                             1,
		"ethervpn/softether, 10000":                                                            0,
	} {
		if got := strings.Count(out, want); got != count {
			t.Errorf("%q %d times, want %d:\n%s", want, got, count, out)
		}
	}
}
