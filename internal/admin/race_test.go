//go:build race

package admin

// raceEnabled: the race detector makes allocation-heavy tests ten times
// slower, so they cover less under it.
const raceEnabled = true
