package workerpool

// For the benchmarks only (bench_test.go; _test.go files cannot use cgo):
// a C task that does nothing, so that scheduling it from Go costs the
// Go->C call and the pool, without the C->Go callback a Go task needs.

/*
#include "workerpool.h"
static void wp_bench_noop(void *arg) { (void)arg; }
static inline enum pool_status wp_bench_schedule_noop(pool_t *p)
{
    return pool_schedule(p, wp_bench_noop, NULL);
}
*/
import "C"

// scheduleCNoop schedules the C no-op task (the caller keeps the pool
// alive: no guard).
func (p *Pool) scheduleCNoop() error {
	return errOf(C.wp_bench_schedule_noop(p.c))
}
