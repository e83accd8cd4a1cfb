/*
 * gb_kernel.h — the real kernel pinning and unpinning our memory: an io_uring instance whose
 * fixed buffers are the region (IORING_REGISTER_BUFFERS pins every page with
 * pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM); IORING_UNREGISTER_BUFFERS unpins them), and
 * the system-wide FOLL_PIN counters of /proc/vmstat that prove the work was done.
 *
 * Raw syscalls, no liburing: the probe needs two register opcodes and nothing else.
 * Every function returns 0 (or a count / fd) on success and -errno on failure.
 */
#ifndef GB_KERNEL_H
#define GB_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/* kernel: io_uring/rsrc.c io_buffer_validate() rejects an iovec longer than SZ_1G. */
#define GB_IORING_MAX_IOVEC_BYTES ((size_t)1 << 30)
/* kernel: IORING_MAX_REG_BUFFERS (1U << 14) — at most this many iovecs in one registration. */
#define GB_IORING_MAX_BUFFERS 16384

/* io_uring_setup(entries, &params) with zeroed params: a ring fd, or -errno
 * (-ENOSYS: no CONFIG_IO_URING; -EPERM: io_uring_disabled, io_uring_group or seccomp). */
int gb_io_uring_setup(unsigned entries);

/*
 * IORING_REGISTER_BUFFERS over [addr, addr + len), cut into iovecs of at most 1 GiB.
 * kernel: io_sqe_buffers_register() -> io_sqe_buffer_register() -> io_pin_pages() ->
 * pin_user_pages_fast(); uniformly sized large folios are coalesced (io_coalesce_buffer()
 * keeps one pin per folio and drops the rest with unpin_user_folio()).
 * 0, -EINVAL (len not a multiple of 4 KiB or too many iovecs), or the syscall's -errno
 * (-ENOMEM: RLIMIT_MEMLOCK without CAP_IPC_LOCK, or no memory; -EBUSY: already registered).
 */
int gb_io_uring_register_buffers(int ring_fd, void *_Nonnull addr, size_t len);

/* IORING_UNREGISTER_BUFFERS. kernel: io_sqe_buffers_unregister() -> io_buffer_unmap() /
 * io_release_ubuf(): unpin_user_folio() once per bvec — per folio when coalesced, per 4 KiB
 * page otherwise. 0 or -errno (-ENXIO: nothing registered). */
int gb_io_uring_unregister_buffers(int ring_fd);

/* close(2); 0 or -errno. Closing a ring also drops its buffers, but asynchronously (the ring's
 * exit work runs later), so callers unregister first when they need the pins gone now. */
int gb_close_fd(int fd);

/* nr_foll_pin_acquired and nr_foll_pin_released from /proc/vmstat (system-wide, counted per
 * 4 KiB page: kernel node_stat_mod_folio(NR_FOLL_PIN_*, refs)). 0, or -errno / -ENOENT when
 * the kernel does not count them. */
int gb_vmstat_foll_pins(uint64_t *_Nonnull acquired, uint64_t *_Nonnull released);

/* Fold every CPU's pending vmstat deltas into the global counters by writing
 * /proc/sys/vm/stat_refresh (root only), so /proc/vmstat reads exactly. Without it the counters
 * may lag by each CPU's stat threshold. 0 or -errno. */
int gb_vmstat_refresh(void);

/* Whether the calling thread's effective capabilities include CAP_IPC_LOCK (which exempts an
 * io_uring ring created by it from RLIMIT_MEMLOCK accounting). 1, 0, or -errno. */
int gb_thread_has_cap_ipc_lock(void);

/* Drop CAP_IPC_LOCK from the calling thread's effective set only (capset(2) acts on one
 * thread; the permitted set keeps it). For tests of the RLIMIT_MEMLOCK path. 0 or -errno. */
int gb_thread_drop_cap_ipc_lock(void);

/* The PFN readers (gb_pfn_adjacent_pairs, gb_pfns_read) are in gb_pagemap.h; RLIMIT_MEMLOCK is
 * read by gb_memlock_limits (gb_limits.h). */

#endif /* GB_KERNEL_H */
