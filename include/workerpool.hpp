/*
 * workerpool.hpp: a header-only C++17 interface to the workerpool C library
 * (workerpool.h). Not generated: edit by hand. Link with -lworkerpool as for C.
 *
 *     #include "workerpool.hpp"
 *
 *     workerpool::pool pool{workerpool::options{}.capacity(4)};
 *     std::atomic<int> sum{0};
 *     for (int i = 1; i <= 10; i++)
 *         if (auto ec = pool.schedule([&sum, i] { sum += i; }))
 *             std::cerr << "schedule: " << ec.message() << '\n';
 *     pool.wait();                 // every accepted task has run: sum == 55
 *     // the destructor runs what was accepted and joins the workers
 *
 * Error handling (two families, one error type):
 *   The C-style members return a std::error_code and never throw for a pool
 *   status: schedule, try_schedule, schedule_for, wait, wait_for,
 *   wait_until, pause, resume, set_capacity, shutdown, close (and a group's
 *   schedule, wait, wait_for, wait_until, close). Compare it with
 *   workerpool::errc (its category is workerpool::category(); message() is
 *   pool_strerror's text). An empty error_code means success. They are
 *   [[nodiscard]].
 *   The std::async-style members, which return something else (a future, a
 *   count, an fd, a group) or nothing, throw std::system_error instead,
 *   whose code() is that same workerpool::errc: submit, detach,
 *   submit_loop, parallel_for, cancel_queued() (cancel_queued(ec) reports
 *   through ec instead), and a group's constructor, submit, detach, fd.
 *   When one of them throws, nothing was scheduled and nothing leaks.
 *   Besides those, this header throws only:
 *     - from the throwing constructor pool(options): std::system_error, whose
 *       code() is either workerpool::errc::invalid (an option the library
 *       refused) or a std::generic_category() errno from pool_new (ENOMEM,
 *       EAGAIN: a preallocated thread could not start). pool::create()
 *       reports the same errors through an error_code instead;
 *     - std::bad_alloc when a task's callable cannot be heap-allocated, and
 *       whatever the callable's (or an argument's) own move/copy constructor
 *       throws, from schedule*(), submit(), detach(): then nothing was
 *       scheduled and nothing leaks;
 *     - from parallel_for, the first exception the loop body threw (below).
 *
 * Tasks:
 *   schedule(f) accepts any callable invocable with no arguments: lambdas
 *   with captures, std::function, function pointers, move-only callables
 *   (a lambda capturing a std::unique_ptr). The callable is moved (or
 *   copied) into one heap allocation whose pointer is the C task's arg; a
 *   trampoline runs it once on a worker and then destroys it. If the pool
 *   refuses the task, the callable is destroyed at once, in the calling
 *   thread, before schedule returns. Its return value is ignored.
 *
 *   A C++ exception must never unwind into the library, so the trampoline
 *   catches everything a task throws: it is counted (pool::exceptions()) and
 *   passed as a std::exception_ptr to the handler set with
 *   options::on_exception (none by default: the exception is dropped after
 *   being counted). The handler runs on the worker thread, possibly on
 *   several workers at once; anything it throws is swallowed. The worker
 *   lives on. Thread hooks (options::on_thread_start/on_thread_exit) are
 *   guarded the same way.
 *
 * Futures (submit, detach):
 *   pool.submit(f, args...) returns a std::future<R>, R being what
 *   f(args...) returns (void included). f and the arguments are decay-copied
 *   (moved when they are rvalues) into one heap object, with the
 *   std::promise<R>, whose pointer is the C task's arg (the promise's shared
 *   state is the one other allocation); on the worker f(args...) is called
 *   with them as rvalues, as by std::async. Its value, or whatever it
 *   threw, goes into the future: get() rethrows it (such exceptions are
 *   not counted in exceptions() nor given to on_exception). f and the
 *   arguments are destroyed, on the worker, before the future is made
 *   ready. Unlike std::async's, the future's destructor never waits.
 *   pool.detach(f, args...) is the same without a future (fire-and-forget):
 *   what it throws goes to on_exception, as for schedule. A refused task
 *   (errc::no_idle_worker, errc::freed, ...) makes either throw
 *   std::system_error at once.
 *   Calling future::get() inside a task waits on a worker: safe while the
 *   task waited for can still get a worker (a nested submit onto a full
 *   hand-off pool runs inline, so its future is ready at once); with a
 *   queue, a pool whose every worker waits like this deadlocks. A task
 *   doing fork-join should use a group (its wait runs queued tasks).
 *
 * Cancellation (cancel_queued, shutdown(shutdown_mode::cancel)):
 *   Every task this header schedules runs through one trampoline,
 *   workerpool_hpp_run_task; the pool hands each removed task to
 *   workerpool_hpp_cancel_task, which recognizes that trampoline and then
 *   destroys the callable and its arguments (on the calling thread, before
 *   the call returns) and, for submit and submit_loop, makes the future
 *   throw workerpool::cancelled (a std::future_error whose code() is
 *   std::future_errc::broken_promise). Tasks scheduled with other
 *   functions straight on native_handle() are removed too, and counted,
 *   but their arg is not touched: call pool_cancel_queued yourself to free
 *   those. (The trampoline is recognized by address: every part of a
 *   program that shares a pool must use the same workerpool.hpp, not a
 *   copy built with hidden visibility into another shared library.)
 *
 * Loops (parallel_for, submit_loop):
 *   pool.parallel_for(begin, end, f, grain) is pool_parallel_for over
 *   [begin, end): the calling thread runs chunks too and the call returns
 *   when every chunk has run. f takes either one index or a chunk, chosen
 *   at compile time from what f accepts:
 *     - f(std::size_t b, std::size_t e) callable: f is called once per
 *       chunk [b, e) (the chunk form);
 *     - otherwise f(std::size_t i): called once per index (a loop over
 *       each chunk);
 *     - callable both ways (a generic variadic lambda, an overloaded
 *       functor) or neither: a compile-time error.
 *   f is called by reference, concurrently from several threads. grain 0
 *   lets the pool choose. An exception thrown by f never reaches the
 *   library: the chunk's trampoline catches it, the first one is kept,
 *   chunks that had not started yet are skipped (running ones finish), and
 *   parallel_for rethrows it once the loop is over. A status (errc::freed,
 *   errc::invalid for begin > end) throws std::system_error.
 *   pool.submit_loop(begin, end, f, grain) returns a std::future<void>
 *   for the whole loop, which runs as one task (see submit_loop).
 *
 * Groups: workerpool::group{pool} is a pool_group_t: RAII, move-only; its
 *   submit/detach/schedule are the pool's counted in the group, wait() and
 *   wait_for() wait for its tasks only, fd() is its eventfd, and its
 *   destructor waits for its tasks (pool_group_free).
 *
 * Threads: a pool's members may be called from any thread, tasks included,
 * until it is destroyed, closed or moved from, as for the C API. Destroying
 * (or close()-ing) a pool from one of its own tasks is refused
 * (errc::deadlock); the destructor then leaks the pool instead of hanging.
 * A moved-from or closed pool returns errc::invalid from every call (the
 * throwing members throw it). After shutdown() the pool stays valid() and
 * refuses tasks (errc::freed) until it is destroyed or closed.
 */
#ifndef WORKERPOOL_HPP
#define WORKERPOOL_HPP

#include "workerpool.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#if __cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L)
#error "workerpool.hpp needs C++17 (-std=c++17)"
#endif

namespace workerpool {

/** The C statuses other than POOL_OK, as a std::error_code enum. */
enum class errc {
    no_idle_worker = POOL_ERR_NO_IDLE_WORKER, /* not blocking and full */
    freed = POOL_ERR_FREED,                   /* the pool is being freed */
    invalid = POOL_ERR_INVALID,               /* bad argument, or no pool (moved from, closed) */
    timeout = POOL_ERR_TIMEOUT,               /* schedule_for: no room in time; wait_for: tasks still running */
    spawn = POOL_ERR_SPAWN,                   /* the OS refused a thread */
    deadlock = POOL_ERR_DEADLOCK,             /* wait/close from one of the pool's own workers */
    forked = POOL_ERR_FORKED,                 /* a pool (or group) made before fork(), used in the child */
};

/** Unbounded queue (options::queue_size). */
inline constexpr std::size_t unbounded = SIZE_MAX;

namespace detail {

class category_impl final : public std::error_category {
public:
    const char *name() const noexcept override { return "workerpool"; }
    std::string message(int value) const override
    {
        return pool_strerror(static_cast<pool_status>(value));
    }
    /* So that ec == std::errc::timed_out and the like work. */
    std::error_condition default_error_condition(int value) const noexcept override
    {
        switch (value) {
        case POOL_ERR_NO_IDLE_WORKER: return std::errc::resource_unavailable_try_again;
        case POOL_ERR_INVALID: return std::errc::invalid_argument;
        case POOL_ERR_TIMEOUT: return std::errc::timed_out;
        case POOL_ERR_SPAWN: return std::errc::resource_unavailable_try_again;
        case POOL_ERR_DEADLOCK: return std::errc::resource_deadlock_would_occur;
        case POOL_ERR_FORKED: return std::errc::no_child_process;
        default: return std::error_condition(value, *this);
        }
    }
};

} // namespace detail

/** The category of every error_code made from a pool_status. */
inline const std::error_category &category() noexcept
{
    static const detail::category_impl instance;
    return instance;
}

inline std::error_code make_error_code(errc e) noexcept
{
    return std::error_code(static_cast<int>(e), category());
}

/** POOL_OK gives an empty error_code; any other status its workerpool::errc. */
inline std::error_code to_error_code(pool_status status) noexcept
{
    return status == POOL_OK ? std::error_code() : std::error_code(static_cast<int>(status), category());
}

} // namespace workerpool

namespace std {
template <> struct is_error_code_enum<workerpool::errc> : true_type {};
} // namespace std

namespace workerpool {

/** Handler for exceptions thrown by tasks and thread hooks. */
using exception_handler = std::function<void(std::exception_ptr)>;

/**
 * What the future of a cancelled task throws (cancel_queued, or
 * shutdown(shutdown_mode::cancel) while it was queued): the task never ran.
 * A std::future_error whose code() is std::future_errc::broken_promise, so
 * code that catches std::future_error sees it too.
 */
class cancelled : public std::future_error {
public:
    cancelled() : std::future_error(std::future_errc::broken_promise) {}
    const char *what() const noexcept override { return "workerpool: the task was cancelled before it ran"; }
};

/** What shutdown() does with the tasks still queued (pool_shutdown_mode). */
enum class shutdown_mode : int {
    drain = POOL_SHUTDOWN_DRAIN,   /* they run */
    cancel = POOL_SHUTDOWN_CANCEL, /* they are removed unrun (see Cancellation, top of this header) */
};

/** What shutdown() found when it returned (the C struct; see workerpool.h). */
using shutdown_report = pool_shutdown_report;

/** A snapshot of a group's counters (the C struct; see workerpool.h). */
using group_stats = pool_group_stats;

namespace detail {

/* Per-pool state shared with the tasks; heap-allocated so that moving a
 * pool does not move it, freed after pool_free has run every task. */
struct shared_state {
    exception_handler on_exception;
    std::function<void()> on_thread_start;
    std::function<void()> on_thread_exit;
    std::atomic<std::uint64_t> exceptions{0};

    void report(std::exception_ptr e) noexcept
    {
        exceptions.fetch_add(1, std::memory_order_relaxed);
        if (on_exception) {
            try {
                on_exception(std::move(e));
            } catch (...) {
                /* a throwing handler must not unwind into C either */
            }
        }
    }
    void run_hook(const std::function<void()> &hook) noexcept
    {
        try {
            hook();
        } catch (...) {
            report(std::current_exception());
        }
    }
};

/* One heap object per task: its pointer is the C task's arg. run() runs it
 * once (what it throws the trampoline reports); a task removed unrun gets
 * cancel() instead. Either way the trampoline then deletes it. */
struct task_base {
    shared_state *state;
    explicit task_base(shared_state *s) noexcept : state(s) {}
    virtual ~task_base() = default;
    virtual void run() = 0;
    virtual void cancel() noexcept {}
    task_base(const task_base &) = delete;
    task_base &operator=(const task_base &) = delete;
};

/* schedule / detach: the callable alone; what it throws is reported. */
template <class F> struct task final : task_base {
    F fn;
    template <class... G>
    explicit task(shared_state *s, G &&...g) : task_base(s), fn(std::forward<G>(g)...) {}
    void run() override { std::invoke(fn); }
};

/* submit: the callable and its promise; what it throws goes to the future.
 * The callable (and the arguments it holds) is destroyed before the future
 * is made ready, so whoever get()s it sees what they captured released. */
template <class R, class F> struct promise_task final : task_base {
    std::optional<F> fn;
    std::promise<R> promise;
    template <class... G>
    explicit promise_task(shared_state *s, G &&...g) : task_base(s), fn(std::in_place, std::forward<G>(g)...) {}
    void run() override
    {
        try {
            if constexpr (std::is_void_v<R>) {
                std::invoke(*fn);
                fn.reset();
                promise.set_value();
            } else {
                R result = std::invoke(*fn);
                fn.reset();
                promise.set_value(std::forward<R>(result));
            }
        } catch (...) {
            fn.reset();
            promise.set_exception(std::current_exception());
        }
    }
    void cancel() noexcept override
    {
        fn.reset();
        promise.set_exception(std::make_exception_ptr(cancelled{}));
    }
};

/* f and its arguments, decay-copied; called once, with them as rvalues
 * (as std::async and std::thread do). */
template <class F, class... A> struct bound {
    F fn;
    std::tuple<A...> args;
    template <class G, class... B>
    bound(std::in_place_t, G &&g, B &&...b) : fn(std::forward<G>(g)), args(std::forward<B>(b)...) {}
    decltype(auto) operator()() { return std::apply(std::move(fn), std::move(args)); }
};

template <class F, class... A> using bound_t = bound<std::decay_t<F>, std::decay_t<A>...>;
template <class F, class... A> using result_t = std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>;

template <class F, class... A> constexpr void check_submittable()
{
    static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<A>...>,
                  "a task must be callable with its arguments (as rvalues)");
    static_assert(std::is_constructible_v<std::decay_t<F>, F>, "a task must be movable or copyable into the pool");
    static_assert(std::conjunction_v<std::is_constructible<std::decay_t<A>, A>...>,
                  "a task's arguments must be movable or copyable into the pool");
}

/* A duration as the C calls' milliseconds: rounded up, 0 for a negative
 * one, and saturated (never UINT64_MAX, which means "for ever" to the C
 * calls: a duration is finite) instead of overflowing. */
template <class Rep, class Period> std::uint64_t to_ms(std::chrono::duration<Rep, Period> d) noexcept
{
    if (d <= d.zero())
        return 0;
    /* ~292 million years: beyond, milliseconds' int64 would overflow. */
    if (std::chrono::duration<long double, std::milli>(d).count() >= 9.0e18L)
        return UINT64_MAX - 1;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
    return ms <= 0 ? 1 : static_cast<std::uint64_t>(ms);
}

[[noreturn]] inline void throw_status(pool_status status, const char *what)
{
    throw std::system_error(to_error_code(status), what);
}

/* Hands t to the library through how(arg): on POOL_OK the trampoline owns
 * it (it may even have run already, inline); otherwise it is destroyed
 * here, in the calling thread. */
template <class How> pool_status hand_over(std::unique_ptr<task_base> t, How how)
{
    pool_status st = how(static_cast<void *>(t.get()));
    if (st == POOL_OK)
        (void)t.release();
    return st;
}

/* The shared part of pool::submit and group::submit. */
template <class How, class F, class... A>
std::future<result_t<F, A...>> submit(shared_state *s, How how, const char *what, F &&f, A &&...args)
{
    check_submittable<F, A...>();
    using R = result_t<F, A...>;
    auto t = std::make_unique<promise_task<R, bound_t<F, A...>>>(s, std::in_place, std::forward<F>(f),
                                                                 std::forward<A>(args)...);
    std::future<R> future = t->promise.get_future();
    pool_status st = hand_over(std::move(t), how);
    if (st != POOL_OK)
        throw_status(st, what); /* the task (and the future's state) are gone */
    return future;
}

/* The shared part of pool::detach and group::detach. */
template <class How, class F, class... A> void detach(shared_state *s, How how, const char *what, F &&f, A &&...args)
{
    check_submittable<F, A...>();
    pool_status st = hand_over(std::make_unique<task<bound_t<F, A...>>>(s, std::in_place, std::forward<F>(f),
                                                                        std::forward<A>(args)...),
                               how);
    if (st != POOL_OK)
        throw_status(st, what);
}

/* The shared part of pool::schedule* and group::schedule. */
template <class How, class F> std::error_code schedule(shared_state *s, How how, F &&f)
{
    using fn_type = std::decay_t<F>;
    static_assert(std::is_invocable_v<fn_type &>, "a task must be callable with no arguments");
    static_assert(std::is_constructible_v<fn_type, F>, "a task must be movable or copyable into the pool");
    return to_error_code(hand_over(std::make_unique<task<fn_type>>(s, std::forward<F>(f)), how));
}

/* A parallel loop's state, on the caller's stack: the body and the first
 * exception it threw. */
struct loop_base {
    std::atomic<bool> failed{false};
    std::exception_ptr error; /* written once, by the first chunk that threw */
    virtual void chunk(std::size_t begin, std::size_t end) = 0;
    void fail(std::exception_ptr e) noexcept
    {
        if (!failed.exchange(true, std::memory_order_acq_rel))
            error = std::move(e);
    }

protected:
    loop_base() = default;
    ~loop_base() = default;
};

template <class F> inline constexpr bool chunk_form = std::is_invocable_v<F &, std::size_t, std::size_t>;
template <class F> inline constexpr bool index_form = std::is_invocable_v<F &, std::size_t>;

template <class F> constexpr void check_loop_body()
{
    static_assert(chunk_form<F> || index_form<F>,
                  "a loop body is callable as f(std::size_t index) or as f(std::size_t begin, std::size_t end)");
    static_assert(!(chunk_form<F> && index_form<F>),
                  "a loop body callable both as f(index) and as f(begin, end) is ambiguous: wrap it in a lambda "
                  "taking one or two std::size_t");
}

template <class F> struct loop final : loop_base {
    F &fn;
    explicit loop(F &f) noexcept : fn(f) {}
    void chunk(std::size_t begin, std::size_t end) override
    {
        if constexpr (chunk_form<F>) {
            std::invoke(fn, begin, end);
        } else {
            for (std::size_t i = begin; i < end; i++)
                std::invoke(fn, i);
        }
    }
};

} // namespace detail
} // namespace workerpool

/* The functions the C library calls: C linkage, and nothing escapes them. */
extern "C" {
inline void workerpool_hpp_run_task(void *arg) noexcept
{
    std::unique_ptr<workerpool::detail::task_base> t(static_cast<workerpool::detail::task_base *>(arg));
    try {
        t->run();
    } catch (...) {
        t->state->report(std::current_exception());
    }
    /* t's destructor destroys the callable; destructors are noexcept, so a
     * throwing one terminates here instead of unwinding into the library. */
}
/* on_cancel for pool_cancel_queued / pool_shutdown: a task of this header
 * (recognized by its trampoline) is cancelled and freed; any other is
 * left as it is (its arg is not ours). */
inline void workerpool_hpp_cancel_task(pool_task_fn task, void *arg, void *ctx) noexcept
{
    (void)ctx;
    if (task != workerpool_hpp_run_task)
        return;
    std::unique_ptr<workerpool::detail::task_base> t(static_cast<workerpool::detail::task_base *>(arg));
    t->cancel();
}
/* A parallel loop's body: runs one chunk unless a chunk already threw;
 * catches what this one throws. */
inline void workerpool_hpp_run_chunk(void *ctx, size_t begin, size_t end) noexcept
{
    auto *l = static_cast<workerpool::detail::loop_base *>(ctx);
    if (l->failed.load(std::memory_order_relaxed))
        return;
    try {
        l->chunk(begin, end);
    } catch (...) {
        l->fail(std::current_exception());
    }
}
inline void workerpool_hpp_thread_start(void *ctx) noexcept
{
    auto *s = static_cast<workerpool::detail::shared_state *>(ctx);
    s->run_hook(s->on_thread_start);
}
inline void workerpool_hpp_thread_exit(void *ctx) noexcept
{
    auto *s = static_cast<workerpool::detail::shared_state *>(ctx);
    s->run_hook(s->on_thread_exit);
}
} // extern "C"

namespace workerpool {
namespace detail {

/* pool_parallel_for through the chunk trampoline; rethrows the body's first
 * exception. serial_when_freed (submit_loop): a loop task the pool
 * accepted and runs while it closes (pool_free, a draining shutdown) finds
 * pool_parallel_for refusing (POOL_ERR_FREED); it then runs every chunk on
 * this thread, as the pool runs every accepted task. */
template <class F>
void parallel_for(pool_t *handle, std::size_t begin, std::size_t end, F &f, std::size_t grain, bool serial_when_freed)
{
    loop<F> l(f);
    void *ctx = static_cast<void *>(static_cast<loop_base *>(&l));
    pool_status st = pool_parallel_for(handle, begin, end, grain, workerpool_hpp_run_chunk, ctx);
    if (st == POOL_ERR_FREED && serial_when_freed && begin <= end) {
        const std::size_t step = grain ? grain : end - begin;
        for (std::size_t b = begin; b < end;) {
            const std::size_t e = end - b > step ? b + step : end;
            workerpool_hpp_run_chunk(ctx, b, e);
            b = e;
        }
        st = POOL_OK;
    }
    if (st != POOL_OK)
        throw_status(st, "workerpool::pool::parallel_for");
    if (l.error)
        std::rethrow_exception(l.error);
}

} // namespace detail

/**
 * Pool options as a builder: workerpool::options{}.capacity(8).block(false).
 * Plain values, copied into the pool when it is made; the defaults are the
 * C library's. Validation happens in the pool constructor / pool::create.
 */
class options {
public:
    /** Maximum workers: <= 0 gives 100, above 10000 gives 10000. Default 0 (100). */
    options &capacity(int n) { capacity_ = n; return *this; }
    /** Whether schedule() waits for room (default true) or returns errc::no_idle_worker. */
    options &block(bool b) { block_ = b; return *this; }
    /** Start every worker in the constructor (default false: on demand). */
    options &prealloc(bool b) { prealloc_ = b; return *this; }
    /** Tasks that may wait once every worker is busy: 0 (default) hand-off, workerpool::unbounded. */
    options &queue_size(std::size_t n) { queue_size_ = n; return *this; }
    /** Idle workers exit after this long; 0 (default): never. */
    options &idle_timeout(std::chrono::milliseconds ms) { idle_timeout_ = ms; return *this; }
    /** Worker stack size in bytes; 0 (default): platform default. */
    options &stack_size(std::size_t bytes) { stack_size_ = bytes; return *this; }
    /** Threads are named "<prefix>-<n>" (default "workerpool"); must not be empty. */
    options &thread_name(std::string prefix) { thread_name_ = std::move(prefix); has_name_ = true; return *this; }
    /** Runs on each worker thread before its first task. */
    options &on_thread_start(std::function<void()> f) { on_thread_start_ = std::move(f); return *this; }
    /** Runs on each worker thread after its last task. */
    options &on_thread_exit(std::function<void()> f) { on_thread_exit_ = std::move(f); return *this; }
    /** Receives what a task (or hook) threw; see the top of this header. */
    options &on_exception(exception_handler f) { on_exception_ = std::move(f); return *this; }

private:
    friend class pool;
    int capacity_ = 0;
    bool block_ = true;
    bool prealloc_ = false;
    std::size_t queue_size_ = 0;
    std::chrono::milliseconds idle_timeout_{0};
    std::size_t stack_size_ = 0;
    std::string thread_name_;
    bool has_name_ = false;
    std::function<void()> on_thread_start_;
    std::function<void()> on_thread_exit_;
    exception_handler on_exception_;
};

/** A snapshot of the pool's counters (the C struct, 0.2 fields included; see workerpool.h). */
using stats = pool_stats;

class group;

/**
 * An owned pool_t: RAII, move-only. The destructor is close(): it runs every
 * accepted task and joins the workers.
 */
class pool {
public:
    /** A pool with the default options (capacity 100, blocking, lazy). Throws as documented above. */
    pool() : pool(options{}) {}

    /** Throws std::system_error when the pool cannot be made (see the top of this header). */
    explicit pool(const options &opts)
    {
        std::error_code ec = open(opts);
        if (ec)
            throw std::system_error(ec, "workerpool::pool");
    }

    /** Like the constructor, but on failure returns an empty pool (valid() false) and sets ec. */
    static pool create(const options &opts, std::error_code &ec)
    {
        pool p{empty_tag{}};
        ec = p.open(opts);
        return p;
    }

    pool(pool &&other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)), state_(std::move(other.state_))
    {
    }

    /** Closes this pool (as the destructor does), then takes other's. */
    pool &operator=(pool &&other) noexcept
    {
        if (this != &other) {
            release();
            handle_ = std::exchange(other.handle_, nullptr);
            state_ = std::move(other.state_);
        }
        return *this;
    }

    pool(const pool &) = delete;
    pool &operator=(const pool &) = delete;

    ~pool() { release(); }

    /** Whether this object owns a live pool (false once moved from or closed). */
    bool valid() const noexcept { return handle_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }

    /** The C handle, still owned by this object (nullptr when not valid()). */
    pool_t *native_handle() const noexcept { return handle_; }

    /** pool_schedule: waits for room if the pool blocks. */
    template <class F> [[nodiscard]] std::error_code schedule(F &&f)
    {
        if (!handle_)
            return make_error_code(errc::invalid);
        pool_t *h = handle_;
        return detail::schedule(state_.get(), [h](void *arg) { return pool_schedule(h, workerpool_hpp_run_task, arg); },
                                std::forward<F>(f));
    }

    /** pool_try_schedule: never waits (errc::no_idle_worker when full). */
    template <class F> [[nodiscard]] std::error_code try_schedule(F &&f)
    {
        if (!handle_)
            return make_error_code(errc::invalid);
        pool_t *h = handle_;
        return detail::schedule(state_.get(),
                                [h](void *arg) { return pool_try_schedule(h, workerpool_hpp_run_task, arg); },
                                std::forward<F>(f));
    }

    /** pool_schedule_timeout: waits at most `timeout` (errc::timeout). */
    template <class Rep, class Period, class F>
    [[nodiscard]] std::error_code schedule_for(std::chrono::duration<Rep, Period> timeout, F &&f)
    {
        if (!handle_)
            return make_error_code(errc::invalid);
        pool_t *h = handle_;
        std::uint64_t t = detail::to_ms(timeout);
        return detail::schedule(state_.get(),
                                [h, t](void *arg) { return pool_schedule_timeout(h, workerpool_hpp_run_task, arg, t); },
                                std::forward<F>(f));
    }

    /**
     * Runs f(args...) on a worker (pool_schedule: waits for room if the
     * pool blocks) and returns its result, or what it threw, through a
     * std::future (see Futures, top of this header). A cancelled task's
     * future throws workerpool::cancelled. Throws std::system_error when
     * the pool refuses the task (errc::no_idle_worker, errc::freed, ...).
     */
    template <class F, class... A>
    [[nodiscard]] std::future<detail::result_t<F, A...>> submit(F &&f, A &&...args)
    {
        return detail::submit(state_.get(), scheduler("workerpool::pool::submit"), "workerpool::pool::submit",
                              std::forward<F>(f), std::forward<A>(args)...);
    }

    /**
     * Fire-and-forget: submit without a future. What f throws is counted and
     * given to on_exception, as for schedule(). Throws std::system_error
     * when the pool refuses the task.
     */
    template <class F, class... A> void detach(F &&f, A &&...args)
    {
        detail::detach(state_.get(), scheduler("workerpool::pool::detach"), "workerpool::pool::detach",
                       std::forward<F>(f), std::forward<A>(args)...);
    }

    /**
     * pool_parallel_for over [begin, end): f(b, e) per chunk or f(i) per
     * index (see Loops, top of this header), called by reference from this
     * thread and the workers at once; returns when every chunk has run.
     * grain: indices per chunk (0: the pool chooses). Rethrows the first
     * exception f threw (the remaining chunks are skipped); throws
     * std::system_error for a status (errc::invalid: begin > end or no
     * pool; errc::freed; errc::forked). Safe from a task of this pool.
     */
    template <class F> void parallel_for(std::size_t begin, std::size_t end, F &&f, std::size_t grain = 0)
    {
        detail::check_loop_body<std::remove_reference_t<F>>();
        if (!handle_)
            detail::throw_status(POOL_ERR_INVALID, "workerpool::pool::parallel_for");
        detail::parallel_for(handle_, begin, end, f, grain, false);
    }

    /**
     * parallel_for(begin, end, f, grain) as one task of this pool, which
     * owns f (decay-copied); the future is ready when every chunk has run,
     * and throws what parallel_for would have thrown (workerpool::cancelled
     * if the task was cancelled before it started). Throws std::system_error
     * at once when the pool refuses the task or begin > end.
     *
     * Why one task that calls parallel_for, and not the chunks as tasks of a
     * group: pool_parallel_for already chunks the range, caps its helpers
     * at the CPUs, skips a helper that starts late, and is safe on a worker
     * (nested loops do not deadlock); the task's worker is the loop's
     * calling thread, so it computes instead of waiting. The future then
     * comes from the same one heap object as any submit, is made ready by
     * the thread that saw the loop end, and cancellation and exceptions
     * follow submit's rules. A group would need a task per chunk and a
     * completion count to fulfil the promise from the last chunk, all of
     * which pool_parallel_for does already. One difference from
     * parallel_for: a loop task that the pool runs while it is closing
     * (the destructor, or a draining shutdown: pool_parallel_for then
     * refuses, errc::freed) runs every chunk on its worker, in order, since
     * the pool accepted it.
     */
    template <class F>
    [[nodiscard]] std::future<void> submit_loop(std::size_t begin, std::size_t end, F &&f, std::size_t grain = 0)
    {
        using fn_type = std::decay_t<F>;
        detail::check_loop_body<fn_type>();
        static_assert(std::is_constructible_v<fn_type, F>, "a loop body must be movable or copyable into the pool");
        if (!handle_ || begin > end)
            detail::throw_status(POOL_ERR_INVALID, "workerpool::pool::submit_loop");
        pool_t *h = handle_;
        return submit([h, begin, end, grain, fn = fn_type(std::forward<F>(f))]() mutable {
            detail::parallel_for(h, begin, end, fn, grain, true);
        });
    }

    /** pool_wait: every task accepted before the call has finished (tasks
     *  scheduled meanwhile are not waited for). */
    [[nodiscard]] std::error_code wait() noexcept
    {
        return handle_ ? to_error_code(pool_wait(handle_)) : make_error_code(errc::invalid);
    }

    /** pool_wait_timeout: as wait(), for at most `timeout` (errc::timeout;
     *  zero polls). */
    template <class Rep, class Period>
    [[nodiscard]] std::error_code wait_for(std::chrono::duration<Rep, Period> timeout) noexcept
    {
        return handle_ ? to_error_code(pool_wait_timeout(handle_, detail::to_ms(timeout)))
                       : make_error_code(errc::invalid);
    }

    /** As wait_for(deadline - Clock::now()): errc::timeout once the deadline
     *  has passed with tasks still running (a past deadline polls). */
    template <class Clock, class Duration>
    [[nodiscard]] std::error_code wait_until(const std::chrono::time_point<Clock, Duration> &deadline) noexcept
    {
        return wait_for(deadline - Clock::now());
    }

    /** pool_set_capacity (same clamping as the constructor). */
    [[nodiscard]] std::error_code set_capacity(int capacity) noexcept
    {
        return handle_ ? to_error_code(pool_set_capacity(handle_, capacity)) : make_error_code(errc::invalid);
    }

    /**
     * pool_pause: workers start no task until resume() (running ones
     * finish). Schedules are accepted while the queue has room, so on a
     * hand-off pool (queue_size 0) they block, time out or are refused as on
     * a full pool; wait() waits meanwhile (use wait_for). errc::freed once
     * closing began.
     */
    [[nodiscard]] std::error_code pause() noexcept
    {
        return handle_ ? to_error_code(pool_pause(handle_)) : make_error_code(errc::invalid);
    }

    /** pool_resume: workers take the queued tasks again, in order. */
    [[nodiscard]] std::error_code resume() noexcept
    {
        return handle_ ? to_error_code(pool_resume(handle_)) : make_error_code(errc::invalid);
    }

    /**
     * pool_cancel_queued: removes every task accepted and not yet started
     * (none in hand-off mode) and returns how many. This header's tasks are
     * freed before it returns, and their futures throw workerpool::cancelled
     * (see Cancellation, top of this header). Throws std::system_error for
     * a status (errc::freed once the destructor or close() began).
     */
    std::uint64_t cancel_queued()
    {
        std::error_code ec;
        std::uint64_t n = cancel_queued(ec);
        if (ec)
            throw std::system_error(ec, "workerpool::pool::cancel_queued");
        return n;
    }

    /** As cancel_queued(), reporting a status through ec (0 cancelled then). */
    std::uint64_t cancel_queued(std::error_code &ec) noexcept
    {
        std::uint64_t n = 0;
        ec = handle_ ? to_error_code(pool_cancel_queued(handle_, workerpool_hpp_cancel_task, nullptr, &n))
                     : make_error_code(errc::invalid);
        return ec ? 0 : n;
    }

    /**
     * pool_shutdown: stops accepting (schedulers, blocked ones too, get
     * errc::freed), then shutdown_mode::drain lets the queued tasks run and
     * shutdown_mode::cancel removes them as cancel_queued() does (their
     * futures throw workerpool::cancelled); then waits at most `timeout`
     * for the running tasks and the workers. Empty error_code: every worker
     * is joined; errc::timeout: some task still runs (nothing is killed;
     * call it again to wait longer, or with cancel to remove what a drain
     * left); errc::deadlock from a task of this pool (nothing done). The
     * pool stays valid() until destroyed or closed. `report`, when given,
     * gets what this call cancelled and what still ran or waited.
     */
    template <class Rep, class Period>
    [[nodiscard]] std::error_code shutdown(shutdown_mode mode, std::chrono::duration<Rep, Period> timeout,
                                           shutdown_report &report) noexcept
    {
        return shutdown_ms(mode, detail::to_ms(timeout), &report);
    }

    /** As above, without a report. */
    template <class Rep, class Period>
    [[nodiscard]] std::error_code shutdown(shutdown_mode mode, std::chrono::duration<Rep, Period> timeout) noexcept
    {
        return shutdown_ms(mode, detail::to_ms(timeout), nullptr);
    }

    /** As above, waiting for ever (drain by default). */
    [[nodiscard]] std::error_code shutdown(shutdown_mode mode = shutdown_mode::drain) noexcept
    {
        return shutdown_ms(mode, UINT64_MAX, nullptr);
    }

    /** pool_get_stats_sized: every field, 0.2's cancelled and paused included;
     *  all zero when not valid(). */
    stats get_stats() const noexcept
    {
        stats s{};
        pool_get_stats_sized(handle_, &s, sizeof s);
        return s;
    }

    /** Exceptions thrown by schedule/detach tasks and by hooks so far
     *  (caught, never propagated; submit's go to their futures instead). */
    std::uint64_t exceptions() const noexcept
    {
        return state_ ? state_->exceptions.load(std::memory_order_relaxed) : 0;
    }

    /**
     * pool_free now: refuses new tasks, runs the accepted ones, joins the
     * workers. Afterwards valid() is false. errc::deadlock from one of the
     * pool's own tasks (the pool is then untouched); errc::invalid if not valid().
     */
    [[nodiscard]] std::error_code close() noexcept
    {
        if (!handle_)
            return make_error_code(errc::invalid);
        pool_status st = pool_free(handle_);
        if (st != POOL_OK)
            return to_error_code(st);
        handle_ = nullptr;
        state_.reset();
        return {};
    }

private:
    friend class group;
    struct empty_tag {};
    explicit pool(empty_tag) noexcept {}

    std::error_code open(const options &o)
    {
        auto state = std::make_unique<detail::shared_state>();
        state->on_exception = o.on_exception_;
        state->on_thread_start = o.on_thread_start_;
        state->on_thread_exit = o.on_thread_exit_;

        std::unique_ptr<pool_options_t, void (*)(pool_options_t *)> c(pool_options_new(), pool_options_free);
        if (!c)
            return std::error_code(ENOMEM, std::generic_category());
        const auto ms = o.idle_timeout_.count();
        pool_status st = POOL_OK;
        auto set = [&st](pool_status s) { if (st == POOL_OK) st = s; };
        set(pool_options_set_block(c.get(), o.block_));
        set(pool_options_set_prealloc(c.get(), o.prealloc_));
        set(pool_options_set_queue_size(c.get(), o.queue_size_));
        set(ms < 0 ? POOL_ERR_INVALID : pool_options_set_idle_timeout_ms(c.get(), static_cast<std::uint64_t>(ms)));
        set(pool_options_set_stack_size(c.get(), o.stack_size_));
        if (o.has_name_)
            set(pool_options_set_thread_name(c.get(), o.thread_name_.c_str()));
        if (o.on_thread_start_ || o.on_thread_exit_)
            set(pool_options_set_thread_hooks(c.get(),
                                              o.on_thread_start_ ? workerpool_hpp_thread_start : nullptr,
                                              o.on_thread_exit_ ? workerpool_hpp_thread_exit : nullptr,
                                              state.get()));
        if (st != POOL_OK)
            return to_error_code(st);

        errno = 0;
        pool_t *p = pool_new(o.capacity_, c.get());
        if (!p) {
            int e = errno;
            return std::error_code(e ? e : EAGAIN, std::generic_category());
        }
        handle_ = p;
        state_ = std::move(state);
        return {};
    }

    /* pool_schedule on this pool, for submit and detach (which throw). */
    auto scheduler(const char *what) const
    {
        if (!handle_)
            detail::throw_status(POOL_ERR_INVALID, what);
        pool_t *h = handle_;
        return [h](void *arg) { return pool_schedule(h, workerpool_hpp_run_task, arg); };
    }

    std::error_code shutdown_ms(shutdown_mode mode, std::uint64_t ms, shutdown_report *report) noexcept
    {
        if (report)
            *report = shutdown_report{};
        if (!handle_)
            return make_error_code(errc::invalid);
        return to_error_code(pool_shutdown(handle_, static_cast<pool_shutdown_mode>(mode), ms,
                                           workerpool_hpp_cancel_task, nullptr, report));
    }

    void release() noexcept
    {
        if (handle_ && close()) {
            /* Destroyed from one of its own tasks: pool_free refused
             * (deadlock). Leak the pool and its state rather than hang or
             * free memory that running tasks still use. */
            handle_ = nullptr;
            (void)state_.release();
        }
    }

    pool_t *handle_ = nullptr;
    std::unique_ptr<detail::shared_state> state_;
};

/**
 * An owned pool_group_t: a set of a pool's tasks that can be waited for
 * while the pool serves others. RAII, move-only; the destructor waits for
 * the group's tasks (pool_group_free). Tasks go to the group's pool,
 * counted in the group; exceptions from detach/schedule tasks go to the
 * pool's on_exception, as for the pool's own. Cancelling the pool's queue
 * cancels queued group tasks too (their futures throw
 * workerpool::cancelled). A group may outlive its pool object: once the
 * pool is closed its submits throw, and its schedules return, errc::freed.
 * Any thread may use a group, tasks included (a task of the group may add
 * to it), until it is destroyed or moved from.
 */
class group {
public:
    /** A group on `p` (pool_group_new). Throws std::system_error: errc::invalid
     *  (p not valid()), errc::freed (p is shutting down), errc::forked, or a
     *  std::generic_category() errno (ENOMEM). */
    explicit group(pool &p)
    {
        std::error_code ec = open(p);
        if (ec)
            throw std::system_error(ec, "workerpool::group");
    }

    /** Like the constructor, but on failure returns an empty group (valid() false) and sets ec. */
    static group create(pool &p, std::error_code &ec)
    {
        group g{empty_tag{}};
        ec = g.open(p);
        return g;
    }

    group(group &&other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)), state_(std::exchange(other.state_, nullptr))
    {
    }

    /** Waits for and frees this group (as the destructor does), then takes other's. */
    group &operator=(group &&other) noexcept
    {
        if (this != &other) {
            release();
            handle_ = std::exchange(other.handle_, nullptr);
            state_ = std::exchange(other.state_, nullptr);
        }
        return *this;
    }

    group(const group &) = delete;
    group &operator=(const group &) = delete;

    /** Waits for the group's tasks, then frees it. From a task of this very
     *  group (errc::deadlock) it leaks the group instead of hanging. */
    ~group() { release(); }

    bool valid() const noexcept { return handle_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }

    /** The C handle, still owned by this object (nullptr when not valid()). */
    pool_group_t *native_handle() const noexcept { return handle_; }

    /** pool::submit, counted in the group (pool_group_schedule). */
    template <class F, class... A>
    [[nodiscard]] std::future<detail::result_t<F, A...>> submit(F &&f, A &&...args)
    {
        return detail::submit(state_, scheduler("workerpool::group::submit"), "workerpool::group::submit",
                              std::forward<F>(f), std::forward<A>(args)...);
    }

    /** pool::detach, counted in the group. */
    template <class F, class... A> void detach(F &&f, A &&...args)
    {
        detail::detach(state_, scheduler("workerpool::group::detach"), "workerpool::group::detach",
                       std::forward<F>(f), std::forward<A>(args)...);
    }

    /** pool::schedule, counted in the group: an error_code, never throws for a status. */
    template <class F> [[nodiscard]] std::error_code schedule(F &&f)
    {
        if (!handle_)
            return make_error_code(errc::invalid);
        pool_group_t *g = handle_;
        return detail::schedule(state_, [g](void *arg) { return pool_group_schedule(g, workerpool_hpp_run_task, arg); },
                                std::forward<F>(f));
    }

    /** pool_group_wait for ever: every task of the group accepted before the
     *  call has finished or was cancelled. errc::deadlock from a task of this
     *  group. From a worker of the pool, the worker runs queued tasks meanwhile. */
    [[nodiscard]] std::error_code wait() noexcept { return wait_ms(UINT64_MAX); }

    /** As wait(), for at most `timeout` (errc::timeout; zero polls). */
    template <class Rep, class Period>
    [[nodiscard]] std::error_code wait_for(std::chrono::duration<Rep, Period> timeout) noexcept
    {
        return wait_ms(detail::to_ms(timeout));
    }

    /** As wait_for(deadline - Clock::now()). */
    template <class Clock, class Duration>
    [[nodiscard]] std::error_code wait_until(const std::chrono::time_point<Clock, Duration> &deadline) noexcept
    {
        return wait_for(deadline - Clock::now());
    }

    /**
     * pool_group_fd: an eventfd owned by the group (do not close it), made
     * readable each time the group's pending count drops to 0; read its 8
     * bytes to clear it, then check wait_for(0ms). Throws std::system_error
     * (errc::invalid when not valid(); else the errno, generic_category).
     */
    int fd() const
    {
        if (!handle_)
            detail::throw_status(POOL_ERR_INVALID, "workerpool::group::fd");
        errno = 0;
        int n = pool_group_fd(handle_);
        if (n < 0) {
            int e = errno;
            throw std::system_error(e ? e : EINVAL, std::generic_category(), "workerpool::group::fd");
        }
        return n;
    }

    /** pool_group_get_stats; all zero when not valid(). */
    group_stats get_stats() const noexcept
    {
        group_stats s{};
        pool_group_get_stats(handle_, &s, sizeof s);
        return s;
    }

    /** pool_group_free now (waits for the group's tasks); afterwards valid()
     *  is false. errc::deadlock from a task of this group (untouched). */
    [[nodiscard]] std::error_code close() noexcept
    {
        if (!handle_)
            return make_error_code(errc::invalid);
        pool_status st = pool_group_free(handle_);
        if (st != POOL_OK)
            return to_error_code(st);
        handle_ = nullptr;
        state_ = nullptr;
        return {};
    }

private:
    struct empty_tag {};
    explicit group(empty_tag) noexcept {}

    std::error_code open(pool &p) noexcept
    {
        if (!p.handle_)
            return make_error_code(errc::invalid);
        errno = 0;
        pool_group_t *g = pool_group_new(p.handle_);
        if (!g) {
            switch (int e = errno) {
            case EINVAL: return make_error_code(errc::invalid);
            case ECANCELED: return make_error_code(errc::freed);
            case ECHILD: return make_error_code(errc::forked);
            default: return std::error_code(e ? e : ENOMEM, std::generic_category());
            }
        }
        handle_ = g;
        state_ = p.state_.get(); /* outlives every task of the group: pool_free runs them all first */
        return {};
    }

    auto scheduler(const char *what) const
    {
        if (!handle_)
            detail::throw_status(POOL_ERR_INVALID, what);
        pool_group_t *g = handle_;
        return [g](void *arg) { return pool_group_schedule(g, workerpool_hpp_run_task, arg); };
    }

    std::error_code wait_ms(std::uint64_t ms) noexcept
    {
        return handle_ ? to_error_code(pool_group_wait(handle_, ms)) : make_error_code(errc::invalid);
    }

    void release() noexcept
    {
        if (handle_ && close()) {
            /* Destroyed from one of its own tasks: leak it rather than hang. */
            handle_ = nullptr;
            state_ = nullptr;
        }
    }

    pool_group_t *handle_ = nullptr;
    detail::shared_state *state_ = nullptr;
};

} // namespace workerpool

#endif /* WORKERPOOL_HPP */
