package vpnerr

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestTableMatchesSoftEther checks every number of the table, and every
// constant of the package, against the ERR_* defines of SoftEther's
// Cedar.h (testdata/cedar_err.txt lists them).
func TestTableMatchesSoftEther(t *testing.T) {
	f, err := os.Open("testdata/cedar_err.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]Error{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, num, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			t.Fatalf("testdata: %q", sc.Text())
		}
		want[name] = Error(n)
	}
	if len(want) < 150 {
		t.Fatalf("testdata holds %d defines", len(want))
	}
	seen := 0
	for i, e := range table {
		if e.name == "" {
			continue
		}
		seen++
		if n, ok := want[e.name]; !ok || n != Error(i) {
			t.Errorf("table[%d] is %s, which SoftEther numbers %d (defined: %v)", i, e.name, n, ok)
		}
	}
	if seen != len(want) {
		t.Errorf("table names %d numbers, SoftEther defines %d", seen, len(want))
	}

	// Each constant carries SoftEther's name in its comment: the number
	// must be SoftEther's, and the Go name that name in Go's case.
	fs := token.NewFileSet()
	file, err := parser.ParseFile(fs, "table.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	consts := 0
	for _, d := range file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			consts++
			se := strings.TrimSpace(v.Comment.Text())
			n, _ := strconv.ParseUint(v.Values[0].(*ast.BasicLit).Value, 10, 32)
			if want[se] != Error(n) || Error(n).Name() != se {
				t.Errorf("%s = %d // %s: SoftEther numbers %s %d", v.Names[0].Name, n, se, se, want[se])
			}
			if !sameWords(v.Names[0].Name, se) {
				t.Errorf("%s is not named after %s", v.Names[0].Name, se)
			}
		}
	}
	if consts != len(want) {
		t.Errorf("%d constants for %d defines", consts, len(want))
	}
}

// sameWords reports whether a Go name spells the words of SoftEther's name
// (ERR_HUB_NOT_FOUND and HubNotFound), letting through SoftEther's own
// typo "MANT" for "MANY".
func sameWords(goName, se string) bool {
	s := strings.ReplaceAll(strings.TrimPrefix(se, "ERR_"), "_", "")
	s = strings.ReplaceAll(s, "MANT", "MANY")
	return strings.EqualFold(goName, s)
}

func TestErrorText(t *testing.T) {
	for e, want := range map[Error]string{
		HubNotFound:      "Error code 8: The specified Virtual Hub does not exist on the server.",
		InvalidParameter: "Error code 38: Invalid parameter.",
		NotSupported:     "Error code 33: Unsupported.",
		HubAlreadyExists: "Error code 57: The Virtual Hub with the specified name already exists on the server.",
		Error(70):        "Error code 70",
		Error(99999):     "Error code 99999",
	} {
		if got := e.Error(); got != want {
			t.Errorf("%d: %q, want %q", uint32(e), got, want)
		}
	}
	if HubStopping.Name() != "ERR_HUB_STOPPING" || Error(70).Name() != "" || Error(1<<32-1).Message() != "" {
		t.Error("Name or Message of a number out of the table")
	}
}

func TestCode(t *testing.T) {
	if Code(nil) != NoError {
		t.Error("nil is not code 0")
	}
	if Code(fmt.Errorf("creating hub: %w", HubAlreadyExists)) != HubAlreadyExists {
		t.Error("a wrapped Error loses its number")
	}
	if Code(errors.New("disk full")) != InternalError {
		t.Error("a plain error must be reported as an internal error")
	}
}
