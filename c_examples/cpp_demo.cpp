// cpp_demo: the C++ interface (include/workerpool.hpp) in one page.
//
// A pool of 4 workers sums 1..100 with lambdas, runs a move-only callable,
// and shows that an exception thrown by a task is caught, counted and
// handed to the handler instead of killing the worker (or the program).
#include "workerpool.hpp"

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

int main()
{
    std::mutex print_lock;
    workerpool::pool pool{workerpool::options{}
                              .capacity(4)
                              .queue_size(workerpool::unbounded)
                              .thread_name("cppdemo")
                              .on_exception([&print_lock](std::exception_ptr e) {
                                  try {
                                      std::rethrow_exception(e);
                                  } catch (const std::exception &ex) {
                                      std::lock_guard<std::mutex> g(print_lock);
                                      std::printf("a task threw: %s\n", ex.what());
                                  }
                              })};
    std::printf("workerpool %s, C++ interface\n", pool_version());

    std::atomic<long> sum{0};
    for (int i = 1; i <= 100; i++) {
        if (auto ec = pool.schedule([&sum, i] { sum += i; })) {
            std::fprintf(stderr, "schedule: %s\n", ec.message().c_str());
            return 1;
        }
    }

    // A move-only callable: the pool owns the unique_ptr until the task ran.
    auto greeting = std::make_unique<std::string>("hello from a move-only task");
    if (auto ec = pool.schedule([g = std::move(greeting), &print_lock] {
            std::lock_guard<std::mutex> l(print_lock);
            std::printf("%s\n", g->c_str());
        })) {
        std::fprintf(stderr, "schedule: %s\n", ec.message().c_str());
        return 1;
    }

    // An exception: caught in the trampoline, never unwinds into the library.
    if (auto ec = pool.schedule([] { throw std::runtime_error("boom"); })) {
        std::fprintf(stderr, "schedule: %s\n", ec.message().c_str());
        return 1;
    }

    if (auto ec = pool.wait()) {
        std::fprintf(stderr, "wait: %s\n", ec.message().c_str());
        return 1;
    }
    workerpool::stats s = pool.get_stats();
    std::printf("sum=%ld submitted=%llu completed=%llu exceptions=%llu\n", sum.load(),
                static_cast<unsigned long long>(s.submitted),
                static_cast<unsigned long long>(s.completed),
                static_cast<unsigned long long>(pool.exceptions()));
    return sum == 5050 && s.completed == 102 && pool.exceptions() == 1 ? 0 : 1;
    // ~pool: runs what was accepted, joins the workers.
}
