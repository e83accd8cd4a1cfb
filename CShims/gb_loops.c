/* gb_loops.c — the C reference release loops. Each copies the tally into a local so the counts
 * stay in registers; the Swift loops in Sources/GUPBench/Strategies do the same work.
 *
 * Every loop body is inlined into a switch over the detection mode, so each mode gets its own
 * copy with the checks of other modes compiled out: `off` pays nothing for `ledger` existing. */
#include "gb_loops.h"

#define GB_MIN(a, b) ((a) < (b) ? (a) : (b))

/* Expands `BODY(mode)` once per detection mode. */
#define GB_FOR_EACH_DETECT(detect, BODY)                                                        \
    switch (detect) {                                                                            \
    case GB_DETECT_UNDERFLOW: BODY(GB_DETECT_UNDERFLOW); break;                                  \
    case GB_DETECT_LEDGER: BODY(GB_DETECT_LEDGER); break;                                        \
    default: BODY(GB_DETECT_OFF); break;                                                         \
    }

void gb_grab_pages(gb_page *const *pages, long npages, gb_foll flags, gb_ledger *ledger,
                   gb_tally *t) {
    gb_tally local = *t;
    long nr;
    for (long i = 0; i < npages; i += nr) {
        gb_page *folio = gb_gup_folio_next(pages, npages, i, &nr);
        gb_try_grab_folio(folio, (int)nr, flags, &local);
        if (ledger)
            for (long k = i; k < i + nr; k++)
                gb_ledger_grab(ledger, pages[k], 1, flags);
    }
    *t = local;
}

/* put-page: kernel (2018 seed) put_user_pages_dirty{,_lock}() with put_user_page() == put_page() */
GB_INLINE void put_pages_body(gb_page *const *pages, long npages, long batch, int dirty,
                              int detect, gb_ledger *ledger, gb_tally *t) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        for (long k = i; k < i + n; k++) { /* one put_user_pages() call */
            gb_detect_entries(detect, ledger, pages + k, 1, GB_CALL_PUT_PAGE, t);
            gb_dirty_if_clean(pages[k], dirty, t);
            gb_detect_put_page(detect, pages[k], t);
        }
    }
}

void gb_c_put_pages(gb_page *const *pages, long npages, long batch, int dirty, int detect,
                    gb_ledger *ledger, gb_tally *t) {
    gb_tally local = *t;
#define BODY(mode) put_pages_body(pages, npages, batch, dirty, mode, ledger, &local)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* unpin-each: kernel unpin_user_page() per entry, dirtying as the seed's loop does */
GB_INLINE void unpin_each_body(gb_page *const *pages, long npages, long batch, int dirty,
                               int detect, gb_ledger *ledger, gb_tally *t) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        for (long k = i; k < i + n; k++) {
            gb_detect_entries(detect, ledger, pages + k, 1, GB_CALL_UNPIN_USER_PAGE, t);
            gb_dirty_if_clean(pages[k], dirty, t);
            gb_detect_unpin_user_page(detect, pages[k], t);
        }
    }
}

void gb_c_unpin_each(gb_page *const *pages, long npages, long batch, int dirty, int detect,
                     gb_ledger *ledger, gb_tally *t) {
    gb_tally local = *t;
#define BODY(mode) unpin_each_body(pages, npages, batch, dirty, mode, ledger, &local)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* unpin-batched: kernel unpin_user_pages_dirty_lock() (unpin_user_pages() when not dirtying) */
GB_INLINE void unpin_batched_body(gb_page *const *pages, long npages, long batch, int dirty,
                                  int detect, gb_ledger *ledger, gb_tally *t) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        gb_page *const *call = pages + i;
        long nr;
        for (long k = 0; k < n; k += nr) {
            gb_page *folio = gb_gup_folio_next(call, n, k, &nr);
            gb_detect_entries(detect, ledger, call + k, nr, GB_CALL_UNPIN_USER_PAGE, t);
            gb_dirty_folio_run(folio, dirty, t);
            gb_detect_put_folio(detect, folio, (int)nr, GB_FOLL_PIN, t);
        }
    }
}

void gb_c_unpin_batched(gb_page *const *pages, long npages, long batch, int dirty, int detect,
                        gb_ledger *ledger, gb_tally *t) {
    gb_tally local = *t;
#define BODY(mode) unpin_batched_body(pages, npages, batch, dirty, mode, ledger, &local)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* unpin-range: kernel unpin_user_page_range_dirty_lock() */
GB_INLINE void unpin_range_body(gb_page *start, long npages, long batch, int dirty, int detect,
                                gb_ledger *ledger, gb_tally *t) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        gb_page *call = start + i;
        long nr;
        for (long k = 0; k < n; k += nr) {
            gb_page *folio = gb_gup_folio_range_next(call, n, k, &nr);
            gb_detect_range(detect, ledger, call + k, nr, GB_CALL_UNPIN_USER_PAGE, t);
            gb_dirty_folio_run(folio, dirty, t);
            gb_detect_put_folio(detect, folio, (int)nr, GB_FOLL_PIN, t);
        }
    }
}

void gb_c_unpin_range(gb_page *start, long npages, long batch, int dirty, int detect,
                      gb_ledger *ledger, gb_tally *t) {
    gb_tally local = *t;
#define BODY(mode) unpin_range_body(start, npages, batch, dirty, mode, ledger, &local)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* ---- the last reference (gb_free.h) ---- */

/* release-pages: kernel release_pages() on each call's entries (the seed dirtied first). */
GB_INLINE void release_pages_body(gb_page *const *pages, long npages, long batch, int dirty,
                                  int detect, gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        gb_detect_entries(detect, ledger, pages + i, n, GB_CALL_PUT_PAGE, t);
        if (dirty != GB_DIRTY_NONE)
            for (long k = i; k < i + n; k++)
                gb_dirty_if_clean(pages[k], dirty, t);
        gb_release_pages(pages + i, n, ctx, t);
    }
}

void gb_c_release_pages(gb_page *const *pages, long npages, long batch, int dirty, int detect,
                        gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_tally local = *t;
#define BODY(mode) release_pages_body(pages, npages, batch, dirty, mode, ledger, &local, ctx)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* put-page with the last reference: put_page() -> folio_put() -> __folio_put() at zero. */
GB_INLINE void put_pages_last_body(gb_page *const *pages, long npages, long batch, int dirty,
                                   int detect, gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        for (long k = i; k < i + n; k++) {
            gb_detect_entries(detect, ledger, pages + k, 1, GB_CALL_PUT_PAGE, t);
            gb_dirty_if_clean(pages[k], dirty, t);
            gb_detect_result(detect, gb_gup_put_folio_last(gb_compound_head(pages[k]), 1, GB_FOLL_GET, ctx, t), t);
        }
    }
}

void gb_c_put_pages_last(gb_page *const *pages, long npages, long batch, int dirty, int detect,
                         gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_tally local = *t;
#define BODY(mode) put_pages_last_body(pages, npages, batch, dirty, mode, ledger, &local, ctx)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* unpin-each with the last reference: unpin_user_page() -> gup_put_folio() -> folio_put_refs(). */
GB_INLINE void unpin_each_last_body(gb_page *const *pages, long npages, long batch, int dirty,
                                    int detect, gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        for (long k = i; k < i + n; k++) {
            gb_detect_entries(detect, ledger, pages + k, 1, GB_CALL_UNPIN_USER_PAGE, t);
            gb_dirty_if_clean(pages[k], dirty, t);
            gb_detect_result(detect, gb_gup_put_folio_last(gb_compound_head(pages[k]), 1, GB_FOLL_PIN, ctx, t), t);
        }
    }
}

void gb_c_unpin_each_last(gb_page *const *pages, long npages, long batch, int dirty, int detect,
                          gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_tally local = *t;
#define BODY(mode) unpin_each_last_body(pages, npages, batch, dirty, mode, ledger, &local, ctx)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* unpin-batched with the last reference: unpin_user_pages(); each folio run's gup_put_folio()
 * may free, per folio, with no batching of the free. */
GB_INLINE void unpin_batched_last_body(gb_page *const *pages, long npages, long batch, int dirty,
                                       int detect, gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        gb_page *const *call = pages + i;
        long nr;
        for (long k = 0; k < n; k += nr) {
            gb_page *folio = gb_gup_folio_next(call, n, k, &nr);
            gb_detect_entries(detect, ledger, call + k, nr, GB_CALL_UNPIN_USER_PAGE, t);
            gb_dirty_folio_run(folio, dirty, t);
            gb_detect_result(detect, gb_gup_put_folio_last(folio, (int)nr, GB_FOLL_PIN, ctx, t), t);
        }
    }
}

void gb_c_unpin_batched_last(gb_page *const *pages, long npages, long batch, int dirty, int detect,
                             gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_tally local = *t;
#define BODY(mode) unpin_batched_last_body(pages, npages, batch, dirty, mode, ledger, &local, ctx)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* unpin-range with the last reference: unpin_user_page_range_dirty_lock(). */
GB_INLINE void unpin_range_last_body(gb_page *start, long npages, long batch, int dirty, int detect,
                                     gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        gb_page *call = start + i;
        long nr;
        for (long k = 0; k < n; k += nr) {
            gb_page *folio = gb_gup_folio_range_next(call, n, k, &nr);
            gb_detect_range(detect, ledger, call + k, nr, GB_CALL_UNPIN_USER_PAGE, t);
            gb_dirty_folio_run(folio, dirty, t);
            gb_detect_result(detect, gb_gup_put_folio_last(folio, (int)nr, GB_FOLL_PIN, ctx, t), t);
        }
    }
}

void gb_c_unpin_range_last(gb_page *start, long npages, long batch, int dirty, int detect,
                           gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_tally local = *t;
#define BODY(mode) unpin_range_last_body(start, npages, batch, dirty, mode, ledger, &local, ctx)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}
