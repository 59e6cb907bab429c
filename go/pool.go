package workerpool

/*
#cgo pkg-config: workerpool
#include <stdint.h>
#include <stdlib.h>
#include "workerpool.h"

// Defined in export.go (//export).
extern void workerpoolGoTask(void *arg);
extern void workerpoolGoCancelled(void *arg);
extern void workerpoolGoRange(void *ctx, size_t begin, size_t end);

// The task argument is a cgo.Handle, an integer: it becomes a void * here,
// in C, so that Go never turns a uintptr into an unsafe.Pointer.
static inline enum pool_status wp_schedule(pool_t *p, uintptr_t h)
{
    return pool_schedule(p, workerpoolGoTask, (void *)h);
}
static inline enum pool_status wp_try_schedule(pool_t *p, uintptr_t h)
{
    return pool_try_schedule(p, workerpoolGoTask, (void *)h);
}
static inline enum pool_status wp_schedule_timeout(pool_t *p, uintptr_t h, uint64_t ms)
{
    return pool_schedule_timeout(p, workerpoolGoTask, (void *)h, ms);
}
static inline enum pool_status wp_group_schedule(pool_group_t *g, uintptr_t h)
{
    return pool_group_schedule(g, workerpoolGoTask, (void *)h);
}
static inline enum pool_status wp_group_try_schedule(pool_group_t *g, uintptr_t h)
{
    return pool_group_try_schedule(g, workerpoolGoTask, (void *)h);
}
static inline enum pool_status wp_group_schedule_timeout(pool_group_t *g, uintptr_t h, uint64_t ms)
{
    return pool_group_schedule_timeout(g, workerpoolGoTask, (void *)h, ms);
}

// on_cancel: only Go tasks are ever scheduled on a pool made by this
// package, but check: a removed Go task's handle is deleted.
static void wp_on_cancel(pool_task_fn task, void *arg, void *ctx)
{
    (void)ctx;
    if (task == workerpoolGoTask)
        workerpoolGoCancelled(arg);
}
static inline enum pool_status wp_cancel_queued(pool_t *p, uint64_t *cancelled)
{
    return pool_cancel_queued(p, wp_on_cancel, NULL, cancelled);
}
static inline enum pool_status wp_shutdown(pool_t *p, pool_shutdown_mode mode, uint64_t ms,
                                      pool_shutdown_report *report)
{
    return pool_shutdown(p, mode, ms, wp_on_cancel, NULL, report);
}
static inline enum pool_status wp_parallel_for(pool_t *p, size_t begin, size_t end, size_t grain,
                                          uintptr_t h)
{
    return pool_parallel_for(p, begin, end, grain, workerpoolGoRange, (void *)h);
}
*/
import "C"

import (
	"fmt"
	"io"
	"os"
	"runtime/cgo"
	"runtime/debug"
	"strings"
	"sync"
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

// config is what the options set; its zero value plus block=true is the
// C library's defaults.
type config struct {
	block, prealloc bool
	queueSize       C.size_t
	idleTimeout     time.Duration
	stackSize       C.size_t
	name            string
	nameSet         bool
	panicHandler    func(v interface{})
	err             error
}

// An Option configures a pool in New: the Go functional options of the
// original goroutine pool, over the C library's pool_options_t.
type Option func(*config)

// WithBlock sets whether Schedule waits for room when every worker is busy
// and the queue (if any) is full (true, the default) or returns
// ErrNoIdleWorkerInPool at once (false).
func WithBlock(block bool) Option {
	return func(c *config) { c.block = block }
}

// WithPreAllocWorkers sets whether New starts all capacity workers before
// it returns (true) or workers start on demand (false, the default).
func WithPreAllocWorkers(prealloc bool) Option {
	return func(c *config) { c.prealloc = prealloc }
}

// WithQueueSize sets how many accepted tasks may wait once every worker is
// busy and capacity is reached: 0 (the default) is direct hand-off, as in
// the original Go pool; Unbounded is limited by memory only. Other negative
// sizes make New return ErrInvalid.
func WithQueueSize(n int) Option {
	return func(c *config) {
		switch {
		case n == Unbounded:
			c.queueSize = C.SIZE_MAX
		case n < 0:
			c.setErr(fmt.Errorf("%w: WithQueueSize(%d)", ErrInvalid, n))
		default:
			c.queueSize = C.size_t(n)
		}
	}
}

// WithIdleTimeout makes a worker idle for longer than d exit (the pool
// starts workers again on demand); 0, the default, keeps workers for ever.
// d is rounded up to whole milliseconds; a negative d makes New return
// ErrInvalid.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.setErr(fmt.Errorf("%w: WithIdleTimeout(%v)", ErrInvalid, d))
			return
		}
		c.idleTimeout = d
	}
}

// WithStackSize sets the stack size of every worker thread in bytes (0,
// the default: the platform's, usually 8 MiB). Go code run by a task runs
// on a goroutine stack of its own, so this only matters for C code.
// A negative size makes New return ErrInvalid.
func WithStackSize(bytes int) Option {
	return func(c *config) {
		if bytes < 0 {
			c.setErr(fmt.Errorf("%w: WithStackSize(%d)", ErrInvalid, bytes))
			return
		}
		c.stackSize = C.size_t(bytes)
	}
}

// WithName names the worker threads "<prefix>-<n>" (Linux keeps 15 bytes),
// as seen in top, gdb and /proc/<pid>/task/<tid>/comm. The default prefix
// is "workerpool". An empty prefix, or one holding a NUL byte or invalid
// UTF-8, makes New return ErrInvalid.
func WithName(prefix string) Option {
	return func(c *config) { c.name = prefix; c.nameSet = true }
}

// WithPanicHandler sets what happens when a task panics: the panic is
// recovered on the worker thread and handler is called there with the
// panic value (the worker and the pool carry on). Without a handler the
// pool writes the value and the stack to standard error. A handler that
// panics itself crashes the program, as an unrecovered panic does.
func WithPanicHandler(handler func(v interface{})) Option {
	return func(c *config) { c.panicHandler = handler }
}

func (c *config) setErr(err error) {
	if c.err == nil {
		c.err = err
	}
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

func (cfg *config) apply(o *C.pool_options_t) error {
	set := func(what string, st C.enum_pool_status) error {
		if err := errOf(st); err != nil {
			return fmt.Errorf("%w: %s", err, what)
		}
		return nil
	}
	if err := set("WithBlock", C.pool_options_set_block(o, C.bool(cfg.block))); err != nil {
		return err
	}
	if err := set("WithPreAllocWorkers", C.pool_options_set_prealloc(o, C.bool(cfg.prealloc))); err != nil {
		return err
	}
	if err := set("WithQueueSize", C.pool_options_set_queue_size(o, cfg.queueSize)); err != nil {
		return err
	}
	if err := set("WithIdleTimeout", C.pool_options_set_idle_timeout_ms(o, millis(cfg.idleTimeout))); err != nil {
		return err
	}
	if err := set("WithStackSize", C.pool_options_set_stack_size(o, cfg.stackSize)); err != nil {
		return err
	}
	if cfg.nameSet {
		if strings.IndexByte(cfg.name, 0) >= 0 {
			return fmt.Errorf("%w: WithName(%q): NUL byte", ErrInvalid, cfg.name)
		}
		name := C.CString(cfg.name)
		defer C.free(unsafe.Pointer(name))
		if err := set(fmt.Sprintf("WithName(%q)", cfg.name), C.pool_options_set_thread_name(o, name)); err != nil {
			return err
		}
	}
	return nil
}

// millis: d in whole milliseconds, rounded up (a wait is never shorter
// than asked); negative is 0.
func millis(d time.Duration) C.uint64_t {
	if d <= 0 {
		return 0
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	return C.uint64_t(ms)
}

// schedule: hands fn to the C library as a cgo.Handle, which the task
// deletes when it runs; a refused task's handle is deleted here, a
// cancelled one's by the cancel callback.
func (p *Pool) schedule(fn func(), call func(h C.uintptr_t) C.enum_pool_status) error {
	if fn == nil {
		return fmt.Errorf("%w: nil task", ErrInvalid)
	}
	if !p.calls.enter() {
		return ErrWorkerPoolFreed
	}
	defer p.calls.leave()
	h := cgo.NewHandle(&task{fn: fn, p: p})
	if err := errOf(call(C.uintptr_t(h))); err != nil {
		h.Delete()
		return err
	}
	return nil
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
	if fn == nil {
		return fmt.Errorf("%w: nil task", ErrInvalid)
	}
	if !g.calls.enter() {
		return ErrGroupFreed
	}
	defer g.calls.leave()
	h := cgo.NewHandle(&task{fn: fn, p: g.p})
	if err := errOf(call(C.uintptr_t(h))); err != nil {
		h.Delete()
		return err
	}
	return nil
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
