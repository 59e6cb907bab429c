package workerpool

/*
#cgo pkg-config: workerpool
#include "bridge.h"
*/
import "C"

import (
	"fmt"
	"io"
	"os"
	"runtime/cgo"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	// DefaultCapacity is the capacity New gives for a capacity <= 0.
	DefaultCapacity = 100
	// MaxCapacity is the largest capacity: larger ones are clamped to it.
	MaxCapacity = 10000
	// Unbounded, given to WithQueueSize, makes the queue unbounded
	// (limited by memory).
	Unbounded = -1
)

// Version returns the C library's version, "MAJOR.MINOR.PATCH".
func Version() string {
	return C.GoString(C.pool_version())
}

// Pool is a pool of worker threads run by the C library. Its methods are
// safe for concurrent use, tasks included. Call Free when done: a pool that
// is not freed keeps its threads.
type Pool struct {
	calls        guard // first: its int64 is then 64-bit aligned
	c            *C.pool_t
	freed        chan struct{}
	panicHandler func(v interface{})
	panics       uint64 // atomic
	raceClock    uint64 // atomic, only under -race: see race.go
}

// task is what a cgo.Handle passed to the C library holds.
type task struct {
	fn func()
	p  *Pool
}

func (t *task) run() {
	defer func() {
		if v := recover(); v != nil {
			t.p.recovered(v, debug.Stack())
		}
		if raceEnabled {
			atomic.AddUint64(&t.p.raceClock, 1)
		}
	}()
	t.fn()
}

// panicOutput is where a panic goes without a handler (a variable for the
// tests).
var panicOutput io.Writer = os.Stderr

func (p *Pool) recovered(v interface{}, stack []byte) {
	atomic.AddUint64(&p.panics, 1)
	if p.panicHandler != nil {
		p.panicHandler(v)
		return
	}
	fmt.Fprintf(panicOutput, "workerpool: task panicked: %v\n%s", v, stack)
}

// raceAcquire: under -race, after a wait returned, the detector learns
// that the tasks it waited for happened before.
func (p *Pool) raceAcquire() {
	if raceEnabled {
		atomic.LoadUint64(&p.raceClock)
	}
}

// New makes a pool of at most capacity workers (<= 0 gives
// DefaultCapacity, above MaxCapacity gives MaxCapacity). By default the
// pool blocks Schedule when full, starts workers on demand, and hands each
// task directly to a worker (no queue). The pool is ready at once.
//
// Errors: ErrInvalid for an invalid option, ErrSpawn when a preallocated
// worker could not be started, ErrForked in a child process after fork.
func New(capacity int, opts ...Option) (*Pool, error) {
	cfg := config{block: true}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	if capacity > MaxCapacity {
		capacity = MaxCapacity
	}
	if capacity < 0 {
		capacity = 0
	}
	copts := C.pool_options_new()
	defer C.pool_options_free(copts)
	if err := cfg.apply(copts); err != nil {
		return nil, err
	}
	c, errno := C.pool_new(C.int(capacity), copts)
	if c == nil {
		e := ErrSpawn
		switch errno {
		case syscall.EINVAL:
			e = ErrInvalid
		case syscall.ECHILD:
			e = ErrForked
		}
		return nil, fmt.Errorf("%w (pool_new: %v)", e, errno)
	}
	p := &Pool{c: c, freed: make(chan struct{}), panicHandler: cfg.panicHandler}
	p.calls.init()
	return p, nil
}

// scheduleTask hands fn, a task of pool p, to call as a cgo.Handle while
// calls keeps the C handle (a pool's or a group's) alive, else returns
// freed. The task deletes the handle when it runs; a refused task's handle
// is deleted here, a cancelled one's by the cancel callback.
func scheduleTask(calls *guard, freed error, p *Pool, fn func(), call func(h C.uintptr_t) C.enum_pool_status) error {
	if fn == nil {
		return fmt.Errorf("%w: nil task", ErrInvalid)
	}
	if !calls.enter() {
		return freed
	}
	defer calls.leave()
	h := cgo.NewHandle(&task{fn: fn, p: p})
	if err := errOf(call(C.uintptr_t(h))); err != nil {
		h.Delete()
		return err
	}
	return nil
}

func (p *Pool) schedule(fn func(), call func(h C.uintptr_t) C.enum_pool_status) error {
	return scheduleTask(&p.calls, ErrWorkerPoolFreed, p, fn, call)
}

// Schedule runs fn once on a worker. When every worker is busy, capacity
// is reached and the queue (if any) is full, a blocking pool (the default)
// waits for room and a non-blocking one returns ErrNoIdleWorkerInPool.
// Called from a task of this pool when it would have to wait, it runs fn
// at once on the calling worker instead (nested schedules never deadlock).
//
// Errors: ErrNoIdleWorkerInPool, ErrWorkerPoolFreed (Free or Shutdown
// began, also for a caller that was waiting), ErrSpawn, ErrDeadlock
// (inline runs nested too deep), ErrInvalid (fn nil). Only a nil error
// means fn will run, exactly once.
func (p *Pool) Schedule(fn func()) error {
	return p.schedule(fn, func(h C.uintptr_t) C.enum_pool_status { return C.wp_schedule(p.c, h) })
}

// TrySchedule is Schedule never waiting, whatever WithBlock says:
// ErrNoIdleWorkerInPool when the pool is full.
func (p *Pool) TrySchedule(fn func()) error {
	return p.schedule(fn, func(h C.uintptr_t) C.enum_pool_status { return C.wp_try_schedule(p.c, h) })
}

// ScheduleTimeout is Schedule waiting at most d (rounded up to whole
// milliseconds; <= 0 never waits) for room, whatever WithBlock says:
// ErrTimeout when there was none.
func (p *Pool) ScheduleTimeout(fn func(), d time.Duration) error {
	ms := millis(d)
	return p.schedule(fn, func(h C.uintptr_t) C.enum_pool_status { return C.wp_schedule_timeout(p.c, h, ms) })
}

// call runs f on the live C handle, or returns ErrWorkerPoolFreed.
func (p *Pool) call(f func() C.enum_pool_status) error {
	if !p.calls.enter() {
		return ErrWorkerPoolFreed
	}
	defer p.calls.leave()
	return errOf(f())
}

// Wait blocks until every task accepted before the call has finished (the
// pool stays usable). Tasks scheduled meanwhile do not extend it.
//
// Errors: ErrDeadlock (called from a task of this pool), ErrWorkerPoolFreed
// (Free or Shutdown began).
func (p *Pool) Wait() error {
	err := p.call(func() C.enum_pool_status { return C.pool_wait(p.c) })
	p.raceAcquire()
	return err
}

// WaitTimeout is Wait waiting at most d (rounded up to whole
// milliseconds; <= 0 polls): ErrTimeout when some task had not finished.
func (p *Pool) WaitTimeout(d time.Duration) error {
	ms := millis(d)
	err := p.call(func() C.enum_pool_status { return C.pool_wait_timeout(p.c, ms) })
	p.raceAcquire()
	return err
}

// SetCapacity changes the capacity, clamped as in New. Growing lets
// waiting schedulers in; shrinking retires idle workers at once and busy
// ones after their task; no task is dropped.
//
// Errors: ErrSpawn (a preallocated pool grew and a thread was refused: the
// capacity is changed anyway), ErrWorkerPoolFreed.
func (p *Pool) SetCapacity(capacity int) error {
	if capacity > MaxCapacity {
		capacity = MaxCapacity
	}
	if capacity < 0 {
		capacity = 0
	}
	return p.call(func() C.enum_pool_status { return C.pool_set_capacity(p.c, C.int(capacity)) })
}

// Capacity is the maximum number of workers now (0 once Free began).
func (p *Pool) Capacity() int {
	return p.Stats().Capacity
}

// Stats is a snapshot of a pool's counters.
type Stats struct {
	Capacity  int    // maximum number of workers now
	Workers   int    // live worker threads
	Busy      int    // workers running a task
	Queued    int    // accepted tasks not yet started
	Submitted uint64 // tasks accepted since New (inline runs included)
	Completed uint64 // tasks finished (panicked ones included)
	Rejected  uint64 // schedules refused: no idle worker, timeout, freed
	Cancelled uint64 // accepted tasks removed unrun (CancelQueued, Shutdown)
	Paused    bool   // between Pause and Resume
	Panics    uint64 // tasks that panicked (recovered: see WithPanicHandler)
}

// Stats returns a snapshot of the pool's counters, read without a common
// lock (under load they may be a few tasks apart). Once Free began only
// Panics is filled in.
func (p *Pool) Stats() Stats {
	s := Stats{Panics: atomic.LoadUint64(&p.panics)}
	if !p.calls.enter() {
		return s
	}
	defer p.calls.leave()
	var cs C.pool_stats
	C.pool_get_stats_sized(p.c, &cs, C.size_t(unsafe.Sizeof(cs)))
	s.Capacity = int(cs.capacity)
	s.Workers = int(cs.workers)
	s.Busy = int(cs.busy)
	s.Queued = int(cs.queued)
	s.Submitted = uint64(cs.submitted)
	s.Completed = uint64(cs.completed)
	s.Rejected = uint64(cs.rejected)
	s.Cancelled = uint64(cs.cancelled)
	s.Paused = cs.paused != 0
	return s
}

// Pause stops workers from starting tasks until Resume (running ones
// finish). Schedules are accepted while the queue has room (a hand-off
// pool is full while paused), so they block, time out or are refused as
// on a full pool. Wait waits meanwhile: use WaitTimeout. Free and Shutdown
// resume a paused pool.
func (p *Pool) Pause() error {
	return p.call(func() C.enum_pool_status { return C.pool_pause(p.c) })
}

// Resume lets a paused pool's workers take the queued tasks, in order.
func (p *Pool) Resume() error {
	return p.call(func() C.enum_pool_status { return C.pool_resume(p.c) })
}

// CancelQueued removes every task accepted and not yet started (they never
// run; running ones are not touched) and returns their number. In hand-off
// mode (no queue) every accepted task is already with a worker: none is
// removed.
func (p *Pool) CancelQueued() (int, error) {
	var n C.uint64_t
	err := p.call(func() C.enum_pool_status { return C.wp_cancel_queued(p.c, &n) })
	return int(n), err
}

// ShutdownMode says what Shutdown does with the queued tasks.
type ShutdownMode int

const (
	// Drain lets the queued tasks run.
	Drain ShutdownMode = iota
	// Cancel removes them unrun.
	Cancel
)

// ShutdownReport is what Shutdown found when it returned.
type ShutdownReport struct {
	Cancelled uint64 // tasks removed unrun by this call
	Queued    uint64 // tasks still queued (a Drain that timed out)
	Running   int    // tasks still running
}

// Shutdown begins freeing the pool as Free does (new and waiting
// schedulers get ErrWorkerPoolFreed), drains or cancels the queued tasks,
// then waits at most d (rounded up to whole milliseconds) for the rest to
// finish and every worker to exit: ErrTimeout when some had not. It may be
// called again (to wait longer, or to cancel what a drain left). Free must
// still be called.
//
// Errors: ErrTimeout, ErrDeadlock (called from a task of this pool:
// nothing is done), ErrInvalid (an unknown mode), ErrWorkerPoolFreed
// (Free began).
func (p *Pool) Shutdown(mode ShutdownMode, d time.Duration) (ShutdownReport, error) {
	if mode != Drain && mode != Cancel {
		return ShutdownReport{}, fmt.Errorf("%w: shutdown mode %d", ErrInvalid, mode)
	}
	ms := millis(d)
	var r C.pool_shutdown_report
	err := p.call(func() C.enum_pool_status {
		return C.wp_shutdown(p.c, C.pool_shutdown_mode(mode), ms, &r)
	})
	if err == nil {
		p.raceAcquire()
	}
	return ShutdownReport{Cancelled: uint64(r.cancelled), Queued: uint64(r.queued), Running: int(r.running)}, err
}

// Free stops accepting tasks (concurrent and waiting schedulers get
// ErrWorkerPoolFreed), runs every task already accepted, stops the workers
// and waits for them, then releases the pool. Afterwards every method
// returns ErrWorkerPoolFreed (Stats a zero snapshot); a second Free too.
//
// Errors: ErrDeadlock (called from a task of this pool: nothing is done),
// ErrWorkerPoolFreed.
func (p *Pool) Free() error {
	if !p.calls.enter() {
		return ErrWorkerPoolFreed
	}
	st := C.pool_shutdown(p.c, C.POOL_SHUTDOWN_DRAIN, C.UINT64_MAX, nil, nil, nil)
	p.calls.leave()
	if st == C.POOL_ERR_DEADLOCK {
		return ErrDeadlock
	}
	// Every task has run and every worker exited: the calls still in
	// flight return at once (ErrWorkerPoolFreed) and new ones fail.
	if p.calls.close() {
		C.pool_free(p.c)
		close(p.freed)
	} else {
		<-p.freed
	}
	p.raceAcquire()
	return nil
}
