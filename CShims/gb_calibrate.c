/* gb_calibrate.c — the machine's own costs: the fastest way it does one event of each resource a
 * release loop uses (the floors' calibrations), and the figures that describe the machine's state
 * (contended atomic, out-of-cache stream, dependent-load latency). */
#define _GNU_SOURCE
#include "gb_calibrate.h"
#include "gb_system.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct __attribute__((aligned(64))) line {
    _Atomic long value;
    char pad[64 - sizeof(long)];
};

double gb_calibrate_atomic_ns(long iterations) {
    static struct line lines[8]; /* this thread's only: never contended */
    double best = 1e9;
    long rounds8 = iterations / 8 > 0 ? iterations / 8 : 1;
    /* Many short rounds, the best kept: on a shared machine a quiet moment (no neighbour on the
     * sibling hyperthread) is likelier within a millisecond than within ten. Two shapes, the
     * lower kept: a chain on one line, and eight lines in turn (nothing but the lock prefix's
     * ordering holds one RMW behind the last). */
    for (int round = 0; round < 40; round++) {
        uint64_t a = gb_now_ns();
        for (long i = 0; i < rounds8; i++)
            for (int k = 0; k < 8; k++)
                atomic_fetch_add_explicit(&lines[0].value, 1, memory_order_relaxed);
        uint64_t b = gb_now_ns();
        for (long i = 0; i < rounds8; i++)
            for (int k = 0; k < 8; k++)
                atomic_fetch_add_explicit(&lines[k].value, 1, memory_order_relaxed);
        uint64_t c = gb_now_ns();
        double one = (double)(b - a) / (double)(rounds8 * 8), eight = (double)(c - b) / (double)(rounds8 * 8);
        if (one < best)
            best = one;
        if (eight < best)
            best = eight;
    }
    return best;
}

struct contender {
    struct line *shared;
    gb_spin_barrier *barrier;
    long iterations;
    int cpu;
    int rc;
    uint64_t ns;
};

static void *contend(void *arg) {
    struct contender *c = arg;
    c->rc = gb_pin_current_thread(c->cpu);
    gb_spin_barrier_wait(c->barrier);
    uint64_t start = gb_now_ns();
    for (long i = 0; i < c->iterations; i++)
        atomic_fetch_add_explicit(&c->shared->value, 1, memory_order_acq_rel);
    c->ns = gb_now_ns() - start;
    return NULL;
}

double gb_calibrate_contended_atomic_ns(const int *cpus, int ncpus, long iterations) {
    static struct line shared_line;
    struct contender cs[64];
    pthread_t threads[64];
    if (ncpus < 1 || ncpus > 64)
        return -EINVAL;
    gb_spin_barrier *barrier = gb_spin_barrier_create(ncpus);
    if (!barrier)
        return -ENOMEM;
    int started = 0;
    for (int i = 0; i < ncpus; i++) {
        cs[i] = (struct contender){&shared_line, barrier, iterations, cpus[i], 0, 0};
        if (pthread_create(&threads[i], NULL, contend, &cs[i]) != 0)
            break;
        started++;
    }
    /* A thread that failed to start never reaches the barrier; fill its place. */
    for (int i = started; i < ncpus; i++) {
        cs[i].rc = -EAGAIN;
        gb_spin_barrier_wait(barrier);
    }
    double worst = 0;
    int rc = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        if (cs[i].rc != 0)
            rc = cs[i].rc;
        double ns = (double)cs[i].ns / (double)iterations;
        if (ns > worst)
            worst = ns;
    }
    gb_spin_barrier_destroy(barrier);
    if (started < ncpus)
        return -EAGAIN;
    return rc != 0 ? rc : worst;
}

double gb_calibrate_stream_ns(const gb_page *descriptors, size_t count, int passes) {
    double best = 1e9;
    volatile long sink = 0;
    for (int pass = 0; pass < passes; pass++) {
        long sum = 0;
        uint64_t start = gb_now_ns();
        for (size_t i = 0; i < count; i++)
            sum += atomic_load_explicit(GB_ATOMIC(int, ((gb_page *)descriptors)[i].refcount),
                                        memory_order_relaxed);
        double ns = (double)(gb_now_ns() - start) / (double)count;
        sink += sum;
        if (ns < best)
            best = ns;
    }
    (void)sink;
    return best;
}

/* SplitMix64, as the Swift side's generator: the cycle is the same for the same seed. */
static uint64_t splitmix_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void gb_calibrate_chase_prepare(gb_page *descriptors, size_t count, uint64_t seed) {
    /* Sattolo's shuffle of the identity gives a permutation that is one cycle through every
     * descriptor: following it visits each once before coming back, in an order no prefetcher
     * can guess. The successor's address is kept in the descriptor's compound_head word (the
     * jump calibration uses nr_pages, the touch the refcount, so they can share a buffer). */
    for (size_t i = 0; i < count; i++)
        descriptors[i].compound_head = i;
    for (size_t i = count - 1; i > 0; i--) {
        size_t j = (size_t)(splitmix_next(&seed) % i);
        uintptr_t t = descriptors[i].compound_head;
        descriptors[i].compound_head = descriptors[j].compound_head;
        descriptors[j].compound_head = t;
    }
    for (size_t i = 0; i < count; i++)
        descriptors[i].compound_head = (uintptr_t)&descriptors[descriptors[i].compound_head];
}

double gb_calibrate_chase_ns(const gb_page *descriptors, size_t count, size_t steps, int passes) {
    double best = 1e9;
    const gb_page *p = descriptors;
    volatile uintptr_t sink = 0;
    (void)count;
    for (int pass = 0; pass < passes; pass++) {
        uint64_t start = gb_now_ns();
        for (size_t i = 0; i < steps; i++)
            p = (const gb_page *)atomic_load_explicit(
                GB_ATOMIC(uintptr_t, ((gb_page *)p)->compound_head), memory_order_relaxed);
        double ns = (double)(gb_now_ns() - start) / (double)steps;
        if (ns < best)
            best = ns;
    }
    sink = (uintptr_t)p;
    (void)sink;
    return best;
}

/* A 0 the compiler cannot see, so the idempotent RMW below is not turned into a plain load. */
static volatile int zero_the_compiler_cannot_see = 0;

void gb_calibrate_touch(gb_page *descriptors, size_t count) {
    int nothing = zero_the_compiler_cannot_see;
    for (size_t i = 0; i < count; i++)
        atomic_fetch_add_explicit(GB_ATOMIC(int, descriptors[i].refcount), nothing, memory_order_relaxed);
}

/* One 8-byte load per 64-byte line, eight independent sums (no load waits for another), with and
 * without a software prefetch 16 lines ahead; the lower of the two. */
static double line_pass(const gb_page *d, size_t count, bool prefetch) {
    long s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    uint64_t start = gb_now_ns();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        if (prefetch)
            __builtin_prefetch(&d[i + 16]);
        s0 += (long)d[i].flags;
        s1 += (long)d[i + 1].flags;
        s2 += (long)d[i + 2].flags;
        s3 += (long)d[i + 3].flags;
        s4 += (long)d[i + 4].flags;
        s5 += (long)d[i + 5].flags;
        s6 += (long)d[i + 6].flags;
        s7 += (long)d[i + 7].flags;
    }
    for (; i < count; i++)
        s0 += (long)d[i].flags;
    double ns = (double)(gb_now_ns() - start) / (double)count;
    static volatile long sink;
    sink = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
    return ns;
}

double gb_calibrate_line_ns(gb_page *descriptors, size_t count, int passes) {
    double best = 1e9;
    for (int pass = 0; pass < passes; pass++) {
        for (int prefetch = 0; prefetch < 2; prefetch++) {
            gb_calibrate_touch(descriptors, count);
            double ns = line_pass(descriptors, count, prefetch);
            if (ns < best)
                best = ns;
        }
    }
    return best;
}
