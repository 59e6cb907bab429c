package workerpool

// The C entry points into Go. A file with //export functions may only have
// declarations in its preamble (cgo copies it into _cgo_export.h): the C
// helpers that take these functions' addresses are in bridge.h.

/*
#include <stddef.h>
#include "workerpool.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// workerpoolGoTask is the pool_task_fn of every Go task: arg is the
// cgo.Handle of its *task. The handle is deleted before the task runs, so
// it never outlives its one run.
//
//export workerpoolGoTask
func workerpoolGoTask(arg unsafe.Pointer) {
	h := cgo.Handle(uintptr(arg))
	t := h.Value().(*task)
	h.Delete()
	t.run()
}

// workerpoolGoCancelled deletes the handle of a Go task removed unrun
// (Pool.CancelQueued, Pool.Shutdown with Cancel).
//
//export workerpoolGoCancelled
func workerpoolGoCancelled(arg unsafe.Pointer) {
	cgo.Handle(uintptr(arg)).Delete()
}

// workerpoolGoRange is the pool_range_fn of Pool.ParallelFor: ctx is the
// cgo.Handle of its *rangeLoop.
//
//export workerpoolGoRange
func workerpoolGoRange(ctx unsafe.Pointer, begin, end C.size_t) {
	cgo.Handle(uintptr(ctx)).Value().(*rangeLoop).run(int(begin), int(end))
}
