package main

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// TestTables prints the three result tables, each with a failed server,
// and compares them with testdata/tables.golden, the output of the
// benchmarks before their common parts were factored out (the L2 table has
// since gained the vpnclients' CPU): people compare these tables across
// versions, so their format changes only on purpose.
func TestTables(t *testing.T) {
	var b bytes.Buffer
	opt := options{duration: 3 * time.Second, runs: 2, maxTCP: 1}
	failed := result{server: testrig.SoftEther, err: errors.New("boom")}
	printL2Table(&b, opt, []result{
		{server: testrig.Ethervpn, conns: 2, costed: 1, runs: []run{{mbps: 969, bytes: 900e6, cpu: []float64{0.82, 1.5, 1.2}}, {mbps: 1001, bytes: 950e6, cpu: []float64{0.9, 1.6, 1.3}}}},
		{server: testrig.SoftEther, conns: 2, costed: 1, runs: []run{{mbps: 1222, bytes: 1100e6, cpu: []float64{1.04, 1.7, 1.5}}, {mbps: 1300, bytes: 1200e6, cpu: []float64{1.1, 1.8, 1.6}}}},
		failed,
	})
	printChainTable(&b, opt, []result{
		{server: testrig.Ethervpn, runs: []run{{mbps: 1936, bytes: 700e6, cpu: []float64{1.2, 1.1, 0.7}}, {mbps: 1800, bytes: 650e6, cpu: []float64{1.3, 1.0, 0.8}}}},
		{server: testrig.SoftEther, runs: []run{{mbps: 1030, bytes: 400e6, cpu: []float64{1.0, 0.8, 1.1}}, {mbps: 1000, bytes: 390e6, cpu: []float64{1.1, 0.9, 1.0}}}},
		failed,
	})
	opt.leases = 2
	printNATTable(&b, opt, []result{
		{server: testrig.Ethervpn, runs: []run{{mbps: 2472, bytes: 900e6, cpu: []float64{2.94}}, {mbps: 2500, bytes: 910e6, cpu: []float64{2.9}}},
			leases: []time.Duration{469 * time.Millisecond, 480 * time.Millisecond}},
		{server: testrig.SoftEther, runs: []run{{mbps: 66, bytes: 24e6, cpu: []float64{0.2}}, {mbps: 70, bytes: 25e6, cpu: []float64{0.21}}},
			leases: []time.Duration{472 * time.Millisecond, 460 * time.Millisecond}},
		failed,
	})
	want, err := os.ReadFile("testdata/tables.golden")
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Fatalf("tables changed:\n%s\nwant:\n%s", b.String(), want)
	}
}
