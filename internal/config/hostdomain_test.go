package config

import (
	"strings"
	"testing"
)

func TestResolvDomain(t *testing.T) {
	for in, want := range map[string]string{
		"nameserver 1.1.1.1\nsearch a.example b.example\n": "a.example",
		"search a.example\ndomain corp.example\n":          "corp.example",
		"nameserver 1.1.1.1\n":                             "",
	} {
		if got := resolvDomain(strings.NewReader(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
