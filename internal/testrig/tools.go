package testrig

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PingResult is the summary of one ping run.
type PingResult struct {
	Sent, Received int
	AvgRTT         time.Duration // 0 when nothing came back
}

// Loss is the fraction of echo requests without a reply (1 if none sent).
func (p PingResult) Loss() float64 {
	if p.Sent == 0 {
		return 1
	}
	return 1 - float64(p.Received)/float64(p.Sent)
}

// Ping sends count echo requests (0.2 s apart, waiting 1 s for late replies)
// from the namespace to ip with busybox ping; extra may add options such as
// "-I", iface. A run with loss is not an error; a ping that cannot run is.
func (n *Netns) Ping(ip string, count int, extra ...string) (PingResult, error) {
	args := append([]string{"busybox", "ping", "-q", "-c", strconv.Itoa(count), "-i", "0.2", "-W", "1"}, extra...)
	out, err := n.Run(time.Duration(count+10)*time.Second, append(args, ip)...)
	res, perr := ParsePing(out)
	if perr != nil {
		if err != nil {
			return res, err
		}
		return res, perr
	}
	return res, nil
}

var (
	pingCountRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (?:packets )?received`)
	pingRTTRE   = regexp.MustCompile(`= [\d.]+/([\d.]+)/`)
)

// ParsePing reads the summary of iputils or busybox ping output.
func ParsePing(out string) (PingResult, error) {
	var r PingResult
	m := pingCountRE.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("testrig: no ping summary in %q", lastLines(out, 3))
	}
	r.Sent, _ = strconv.Atoi(m[1])
	r.Received, _ = strconv.Atoi(m[2])
	if m := pingRTTRE.FindStringSubmatch(out); m != nil {
		if ms, err := strconv.ParseFloat(m[1], 64); err == nil && ms >= 0 && ms < 1e9 {
			r.AvgRTT = time.Duration(ms * float64(time.Millisecond))
		}
	}
	return r, nil
}

// IperfPort is the port of the iperf3 servers the rig starts.
const IperfPort = 5201

// StartIperfServer starts "iperf3 -s" in the namespace (stopped on cleanup).
func (r *Rig) StartIperfServer(n *Netns) *Proc {
	r.t.Helper()
	p := StartProc(r.t, "iperf3 -s "+n.Name, filepath.Join(n.Dir, "iperf3-server.log"),
		n.Cmd("iperf3", "-s", "-p", strconv.Itoa(IperfPort))...)
	if err := n.WaitTCP("127.0.0.1", IperfPort, 10*time.Second, p); err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	return p
}

// IperfResult is the outcome of one iperf3 TCP run.
type IperfResult struct {
	SentBytes, ReceivedBytes int64
	Seconds                  float64
	BitsPerSecond            float64 // as received
	Retransmits              int64   // TCP segments the sender retransmitted
}

// Iperf runs an iperf3 TCP client from the namespace to dst (which runs
// StartIperfServer) for d, one stream. reverse makes dst send (-R).
func (n *Netns) Iperf(dst string, d time.Duration, reverse bool) (IperfResult, error) {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	args := []string{"iperf3", "-c", dst, "-p", strconv.Itoa(IperfPort), "-t", strconv.Itoa(secs), "-J", "--connect-timeout", "5000"}
	if reverse {
		args = append(args, "-R")
	}
	out, err := n.Run(time.Duration(secs+30)*time.Second, args...)
	res, perr := ParseIperfJSON([]byte(out))
	if err != nil {
		return res, err
	}
	return res, perr
}

// ParseIperfJSON reads iperf3 -J output.
func ParseIperfJSON(b []byte) (IperfResult, error) {
	var doc struct {
		Error string `json:"error"`
		End   struct {
			SumSent struct {
				Bytes       int64   `json:"bytes"`
				Seconds     float64 `json:"seconds"`
				Retransmits int64   `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				Bytes         int64   `json:"bytes"`
				Seconds       float64 `json:"seconds"`
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return IperfResult{}, fmt.Errorf("testrig: iperf3 output: %w", err)
	}
	if doc.Error != "" {
		return IperfResult{}, fmt.Errorf("testrig: iperf3: %s", doc.Error)
	}
	e := doc.End
	return IperfResult{
		SentBytes:     e.SumSent.Bytes,
		Retransmits:   e.SumSent.Retransmits,
		ReceivedBytes: e.SumReceived.Bytes,
		Seconds:       e.SumReceived.Seconds,
		BitsPerSecond: e.SumReceived.BitsPerSecond,
	}, nil
}

// Capture is a running tcpdump whose decoded lines are collected.
type Capture struct {
	proc  *Proc
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

// StartCapture runs tcpdump on iface in the namespace, printing link-level
// headers (-e) without name lookups; args are further tcpdump options and
// filter words, e.g. "-Q", "in", "icmp". It returns once tcpdump is
// listening. Stop ends it and returns the decoded lines.
func (r *Rig) StartCapture(n *Netns, iface string, args ...string) *Capture {
	r.t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		r.t.Fatalf("testrig: %v", err)
	}
	args = append(n.Cmd("tcpdump", "-i", iface, "-n", "-e", "-l", "-U", "-p"), args...)
	logPath := filepath.Join(n.Dir, "tcpdump-"+iface+".log")
	c := &Capture{done: make(chan struct{})}
	c.proc = startProcTo(r.t, "tcpdump "+n.Name+" "+iface, logPath, pw, args...)
	pw.Close()
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
		pr.Close()
	}()
	// tcpdump says "listening on" on stderr once the socket is bound.
	if !waitFor(10*time.Second, 50*time.Millisecond, func() bool {
		return strings.Contains(c.proc.Log(), "listening on") || c.proc.Exited()
	}) || c.proc.Exited() {
		r.t.Fatalf("testrig: tcpdump on %s/%s did not start: %s", n.Name, iface, lastLines(c.proc.Log(), 3))
	}
	return c
}

// Stop ends the capture and returns every decoded line.
func (c *Capture) Stop() []string {
	// tcpdump flushes and exits on SIGTERM.
	_ = c.proc.Stop(5 * time.Second)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
	return c.Lines()
}

// Lines returns the lines captured so far.
func (c *Capture) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// TransferPort is the TCP port Transfer uses.
const TransferPort = 5301

// Transfer sends size random bytes over one TCP connection from the
// namespace from to dstIP, which must be an address of namespace to, and
// checks that exactly those bytes arrived (SHA-256) — busybox nc on both
// ends. It returns the duration of the transfer.
func (r *Rig) Transfer(from, to *Netns, dstIP string, size int) (time.Duration, error) {
	r.t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return 0, err
	}
	src := filepath.Join(from.Dir, "transfer.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		return 0, err
	}
	want := fmt.Sprintf("%x", sha256.Sum256(data))
	port := strconv.Itoa(TransferPort)
	recv := StartProc(r.t, "nc -l "+to.Name, filepath.Join(to.Dir, "transfer-recv.log"),
		to.Cmd("sh", "-c", `busybox nc -l -p "$1" | sha256sum`, "recv", port)...)
	defer recv.Stop(time.Second)
	// Wait for the listening socket without connecting to it (nc -l
	// accepts only one connection).
	if !waitFor(10*time.Second, 50*time.Millisecond, func() bool {
		out, _ := to.Run(5*time.Second, "ss", "-Hltn", "sport = :"+port)
		return strings.Contains(out, "LISTEN")
	}) {
		return 0, fmt.Errorf("testrig: nc -l did not listen in %s", to.Name)
	}
	start := time.Now()
	// -e makes cat's stdout the socket: when cat ends, the connection
	// closes and the receiver sees EOF.
	if _, err := from.Run(5*time.Minute, "busybox", "nc", dstIP, port, "-e", "cat", src); err != nil {
		return 0, err
	}
	select {
	case <-recv.done:
	case <-time.After(30 * time.Second):
		return 0, fmt.Errorf("testrig: receiver in %s did not finish", to.Name)
	}
	elapsed := time.Since(start)
	got, _, _ := strings.Cut(strings.TrimSpace(recv.Log()), " ")
	if got != want {
		return elapsed, fmt.Errorf("testrig: transfer %s -> %s: sha256 %q, want %q", from.Name, to.Name, got, want)
	}
	return elapsed, nil
}
