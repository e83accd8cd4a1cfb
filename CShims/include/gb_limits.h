/*
 * gb_limits.h — the resource limits gupbench checks before mapping anything: RLIMIT_MEMLOCK
 * (what an io_uring fixed-buffer registration may pin without CAP_IPC_LOCK; kernel:
 * io_uring/rsrc.c io_account_mem() -> __io_account_mem()). The process's only reader of it:
 * the registration checks (MemlockLimit in Swift) and the tests all go through here.
 */
#ifndef GB_LIMITS_H
#define GB_LIMITS_H

#include <stdint.h>

/* RLIMIT_MEMLOCK's soft and hard limits in bytes (UINT64_MAX = unlimited). 0 or -errno. */
int gb_memlock_limits(uint64_t *_Nonnull soft, uint64_t *_Nonnull hard);

#endif /* GB_LIMITS_H */
