package workerpool

// The options New takes, and how they become pool_options_t.

/*
#include "bridge.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"time"
	"unsafe"
)

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
