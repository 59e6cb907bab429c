#!/usr/bin/env bash
# Instructions per pool_schedule (callgrind, inclusive) and per task in the
# whole program, for every delivery mode at 2, 16 and 64 workers:
#
#   schedule_cost.sh BIN [WORK]      (make schedule-cost)
#
# BIN is build/bench/schedule_cost; WORK as its fourth argument (0: empty
# tasks). N tasks per run (env N, default 20000). callgrind runs the
# threads one at a time, and with --fair-sched=yes in a fixed order, so the
# counts repeat from run to run where wall
# time does not (BENCHMARKS.md, "What a decision costs").
set -euo pipefail
bin=${1:?usage: schedule_cost.sh BIN [WORK]}
work=${2:-0}
n=${N:-20000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }

echo "| mode | workers | instructions per pool_schedule | per task, whole program |"
echo "|---|---:|---:|---:|"
for mode in unbounded bounded handoff; do
    for workers in 2 16 64; do
        valgrind --tool=callgrind --fair-sched=yes --toggle-collect=pool_schedule \
            --callgrind-out-file="$out/schedule" "$bin" "$mode" "$workers" "$n" "$work" >/dev/null 2>&1
        valgrind --tool=callgrind --fair-sched=yes --callgrind-out-file="$out/all" \
            "$bin" "$mode" "$workers" "$n" "$work" >/dev/null 2>&1
        printf '| %s | %d | %.1f | %.0f |\n' "$mode" "$workers" \
            "$(echo "$(total "$out/schedule") / $n" | bc -l)" \
            "$(echo "$(total "$out/all") / $n" | bc -l)"
    done
done
