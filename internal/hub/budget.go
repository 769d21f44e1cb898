package hub

import (
	"sync/atomic"
	"time"
)

// Memory bounds of the output queues. A queued frame holds a whole pooled
// buffer whatever its length, so it is charged frameCost bytes: the bounds
// below are bounds on memory, not on the bytes on the wire.
const (
	// DefaultQueueBytes is the most a port's output queue holds: 4 MiB,
	// 2048 frames. A session that stops reading costs no more than this.
	DefaultQueueBytes = 4 << 20
	// DefaultQueueBudget is the most the output queues of all the ports
	// sharing one QueueBudget (on a server: every port of every hub) hold
	// beyond their reserves together.
	DefaultQueueBudget = 64 << 20
	// QueueReserve is what every port may queue without drawing on the
	// shared budget: one writer batch (256 frames). With the budget used
	// up by sessions that do not read, the others keep this much each.
	QueueReserve = 256 * frameCost
)

// QueueBudget is a bound on the memory that the output queues of many
// ports hold together: a port queues its first QueueReserve bytes freely
// and takes the rest from the budget, which it gives back as its queue
// drains. When the budget is used up, frames beyond a port's reserve are
// dropped and counted (Stats.DroppedQueueFull), so that sessions that stop
// reading cannot pile up memory without bound, nor take from the others
// more than the budget.
//
// A server shares one QueueBudget between all its hubs (Options.QueueBudget).
// It is safe for concurrent use: ports take and give back once per batch,
// with an atomic operation and no lock.
type QueueBudget struct {
	limit    int64
	used     atomic.Int64
	dropped  atomic.Uint64
	lastWarn atomic.Int64 // unix ns of the last "budget used up" log record
}

// budgetWarnEvery spaces the log records that say the budget is used up.
const budgetWarnEvery = time.Minute

// NewQueueBudget returns a budget of limit bytes (rounded down to whole
// frames); limit <= 0 means DefaultQueueBudget.
func NewQueueBudget(limit int64) *QueueBudget {
	if limit <= 0 {
		limit = DefaultQueueBudget
	}
	return &QueueBudget{limit: limit / frameCost * frameCost}
}

// Limit returns the budget's size in bytes.
func (b *QueueBudget) Limit() int64 { return b.limit }

// Used returns the bytes the ports hold from the budget now.
func (b *QueueBudget) Used() int64 { return b.used.Load() }

// Dropped returns the frames dropped because the budget was used up.
func (b *QueueBudget) Dropped() uint64 { return b.dropped.Load() }

// take grants up to n frames from the budget and returns how many.
func (b *QueueBudget) take(n int) int {
	for {
		used := b.used.Load()
		grant := min(int64(n), (b.limit-used)/frameCost)
		if grant <= 0 {
			return 0
		}
		if b.used.CompareAndSwap(used, used+grant*frameCost) {
			return int(grant)
		}
	}
}

// give returns n frames to the budget.
func (b *QueueBudget) give(n int) {
	if n > 0 {
		b.used.Add(-int64(n) * frameCost)
	}
}

// refused counts n frames the budget refused and reports whether it is
// time to log that it is used up (at most once per budgetWarnEvery).
func (b *QueueBudget) refused(n uint64) (warn bool) {
	b.dropped.Add(n)
	now := time.Now().UnixNano()
	last := b.lastWarn.Load()
	return now-last >= int64(budgetWarnEvery) && b.lastWarn.CompareAndSwap(last, now)
}
