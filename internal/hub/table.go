package hub

import (
	"sync"
	"sync/atomic"
)

// tableShards is the number of independently locked shards of a table. A
// power of two so the shard is picked with a mask.
const tableShards = 64

// entry is one row of the MAC or IP table. The key and id never change; the
// owner and timestamps are atomics so that the common case (a known address
// seen again from its owner) refreshes without any lock. Changing the owner,
// inserting and deleting take the shard's write lock.
type entry[K comparable] struct {
	key     K
	id      uint32
	owner   atomic.Pointer[Port]
	created atomic.Int64 // hub clock, ns
	updated atomic.Int64 // hub clock, ns
	dhcp    atomic.Bool  // IP table: allocated by a snooped DHCP ACK
	mac     atomic.Uint64
}

type shard[K comparable] struct {
	mu sync.RWMutex
	m  map[K]*entry[K]
	_  [32]byte // keep neighbouring shards' locks off one cache line
}

// table is a sharded hash table of entries: lookups take only a shard's read
// lock, so forwarding never serialises on one hub-wide lock.
type table[K comparable] struct {
	shards [tableShards]shard[K]
	hash   func(K) uint64
	n      atomic.Int64  // number of entries
	ids    atomic.Uint32 // last entry id handed out
}

func newTable[K comparable](hash func(K) uint64) *table[K] {
	t := &table[K]{hash: hash}
	for i := range t.shards {
		t.shards[i].m = make(map[K]*entry[K])
	}
	return t
}

func (t *table[K]) shard(k K) *shard[K] {
	h := t.hash(k)
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return &t.shards[h&(tableShards-1)]
}

// get returns the entry for k, or nil.
func (t *table[K]) get(k K) *entry[K] {
	s := t.shard(k)
	s.mu.RLock()
	e := s.m[k]
	s.mu.RUnlock()
	return e
}

// each calls fn for every entry, one shard at a time under its read lock.
func (t *table[K]) each(fn func(e *entry[K])) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for _, e := range s.m {
			fn(e)
		}
		s.mu.RUnlock()
	}
}

// deleteIf removes every entry for which drop returns true and calls gone for
// each removed entry (under the shard lock, so gone must be quick).
func (t *table[K]) deleteIf(drop func(e *entry[K]) bool, gone func(e *entry[K])) int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if drop(e) {
				delete(s.m, k)
				t.n.Add(-1)
				gone(e)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// macKey packs a MAC address and VLAN ID into one comparable word.
func macKey(mac uint64, vlan uint16) uint64 { return mac<<16 | uint64(vlan) }

func hashU64(k uint64) uint64 { return k }
