package workerpool

// Groups: a set of a pool's tasks waited for together.

/*
#include "bridge.h"
*/
import "C"

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"
)

// Group is a set of a pool's tasks that can be waited for while the pool
// serves others. Its methods are safe for concurrent use, tasks included.
// A group may outlive its pool (its schedules then return
// ErrWorkerPoolFreed); call Free when done.
type Group struct {
	calls guard // first: its int64 is then 64-bit aligned
	c     *C.pool_group_t
	p     *Pool
	freed chan struct{}
}

// NewGroup makes a task group on the pool.
//
// Errors: ErrWorkerPoolFreed (Free or Shutdown began), ErrForked.
func (p *Pool) NewGroup() (*Group, error) {
	if !p.calls.enter() {
		return nil, ErrWorkerPoolFreed
	}
	defer p.calls.leave()
	c, errno := C.pool_group_new(p.c)
	if c == nil {
		switch errno {
		case syscall.ECHILD:
			return nil, ErrForked
		case syscall.ECANCELED:
			return nil, ErrWorkerPoolFreed
		}
		return nil, fmt.Errorf("%w (pool_group_new: %v)", ErrInvalid, errno)
	}
	g := &Group{c: c, p: p, freed: make(chan struct{})}
	g.calls.init()
	return g, nil
}

func (g *Group) schedule(fn func(), call func(h C.uintptr_t) C.enum_pool_status) error {
	return scheduleTask(&g.calls, ErrGroupFreed, g.p, fn, call)
}

// Schedule runs fn on the group's pool, as Pool.Schedule does, counting it
// in the group. Errors: those of Pool.Schedule, and ErrGroupFreed once
// Free began.
func (g *Group) Schedule(fn func()) error {
	return g.schedule(fn, func(h C.uintptr_t) C.enum_pool_status { return C.wp_group_schedule(g.c, h) })
}

// TrySchedule is Schedule never waiting (Pool.TrySchedule).
func (g *Group) TrySchedule(fn func()) error {
	return g.schedule(fn, func(h C.uintptr_t) C.enum_pool_status { return C.wp_group_try_schedule(g.c, h) })
}

// ScheduleTimeout is Schedule waiting at most d for room
// (Pool.ScheduleTimeout).
func (g *Group) ScheduleTimeout(fn func(), d time.Duration) error {
	ms := millis(d)
	return g.schedule(fn, func(h C.uintptr_t) C.enum_pool_status {
		return C.wp_group_schedule_timeout(g.c, h, ms)
	})
}

func (g *Group) wait(ms C.uint64_t) error {
	if !g.calls.enter() {
		return ErrGroupFreed
	}
	defer g.calls.leave()
	err := errOf(C.pool_group_wait(g.c, ms))
	g.p.raceAcquire()
	return err
}

// Wait blocks until every task of the group accepted before the call has
// finished or was cancelled. Called from a task of the pool, the worker
// runs the pool's queued tasks while it waits.
//
// Errors: ErrDeadlock (called from a task of this very group), ErrGroupFreed.
func (g *Group) Wait() error {
	return g.wait(C.UINT64_MAX)
}

// WaitTimeout is Wait waiting at most d (rounded up to whole milliseconds;
// <= 0 polls): ErrTimeout when some task had not finished.
func (g *Group) WaitTimeout(d time.Duration) error {
	return g.wait(millis(d))
}

// GroupStats is a snapshot of a group's counters.
type GroupStats struct {
	Submitted uint64 // tasks accepted into the group
	Completed uint64 // of those, finished
	Cancelled uint64 // of those, removed unrun (CancelQueued, Shutdown)
	Pending   uint64 // Submitted - Completed - Cancelled
}

// Stats returns a snapshot of the group's counters (zero once Free began).
func (g *Group) Stats() GroupStats {
	if !g.calls.enter() {
		return GroupStats{}
	}
	defer g.calls.leave()
	var cs C.pool_group_stats
	C.pool_group_get_stats(g.c, &cs, C.size_t(unsafe.Sizeof(cs)))
	return GroupStats{
		Submitted: uint64(cs.submitted),
		Completed: uint64(cs.completed),
		Cancelled: uint64(cs.cancelled),
		Pending:   uint64(cs.pending),
	}
}

// Free waits for the group's pending tasks, then releases the group. Once
// that wait is over, schedules on the group (from its own tasks too)
// return ErrGroupFreed, and so does every method afterwards, a second Free
// included. The pool is not affected.
//
// Errors: ErrDeadlock (called from a task of this group: nothing is done),
// ErrGroupFreed.
func (g *Group) Free() error {
	if err := g.wait(C.UINT64_MAX); err != nil {
		return err
	}
	if g.calls.close() {
		C.pool_group_free(g.c)
		close(g.freed)
	} else {
		<-g.freed
	}
	g.p.raceAcquire()
	return nil
}
