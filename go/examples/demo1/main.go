// demo1: the Go goroutine-pool demo, on the workerpool Go package.
//
// A pool of capacity 5 with the default options (blocking schedule, lazy
// workers). Ten Go tasks each sleep for one second on the pool's threads;
// the sixth Schedule blocks until a worker is free. Free then runs every
// accepted task and stops the workers. Expected wall time: about 2 s.
// Exit status 1 if anything is off.
//
// Run (from go/, with the C library installed: see the README's Go
// section): go run ./examples/demo1
package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"workerpool.example/workerpool"
)

const (
	capacity = 5
	ntasks   = 10
)

func main() {
	start := time.Now()
	fmt.Printf("workerpool %s from Go: capacity %d, blocking, %d tasks of 1 s\n",
		workerpool.Version(), capacity, ntasks)

	pool, err := workerpool.New(capacity) // the defaults: WithBlock(true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "New:", err)
		os.Exit(1)
	}

	var mu sync.Mutex
	running, maxRunning, finished := 0, 0, 0
	for i := 0; i < ntasks; i++ {
		id := i
		err := pool.Schedule(func() {
			mu.Lock()
			if running++; running > maxRunning {
				maxRunning = running
			}
			mu.Unlock()
			fmt.Printf("task %d start\n", id)
			time.Sleep(time.Second)
			fmt.Printf("task %d end\n", id)
			mu.Lock()
			running--
			finished++
			mu.Unlock()
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "schedule task %d: %v\n", i, err)
			pool.Free()
			os.Exit(1)
		}
		fmt.Printf("%5.2fs scheduled task %d\n", time.Since(start).Seconds(), i)
	}
	if err := pool.Free(); err != nil {
		fmt.Fprintln(os.Stderr, "Free:", err)
		os.Exit(1)
	}

	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("%5.2fs all tasks done (finished=%d, max concurrent=%d)\n",
		time.Since(start).Seconds(), finished, maxRunning)
	if finished != ntasks || maxRunning > capacity {
		fmt.Fprintf(os.Stderr, "demo1: expected %d finished and at most %d concurrent\n", ntasks, capacity)
		os.Exit(1)
	}
}
