package control

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/sha0"
)

// BenchmarkSetUser10k is one SetUser on a hub of 10,000 users, saved to a
// configuration file (with its backup and fsync) as the server does.
func BenchmarkSetUser10k(b *testing.B) {
	cfg := config.Default()
	h := cfg.Hub("DEFAULT")
	for i := range 10000 {
		name := fmt.Sprintf("user%05d", i)
		hash := sha0.HashPassword(name, "pw")
		h.Users = append(h.Users, &config.User{Name: name, AuthType: AuthPassword, PasswordHash: hash[:]})
	}
	st := &config.Store{Path: filepath.Join(b.TempDir(), "vpn_server.config")}
	o := New(cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := o.Save(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		set := UserSettings{AuthType: AuthPassword, Note: fmt.Sprint(i)}
		if _, err := o.SetUser(serverAdmin, "DEFAULT", fmt.Sprintf("user%05d", i%10000), set); err != nil {
			b.Fatal(err)
		}
	}
}
