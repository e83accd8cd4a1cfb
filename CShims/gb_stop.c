/* gb_stop.c — SIGINT / SIGTERM recorded for a stop between repetitions. */
#define _GNU_SOURCE
#include "gb_stop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

/* Lock-free on every target Swift supports, so the store is async-signal-safe. */
static _Atomic int received;

static void on_signal(int sig) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&received, &expected, sig))
        return;
    /* Second signal: the default action now (terminate with that signal). */
    signal(sig, SIG_DFL);
    raise(sig);
}

int gb_stop_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -errno;
    /* A parent may have started us with them blocked (the mask is inherited across exec, e.g.
     * from a thread pool's worker): unblock them here, on the main thread, before any other
     * thread exists to inherit the mask. */
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGINT);
    sigaddset(&both, SIGTERM);
    return pthread_sigmask(SIG_UNBLOCK, &both, NULL) == 0 ? 0 : -EINVAL;
}

int gb_stop_signal(void) { return atomic_load_explicit(&received, memory_order_acquire); }
