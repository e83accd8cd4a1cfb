/*
 * gb_calibrate.h — the machine's own limits, measured with the same instructions the release
 * loops use: a LOCK-prefixed RMW on a private line, on a line two CPUs fight over, a
 * streaming read of one 64-byte descriptor after another, and a chain of dependent loads.
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

/* Links `count` descriptors into one random cycle (Sattolo's shuffle, seeded): each descriptor's
 * compound_head word holds the address of the next. Untimed set-up for gb_calibrate_chase_ns. */
void gb_calibrate_chase_prepare(gb_page *_Nonnull descriptors, size_t count, uint64_t seed);

/* ns per dependent load: `steps` loads, each of the descriptor the previous one named, best of
 * `passes` passes. What a loop pays when the next descriptor's address comes from the last one
 * (a jump to the next folio) or from a shuffled array: no prefetcher runs ahead of it. */
double gb_calibrate_chase_ns(const gb_page *_Nonnull descriptors, size_t count, size_t steps, int passes);

/* The memmap as a release loop finds it: before each timed pass every one of `count` descriptors
 * is written once (as pinning does, by an RMW that adds 0), then:
 *   touched_stream: ns per descriptor to read consecutive descriptors;
 *   atomic_stream:  ns per descriptor for one LOCK-prefixed RMW on each consecutive descriptor
 *                   (the least a walk that releases every descriptor it reads can cost);
 *   jump:           ns per step of a walk that reads, in the descriptor it is on, how far the
 *                   next one is (`stride` descriptors, a folio) and does one LOCK-prefixed RMW
 *                   there: the least unpin_user_page_range_dirty_lock() pays per folio.
 *   strided_rmw:    ns per step of a walk that does one LOCK-prefixed RMW on every `stride`-th
 *                   descriptor, its address known without a load from the memmap: the least
 *                   a loop pays per folio when an array names each folio's head (unpin_folios(),
 *                   io_release_ubuf()), so the next head's miss can start before this one ends.
 * Best of `passes`; -EINVAL for a stride of 0 or beyond the buffer. touched_stream and
 * strided_rmw change no count, so they also time a live memmap (a round's own, between rounds). */
/* Writes every descriptor once, as pinning a region does before its release: the memmap is then
 * where the release loop finds it (recently written, as far into the caches as it fits). The
 * RMW adds 0, so a live memmap (a round's own, between rounds) keeps every count. */
void gb_calibrate_touch(gb_page *_Nonnull descriptors, size_t count);
double gb_calibrate_touched_stream_ns(gb_page *_Nonnull descriptors, size_t count, int passes);
double gb_calibrate_atomic_stream_ns(gb_page *_Nonnull descriptors, size_t count, int passes);
double gb_calibrate_jump_ns(gb_page *_Nonnull descriptors, size_t count, size_t stride, int passes);
double gb_calibrate_strided_rmw_ns(gb_page *_Nonnull descriptors, size_t count, size_t stride, int passes);

#endif /* GB_CALIBRATE_H */
