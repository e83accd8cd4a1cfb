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
    for (int round = 0; round < 5; round++) {
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
