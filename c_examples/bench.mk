# Benchmarks (see ../BENCHMARKS.md). Included from the Makefile, or used
# alone: make -C c_examples -f bench.mk bench
#
#   make bench        run the whole suite: cargo bench --bench pools
#   make glib-bench   build build/bench/glib_bench (needs libglib2.0-dev)
#   make omp-bench    build build/bench/omp_for (OpenMP: gcc -O2 -fopenmp)
#                     (both include bench/work.h: the clock and the costly body)
#   make cpp-bench    build build/bench/cpp_submit (C++17, include/workerpool.hpp:
#                     submit + get per task against std::async) and run it;
#                     CPP_BENCH_ARGS (e.g. --tasks 10000 --runs 11 --batch 100)
#   make inline-bench build build/bench/inline_schedule (a blocking schedule
#                     from a task of a full pool, run inline) and run it in
#                     hand-off and bounded-queue mode
#   make schedule-cost  build build/bench/schedule_cost and count, under
#                     callgrind, the instructions per schedule in every mode at
#                     2, 16 and 64 workers (SCHEDULE_WORK: steps of work per
#                     task, 0 for empty tasks)
#
# The suite builds glib_bench itself (make -f bench.mk glib-bench) and
# installs libglib2.0-dev with apt-get when it is missing and run as root.

# Keep the includer's default goal (this file may be included anywhere).
BENCH_SAVED_GOAL := $(.DEFAULT_GOAL)

BENCH_DIR   := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BENCH_ROOT  := $(abspath $(BENCH_DIR)/..)
BENCH_BUILD := $(BENCH_DIR)/build/bench
BENCH_CARGO ?= cargo
PKG_CONFIG  ?= pkg-config
BENCH_CC    ?= cc
BENCH_CFLAGS ?= -std=c11 -O2 -g -Wall -Wextra -Werror -pthread
OMP_CC      ?= gcc
BENCH_CXX   ?= g++
BENCH_CXXFLAGS ?= -std=c++17 -O2 -g -Wall -Wextra -Werror -pthread
# What `make lib` (cpp-bench-lib) builds: the dist profile.
BENCH_LIBDIR := $(BENCH_ROOT)/target/dist
CPP_BENCH_ARGS ?=
SCHEDULE_WORK ?= 0

.PHONY: bench glib-bench omp-bench cpp-bench cpp-bench-lib inline-bench schedule-cost

bench:
	cd $(BENCH_ROOT) && $(BENCH_CARGO) bench --bench pools

glib-bench: $(BENCH_BUILD)/glib_bench

$(BENCH_BUILD)/glib_bench: $(BENCH_DIR)/bench/glib_bench.c $(BENCH_DIR)/bench/work.h
	mkdir -p $(BENCH_BUILD)
	$(BENCH_CC) $(BENCH_CFLAGS) $$($(PKG_CONFIG) --cflags glib-2.0) -o $@ $< $$($(PKG_CONFIG) --libs glib-2.0)

omp-bench: $(BENCH_BUILD)/omp_for

$(BENCH_BUILD)/omp_for: $(BENCH_DIR)/bench/omp_for.c $(BENCH_DIR)/bench/work.h
	mkdir -p $(BENCH_BUILD)
	$(OMP_CC) $(BENCH_CFLAGS) -fopenmp -o $@ $<

# The library (and its libworkerpool.so.MAJOR link) through the Makefile's
# lib target, also when this file is used alone.
cpp-bench-lib:
	$(MAKE) --no-print-directory -C $(BENCH_DIR) -f Makefile lib

cpp-bench: $(BENCH_BUILD)/cpp_submit
	$(BENCH_BUILD)/cpp_submit $(CPP_BENCH_ARGS)

$(BENCH_BUILD)/cpp_submit: $(BENCH_DIR)/bench/cpp_submit.cpp $(BENCH_ROOT)/include/workerpool.hpp cpp-bench-lib
	mkdir -p $(BENCH_BUILD)
	$(BENCH_CXX) $(BENCH_CXXFLAGS) -I$(BENCH_ROOT)/include -o $@ $< -L$(BENCH_LIBDIR) -Wl,-rpath,$(BENCH_LIBDIR) -lworkerpool

inline-bench: $(BENCH_BUILD)/inline_schedule
	$(BENCH_BUILD)/inline_schedule handoff
	$(BENCH_BUILD)/inline_schedule queue

schedule-cost: $(BENCH_BUILD)/schedule_cost
	$(BENCH_DIR)/bench/schedule_cost.sh $< $(SCHEDULE_WORK)

# The C programs on the library (its dist build, through cpp-bench-lib).
$(BENCH_BUILD)/inline_schedule $(BENCH_BUILD)/schedule_cost: $(BENCH_BUILD)/%: $(BENCH_DIR)/bench/%.c cpp-bench-lib
	mkdir -p $(BENCH_BUILD)
	$(BENCH_CC) $(BENCH_CFLAGS) -I$(BENCH_ROOT)/include -o $@ $< -L$(BENCH_LIBDIR) -Wl,-rpath,$(BENCH_LIBDIR) -lworkerpool

.DEFAULT_GOAL := $(BENCH_SAVED_GOAL)
