/* gb_limits.c — resource limits read with getrlimit(2). */
#include "gb_limits.h"

#include <errno.h>
#include <sys/resource.h>

static uint64_t bytes(rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : (uint64_t)v; }

int gb_memlock_limits(uint64_t *soft, uint64_t *hard) {
    struct rlimit r;
    if (getrlimit(RLIMIT_MEMLOCK, &r) != 0)
        return -errno;
    *soft = bytes(r.rlim_cur);
    *hard = bytes(r.rlim_max);
    return 0;
}
