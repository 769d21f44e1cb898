//go:build race

package server

// wgRaceEnabled: the race detector makes sync.Pool drop items on purpose,
// so allocation counts are meaningless.
const wgRaceEnabled = true
