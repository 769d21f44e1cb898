package admin

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorText(t *testing.T) {
	for e, want := range map[Error]string{
		ErrHubNotFound:      "Error code 8: The specified Virtual Hub does not exist on the server.",
		ErrInvalidParameter: "Error code 38: Invalid parameter.",
		ErrNotSupported:     "Error code 33: Unsupported.",
		ErrHubAlreadyExists: "Error code 57: The Virtual Hub with the specified name already exists on the server.",
		Error(70):           "Error code 70",
		Error(99999):        "Error code 99999",
	} {
		if got := e.Error(); got != want {
			t.Errorf("%d: %q, want %q", uint32(e), got, want)
		}
	}
}

func TestCode(t *testing.T) {
	if Code(nil) != ErrNoError {
		t.Error("nil is not code 0")
	}
	if Code(fmt.Errorf("creating hub: %w", ErrHubAlreadyExists)) != ErrHubAlreadyExists {
		t.Error("a wrapped Error loses its number")
	}
	if Code(errors.New("disk full")) != ErrInternalError {
		t.Error("a plain error must be reported as an internal error")
	}
}
