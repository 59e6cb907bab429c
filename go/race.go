//go:build race

package workerpool

// raceEnabled: built with -race. The pool's threads synchronise through the
// C library, which the race detector cannot see; under -race every task
// end and every wait also goes through an atomic counter so that the
// detector sees the happens-before edges the C library provides.
const raceEnabled = true
