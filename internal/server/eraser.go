package server

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The log eraser's defaults, as SoftEther's AutoDeleteCheckDiskFreeSpaceMin
// and AutoDeleteCheckIntervalSecs.
const (
	defaultEraseFreeMin  = 100 << 20
	defaultEraseInterval = 5 * time.Minute
)

// eraseDirs are the directories under the data directory whose old files
// the eraser may delete.
var eraseDirs = []string{"packet_log", "security_log", "server_log"}

// runLogEraser keeps the free space of the data directory's file system
// above the configured minimum by deleting the oldest log files, as
// SoftEther's eraser does: a VPN server must not fill its disk with logs.
func (s *Server) runLogEraser(ctx context.Context) {
	defer s.wg.Done()
	s.mu.Lock()
	opt := s.cfg.Options
	minFree := opt.AutoDeleteCheckDiskFreeSpaceMin
	interval := time.Duration(opt.AutoDeleteCheckIntervalSecs) * time.Second
	s.mu.Unlock()
	if minFree == 0 {
		minFree = defaultEraseFreeMin
	}
	if interval <= 0 {
		interval = defaultEraseInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		eraseOldLogs(s.dir, minFree, diskFree, s.logEraser)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// logEraser writes the eraser's messages in SoftEther's words.
func (s *Server) logEraser(deleted string, minFree uint64) {
	size := fmt.Sprintf("%d MB", minFree>>20)
	if deleted == "" {
		s.log.Warn(fmt.Sprintf("<<WARNING>> If the free disk space becomes lower than %s, it will no longer be possible to automatically delete the old backup files of log files and configurations. We recommend that you immediately manually delete the unnecessary files on this computer and recover the necessary free disk space.", size),
			"event", "LE_NOT_ENOUGH_FREE", "dir", s.dir)
		return
	}
	s.log.Warn(fmt.Sprintf(`The free disk space is now less then %s so the old file "%s" has been automatically deleted. The amount of free disk space that determines when to start deletion can be modified by changing the "AutoDeleteCheckDiskFreeSpaceMin" item in the configuration file.`, size, deleted),
		"event", "LE_DELETE", "file", deleted)
}

// diskFree returns the bytes an unprivileged user may still write on the
// file system of dir.
func diskFree(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// eraseOldLogs deletes the oldest *.log files under the log directories of
// dataDir, one at a time, while free(dataDir) is below minFree; report is
// told each deleted file, or "" when none is left to delete.
func eraseOldLogs(dataDir string, minFree uint64, free func(string) (uint64, error), report func(deleted string, minFree uint64)) {
	avail, err := free(dataDir)
	if err != nil || avail >= minFree {
		return
	}
	type logFile struct {
		path string
		mod  time.Time
	}
	var files []logFile
	for _, d := range eraseDirs {
		filepath.WalkDir(filepath.Join(dataDir, d), func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".log") {
				if info, err := e.Info(); err == nil {
					files = append(files, logFile{p, info.ModTime()})
				}
			}
			return nil
		})
	}
	slices.SortFunc(files, func(a, b logFile) int { return a.mod.Compare(b.mod) })
	for _, f := range files {
		if os.Remove(f.path) == nil {
			report(f.path, minFree)
		}
		if avail, err = free(dataDir); err != nil || avail >= minFree {
			return
		}
	}
	report("", minFree)
}
