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
 * Error handling (one rule):
 *   Every member that can fail returns a std::error_code, never throws for a
 *   pool status: compare it with workerpool::errc (its category is
 *   workerpool::category(); message() is pool_strerror's text). An empty
 *   error_code means success. Functions that return an error_code are
 *   [[nodiscard]].
 *   The only exceptions this header throws are:
 *     - from the throwing constructor pool(options): std::system_error, whose
 *       code() is either workerpool::errc::invalid (an option the library
 *       refused) or a std::generic_category() errno from pool_new (ENOMEM,
 *       EAGAIN: a preallocated thread could not start). pool::create()
 *       reports the same errors through an error_code instead;
 *     - std::bad_alloc when a task's callable cannot be heap-allocated, and
 *       whatever the callable's own move/copy constructor throws, from
 *       schedule*(): then nothing was scheduled and nothing leaks.
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
 * Threads: a pool's members may be called from any thread, tasks included,
 * until it is destroyed, closed or moved from, as for the C API. Destroying
 * (or close()-ing) a pool from one of its own tasks is refused
 * (errc::deadlock); the destructor then leaks the pool instead of hanging.
 * A moved-from or closed pool returns errc::invalid from every call.
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
#include <memory>
#include <new>
#include <string>
#include <system_error>
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

struct task_base {
    shared_state *state;
    explicit task_base(shared_state *s) noexcept : state(s) {}
    virtual ~task_base() = default;
    virtual void run() = 0;
    task_base(const task_base &) = delete;
    task_base &operator=(const task_base &) = delete;
};

template <class F> struct task final : task_base {
    F fn;
    template <class G>
    task(shared_state *s, G &&g) : task_base(s), fn(std::forward<G>(g)) {}
    void run() override { std::invoke(fn); }
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

/** A snapshot of the pool's counters (the C struct; see workerpool.h). */
using stats = pool_stats;

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
        return submit(std::forward<F>(f), [](pool_t *p, void *arg) { return pool_schedule(p, workerpool_hpp_run_task, arg); });
    }

    /** pool_try_schedule: never waits (errc::no_idle_worker when full). */
    template <class F> [[nodiscard]] std::error_code try_schedule(F &&f)
    {
        return submit(std::forward<F>(f), [](pool_t *p, void *arg) { return pool_try_schedule(p, workerpool_hpp_run_task, arg); });
    }

    /** pool_schedule_timeout: waits at most `timeout` (errc::timeout). */
    template <class Rep, class Period, class F>
    [[nodiscard]] std::error_code schedule_for(std::chrono::duration<Rep, Period> timeout, F &&f)
    {
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
        std::uint64_t t = ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
        return submit(std::forward<F>(f), [t](pool_t *p, void *arg) { return pool_schedule_timeout(p, workerpool_hpp_run_task, arg, t); });
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
        if (!handle_)
            return make_error_code(errc::invalid);
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
        std::uint64_t t = ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
        // UINT64_MAX means "for ever" to the C call; a duration is finite.
        return to_error_code(pool_wait_timeout(handle_, t == UINT64_MAX ? t - 1 : t));
    }

    /** pool_set_capacity (same clamping as the constructor). */
    [[nodiscard]] std::error_code set_capacity(int capacity) noexcept
    {
        return handle_ ? to_error_code(pool_set_capacity(handle_, capacity)) : make_error_code(errc::invalid);
    }

    /** pool_get_stats; all zero when not valid(). */
    stats get_stats() const noexcept
    {
        stats s{};
        pool_get_stats(handle_, &s);
        return s;
    }

    /** Exceptions thrown by tasks and hooks so far (caught, never propagated). */
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

    template <class F, class Submit> std::error_code submit(F &&f, Submit how)
    {
        using fn_type = std::decay_t<F>;
        static_assert(std::is_invocable_v<fn_type &>, "a task must be callable with no arguments");
        static_assert(std::is_constructible_v<fn_type, F>, "a task must be movable or copyable into the pool");
        if (!handle_)
            return make_error_code(errc::invalid);
        /* Owned here until the pool accepts it; freed here if it does not. */
        auto t = std::make_unique<detail::task<fn_type>>(state_.get(), std::forward<F>(f));
        detail::task_base *raw = t.get();
        pool_status st = how(handle_, static_cast<void *>(raw));
        if (st == POOL_OK)
            (void)t.release(); /* the trampoline owns it now (it may even have run already) */
        return to_error_code(st);
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

} // namespace workerpool

#endif /* WORKERPOOL_HPP */
