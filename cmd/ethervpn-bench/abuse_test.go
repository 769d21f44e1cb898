package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSummarizeLog(t *testing.T) {
	lines := []string{
		`time=2026-12-07T21:45:24.960Z level=INFO msg="Session \"SID-LOAD0002-7\": created for user \"load0002\"" event=LH_NEW_SESSION`,
		`2026-12-07 21:45:48.660 Session "SID-LOAD0000-5": The parameter has been set. Max number of TCP connections: 1, Timeout: 20 seconds.`,
		`time=2026-12-07T21:45:25.475Z level=WARN msg="Session \"SID-LOAD0003-8\": A large volume of broadcast packets has been detected. 373248 items per 1 second"`,
		`time=2026-12-07T21:45:25.975Z level=WARN msg="Session \"SID-LOAD0003-8\": A large volume of broadcast packets has been detected. 402776 items per 1 second"`,
		`time=2026-12-07T21:45:44.961Z level=INFO msg="Session \"SID-LOAD0002-7\": ended (timeout) after 20s" dropped_queue_full=1000 dropped_policy=0`,
		`time=2026-12-07T21:45:44.962Z level=INFO msg="Session \"SID-LOAD0000-6\": ended (closed) after 20s" dropped_queue_full=0 dropped_policy=0`,
		`2026-12-07 21:46:09.071 Session "SID-LOAD0002-7": The session has been terminated. The statistical information is as follows.`,
		`time=2026-12-07T21:46:12.970Z level=WARN msg="connection refused: too many new connections from this address"`,
	}
	s := summarizeLog(lines)
	// Relevant: two broadcast warnings, the end with drops, the refusal;
	// not the login records nor the ends without drops.
	if s.count != 4 {
		t.Errorf("count = %d, want 4", s.count)
	}
	if s.dropped != 1000 {
		t.Errorf("dropped = %d, want 1000", s.dropped)
	}
	// The second broadcast warning differs only in digits: shown once.
	if len(s.first) != 3 || !strings.Contains(s.first[0], "broadcast") || !strings.Contains(s.first[1], "ended") || !strings.Contains(s.first[2], "refused") {
		t.Errorf("first = %q", s.first)
	}
	if got := countSessionEnds(lines); got != 3 {
		t.Errorf("countSessionEnds = %d, want 3", got)
	}
	if got, want := s.short(20), `4: "Session \"SID-LOAD…`; got != want {
		t.Errorf("short = %q, want %q", got, want)
	}
	if got := summarizeLog(nil).short(20); got != "0" {
		t.Errorf("short of nothing = %q", got)
	}
}

func TestStripStamp(t *testing.T) {
	for in, want := range map[string]string{
		`time=2026-12-07T21:45:25.475Z level=WARN msg=x k=v`:      `x k=v`,
		`2026-12-07 21:46:09.071 Session "S": terminated`:         `Session "S": terminated`,
		`no stamp here 2026-12-07 21:46:09.071`:                   `no stamp here 2026-12-07 21:46:09.071`,
		`2026-12-07 21:46:09 [HUB "LOAD"] Session "S": something`: `[HUB "LOAD"] Session "S": something`,
	} {
		if got := stripStamp(in); got != want {
			t.Errorf("stripStamp(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSummarizeHandshakes(t *testing.T) {
	closed := []time.Duration{0, time.Millisecond, fastClose, fastClose + time.Second, 15 * time.Second, 16 * time.Second, 0}
	o := summarizeHandshakes(closed, 3, errors.New("refused"))
	want := handshakeOutcome{total: 10, refused: 3, fastClosed: 2, lateClosed: 3, held: 2, lateMedian: 15 * time.Second}
	if o.firstErr == nil || o.total != want.total || o.refused != want.refused || o.fastClosed != want.fastClosed || o.lateClosed != want.lateClosed || o.held != want.held || o.lateMedian != want.lateMedian {
		t.Errorf("summarizeHandshakes = %+v, want %+v", o, want)
	}
	if s := o.String(); !strings.Contains(s, "10 conns: 3 not accepted, 2 closed < 2s, 3 closed later (median 15.0 s), 2 held") {
		t.Errorf("String = %q", s)
	}
}

func TestAbuseBound(t *testing.T) {
	// Four sessions' queues (16 MiB) doubled for the GC.
	if b, _ := abuseBound(phaseFlood, 2000); b != 32<<20 {
		t.Errorf("flood bound = %d MiB, want 32", b>>20)
	}
	// Two sessions' queues and at most maxUnestablished handshakes.
	b, how := abuseBound(phaseHandshake, 2000)
	if want := int64(2 * (8<<20 + maxUnestablished*handshakeAllowance)); b != want {
		t.Errorf("handshake bound = %d, want %d", b, want)
	}
	if !strings.Contains(how, "1000 handshakes") {
		t.Errorf("formula %q does not cap the handshakes at %d", how, maxUnestablished)
	}
	if b, _ := abuseBound(phaseHandshake, 10); b != 2*(8<<20+10*handshakeAllowance) {
		t.Errorf("bound for 10 connections = %d", b)
	}
}

func TestLogWatch(t *testing.T) {
	p := filepath.Join(t.TempDir(), "server.log")
	w := logWatch{path: p}
	if m := w.mark(); m != 0 {
		t.Fatalf("mark of a missing file = %d", m)
	}
	if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := w.mark()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new 1\nnew 2\n")
	f.Close()
	if got := w.since(m); len(got) != 2 || got[0] != "new 1" || got[1] != "new 2" {
		t.Errorf("since = %q", got)
	}
	w.only = func(l string) bool { return l == "new 2" }
	if got := w.since(m); len(got) != 1 || got[0] != "new 2" {
		t.Errorf("since, filtered = %q", got)
	}
}

// FuzzSummarizeLog: any log text is summarized without a panic, and the
// summary stays within what it was given.
func FuzzSummarizeLog(f *testing.F) {
	f.Add("time=x level=INFO msg=\"Session \\\"S\\\": ended (x)\" dropped_queue_full=12\n2026-12-07 21:46:09.071 Session \"S\": The session has been terminated.")
	f.Add("dropped_queue_full=99999999999999999999999 refused")
	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Split(text, "\n")
		s := summarizeLog(lines)
		if s.count > len(lines) || len(s.first) > 3 || len(s.first) > s.count {
			t.Fatalf("summary %+v of %d lines", s, len(lines))
		}
		if c := countSessionEnds(lines); c > len(lines) {
			t.Fatalf("%d session ends in %d lines", c, len(lines))
		}
		_ = s.short(10)
		_ = stripStamp(text)
	})
}

func TestCombineRounds(t *testing.T) {
	row := func(mbps float64, rss int64) abuseRow { return abuseRow{mbps: mbps, peakRSS: rss << 20} }
	rounds := [][numPhases]abuseRow{
		{row(1000, 30), row(500, 40), row(900, 35)},
		{row(2000, 32), row(1400, 38), row(1000, 50)},
		{row(1500, 31), row(900, 36), row(1200, 33)},
	}
	out := combineRounds(rounds)
	// Each round against its own baseline: 0.5, 0.7, 0.6 -> 0.6; the
	// median of the throughputs alone would say 900/1500.
	if got := out[phaseFlood].kept; got < 0.5999 || got > 0.6001 {
		t.Errorf("kept = %v, want the median of the rounds' ratios 0.6", got)
	}
	if got := out[phaseFlood].mbps; got != 900 {
		t.Errorf("mbps = %v, want the median 900", got)
	}
	if got := out[phaseHandshake].rssRise; got != 18<<20 {
		t.Errorf("rssRise = %d MiB, want the largest rise 18", got>>20)
	}
	if got := out[phaseHandshake].peakRSS; got != 50<<20 {
		t.Errorf("peakRSS = %d MiB, want the largest 50", got>>20)
	}
	// A failed round fails the phase.
	rounds[1][phaseHandshake].err = errors.New("boom")
	if out := combineRounds(rounds); out[phaseHandshake].err == nil || out[phaseFlood].err != nil {
		t.Errorf("errors: handshake %v, flood %v", out[phaseHandshake].err, out[phaseFlood].err)
	}
}
