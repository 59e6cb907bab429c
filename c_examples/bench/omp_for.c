/*
 * omp_for: the parallel-loop workloads of the benchmark suite (BENCHMARKS.md,
 * "Parallel loops") with OpenMP's `#pragma omp parallel for`.
 *
 *   omp_for l1 N        cheap body: the sum of i ^ (i >> 3) over [0, N)
 *   omp_for l2 N K      costly body: the sum over [0, N) of K steps of a
 *                       multiply-xor chain seeded with i (K calibrated by
 *                       the caller)
 *
 * One run: the serial loop (timed), an untimed warm-up of the parallel loop
 * (it starts OpenMP's thread team), then the parallel loop (timed). Prints
 * "key value" lines: serial_s, omp_s, threads, and whether the two sums
 * agree (sums_agree 1). The thread count comes from OMP_NUM_THREADS (set by
 * benches/pools). Built by c_examples/bench.mk (gcc -O2 -fopenmp), driven
 * by benches/pools/openmp.rs. The bodies are the same arithmetic as the
 * Rust side's (benches/pools/loops.rs).
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t cheap(uint64_t i) { return i ^ (i >> 3); }

/* Not inlined, as on the Rust side: every call runs the same code. */
__attribute__((noinline)) static uint64_t spin(uint64_t seed, uint64_t k) {
    uint64_t x = seed;
    for (uint64_t j = 0; j < k; j++)
        x = (x ^ (x >> 31)) * UINT64_C(0x9e3779b97f4a7c15) ^ j;
    return x;
}

static uint64_t serial_cheap(uint64_t n) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += cheap(i);
    return sum;
}

static uint64_t omp_cheap(uint64_t n) {
    uint64_t sum = 0;
#pragma omp parallel for reduction(+ : sum)
    for (uint64_t i = 0; i < n; i++)
        sum += cheap(i);
    return sum;
}

static uint64_t serial_costly(uint64_t n, uint64_t k) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += spin(i, k);
    return sum;
}

static uint64_t omp_costly(uint64_t n, uint64_t k) {
    uint64_t sum = 0;
#pragma omp parallel for reduction(+ : sum)
    for (uint64_t i = 0; i < n; i++)
        sum += spin(i, k);
    return sum;
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "l1") != 0 && strcmp(argv[1], "l2") != 0) ||
        (strcmp(argv[1], "l2") == 0 && argc < 4)) {
        fprintf(stderr, "usage: omp_for l1 N | omp_for l2 N K\n");
        return 2;
    }
    int costly = strcmp(argv[1], "l2") == 0;
    uint64_t n = strtoull(argv[2], NULL, 10);
    uint64_t k = costly ? strtoull(argv[3], NULL, 10) : 0;

    double t0 = now();
    uint64_t serial = costly ? serial_costly(n, k) : serial_cheap(n);
    double serial_s = now() - t0;

    /* Warm-up: the thread team starts here, not in the timed loop. */
    uint64_t warm = costly ? omp_costly(n / 10, k) : omp_cheap(n / 10);

    t0 = now();
    uint64_t parallel = costly ? omp_costly(n, k) : omp_cheap(n);
    double omp_s = now() - t0;

    printf("serial_s %.9f\n", serial_s);
    printf("omp_s %.9f\n", omp_s);
    printf("threads %d\n", omp_get_max_threads());
    printf("sums_agree %d\n", serial == parallel);
    printf("warm_sum_low_bits %u\n", (unsigned)(warm & 0xff));
    return serial == parallel ? 0 : 1;
}
