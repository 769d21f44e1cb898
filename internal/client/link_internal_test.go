package client

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

func TestRetryDelay(t *testing.T) {
	base := 15 * time.Second
	cases := []struct {
		err  error
		want time.Duration
	}{
		{vpnerr.AuthFailed, base},
		{errors.New("connection refused"), base},
		{vpnerr.HubStopping, time.Minute},
		{vpnerr.HubIsBusy, time.Minute},
		{fmt.Errorf("login: %w", vpnerr.TooManyUserSession), time.Minute},
		{nil, base},
	}
	for _, c := range cases {
		if got := retryDelay(c.err, base); got != c.want {
			t.Errorf("retryDelay(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestEffectiveMaxConnections(t *testing.T) {
	cases := []struct {
		own       int
		max       uint32
		half, qos bool
		want      int
	}{
		{1, 1, false, false, 1},
		{8, 8, false, false, 8},
		{8, 4, false, false, 4},  // the server granted fewer
		{4, 32, false, false, 4}, // never more than asked
		{1, 2, false, true, 2},   // QoS raises to 2
		{1, 2, true, false, 2},   // half-duplex needs one each way
		{1, 4, true, true, 4},    // both: 4
		{32, 32, true, true, 32},
	}
	for _, c := range cases {
		w := &wire.Welcome{MaxConnection: c.max, HalfConnection: c.half, QoS: c.qos}
		if got := effectiveMaxConnections(c.own, w); got != c.want {
			t.Errorf("own %d, welcome %+v: %d, want %d", c.own, *w, got, c.want)
		}
	}
}
