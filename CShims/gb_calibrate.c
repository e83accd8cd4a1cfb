/* gb_calibrate.c — atomic and streaming costs for the roofline. */
#define _GNU_SOURCE
#include "gb_calibrate.h"
#include "gb_system.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct __attribute__((aligned(64))) line {
    _Atomic long value;
    char pad[64 - sizeof(long)];
};

double gb_calibrate_atomic_ns(long iterations) {
    static struct line private_line; /* one line, one thread: never contended */
    double best = 1e9;
    /* Many short rounds, the best kept: on a shared machine a quiet moment (no neighbour on
     * the sibling hyperthread) is likelier within a millisecond than within ten. */
    for (int round = 0; round < 40; round++) {
        uint64_t start = gb_now_ns();
        for (long i = 0; i < iterations; i++)
            atomic_fetch_add_explicit(&private_line.value, 1, memory_order_acq_rel);
        double ns = (double)(gb_now_ns() - start) / (double)iterations;
        if (ns < best)
            best = ns;
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

double gb_calibrate_touched_stream_ns(gb_page *descriptors, size_t count, int passes) {
    double best = 1e9;
    volatile long sink = 0;
    for (int pass = 0; pass < passes; pass++) {
        gb_calibrate_touch(descriptors, count);
        long sum = 0;
        uint64_t start = gb_now_ns();
        for (size_t i = 0; i < count; i++)
            sum += atomic_load_explicit(GB_ATOMIC(int, descriptors[i].refcount), memory_order_relaxed);
        double ns = (double)(gb_now_ns() - start) / (double)count;
        sink += sum;
        if (ns < best)
            best = ns;
    }
    (void)sink;
    return best;
}

double gb_calibrate_atomic_stream_ns(gb_page *descriptors, size_t count, int passes) {
    double best = 1e9;
    for (int pass = 0; pass < passes; pass++) {
        gb_calibrate_touch(descriptors, count);
        uint64_t start = gb_now_ns();
        for (size_t i = 0; i < count; i++)
            atomic_fetch_sub_explicit(GB_ATOMIC(int, descriptors[i].refcount), 1, memory_order_acq_rel);
        double ns = (double)(gb_now_ns() - start) / (double)count;
        if (ns < best)
            best = ns;
    }
    return best;
}

double gb_calibrate_jump_ns(gb_page *descriptors, size_t count, size_t stride, int passes) {
    if (stride == 0 || count < stride)
        return -EINVAL;
    size_t jumps = count / stride;
    for (size_t k = 0; k < jumps; k++)
        descriptors[k * stride].nr_pages = (unsigned int)stride;
    double best = 1e9;
    for (int pass = 0; pass < passes; pass++) {
        gb_calibrate_touch(descriptors, count);
        uint64_t start = gb_now_ns();
        size_t i = 0;
        while (i + stride <= count) {
            /* The distance to the next folio is read from this one, as gup_folio_range_next()
             * reads the folio's order: the next address depends on this load. */
            size_t next = atomic_load_explicit(GB_ATOMIC(unsigned int, descriptors[i].nr_pages),
                                               memory_order_relaxed);
            atomic_fetch_sub_explicit(GB_ATOMIC(int, descriptors[i].refcount), 1, memory_order_acq_rel);
            i += next;
        }
        double ns = (double)(gb_now_ns() - start) / (double)jumps;
        if (ns < best)
            best = ns;
    }
    return best;
}

double gb_calibrate_strided_rmw_ns(gb_page *descriptors, size_t count, size_t stride, int passes) {
    if (stride == 0 || count < stride)
        return -EINVAL;
    size_t steps = count / stride;
    int nothing = zero_the_compiler_cannot_see;  /* a live memmap keeps its counts */
    double best = 1e9;
    for (int pass = 0; pass < passes; pass++) {
        gb_calibrate_touch(descriptors, count);
        uint64_t start = gb_now_ns();
        /* The same RMWs as the jump's, but the next address is arithmetic, not read from this
         * descriptor: nothing but the locked RMW's ordering holds the next miss back. */
        for (size_t i = 0; i + stride <= count; i += stride)
            atomic_fetch_add_explicit(GB_ATOMIC(int, descriptors[i].refcount), nothing, memory_order_acq_rel);
        double ns = (double)(gb_now_ns() - start) / (double)steps;
        if (ns < best)
            best = ns;
    }
    return best;
}
