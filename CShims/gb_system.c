/* gb_system.c — topology, affinity and the spin barrier. */
#define _GNU_SOURCE
#include "gb_system.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <numa.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/*
 * libnuma fills a per-node CPU-mask cache on first use (numa_node_to_cpus(), which
 * numa_node_of_cpu() and numa_run_on_node() call) with an unlocked check-then-store: two threads
 * filling the same node's entry at once both store, and one mask leaks (LeakSanitizer caught it
 * when test suites mapped regions in parallel). numa_distance() reads its table lazily the same
 * way. So both are filled once, under pthread_once, before any such call: afterwards libnuma only
 * reads them. A node whose cpumap cannot be read is not cached, and libnuma frees that mask itself.
 */
static pthread_once_t libnuma_caches_once = PTHREAD_ONCE_INIT;

static void fill_libnuma_caches(void) {
    if (numa_available() != 0)
        return;
    struct bitmask *scratch = numa_allocate_cpumask();
    for (int node = 0; node <= numa_max_node(); node++)
        (void)numa_node_to_cpus(node, scratch);
    numa_bitmask_free(scratch);
    (void)numa_distance(0, 0);
}

int gb_numa_ready(void) {
    pthread_once(&libnuma_caches_once, fill_libnuma_caches);
    return numa_available() == 0;
}

int gb_numa_available(void) { return gb_numa_ready(); }

int gb_numa_max_node(void) { return gb_numa_ready() ? numa_max_node() : 0; }

int gb_node_cpus(int node, int *cpus, int max) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return -errno;
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        int cpu_node = gb_numa_ready() ? numa_node_of_cpu(cpu) : 0;
        if (cpu_node == node)
            cpus[n++] = cpu;
    }
    return n;
}

int gb_cpu_node(int cpu) { return gb_numa_ready() ? numa_node_of_cpu(cpu) : 0; }

int gb_node_memory(int node, long long *total_bytes, long long *free_bytes) {
    *total_bytes = -1;
    *free_bytes = -1;
    if (!gb_numa_ready())
        return -ENOSYS;
    *total_bytes = numa_node_size64(node, free_bytes);
    return *total_bytes < 0 ? -ENOENT : 0;
}

int gb_numa_distance(int a, int b) { return gb_numa_ready() ? numa_distance(a, b) : 0; }

int gb_node_has_memory(int node) {
    if (!gb_numa_ready())
        return node == 0;
    if (node < 0 || node > numa_max_node())
        return 0;
    return numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)node);
}

int gb_allowed_cpus(int *cpus, int max) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return -errno;
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++)
        if (CPU_ISSET(cpu, &allowed))
            cpus[n++] = cpu;
    return n;
}

int gb_name_current_thread(const char *name) {
    char shortened[16];
    snprintf(shortened, sizeof shortened, "%s", name);
    return -pthread_setname_np(pthread_self(), shortened);
}

int gb_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -errno;
}

int gb_allow_cpus(const int *cpus, int n) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < n; i++)
        CPU_SET(cpus[i], &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -errno;
}

int gb_current_cpu(void) { return sched_getcpu(); }

struct gb_spin_barrier {
    _Atomic int waiting;
    _Atomic int sense;
    int parties;
    char pad[64 - 3 * sizeof(int)];
};

gb_spin_barrier *gb_spin_barrier_create(int parties) {
    gb_spin_barrier *b = aligned_alloc(64, sizeof *b);
    if (!b)
        return NULL;
    atomic_init(&b->waiting, 0);
    atomic_init(&b->sense, 0);
    b->parties = parties;
    return b;
}

void gb_spin_barrier_wait(gb_spin_barrier *b) {
    int sense = atomic_load_explicit(&b->sense, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&b->waiting, 1, memory_order_acq_rel) + 1 == b->parties) {
        atomic_store_explicit(&b->waiting, 0, memory_order_relaxed);
        atomic_store_explicit(&b->sense, !sense, memory_order_release);
        return;
    }
    /* Spin briefly with pause, then yield: with as many threads as CPUs a waiter must not starve
     * the thread it waits for (the main thread, say, auditing between repetitions). */
    for (unsigned spins = 0; atomic_load_explicit(&b->sense, memory_order_acquire) == sense;
         spins++) {
        if (spins < 4096)
            __builtin_ia32_pause();
        else
            sched_yield();
    }
}

void gb_spin_barrier_destroy(gb_spin_barrier *b) { free(b); }
