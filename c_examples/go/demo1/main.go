// demo1: the Go goroutine-pool demo, driving the Rust workerpool from Go.
//
// A pool of capacity 5 with the default options (blocking schedule, lazy
// workers). Ten C tasks each sleep for one second on the pool's threads
// (no goroutine involved); the sixth schedule blocks until a worker is free.
// pool_free then runs every accepted task and joins the workers.
// Expected wall time: about 2 s. Exit status 1 if anything is off.
//
// Run: cargo build --release && make -C c_examples lib && cd c_examples/go && go run ./demo1
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include
#cgo LDFLAGS: -L${SRCDIR}/../../../target/release -lworkerpool -Wl,-rpath,${SRCDIR}/../../../target/release
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include "workerpool.h"

#define NTASKS 10

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int running, max_running, finished;
static int ids[NTASKS]; // task args live in C memory: Go pointers may not be kept by C

static void sleep_task(void *arg)
{
    int id = *(const int *)arg;
    struct timespec req = { 1, 0 };

    pthread_mutex_lock(&lock);
    if (++running > max_running)
        max_running = running;
    pthread_mutex_unlock(&lock);

    printf("task %d start\n", id);
    fflush(stdout);
    while (nanosleep(&req, &req) != 0 && errno == EINTR) {
    }
    printf("task %d end\n", id);
    fflush(stdout);

    pthread_mutex_lock(&lock);
    running--;
    finished++;
    pthread_mutex_unlock(&lock);
}

static pool_status schedule_sleep(pool_t *pool, int i)
{
    ids[i] = i;
    return pool_schedule(pool, sleep_task, &ids[i]);
}

static void counts(int *fin, int *max)
{
    pthread_mutex_lock(&lock);
    *fin = finished;
    *max = max_running;
    pthread_mutex_unlock(&lock);
}
*/
import "C"

import (
	"fmt"
	"os"
	"time"
)

const capacity = 5

func main() {
	start := time.Now()
	fmt.Printf("workerpool %s from Go: capacity %d, blocking, %d tasks of 1 s\n",
		C.GoString(C.pool_version()), capacity, C.NTASKS)

	pool := C.pool_new(capacity, nil) // nil options: the defaults
	if pool == nil {
		fmt.Fprintln(os.Stderr, "pool_new failed")
		os.Exit(1)
	}
	for i := 0; i < C.NTASKS; i++ {
		if st := C.schedule_sleep(pool, C.int(i)); st != C.POOL_OK {
			fmt.Fprintf(os.Stderr, "schedule task %d: %s\n", i, strerror(C.pool_status(st)))
			C.pool_free(pool)
			os.Exit(1)
		}
		fmt.Printf("%5.2fs scheduled task %d\n", time.Since(start).Seconds(), i)
	}
	if st := C.pool_free(pool); st != C.POOL_OK {
		fmt.Fprintf(os.Stderr, "pool_free: %s\n", strerror(C.pool_status(st)))
		os.Exit(1)
	}

	var finished, maxRunning C.int
	C.counts(&finished, &maxRunning)
	fmt.Printf("%5.2fs all tasks done (finished=%d, max concurrent=%d)\n",
		time.Since(start).Seconds(), finished, maxRunning)
	if finished != C.NTASKS || maxRunning > capacity {
		fmt.Fprintf(os.Stderr, "demo1: expected %d finished and at most %d concurrent\n", C.NTASKS, capacity)
		os.Exit(1)
	}
}

// strerror: pool_strerror's static text. The C functions return the enum
// (C.enum_pool_status), pool_strerror takes the typedef (C.pool_status).
func strerror(st C.pool_status) string {
	return C.GoString(C.pool_strerror(st))
}
