package packetlog

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/logfile"
)

// Writer writes the packet logs of a server's hubs. Records reach it
// through a bounded queue and are written by one goroutine; when the queue
// is full a record is dropped and counted, so that logging never holds up
// forwarding.
type Writer struct {
	dir     string
	svc     Services
	divert  Divert
	q       chan entry
	dropped atomic.Uint64
	done    chan struct{}

	mu     sync.RWMutex // Sink's sends against Close
	closed bool
}

type entry struct {
	hub        string
	switchType int
	r          hub.PacketRecord
}

// logFile is one hub's open file.
type logFile struct {
	name string
	f    *os.File
	w    *bufio.Writer
}

// Divert may take a formatted record instead of the file (a syslog
// server, for example): it returns true when it did. It runs on the
// writer's goroutine.
type Divert func(hub string, r *hub.PacketRecord, t time.Time, csv string) bool

// NewWriter starts a writer for the directory dir (DATA/packet_log) with a
// queue of queue records; divert may be nil.
func NewWriter(dir string, svc Services, queue int, divert Divert) *Writer {
	w := &Writer{dir: dir, svc: svc, divert: divert, q: make(chan entry, queue), done: make(chan struct{})}
	go w.run()
	return w
}

// Sink returns the function that hands the records of hub hubName to the
// writer, for hub.PacketLog.Sink.
func (w *Writer) Sink(hubName string, switchType int) func(hub.PacketRecord) {
	return func(r hub.PacketRecord) {
		w.mu.RLock()
		defer w.mu.RUnlock()
		if w.closed {
			return
		}
		select {
		case w.q <- entry{hubName, switchType, r}:
		default:
			w.dropped.Add(1)
		}
	}
}

// Dropped is the number of records lost because the queue was full.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Close writes what is queued and closes the files; records that arrive
// later are ignored.
func (w *Writer) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.q)
	}
	w.mu.Unlock()
	<-w.done
}

func (w *Writer) run() {
	defer close(w.done)
	files := map[string]*logFile{}
	defer func() {
		for _, lf := range files {
			lf.w.Flush()
			lf.f.Close()
		}
	}()
	for e := range w.q {
		w.writeSafely(files, e)
		if len(w.q) == 0 {
			for _, lf := range files {
				lf.w.Flush()
			}
		}
	}
}

// writeSafely writes one record; a record that makes the formatter panic is
// dropped (and counted), and logging goes on with the next.
func (w *Writer) writeSafely(files map[string]*logFile, e entry) {
	defer guard.Recover(nil, "packet log writer (the record was dropped)", func(error) { w.dropped.Add(1) })
	w.write(files, e)
}

// write appends one record to its hub's current file. A file that cannot
// be written is reported on stderr once per file name and the record
// dropped.
func (w *Writer) write(files map[string]*logFile, e entry) {
	t := e.r.Time.Local()
	csv := Format(&e.r, w.svc)
	if w.divert != nil && w.divert(e.hub, &e.r, t, csv) {
		return
	}
	key := strings.ToUpper(e.hub)
	name := logfile.Name("pkt", e.switchType, t)
	lf := files[key]
	if lf == nil || lf.name != name {
		if lf != nil {
			lf.w.Flush()
			lf.f.Close()
			delete(files, key)
		}
		f, err := logfile.Open(w.dir, e.hub, name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ethervpn: cannot write the packet log of hub %s: %v\n", e.hub, err)
			return
		}
		lf = &logFile{name: name, f: f, w: bufio.NewWriterSize(f, 64<<10)}
		files[key] = lf
	}
	lf.w.WriteString(t.Format("2006-01-02,15:04:05.000,"))
	lf.w.WriteString(csv)
	lf.w.WriteString("\r\n")
}
