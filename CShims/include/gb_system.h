/*
 * gb_system.h — the machine: NUMA topology through libnuma, CPU affinity, a spin barrier for
 * starting worker threads together, and the clock. Out of line where it needs _GNU_SOURCE.
 */
#ifndef GB_SYSTEM_H
#define GB_SYSTEM_H

#include <stdint.h>
#include <time.h>

/* 1 when the kernel supports NUMA policy calls (libnuma's numa_available() == 0). */
int gb_numa_available(void);
/* gb_numa_available(), after filling libnuma's per-node CPU-mask cache once (pthread_once): call
 * it before numa_node_of_cpu() or numa_run_on_node() so threads never race to fill that cache. */
int gb_numa_ready(void);
/* numa_max_node(): the highest node number (0 on a one-node machine). */
int gb_numa_max_node(void);
/* CPUs of `node` this process may run on, into cpus[0..max); returns the count or -errno. */
int gb_node_cpus(int node, int *_Nonnull cpus, int max);
/* numa_node_of_cpu() */
int gb_cpu_node(int cpu);
/* Total and free bytes of a node's memory (numa_node_size64), each -1 when unknown. 0, -ENOSYS
 * without NUMA support, or -ENOENT when the node's size cannot be read. */
int gb_node_memory(int node, long long *_Nonnull total_bytes, long long *_Nonnull free_bytes);
/* numa_distance() (10 = local); 0 when unknown. */
int gb_numa_distance(int a, int b);
/* 1 when `node` exists and has memory. */
int gb_node_has_memory(int node);
/* CPUs in this thread's affinity mask, into cpus[0..max); returns the count. */
int gb_allowed_cpus(int *_Nonnull cpus, int max);

/* Let the calling thread run on any of cpus[0..n) again; 0 or -errno. */
int gb_allow_cpus(const int *_Nonnull cpus, int n);
/* Pin the calling thread to one CPU (sched_setaffinity); 0 or -errno. */
int gb_pin_current_thread(int cpu);
/* Name the calling thread (pthread_setname_np; at most 15 characters are kept). 0 or -errno. */
int gb_name_current_thread(const char *_Nonnull name);
/* sched_getcpu() */
int gb_current_cpu(void);

/* A sense-reversing spin barrier: waiters spin (with pause, then yield) so all start together. */
typedef struct gb_spin_barrier gb_spin_barrier;
gb_spin_barrier *_Nullable gb_spin_barrier_create(int parties);
void gb_spin_barrier_wait(gb_spin_barrier *_Nonnull barrier);
void gb_spin_barrier_destroy(gb_spin_barrier *_Nullable barrier);

/* CLOCK_MONOTONIC in nanoseconds. */
static inline __attribute__((always_inline)) uint64_t gb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time this thread has run, ns (CLOCK_THREAD_CPUTIME_ID: a system call, so read outside
 * timed windows). Against the wall time of the same interval it tells whether the thread was
 * descheduled in it. */
static inline uint64_t gb_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* GB_SYSTEM_H */
