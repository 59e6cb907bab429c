package workerpool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Tasks never call t.Fatal (runtime.Goexit must not run in a task, which
// runs inside a cgo callback): they record, the test goroutine checks.

func newPool(t *testing.T, capacity int, opts ...Option) *Pool {
	t.Helper()
	p, err := New(capacity, opts...)
	if err != nil {
		t.Fatalf("New(%d): %v", capacity, err)
	}
	t.Cleanup(func() { _ = p.Free() })
	return p
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// gate holds tasks until opened; started counts the tasks that reached it.
type gate struct {
	open    chan struct{}
	started chan struct{}
	once    sync.Once
}

func newGate() *gate {
	return &gate{open: make(chan struct{}), started: make(chan struct{}, 1000)}
}

func (g *gate) task() {
	g.started <- struct{}{}
	<-g.open
}

func (g *gate) waitStarted(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-g.started:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d gated tasks started", i, n)
		}
	}
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func TestVersion(t *testing.T) {
	v := Version()
	if strings.Count(v, ".") != 2 {
		t.Fatalf("Version() = %q, want MAJOR.MINOR.PATCH", v)
	}
}

func TestScheduleRunsEveryTaskOnce(t *testing.T) {
	p := newPool(t, 4)
	const n = 1000
	var ran [n]int32
	for i := 0; i < n; i++ {
		i := i
		must(t, "Schedule", p.Schedule(func() { atomic.AddInt32(&ran[i], 1) }))
	}
	must(t, "Wait", p.Wait())
	for i, r := range ran {
		if r != 1 {
			t.Fatalf("task %d ran %d times", i, r)
		}
	}
	s := p.Stats()
	if s.Submitted != n || s.Completed != n || s.Rejected != 0 || s.Capacity != 4 || s.Workers > 4 {
		t.Fatalf("stats %+v", s)
	}
}

// Plain memory written by tasks is visible after Wait (also to the race
// detector: go test -race).
func TestWaitMakesTaskWritesVisible(t *testing.T) {
	p := newPool(t, 3, WithQueueSize(Unbounded))
	results := make([]int, 100)
	for i := range results {
		i := i
		must(t, "Schedule", p.Schedule(func() { results[i] = i * i }))
	}
	must(t, "Wait", p.Wait())
	for i, r := range results {
		if r != i*i {
			t.Fatalf("results[%d] = %d", i, r)
		}
	}
}

func TestNewClampsCapacity(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, DefaultCapacity}, {-5, DefaultCapacity}, {7, 7}, {MaxCapacity + 1, MaxCapacity}, {1 << 40, MaxCapacity}} {
		p := newPool(t, c.in)
		if got := p.Capacity(); got != c.want {
			t.Fatalf("New(%d).Capacity() = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestInvalidOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"WithQueueSize(-2)":       WithQueueSize(-2),
		"WithIdleTimeout(-1)":     WithIdleTimeout(-1),
		"WithStackSize(-1)":       WithStackSize(-1),
		"WithStackSize(2 TiB)":    WithStackSize(2 << 40),
		`WithName("")`:            WithName(""),
		`WithName("a\x00b")`:      WithName("a\x00b"),
		`WithName(invalid UTF-8)`: WithName("\xff\xfe"),
	} {
		p, err := New(2, WithBlock(false), opt)
		if p != nil || !errors.Is(err, ErrInvalid) {
			t.Fatalf("New with %s: %v, %v; want ErrInvalid", name, p, err)
		}
	}
}

func TestWithNameNamesThreads(t *testing.T) {
	p := newPool(t, 2, WithName("gotest"))
	var comm []byte
	var err error
	must(t, "Schedule", p.Schedule(func() {
		// A cgo callback stays on the C thread that called it.
		comm, err = os.ReadFile("/proc/thread-self/comm")
	}))
	must(t, "Wait", p.Wait())
	if err != nil {
		t.Skipf("no /proc/thread-self: %v", err)
	}
	if got := strings.TrimSpace(string(comm)); !strings.HasPrefix(got, "gotest-") {
		t.Fatalf("thread name %q, want gotest-<n>", got)
	}
}

func TestPreAllocAndStackSize(t *testing.T) {
	p := newPool(t, 3, WithPreAllocWorkers(true), WithStackSize(256<<10))
	if s := p.Stats(); s.Workers != 3 {
		t.Fatalf("a preallocated pool of 3 has %d workers", s.Workers)
	}
	done := make(chan struct{})
	must(t, "Schedule", p.Schedule(func() { close(done) }))
	<-done
}

func TestIdleTimeoutRetiresWorkers(t *testing.T) {
	p := newPool(t, 2, WithIdleTimeout(10*time.Millisecond))
	must(t, "Schedule", p.Schedule(func() {}))
	must(t, "Wait", p.Wait())
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Workers != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("workers never expired: %+v", p.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	must(t, "Schedule after expiry", p.Schedule(func() {}))
	must(t, "Wait", p.Wait())
}

// The original's demo2: a non-blocking pool refuses instead of waiting,
// and only below capacity starts a worker for the task.
func TestNonBlockingPoolRefuses(t *testing.T) {
	p := newPool(t, 2, WithBlock(false))
	g := newGate()
	defer g.release()
	must(t, "Schedule 1", p.Schedule(g.task))
	must(t, "Schedule 2", p.Schedule(g.task))
	wantErr(t, "Schedule 3", p.Schedule(g.task), ErrNoIdleWorkerInPool)
	g.waitStarted(t, 2)
	g.release()
	must(t, "Wait", p.Wait())
	if s := p.Stats(); s.Submitted != 2 || s.Completed != 2 || s.Rejected != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTryScheduleAndScheduleTimeoutOnAFullPool(t *testing.T) {
	p := newPool(t, 1) // blocking
	g := newGate()
	defer g.release()
	must(t, "Schedule", p.Schedule(g.task))
	g.waitStarted(t, 1)
	wantErr(t, "TrySchedule", p.TrySchedule(func() {}), ErrNoIdleWorkerInPool)
	start := time.Now()
	wantErr(t, "ScheduleTimeout", p.ScheduleTimeout(func() {}, 20*time.Millisecond), ErrTimeout)
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Fatalf("ScheduleTimeout(20ms) gave up after %v", waited)
	}
	wantErr(t, "ScheduleTimeout(0)", p.ScheduleTimeout(func() {}, 0), ErrTimeout)
	g.release()
	ran := make(chan struct{})
	must(t, "ScheduleTimeout with room", p.ScheduleTimeout(func() { close(ran) }, 10*time.Second))
	<-ran
	must(t, "Wait", p.Wait())
	must(t, "SetCapacity(2)", p.SetCapacity(2)) // room for sure: a second worker
	must(t, "TrySchedule with room", p.TrySchedule(func() {}))
	must(t, "Wait", p.Wait())
	if s := p.Stats(); s.Rejected != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWaitTimeout(t *testing.T) {
	p := newPool(t, 2)
	g := newGate()
	defer g.release()
	must(t, "Schedule", p.Schedule(g.task))
	wantErr(t, "WaitTimeout", p.WaitTimeout(10*time.Millisecond), ErrTimeout)
	wantErr(t, "WaitTimeout(0)", p.WaitTimeout(0), ErrTimeout)
	g.release()
	must(t, "WaitTimeout", p.WaitTimeout(10*time.Second))
}

func TestQueueRunsInOrder(t *testing.T) {
	p := newPool(t, 1, WithQueueSize(Unbounded))
	var order []int // one worker: a serial queue
	for i := 0; i < 50; i++ {
		i := i
		must(t, "Schedule", p.Schedule(func() { order = append(order, i) }))
	}
	must(t, "Wait", p.Wait())
	for i, v := range order {
		if v != i {
			t.Fatalf("order %v", order)
		}
	}
	if len(order) != 50 {
		t.Fatalf("%d tasks ran", len(order))
	}
}

func TestBoundedQueueRefusesWhenFull(t *testing.T) {
	p := newPool(t, 1, WithQueueSize(2), WithBlock(false))
	g := newGate()
	defer g.release()
	must(t, "Schedule running", p.Schedule(g.task))
	g.waitStarted(t, 1)
	must(t, "Schedule queued 1", p.Schedule(func() {}))
	must(t, "Schedule queued 2", p.Schedule(func() {}))
	wantErr(t, "Schedule on a full queue", p.Schedule(func() {}), ErrNoIdleWorkerInPool)
	if s := p.Stats(); s.Queued != 2 || s.Busy != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestNilTaskIsInvalid(t *testing.T) {
	p := newPool(t, 1)
	wantErr(t, "Schedule(nil)", p.Schedule(nil), ErrInvalid)
	wantErr(t, "TrySchedule(nil)", p.TrySchedule(nil), ErrInvalid)
	wantErr(t, "ScheduleTimeout(nil)", p.ScheduleTimeout(nil, time.Second), ErrInvalid)
}

func TestFreeRunsEveryAcceptedTask(t *testing.T) {
	p, err := New(1, WithQueueSize(Unbounded))
	must(t, "New", err)
	var ran int32
	for i := 0; i < 100; i++ {
		must(t, "Schedule", p.Schedule(func() { atomic.AddInt32(&ran, 1) }))
	}
	must(t, "Free", p.Free())
	if ran != 100 {
		t.Fatalf("Free ran %d of 100 accepted tasks", ran)
	}
}

func TestEverythingAfterFree(t *testing.T) {
	p, err := New(2)
	must(t, "New", err)
	must(t, "Free", p.Free())
	wantErr(t, "Free again", p.Free(), ErrWorkerPoolFreed)
	wantErr(t, "Schedule", p.Schedule(func() {}), ErrWorkerPoolFreed)
	wantErr(t, "TrySchedule", p.TrySchedule(func() {}), ErrWorkerPoolFreed)
	wantErr(t, "ScheduleTimeout", p.ScheduleTimeout(func() {}, time.Second), ErrWorkerPoolFreed)
	wantErr(t, "Wait", p.Wait(), ErrWorkerPoolFreed)
	wantErr(t, "WaitTimeout", p.WaitTimeout(time.Second), ErrWorkerPoolFreed)
	wantErr(t, "SetCapacity", p.SetCapacity(3), ErrWorkerPoolFreed)
	wantErr(t, "Pause", p.Pause(), ErrWorkerPoolFreed)
	wantErr(t, "Resume", p.Resume(), ErrWorkerPoolFreed)
	_, err = p.CancelQueued()
	wantErr(t, "CancelQueued", err, ErrWorkerPoolFreed)
	_, err = p.Shutdown(Drain, time.Second)
	wantErr(t, "Shutdown", err, ErrWorkerPoolFreed)
	_, err = p.NewGroup()
	wantErr(t, "NewGroup", err, ErrWorkerPoolFreed)
	wantErr(t, "ParallelFor", p.ParallelFor(0, 10, 1, func(int, int) {}), ErrWorkerPoolFreed)
	if s := p.Stats(); s != (Stats{}) || p.Capacity() != 0 {
		t.Fatalf("stats after Free: %+v", s)
	}
}

// A scheduler blocked on a full pool returns ErrWorkerPoolFreed when Free
// begins, and Free still runs the task that was running.
func TestFreeReleasesBlockedSchedulers(t *testing.T) {
	p, err := New(1)
	must(t, "New", err)
	g := newGate()
	defer g.release()
	must(t, "Schedule", p.Schedule(g.task))
	g.waitStarted(t, 1)
	const blocked = 4
	errs := make(chan error, blocked)
	for i := 0; i < blocked; i++ {
		go func() { errs <- p.Schedule(func() {}) }()
	}
	freed := make(chan error, 1)
	go func() { freed <- p.Free() }()
	for i := 0; i < blocked; i++ {
		wantErr(t, "blocked Schedule", <-errs, ErrWorkerPoolFreed)
	}
	select {
	case err := <-freed:
		t.Fatalf("Free returned (%v) while a task still ran", err)
	default:
	}
	g.release()
	must(t, "Free", <-freed)
	if s := p.Stats(); s.Submitted != 0 {
		t.Fatalf("stats after Free: %+v", s)
	}
}

// Goroutines scheduling while another frees: a nil error means the task
// ran, any other means it never will.
func TestScheduleRacingFree(t *testing.T) {
	for round := 0; round < 20; round++ {
		p, err := New(4, WithQueueSize(16))
		must(t, "New", err)
		var accepted, ran int64
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					err := p.Schedule(func() { atomic.AddInt64(&ran, 1) })
					if err != nil {
						if !errors.Is(err, ErrWorkerPoolFreed) {
							panic(err)
						}
						return
					}
					atomic.AddInt64(&accepted, 1)
				}
			}()
		}
		time.Sleep(time.Millisecond)
		must(t, "Free", p.Free())
		wg.Wait()
		if accepted != ran {
			t.Fatalf("round %d: %d accepted, %d ran", round, accepted, ran)
		}
	}
}

func TestCallsFromATask(t *testing.T) {
	p := newPool(t, 2)
	var waitErr, waitTimeoutErr, freeErr, shutdownErr, innerErr error
	var innerRan bool
	must(t, "Schedule", p.Schedule(func() {
		waitErr = p.Wait()
		waitTimeoutErr = p.WaitTimeout(time.Second)
		freeErr = p.Free()
		_, shutdownErr = p.Shutdown(Drain, time.Second)
		innerErr = p.Schedule(func() { innerRan = true })
	}))
	must(t, "Wait", p.Wait())
	must(t, "Wait again (for the nested task)", p.Wait())
	wantErr(t, "Wait from a task", waitErr, ErrDeadlock)
	wantErr(t, "WaitTimeout from a task", waitTimeoutErr, ErrDeadlock)
	wantErr(t, "Free from a task", freeErr, ErrDeadlock)
	wantErr(t, "Shutdown from a task", shutdownErr, ErrDeadlock)
	must(t, "Schedule from a task", innerErr)
	if !innerRan {
		t.Fatal("the nested task did not run")
	}
}

// A task of a full pool scheduling on it runs the new task inline.
func TestNestedScheduleOnAFullPoolRunsInline(t *testing.T) {
	p := newPool(t, 1)
	var steps []string
	var err error
	must(t, "Schedule", p.Schedule(func() {
		steps = append(steps, "outer")
		err = p.Schedule(func() { steps = append(steps, "inner") })
		steps = append(steps, "outer again")
	}))
	must(t, "Wait", p.Wait())
	must(t, "nested Schedule", err)
	if fmt.Sprint(steps) != "[outer inner outer again]" {
		t.Fatalf("steps %v", steps)
	}
	if s := p.Stats(); s.Submitted != 2 || s.Completed != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPanicIsRecoveredAndReported(t *testing.T) {
	var mu sync.Mutex
	var values []interface{}
	p := newPool(t, 2, WithPanicHandler(func(v interface{}) {
		mu.Lock()
		values = append(values, v)
		mu.Unlock()
	}))
	must(t, "Schedule", p.Schedule(func() { panic("boom") }))
	must(t, "Schedule", p.Schedule(func() { var m map[int]int; m[0] = 1 }))
	must(t, "Wait", p.Wait())
	var ran bool
	must(t, "Schedule after the panics", p.Schedule(func() { ran = true }))
	must(t, "Wait", p.Wait())
	mu.Lock()
	defer mu.Unlock()
	if !ran || len(values) != 2 {
		t.Fatalf("ran=%v panics=%v", ran, values)
	}
	if s := p.Stats(); s.Panics != 2 || s.Completed != 3 {
		t.Fatalf("stats %+v", s)
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestPanicWithoutAHandlerGoesToStderr(t *testing.T) {
	var out lockedBuffer
	saved := panicOutput
	panicOutput = &out
	defer func() { panicOutput = saved }()
	p := newPool(t, 1)
	must(t, "Schedule", p.Schedule(func() { panic(fmt.Errorf("task %d failed", 7)) }))
	must(t, "Wait", p.Wait())
	got := out.String()
	if !strings.HasPrefix(got, "workerpool: task panicked: task 7 failed\n") || !strings.Contains(got, "workerpool_test.go") {
		t.Fatalf("reported:\n%s", got)
	}
}

func TestSetCapacity(t *testing.T) {
	p := newPool(t, 2)
	must(t, "SetCapacity(5)", p.SetCapacity(5))
	if c := p.Capacity(); c != 5 {
		t.Fatalf("capacity %d", c)
	}
	must(t, "SetCapacity(0)", p.SetCapacity(0))
	if c := p.Capacity(); c != DefaultCapacity {
		t.Fatalf("capacity %d", c)
	}
	must(t, "SetCapacity(huge)", p.SetCapacity(1<<40))
	if c := p.Capacity(); c != MaxCapacity {
		t.Fatalf("capacity %d", c)
	}
	// Growing lets a blocked scheduler in.
	must(t, "SetCapacity(1)", p.SetCapacity(1))
	g := newGate()
	defer g.release()
	must(t, "Schedule", p.Schedule(g.task))
	g.waitStarted(t, 1)
	errs := make(chan error, 1)
	go func() { errs <- p.Schedule(func() {}) }()
	must(t, "SetCapacity(2)", p.SetCapacity(2))
	must(t, "the blocked Schedule", <-errs)
}

func TestPauseResumeAndCancelQueued(t *testing.T) {
	p := newPool(t, 2, WithQueueSize(Unbounded))
	must(t, "Pause", p.Pause())
	must(t, "Pause twice", p.Pause())
	var ran int32
	for i := 0; i < 5; i++ {
		must(t, "Schedule while paused", p.Schedule(func() { atomic.AddInt32(&ran, 1) }))
	}
	wantErr(t, "WaitTimeout while paused", p.WaitTimeout(10*time.Millisecond), ErrTimeout)
	if s := p.Stats(); !s.Paused || s.Queued != 5 || ran != 0 {
		t.Fatalf("paused stats %+v, ran %d", s, ran)
	}
	n, err := p.CancelQueued()
	must(t, "CancelQueued", err)
	if n != 5 {
		t.Fatalf("CancelQueued removed %d", n)
	}
	must(t, "Schedule while paused", p.Schedule(func() { atomic.AddInt32(&ran, 1) }))
	must(t, "Resume", p.Resume())
	must(t, "Wait", p.Wait())
	if s := p.Stats(); s.Paused || s.Cancelled != 5 || s.Completed != 1 || atomic.LoadInt32(&ran) != 1 {
		t.Fatalf("stats %+v, ran %d", s, ran)
	}
	n, err = p.CancelQueued()
	if err != nil || n != 0 {
		t.Fatalf("CancelQueued on an empty queue: %d, %v", n, err)
	}
}

// Every task's cgo.Handle is deleted: when it ran, when it was refused,
// and when it was cancelled. A deleted handle no longer holds the closure,
// which the garbage collector then frees.
func TestHandlesAreReleased(t *testing.T) {
	p := newPool(t, 1, WithQueueSize(2), WithBlock(false))
	var collected int32
	tracked := func(g *gate) func() {
		obj := new([64]byte)
		runtime.SetFinalizer(obj, func(*[64]byte) { atomic.AddInt32(&collected, 1) })
		return func() {
			_ = obj[0]
			if g != nil {
				g.task()
			}
		}
	}
	g := newGate()
	must(t, "Schedule (runs)", p.Schedule(tracked(g)))
	g.waitStarted(t, 1)
	must(t, "Schedule (queued)", p.Schedule(tracked(nil)))
	must(t, "Schedule (queued)", p.Schedule(tracked(nil)))
	wantErr(t, "Schedule (refused)", p.Schedule(tracked(nil)), ErrNoIdleWorkerInPool)
	must(t, "Pause", p.Pause())
	if n, err := p.CancelQueued(); err != nil || n != 2 {
		t.Fatalf("CancelQueued: %d, %v", n, err)
	}
	g.release()
	must(t, "Resume", p.Resume())
	must(t, "Wait", p.Wait())
	deadline := time.Now().Add(10 * time.Second)
	for atomic.LoadInt32(&collected) != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 4 task closures collected: a handle was kept", collected)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

func TestShutdownCancelThenFree(t *testing.T) {
	p, err := New(1, WithQueueSize(Unbounded))
	must(t, "New", err)
	must(t, "Pause", p.Pause())
	var ran int32
	for i := 0; i < 10; i++ {
		must(t, "Schedule", p.Schedule(func() { atomic.AddInt32(&ran, 1) }))
	}
	r, err := p.Shutdown(Cancel, 10*time.Second)
	must(t, "Shutdown(Cancel)", err)
	if r.Cancelled != 10 || r.Queued != 0 || r.Running != 0 {
		t.Fatalf("report %+v", r)
	}
	wantErr(t, "Schedule after Shutdown", p.Schedule(func() {}), ErrWorkerPoolFreed)
	wantErr(t, "Wait after Shutdown", p.Wait(), ErrWorkerPoolFreed)
	if s := p.Stats(); s.Cancelled != 10 {
		t.Fatalf("stats %+v", s)
	}
	_, err = p.Shutdown(ShutdownMode(9), time.Second)
	wantErr(t, "Shutdown(9)", err, ErrInvalid)
	must(t, "Free", p.Free())
	if ran != 0 {
		t.Fatalf("%d cancelled tasks ran", ran)
	}
}

func TestShutdownDrainTimesOutThenFinishes(t *testing.T) {
	p, err := New(1, WithQueueSize(Unbounded))
	must(t, "New", err)
	g := newGate()
	defer g.release()
	must(t, "Schedule", p.Schedule(g.task))
	g.waitStarted(t, 1)
	var ran int32
	must(t, "Schedule queued", p.Schedule(func() { atomic.AddInt32(&ran, 1) }))
	r, err := p.Shutdown(Drain, 10*time.Millisecond)
	wantErr(t, "Shutdown(Drain, 10ms)", err, ErrTimeout)
	if r.Running != 1 || r.Queued != 1 {
		t.Fatalf("report %+v", r)
	}
	g.release()
	_, err = p.Shutdown(Drain, 10*time.Second)
	must(t, "Shutdown(Drain) again", err)
	must(t, "Free", p.Free())
	if ran != 1 {
		t.Fatal("the drained task did not run")
	}
}

func TestGroup(t *testing.T) {
	p := newPool(t, 4)
	grp, err := p.NewGroup()
	must(t, "NewGroup", err)
	must(t, "Group.TrySchedule", grp.TrySchedule(func() {})) // no worker yet: one starts
	var sum int64
	for i := 1; i <= 100; i++ {
		i := int64(i)
		must(t, "Group.Schedule", grp.Schedule(func() { atomic.AddInt64(&sum, i) }))
	}
	must(t, "Group.ScheduleTimeout", grp.ScheduleTimeout(func() {}, 10*time.Second))
	must(t, "Group.Wait", grp.Wait())
	if sum != 5050 {
		t.Fatalf("sum %d", sum)
	}
	if s := grp.Stats(); s != (GroupStats{Submitted: 102, Completed: 102}) {
		t.Fatalf("group stats %+v", s)
	}
	wantErr(t, "Group.Schedule(nil)", grp.Schedule(nil), ErrInvalid)

	// The group waits for its own tasks only.
	other := newGate()
	defer other.release()
	must(t, "Pool.Schedule", p.Schedule(other.task))
	must(t, "Group.Schedule", grp.Schedule(func() {}))
	must(t, "Group.WaitTimeout", grp.WaitTimeout(10*time.Second))
	wantErr(t, "Pool.WaitTimeout", p.WaitTimeout(0), ErrTimeout)
	other.release()

	g := newGate()
	defer g.release()
	must(t, "Group.Schedule", grp.Schedule(g.task))
	wantErr(t, "Group.WaitTimeout", grp.WaitTimeout(10*time.Millisecond), ErrTimeout)
	g.release()
	must(t, "Group.Wait", grp.Wait())

	var waitErr, freeErr, nestedErr error
	must(t, "Group.Schedule", grp.Schedule(func() {
		waitErr = grp.Wait()
		freeErr = grp.Free()
		nestedErr = grp.Schedule(func() {})
	}))
	must(t, "Group.Wait", grp.Wait())
	wantErr(t, "Group.Wait from its task", waitErr, ErrDeadlock)
	wantErr(t, "Group.Free from its task", freeErr, ErrDeadlock)
	must(t, "Group.Schedule from its task", nestedErr)

	must(t, "Group.Free", grp.Free())
	wantErr(t, "Group.Free again", grp.Free(), ErrGroupFreed)
	wantErr(t, "Group.Schedule after Free", grp.Schedule(func() {}), ErrGroupFreed)
	wantErr(t, "Group.TrySchedule after Free", grp.TrySchedule(func() {}), ErrGroupFreed)
	wantErr(t, "Group.ScheduleTimeout after Free", grp.ScheduleTimeout(func() {}, time.Second), ErrGroupFreed)
	wantErr(t, "Group.Wait after Free", grp.Wait(), ErrGroupFreed)
	wantErr(t, "Group.WaitTimeout after Free", grp.WaitTimeout(time.Second), ErrGroupFreed)
	if s := grp.Stats(); s != (GroupStats{}) {
		t.Fatalf("group stats after Free %+v", s)
	}
}

func TestGroupOnAFullNonBlockingPool(t *testing.T) {
	p := newPool(t, 1, WithBlock(false))
	grp, err := p.NewGroup()
	must(t, "NewGroup", err)
	defer grp.Free()
	g := newGate()
	defer g.release()
	must(t, "Group.Schedule", grp.Schedule(g.task))
	g.waitStarted(t, 1)
	wantErr(t, "Group.Schedule", grp.Schedule(func() {}), ErrNoIdleWorkerInPool)
	wantErr(t, "Group.TrySchedule", grp.TrySchedule(func() {}), ErrNoIdleWorkerInPool)
	wantErr(t, "Group.ScheduleTimeout", grp.ScheduleTimeout(func() {}, 10*time.Millisecond), ErrTimeout)
	g.release()
	must(t, "Group.Wait", grp.Wait())
}

func TestGroupCancelledTasks(t *testing.T) {
	p := newPool(t, 1, WithQueueSize(Unbounded))
	grp, err := p.NewGroup()
	must(t, "NewGroup", err)
	must(t, "Pause", p.Pause())
	for i := 0; i < 3; i++ {
		must(t, "Group.Schedule", grp.Schedule(func() {}))
	}
	if n, err := p.CancelQueued(); err != nil || n != 3 {
		t.Fatalf("CancelQueued: %d, %v", n, err)
	}
	must(t, "Group.Wait", grp.Wait())
	if s := grp.Stats(); s != (GroupStats{Submitted: 3, Cancelled: 3}) {
		t.Fatalf("group stats %+v", s)
	}
	must(t, "Group.Free", grp.Free())
}

func TestGroupOutlivesItsPool(t *testing.T) {
	p, err := New(2)
	must(t, "New", err)
	grp, err := p.NewGroup()
	must(t, "NewGroup", err)
	var ran int32
	must(t, "Group.Schedule", grp.Schedule(func() { atomic.AddInt32(&ran, 1) }))
	must(t, "Free", p.Free())
	wantErr(t, "Group.Schedule after the pool's Free", grp.Schedule(func() {}), ErrWorkerPoolFreed)
	must(t, "Group.Wait", grp.Wait())
	must(t, "Group.Free", grp.Free())
	if ran != 1 {
		t.Fatal("the group's task did not run")
	}
}

func TestParallelFor(t *testing.T) {
	p := newPool(t, 4)
	for _, grain := range []int{0, 1, 7, 1000} {
		const n = 10000
		hits := make([]int32, n)
		must(t, "ParallelFor", p.ParallelFor(0, n, grain, func(b, e int) {
			for i := b; i < e; i++ {
				hits[i]++ // disjoint chunks: no two calls touch one index
			}
		}))
		for i, h := range hits {
			if h != 1 {
				t.Fatalf("grain %d: index %d ran %d times", grain, i, h)
			}
		}
	}
	called := false
	must(t, "empty ParallelFor", p.ParallelFor(5, 5, 0, func(int, int) { called = true }))
	if called {
		t.Fatal("an empty range called body")
	}
	wantErr(t, "ParallelFor(5, 4)", p.ParallelFor(5, 4, 0, func(int, int) {}), ErrInvalid)
	wantErr(t, "ParallelFor(-1, 4)", p.ParallelFor(-1, 4, 0, func(int, int) {}), ErrInvalid)
	wantErr(t, "ParallelFor(nil)", p.ParallelFor(0, 4, 0, nil), ErrInvalid)

	// Nested, from a task.
	var total int64
	must(t, "Schedule", p.Schedule(func() {
		_ = p.ParallelFor(0, 100, 10, func(b, e int) {
			_ = p.ParallelFor(b, e, 1, func(b, e int) { atomic.AddInt64(&total, int64(e-b)) })
		})
	}))
	must(t, "Wait", p.Wait())
	if total != 100 {
		t.Fatalf("nested loops covered %d of 100", total)
	}
}

func TestParallelForPanicReachesTheCaller(t *testing.T) {
	p := newPool(t, 4)
	defer func() {
		v := recover()
		if s, ok := v.(string); !ok || !strings.Contains(s, "index 42") {
			t.Fatalf("recovered %v", v)
		}
		if s := p.Stats(); s.Panics != 0 {
			t.Fatalf("a loop's panic counted as a task's: %+v", s)
		}
	}()
	_ = p.ParallelFor(0, 100, 1, func(b, e int) {
		if b == 42 {
			panic(fmt.Sprintf("index %d", b))
		}
	})
	t.Fatal("ParallelFor returned")
}

func TestErrors(t *testing.T) {
	for _, e := range []error{ErrNoIdleWorkerInPool, ErrWorkerPoolFreed, ErrInvalid, ErrTimeout, ErrSpawn, ErrDeadlock, ErrForked, ErrGroupFreed} {
		if !strings.HasPrefix(e.Error(), "workerpool: ") || strings.Contains(e.Error(), "status") {
			t.Fatalf("message %q", e)
		}
	}
	if ErrNoIdleWorkerInPool.Error() != "workerpool: no idle worker in pool" {
		t.Fatal(ErrNoIdleWorkerInPool)
	}
	if Status(99).Error() != "workerpool: status 99" {
		t.Fatal(Status(99))
	}
	_, err := New(1, WithQueueSize(-3))
	if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "WithQueueSize(-3)") {
		t.Fatalf("%v", err)
	}
	var st Status
	if !errors.As(err, &st) || st != ErrInvalid {
		t.Fatalf("errors.As: %v", st)
	}
}
