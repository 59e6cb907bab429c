package workerpool

// Pool.ParallelFor: a loop split into chunks run on the pool.

/*
#include "bridge.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// rangeLoop is what ParallelFor's cgo.Handle holds.
type rangeLoop struct {
	body   func(begin, end int)
	failed int32 // atomic: a body panicked, later chunks are skipped
	once   sync.Once
	panic  interface{}
	stack  []byte
	chunks uint64 // atomic: each chunk's end, a happens-before edge for the race detector
}

func (l *rangeLoop) run(begin, end int) {
	if atomic.LoadInt32(&l.failed) != 0 {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			atomic.StoreInt32(&l.failed, 1)
			stack := debug.Stack()
			l.once.Do(func() { l.panic, l.stack = v, stack })
		}
		atomic.AddUint64(&l.chunks, 1)
	}()
	l.body(begin, end)
}

// ParallelFor calls body(b, e) on disjoint chunks [b, e) covering
// [begin, end), every index exactly once, on the pool's workers and on the
// calling goroutine, and returns when every chunk has run. Chunks are grain
// indices long except the last (grain 0: the pool chooses, about four
// chunks per worker). body is called concurrently. Nested loops, and loops
// from a task of this pool, never deadlock.
//
// If a body panics, the chunks not yet started are skipped and, once the
// running ones have finished, ParallelFor panics on the calling goroutine
// with the first panic value.
//
// Errors: ErrInvalid (body nil, begin > end, a negative bound or grain),
// ErrWorkerPoolFreed.
func (p *Pool) ParallelFor(begin, end, grain int, body func(begin, end int)) error {
	if body == nil || begin < 0 || end < begin || grain < 0 {
		return fmt.Errorf("%w: ParallelFor(%d, %d, %d)", ErrInvalid, begin, end, grain)
	}
	l := &rangeLoop{body: body}
	h := cgo.NewHandle(l)
	defer h.Delete()
	err := p.call(func() C.enum_pool_status {
		return C.wp_parallel_for(p.c, C.size_t(begin), C.size_t(end), C.size_t(grain), C.uintptr_t(h))
	})
	atomic.LoadUint64(&l.chunks)
	if l.panic != nil {
		panic(fmt.Sprintf("workerpool: ParallelFor body panicked: %v\n%s", l.panic, l.stack))
	}
	return err
}
