package cli

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is the port vpncmd connects to when the host has none.
const DefaultPort = 443

// Options are the vpncmd-style command-line options:
//
//	[HOST[:PORT]] [/SERVER] [/HUB:hub] [/ADMINHUB:hub] [/PASSWORD:pw]
//	[/IN:file] [/OUT:file] [/CSV] [/CMD command args...]
type Options struct {
	Addr        string   // host:port to connect to
	Hub         string   // /HUB: log in as this hub's administrator
	AdminHub    string   // /ADMINHUB: select this hub after a server-admin login
	Password    string   // /PASSWORD:
	HasPassword bool     // /PASSWORD was given (possibly empty)
	In, Out     string   // /IN: command file, /OUT: copy of the output
	CSV         bool     // /CSV
	Cmd         []string // /CMD: the command and its arguments
}

var optionNames = []string{"SERVER", "CLIENT", "TOOLS", "HUB", "ADMINHUB", "PASSWORD", "IN", "OUT", "CSV", "CMD"}

// ParseArgs reads vpncmd's command-line syntax. Option names are
// case-insensitive and may be abbreviated to a unique prefix, as in vpncmd.
func ParseArgs(args []string) (*Options, error) {
	o := &Options{}
	host := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "/") || len(a) == 1 {
			if host != "" {
				return nil, fmt.Errorf("unexpected argument %q (the host is already %q)", a, host)
			}
			host = a
			continue
		}
		name, value, _ := strings.Cut(a[1:], ":")
		opt, err := matchName(name, optionNames, "option")
		if err != nil {
			return nil, err
		}
		switch opt {
		case "SERVER":
		case "CLIENT", "TOOLS":
			return nil, fmt.Errorf("/%s is not supported: ethervpn cmd manages VPN Servers only (/SERVER)", opt)
		case "HUB":
			o.Hub = value
		case "ADMINHUB":
			o.AdminHub = value
		case "PASSWORD":
			o.Password, o.HasPassword = value, true
		case "IN":
			o.In = value
		case "OUT":
			o.Out = value
		case "CSV":
			o.CSV = true
		case "CMD":
			o.Cmd = args[i+1:]
			if len(o.Cmd) == 0 {
				return nil, fmt.Errorf("/CMD needs a command")
			}
			i = len(args)
		}
	}
	if o.In != "" && o.Cmd != nil {
		return nil, fmt.Errorf("/IN and /CMD cannot be used together")
	}
	addr, err := hostPort(host)
	if err != nil {
		return nil, err
	}
	o.Addr = addr
	return o, nil
}

// hostPort turns vpncmd's HOST[:PORT] into host:port (default localhost,
// port 443).
func hostPort(s string) (string, error) {
	if s == "" {
		return net.JoinHostPort("localhost", strconv.Itoa(DefaultPort)), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port (or a bare IPv6 address).
		return net.JoinHostPort(strings.Trim(s, "[]"), strconv.Itoa(DefaultPort)), nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("invalid port in %q", s)
	}
	if host == "" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port), nil
}

// matchName finds name among names: exactly (case-insensitive) or as the
// unique prefix of one of them.
func matchName(name string, names []string, what string) (string, error) {
	var hits []string
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return n, nil
		}
		if name != "" && len(name) < len(n) && strings.EqualFold(n[:len(name)], name) {
			hits = append(hits, n)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return "", fmt.Errorf("unknown %s %q", what, name)
	}
	return "", fmt.Errorf("%s %q is ambiguous: %s", what, name, strings.Join(hits, ", "))
}

// splitLine splits a command line into words at spaces and tabs; double
// quotes group words ("a b") and are removed.
func splitLine(line string) []string {
	var words []string
	var b strings.Builder
	in, have := false, false
	for _, r := range line {
		switch {
		case r == '"':
			in, have = !in, true
		case (r == ' ' || r == '\t') && !in:
			if have {
				words = append(words, b.String())
				b.Reset()
				have = false
			}
		default:
			b.WriteRune(r)
			have = true
		}
	}
	if have {
		words = append(words, b.String())
	}
	return words
}

// cmdArgs are the parameters of one command: the default (positional)
// parameter under "" and the /NAME:value ones under their upper-case name.
type cmdArgs map[string]string

// has reports whether the parameter was given.
func (a cmdArgs) has(name string) bool { _, ok := a[name]; return ok }

// parseCmdArgs reads the words after a command name against the
// command's parameter names.
func parseCmdArgs(c *command, words []string) (cmdArgs, error) {
	a := cmdArgs{}
	var names []string
	for _, p := range c.params {
		if p.name != "" {
			names = append(names, p.name)
		}
	}
	for _, w := range words {
		if strings.HasPrefix(w, "/") && len(w) > 1 {
			name, value, _ := strings.Cut(w[1:], ":")
			n, err := matchName(name, names, "parameter")
			if err != nil && strings.HasPrefix(err.Error(), "unknown") {
				return nil, usageError(fmt.Sprintf("The parameter \"/%s\" has been specified. It is not possible to specify this parameter when using the command \"%s\".", name, c.name))
			}
			if err != nil {
				return nil, usageError(err.Error())
			}
			a[n] = value
			continue
		}
		if a.has("") || !c.hasDefault() {
			return nil, usageError(fmt.Sprintf("The command \"%s\" takes no further value \"%s\".", c.name, w))
		}
		a[""] = w
	}
	return a, nil
}
