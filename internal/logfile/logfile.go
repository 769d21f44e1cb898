// Package logfile names and opens the log files the server keeps per hub,
// as SoftEther does: DIR/<HUB>/<prefix><date part>.log, a new file each
// switch period (second to month, daily by default), appended to.
package logfile

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Switch types: when a new file begins (SoftEther's SecurityLogSwitchType
// and PacketLogSwitchType).
const (
	SwitchNone   = 0
	SwitchSecond = 1
	SwitchMinute = 2
	SwitchHour   = 3
	SwitchDay    = 4 // the default
	SwitchMonth  = 5
)

// Name is the file name for a record at t: prefix + date part + ".log",
// e.g. "sec_20261121.log" for SwitchDay.
func Name(prefix string, switchType int, t time.Time) string {
	var part string
	switch switchType {
	case SwitchNone:
	case SwitchSecond:
		part = t.Format("_20060102_150405")
	case SwitchMinute:
		part = t.Format("_20060102_1504")
	case SwitchHour:
		part = t.Format("_20060102_15")
	case SwitchMonth:
		part = t.Format("_200601")
	default:
		part = t.Format("_20060102")
	}
	return prefix + part + ".log"
}

// Open opens (appending, creating it and its directory) file name of hub
// under dir. The hub name comes from a configuration file, so it is kept
// inside dir.
func Open(dir, hub, name string) (*os.File, error) {
	d := filepath.Join(dir, strings.NewReplacer("/", "_", "\\", "_", "..", "__").Replace(hub))
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(d, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
}
