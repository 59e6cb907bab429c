package workerpool

import (
	"sync"
	"sync/atomic"
)

// guard keeps a C handle alive while calls use it: enter fails once close
// began, and close returns once every call that entered has left.
type guard struct {
	state   int64 // atomic: closedBit | calls in flight; first, for 64-bit alignment
	once    sync.Once
	drained chan struct{}
}

const closedBit = 1 << 62

func (g *guard) init() {
	g.drained = make(chan struct{})
}

func (g *guard) enter() bool {
	if atomic.AddInt64(&g.state, 1)&closedBit != 0 {
		g.leave()
		return false
	}
	return true
}

func (g *guard) leave() {
	if atomic.AddInt64(&g.state, -1) == closedBit {
		g.once.Do(func() { close(g.drained) })
	}
}

// close: true for the one caller that closed the guard, once no call is in
// flight; false at once for the others.
func (g *guard) close() bool {
	for {
		s := atomic.LoadInt64(&g.state)
		if s&closedBit != 0 {
			return false
		}
		if atomic.CompareAndSwapInt64(&g.state, s, s|closedBit) {
			if s == 0 {
				g.once.Do(func() { close(g.drained) })
			}
			<-g.drained
			return true
		}
	}
}
