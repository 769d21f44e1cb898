// Package admin holds the administration front-ends of ethervpn that are
// independent of the server's state: the binary admin RPC that vpncmd
// speaks on the VPN ports (server and client side), the HTTPS JSON-RPC API
// under /api, the PACK <-> JSON mapping between them, and SoftEther's error
// numbers.
//
// Both front-ends end in one Dispatcher, which executes the methods of the
// catalogue (docs/protocol/admin.md#method-table) on PACKs with SoftEther's element
// names; the server package implements it.
package admin

import (
	"context"
	"net/netip"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// Caller identifies an authenticated administrator.
type Caller struct {
	ServerAdmin bool   // server administrator: every method
	Hub         string // hub administrator: confined to this hub ("" for server admins)
	Remote      netip.Addr
	Via         string // "rpc" (vpncmd), "json-rpc", "cli"
	Client      string // the program vpncmd says it is (client_str of its login), "" when unknown
	ClientBuild uint32 // its build (client_build), 0 when unknown
}

// Dispatcher executes one method of the table. in/out are PACKs with
// SoftEther's element names (the binary RPC carries them as they are;
// JSON-RPC maps JSON <-> PACK per docs/protocol/admin.md#pack-to-json). A returned
// error of type vpnerr.Error becomes the SoftEther error number on the wire; any
// other error is reported as vpnerr.InternalError.
type Dispatcher interface {
	Call(ctx context.Context, c Caller, method string, in *pack.Pack) (*pack.Pack, error)
}

// DispatcherFunc adapts a function to the Dispatcher interface.
type DispatcherFunc func(ctx context.Context, c Caller, method string, in *pack.Pack) (*pack.Pack, error)

// Call calls f.
func (f DispatcherFunc) Call(ctx context.Context, c Caller, method string, in *pack.Pack) (*pack.Pack, error) {
	return f(ctx, c, method, in)
}

// Authenticator checks JSON-RPC credentials (from the X-VPNADMIN-* headers
// or Basic auth). hub "" (or "administrator") asks for server admin rights.
// It returns the Caller on success and a vpnerr.Error (usually vpnerr.AccessDenied)
// otherwise.
type Authenticator func(hub, password string, remote netip.Addr) (Caller, error)
