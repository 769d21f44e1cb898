package hub

// DrainBatches takes the port's queued output in batches of up to cap(buf)
// frames, and at most limit frames in all (limit <= 0: until the queue is
// empty), and hands each batch to fn. The frames are released when fn
// returns, so fn copies what it keeps; a false from fn stops the draining
// (what is still queued stays queued). It returns how many frames it took.
//
// It is the loop a consumer of a port runs after Ready fires (the local
// bridge, the layer-3 switch, SecureNAT; the session writers use
// DrainEach). buf is the consumer's scratch space, reused for every batch,
// so draining allocates nothing; it is cleared after each batch so that it
// keeps no released frame.
func (p *Port) DrainBatches(buf []*Frame, limit int, fn func(batch []*Frame) bool) int {
	size := max(cap(buf), 1)
	total := 0
	for limit <= 0 || total < limit {
		n := size
		if limit > 0 {
			n = min(n, limit-total)
		}
		batch := p.Drain(buf[:0], n)
		if len(batch) == 0 {
			break
		}
		total += len(batch)
		more := fn(batch)
		for _, f := range batch {
			f.Release()
		}
		clear(batch)
		if !more {
			break
		}
	}
	return total
}

// DrainEach is DrainBatches for a caller that takes the frames one at a
// time and keeps no buffer: the session writers, several of which drain one
// port at once. It passes each frame's bytes, valid only during the call,
// to emit. Its buffer stays on the stack, which it would not if a batch
// went to a function value, so it allocates nothing either.
func (p *Port) DrainEach(limit int, emit func(frame []byte)) int {
	var buf [64]*Frame
	total := 0
	for limit <= 0 || total < limit {
		n := len(buf)
		if limit > 0 {
			n = min(n, limit-total)
		}
		batch := p.Drain(buf[:0], n)
		if len(batch) == 0 {
			break
		}
		total += len(batch)
		for _, f := range batch {
			emit(f.Bytes())
			f.Release()
		}
	}
	return total
}
