// Package vpnerr holds SoftEther's error numbers: the one Error type that
// the session protocol (the "error" element of a login reply), the binary
// admin RPC (its "error" element) and the JSON-RPC API ("error.code") all
// carry, with SoftEther's name and message for each number.
//
// It is a package of its own, importing nothing of ethervpn, so that every
// layer can use it: wire and the client below the server, admin and its
// command line beside it. Before it, wire, admin and the server spelled the
// numbers three times.
package vpnerr

import (
	"errors"
	"strconv"
)

// Error is a SoftEther error number. Returned as an error it makes a login
// or an admin call fail with that number; its text is the real server's.
type Error uint32

// entry is what SoftEther says about one number.
type entry struct {
	name    string // SoftEther's define, "ERR_HUB_NOT_FOUND"
	message string // the English text of the real programs
}

func (e Error) entry() entry {
	if int64(e) < int64(len(table)) {
		return table[e]
	}
	return entry{}
}

// Name returns SoftEther's name of e ("ERR_HUB_NOT_FOUND"), or "" for a
// number SoftEther does not define.
func (e Error) Name() string { return e.entry().name }

// Message returns the English text the real programs show for e: what
// happened and, for most numbers, what to do ("The specified Virtual Hub
// is currently stopped. Wait for a while and then reconnect."), or "" for
// an unknown number.
func (e Error) Message() string { return e.entry().message }

// Error returns "Error code N: message", the message of a JSON-RPC error
// of the real server, or "Error code N" for an unknown number.
func (e Error) Error() string {
	s := "Error code " + strconv.FormatUint(uint64(e), 10)
	if m := e.Message(); m != "" {
		s += ": " + m
	}
	return s
}

// Code returns the SoftEther error number for err: the Error inside it, 0
// for nil, and InternalError for any other error, so that an unexpected
// failure never looks like success to a peer.
func Code(err error) Error {
	if err == nil {
		return NoError
	}
	var e Error
	if errors.As(err, &e) {
		return e
	}
	return InternalError
}
