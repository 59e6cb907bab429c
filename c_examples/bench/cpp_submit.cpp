// cpp_submit: what `pool.submit(f)` + `future.get()` costs per task
// (include/workerpool.hpp), against std::async(std::launch::async), in the
// same process, contenders interleaved run by run.
//
//   make -C c_examples cpp-bench                      # build and run (bench.mk)
//   c_examples/build/bench/cpp_submit [--tasks N] [--runs R] [--batch B]
//
// Workloads (each task returns i + 1; every sum is checked):
//   round trip  N times: submit one task, get() its future, then the next
//               (the latency of one hand-over and wake-up and back);
//   batch       N tasks in batches of B: submit B, then get() the B
//               (throughput, with B futures outstanding).
// Contenders:
//   workerpool  workerpool::pool, capacity = std::thread::hardware_concurrency(),
//               preallocated, unbounded queue; pool.submit(f) -> std::future
//   std::async  std::async(std::launch::async, f): a thread per task (libstdc++)
// Prints one Markdown row per workload and contender: median, min-max of
// the R run times and the median per task.
#include "workerpool.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct result {
    std::vector<double> ms;
};

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <class Submit> long round_trip(Submit submit, long tasks)
{
    long sum = 0;
    for (long i = 0; i < tasks; i++)
        sum += submit([i] { return i + 1; }).get();
    return sum;
}

template <class Submit> long batch(Submit submit, long tasks, long per_batch)
{
    long sum = 0;
    std::vector<std::future<long>> futures;
    futures.reserve(static_cast<std::size_t>(per_batch));
    for (long done = 0; done < tasks;) {
        long n = std::min(per_batch, tasks - done);
        for (long i = done; i < done + n; i++)
            futures.push_back(submit([i] { return i + 1; }));
        for (auto &f : futures)
            sum += f.get();
        futures.clear();
        done += n;
    }
    return sum;
}

double load1()
{
    double l = -1;
    if (FILE *f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &l) != 1)
            l = -1;
        std::fclose(f);
    }
    return l;
}

} // namespace

int main(int argc, char **argv)
{
    long tasks = 10000, runs = 11, per_batch = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = std::atol(argv[i + 1]);
        if (v <= 0) {
            std::fprintf(stderr, "cpp_submit: %s needs a positive number\n", argv[i]);
            return 2;
        }
        if (!std::strcmp(argv[i], "--tasks"))
            tasks = v;
        else if (!std::strcmp(argv[i], "--runs"))
            runs = v;
        else if (!std::strcmp(argv[i], "--batch"))
            per_batch = v;
        else {
            std::fprintf(stderr, "usage: cpp_submit [--tasks N] [--runs R] [--batch B]\n");
            return 2;
        }
    }
    const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const long expected = tasks * (tasks + 1) / 2;

    workerpool::pool pool{workerpool::options{}.capacity(threads).prealloc(true).queue_size(workerpool::unbounded)};
    auto wp = [&pool](auto f) { return pool.submit(std::move(f)); };
    auto as = [](auto f) { return std::async(std::launch::async, std::move(f)); };

    struct contender {
        const char *workload;
        const char *name;
        std::function<long()> run;
        result r;
    } cs[] = {
        {"round trip", "workerpool", [&] { return round_trip(wp, tasks); }, {}},
        {"round trip", "std::async", [&] { return round_trip(as, tasks); }, {}},
        {"batch", "workerpool", [&] { return batch(wp, tasks, per_batch); }, {}},
        {"batch", "std::async", [&] { return batch(as, tasks, per_batch); }, {}},
    };

    std::printf("cpp_submit: workerpool %s, %s, g++ %s, %d hardware threads, load %.2f before\n", pool_version(),
                "C++17", __VERSION__, threads, load1());
    std::printf("%ld tasks per run, %ld runs, batches of %ld; contenders interleaved run by run\n\n", tasks, runs,
                per_batch);
    for (auto &c : cs) // warm-up, untimed
        if (c.run() != expected)
            return 1;
    for (long r = 0; r < runs; r++)
        for (auto &c : cs) {
            auto t0 = clock_type::now();
            long sum = c.run();
            auto t1 = clock_type::now();
            if (sum != expected) {
                std::fprintf(stderr, "cpp_submit: %s %s: sum %ld, expected %ld\n", c.workload, c.name, sum, expected);
                return 1;
            }
            c.r.ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        }

    std::printf("| workload | contender | median | min–max | per task (median) | × workerpool |\n");
    std::printf("|---|---|---:|---:|---:|---:|\n");
    for (std::size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        const auto &c = cs[i];
        const auto &base = cs[i - i % 2]; // workerpool row of the same workload
        double m = median(c.r.ms);
        auto [lo, hi] = std::minmax_element(c.r.ms.begin(), c.r.ms.end());
        std::printf("| %s | %s | %.1f ms | %.1f–%.1f ms | %.2f µs | %.2f |\n", c.workload, c.name, m, *lo, *hi,
                    m * 1000.0 / static_cast<double>(tasks), m / median(base.r.ms));
    }
    std::printf("\nload %.2f after\n", load1());
    return 0;
}
