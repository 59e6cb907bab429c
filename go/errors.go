package workerpool

/*
#include "workerpool.h"
*/
import "C"

import (
	"errors"
	"strconv"
)

// Status is a pool_status of the C library other than POOL_OK, as a Go
// error. Every status has its sentinel below; compare with errors.Is (the
// errors this package returns may wrap them with details).
type Status int

// The C library's statuses, as Go errors.
var (
	// ErrNoIdleWorkerInPool: a non-blocking pool (or TrySchedule) found
	// every worker busy, capacity reached and the queue (if any) full.
	ErrNoIdleWorkerInPool error = Status(C.POOL_ERR_NO_IDLE_WORKER)
	// ErrWorkerPoolFreed: Free or Shutdown began; the task was not accepted.
	ErrWorkerPoolFreed error = Status(C.POOL_ERR_FREED)
	// ErrInvalid: an argument out of range (a nil task, a bad option).
	ErrInvalid error = Status(C.POOL_ERR_INVALID)
	// ErrTimeout: no room, or tasks still unfinished, at the deadline.
	ErrTimeout error = Status(C.POOL_ERR_TIMEOUT)
	// ErrSpawn: the OS refused a thread and no existing worker could take
	// the task.
	ErrSpawn error = Status(C.POOL_ERR_SPAWN)
	// ErrDeadlock: a wait or Free called from a task that would wait for
	// itself, or inline runs of nested schedules too deep.
	ErrDeadlock error = Status(C.POOL_ERR_DEADLOCK)
	// ErrForked: the pool was made before fork() and this is the child.
	ErrForked error = Status(C.POOL_ERR_FORKED)
)

// ErrGroupFreed: Group.Free began; the task was not accepted.
var ErrGroupFreed = errors.New("workerpool: group freed")

var statusText = map[Status]string{
	Status(C.POOL_ERR_NO_IDLE_WORKER): "no idle worker in pool",
	Status(C.POOL_ERR_FREED):          "worker pool freed",
	Status(C.POOL_ERR_INVALID):        "invalid argument",
	Status(C.POOL_ERR_TIMEOUT):        "timed out",
	Status(C.POOL_ERR_SPAWN):          "the OS refused to start a worker thread",
	Status(C.POOL_ERR_DEADLOCK):       "would deadlock: called from a task it would wait for",
	Status(C.POOL_ERR_FORKED):         "pool made before fork() used in the child",
}

func (s Status) Error() string {
	if text, ok := statusText[s]; ok {
		return "workerpool: " + text
	}
	return "workerpool: status " + strconv.Itoa(int(s))
}

// errOf: nil for POOL_OK, else the status as an error.
func errOf(st C.enum_pool_status) error {
	if st == C.POOL_OK {
		return nil
	}
	return Status(st)
}
