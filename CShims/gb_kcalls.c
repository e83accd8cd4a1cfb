/* gb_kcalls.c — the kernel's out-of-line release calls, its NR_FOLL_PIN_RELEASED accounting and
 * their two return flavours (see gb_kcalls.h). */
#include "gb_kcalls.h"

#include <stdlib.h>

static gb_mitigation mitigation_mode = GB_MITIGATION_OFF;
void gb_set_mitigations(gb_mitigation mode) { __atomic_store_n(&mitigation_mode, mode, __ATOMIC_RELAXED); }
gb_mitigation gb_mitigations(void) { return __atomic_load_n(&mitigation_mode, __ATOMIC_RELAXED); }

gb_page gb_zero_folio_page;

/* ---- vmstat: kernel mm/vmstat.c ---- */

/* kernel: struct per_cpu_nodestat's vm_node_stat_diff[NR_FOLL_PIN_RELEASED] (s8) — one per CPU;
 * a worker thread is pinned to its CPU, so the thread's copy is that CPU's. */
static __thread int8_t this_cpu_diff;
/* kernel: per_cpu_nodestat.stat_threshold (the same value on every CPU of a node here). */
static int stat_threshold = 125;
/* kernel: pgdat->vm_stat[NR_FOLL_PIN_RELEASED] and vm_node_stat[...]: atomic_long_t, apart. */
static gb_vmstat_counters counters;

void gb_vmstat_set_threshold(int threshold) {
    /* kernel: calculate_normal_threshold() caps at 125 (an s8 diff must hold diff + delta). */
    stat_threshold = threshold < 1 ? 1 : threshold > 125 ? 125 : threshold;
}
int gb_vmstat_threshold(void) { return stat_threshold; }
int gb_vmstat_this_cpu_diff(void) { return this_cpu_diff; }
void gb_vmstat_reset(void) {
    this_cpu_diff = 0;
    __atomic_store_n(&counters.node, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&counters.global, 0, __ATOMIC_RELAXED);
}
long gb_vmstat_node_released(void) { return __atomic_load_n(&counters.node, __ATOMIC_RELAXED); }
long gb_vmstat_global_released(void) { return __atomic_load_n(&counters.global, __ATOMIC_RELAXED); }

/* kernel: mod_node_state(pgdat, item, delta, overstep_mode = 0); `p` is this CPU's diff, `c`
 * the node's and the global counter. */
GB_INLINE void mod_node_state_on(gb_vmstat_counters *_Nonnull c, int8_t *_Nonnull p, long delta,
                                 gb_tally *_Nonnull t) {
    int8_t o = __atomic_load_n(p, __ATOMIC_RELAXED);
    long n, z;
    do {
        z = 0; /* overflow to node counters */
        long threshold = __atomic_load_n(&stat_threshold, __ATOMIC_RELAXED);
        n = delta + (long)o;
        if (labs(n) > threshold) {
            z = n; /* overstep_mode 0: os = 0, all of it goes to the node, the diff to 0 */
            n = 0;
        }
        t->vmstat_cmpxchgs++;
    } while (!gb_this_cpu_try_cmpxchg_s8(p, &o, (int8_t)n));
    if (z) {
        /* kernel: node_page_state_add(): atomic_long_add() to the node's and the global counter */
        __atomic_fetch_add(&c->node, z, __ATOMIC_RELAXED);
        __atomic_fetch_add(&c->global, z, __ATOMIC_RELAXED);
        t->vmstat_folds++;
    }
}

GB_INLINE void mod_node_state(long delta, gb_tally *_Nonnull t) {
    mod_node_state_on(&counters, &this_cpu_diff, delta, t);
}

GB_PLAIN void gb_k_mod_node_page_state(long delta, gb_tally *t) { mod_node_state(delta, t); }
GB_SAFERET void gb_k_mod_node_page_state_saferet(long delta, gb_tally *t) { mod_node_state(delta, t); }

void gb_vmstat_mod_on(gb_vmstat_counters *c, int8_t *diff, long delta, gb_tally *t) {
    mod_node_state_on(c, diff, delta, t);
}

/* ---- kernel mm/gup.c ---- */

/* kernel: gup_put_folio(folio, refs, FOLL_PIN) up to its folio_put_refs(): `if
 * (is_zero_folio(folio)) return; node_stat_mod_folio(folio, NR_FOLL_PIN_RELEASED, refs);`.
 * False for the zero folio (nothing more to do). One copy for the plain and the last-reference
 * release, which differ only in the folio_put_refs() that follows. */
GB_INLINE bool gup_put_folio_pin_accounted(gb_page *folio, int refs, bool saferet, gb_tally *t) {
    if (gb_is_zero_folio(folio, t))
        return false;
    t->kernel_calls++;
    if (saferet)
        gb_k_mod_node_page_state_saferet(refs, t);
    else
        gb_k_mod_node_page_state(refs, t);
    return true;
}

/* kernel: gup_put_folio(folio, refs, FOLL_PIN): `if (is_zero_folio(folio)) return;
 * node_stat_mod_folio(folio, NR_FOLL_PIN_RELEASED, refs);` then _pincount and folio_put_refs().
 * `saferet` picks the accounting call's flavour to match the caller's. */
GB_INLINE gb_put_result gup_put_folio_pin(gb_page *folio, int refs, bool saferet, gb_tally *t) {
    if (!gup_put_folio_pin_accounted(folio, refs, saferet, t))
        return (gb_put_result){false, false};
    return gb_gup_put_folio(folio, refs, GB_FOLL_PIN, t);
}

/* kernel: unpin_user_page() */
GB_PLAIN gb_put_result gb_k_unpin_user_page(gb_page *page, gb_tally *t) {
    return gup_put_folio_pin(gb_page_folio(page), 1, false, t);
}
GB_SAFERET gb_put_result gb_k_unpin_user_page_saferet(gb_page *page, gb_tally *t) {
    return gup_put_folio_pin(gb_page_folio(page), 1, true, t);
}

/* kernel: unpin_user_folio() */
GB_PLAIN gb_put_result gb_k_unpin_user_folio(gb_page *folio, long npages, gb_tally *t) {
    return gup_put_folio_pin(folio, (int)npages, false, t);
}
GB_SAFERET gb_put_result gb_k_unpin_user_folio_saferet(gb_page *folio, long npages, gb_tally *t) {
    return gup_put_folio_pin(folio, (int)npages, true, t);
}

/* kernel: gup_put_folio() as unpin_user_pages*() call it, once per folio run */
GB_PLAIN gb_put_result gb_k_gup_put_folio_pin(gb_page *folio, int refs, gb_tally *t) {
    return gup_put_folio_pin(folio, refs, false, t);
}
GB_SAFERET gb_put_result gb_k_gup_put_folio_pin_saferet(gb_page *folio, int refs, gb_tally *t) {
    return gup_put_folio_pin(folio, refs, true, t);
}

/* kernel: gup_put_folio(folio, refs, FOLL_PIN) at the last reference — as gup_put_folio_pin(),
 * its folio_put_refs() freeing the folio through `c` when _refcount reaches 0 (__folio_put()). */
GB_INLINE gb_put_result gup_put_folio_pin_last(gb_page *folio, int refs, bool saferet, gb_free_ctx *c,
                                               gb_tally *t) {
    if (!gup_put_folio_pin_accounted(folio, refs, saferet, t))
        return (gb_put_result){false, false};
    return gb_gup_put_folio_last(folio, refs, GB_FOLL_PIN, c, t);
}

/* kernel: unpin_user_folio() when it drops the last reference (io_release_ubuf() after munmap) */
GB_PLAIN gb_put_result gb_k_unpin_user_folio_last(gb_page *folio, long npages, gb_free_ctx *c, gb_tally *t) {
    return gup_put_folio_pin_last(folio, (int)npages, false, c, t);
}
GB_SAFERET gb_put_result gb_k_unpin_user_folio_last_saferet(gb_page *folio, long npages, gb_free_ctx *c,
                                                            gb_tally *t) {
    return gup_put_folio_pin_last(folio, (int)npages, true, c, t);
}

/* ---- an empty call: the free path's calls (gb_free.h gb_free_calls) and the calls floor ---- */

/* An out-of-line call and its return, nothing in it, in the two return shapes. The free path's
 * callee's work is the model's inline code at that place (gb_free.h); the call calibration
 * (gb_calibrate.c) times these very functions. */
GB_PLAIN void gb_k_empty_call(void) { __asm__ volatile("" ::: "memory"); }
GB_SAFERET void gb_k_empty_call_saferet(void) { __asm__ volatile("" ::: "memory"); }

/* ---- the indirect call of retpoline mode ---- */

/* The indirect call's target (kernel: io_release_ubuf() reached through imu->release). */
GB_SAFERET void gb_k_release_target(void) { __asm__ volatile("" ::: "memory"); }
/* CShims/gb_thunks.S: jumps to fn through a retpoline (kernel: __x86_indirect_thunk_rax). */
void gb_call_through_retpoline(void (*_Nonnull fn)(void));

void gb_kcall_release_indirect(gb_mitigation mode, gb_tally *t) {
    if (mode != GB_MITIGATION_RETPOLINE && mode != GB_MITIGATION_RETPOLINE_SAFE_RET)
        return;
    t->kernel_calls++;
#if GB_HAVE_THUNKS
    gb_call_through_retpoline(gb_k_release_target);
#else
    gb_k_release_target();
#endif
}
