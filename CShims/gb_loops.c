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

/*
 * The walkers: one per loop shape, each written once, handed the release call as a macro
 * argument (RELEASE(page) or RELEASE(folio, nr)). A walker splits `count` entries into release
 * calls of `batch`, does the detection mode's entry check and the dirtying the kernel function
 * does, and leaves the release itself to RELEASE. Walkers and release calls use the parameters of
 * GB_RELEASE_LOOP by name (count, batch, dirty, detect, ledger, t, ctx) and its locals (mode,
 * extra). The Swift walkers (Strategies/Walkers.swift) have the same shapes.
 */

/* Each release call's first entry `start` and entry count `n`. */
#define GB_EACH_CALL(start, n)                                                                   \
    for (long start = 0, n = GB_MIN(count, batch); start < count;                                \
         start += n, n = GB_MIN(count - start, batch))

/* Per entry (put_page(), unpin_user_page() per entry): check, dirty, release each. */
#define GB_WALK_ENTRIES(pages, call, RELEASE)                                                    \
    GB_EACH_CALL(start_, n_)                                                                     \
    for (long k_ = start_; k_ < start_ + n_; k_++) {                                             \
        gb_detect_entries(detect, ledger, (pages) + k_, 1, call, t);                             \
        gb_dirty_if_clean((pages)[k_], dirty, t);                                                \
        RELEASE((pages)[k_]);                                                                    \
    }

/* Folio runs: NEXT finds the folio of entry k_ and the run of entries in it (gup_folio_next()
 * reads each entry's descriptor; gup_folio_range_next() does folio arithmetic on contiguous
 * descriptors); one dirtying and one release per run (unpin_user_pages_dirty_lock(),
 * unpin_user_page_range_dirty_lock()). */
#define GB_WALK_RUNS(base, NEXT, CHECK, RELEASE)                                                 \
    GB_EACH_CALL(start_, n_) {                                                                   \
        __typeof__(base) call_ = (base) + start_;                                                \
        long nr_;                                                                                \
        for (long k_ = 0; k_ < n_; k_ += nr_) {                                                  \
            gb_page *folio_ = NEXT(call_, n_, k_, &nr_);                                         \
            CHECK(detect, ledger, call_ + k_, nr_, GB_CALL_UNPIN_USER_PAGE, t);                  \
            gb_dirty_folio_run(folio_, dirty, t);                                                \
            RELEASE(folio_, (int)nr_);                                                           \
        }                                                                                        \
    }
#define GB_WALK_FOLIO_RUNS(pages, RELEASE) GB_WALK_RUNS(pages, gb_gup_folio_next, gb_detect_entries, RELEASE)
#define GB_WALK_RANGE(first, RELEASE) GB_WALK_RUNS(first, gb_gup_folio_range_next, gb_detect_range, RELEASE)

/* Folio pointers (unpin_folios()): `for (j = i + 1; j < nfolios; j++) if (folios[i] !=
 * folios[j]) break; if (folios[i]) ...`: runs of equal neighbours, no descriptor read to find
 * them, a NULL entry skipped. */
#define GB_WALK_FOLIO_POINTERS(folios, RELEASE)                                                  \
    GB_EACH_CALL(start_, n_) {                                                                   \
        gb_page *const *call_ = (folios) + start_;                                               \
        long j_;                                                                                 \
        for (long i_ = 0; i_ < n_; i_ = j_) {                                                    \
            for (j_ = i_ + 1; j_ < n_ && call_[j_] == call_[i_]; j_++) {}                        \
            if (!call_[i_])                                                                      \
                continue;                                                                        \
            gb_detect_entries(detect, ledger, call_ + i_, j_ - i_, GB_CALL_UNPIN_USER_PAGE, t);  \
            RELEASE(call_[i_], (int)(j_ - i_));                                                  \
        }                                                                                        \
    }

/* Bvecs (io_release_ubuf()): one indirect release call per registered buffer of `batch` bvecs
 * (io_buffer_unmap(): imu->release(imu->priv)), then RELEASE(page_folio(bv_page)) per bvec. */
#define GB_WALK_BVECS(bvecs, RELEASE)                                                            \
    GB_EACH_CALL(start_, n_) {                                                                   \
        const gb_bvec *imu_ = (bvecs) + start_;                                                  \
        gb_kcall_release_indirect(mode, t);                                                      \
        for (long i_ = 0; i_ < n_; i_++) {                                                       \
            gb_detect_range(detect, ledger, imu_[i_].bv_page, 1, GB_CALL_UNPIN_USER_PAGE, t);    \
            RELEASE(gb_page_folio(imu_[i_].bv_page));                                            \
        }                                                                                        \
    }

/* Defines release loop `name` over `entries` (the walked array, of type `entries_t`) as
 * WALK: an inlined body per detection mode, so each mode's copy has the checks of the others
 * compiled out (`off` pays nothing for `ledger` existing), run on a local tally whose counts
 * stay in registers. */
#define GB_RELEASE_LOOP(name, entries_t, entries, WALK)                                                \
    GB_INLINE void name##_body(entries_t entries, long count, long batch, gb_dirty_mode dirty,       \
                               gb_detect_mode detect, gb_ledger *ledger, gb_tally *t,            \
                               gb_free_ctx *ctx) {                                               \
        gb_mitigation mode = gb_mitigations();                                                   \
        long extra = GB_TEST_EXTRA_WORK_COUNT();                                                 \
        (void)mode, (void)extra, (void)dirty, (void)ctx;                                         \
        WALK;                                                                                    \
    }                                                                                            \
    void name(entries_t entries, GB_RELEASE_LOOP_PARAMS) {                                            \
        gb_tally local = *t;                                                                     \
        switch (detect) {                                                                        \
        case GB_DETECT_UNDERFLOW:                                                                \
            name##_body(entries, count, batch, dirty, GB_DETECT_UNDERFLOW, ledger, &local, ctx); \
            break;                                                                               \
        case GB_DETECT_LEDGER:                                                                   \
            name##_body(entries, count, batch, dirty, GB_DETECT_LEDGER, ledger, &local, ctx);    \
            break;                                                                               \
        default:                                                                                 \
            name##_body(entries, count, batch, dirty, GB_DETECT_OFF, ledger, &local, ctx);       \
            break;                                                                               \
        }                                                                                        \
        *t = local;                                                                              \
    }

/* ---- the strategies: each a walker and its release call ---- */

/* A release that drops the last reference: folio_put_refs() -> __folio_put() at zero. */
#define GB_PUT_LAST(folio, nr, foll) gb_detect_result(detect, gb_gup_put_folio_last(folio, nr, foll, ctx, t), t)

/* put-page: the 2018 seed's put_user_pages_dirty{,_lock}() with put_user_page() == put_page() */
#define PUT_PAGE(page) gb_detect_put_page(detect, page, t)
#define PUT_PAGE_LAST(page) GB_PUT_LAST(gb_compound_head(page), 1, GB_FOLL_GET)
GB_RELEASE_LOOP(gb_c_put_pages, gb_page *const *, pages, GB_WALK_ENTRIES(pages, GB_CALL_PUT_PAGE, PUT_PAGE))
GB_RELEASE_LOOP(gb_c_put_pages_last, gb_page *const *, pages, GB_WALK_ENTRIES(pages, GB_CALL_PUT_PAGE, PUT_PAGE_LAST))

/* unpin-each: unpin_user_page() per entry, dirtying as the seed's loop does */
#define UNPIN_USER_PAGE(page) (gb_detect_kcall_unpin_user_page(detect, mode, page, t), GB_TEST_EXTRA_WORK(extra))
#define UNPIN_USER_PAGE_LAST(page) GB_PUT_LAST(gb_compound_head(page), 1, GB_FOLL_PIN)
GB_RELEASE_LOOP(gb_c_unpin_each, gb_page *const *, pages, GB_WALK_ENTRIES(pages, GB_CALL_UNPIN_USER_PAGE, UNPIN_USER_PAGE))
GB_RELEASE_LOOP(gb_c_unpin_each_last, gb_page *const *, pages,
                GB_WALK_ENTRIES(pages, GB_CALL_UNPIN_USER_PAGE, UNPIN_USER_PAGE_LAST))

/* unpin-batched: unpin_user_pages_dirty_lock() (unpin_user_pages() when not dirtying), and
 * unpin-range: unpin_user_page_range_dirty_lock(): gup_put_folio() per folio run */
#define GUP_PUT_FOLIO(folio, nr) gb_detect_kcall_gup_put_folio_pin(detect, mode, folio, nr, t)
#define GUP_PUT_FOLIO_LAST(folio, nr) GB_PUT_LAST(folio, nr, GB_FOLL_PIN)
GB_RELEASE_LOOP(gb_c_unpin_batched, gb_page *const *, pages, GB_WALK_FOLIO_RUNS(pages, GUP_PUT_FOLIO))
GB_RELEASE_LOOP(gb_c_unpin_batched_last, gb_page *const *, pages, GB_WALK_FOLIO_RUNS(pages, GUP_PUT_FOLIO_LAST))
GB_RELEASE_LOOP(gb_c_unpin_range, gb_page *, first, GB_WALK_RANGE(first, GUP_PUT_FOLIO))
GB_RELEASE_LOOP(gb_c_unpin_range_last, gb_page *, first, GB_WALK_RANGE(first, GUP_PUT_FOLIO_LAST))

/* unpin-folios: unpin_folios() calls gup_put_folio() directly (not unpin_user_folio()) */
GB_RELEASE_LOOP(gb_c_unpin_folios, gb_page *const *, folios, GB_WALK_FOLIO_POINTERS(folios, GUP_PUT_FOLIO))

/* io-uring-release: io_release_ubuf(), unpin_user_folio(page_folio(bv_page), 1) per bvec; at
 * the last reference each frees its folio (off the LRU under the lruvec lock, to the pcp). */
#define UNPIN_USER_FOLIO(folio) gb_detect_kcall_unpin_user_folio(detect, mode, folio, 1, t)
#define UNPIN_USER_FOLIO_LAST(folio) gb_detect_kcall_unpin_user_folio_last(detect, mode, folio, 1, ctx, t)
GB_RELEASE_LOOP(gb_c_io_uring_release, const gb_bvec *, bvecs, GB_WALK_BVECS(bvecs, UNPIN_USER_FOLIO))
GB_RELEASE_LOOP(gb_c_io_uring_release_last, const gb_bvec *, bvecs, GB_WALK_BVECS(bvecs, UNPIN_USER_FOLIO_LAST))

/* release-pages: release_pages() on each call's entries (the seed dirtied first); its own shape,
 * a folio_batch per call (gb_free.h), freeing only with a ctx. */
#define RELEASE_PAGES_CALLS                                                                      \
    GB_EACH_CALL(start_, n_) {                                                                   \
        gb_detect_entries(detect, ledger, pages + start_, n_, GB_CALL_PUT_PAGE, t);              \
        if (dirty != GB_DIRTY_NONE)                                                              \
            for (long k_ = start_; k_ < start_ + n_; k_++)                                       \
                gb_dirty_if_clean(pages[k_], dirty, t);                                          \
        gb_release_pages(pages + start_, n_, ctx, t);                                            \
    }
GB_RELEASE_LOOP(gb_c_release_pages, gb_page *const *, pages, RELEASE_PAGES_CALLS)

/* ---- untimed: the arrays unpin-folios and io-uring-release walk ---- */

void gb_folios_of_pages(gb_page *const *pages, long npages, gb_page **folios) {
    for (long k = 0; k < npages; k++)
        folios[k] = gb_page_folio(pages[k]);
}

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
