// Package workerpool is a pool of worker threads for Go, over the
// workerpool C library (libworkerpool, written in Rust): the API of the
// original Go goroutine pool (New with functional options, Schedule,
// Wait, Free, ErrNoIdleWorkerInPool, ErrWorkerPoolFreed) plus what the C
// library adds: a queue, try and timeout schedules, waits with a
// deadline, task groups, pause and resume, cancelling queued tasks,
// shutdown with a deadline, and parallel loops.
//
//	pool, err := workerpool.New(4, workerpool.WithQueueSize(workerpool.Unbounded))
//	if err != nil { ... }
//	defer pool.Free()
//	for i := 0; i < 10; i++ {
//		i := i
//		if err := pool.Schedule(func() { work(i) }); err != nil { ... }
//	}
//	pool.Wait()
//
// # Linking
//
// The package links the installed C library through pkg-config
// (#cgo pkg-config: workerpool): install it with
// `make -C c_examples install PREFIX=...` from the workerpool checkout,
// and, for a prefix pkg-config and the dynamic loader do not search, set
// PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig and LD_LIBRARY_PATH=$PREFIX/lib
// (or CGO_LDFLAGS=-Wl,-rpath,$PREFIX/lib). cgo must be enabled.
//
// # How a Go task runs
//
// A task is a Go func run on one of the pool's threads, which the C
// library starts (they are not goroutines of the Go scheduler). The func
// is kept in a runtime/cgo.Handle, an integer, which is the C task's
// argument: C never holds a Go pointer. The C task is an exported Go
// function (a cgo callback) that takes the func out of its handle,
// deletes the handle and calls the func. A handle is also deleted when
// the schedule is refused, and when the task is removed unrun
// (CancelQueued, Shutdown with Cancel). Each run is one C-to-Go callback
// on a thread Go did not start: the Go runtime attaches the thread for
// the call and detaches it after, which costs microseconds, far more
// than a goroutine (see BENCHMARKS.md in the repository, "Go: a task
// through cgo against a goroutine"). The pool suits work that is long
// next to that, that must run on a bounded set of OS threads, or that
// shares a pool with C, C++, Rust or Python code in the same process.
//
// A task must not call runtime.Goexit (nor testing's t.Fatal or
// t.FailNow, which do): it would exit the cgo callback. A task that
// blocks holds its OS thread, as in C.
//
// # Panics
//
// A panic in a task is recovered on the worker thread: the pool and the
// worker carry on, Stats().Panics counts it, and it is passed to the
// WithPanicHandler handler, or written with its stack to standard error
// without one. A panic cannot be re-raised there: a panic that escapes a
// cgo callback crashes the process. A panic in a ParallelFor body is
// re-raised on the goroutine that called ParallelFor.
//
// # Lifetimes
//
// Every method is safe for concurrent use, from tasks too. Free (and
// Group.Free) must be called: a pool that is not freed keeps its threads.
// After Free every method returns ErrWorkerPoolFreed, never touches freed
// memory: calls in flight when Free begins finish first.
package workerpool
