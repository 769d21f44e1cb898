package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEraseOldLogs(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	files := []struct {
		path string
		age  time.Duration
	}{
		{"packet_log/H/pkt_20260101.log", 72 * time.Hour},
		{"security_log/H/sec_20260102.log", 48 * time.Hour},
		{"packet_log/H/pkt_20260103.log", 24 * time.Hour},
		{"security_log/H/sec_20260104.log", 0},
		{"vpn_server.config", 96 * time.Hour}, // never a candidate
		{"packet_log/H/notes.txt", 96 * time.Hour},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, now.Add(-f.age), now.Add(-f.age))
	}
	// The disk gains room with each deletion; two are enough.
	deletions := 0
	free := func(string) (uint64, error) { return uint64(50+25*deletions) << 20, nil }
	var reported []string
	eraseOldLogs(dir, 100<<20, free, func(deleted string, _ uint64) {
		reported = append(reported, deleted)
		deletions++
	})
	if len(reported) != 2 || filepath.Base(reported[0]) != "pkt_20260101.log" || filepath.Base(reported[1]) != "sec_20260102.log" {
		t.Fatalf("deleted %v, want the two oldest logs", reported)
	}
	for _, keep := range []string{"packet_log/H/pkt_20260103.log", "security_log/H/sec_20260104.log", "vpn_server.config", "packet_log/H/notes.txt"} {
		if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}

	// Never enough: every log goes, then the warning ("").
	reported = nil
	eraseOldLogs(dir, 100<<20, func(string) (uint64, error) { return 1, nil }, func(d string, _ uint64) { reported = append(reported, d) })
	if len(reported) != 3 || reported[2] != "" {
		t.Fatalf("reported %q, want the two remaining logs and the warning", reported)
	}
	// Enough room: nothing happens.
	eraseOldLogs(dir, 100<<20, func(string) (uint64, error) { return 200 << 20, nil }, func(string, uint64) { t.Error("reported with room to spare") })
	if free, err := diskFree(dir); err != nil || free == 0 {
		t.Errorf("diskFree = %d, %v", free, err)
	}
}
