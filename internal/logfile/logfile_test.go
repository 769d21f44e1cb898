package logfile

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestName(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	for st, want := range map[int]string{SwitchNone: "pkt.log", SwitchSecond: "pkt_20260102_030405.log", SwitchMinute: "pkt_20260102_0304.log",
		SwitchHour: "pkt_20260102_03.log", SwitchDay: "pkt_20260102.log", SwitchMonth: "pkt_202601.log", 9: "pkt_20260102.log"} {
		if got := Name("pkt", st, when); got != want {
			t.Errorf("switch type %d: %q, want %q", st, got, want)
		}
	}
}

func TestOpenKeepsHubInside(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(dir, "../x", "sec_1.log")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(dir, "___x", "sec_1.log")); err != nil {
		t.Fatal(err)
	}
}
