/*
 * gb_kcalls.h — the kernel's per-call work on the unpin path, which the descriptor model alone
 * leaves out:
 *   - the out-of-line calls: unpin_user_page() and unpin_user_folio() are exported functions
 *     (mm/gup.c), and the batched unpins call gup_put_folio() once per folio run;
 *   - gup_put_folio()'s is_zero_folio() test (a FOLL_PIN of the shared zero page is not counted);
 *   - node_stat_mod_folio(folio, NR_FOLL_PIN_RELEASED, refs) -> mod_node_page_state() (mm/vmstat.c),
 *     out of line, which with HAVE_CMPXCHG_LOCAL (x86-64) updates a per-CPU s8 diff with an
 *     *unlocked* this_cpu_try_cmpxchg() and, once |diff + delta| passes the CPU's stat_threshold,
 *     folds it into the node's and the global counter with two locked adds
 *     (node_page_state_add()).
 * And the way those calls return on a kernel with mitigations: with spec_rstack_overflow
 * "Safe RET" every `ret` of the kernel is a `jmp __x86_return_thunk` into srso_return_thunk
 * (arch/x86/lib/retpoline.S), which defeats the return-stack predictor. Each out-of-line function
 * exists twice: returning plainly, and through that thunk (CShims/gb_thunks.S); the mode is
 * process-wide (gb_set_mitigations) and read once per loop.
 *
 * Counts go to the caller's tally: kernel_calls, zero_folio_tests, vmstat_cmpxchgs, vmstat_folds
 * (each fold is two locked adds, kept out of `atomics`, which counts descriptor atomics).
 */
#ifndef GB_KCALLS_H
#define GB_KCALLS_H

#include "gb_free.h"
#include "gb_ledger.h"

/* How the out-of-line release functions return (and call indirectly): --mitigations. */
typedef enum gb_mitigation {
    GB_MITIGATION_OFF = 0,       /* plain call / ret */
    GB_MITIGATION_SAFE_RET = 1,  /* ret through srso_return_thunk -> srso_safe_ret (AMD's SRSO) */
    GB_MITIGATION_RETPOLINE = 2, /* plain returns; the one indirect call per release call
                                    (io_buffer_unmap(): imu->release()) through a retpoline */
    GB_MITIGATION_RETPOLINE_SAFE_RET = 3, /* both: safe-ret returns and the retpoline */
} gb_mitigation;

/* Whether the mode's returns go through the Safe-RET thunk. */
static inline bool gb_mitigation_thunks_returns(gb_mitigation mode) {
    return mode == GB_MITIGATION_SAFE_RET || mode == GB_MITIGATION_RETPOLINE_SAFE_RET;
}

/* The two return shapes of an out-of-line function. With GB_SAFERET its `ret` becomes `jmp
 * __x86_return_thunk` (CShims/gb_thunks.S), as the kernel's with Safe RET; shared with the
 * call calibration (gb_calibrate.c), which must time the same shapes the release calls have. */
#if defined(__x86_64__) && __has_attribute(function_return)
#define GB_SAFERET __attribute__((noinline, function_return("thunk-extern")))
#define GB_HAVE_THUNKS 1
#else
#define GB_SAFERET __attribute__((noinline))
#define GB_HAVE_THUNKS 0
#endif
#define GB_PLAIN __attribute__((noinline))

/* kernel: this_cpu_try_cmpxchg() on an s8 with HAVE_CMPXCHG_LOCAL: `cmpxchgb` without a lock
 * prefix (the per-CPU variable is only written from its own CPU, so atomicity against
 * interrupts is enough). On failure *old gets the current value. Here, not in gb_kcalls.c, so
 * the per-CPU counter calibration (gb_calibrate.c) times this very instruction. */
GB_INLINE bool gb_this_cpu_try_cmpxchg_s8(int8_t *_Nonnull p, int8_t *_Nonnull old, int8_t new_) {
#if defined(__x86_64__)
    bool ok;
    __asm__ volatile("cmpxchgb %[new_], %[mem]"
                     : "=@ccz"(ok), [mem] "+m"(*p), "+a"(*old)
                     : [new_] "q"(new_)
                     : "memory");
    return ok;
#else
    if (*p != *old) { *old = *p; return false; }
    *p = new_;
    return true;
#endif
}

/* The process-wide mode (set before a loop runs; loops read it once). */
void gb_set_mitigations(gb_mitigation mode);
gb_mitigation gb_mitigations(void);

/* ---- NR_FOLL_PIN_RELEASED, the kernel's way ---- */

/* stat_threshold of every CPU's node pageset (kernel: refresh_zone_stat_thresholds(); read from
 * /proc/zoneinfo by the caller). Values outside 1..125 are clamped to that range. */
void gb_vmstat_set_threshold(int threshold);
int gb_vmstat_threshold(void);
/* This thread's per-CPU diff (the worker is pinned to one CPU: its thread is its CPU). */
int gb_vmstat_this_cpu_diff(void);
/* Zero this thread's diff and the node and global counters (tests, between runs). */
void gb_vmstat_reset(void);
/* The node's and the global NR_FOLL_PIN_RELEASED (kernel: pgdat->vm_stat[], vm_node_stat[]). */
long gb_vmstat_node_released(void);
long gb_vmstat_global_released(void);

/* kernel: pgdat->vm_stat[NR_FOLL_PIN_RELEASED] and vm_node_stat[...] (atomic_long_t), apart. */
typedef struct gb_vmstat_counters {
    long node;
    char _apart[56]; /* padding, not _Alignas: Swift's importer skips over-aligned records */
    long global;
} gb_vmstat_counters;

/* The same mod_node_state() on counters and a diff of the caller's (tests: exact values while
 * other threads' releases update the process-wide counters). */
void gb_vmstat_mod_on(gb_vmstat_counters *_Nonnull c, int8_t *_Nonnull diff, long delta,
                      gb_tally *_Nonnull t);

/* kernel: mod_node_page_state(pgdat, NR_FOLL_PIN_RELEASED, delta), out of line. */
void gb_k_mod_node_page_state(long delta, gb_tally *_Nonnull t);
void gb_k_mod_node_page_state_saferet(long delta, gb_tally *_Nonnull t);

/* ---- the release calls ---- */

/* kernel: is_zero_folio() — the shared zero page's folio; never in a memmap here, so the test is
 * always false, and always made. */
extern gb_page gb_zero_folio_page;
GB_INLINE bool gb_is_zero_folio(gb_page *_Nonnull folio, gb_tally *_Nonnull t) {
    t->zero_folio_tests++;
    return folio == &gb_zero_folio_page;
}

/* Out of line, in both return flavours: kernel unpin_user_page(), unpin_user_folio(), and
 * gup_put_folio(..., FOLL_PIN) as the batched unpins call it. Each does is_zero_folio(), the
 * accounting call, then _pincount and folio_put_refs() as gb_gup_put_folio(). */
gb_put_result gb_k_unpin_user_page(gb_page *_Nonnull page, gb_tally *_Nonnull t);
gb_put_result gb_k_unpin_user_page_saferet(gb_page *_Nonnull page, gb_tally *_Nonnull t);
gb_put_result gb_k_unpin_user_folio(gb_page *_Nonnull folio, long npages, gb_tally *_Nonnull t);
gb_put_result gb_k_unpin_user_folio_saferet(gb_page *_Nonnull folio, long npages, gb_tally *_Nonnull t);
gb_put_result gb_k_gup_put_folio_pin(gb_page *_Nonnull folio, int refs, gb_tally *_Nonnull t);
gb_put_result gb_k_gup_put_folio_pin_saferet(gb_page *_Nonnull folio, int refs, gb_tally *_Nonnull t);

/* The calls the loops make: the mode picks the copy (a loop-invariant, predicted branch). */
GB_INLINE gb_put_result gb_kcall_unpin_user_page(gb_mitigation mode, gb_page *_Nonnull page, gb_tally *_Nonnull t) {
    t->kernel_calls++;
    return !gb_mitigation_thunks_returns(mode) ? gb_k_unpin_user_page(page, t) : gb_k_unpin_user_page_saferet(page, t);
}

GB_INLINE gb_put_result gb_kcall_unpin_user_folio(gb_mitigation mode, gb_page *_Nonnull folio, long npages,
                                                  gb_tally *_Nonnull t) {
    t->kernel_calls++;
    return !gb_mitigation_thunks_returns(mode) ? gb_k_unpin_user_folio(folio, npages, t)
                                     : gb_k_unpin_user_folio_saferet(folio, npages, t);
}

GB_INLINE gb_put_result gb_kcall_gup_put_folio_pin(gb_mitigation mode, gb_page *_Nonnull folio, int refs,
                                                   gb_tally *_Nonnull t) {
    t->kernel_calls++;
    return !gb_mitigation_thunks_returns(mode) ? gb_k_gup_put_folio_pin(folio, refs, t)
                                     : gb_k_gup_put_folio_pin_saferet(folio, refs, t);
}

/* The same with --detect underflow's check on the result (`detect` a constant after inlining). */
GB_INLINE void gb_detect_kcall_unpin_user_page(gb_detect_mode detect, gb_mitigation mode, gb_page *_Nonnull page,
                                               gb_tally *_Nonnull t) {
    gb_detect_result(detect, gb_kcall_unpin_user_page(mode, page, t), t);
}
GB_INLINE void gb_detect_kcall_unpin_user_folio(gb_detect_mode detect, gb_mitigation mode, gb_page *_Nonnull folio,
                                                long npages, gb_tally *_Nonnull t) {
    gb_detect_result(detect, gb_kcall_unpin_user_folio(mode, folio, npages, t), t);
}
GB_INLINE void gb_detect_kcall_gup_put_folio_pin(gb_detect_mode detect, gb_mitigation mode, gb_page *_Nonnull folio,
                                                 int refs, gb_tally *_Nonnull t) {
    gb_detect_result(detect, gb_kcall_gup_put_folio_pin(mode, folio, refs, t), t);
}

/* kernel: unpin_user_folio() when the unpin drops the folio's last reference (`--last-ref`):
 * the same out-of-line call, is_zero_folio() and NR_FOLL_PIN_RELEASED accounting, its
 * gup_put_folio() ending in folio_put_refs() -> __folio_put() (mm/swap.c), which frees through
 * the thread's free path `c` (page_cache_release(), free_frozen_pages(); gb_free.h). */
gb_put_result gb_k_unpin_user_folio_last(gb_page *_Nonnull folio, long npages, gb_free_ctx *_Nullable c,
                                         gb_tally *_Nonnull t);
gb_put_result gb_k_unpin_user_folio_last_saferet(gb_page *_Nonnull folio, long npages, gb_free_ctx *_Nullable c,
                                                 gb_tally *_Nonnull t);

GB_INLINE gb_put_result gb_kcall_unpin_user_folio_last(gb_mitigation mode, gb_page *_Nonnull folio, long npages,
                                                       gb_free_ctx *_Nullable c, gb_tally *_Nonnull t) {
    t->kernel_calls++;
    return !gb_mitigation_thunks_returns(mode) ? gb_k_unpin_user_folio_last(folio, npages, c, t)
                                               : gb_k_unpin_user_folio_last_saferet(folio, npages, c, t);
}

GB_INLINE void gb_detect_kcall_unpin_user_folio_last(gb_detect_mode detect, gb_mitigation mode,
                                                     gb_page *_Nonnull folio, long npages,
                                                     gb_free_ctx *_Nullable c, gb_tally *_Nonnull t) {
    gb_detect_result(detect, gb_kcall_unpin_user_folio_last(mode, folio, npages, c, t), t);
}

/* retpoline mode: the one indirect call a release call begins with (io_buffer_unmap():
 * imu->release(imu->priv)), through a retpoline thunk; a no-op function returning through the
 * safe-ret thunk. Other modes: nothing. */
void gb_kcall_release_indirect(gb_mitigation mode, gb_tally *_Nonnull t);

#endif /* GB_KCALLS_H */
