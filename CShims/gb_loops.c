/* gb_loops.c — the C reference release loops. Each copies the tally into a local so the counts
 * stay in registers; the Swift loops in Sources/GUPBench/Strategies do the same work.
 *
 * Every loop body is inlined into a switch over the detection mode, so each mode gets its own
 * copy with the checks of other modes compiled out: `off` pays nothing for `ledger` existing. */
#include "gb_loops.h"
#include "gb_kcalls.h"

#include <stdlib.h>

#define GB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define GB_PAGE_BYTES 4096L /* a base page */

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
GB_INLINE void put_pages_body(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty,
                              gb_detect_mode detect, gb_ledger *ledger, gb_tally *t) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        for (long k = i; k < i + n; k++) { /* one put_user_pages() call */
            gb_detect_entries(detect, ledger, pages + k, 1, GB_CALL_PUT_PAGE, t);
            gb_dirty_if_clean(pages[k], dirty, t);
            gb_detect_put_page(detect, pages[k], t);
        }
    }
}

void gb_c_put_pages(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty, gb_detect_mode detect,
                    gb_ledger *ledger, gb_tally *t) {
    gb_tally local = *t;
#define BODY(mode) put_pages_body(pages, npages, batch, dirty, mode, ledger, &local)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* A known slowdown for measuring the gate's power (scripts/aa-check --real): a build made with
 * -DGB_TEST_SLOWDOWN does GUPBENCH_TEST_EXTRA_WORK (environment, read once) dependent multiplies
 * per entry in the C unpin-each loop, and nothing else differs. Normal builds have no code here. */
#ifdef GB_TEST_SLOWDOWN
static long gb_test_extra_work_count(void) {
    static long count = -1;
    if (count < 0) {
        const char *text = getenv("GUPBENCH_TEST_EXTRA_WORK");
        count = text ? atol(text) : 0;
    }
    return count;
}
GB_INLINE void gb_test_extra_work(long count) {
    unsigned long x = 1;
    for (long i = 0; i < count; i++) __asm__ volatile("imul %0, %0" : "+r"(x));
}
#define GB_TEST_EXTRA_WORK_COUNT() gb_test_extra_work_count()
#define GB_TEST_EXTRA_WORK(count) gb_test_extra_work(count)
#else
#define GB_TEST_EXTRA_WORK_COUNT() 0
#define GB_TEST_EXTRA_WORK(count) ((void)(count))
#endif

/* unpin-each: kernel unpin_user_page() per entry, dirtying as the seed's loop does */
GB_INLINE void unpin_each_body(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty,
                               gb_detect_mode detect, gb_ledger *ledger, gb_tally *t) {
    gb_mitigation mode = gb_mitigations();
    long extra = GB_TEST_EXTRA_WORK_COUNT();
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        for (long k = i; k < i + n; k++) {
            gb_detect_entries(detect, ledger, pages + k, 1, GB_CALL_UNPIN_USER_PAGE, t);
            gb_dirty_if_clean(pages[k], dirty, t);
            gb_detect_kcall_unpin_user_page(detect, mode, pages[k], t);
            GB_TEST_EXTRA_WORK(extra);
        }
    }
}

void gb_c_unpin_each(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty, gb_detect_mode detect,
                     gb_ledger *ledger, gb_tally *t) {
    gb_tally local = *t;
#define BODY(mode) unpin_each_body(pages, npages, batch, dirty, mode, ledger, &local)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* unpin-batched: kernel unpin_user_pages_dirty_lock() (unpin_user_pages() when not dirtying) */
GB_INLINE void unpin_batched_body(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty,
                                  gb_detect_mode detect, gb_ledger *ledger, gb_tally *t) {
    gb_mitigation mode = gb_mitigations();
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        gb_page *const *call = pages + i;
        long nr;
        for (long k = 0; k < n; k += nr) {
            gb_page *folio = gb_gup_folio_next(call, n, k, &nr);
            gb_detect_entries(detect, ledger, call + k, nr, GB_CALL_UNPIN_USER_PAGE, t);
            gb_dirty_folio_run(folio, dirty, t);
            gb_detect_kcall_gup_put_folio_pin(detect, mode, folio, (int)nr, t);
        }
    }
}

void gb_c_unpin_batched(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty, gb_detect_mode detect,
                        gb_ledger *ledger, gb_tally *t) {
    gb_tally local = *t;
#define BODY(mode) unpin_batched_body(pages, npages, batch, dirty, mode, ledger, &local)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* unpin-range: kernel unpin_user_page_range_dirty_lock() */
GB_INLINE void unpin_range_body(gb_page *start, long npages, long batch, gb_dirty_mode dirty, gb_detect_mode detect,
                                gb_ledger *ledger, gb_tally *t) {
    gb_mitigation mode = gb_mitigations();
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        gb_page *call = start + i;
        long nr;
        for (long k = 0; k < n; k += nr) {
            gb_page *folio = gb_gup_folio_range_next(call, n, k, &nr);
            gb_detect_range(detect, ledger, call + k, nr, GB_CALL_UNPIN_USER_PAGE, t);
            gb_dirty_folio_run(folio, dirty, t);
            gb_detect_kcall_gup_put_folio_pin(detect, mode, folio, (int)nr, t);
        }
    }
}

void gb_c_unpin_range(gb_page *start, long npages, long batch, gb_dirty_mode dirty, gb_detect_mode detect,
                      gb_ledger *ledger, gb_tally *t) {
    gb_tally local = *t;
#define BODY(mode) unpin_range_body(start, npages, batch, dirty, mode, ledger, &local)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* ---- the last reference (gb_free.h) ---- */

/* release-pages: kernel release_pages() on each call's entries (the seed dirtied first). */
GB_INLINE void release_pages_body(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty,
                                  gb_detect_mode detect, gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        gb_detect_entries(detect, ledger, pages + i, n, GB_CALL_PUT_PAGE, t);
        if (dirty != GB_DIRTY_NONE)
            for (long k = i; k < i + n; k++)
                gb_dirty_if_clean(pages[k], dirty, t);
        gb_release_pages(pages + i, n, ctx, t);
    }
}

void gb_c_release_pages(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty, gb_detect_mode detect,
                        gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_tally local = *t;
#define BODY(mode) release_pages_body(pages, npages, batch, dirty, mode, ledger, &local, ctx)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* put-page with the last reference: put_page() -> folio_put() -> __folio_put() at zero. */
GB_INLINE void put_pages_last_body(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty,
                                   gb_detect_mode detect, gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        for (long k = i; k < i + n; k++) {
            gb_detect_entries(detect, ledger, pages + k, 1, GB_CALL_PUT_PAGE, t);
            gb_dirty_if_clean(pages[k], dirty, t);
            gb_detect_result(detect, gb_gup_put_folio_last(gb_compound_head(pages[k]), 1, GB_FOLL_GET, ctx, t), t);
        }
    }
}

void gb_c_put_pages_last(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty, gb_detect_mode detect,
                         gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_tally local = *t;
#define BODY(mode) put_pages_last_body(pages, npages, batch, dirty, mode, ledger, &local, ctx)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* unpin-each with the last reference: unpin_user_page() -> gup_put_folio() -> folio_put_refs(). */
GB_INLINE void unpin_each_last_body(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty,
                                    gb_detect_mode detect, gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    for (long i = 0; i < npages; i += batch) {
        long n = GB_MIN(npages - i, batch);
        for (long k = i; k < i + n; k++) {
            gb_detect_entries(detect, ledger, pages + k, 1, GB_CALL_UNPIN_USER_PAGE, t);
            gb_dirty_if_clean(pages[k], dirty, t);
            gb_detect_result(detect, gb_gup_put_folio_last(gb_compound_head(pages[k]), 1, GB_FOLL_PIN, ctx, t), t);
        }
    }
}

void gb_c_unpin_each_last(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty, gb_detect_mode detect,
                          gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_tally local = *t;
#define BODY(mode) unpin_each_last_body(pages, npages, batch, dirty, mode, ledger, &local, ctx)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* unpin-batched with the last reference: unpin_user_pages(); each folio run's gup_put_folio()
 * may free, per folio, with no batching of the free. */
GB_INLINE void unpin_batched_last_body(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty,
                                       gb_detect_mode detect, gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
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

void gb_c_unpin_batched_last(gb_page *const *pages, long npages, long batch, gb_dirty_mode dirty, gb_detect_mode detect,
                             gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_tally local = *t;
#define BODY(mode) unpin_batched_last_body(pages, npages, batch, dirty, mode, ledger, &local, ctx)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* unpin-range with the last reference: unpin_user_page_range_dirty_lock(). */
GB_INLINE void unpin_range_last_body(gb_page *start, long npages, long batch, gb_dirty_mode dirty, gb_detect_mode detect,
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

void gb_c_unpin_range_last(gb_page *start, long npages, long batch, gb_dirty_mode dirty, gb_detect_mode detect,
                           gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_tally local = *t;
#define BODY(mode) unpin_range_last_body(start, npages, batch, dirty, mode, ledger, &local, ctx)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* ---- unpin-folios ---- */

void gb_folios_of_pages(gb_page *const *pages, long npages, gb_page **folios) {
    for (long k = 0; k < npages; k++)
        folios[k] = gb_page_folio(pages[k]);
}

/* kernel: unpin_folios() — `for (j = i + 1; j < nfolios; j++) if (folios[i] != folios[j])
 * break; if (folios[i]) gup_put_folio(folios[i], j - i, FOLL_PIN);`: gup_put_folio() directly
 * (not unpin_user_folio()), a NULL entry skipped. */
GB_INLINE void unpin_folios_body(gb_page *const *folios, long nfolios, long batch, gb_detect_mode detect,
                                 gb_ledger *ledger, gb_tally *t) {
    gb_mitigation mode = gb_mitigations();
    for (long start = 0; start < nfolios; start += batch) {
        long n = GB_MIN(nfolios - start, batch);
        gb_page *const *call = folios + start;
        long j;
        for (long i = 0; i < n; i = j) {
            for (j = i + 1; j < n; j++)
                if (call[i] != call[j])
                    break;
            if (!call[i])
                continue;
            gb_detect_entries(detect, ledger, call + i, j - i, GB_CALL_UNPIN_USER_PAGE, t);
            gb_detect_kcall_gup_put_folio_pin(detect, mode, call[i], (int)(j - i), t);
        }
    }
}

void gb_c_unpin_folios(gb_page *const *folios, long nfolios, long batch, gb_detect_mode detect,
                       gb_ledger *ledger, gb_tally *t) {
    gb_tally local = *t;
#define BODY(mode) unpin_folios_body(folios, nfolios, batch, mode, ledger, &local)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* ---- io-uring-release ---- */

/* kernel: io_check_coalesce_buffer() */
static bool can_coalesce(gb_page *const *pages, long npages, long *nr_pages_head) {
    gb_page *folio = gb_page_folio(pages[0]);
    long mid = gb_folio_nr_pages(folio), count = 1, nr_folios = 1;
    *nr_pages_head = 0;
    for (long i = 1; i < npages; i++) {
        if (gb_page_folio(pages[i]) == folio && pages[i] == pages[i - 1] + 1) {
            count++;
            continue;
        }
        if (nr_folios == 1) {
            if (pages[i - 1] - folio != mid - 1) /* folio_page_idx() of the head run's last */
                return false;
            *nr_pages_head = count;
        } else if (count != mid) {
            return false;
        }
        folio = gb_page_folio(pages[i]);
        if (gb_folio_nr_pages(folio) != mid || pages[i] != folio)
            return false;
        count = 1;
        nr_folios++;
    }
    if (nr_folios == 1)
        *nr_pages_head = count;
    return mid > 1; /* kernel: coalesce only when data.nr_pages_mid != 1 */
}

long gb_bvecs_of_pages(gb_page *const *pages, long npages, gb_bvec *bvecs) {
    long head = 0;
    if (npages > 1 && can_coalesce(pages, npages, &head)) {
        /* kernel: io_coalesce_buffer() — the first folio's bvec starts at its head page
         * (compound_head(page_array[0])), every other at the folio's first page. */
        long n = 0;
        for (long i = 0; i < npages; n++) {
            gb_page *folio = gb_page_folio(pages[i]);
            long left = gb_folio_nr_pages(folio) - (pages[i] - folio);
            long take = GB_MIN(left, npages - i);
            bvecs[n] = (gb_bvec){n == 0 ? folio : pages[i], (unsigned)(take * (long)GB_PAGE_BYTES), 0};
            i += take;
        }
        return n;
    }
    for (long i = 0; i < npages; i++)
        bvecs[i] = (gb_bvec){pages[i], (unsigned)GB_PAGE_BYTES, 0};
    return npages;
}

void gb_grab_bvecs(const gb_bvec *bvecs, long nbvecs, gb_ledger *ledger, gb_tally *t) {
    gb_tally local = *t;
    for (long i = 0; i < nbvecs; i++) {
        gb_try_grab_folio(gb_page_folio(bvecs[i].bv_page), 1, GB_FOLL_PIN, &local);
        if (ledger)
            gb_ledger_grab(ledger, bvecs[i].bv_page, 1, GB_FOLL_PIN);
    }
    *t = local;
}

/* kernel: io_release_ubuf() — `for (i = 0; i < imu->nr_bvecs; i++)
 * unpin_user_folio(page_folio(imu->bvec[i].bv_page), 1);` */
GB_INLINE void io_uring_release_body(const gb_bvec *bvecs, long nbvecs, long batch, gb_detect_mode detect,
                                     gb_ledger *ledger, gb_tally *t) {
    gb_mitigation mode = gb_mitigations();
    for (long start = 0; start < nbvecs; start += batch) {
        long n = GB_MIN(nbvecs - start, batch);
        const gb_bvec *imu = bvecs + start;
        gb_kcall_release_indirect(mode, t); /* io_buffer_unmap(): imu->release(imu->priv) */
        for (long i = 0; i < n; i++) {
            gb_page *page = imu[i].bv_page;
            gb_detect_range(detect, ledger, page, 1, GB_CALL_UNPIN_USER_PAGE, t);
            gb_detect_kcall_unpin_user_folio(detect, mode, gb_page_folio(page), 1, t);
        }
    }
}

void gb_c_io_uring_release(const gb_bvec *bvecs, long nbvecs, long batch, gb_detect_mode detect,
                           gb_ledger *ledger, gb_tally *t) {
    gb_tally local = *t;
#define BODY(mode) io_uring_release_body(bvecs, nbvecs, batch, mode, ledger, &local)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}

/* kernel: io_release_ubuf() at the last reference — the same walk, each unpin_user_folio()
 * freeing its folio (__folio_put(): off the LRU under the lruvec lock, to the pcp under its lock). */
GB_INLINE void io_uring_release_last_body(const gb_bvec *bvecs, long nbvecs, long batch, gb_detect_mode detect,
                                          gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_mitigation mode = gb_mitigations();
    for (long start = 0; start < nbvecs; start += batch) {
        long n = GB_MIN(nbvecs - start, batch);
        const gb_bvec *imu = bvecs + start;
        gb_kcall_release_indirect(mode, t); /* io_buffer_unmap(): imu->release(imu->priv) */
        for (long i = 0; i < n; i++) {
            gb_page *page = imu[i].bv_page;
            gb_detect_range(detect, ledger, page, 1, GB_CALL_UNPIN_USER_PAGE, t);
            gb_detect_kcall_unpin_user_folio_last(detect, mode, gb_page_folio(page), 1, ctx, t);
        }
    }
}

void gb_c_io_uring_release_last(const gb_bvec *bvecs, long nbvecs, long batch, gb_detect_mode detect,
                                gb_ledger *ledger, gb_tally *t, gb_free_ctx *ctx) {
    gb_tally local = *t;
#define BODY(mode) io_uring_release_last_body(bvecs, nbvecs, batch, mode, ledger, &local, ctx)
    GB_FOR_EACH_DETECT(detect, BODY)
#undef BODY
    *t = local;
}
