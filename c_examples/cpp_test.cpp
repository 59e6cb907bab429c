// cpp_test: tests of include/workerpool.hpp. Plain asserts (always on);
// exit status 0 when every test passed. Run with `make cpp-test`, under
// valgrind by `make valgrind` and under ASan + UBSan by `make asan` (no leak
// allowed: callables and their arguments are freed whether the pool runs,
// refuses or cancels them).
#undef NDEBUG
#include "workerpool.hpp"

#include <algorithm>
#include <cassert>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <poll.h>
#include <pthread.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
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

// ---- 0.2: futures, groups, loops, pause, cancellation, shutdown ----

namespace {

using workerpool::shutdown_mode;

// Whether f() throws std::system_error with code `e`.
template <class F> bool throws_status(F &&f, errc e)
{
    try {
        f();
    } catch (const std::system_error &ex) {
        return ex.code() == e;
    }
    return false;
}

// Whether the future throws workerpool::cancelled (a broken_promise future_error).
template <class T> bool is_cancelled(std::future<T> &f)
{
    try {
        f.get();
    } catch (const workerpool::cancelled &c) {
        assert(c.code() == std::future_errc::broken_promise);
        assert(std::string(c.what()).find("cancelled") != std::string::npos);
        return true;
    }
    return false;
}

template <class T> bool ready(const std::future<T> &f)
{
    return f.wait_for(0ms) == std::future_status::ready;
}

struct adder {
    int base;
    int add(int x) const { return base + x; }
};

// Callable only as an rvalue: submit calls it as std::async does.
struct once_only {
    std::unique_ptr<int> v;
    int operator()() && { return *v; }
};

void submit_returns_values()
{
    workerpool::pool pool{workerpool::options{}.capacity(3)};
    std::future<int> a = pool.submit([] { return 6 * 7; });
    std::future<std::string> b = pool.submit([](std::string s, int n) { return s + std::to_string(n); },
                                             std::string("n="), 5);
    std::future<int> c = pool.submit([](std::unique_ptr<int> p) { return *p + 1; }, std::make_unique<int>(9));
    adder ad{100};
    std::future<int> d = pool.submit(&adder::add, &ad, 23); // member function pointer
    int target = 0;
    std::future<void> e = pool.submit([](int &t) { t = 77; }, std::ref(target));
    std::future<int> f = pool.submit(once_only{std::make_unique<int>(3)});
    static int global = 5;
    std::future<int &> g = pool.submit([]() -> int & { return global; });
    assert(a.get() == 42);
    assert(b.get() == "n=5");
    assert(c.get() == 10);
    assert(d.get() == 123);
    e.get();
    assert(target == 77);
    assert(f.get() == 3);
    assert(&g.get() == &global);
    // f and its arguments are gone by the time the future is ready.
    std::atomic<int> ran{0};
    std::future<void> t = pool.submit([](tracked a1) { a1(); }, tracked(&ran));
    std::future<int> u = pool.submit([t2 = tracked(&ran)] {
        t2();
        return 1;
    });
    t.get();
    assert(u.get() == 1);
    assert(ran == 2 && tracked::live == 0);
    // Many futures from many threads.
    std::vector<std::future<int>> futures;
    for (int i = 0; i < 200; i++)
        futures.push_back(pool.submit([i] { return i * i; }));
    long sum = 0;
    for (auto &fu : futures)
        sum += fu.get();
    assert(sum == 199L * 200 * 399 / 6);
    assert(!pool.wait());
}

void submit_exceptions_travel_through_the_future()
{
    std::atomic<int> handled{0};
    workerpool::pool pool{workerpool::options{}.capacity(2).on_exception([&handled](std::exception_ptr) { handled++; })};
    std::future<int> a = pool.submit([]() -> int { throw std::runtime_error("from a task"); });
    std::future<void> b = pool.submit([] { throw 7; });
    std::future<std::string> c = pool.submit([](int n) -> std::string { throw std::out_of_range(std::to_string(n)); }, 3);
    bool got = false;
    try {
        a.get();
    } catch (const std::runtime_error &e) {
        got = std::string(e.what()) == "from a task";
    }
    assert(got);
    got = false;
    try {
        b.get();
    } catch (int v) {
        got = v == 7;
    }
    assert(got);
    got = false;
    try {
        c.get();
    } catch (const std::out_of_range &e) {
        got = std::string(e.what()) == "3";
    }
    assert(got);
    assert(!pool.wait());
    // They went to the futures: not counted, not handled.
    assert(pool.exceptions() == 0 && handled == 0);
    assert(pool.get_stats().completed == 3);
}

void submit_and_detach_refused_throw_and_free()
{
    gate g;
    std::atomic<int> ran{0};
    {
        workerpool::pool pool{workerpool::options{}.capacity(1).block(false)};
        assert(!pool.schedule([&g] { g.pass(); }));
        g.wait_for_waiting(1);
        assert(throws_status([&] { (void)pool.submit(tracked(&ran)); }, errc::no_idle_worker));
        assert(tracked::live == 0);
        assert(throws_status([&] { (void)pool.submit([](tracked t) { t(); }, tracked(&ran)); }, errc::no_idle_worker));
        assert(tracked::live == 0);
        assert(throws_status([&] { pool.detach(tracked(&ran)); }, errc::no_idle_worker));
        assert(throws_status([&] { pool.detach([](std::unique_ptr<int>) {}, std::make_unique<int>(1)); },
                             errc::no_idle_worker));
        assert(throws_status([&] { (void)pool.submit_loop(0, 10, [](std::size_t) {}); }, errc::no_idle_worker));
        assert(tracked::live == 0);
        g.release();
        assert(!pool.wait());
        assert(pool.get_stats().rejected == 5);
    }
    assert(ran == 0 && tracked::live == 0);
    workerpool::pool a{workerpool::options{}.capacity(1)};
    workerpool::pool b = std::move(a);
    assert(throws_status([&] { (void)a.submit([] {}); }, errc::invalid)); // NOLINT(bugprone-use-after-move)
    assert(throws_status([&] { a.detach([] {}); }, errc::invalid));
    assert(throws_status([&] { a.parallel_for(0, 1, [](std::size_t) {}); }, errc::invalid));
    assert(throws_status([&] { (void)a.submit_loop(0, 1, [](std::size_t) {}); }, errc::invalid));
    assert(throws_status([&] { (void)a.cancel_queued(); }, errc::invalid));
    assert(a.pause() == errc::invalid && a.resume() == errc::invalid);
    assert(a.shutdown() == errc::invalid && a.wait_until(std::chrono::steady_clock::now()) == errc::invalid);
    assert(throws_status([&] { workerpool::group gr{a}; }, errc::invalid));
    // The system_error's text is pool_strerror's.
    try {
        (void)a.submit([] {});
    } catch (const std::system_error &e) {
        assert(std::string(e.what()).find(pool_strerror(POOL_ERR_INVALID)) != std::string::npos);
    }
}

void detach_is_fire_and_forget()
{
    std::atomic<int> handled{0};
    workerpool::pool pool{workerpool::options{}.capacity(2).on_exception([&handled](std::exception_ptr) { handled++; })};
    std::atomic<int> sum{0};
    for (int i = 1; i <= 10; i++)
        pool.detach([&sum](int v) { sum += v; }, i);
    pool.detach([] { throw std::runtime_error("detached"); });
    pool.detach([](std::unique_ptr<int> p) { throw *p; }, std::make_unique<int>(1));
    std::atomic<int> ran{0};
    pool.detach(tracked(&ran));
    assert(!pool.wait());
    assert(sum == 55 && ran == 1 && tracked::live == 0);
    assert(pool.exceptions() == 2 && handled == 2);
}

void wait_until_a_deadline()
{
    workerpool::pool pool{workerpool::options{}.capacity(1)};
    gate g;
    assert(!pool.schedule([&g] { g.pass(); }));
    g.wait_for_waiting(1);
    auto t0 = std::chrono::steady_clock::now();
    assert(pool.wait_until(t0 + 30ms) == errc::timeout);
    assert(std::chrono::steady_clock::now() - t0 >= 29ms);
    assert(pool.wait_until(t0 - 1s) == errc::timeout);                              // past: polls
    assert(pool.wait_until(std::chrono::system_clock::now() + 5ms) == errc::timeout); // any clock
    assert(pool.wait_for(-5s) == errc::timeout);                                      // negative: polls
    g.release();
    assert(!pool.wait_until(std::chrono::steady_clock::now() + 30s));
    assert(!pool.wait_until(std::chrono::steady_clock::time_point::max())); // saturates, no overflow
    assert(!pool.wait_for(std::chrono::hours::max()));
}

void groups_submit_wait_and_fd()
{
    workerpool::pool pool{workerpool::options{}.capacity(2).queue_size(64)};
    workerpool::group grp{pool};
    assert(grp.valid() && grp.native_handle() != nullptr);
    int fd = grp.fd();
    assert(fd >= 0 && grp.fd() == fd);

    gate g;
    std::atomic<int> n{0};
    std::future<int> f = grp.submit([&g] {
        g.pass();
        return 5;
    });
    grp.detach([&n](int k) { n += k; }, 10);
    assert(!grp.schedule([&n] { n++; }));
    // A plain pool task is not the group's.
    assert(!pool.schedule([&g] { g.pass(); }));
    g.wait_for_waiting(2);
    assert(grp.wait_for(20ms) == errc::timeout);
    assert(grp.wait_until(std::chrono::steady_clock::now() + 5ms) == errc::timeout);
    g.release();
    assert(!grp.wait());
    assert(f.get() == 5 && n == 11);
    // The eventfd became readable when the count dropped to 0.
    pollfd p{fd, POLLIN, 0};
    assert(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN));
    std::uint64_t v = 0;
    assert(read(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v) && v > 0);
    workerpool::group_stats s = grp.get_stats();
    assert(s.submitted == 3 && s.completed == 3 && s.cancelled == 0 && s.pending == 0);
    // Exceptions: a group's submit into the future, detach to the pool's counter.
    std::future<void> bad = grp.submit([] { throw std::logic_error("group task"); });
    grp.detach([] { throw 1; });
    assert(!grp.wait());
    bool got = false;
    try {
        bad.get();
    } catch (const std::logic_error &) {
        got = true;
    }
    assert(got && pool.exceptions() == 1);
    // Moves.
    workerpool::group other = std::move(grp);
    assert(!grp.valid() && other.valid()); // NOLINT(bugprone-use-after-move)
    assert(grp.wait() == errc::invalid && grp.schedule([] {}) == errc::invalid);
    assert(throws_status([&] { (void)grp.submit([] {}); }, errc::invalid));
    assert(throws_status([&] { (void)grp.fd(); }, errc::invalid));
    assert(grp.get_stats().submitted == 0);
    assert(other.get_stats().submitted == 5);
    std::error_code ec;
    workerpool::group third = workerpool::group::create(pool, ec);
    assert(!ec && third.valid());
    other = std::move(third); // frees other's old group (waits: nothing pending)
    assert(other.get_stats().submitted == 0);
    assert(!other.close() && !other.valid() && other.close() == errc::invalid);
}

void group_destructor_waits()
{
    workerpool::pool pool{workerpool::options{}.capacity(4).queue_size(workerpool::unbounded)};
    std::atomic<int> done{0};
    std::atomic<int> ran{0};
    std::future<int> f;
    {
        workerpool::group grp{pool};
        for (int i = 0; i < 8; i++)
            grp.detach([&done] {
                std::this_thread::sleep_for(10ms);
                done++;
            });
        grp.detach(tracked(&ran));
        f = grp.submit([] {
            std::this_thread::sleep_for(20ms);
            return 1;
        });
    } // ~group: pool_group_free waits for all ten
    assert(done == 8 && ran == 1 && tracked::live == 0);
    assert(ready(f) && f.get() == 1);
    // A group may outlive its pool object: submits then throw errc::freed.
    std::optional<workerpool::group> late;
    {
        workerpool::pool p2{workerpool::options{}.capacity(1)};
        late.emplace(p2);
        late->detach([&done] { done++; });
    } // ~pool runs the group's task
    assert(done == 9);
    assert(throws_status([&] { (void)late->submit(tracked(&ran)); }, errc::freed));
    assert(late->schedule(tracked(&ran)) == errc::freed);
    assert(tracked::live == 0);
    assert(!late->wait());
    late.reset();
}

void group_fork_join_inside_a_task()
{
    // A task makes a group, submits children and waits for them: the
    // waiting worker runs queued tasks, so even one worker cannot starve.
    workerpool::pool pool{workerpool::options{}.capacity(1).queue_size(workerpool::unbounded)};
    std::future<int> outer = pool.submit([&pool] {
        workerpool::group children{pool};
        std::vector<std::future<int>> parts;
        for (int i = 1; i <= 10; i++)
            parts.push_back(children.submit([i] { return i; }));
        // From one of the group's own tasks, wait reports a deadlock.
        std::future<std::error_code> self = children.submit([&children] { return children.wait(); });
        if (children.wait())
            return -1;
        int sum = 0;
        for (auto &p : parts)
            sum += p.get();
        return self.get() == errc::deadlock ? sum : -2;
    });
    assert(outer.get() == 55);
}

void nested_submit_from_tasks()
{
    // Hand-off, capacity 1: a task's submit onto its own full pool runs the
    // new task inline, so get() inside the task cannot deadlock.
    workerpool::pool pool{workerpool::options{}.capacity(1)};
    std::function<int(int)> depth_sum = [&](int d) -> int {
        if (d == 0)
            return 0;
        return d + pool.submit(depth_sum, d - 1).get();
    };
    assert(pool.submit(depth_sum, 20).get() == 210);
    // Past WORKERPOOL_MAX_INLINE_DEPTH nested inline runs, submit throws
    // errc::deadlock, and that travels out through every future.
    bool deadlock = false;
    try {
        (void)pool.submit(depth_sum, WORKERPOOL_MAX_INLINE_DEPTH + 5).get();
    } catch (const std::system_error &e) {
        deadlock = e.code() == errc::deadlock;
    }
    assert(deadlock);
    // A wider pool: tasks submit and detach more tasks, from many workers.
    workerpool::pool wide{workerpool::options{}.capacity(4)};
    std::atomic<int> leaves{0};
    std::vector<std::future<void>> tops;
    for (int i = 0; i < 8; i++)
        tops.push_back(wide.submit([&wide, &leaves] {
            std::vector<std::future<void>> kids;
            for (int k = 0; k < 4; k++)
                kids.push_back(wide.submit([&leaves] { leaves++; }));
            wide.detach([&leaves] { leaves++; });
            for (auto &kf : kids)
                kf.get();
        }));
    for (auto &t : tops)
        t.get();
    assert(!wide.wait());
    assert(leaves == 40);
}

void parallel_for_every_index_once()
{
    workerpool::pool pool{workerpool::options{}.capacity(4)};
    const std::size_t n = 10007;
    for (std::size_t grain : {std::size_t(0), std::size_t(1), std::size_t(7), std::size_t(1000), n + 5}) {
        std::vector<std::atomic<int>> hits(n + 20);
        pool.parallel_for(10, n + 10, [&hits](std::size_t i) { hits[i]++; }, grain);
        for (std::size_t i = 0; i < hits.size(); i++)
            assert(hits[i] == (i >= 10 && i < n + 10 ? 1 : 0));
    }
    // The chunk form: disjoint chunks covering the range, each at least
    // grain long except the one that ends the range.
    std::mutex m;
    std::vector<std::pair<std::size_t, std::size_t>> chunks;
    pool.parallel_for(0, 1000, [&](std::size_t b, std::size_t e) {
        std::lock_guard<std::mutex> l(m);
        chunks.emplace_back(b, e);
    }, 64);
    std::sort(chunks.begin(), chunks.end());
    std::size_t at = 0;
    for (auto &c : chunks) {
        assert(c.first == at && c.second > c.first);
        assert(c.second - c.first >= 64 || c.second == 1000);
        at = c.second;
    }
    assert(at == 1000);
    // A function object (lvalue, called by reference), a generic lambda.
    struct counter {
        std::atomic<long> sum{0};
        void operator()(std::size_t i) { sum += static_cast<long>(i); }
    } c;
    pool.parallel_for(0, 101, c);
    assert(c.sum == 5050);
    std::atomic<long> s2{0};
    pool.parallel_for(0, 101, [&s2](auto b, auto e) { s2 += static_cast<long>(e - b); });
    assert(s2 == 101);
    // Empty ranges do nothing; begin > end is errc::invalid.
    pool.parallel_for(5, 5, [](std::size_t) { assert(false); });
    assert(throws_status([&] { pool.parallel_for(6, 5, [](std::size_t) {}); }, errc::invalid));
    // Nested: loops inside tasks and inside loop bodies.
    std::vector<std::atomic<int>> grid(64 * 64);
    std::future<void> f = pool.submit([&] {
        pool.parallel_for(0, 64, [&](std::size_t r) {
            pool.parallel_for(0, 64, [&](std::size_t col) { grid[r * 64 + col]++; });
        });
    });
    f.get();
    for (auto &cell : grid)
        assert(cell == 1);
    assert(!pool.wait());
}

void parallel_for_exceptions_reach_the_caller()
{
    workerpool::pool pool{workerpool::options{}.capacity(4)};
    std::atomic<int> calls{0};
    bool got = false;
    try {
        pool.parallel_for(0, 100000, [&calls](std::size_t i) {
            calls++;
            if (i % 1000 == 777)
                throw std::runtime_error("index " + std::to_string(i));
        }, 100);
    } catch (const std::runtime_error &e) {
        std::string what = e.what();
        std::size_t i = std::stoul(what.substr(6));
        got = i % 1000 == 777;
    }
    assert(got);
    // Chunks not yet started when the first threw were skipped.
    assert(calls < 100000);
    // Chunk form, a non-std exception, one chunk.
    got = false;
    try {
        pool.parallel_for(0, 10, [](std::size_t, std::size_t) { throw 5; }, 10);
    } catch (int v) {
        got = v == 5;
    }
    assert(got);
    // The pool is untouched: every index once again.
    std::vector<std::atomic<int>> hits(5000);
    pool.parallel_for(0, hits.size(), [&hits](std::size_t i) { hits[i]++; });
    for (auto &h : hits)
        assert(h == 1);
    assert(pool.exceptions() == 0);
    // After shutdown the loop is refused: errc::freed, body not called.
    assert(!pool.shutdown());
    assert(throws_status([&] { pool.parallel_for(0, 10, [](std::size_t) { assert(false); }); }, errc::freed));
}

void submit_loop_runs_as_one_future()
{
    workerpool::pool pool{workerpool::options{}.capacity(3).queue_size(16)};
    std::vector<std::atomic<int>> hits(20000);
    std::future<void> f = pool.submit_loop(0, hits.size(), [&hits](std::size_t i) { hits[i]++; }, 0);
    f.get();
    for (auto &h : hits)
        assert(h == 1);
    // The body is owned by the task (move-only is fine), chunk form too.
    auto total = std::make_shared<std::atomic<long>>(0);
    auto owned = std::make_unique<int>(2);
    pool.submit_loop(0, 100, [total, o = std::move(owned)](std::size_t b, std::size_t e) {
        *total += static_cast<long>((e - b) * *o);
    }, 9).get();
    assert(*total == 200);
    // Exceptions come through the future.
    std::future<void> bad = pool.submit_loop(0, 1000, [](std::size_t i) {
        if (i == 500)
            throw std::domain_error("500");
    });
    bool got = false;
    try {
        bad.get();
    } catch (const std::domain_error &e) {
        got = std::string(e.what()) == "500";
    }
    assert(got);
    assert(throws_status([&] { (void)pool.submit_loop(3, 2, [](std::size_t) {}); }, errc::invalid));
    assert(!pool.wait()); // no helper of the loops above is still queued
    // A loop queued on a paused pool: cancelled, or, once a draining
    // shutdown lets it run, run on its worker although the pool refuses
    // new loops by then.
    gate g;
    std::future<void> blocker = pool.submit([&g] { g.pass(); });
    g.wait_for_waiting(1);
    assert(!pool.pause());
    std::atomic<int> ran{0};
    std::future<void> cancelled_loop = pool.submit_loop(0, 10, [tr = tracked(&ran)](std::size_t) { tr(); });
    assert(pool.cancel_queued() == 1);
    assert(is_cancelled(cancelled_loop) && ran == 0 && tracked::live == 0);
    std::vector<std::atomic<int>> late(100);
    std::future<void> drained = pool.submit_loop(0, late.size(), [&late](std::size_t i) { late[i]++; }, 7);
    g.release();
    assert(!pool.shutdown(shutdown_mode::drain, 30s));
    blocker.get();
    drained.get();
    for (auto &h : late)
        assert(h == 1);
}

void pause_and_resume()
{
    workerpool::pool pool{workerpool::options{}.capacity(2).queue_size(16)};
    assert(!pool.pause());
    assert(!pool.pause()); // twice is once
    workerpool::stats s = pool.get_stats();
    assert(s.paused == 1);
    std::vector<std::future<int>> fs;
    for (int i = 0; i < 5; i++)
        fs.push_back(pool.submit([i] { return i; }));
    std::this_thread::sleep_for(20ms);
    for (auto &f : fs)
        assert(!ready(f));
    assert(pool.wait_for(10ms) == errc::timeout);
    assert(pool.get_stats().queued == 5);
    assert(!pool.resume());
    assert(pool.get_stats().paused == 0);
    int sum = 0;
    for (auto &f : fs)
        sum += f.get();
    assert(sum == 10);
    assert(!pool.wait());
    assert(!pool.resume()); // not paused: left as it is
}

void foreign_task(void *arg)
{
    ++*static_cast<int *>(arg);
}

void cancel_queued_frees_and_breaks_futures()
{
    std::atomic<int> ran{0};
    {
        workerpool::pool pool{workerpool::options{}.capacity(1).queue_size(workerpool::unbounded)};
        gate g;
        assert(!pool.schedule([&g] { g.pass(); }));
        g.wait_for_waiting(1);
        std::vector<std::future<int>> fs;
        for (int i = 0; i < 5; i++)
            fs.push_back(pool.submit([t = tracked(&ran), i] {
                t();
                return i;
            }));
        std::future<void> with_args = pool.submit([](tracked t, std::unique_ptr<int>) { t(); }, tracked(&ran),
                                                  std::make_unique<int>(4));
        for (int i = 0; i < 3; i++)
            pool.detach(tracked(&ran));
        assert(!pool.schedule(tracked(&ran)));
        assert(!pool.schedule([o = std::make_unique<int>(1)] { (void)*o; }));
        workerpool::group grp{pool};
        std::future<void> gf = grp.submit(tracked(&ran));
        grp.detach(tracked(&ran));
        // A task scheduled through the C API with its own function: removed
        // and counted, its arg left alone.
        int foreign = 0;
        assert(pool_schedule(pool.native_handle(), foreign_task, &foreign) == POOL_OK);
        assert(tracked::live == 5 + 1 + 3 + 1 + 2);

        assert(pool.cancel_queued() == 5 + 1 + 3 + 2 + 2 + 1);
        assert(tracked::live == 0); // every callable and argument freed, on this thread
        for (auto &f : fs)
            assert(is_cancelled(f));
        assert(is_cancelled(with_args) && is_cancelled(gf));
        // Also a std::future_error with broken_promise, for generic code.
        std::future<void> again = pool.submit([] {});
        assert(pool.cancel_queued() == 1);
        bool broken = false;
        try {
            again.get();
        } catch (const std::future_error &e) {
            broken = e.code() == std::future_errc::broken_promise;
        }
        assert(broken);
        workerpool::group_stats gs = grp.get_stats();
        assert(gs.submitted == 2 && gs.cancelled == 2 && gs.pending == 0);
        assert(!grp.wait_for(0ms)); // nothing pending
        assert(pool.get_stats().cancelled == 15);
        std::error_code ec;
        assert(pool.cancel_queued(ec) == 0 && !ec);
        g.release();
        assert(!pool.wait());
        assert(foreign == 0 && ran == 0);
        // Accepted after the cancel: runs.
        assert(pool.submit(tracked(&ran)).wait_for(5s) == std::future_status::ready);
        assert(ran == 1);
    }
    // Hand-off mode: nothing is ever queued.
    workerpool::pool handoff{workerpool::options{}.capacity(2)};
    std::future<int> f = handoff.submit([] { return 1; });
    assert(handoff.cancel_queued() == 0);
    assert(f.get() == 1);
    // After close: errc::invalid; error_code overload.
    assert(!handoff.close());
    std::error_code ec;
    assert(handoff.cancel_queued(ec) == 0 && ec == errc::invalid);
    assert(tracked::live == 0);
}

void shutdown_drains_or_cancels()
{
    std::atomic<int> ran{0};
    {
        // Drain: the queued tasks run; then every schedule is refused.
        // (Preallocated: a lazy pool paused before its first worker started
        // never starts one for its queue at shutdown or free, library 0.2.0.)
        workerpool::pool pool{workerpool::options{}.capacity(1).queue_size(8).prealloc(true)};
        assert(!pool.pause());
        std::vector<std::future<int>> fs;
        for (int i = 0; i < 4; i++)
            fs.push_back(pool.submit([i] { return i; }));
        workerpool::shutdown_report r{};
        assert(!pool.shutdown(shutdown_mode::drain, 30s, r)); // resumes the paused pool
        assert(r.cancelled == 0 && r.queued == 0 && r.running == 0);
        for (int i = 0; i < 4; i++)
            assert(fs[i].get() == i);
        assert(pool.valid());
        assert(throws_status([&] { (void)pool.submit(tracked(&ran)); }, errc::freed));
        assert(pool.schedule(tracked(&ran)) == errc::freed);
        assert(tracked::live == 0);
        assert(throws_status([&] { workerpool::group gr{pool}; }, errc::freed));
        assert(!pool.shutdown()); // again: nothing left
    }
    {
        // Cancel: the queued tasks are freed, their futures broken; a running
        // one keeps the shutdown waiting (errc::timeout), then it is called again.
        workerpool::pool pool{workerpool::options{}.capacity(1).queue_size(workerpool::unbounded)};
        gate g;
        std::future<int> running = pool.submit([&g] {
            g.pass();
            return 9;
        });
        g.wait_for_waiting(1);
        std::vector<std::future<void>> fs;
        for (int i = 0; i < 6; i++)
            fs.push_back(pool.submit(tracked(&ran)));
        pool.detach(tracked(&ran));
        workerpool::shutdown_report r{};
        assert(pool.shutdown(shutdown_mode::cancel, 20ms, r) == errc::timeout);
        assert(r.cancelled == 7 && r.running == 1 && r.queued == 0);
        assert(tracked::live == 0);
        for (auto &f : fs)
            assert(is_cancelled(f));
        g.release();
        assert(!pool.shutdown(shutdown_mode::drain, std::chrono::seconds(30)));
        assert(running.get() == 9);
        assert(pool.get_stats().cancelled == 7);
    }
    {
        workerpool::pool pool{workerpool::options{}.capacity(1)};
        std::future<std::error_code> inside = pool.submit([&pool] { return pool.shutdown(shutdown_mode::drain, 1s); });
        assert(inside.get() == errc::deadlock);
    }
    assert(ran == 0 && tracked::live == 0);
}

void fork_child_gets_forked()
{
    workerpool::pool pool{workerpool::options{}.capacity(1)};
    assert(pool.submit([] { return 1; }).get() == 1);
    std::fflush(stdout); // the child must not print the parent's buffered lines again
    pid_t pid = fork();
    assert(pid >= 0);
    if (pid == 0) {
        std::atomic<int> ran{0};
        bool ok = pool.schedule(tracked(&ran)) == errc::forked;
        ok = ok && tracked::live == 0;
        ok = ok && throws_status([&] { (void)pool.submit([] {}); }, errc::forked);
        ok = ok && throws_status([&] { workerpool::group gr{pool}; }, errc::forked);
        ok = ok && pool.pause() == errc::forked && pool.wait() == std::errc::no_child_process;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert(waitpid(pid, &status, 0) == pid);
    assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert(pool.submit([] { return 2; }).get() == 2); // the parent's pool is untouched
}

} // namespace

// cpp_test            runs every test
// cpp_test NAME...    runs only those
// cpp_test -NAME...   runs all but those (make cpp-valgrind runs the fork
//                     test alone: its child's leak check needs other options)
int main(int argc, char **argv)
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
        {"submit_returns_values", submit_returns_values},
        {"submit_exceptions_travel_through_the_future", submit_exceptions_travel_through_the_future},
        {"submit_and_detach_refused_throw_and_free", submit_and_detach_refused_throw_and_free},
        {"detach_is_fire_and_forget", detach_is_fire_and_forget},
        {"wait_until_a_deadline", wait_until_a_deadline},
        {"groups_submit_wait_and_fd", groups_submit_wait_and_fd},
        {"group_destructor_waits", group_destructor_waits},
        {"group_fork_join_inside_a_task", group_fork_join_inside_a_task},
        {"nested_submit_from_tasks", nested_submit_from_tasks},
        {"parallel_for_every_index_once", parallel_for_every_index_once},
        {"parallel_for_exceptions_reach_the_caller", parallel_for_exceptions_reach_the_caller},
        {"submit_loop_runs_as_one_future", submit_loop_runs_as_one_future},
        {"pause_and_resume", pause_and_resume},
        {"cancel_queued_frees_and_breaks_futures", cancel_queued_frees_and_breaks_futures},
        {"shutdown_drains_or_cancels", shutdown_drains_or_cancels},
        {"fork_child_gets_forked", fork_child_gets_forked},
    };
    const std::size_t total = sizeof tests / sizeof tests[0];
    bool only = false;
    for (int i = 1; i < argc; i++) {
        bool known = false;
        for (const auto &t : tests)
            known = known || std::strcmp(argv[i] + (argv[i][0] == '-'), t.name) == 0;
        if (!known) {
            std::fprintf(stderr, "cpp_test: no test named %s\n", argv[i] + (argv[i][0] == '-'));
            return 2;
        }
        only = only || argv[i][0] != '-';
    }
    std::size_t ran = 0;
    for (const auto &t : tests) {
        bool selected = !only, excluded = false;
        for (int i = 1; i < argc; i++) {
            if (argv[i][0] == '-')
                excluded = excluded || std::strcmp(argv[i] + 1, t.name) == 0;
            else
                selected = selected || std::strcmp(argv[i], t.name) == 0;
        }
        if (!selected || excluded)
            continue;
        t.fn();
        std::printf("ok %s\n", t.name);
        ran++;
    }
    if (ran == total)
        std::printf("cpp_test: all %zu tests passed\n", total);
    else
        std::printf("cpp_test: %zu of %zu tests passed (the others not run)\n", ran, total);
    return 0;
}
