// Package ether holds what several layers must agree on about an Ethernet
// frame: its size limits and the Internet checksum of what it carries. It
// imports nothing of ethervpn, so that the session protocol (wire), the
// switch (hub), the TAP and bridge ports and their offload code, the
// layer-3 switch and SecureNAT all take them from one place.
package ether

const (
	// MinFrameSize is the smallest frame switched: an Ethernet header.
	MinFrameSize = 14
	// MaxFrameSize is the largest Ethernet frame a session carries and the
	// hub switches, VLAN tags included (SoftEther Cedar.h, MAX_PACKET_SIZE).
	// A larger frame is dropped and counted where it enters.
	MaxFrameSize = 1600
)
