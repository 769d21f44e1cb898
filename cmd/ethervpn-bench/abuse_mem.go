package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The abuse benchmark's measurements of the server from outside: its
// resident memory from /proc (treeRSS, idle.go) and the lines it wrote to
// its logs.

// rssSampler samples a process tree's resident memory and keeps the peak.
type rssSampler struct {
	quit, done chan struct{}
	peak       int64
}

// startRSS samples pid's tree every interval until stop.
func startRSS(pid int, interval time.Duration) *rssSampler {
	s := &rssSampler{quit: make(chan struct{}), done: make(chan struct{})}
	s.peak, _ = treeRSS(pid)
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				// A failed read (the server ended) counts nothing.
				n, _ := treeRSS(pid)
				s.peak = max(s.peak, n)
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the peak in bytes.
func (s *rssSampler) stop() int64 {
	close(s.quit)
	<-s.done
	return s.peak
}

// logWatch reads what a server appended to its log file: both servers
// write every record to the process's output (ethervpn's slog on stderr,
// the real vpnserver's logs on stdout in --foreground mode), which the rig
// keeps in one file; their server_log and security_log hold copies.
type logWatch struct {
	path string
	// only, if not nil, keeps the lines it returns true for: ethervpn
	// writes each hub record twice, as a slog record and in SoftEther's
	// security-log format.
	only func(line string) bool
}

// slogRecord reports whether line is one of ethervpn's slog records.
func slogRecord(line string) bool { return strings.HasPrefix(line, "time=") }

// mark returns the log's size now.
func (w logWatch) mark() int64 {
	st, err := os.Stat(w.path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// since returns the lines written after mark.
func (w logWatch) since(mark int64) []string {
	f, err := os.Open(w.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(mark, io.SeekStart); err != nil {
		return nil
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if w.only == nil || w.only(sc.Text()) {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

// relevantLog matches log lines about the server defending itself:
// drops, queues, limits, refusals, timeouts and closed connections.
var relevantLog = regexp.MustCompile(`(?i)drop|discard|broadcast|queue|budget|refus|denied|dos|flood|too many|limit|time.?out|unestablish|overflow|terminated|disconnect|closed`)

// sessionEnd matches the servers' record of a session's end: ethervpn's
// LH_END_SESSION and SoftEther's (hamcore strtable LH_END_SESSION).
// ethervpn's slog records quote the session name as \"SID-...\".
var sessionEnd = regexp.MustCompile(`(?i)session \\?"[^"\\]+\\?": (ended \(|the session has been terminated)`)

// countSessionEnds counts the session-end records among lines.
func countSessionEnds(lines []string) int {
	n := 0
	for _, l := range lines {
		if sessionEnd.MatchString(l) {
			n++
		}
	}
	return n
}

// routineLog matches records of every login that the words above would
// catch (SoftEther's "Timeout: 20 seconds" in a session's parameters).
var routineLog = regexp.MustCompile(`(?i)parameter has been set|has been created|successfully authenticated|VPN Client details`)

// droppedField is the queue drops in ethervpn's session-end record.
var droppedField = regexp.MustCompile(`dropped_queue_full=(\d+)`)

// droppedSome reports whether a session-end record counts drops.
func droppedSome(l string) bool {
	m := droppedField.FindStringSubmatch(l)
	return m != nil && m[1] != "0"
}

// logSummary is what a server logged about the abuse in one phase.
type logSummary struct {
	count   int      // relevant lines
	first   []string // the first few distinct relevant lines
	dropped uint64   // frames dropped on full queues, from ethervpn's session-end records
}

// summarizeLog counts the relevant lines, keeps the first three distinct
// ones (distinct once digits are ignored, so that one message about many
// connections is shown once) and sums the queue drops.
func summarizeLog(lines []string) logSummary {
	var s logSummary
	seen := map[string]bool{}
	digits := regexp.MustCompile(`[0-9]+`)
	for _, l := range lines {
		if m := droppedField.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			s.dropped += n
		}
		// A session's end is news only when it says what was dropped.
		if !relevantLog.MatchString(l) || routineLog.MatchString(l) || sessionEnd.MatchString(l) && !droppedSome(l) {
			continue
		}
		s.count++
		key := digits.ReplaceAllString(l, "#")
		if len(s.first) < 3 && !seen[key] {
			seen[key] = true
			s.first = append(s.first, strings.TrimSpace(l))
		}
	}
	return s
}

// short is the summary as a table cell: the count and the first line,
// without its timestamp, cut to n characters.
func (s logSummary) short(n int) string {
	if s.count == 0 {
		return "0"
	}
	return fmt.Sprintf("%d: %s", s.count, truncate(stripStamp(s.first[0]), n))
}

// logStamp matches the timestamps the servers start their lines with:
// slog's time=... (with its level= and msg= keys) and SoftEther's
// "2026-12-07 21:40:18.123".
var logStamp = regexp.MustCompile(`^(time=\S+\s+(level=\S+\s+)?(msg=)?|\d{4}-\d\d-\d\d[ T,]\d\d:\d\d:\d\d(\.\d+)?\s*)`)

func stripStamp(l string) string { return logStamp.ReplaceAllString(l, "") }
