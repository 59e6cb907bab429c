/*
 * omp_for: the parallel-loop and real-work workloads of the benchmark suite
 * (BENCHMARKS.md, "Parallel loops" and "Real work") with OpenMP.
 *
 *   omp_for l1 N        cheap body: the sum of i ^ (i >> 3) over [0, N),
 *                       `#pragma omp parallel for`
 *   omp_for l2 N K      costly body: the sum over [0, N) of K steps of a
 *                       multiply-xor chain seeded with i (`spin`, work.h;
 *                       K calibrated by the caller), `parallel for`
 *   omp_for r1 N K      the costly body as N tasks: `parallel` + `single`
 *                       + one `task` per index, each adding to the sum
 *   omp_for r2 N K      the costly body as one loop: `parallel for`
 *                       (static schedule) and `schedule(dynamic)`
 *
 * One run: the serial loop (timed), then for each parallel variant an
 * untimed warm-up over N / 10 (the first one starts OpenMP's thread team)
 * and a timed run over N. Prints "key value" lines: serial_s, omp_s (and
 * omp_dynamic_s for r2), threads, and whether every parallel sum equals the
 * serial one (sums_agree 1). The thread count comes from OMP_NUM_THREADS
 * (set by benches/pools). Built by c_examples/bench.mk (gcc -O2 -fopenmp),
 * driven by benches/pools/openmp.rs. The bodies are the same arithmetic as
 * the Rust side's (benches/pools/loops.rs).
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "work.h"

static uint64_t cheap(uint64_t i) { return i ^ (i >> 3); }

/* Every loop takes (n, k); the cheap ones ignore k. */
typedef uint64_t (*loop_fn)(uint64_t n, uint64_t k);

static uint64_t serial_cheap(uint64_t n, uint64_t k) {
    (void)k;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += cheap(i);
    return sum;
}

static uint64_t omp_cheap(uint64_t n, uint64_t k) {
    (void)k;
    uint64_t sum = 0;
#pragma omp parallel for reduction(+ : sum)
    for (uint64_t i = 0; i < n; i++)
        sum += cheap(i);
    return sum;
}

static uint64_t omp_costly(uint64_t n, uint64_t k) {
    uint64_t sum = 0;
#pragma omp parallel for reduction(+ : sum)
    for (uint64_t i = 0; i < n; i++)
        sum += spin(i, k);
    return sum;
}

static uint64_t omp_dynamic(uint64_t n, uint64_t k) {
    uint64_t sum = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : sum)
    for (uint64_t i = 0; i < n; i++)
        sum += spin(i, k);
    return sum;
}

/* One thread of the team creates a task per index; both threads run them
 * (the creator too, at its task scheduling points and at the barrier that
 * ends the parallel region, which waits for every task). */
static uint64_t omp_tasks(uint64_t n, uint64_t k) {
    uint64_t sum = 0;
#pragma omp parallel shared(sum)
#pragma omp single
    for (uint64_t i = 0; i < n; i++) {
#pragma omp task firstprivate(i) shared(sum)
        {
            uint64_t v = spin(i, k);
#pragma omp atomic
            sum += v;
        }
    }
    return sum;
}

typedef struct {
    const char *key;
    loop_fn run;
} variant_t;

typedef struct {
    const char *mode;
    int costly; /* takes K */
    loop_fn serial;
    variant_t parallel[2];
} workload_t;

static const workload_t workloads[] = {
    {"l1", 0, serial_cheap, {{"omp_s", omp_cheap}, {NULL, NULL}}},
    {"l2", 1, serial_costly, {{"omp_s", omp_costly}, {NULL, NULL}}},
    {"r1", 1, serial_costly, {{"omp_s", omp_tasks}, {NULL, NULL}}},
    {"r2", 1, serial_costly, {{"omp_s", omp_costly}, {"omp_dynamic_s", omp_dynamic}}},
};

int main(int argc, char **argv) {
    const workload_t *w = NULL;
    for (size_t i = 0; argc > 1 && i < sizeof workloads / sizeof *workloads; i++)
        if (strcmp(argv[1], workloads[i].mode) == 0)
            w = &workloads[i];
    if (!w || argc < 3 + w->costly) {
        fprintf(stderr, "usage: omp_for l1 N | omp_for l2|r1|r2 N K\n");
        return 2;
    }
    uint64_t n = strtoull(argv[2], NULL, 10);
    uint64_t k = w->costly ? strtoull(argv[3], NULL, 10) : 0;

    double t0 = now_s();
    uint64_t serial = w->serial(n, k);
    printf("serial_s %.9f\n", now_s() - t0);

    int agree = 1;
    unsigned warm_bits = 0;
    for (size_t v = 0; v < 2 && w->parallel[v].key; v++) {
        /* Warm-up: the thread team starts here, not in a timed loop. */
        warm_bits ^= (unsigned)(w->parallel[v].run(n / 10, k) & 0xff);
        t0 = now_s();
        uint64_t parallel = w->parallel[v].run(n, k);
        printf("%s %.9f\n", w->parallel[v].key, now_s() - t0);
        agree &= parallel == serial;
    }
    printf("threads %d\n", omp_get_max_threads());
    printf("sums_agree %d\n", agree);
    printf("warm_sum_low_bits %u\n", warm_bits);
    return agree ? 0 : 1;
}
