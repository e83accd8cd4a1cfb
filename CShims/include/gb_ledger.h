/*
 * gb_ledger.h — --detect ledger: a shadow record of who holds what on every page, so the first
 * wrong release call is named (page index, thread, the call made, the call expected) at the
 * moment it is made. The kernel has no such thing (FOLL_PIN tracking is the cheap, fuzzy version);
 * this measures what exactness would cost on the release path: one more atomic per page.
 */
#ifndef GB_LEDGER_H
#define GB_LEDGER_H

#include "gb_page.h"

/* The release calls the ledger knows. */
typedef enum gb_call {
    GB_CALL_NONE = 0,
    GB_CALL_PUT_PAGE = 1,         /* put_page(): drops a FOLL_GET reference */
    GB_CALL_UNPIN_USER_PAGE = 2,  /* unpin_user_page() and the batched unpins: drop a FOLL_PIN */
} gb_call;

typedef struct gb_ledger_violation {
    long page_index;     /* descriptor index in the memmap */
    long thread;         /* worker index (gb_tally.thread) */
    gb_call call_made;
    gb_call call_expected;  /* the call that would have matched what the page holds, or NONE */
    int gets_held;       /* FOLL_GET references the ledger had for the page before the call */
    int pins_held;       /* FOLL_PIN pins it had */
} gb_ledger_violation;

typedef struct gb_ledger {
    gb_page *_Nullable memmap;
    int *_Nullable gets;         /* per page; accessed atomically through GB_ATOMIC */
    int *_Nullable pins;
    size_t npages;
    long violations;             /* atomic */
    int first_taken;             /* atomic flag: `first` is written by exactly one thread */
    gb_ledger_violation first;
} gb_ledger;

/* Allocate the shadow arrays for a memmap of npages descriptors; 0 or -ENOMEM. */
int gb_ledger_init(gb_ledger *_Nonnull l, gb_page *_Nonnull memmap, size_t npages);
void gb_ledger_free(gb_ledger *_Nonnull l);
/* Zero every count and forget violations (between scenarios). */
void gb_ledger_reset(gb_ledger *_Nonnull l);

/* The slow path: record a violation (out of line, off the hot path). */
void gb_ledger_report(gb_ledger *_Nonnull l, long index, long thread, int made, int gets, int pins);

/* Record a grab of `refs` references of kind `flags` on page p (untimed). */
GB_INLINE void gb_ledger_grab(gb_ledger *_Nonnull l, gb_page *_Nonnull p, int refs, gb_foll flags) {
    long index = p - l->memmap;
    int *counter = flags == GB_FOLL_PIN ? &l->pins[index] : &l->gets[index];
    atomic_fetch_add_explicit(GB_ATOMIC(int, *counter), refs, memory_order_relaxed);
}

/* Check a release call on page p against the ledger; one atomic per page. */
GB_INLINE void gb_ledger_release(gb_ledger *_Nonnull l, gb_page *_Nonnull p, gb_call call,
                                 gb_tally *_Nonnull t) {
    long index = p - l->memmap;
    int *counter = call == GB_CALL_UNPIN_USER_PAGE ? &l->pins[index] : &l->gets[index];
    t->atomics++;
    int before = atomic_fetch_sub_explicit(GB_ATOMIC(int, *counter), 1, memory_order_relaxed);
    if (__builtin_expect(before <= 0, 0)) {
        /* Undo the wrong call's decrement, so later calls are judged on what is really held. */
        atomic_fetch_add_explicit(GB_ATOMIC(int, *counter), 1, memory_order_relaxed);
        int gets = atomic_load_explicit(GB_ATOMIC(int, l->gets[index]), memory_order_relaxed);
        int pins = atomic_load_explicit(GB_ATOMIC(int, l->pins[index]), memory_order_relaxed);
        gb_ledger_report(l, index, (long)t->thread, call, gets, pins);
    }
}

/* Detection modes (--detect); each includes what the ones before it do. */
typedef enum gb_detect_mode {
    GB_DETECT_OFF = 0,        /* the model only */
    GB_DETECT_AUDIT = 1,      /* + the end-of-run scan; nothing on the release path */
    GB_DETECT_UNDERFLOW = 2,  /* + gb_check_underflow() on every release */
    GB_DETECT_LEDGER = 3,     /* + gb_ledger_release() on every page released */
} gb_detect_mode;

/* The release-path checks of a detection mode for `nr` consecutive entries released as one. */
GB_INLINE void gb_detect_entries(gb_detect_mode detect, gb_ledger *_Nullable l, gb_page *_Nonnull const *_Nonnull pages,
                                 long nr, gb_call call, gb_tally *_Nonnull t) {
    if (detect == GB_DETECT_LEDGER)
        for (long k = 0; k < nr; k++)
            gb_ledger_release(l, pages[k], call, t);
}

/* The same for `nr` consecutive descriptors of a range. */
GB_INLINE void gb_detect_range(gb_detect_mode detect, gb_ledger *_Nullable l, gb_page *_Nonnull first, long nr,
                               gb_call call, gb_tally *_Nonnull t) {
    if (detect == GB_DETECT_LEDGER)
        for (long k = 0; k < nr; k++)
            gb_ledger_release(l, first + k, call, t);
}

GB_INLINE void gb_detect_result(gb_detect_mode detect, gb_put_result r, gb_tally *_Nonnull t) {
    if (detect >= GB_DETECT_UNDERFLOW)
        gb_check_underflow(r, t);
}

/* A release with --detect underflow's check compiled in or out by `detect` (a constant after
 * inlining): kernel gup_put_folio() of `refs` of kind `flags`; the check's count is on the cold
 * branches of the release's own flags (see gb_gup_put_folio_checked). */
GB_INLINE void gb_detect_put_folio(gb_detect_mode detect, gb_page *_Nonnull folio, int refs, gb_foll flags,
                                   gb_tally *_Nonnull t) {
    (void)gb_gup_put_folio_checked(folio, refs, flags, detect >= GB_DETECT_UNDERFLOW, t);
}

/* put_page() / unpin_user_page() on one entry, the same way. */
GB_INLINE void gb_detect_put_page(gb_detect_mode detect, gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    gb_detect_put_folio(detect, gb_compound_head(p), 1, GB_FOLL_GET, t);
}

GB_INLINE void gb_detect_unpin_user_page(gb_detect_mode detect, gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    gb_detect_put_folio(detect, gb_compound_head(p), 1, GB_FOLL_PIN, t);
}

#endif /* GB_LEDGER_H */
