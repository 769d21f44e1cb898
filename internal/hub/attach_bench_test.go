package hub

import (
	"fmt"
	"testing"
)

// BenchmarkAttachAt10k is a login's and a logout's work on a hub that
// holds 10,000 sessions.
func BenchmarkAttachAt10k(b *testing.B) {
	h := New("B", DefaultOptions())
	defer func() {
		b.StopTimer()
		h.Close()
	}()
	for i := range 10000 {
		if _, err := h.Attach(PortConfig{Name: fmt.Sprintf("SID-U-%d", i), User: "u", Kind: KindClient}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		p, err := h.Attach(PortConfig{Name: fmt.Sprintf("SID-X-%d", i), User: "u", Kind: KindClient})
		if err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}
