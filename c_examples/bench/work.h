/*
 * work.h: what the C benchmark drivers (omp_for.c, glib_bench.c) share: a
 * monotonic clock and the costly body of the loops and real-work
 * workloads, the same arithmetic as `spin` in benches/pools/loops.rs.
 */
#ifndef WORKERPOOL_BENCH_WORK_H
#define WORKERPOOL_BENCH_WORK_H

#include <stdint.h>
#include <time.h>

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* k steps of a dependent shift-xor-multiply chain from seed. Not inlined,
 * as on the Rust side: every call runs the same code. */
__attribute__((noinline, unused)) static uint64_t spin(uint64_t seed, uint64_t k) {
    uint64_t x = seed;
    for (uint64_t j = 0; j < k; j++)
        x = (x ^ (x >> 31)) * UINT64_C(0x9e3779b97f4a7c15) ^ j;
    return x;
}

/* The serial loop every parallel one is checked and measured against. */
static inline uint64_t serial_costly(uint64_t n, uint64_t k) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += spin(i, k);
    return sum;
}

#endif
