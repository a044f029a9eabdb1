/*
 * clock: the two clocks esmeload reads. Intervals, deadlines and latencies
 * use the monotonic clock; only Unix-second keys and timestamps shown to
 * people use the wall clock.
 */
#ifndef ESMELOAD_CLOCK_H
#define ESMELOAD_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t clock_mono_ns(void);
/* CLOCK_REALTIME (Unix time) in nanoseconds. */
int64_t clock_real_ns(void);

#endif
