package client

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Account is one saved connection setting: a Link and the TAP device it
// feeds.
type Account struct {
	Name string
	TAP  string
	Link LinkOptions
}

// AccountsFormat documents the accounts file for the command's help.
const AccountsFormat = `An accounts file lists named connection settings, one section each:

  # comments start with '#'
  [account office]
  server              = vpn.example.com:443
  hub                 = DEFAULT
  user                = alice
  password-hash       = <base64>   # from: ethervpn client hash-password --user alice
  tap                 = vpn_office
  max-connections     = 8        # 1..32
  half-duplex         = no
  compress            = no
  no-encrypt          = no
  bridge-mode         = no
  monitor-mode        = no
  connection-interval = 1        # seconds, >= 1
  connection-lifetime = 0        # seconds, 0 = keep connections
  retry-interval      = 15       # seconds, >= 5
  retries             = -1       # -1 = unlimited
  pin-cert            = <hex SHA-256 of the server certificate>
  anonymous           = no

password-hash is SoftEther's hashed password (SHA-0 of the password and the
upper-cased user name, base64 as in vpn_client.config, or hex): the file never
holds the password itself, but the hash logs in, so keep the file private.
Values may be quoted with double quotes. Booleans are yes/no or true/false.`

// NewAccount returns an account with the defaults of a vpncmd-created one.
func NewAccount(name string) Account {
	return Account{
		Name: name,
		TAP:  "vpn0",
		Link: LinkOptions{
			Options:            Options{MaxConnections: 1},
			ConnectionInterval: time.Second,
			RetryInterval:      15 * time.Second,
			Retries:            -1,
			AutoDisconnect:     true,
		},
	}
}

// Validate checks the account's ranges (the same as vpncmd's).
func (a *Account) Validate() error {
	o := &a.Link
	var errs []error
	if o.Server == "" {
		errs = append(errs, errors.New("server is required"))
	}
	if o.Hub == "" {
		errs = append(errs, errors.New("hub is required"))
	}
	if o.User == "" {
		errs = append(errs, errors.New("user is required"))
	}
	if !o.Anonymous && o.Password == "" && len(o.PasswordHash) == 0 {
		errs = append(errs, errors.New("a password (or password-hash) is required unless anonymous"))
	}
	if a.TAP == "" || len(a.TAP) > 15 {
		errs = append(errs, fmt.Errorf("tap name %q must be 1 to 15 bytes", a.TAP))
	}
	if o.MaxConnections < 1 || o.MaxConnections > 32 {
		errs = append(errs, fmt.Errorf("max-connections %d is not in 1..32", o.MaxConnections))
	}
	if o.ConnectionInterval < time.Second {
		errs = append(errs, fmt.Errorf("connection-interval %v is below 1 s", o.ConnectionInterval))
	}
	if o.ConnectionLifetime < 0 {
		errs = append(errs, errors.New("connection-lifetime is negative"))
	}
	if o.RetryInterval < 5*time.Second {
		errs = append(errs, fmt.Errorf("retry-interval %v is below 5 s", o.RetryInterval))
	}
	if o.Retries < -1 {
		errs = append(errs, fmt.Errorf("retries %d: use -1 for unlimited", o.Retries))
	}
	if o.PinSHA256 != "" {
		if b, err := hex.DecodeString(strings.ReplaceAll(o.PinSHA256, ":", "")); err != nil || len(b) != 32 {
			errs = append(errs, fmt.Errorf("pin-cert %q is not a hex SHA-256", o.PinSHA256))
		}
	}
	if err := errors.Join(errs...); err != nil {
		if a.Name != "" {
			return fmt.Errorf("account %q: %w", a.Name, err)
		}
		return err
	}
	return nil
}

// ParseAccounts reads an accounts file (see AccountsFormat). Every account
// is validated; errors name the line.
func ParseAccounts(r io.Reader) ([]Account, error) {
	var accts []Account
	var cur *Account
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(stripComment(sc.Text()))
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") {
			name, ok := strings.CutPrefix(strings.TrimSuffix(line, "]"), "[account ")
			name = strings.TrimSpace(unquote(strings.TrimSpace(name)))
			if !ok || !strings.HasSuffix(line, "]") || name == "" {
				return nil, fmt.Errorf("line %d: want a section header [account NAME], got %q", n, line)
			}
			for _, a := range accts {
				if a.Name == name {
					return nil, fmt.Errorf("line %d: account %q is defined twice", n, name)
				}
			}
			accts = append(accts, NewAccount(name))
			cur = &accts[len(accts)-1]
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want key = value, got %q", n, line)
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: %q is outside an [account NAME] section", n, strings.TrimSpace(key))
		}
		if err := cur.set(strings.ToLower(strings.TrimSpace(key)), unquote(strings.TrimSpace(val))); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading accounts: %w", err)
	}
	if len(accts) == 0 {
		return nil, errors.New("no [account NAME] section found")
	}
	for i := range accts {
		if err := accts[i].Validate(); err != nil {
			return nil, err
		}
	}
	return accts, nil
}

// stripComment removes a '#' comment that is not inside double quotes.
func stripComment(s string) string {
	quoted := false
	for i, c := range s {
		switch c {
		case '"':
			quoted = !quoted
		case '#':
			if !quoted {
				return s[:i]
			}
		}
	}
	return s
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

func (a *Account) set(key, val string) error {
	o := &a.Link
	var err error
	switch key {
	case "server":
		o.Server = val
	case "hub":
		o.Hub = val
	case "user":
		o.User = val
	case "password-hash":
		o.PasswordHash, err = decodeHash(val)
	case "tap":
		a.TAP = val
	case "pin-cert":
		o.PinSHA256 = val
	case "max-connections":
		o.MaxConnections, err = strconv.Atoi(val)
	case "retries":
		o.Retries, err = strconv.Atoi(val)
	case "connection-interval":
		o.ConnectionInterval, err = seconds(val)
	case "connection-lifetime":
		o.ConnectionLifetime, err = seconds(val)
	case "retry-interval":
		o.RetryInterval, err = seconds(val)
	case "anonymous":
		o.Anonymous, err = parseBool(val)
	case "half-duplex":
		o.HalfDuplex, err = parseBool(val)
	case "compress":
		o.Compress, err = parseBool(val)
	case "no-encrypt":
		o.NoEncrypt, err = parseBool(val)
	case "bridge-mode":
		o.BridgeMode, err = parseBool(val)
	case "monitor-mode":
		o.MonitorMode, err = parseBool(val)
	case "password":
		return errors.New("plain passwords are not stored in accounts files: use password-hash (ethervpn client hash-password)")
	default:
		return fmt.Errorf("unknown setting %q", key)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

func seconds(v string) (time.Duration, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1<<30 {
		return 0, fmt.Errorf("%q is not a number of seconds", v)
	}
	return time.Duration(n) * time.Second, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true", "on", "1":
		return true, nil
	case "no", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not yes or no", v)
}

// decodeHash accepts a 20-byte hash in base64 (as SoftEther's configuration
// files store HashedPassword) or hex.
func decodeHash(v string) ([]byte, error) {
	if b, err := hex.DecodeString(v); err == nil && len(b) == 20 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(v); err == nil && len(b) == 20 {
		return b, nil
	}
	return nil, errors.New("want the 20-byte hashed password in base64 or hex")
}

// EncodeHash formats a hashed password as AccountsFormat stores it.
func EncodeHash(h []byte) string { return base64.StdEncoding.EncodeToString(h) }
