package server

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/sha0"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// writeRealisticConfig writes a configuration with two hubs, users,
// an admin password, a cascade and a certificate into dir, through a
// first Open (which generates the certificate and saves).
func writeRealisticConfig(t *testing.T, dir string) []byte {
	t.Helper()
	cfg := config.Default()
	pw := sha0.AdminHash("adminpw")
	cfg.AdminPasswordHash = pw[:]
	for _, name := range []string{"DEFAULT", "SALES"} {
		h := cfg.Hub(name)
		if h == nil {
			h = config.NewHub(name)
			cfg.Hubs = append(cfg.Hubs, h)
		}
		for i := range 20 {
			u := config.NewUser(name + "user" + string(rune('a'+i)))
			hash := sha0.HashPassword(u.Name, "pw")
			u.AuthType, u.PasswordHash = userAuthPassword, hash[:]
			h.Users = append(h.Users, u)
		}
	}
	c := config.NewCascade("up", "192.0.2.1", 5555, "HQ", "link")
	cfg.Hub("SALES").AddCascade(c)
	path := filepath.Join(dir, ConfigFile)
	if err := config.Save(path, cfg.ToTree()); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, quietLog()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A damaged or truncated configuration is refused with the file, the line
// and the reason and the backup to restore; the file is left byte for
// byte and with its date (issue 9 item 2: 19 of 20 cut files started with
// part of the users and overwrote the original).
func TestOpenRefusesDamagedConfig(t *testing.T) {
	dir := t.TempDir()
	full := writeRealisticConfig(t, dir)
	path := filepath.Join(dir, ConfigFile)
	stamp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rng := mrand.New(mrand.NewPCG(3, 4))
	var cuts []int
	for range 40 {
		cuts = append(cuts, rng.IntN(len(full)-2))
	}
	i := bytes.Index(full, []byte("HashedPassword"))
	cuts = append(cuts, 0, 1, i, i+20, len(full)-3)
	for _, n := range cuts {
		damaged := full[:n]
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(path, stamp, stamp)
		_, err := Open(dir, quietLog())
		if err == nil {
			t.Fatalf("a file cut at %d of %d bytes was accepted", n, len(full))
		}
		msg := err.Error()
		for _, want := range []string{path, "backup.vpn_server.config", "--restore-backup"} {
			if !strings.Contains(msg, want) {
				t.Errorf("cut at %d: the refusal does not mention %q: %s", n, want, msg)
			}
		}
		if n > bytes.Index(full, []byte("declare root")) && !strings.Contains(msg, "line ") {
			t.Errorf("cut at %d: no line in %s", n, msg)
		}
		got, _ := os.ReadFile(path)
		fi, _ := os.Stat(path)
		if !bytes.Equal(got, damaged) || !fi.ModTime().Equal(stamp) {
			t.Fatalf("cut at %d: the file was changed (%d bytes, %v)", n, len(got), fi.ModTime())
		}
	}

	// --restore-backup brings the last good one back, and it starts
	b, kept, err := RestoreBackup(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, full) {
		t.Error("the restored file is not the last good configuration")
	}
	if kept == "" || time.Since(b.Time) > time.Hour {
		t.Errorf("restore: backup %+v, kept %q", b, kept)
	}
	s, err := Open(dir, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.cfg.Hubs) != 2 || len(s.cfg.Hub("SALES").Users) != 20 || config.IsEmptyPasswordHash(s.cfg.AdminPasswordHash) {
		t.Errorf("restored configuration incomplete: %d hubs", len(s.cfg.Hubs))
	}
	// a usable file is not replaced
	if _, _, err := RestoreBackup(dir); !errors.Is(err, ErrConfigUsable) {
		t.Errorf("RestoreBackup over a good file = %v, want ErrConfigUsable", err)
	}
}

// Without a backup the refusal says so, and so does --restore-backup.
func TestRefusalWithoutBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ConfigFile)
	if err := os.WriteFile(path, []byte("declare root\r\n{\r\n\tdeclare ServerConfiguration\r\n\t{\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, quietLog())
	if err == nil || !strings.Contains(err.Error(), "no backup exists") || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("Open = %v", err)
	}
	if _, _, err := RestoreBackup(dir); !errors.Is(err, config.ErrNoBackup) {
		t.Errorf("RestoreBackup = %v, want ErrNoBackup", err)
	}
}

// First start with no file creates the default configuration, its
// certificate and the first backup; stale temporary files are removed.
func TestOpenFirstStart(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".vpn_server.config.tmp4242")
	if err := os.WriteFile(stale, []byte("private key"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Hub("DEFAULT") == nil || len(s.cfg.CertDER) == 0 {
		t.Fatal("no default hub or certificate")
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Error("stale temporary file not removed")
	}
	list, _ := (&config.Store{Path: filepath.Join(dir, ConfigFile)}).Backups()
	if len(list) != 1 {
		t.Errorf("%d backups after the first start, want 1", len(list))
	}
}

// setCert writes a certificate and key into a configuration file.
func setCert(t *testing.T, dir string, cert, key []byte) {
	t.Helper()
	cfg := config.Default()
	cfg.CertDER, cfg.KeyDER = cert, key
	if err := config.Save(filepath.Join(dir, ConfigFile), cfg.ToTree()); err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// Keys in every form SoftEther writes load, and the server then does a
// TLS handshake with them: PKCS#1 RSA, SEC1 EC ("EC PRIVATE KEY"),
// PKCS#8 (RSA, EC, Ed25519).
func TestConfiguredKeyForms(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		cert, key []byte
	}{
		{"RSA PKCS#1", selfSigned(t, rsaKey), x509.MarshalPKCS1PrivateKey(rsaKey)},
		{"RSA PKCS#8", selfSigned(t, rsaKey), pkcs8(rsaKey)},
		{"EC SEC1", selfSigned(t, ecKey), sec1},
		{"EC PKCS#8", selfSigned(t, ecKey), pkcs8(ecKey)},
		{"Ed25519 PKCS#8", selfSigned(t, edKey), pkcs8(edKey)},
	} {
		dir := t.TempDir()
		setCert(t, dir, c.cert, c.key)
		s, err := Open(dir, quietLog())
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !bytes.Equal(s.cfg.CertDER, c.cert) || !bytes.Equal(s.cert.Certificate[0], c.cert) {
			t.Errorf("%s: the configured certificate was replaced", c.name)
			continue
		}
		if err := tlsHandshake(s.currentTLS()); err != nil {
			t.Errorf("%s: TLS handshake: %v", c.name, err)
		}
	}
}

// tlsHandshake runs a TLS handshake against cfg over a pipe.
func tlsHandshake(cfg *tls.Config) error {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	go func() { done <- tls.Server(a, cfg).Handshake() }()
	cerr := tls.Client(b, &tls.Config{InsecureSkipVerify: true}).Handshake()
	if serr := <-done; serr != nil {
		return serr
	}
	return cerr
}

// An unusable certificate or key is an error naming what is wrong, not
// replaced by a new self-signed certificate; the file is left as it was.
func TestOpenRefusesUnusableCert(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := selfSigned(t, rsaKey)
	key := x509.MarshalPKCS1PrivateKey(rsaKey)
	otherKey, _ := x509.MarshalECPrivateKey(other)
	for _, c := range []struct {
		name, want string
		cert, key  []byte
	}{
		{"garbage certificate", "ServerCert", []byte("not a certificate"), key},
		{"truncated certificate", "ServerCert", cert[:len(cert)/2], key},
		{"garbage key", "not a PKCS#1 RSA, SEC1 EC or PKCS#8", cert, []byte{1, 2, 3}},
		{"key of another certificate", "does not match", cert, otherKey},
		{"no key", "no ServerKey", cert, nil},
		{"no certificate", "no ServerCert", nil, key},
	} {
		dir := t.TempDir()
		setCert(t, dir, c.cert, c.key)
		path := filepath.Join(dir, ConfigFile)
		before, _ := os.ReadFile(path)
		_, err := Open(dir, quietLog())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Open = %v, want an error with %q", c.name, err, c.want)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Errorf("%s: the file was changed", c.name)
		}
	}
}

// TestMissingAdminPasswordIsLogged: a file whose HashedPassword item lost
// its name (a byte changed on disk) loads, but the empty administrator
// password it leaves is said in the log, not kept silent.
func TestMissingAdminPasswordIsLogged(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	hash := sha0.AdminHash("adminpw")
	cfg.AdminPasswordHash = hash[:]
	root := cfg.ToTree()
	root.Folder("ServerConfiguration").Item("HashedPassword").Name = "HashedPasswor\x7f"
	if err := config.Save(filepath.Join(dir, ConfigFile), root); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	if _, err := Open(dir, slog.New(slog.NewTextHandler(logs, nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "no ServerConfiguration/HashedPassword item") {
		t.Errorf("no warning about the missing administrator password in:\n%s", logs)
	}
}
