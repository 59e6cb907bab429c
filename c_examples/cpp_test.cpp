// cpp_test: tests of include/workerpool.hpp. Plain asserts (always on);
// exit status 0 when every test passed. Run with `make cpp-test`, and under
// valgrind by `make valgrind` (no leak allowed: callables are freed whether
// the pool runs them or refuses them).
#undef NDEBUG
#include "workerpool.hpp"

#include <cassert>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using workerpool::errc;

// Tasks block on a gate until the test opens it.
struct gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    int waiting = 0;
    void pass()
    {
        std::unique_lock<std::mutex> l(m);
        waiting++;
        cv.notify_all();
        cv.wait(l, [this] { return open; });
    }
    void wait_for_waiting(int n)
    {
        std::unique_lock<std::mutex> l(m);
        cv.wait(l, [&] { return waiting >= n; });
    }
    void release()
    {
        std::lock_guard<std::mutex> l(m);
        open = true;
        cv.notify_all();
    }
};

// Counts live instances, to prove callables are destroyed exactly once.
struct tracked {
    static std::atomic<int> live;
    std::atomic<int> *ran;
    explicit tracked(std::atomic<int> *r) : ran(r) { live++; }
    tracked(const tracked &o) : ran(o.ran) { live++; }
    tracked(tracked &&o) noexcept : ran(o.ran) { live++; }
    ~tracked() { live--; }
    void operator()() const { (*ran)++; }
};
std::atomic<int> tracked::live{0};

void lambdas_with_captures()
{
    workerpool::pool pool{workerpool::options{}.capacity(4)};
    assert(pool.valid());
    std::atomic<int> sum{0};
    for (int i = 1; i <= 1000; i++)
        assert(!pool.schedule([&sum, i] { sum += i; }));
    assert(!pool.wait());
    assert(sum == 500500);
    workerpool::stats s = pool.get_stats();
    assert(s.capacity == 4 && s.submitted == 1000 && s.completed == 1000 && s.rejected == 0);
}

void std_function_and_function_pointers()
{
    static std::atomic<int> plain{0};
    struct local {
        static void bump() { plain++; }
    };
    workerpool::pool pool{workerpool::options{}.capacity(2)};
    std::atomic<int> n{0};
    std::function<void()> f = [&n] { n++; };
    assert(!pool.schedule(f)); // copied: f stays usable
    assert(!pool.schedule(f));
    assert(!pool.schedule(std::function<void()>([&n] { n += 10; })));
    assert(!pool.schedule(&local::bump));
    assert(!pool.schedule(local::bump));
    assert(!pool.wait());
    assert(n == 12 && plain == 2);
    f(); // still ours
    assert(n == 13);
}

void move_only_callables()
{
    workerpool::pool pool{workerpool::options{}.capacity(3)};
    std::atomic<int> total{0};
    for (int i = 0; i < 50; i++) {
        auto p = std::make_unique<int>(i);
        assert(!pool.schedule([p = std::move(p), &total] { total += *p; }));
    }
    assert(!pool.wait());
    assert(total == 49 * 50 / 2);
}

void exceptions_are_caught_counted_and_handled()
{
    std::mutex m;
    std::vector<std::string> seen;
    workerpool::pool pool{workerpool::options{}.capacity(2).on_exception([&](std::exception_ptr e) {
        std::string what;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception &ex) {
            what = ex.what();
        } catch (int v) {
            what = "int " + std::to_string(v);
        }
        std::lock_guard<std::mutex> l(m);
        seen.push_back(what);
    })};
    std::atomic<int> ok{0};
    assert(!pool.schedule([] { throw std::runtime_error("first"); }));
    assert(!pool.schedule([] { throw 42; }));
    for (int i = 0; i < 20; i++)
        assert(!pool.schedule([&ok] { ok++; })); // workers survived
    assert(!pool.wait());
    assert(ok == 20);
    assert(pool.exceptions() == 2);
    std::lock_guard<std::mutex> l(m);
    assert(seen.size() == 2);
    assert((seen[0] == "first" && seen[1] == "int 42") || (seen[1] == "first" && seen[0] == "int 42"));
    assert(pool.get_stats().completed == 22);

    // No handler: still caught and counted; a throwing handler is swallowed.
    workerpool::pool quiet{workerpool::options{}.capacity(1)};
    assert(!quiet.schedule([] { throw std::logic_error("dropped"); }));
    assert(!quiet.wait());
    assert(quiet.exceptions() == 1);
    workerpool::pool loud{workerpool::options{}.on_exception([](std::exception_ptr) { throw 1; })};
    assert(!loud.schedule([] { throw 2; }));
    assert(!loud.wait());
    assert(loud.exceptions() == 1);
}

void refused_callables_are_freed()
{
    gate g;
    std::atomic<int> ran{0};
    {
        workerpool::pool pool{workerpool::options{}.capacity(1).block(false)};
        assert(!pool.schedule([&g] { g.pass(); }));
        g.wait_for_waiting(1);
        // Full: the callable must be destroyed by schedule, not leaked.
        std::error_code ec = pool.schedule(tracked(&ran));
        assert(ec == errc::no_idle_worker);
        assert(ec.category() == workerpool::category());
        assert(ec == std::errc::resource_unavailable_try_again);
        assert(tracked::live == 0);
        ec = pool.try_schedule(tracked(&ran));
        assert(ec == errc::no_idle_worker && tracked::live == 0);
        auto owned = std::make_unique<int>(7); // valgrind would see this leak
        ec = pool.try_schedule([o = std::move(owned)] { (void)*o; });
        assert(ec == errc::no_idle_worker);
        g.release();
        assert(!pool.wait());
        assert(pool.get_stats().rejected == 3);
        // Accepted ones are destroyed after running.
        assert(!pool.schedule(tracked(&ran)));
        assert(!pool.wait());
    }
    assert(ran == 1 && tracked::live == 0);
}

void schedule_for_times_out()
{
    gate g;
    workerpool::pool pool{workerpool::options{}.capacity(1)};
    assert(!pool.schedule([&g] { g.pass(); }));
    g.wait_for_waiting(1);
    std::atomic<int> ran{0};
    std::error_code ec = pool.schedule_for(20ms, tracked(&ran));
    assert(ec == errc::timeout && ec == std::errc::timed_out);
    assert(tracked::live == 0);
    assert(std::string(ec.message()) == pool_strerror(POOL_ERR_TIMEOUT));
    assert(std::string(ec.category().name()) == "workerpool");
    g.release();
    assert(!pool.schedule_for(5s, tracked(&ran)));
    assert(!pool.wait());
    assert(ran == 1 && tracked::live == 0);
}

void moves_and_close()
{
    std::atomic<int> n{0};
    workerpool::pool a{workerpool::options{}.capacity(2)};
    assert(!a.schedule([&n] { n++; }));
    workerpool::pool b = std::move(a);
    assert(!a.valid() && b.valid()); // NOLINT(bugprone-use-after-move): checked on purpose
    assert(a.schedule([&n] { n++; }) == errc::invalid);
    assert(a.wait() == errc::invalid && a.close() == errc::invalid);
    assert(a.get_stats().capacity == 0);
    assert(!b.schedule([&n] { n++; }));

    workerpool::pool c{workerpool::options{}.capacity(1)};
    assert(!c.schedule([&n] { n++; }));
    c = std::move(b); // closes c's old pool first: its task has run
    assert(!b.valid() && c.valid());
    assert(n >= 1);
    assert(!c.close());
    assert(n == 3 && !c.valid());
    assert(c.close() == errc::invalid);
    assert(c.schedule(tracked(&n)) == errc::invalid);
    assert(tracked::live == 0);
}

void options_reach_the_pool()
{
    // prealloc: every worker exists when the constructor returns.
    {
        workerpool::pool pool{workerpool::options{}.capacity(3).prealloc(true)};
        assert(pool.get_stats().workers == 3);
    }
    // thread names and hooks
    std::atomic<int> started{0}, exited{0}, named{0};
    {
        workerpool::pool pool{workerpool::options{}
                                  .capacity(2)
                                  .thread_name("cpptest")
                                  .on_thread_start([&started] { started++; })
                                  .on_thread_exit([&exited] { exited++; })};
        for (int i = 0; i < 10; i++)
            assert(!pool.schedule([&named] {
                char name[32] = {0};
                pthread_getname_np(pthread_self(), name, sizeof name);
                if (std::strncmp(name, "cpptest-", 8) == 0)
                    named++;
            }));
        assert(!pool.wait());
    }
    assert(named == 10);
    assert(started >= 1 && started == exited);
    // queue: with a queue, a busy non-blocking pool still accepts.
    {
        gate g;
        workerpool::pool pool{workerpool::options{}.capacity(1).block(false).queue_size(2)};
        assert(!pool.schedule([&g] { g.pass(); }));
        g.wait_for_waiting(1);
        assert(!pool.schedule([] {}));
        assert(!pool.schedule([] {}));
        assert(pool.schedule([] {}) == errc::no_idle_worker);
        assert(pool.get_stats().queued == 2);
        g.release();
        assert(!pool.wait());
    }
    // capacity changes
    {
        workerpool::pool pool{workerpool::options{}.capacity(1)};
        assert(!pool.set_capacity(5));
        assert(pool.get_stats().capacity == 5);
    }
    // invalid options: the constructor throws, create() reports.
    bool threw = false;
    try {
        workerpool::pool bad{workerpool::options{}.thread_name("")};
    } catch (const std::system_error &e) {
        threw = e.code() == errc::invalid;
    }
    assert(threw);
    std::error_code ec;
    workerpool::pool bad = workerpool::pool::create(workerpool::options{}.stack_size(std::size_t(1) << 41), ec);
    assert(ec == errc::invalid && !bad.valid());
    workerpool::pool good = workerpool::pool::create(workerpool::options{}.capacity(2), ec);
    assert(!ec && good.valid());
    workerpool::pool defaults;
    assert(defaults.get_stats().capacity == 100);
}

void calls_from_inside_a_task()
{
    // A task may schedule onto its own full pool (runs inline, no deadlock),
    // but wait()/close() from a worker report a deadlock.
    workerpool::pool pool{workerpool::options{}.capacity(1)};
    std::atomic<int> inner{0};
    std::error_code wait_ec, close_ec, nested_ec;
    assert(!pool.schedule([&] {
        nested_ec = pool.schedule([&inner] { inner++; });
        wait_ec = pool.wait();
        close_ec = pool.close();
    }));
    assert(!pool.wait());
    assert(!nested_ec && inner == 1);
    assert(wait_ec == errc::deadlock && close_ec == errc::deadlock);
    assert(wait_ec == std::errc::resource_deadlock_would_occur);
    assert(pool.valid());
}

void many_threads_schedule()
{
    workerpool::pool pool{workerpool::options{}.capacity(4).queue_size(16)};
    std::atomic<int> n{0};
    std::vector<std::thread> producers;
    for (int t = 0; t < 4; t++)
        producers.emplace_back([&] {
            for (int i = 0; i < 250; i++)
                assert(!pool.schedule([&n] { n++; }));
        });
    for (auto &p : producers)
        p.join();
    assert(!pool.wait());
    assert(n == 1000);
}

} // namespace

void wait_for_times_out_while_a_task_runs()
{
    using namespace std::chrono_literals;
    workerpool::pool pool{workerpool::options{}.capacity(1)};
    std::atomic<bool> may_end{false};
    assert(!pool.schedule([&may_end] {
        while (!may_end)
            std::this_thread::yield();
    }));
    assert(pool.wait_for(0ms) == workerpool::errc::timeout);
    assert(pool.wait_for(20ms) == workerpool::errc::timeout);
    may_end = true;
    assert(!pool.wait_for(30s));
    assert(pool.get_stats().completed == 1);
}

int main()
{
    struct {
        const char *name;
        void (*fn)();
    } tests[] = {
        {"lambdas_with_captures", lambdas_with_captures},
        {"std_function_and_function_pointers", std_function_and_function_pointers},
        {"move_only_callables", move_only_callables},
        {"exceptions_are_caught_counted_and_handled", exceptions_are_caught_counted_and_handled},
        {"refused_callables_are_freed", refused_callables_are_freed},
        {"schedule_for_times_out", schedule_for_times_out},
        {"wait_for_times_out_while_a_task_runs", wait_for_times_out_while_a_task_runs},
        {"moves_and_close", moves_and_close},
        {"options_reach_the_pool", options_reach_the_pool},
        {"calls_from_inside_a_task", calls_from_inside_a_task},
        {"many_threads_schedule", many_threads_schedule},
    };
    for (const auto &t : tests) {
        t.fn();
        std::printf("ok %s\n", t.name);
    }
    std::printf("cpp_test: all %zu tests passed\n", sizeof tests / sizeof tests[0]);
    return 0;
}
