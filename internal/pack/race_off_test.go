//go:build !race

package pack

// raceEnabled tells allocation tests that the race detector, which adds
// allocations of its own, is off.
const raceEnabled = false
