// demo2: a non-blocking pool refuses work instead of waiting, from Go.
//
// Capacity 5, WithBlock(false). Ten Go tasks are scheduled while every
// accepted task waits on a gate (a channel) closed only after all ten
// calls, so exactly five are accepted (a worker is started for each: the
// pool is below capacity) and five refused with ErrNoIdleWorkerInPool.
// Prints "accepted=5 refused=5", opens the gate, waits, prints the stats
// and frees the pool. Exit status 1 if the counts are not the expected
// ones.
//
// Run (from go/, with the C library installed: see the README's Go
// section): go run ./examples/demo2
package main

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"workerpool.example/workerpool"
)

const (
	capacity = 5
	ntasks   = 10
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	pool, err := workerpool.New(capacity, workerpool.WithBlock(false))
	if err != nil {
		fail("New: %v", err)
	}

	gate := make(chan struct{})
	var ran int64
	accepted, refused := 0, 0
	for i := 0; i < ntasks; i++ {
		err := pool.Schedule(func() {
			<-gate
			atomic.AddInt64(&ran, 1)
		})
		switch {
		case err == nil:
			accepted++
			fmt.Printf("schedule %2d: accepted\n", i)
		case errors.Is(err, workerpool.ErrNoIdleWorkerInPool):
			refused++
			fmt.Printf("schedule %2d: refused (%v)\n", i, err)
		default:
			fail("schedule %d: %v", i, err)
		}
	}
	fmt.Printf("accepted=%d refused=%d\n", accepted, refused)

	close(gate)
	if err := pool.Wait(); err != nil {
		fail("Wait: %v", err)
	}
	s := pool.Stats()
	fmt.Printf("stats: capacity=%d workers=%d busy=%d queued=%d submitted=%d completed=%d rejected=%d\n",
		s.Capacity, s.Workers, s.Busy, s.Queued, s.Submitted, s.Completed, s.Rejected)
	if err := pool.Free(); err != nil {
		fail("Free: %v", err)
	}

	if accepted != capacity || refused != ntasks-capacity {
		fail("demo2: expected accepted=%d refused=%d", capacity, ntasks-capacity)
	}
	if atomic.LoadInt64(&ran) != int64(accepted) || s.Submitted != uint64(accepted) ||
		s.Completed != uint64(accepted) || s.Rejected != uint64(refused) {
		fail("demo2: tasks ran or stats disagree with the counts above")
	}
}
