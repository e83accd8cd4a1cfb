/*
 * gb_calibrate.h — the machine's own limits, measured with the same instructions the release
 * loops use: a LOCK-prefixed RMW on a private line, on a line two CPUs fight over, a
 * streaming read of one 64-byte descriptor after another, a chain of dependent loads, a spin
 * lock pair, an out-of-line call in each return shape and an unlocked per-CPU cmpxchg.
 * The floors (Measurement/Floors.swift) use the fastest of each; the rest describe the
 * machine's state for the record and the gate. Every calibration microbenchmark is declared
 * here; Machine/Calibration.swift (Calibrator) is their only caller.
 */
#ifndef GB_CALIBRATE_H
#define GB_CALIBRATE_H

#include <stddef.h>
#include "gb_page.h"
#include "gb_kcalls.h"

/* The floor of the locked-RMW resource: ns per LOCK-prefixed RMW on lines only this thread uses,
 * the fastest of a chain on one line and eight lines in turn, best of many short rounds. */
double gb_calibrate_atomic_ns(long iterations);

/* ns per atomic fetch-add per thread when one thread on each of `ncpus` CPUs hammers one line,
 * into *ns. 0, or -errno: -EINVAL (ncpus outside 1..64), -ENOMEM, -EAGAIN (a thread did not
 * start), or the pinning's error when a thread cannot be pinned. */
int gb_calibrate_contended_atomic_ns(const int *_Nonnull cpus, int ncpus, long iterations,
                                     double *_Nonnull ns);

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

/* Writes every descriptor once, as pinning a region does before its release: the memmap is then
 * where the release loop finds it (recently written, as far into the caches as it fits). The
 * RMW adds 0, so a live memmap (a round's own, between rounds) keeps every count. */
void gb_calibrate_touch(gb_page *_Nonnull descriptors, size_t count);

/* The floor of the descriptor-line resource: ns per 64-byte line for the fastest read of every
 * line of `count` consecutive descriptors, as a release loop finds them (each pass after
 * gb_calibrate_touch). Reads only, so it also times a live memmap. Best of `passes`. */
double gb_calibrate_line_ns(gb_page *_Nonnull descriptors, size_t count, int passes);

/* ns per uncontended spin_lock()/spin_unlock() pair (gb_free.h's lock), best of 5 rounds. */
double gb_calibrate_lock_pair_ns(long iterations);

/* ns per acquisition when the first two of `cpus` take one lock in strict turn, every acquisition
 * a handoff from the other CPU (the serial cost a lock shared by every thread puts on each
 * acquisition): best of 64 rounds of `per_round` each, into *ns. 0, or -errno: -EINVAL (fewer
 * than two CPUs, per_round < 1), -ENOMEM, -EAGAIN (a thread did not start), or the pinning's. */
int gb_calibrate_contended_lock_pair_ns(const int *_Nonnull cpus, int ncpus, long per_round,
                                        double *_Nonnull ns);

/* ns per out-of-line call and return in the mode's return shape, the fastest loop of them. */
double gb_calibrate_kcall_ns(gb_mitigation mode, long iterations);

/* ns per unlocked cmpxchg on one per-CPU byte: a chain, as successive updates of one counter are. */
double gb_calibrate_local_cmpxchg_ns(long iterations);

#endif /* GB_CALIBRATE_H */
