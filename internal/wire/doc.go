// Package wire implements the pieces of SoftEther's SSL-VPN protocol that
// both roles share: the HTTP-shaped preamble (signature, hello, login,
// welcome, additional connections, error packs), the data-phase block
// framing with keep-alives and per-block zlib, and the record-exact TLS
// wrapper needed when a session turns encryption off.
package wire
