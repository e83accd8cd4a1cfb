/*
 * gb_calibrate.h — the machine's own limits, measured with the same instructions the release
 * loops use: a LOCK-prefixed RMW on a private line, on a line two CPUs fight over, and a
 * streaming read of one 64-byte descriptor after another.
 */
#ifndef GB_CALIBRATE_H
#define GB_CALIBRATE_H

#include <stddef.h>
#include "gb_page.h"

/* ns per atomic fetch-add (acq_rel; a LOCK-prefixed RMW like the release path's `lock sub`) on a line only this thread uses. */
double gb_calibrate_atomic_ns(long iterations);

/* ns per atomic fetch-add per thread when one thread on each of `ncpus` CPUs hammers one line.
 * Returns -errno when a thread cannot be pinned. */
double gb_calibrate_contended_atomic_ns(const int *_Nonnull cpus, int ncpus, long iterations);

/* ns per descriptor to read the refcount of each of `count` consecutive descriptors, best of
 * `passes` passes (the first pass warms the cache when the buffer fits in it). */
double gb_calibrate_stream_ns(const gb_page *_Nonnull descriptors, size_t count, int passes);

#endif /* GB_CALIBRATE_H */
