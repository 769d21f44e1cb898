//go:build race

package wire

// raceEnabled: the race detector makes sync.Pool drop a random share of
// what is put back, so pooled buffers are sometimes allocated anew.
const raceEnabled = true
