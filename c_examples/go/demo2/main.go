// demo2: a non-blocking pool refuses work instead of waiting, from Go.
//
// Capacity 5, pool_options_set_block(opts, false). Ten C tasks are scheduled
// while every accepted task is held on a gate (a C mutex + condition
// variable) opened only after all ten calls, so exactly five are accepted (a
// worker is started for each: the pool is below capacity) and five refused
// with POOL_ERR_NO_IDLE_WORKER. Prints "accepted=5 refused=5", opens the
// gate, waits, prints the stats and frees the pool. Exit status 1 if the
// counts are not the expected ones.
//
// Run: cargo build --release && make -C c_examples lib && cd c_examples/go && go run ./demo2
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include
#cgo LDFLAGS: -L${SRCDIR}/../../../target/release -lworkerpool -Wl,-rpath,${SRCDIR}/../../../target/release
#include <pthread.h>
#include <stdbool.h>
#include "workerpool.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int ran;

static void gated_task(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    ran++;
    pthread_mutex_unlock(&gate_lock);
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static int tasks_ran(void)
{
    pthread_mutex_lock(&gate_lock);
    int n = ran;
    pthread_mutex_unlock(&gate_lock);
    return n;
}

// The task as a C function pointer, without Go having to name one.
static pool_status schedule_gated(pool_t *pool)
{
    return pool_schedule(pool, gated_task, NULL);
}
*/
import "C"

import (
	"fmt"
	"os"
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
	opts := C.pool_options_new()
	if opts == nil {
		fail("pool_options_new failed")
	}
	if st := C.pool_options_set_block(opts, false); st != C.POOL_OK {
		fail("pool_options_set_block: %s", strerror(C.pool_status(st)))
	}
	pool := C.pool_new(capacity, opts)
	C.pool_options_free(opts) // the pool keeps its own copy
	if pool == nil {
		fail("pool_new failed")
	}

	accepted, refused := 0, 0
	for i := 0; i < ntasks; i++ {
		switch st := C.schedule_gated(pool); st {
		case C.POOL_OK:
			accepted++
			fmt.Printf("schedule %2d: accepted\n", i)
		case C.POOL_ERR_NO_IDLE_WORKER:
			refused++
			fmt.Printf("schedule %2d: refused (%s)\n", i, strerror(C.pool_status(st)))
		default:
			fail("schedule %d: %s", i, strerror(C.pool_status(st)))
		}
	}
	fmt.Printf("accepted=%d refused=%d\n", accepted, refused)

	C.open_gate()
	if st := C.pool_wait(pool); st != C.POOL_OK {
		fail("pool_wait: %s", strerror(C.pool_status(st)))
	}
	var stats C.pool_stats
	C.pool_get_stats(pool, &stats)
	fmt.Printf("stats: capacity=%d workers=%d busy=%d queued=%d submitted=%d completed=%d rejected=%d\n",
		stats.capacity, stats.workers, stats.busy, stats.queued, stats.submitted, stats.completed, stats.rejected)
	if st := C.pool_free(pool); st != C.POOL_OK {
		fail("pool_free: %s", strerror(C.pool_status(st)))
	}

	if accepted != capacity || refused != ntasks-capacity {
		fail("demo2: expected accepted=%d refused=%d", capacity, ntasks-capacity)
	}
	if int(C.tasks_ran()) != accepted || stats.submitted != C.uint64_t(accepted) ||
		stats.completed != C.uint64_t(accepted) || stats.rejected != C.uint64_t(refused) {
		fail("demo2: tasks ran or stats disagree with the counts above")
	}
}

// strerror: pool_strerror's static text. The C functions return the enum
// (C.enum_pool_status), pool_strerror takes the typedef (C.pool_status).
func strerror(st C.pool_status) string {
	return C.GoString(C.pool_strerror(st))
}
