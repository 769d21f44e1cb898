// Package cli is "ethervpn cmd": a command-line administration tool for
// SoftEther-compatible VPN Servers that accepts vpncmd's syntax (its
// command names, /PARAM:value arguments, /IN batch files, /CSV) and prints
// the same tables, talking the binary admin RPC (admin.Dial) to ethervpn
// or to the real vpnserver.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// RPC is the connection the commands use; *admin.Client implements it.
type RPC interface {
	Call(ctx context.Context, method string, in *pack.Pack) (*pack.Pack, error)
}

// DialFunc opens an authenticated connection (admin.Dial and a closer).
type DialFunc func(ctx context.Context, addr, hub, password string) (RPC, io.Closer, error)

// Dial is the DialFunc of the real tool.
func Dial(ctx context.Context, addr, hub, password string) (RPC, io.Closer, error) {
	c, err := admin.Dial(ctx, addr, hub, password)
	if err != nil {
		return nil, nil, err
	}
	return c, c, nil
}

// Session is one administration session: a connection, the selected hub
// and where output goes.
type Session struct {
	ctx      context.Context
	rpc      RPC
	out      io.Writer
	csv      bool
	hub      string                              // the selected hub ("" = none)
	ask      func(prompt string) (string, error) // reads a line; nil when commands come from /CMD or /IN
	redial   func() error                        // reconnects after a broken connection
	loginHub string                              // hub of a hub-admin login
}

// usageError is a mistake in a command line (exit code 38, no server call).
type usageError string

func (e usageError) Error() string { return string(e) }

// Run executes "ethervpn cmd" with vpncmd-style args and returns the exit
// code: 0, or the SoftEther error number of the (last) failed command.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, dial DialFunc) int {
	o, err := ParseArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, "ethervpn cmd:", err)
		return int(vpnerr.InvalidParameter)
	}
	out := stdout
	if o.Out != "" {
		f, err := os.Create(o.Out)
		if err != nil {
			fmt.Fprintf(stderr, "Error: Unable to create the specified output file \"%s\".\n", o.Out)
			return int(vpnerr.InvalidParameter)
		}
		defer f.Close()
		out = io.MultiWriter(stdout, f)
	}
	lines := bufio.NewScanner(stdin)
	readLine := func(prompt string) (string, error) {
		fmt.Fprint(out, prompt)
		if !lines.Scan() {
			fmt.Fprintln(out, "[EOF]")
			return "", io.EOF
		}
		return strings.TrimRight(lines.Text(), "\r"), nil
	}
	var batch *bufio.Scanner
	if o.In != "" {
		f, err := os.Open(o.In)
		if err != nil {
			fmt.Fprintf(out, "Error: Unable to open the specified input file \"%s\".\n", o.In)
			return int(vpnerr.InvalidParameter)
		}
		defer f.Close()
		batch = bufio.NewScanner(f)
		fmt.Fprintf(out, "The commands written in the file \"%s\" will be used instead of input from keyboard.\n", o.In)
	}
	if !o.CSV {
		fmt.Fprint(out, "ethervpn cmd - SoftEther VPN compatible command line administration\n\n")
	}

	// Log in: with the given password, or else an empty one and, if the
	// server refuses it, the password typed at the prompt (as vpncmd).
	var closer io.Closer
	s := &Session{ctx: ctx, out: out, csv: o.CSV, loginHub: o.Hub}
	password := o.Password
	for {
		rpc, cl, err := dial(ctx, o.Addr, o.Hub, password)
		if err == nil {
			s.rpc, closer = rpc, cl
			break
		}
		if vpnerr.Code(err) != vpnerr.AccessDenied {
			printError(out, err)
			return int(vpnerr.Code(err))
		}
		fmt.Fprint(out, "Access has been denied. Possibly the password is incorrect, or perhaps you are connecting by an incorrect admin mode. You can try inputting the password again.\n\n")
		pw, rerr := readLine("Password: ")
		if rerr != nil {
			printError(out, err)
			return int(vpnerr.AccessDenied)
		}
		password = pw
	}
	defer func() { closer.Close() }()
	s.redial = func() error {
		rpc, cl, err := dial(ctx, o.Addr, o.Hub, password)
		if err != nil {
			return err
		}
		closer.Close()
		s.rpc, closer = rpc, cl
		return nil
	}

	host, port, _ := net.SplitHostPort(o.Addr)
	if !o.CSV {
		fmt.Fprintf(out, "Connection has been established with VPN Server \"%s\" (port %s).\n\n", host, port)
		if o.Hub == "" {
			fmt.Fprint(out, "You have administrator privileges for the entire VPN Server.\n\n")
		} else {
			fmt.Fprintf(out, "You have administrator privileges for Virtual Hub '%s' on the VPN Server.\n\n", o.Hub)
		}
	}
	selectHub := o.AdminHub
	if selectHub == "" {
		selectHub = o.Hub
	}
	if selectHub != "" {
		if err := s.selectHub(selectHub); err != nil {
			fmt.Fprintf(out, "When attempting to select Virtual Hub \"%s\" that has been specified by /ADMINHUB, the following error occurred.\n", selectHub)
			printError(out, err)
			return int(vpnerr.Code(err))
		}
	}

	if o.Cmd != nil {
		if !o.CSV {
			fmt.Fprintf(out, "%s>%s\n", s.prompt(), strings.Join(o.Cmd, " "))
		}
		code, _ := s.Exec(o.Cmd)
		return int(code)
	}
	if batch == nil {
		s.ask = readLine
	}
	code := vpnerr.NoError
	for {
		var line string
		if batch != nil {
			if !batch.Scan() {
				break
			}
			line = strings.TrimRight(batch.Text(), "\r")
			fmt.Fprintf(out, "%s>%s\n", s.prompt(), line)
		} else {
			l, err := readLine(s.prompt() + ">")
			if err != nil {
				break
			}
			line = l
		}
		words := splitLine(line)
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		c, quit := s.Exec(words)
		if quit {
			break
		}
		code = c
	}
	return int(code)
}

// prompt is vpncmd's prompt without the '>'.
func (s *Session) prompt() string {
	if s.hub != "" {
		return "VPN Server/" + s.hub
	}
	return "VPN Server"
}

// Exec runs one command line (already split into words) and prints its
// output. It returns the command's error number and whether the command
// ends the session (Exit, Quit).
func (s *Session) Exec(words []string) (vpnerr.Error, bool) {
	c, err := findCommand(words[0])
	if err != nil {
		fmt.Fprintf(s.out, "\"%s\": Command not found. \nYou can use the HELP command to view a list of the available commands.\n", words[0])
		if !errors.Is(err, errNotFound) {
			fmt.Fprintln(s.out, err)
		}
		return vpnerr.BadCommandOrParam, false
	}
	if c.quit {
		return vpnerr.NoError, true
	}
	if !s.csv {
		fmt.Fprintf(s.out, "%s command - %s\n", c.name, c.desc())
	}
	a, err := parseCmdArgs(c, words[1:])
	if err == nil && c.needHub && s.hub == "" {
		err = usageError("Before executing this command, first select the Virtual Hub to manage using the Hub command.")
	}
	if err == nil {
		err = s.fillRequired(c, a)
	}
	if err == nil {
		err = c.run(s, a)
	}
	if err != nil {
		printError(s.out, err)
		return exitCode(err), false
	}
	if !s.csv {
		fmt.Fprint(s.out, "The command completed successfully.\n\n")
	}
	return vpnerr.NoError, false
}

// fillRequired asks for missing required parameters when a person is at
// the keyboard; otherwise their absence is an error.
func (s *Session) fillRequired(c *command, a cmdArgs) error {
	for _, p := range c.params {
		if !p.required || a.has(p.name) {
			continue
		}
		label := p.prompt
		if label == "" {
			label = "Enter a value:"
		}
		if s.ask == nil {
			what := "/" + p.name
			if p.name == "" {
				what = "[" + p.label + "]"
			}
			return usageError(fmt.Sprintf("The command \"%s\" needs the parameter %s (%s).", c.name, what, strings.TrimSuffix(label, ":")))
		}
		for {
			v, err := s.ask(label + " ")
			if err != nil {
				return vpnerr.UserCancel
			}
			if v = strings.TrimSpace(v); v != "" || p.allowEmpty {
				a[p.name] = v
				break
			}
			fmt.Fprintln(s.out, "You cannot make a blank specification.")
		}
	}
	return nil
}

// call runs one RPC, reconnecting once if the connection broke (as vpncmd).
func (s *Session) call(method string, in *pack.Pack) (*pack.Pack, error) {
	out, err := s.rpc.Call(s.ctx, method, in)
	if vpnerr.Code(err) == vpnerr.Disconnected && s.redial != nil {
		if s.redial() == nil {
			out, err = s.rpc.Call(s.ctx, method, in)
		}
	}
	return out, err
}

// selectHub is the Hub command: the server's spelling of the name wins.
func (s *Session) selectHub(name string) error {
	in := pack.New()
	in.AddStr("HubName", name)
	res, err := s.call("GetHubStatus", in)
	if err != nil {
		return err
	}
	s.hub = res.Str("HubName")
	if s.hub == "" {
		s.hub = name
	}
	fmt.Fprintf(s.out, "The Virtual Hub \"%s\" has been selected.\n", s.hub)
	return nil
}

// printError prints an error the way vpncmd does.
func printError(w io.Writer, err error) {
	var ue usageError
	var e vpnerr.Error
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(w, ue)
	case errors.As(err, &e) && errors.Unwrap(err) == nil:
		fmt.Fprintf(w, "Error occurred. (Error code: %d)\n%s\n", uint32(e), e.Message())
	default:
		code := vpnerr.Code(err)
		fmt.Fprintf(w, "Error occurred. (Error code: %d)\n%s\n(%v)\n", uint32(code), code.Message(), err)
	}
}

// exitCode is the error number a failed command returns.
func exitCode(err error) vpnerr.Error {
	var ue usageError
	if errors.As(err, &ue) {
		return vpnerr.InvalidParameter
	}
	return vpnerr.Code(err)
}
