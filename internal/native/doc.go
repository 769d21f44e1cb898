// Package native holds the building blocks that the native-protocol servers
// (OpenVPN in tun mode, WireGuard, later PPP) share to put a client on a
// Virtual Hub as an ordinary session, the way SoftEther's in-process client
// ("IPC", SoftEther IPC.c) does:
//
//   - SplitUsername finds the hub and the user in a login name
//     ("hub\user", "user@hub" or a bare "user");
//   - VirtualMAC derives the session's Ethernet address;
//   - Adapter is the layer-3 adapter between a protocol that carries IPv4
//     packets and a hub port that carries Ethernet frames: it owns the
//     virtual MAC, answers and resolves ARP, leases the client's address
//     from a DHCP server on the hub, and wraps and unwraps IPv4 packets.
package native
