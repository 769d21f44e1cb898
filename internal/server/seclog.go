package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ethervpn/ethervpn/internal/logfile"
)

// securityLog is a slog.Handler that passes every record on and also
// writes the hub security events - records carrying "event" and "hub"
// attributes, such as the hub's and SecureNAT's - to the hub's security
// log file as SoftEther does: DIR/security_log/<HUB>/sec_YYYYMMDD.log, one
// "YYYY-MM-DD HH:MM:SS.mmm <text>" line per event, a new file each day.
type securityLog struct {
	next slog.Handler
	w    *secLogWriter
	hub  string // from WithAttrs, if the logger was made for one hub
}

// secLogWriter owns the open files; it is shared by every derived handler.
type secLogWriter struct {
	dir     string
	enabled sync.Map // upper-cased hub name -> int: SecurityLogSwitchType, or -1 when SaveSecurityLog is off
	syslog  atomic.Pointer[syslogTarget]

	mu    sync.Mutex
	files map[string]*dayFile
}

type dayFile struct {
	name string // the file's name, which changes with the switch period
	f    *os.File
}

func newSecurityLog(next slog.Handler, dataDir string) *securityLog {
	return &securityLog{next: next, w: &secLogWriter{dir: filepath.Join(dataDir, "security_log"), files: map[string]*dayFile{}}}
}

// setEnabled turns the security log file of a hub on or off and sets when
// a new file begins (SecurityLogSwitchType, logfile.SwitchDay by default).
func (l *securityLog) setEnabled(hub string, on bool, switchType int) {
	if !on {
		switchType = -1
	}
	l.w.enabled.Store(strings.ToUpper(hub), switchType)
}

func (l *securityLog) Enabled(ctx context.Context, lv slog.Level) bool {
	return l.next.Enabled(ctx, lv)
}

func (l *securityLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *l
	c.next = l.next.WithAttrs(attrs)
	for _, a := range attrs {
		if a.Key == "hub" {
			c.hub = a.Value.String()
		}
	}
	return &c
}

func (l *securityLog) WithGroup(name string) slog.Handler {
	c := *l
	c.next = l.next.WithGroup(name)
	return &c
}

func (l *securityLog) Handle(ctx context.Context, r slog.Record) error {
	hub, event := l.hub, false
	sys := l.w.syslog.Load()
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "hub":
			hub = a.Value.String()
		case "event":
			event = true
		}
		return true
	})
	isHubEvent := event && hub != ""
	switch {
	case isHubEvent && sys != nil && sys.saveType >= syslogHubs:
		// As on SoftEther, a hub log sent to syslog is not also written to file.
		sys.send(fmt.Sprintf("[%s/VPN/%s] (%s) SECURITY_LOG: %s", sys.machine, hub, r.Time.Local().Format("2006-01-02 15:04:05.000"), r.Message))
	case isHubEvent:
		// Only hubs the server knows get a file: a client naming an unknown
		// hub must not be able to create directories.
		if st, ok := l.w.enabled.Load(strings.ToUpper(hub)); ok && st.(int) >= 0 {
			l.w.write(hub, st.(int), r.Time, r.Message)
		}
	case sys != nil && sys.saveType >= syslogServer && r.Level >= slog.LevelInfo:
		sys.send(fmt.Sprintf("[%s/VPN] (%s) SERVER_LOG: %s", sys.machine, r.Time.Local().Format("2006-01-02 15:04:05.000"), r.Message))
	}
	return l.next.Handle(ctx, r)
}

// write appends one line. A file that cannot be written is reported on
// stderr, not through the logger, which would loop back here.
func (w *secLogWriter) write(hub string, switchType int, t time.Time, text string) {
	t = t.Local()
	name := logfile.Name("sec", switchType, t)
	w.mu.Lock()
	defer w.mu.Unlock()
	key := strings.ToUpper(hub)
	df := w.files[key]
	if df == nil || df.name != name {
		if df != nil {
			df.f.Close()
			delete(w.files, key)
		}
		f, err := logfile.Open(w.dir, hub, name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ethervpn: cannot write the security log of hub %s: %v\n", hub, err)
			return
		}
		df = &dayFile{name: name, f: f}
		w.files[key] = df
	}
	fmt.Fprintf(df.f, "%s %s\r\n", t.Format("2006-01-02 15:04:05.000"), logSafe(text))
}

// logSafe escapes what could end a log line early or forge another:
// control characters (C0, DEL and C1, as \r, \n, \t, \xNN or \u0085),
// the Unicode line and paragraph separators and bytes that are not UTF-8.
// Security-log and syslog lines carry text from peers (user, host and DNS
// names); the packet log cleans its fields likewise. Text without such
// characters, the usual case, is returned as it is.
func logSafe(s string) string {
	clean := true
	for _, r := range s {
		if unsafeInLog(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && unsafeInLog(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeInLog(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafeInLog reports whether r must be escaped in a log line.
func unsafeInLog(r rune) bool {
	return r < 0x20 || (0x7f <= r && r <= 0x9f) || r == 0x2028 || r == 0x2029 || r == utf8.RuneError
}

// close closes every open log file.
func (w *secLogWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, df := range w.files {
		df.f.Close()
		delete(w.files, k)
	}
}

// Syslog save types (SoftEther's SyslogSettings/SaveType).
const (
	syslogOff    = 0
	syslogServer = 1 // server log
	syslogHubs   = 2 // and the hubs' security logs
	syslogAll    = 3 // and packet logs
)

// syslogTarget forwards log lines as UDP datagrams in SoftEther's syslog
// format: no <PRI> header, UTF-8, at most 1023 bytes.
type syslogTarget struct {
	saveType int
	machine  string
	conn     net.Conn
}

func (t *syslogTarget) send(line string) {
	line = logSafe(line)
	if len(line) > 1023 {
		n := 1023
		for n > 0 && !utf8.RuneStart(line[n]) { // not in the middle of a character
			n--
		}
		line = line[:n]
	}
	t.conn.Write([]byte(line))
}

// setSyslog starts forwarding to host:port with the given save type, or
// stops when saveType is off.
func (l *securityLog) setSyslog(saveType int, host string, port uint16) error {
	if saveType <= syslogOff || host == "" {
		if old := l.w.syslog.Swap(nil); old != nil {
			old.conn.Close()
		}
		return nil
	}
	if port == 0 {
		port = 514
	}
	conn, err := net.Dial("udp", net.JoinHostPort(host, strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("syslog server %s:%d: %w", host, port, err)
	}
	machine, _ := os.Hostname()
	if old := l.w.syslog.Swap(&syslogTarget{saveType: min(saveType, syslogAll), machine: machine, conn: conn}); old != nil {
		old.conn.Close()
	}
	return nil
}
