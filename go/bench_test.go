package workerpool

import (
	"runtime"
	"sync"
	"testing"
)

// What a Go task costs through cgo against a goroutine (BENCHMARKS.md,
// "Go: a task through cgo against a goroutine"). Each op schedules one
// empty task; the benchmark waits for all of them at the end. The pools
// have GOMAXPROCS workers.

func benchPool(b *testing.B, opts ...Option) {
	p, err := New(runtime.GOMAXPROCS(0), opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Free()
	var wg sync.WaitGroup
	task := func() { wg.Done() }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wg.Add(1)
		if err := p.Schedule(task); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}

// BenchmarkSchedule: the default pool (hand-off, blocking).
func BenchmarkSchedule(b *testing.B) { benchPool(b) }

// BenchmarkScheduleQueue: an unbounded queue, the scheduler never waits.
func BenchmarkScheduleQueue(b *testing.B) { benchPool(b, WithQueueSize(Unbounded)) }

// benchPoolC: as benchPool, scheduling a C task that does nothing: the
// same pool without the C->Go callback on the worker thread.
func benchPoolC(b *testing.B, opts ...Option) {
	p, err := New(runtime.GOMAXPROCS(0), opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Free()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.scheduleCNoop(); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScheduleC: BenchmarkSchedule with a C task.
func BenchmarkScheduleC(b *testing.B) { benchPoolC(b) }

// BenchmarkScheduleQueueC: BenchmarkScheduleQueue with a C task.
func BenchmarkScheduleQueueC(b *testing.B) { benchPoolC(b, WithQueueSize(Unbounded)) }

// BenchmarkScheduleInline: a task of a full pool scheduling on it: the
// new task runs inline on the calling thread, so each op is the Go->C
// call and a C->Go callback on a thread already running Go (no attach).
func BenchmarkScheduleInline(b *testing.B) {
	p, err := New(1)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Free()
	done := make(chan struct{})
	b.ResetTimer()
	err = p.Schedule(func() {
		for i := 0; i < b.N; i++ {
			_ = p.Schedule(func() {})
		}
		close(done)
	})
	if err != nil {
		b.Fatal(err)
	}
	<-done
}

// BenchmarkGoroutine: go func + sync.WaitGroup.
func BenchmarkGoroutine(b *testing.B) {
	var wg sync.WaitGroup
	task := func() { wg.Done() }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wg.Add(1)
		go task()
	}
	wg.Wait()
}

// BenchmarkChannelWorkers: GOMAXPROCS goroutines reading funcs from a
// buffered channel, the usual Go worker pool.
func BenchmarkChannelWorkers(b *testing.B) {
	tasks := make(chan func(), 1024)
	var workers sync.WaitGroup
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for f := range tasks {
				f()
			}
		}()
	}
	var wg sync.WaitGroup
	task := func() { wg.Done() }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wg.Add(1)
		tasks <- task
	}
	wg.Wait()
	b.StopTimer()
	close(tasks)
	workers.Wait()
}

// BenchmarkCgoCall: one plain Go->C call, for scale.
func BenchmarkCgoCall(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = Version()
	}
}
