package admin

import (
	"errors"
	"strconv"
)

// Error is a SoftEther error number (admin-interfaces.md §7). It travels as
// the "error" INT of a binary RPC reply and as "error.code" in JSON-RPC; a
// Dispatcher returns it to make a call fail with that number.
type Error uint32

// ErrNoError is code 0, "no error". It is never returned as an error value.
const ErrNoError Error = 0

// Message returns the English text the real programs show for e (for
// example "Invalid parameter."), or "" for an unknown number.
func (e Error) Message() string {
	if int(e) < len(errorText) {
		return errorText[e]
	}
	return ""
}

// Error returns "Error code N: message", the form of the JSON-RPC error
// message of the real server.
func (e Error) Error() string {
	s := "Error code " + strconv.FormatUint(uint64(e), 10)
	if m := e.Message(); m != "" {
		s += ": " + m
	}
	return s
}

// Code returns the SoftEther error number for err: the Error inside it, 0
// for nil, and ErrInternalError for any other error, so that an unexpected
// failure never looks like success to a client.
func Code(err error) Error {
	if err == nil {
		return ErrNoError
	}
	var e Error
	if errors.As(err, &e) {
		return e
	}
	return ErrInternalError
}
