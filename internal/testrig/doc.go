// Package testrig runs end-to-end scenarios against a VPN server under test:
// the ethervpn binary or the real SoftEther 5.01 vpnserver (Debian), with real
// SoftEther vpnclients, each in a network namespace of its own.
//
// A rig builds a star of veth pairs: one server namespace and one namespace
// per client, linked by /30 underlays in 10.250.0.0/16 that exist only inside
// those namespaces. Nothing is added to the root namespace, and the server
// namespace has no route or resolver that leads off the machine, because the
// real vpnserver and vpnclient look up NAT-traversal names on their own.
// Every SoftEther process also runs in a private mount namespace with its own
// copies of /var/lib/softether, /var/log/softether and /run/softether, so
// instances never share state (the Debian build compiles those paths in).
//
// The library is used by the e2e tests (package e2e) and by the benchmark
// command (cmd/ethervpn-bench); both pass a TB, which *testing.T satisfies
// and Runner implements for commands.
package testrig
