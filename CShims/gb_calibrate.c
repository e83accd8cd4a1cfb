/* gb_calibrate.c — the machine's own costs: the fastest way it does one event of each resource a
 * release loop uses (the floors' calibrations), and the figures that describe the machine's state
 * (contended atomic and lock, out-of-cache stream, dependent-load latency). Every calibration
 * microbenchmark is here, so the floors' denominators are read in one place; each uses the model's
 * own primitives (gb_page.h, gb_free.h, gb_kcalls.h) so it times the instructions the loops run. */
#define _GNU_SOURCE
#include "gb_calibrate.h"
#include "gb_free.h"
#include "gb_kcalls.h"
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

int gb_calibrate_contended_atomic_ns(const int *cpus, int ncpus, long iterations, double *ns_out) {
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
    if (rc != 0)
        return rc;
    *ns_out = worst;
    return 0;
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

/* ---- locks: the spin_lock() of --last-ref (gb_free.h) ---- */

double gb_calibrate_lock_pair_ns(long iterations) {
    static gb_spinlock private_lock; /* one lock, one thread: never contended */
    double best = 1e9;
    for (int round = 0; round < 5; round++) {
        uint64_t start = gb_now_ns();
        for (long i = 0; i < iterations; i++) {
            gb_spin_lock(&private_lock);
            gb_spin_unlock(&private_lock);
        }
        double ns = (double)(gb_now_ns() - start) / (double)iterations;
        if (ns < best)
            best = ns;
    }
    return best;
}

/* The contended pair: two CPUs take one lock in strict turn, so every counted acquisition finds
 * the lock's line (and the `last` word it protects, as a list_del() writes its neighbours) in the
 * other CPU's cache — a handoff each time. A tight lock/unlock loop would not measure that: a
 * test-and-test-and-set lock is unfair and the releasing CPU mostly takes it straight back.
 * Strict turns stall whenever the other CPU is not running (a shared, oversubscribed host), so the
 * figure is the best of many short rounds, each started on a barrier: a round in which both CPUs
 * ran throughout. */
#define GB_LOCK_ROUNDS 64

struct lock_contender {
    gb_spinlock *lock;
    int *last;      /* who took the lock last; written under the lock */
    gb_spin_barrier *barrier;
    long per_round;
    int cpu;
    int rc;
    uint64_t ns[GB_LOCK_ROUNDS];
};

static void *contend_lock(void *arg) {
    struct lock_contender *c = arg;
    c->rc = gb_pin_current_thread(c->cpu);
    for (int r = 0; r < GB_LOCK_ROUNDS; r++) {
        gb_spin_barrier_wait(c->barrier);
        uint64_t start = gb_now_ns();
        for (long i = 0; i < c->per_round;) {
            gb_spin_lock(c->lock);
            int mine = atomic_load_explicit(GB_ATOMIC(int, *c->last), memory_order_relaxed) == c->cpu + 1;
            if (!mine) {
                atomic_store_explicit(GB_ATOMIC(int, *c->last), c->cpu + 1, memory_order_relaxed);
                i++;
            }
            gb_spin_unlock(c->lock);
            if (mine)
                __builtin_ia32_pause();
        }
        c->ns[r] = gb_now_ns() - start;
    }
    return NULL;
}

int gb_calibrate_contended_lock_pair_ns(const int *cpus, int ncpus, long per_round, double *ns_out) {
    static gb_spinlock shared_lock;
    static gb_spinlock last_line; /* its own line: the data the lock protects */
    static struct lock_contender cs[2];
    pthread_t threads[2];
    if (ncpus < 2 || per_round < 1)
        return -EINVAL;
    gb_spin_barrier *barrier = gb_spin_barrier_create(2);
    if (!barrier)
        return -ENOMEM;
    int started = 0;
    for (int i = 0; i < 2; i++) {
        cs[i] = (struct lock_contender){.lock = &shared_lock, .last = &last_line.locked,
                                        .barrier = barrier, .per_round = per_round, .cpu = cpus[i]};
        if (pthread_create(&threads[i], NULL, contend_lock, &cs[i]) != 0)
            break;
        started++;
    }
    if (started < 2) { /* the one thread that started waits on every round's barrier: fill in */
        for (int r = 0; r < GB_LOCK_ROUNDS && started == 1; r++)
            gb_spin_barrier_wait(barrier);
        for (int i = 0; i < started; i++)
            pthread_join(threads[i], NULL);
        gb_spin_barrier_destroy(barrier);
        return -EAGAIN;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    gb_spin_barrier_destroy(barrier);
    if (cs[0].rc != 0 || cs[1].rc != 0)
        return cs[0].rc != 0 ? cs[0].rc : cs[1].rc;
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < GB_LOCK_ROUNDS; r++) {
        uint64_t round = cs[0].ns[r] > cs[1].ns[r] ? cs[0].ns[r] : cs[1].ns[r];
        if (round < best)
            best = round;
    }
    /* The acquisitions of a round are serial: its time over all of them is one handoff each. */
    *ns_out = (double)best / (double)(2 * per_round);
    return 0;
}

/* ---- calls and per-CPU counters: the out-of-line release calls (gb_kcalls.h) ---- */

/* The floor of the call resource: ns per out-of-line call and its return, in the shape the
 * mode gives returns (plain, or through the Safe-RET thunk), eight calls to a loop turn and
 * nothing depending on them, best of many short rounds. It calls the empty functions the free
 * path's calls are (gb_k_empty_call, gb_free.h), in the return shapes of gb_kcalls.c's. */
double gb_calibrate_kcall_ns(gb_mitigation mode, long iterations) {
    long turns = iterations / 8 > 0 ? iterations / 8 : 1;
    bool thunked = gb_mitigation_thunks_returns(mode);
    double best = 1e9;
    for (int round = 0; round < 20; round++) {
        uint64_t start = gb_now_ns();
        for (long i = 0; i < turns; i++) {
            for (int k = 0; k < 8; k++) {
                if (!thunked)
                    gb_k_empty_call();
                else
                    gb_k_empty_call_saferet();
            }
        }
        double ns = (double)(gb_now_ns() - start) / (double)(turns * 8);
        if (ns < best)
            best = ns;
    }
    return best;
}

/* A chain of the cmpxchg mod_node_state() retries on (gb_this_cpu_try_cmpxchg_s8): each reads
 * the last one's result, as successive updates of one per-CPU counter do. */
double gb_calibrate_local_cmpxchg_ns(long iterations) {
    int8_t v = 0;
    double best = 1e9;
    for (int round = 0; round < 20; round++) {
        uint64_t start = gb_now_ns();
        for (long i = 0; i < iterations; i++) {
            int8_t o = v;
            while (!gb_this_cpu_try_cmpxchg_s8(&v, &o, (int8_t)(o + 1)))
                ;
        }
        double ns = (double)(gb_now_ns() - start) / (double)iterations;
        if (ns < best)
            best = ns;
    }
    return best;
}
