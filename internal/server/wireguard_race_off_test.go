//go:build !race

package server

const wgRaceEnabled = false
