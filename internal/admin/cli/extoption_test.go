package cli

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/ethervpn/ethervpn/internal/server"
)

// TestExtOptionCommands runs ExtOptionList and ExtOptionSet against
// ethervpn's method table.
func TestExtOptionCommands(t *testing.T) {
	srv, err := server.Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	dial := func(context.Context, string, string, string) (RPC, io.Closer, error) {
		return dispatcherRPC{srv.Dispatcher()}, io.NopCloser(nil), nil
	}
	out := runScript(t, dial, strings.Join([]string{
		"Hub DEFAULT",
		"ExtOptionSet filterpppoe /VALUE:1",
		"ExtOptionSet NoSuchOption /VALUE:1",
		"ExtOptionSet FilterBPDU /VALUE:x",
		"ExtOptionList",
	}, "\n"))
	for _, want := range []string{
		"ExtOptionSet command - Set a Value of Virtual Hub Extended Options\nThe command completed successfully.",
		"Error occurred. (Error code: 29)",
		"FilterPPPoE                       |1",
		"FilterBPDU                        |0",
		"VlanTypeId                        |33024",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := srv.LookupHub("DEFAULT").Options().Filters; !got.PPPoE || got.BPDU {
		t.Errorf("filters in effect: %+v", got)
	}
}
