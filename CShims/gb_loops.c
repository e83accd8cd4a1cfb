/* gb_loops.c — the C reference release loops. Each copies the tally into a local so the counts
 * stay in registers; the Swift loops in Sources/GUPBench/Strategies do the same work. */
#include "gb_loops.h"

void gb_grab_pages(gb_page *const *pages, long npages, gb_foll flags, gb_tally *t) {
    gb_tally local = *t;
    long nr;
    for (long i = 0; i < npages; i += nr) {
        gb_page *folio = gb_gup_folio_next(pages, npages, i, &nr);
        gb_try_grab_folio(folio, (int)nr, flags, &local);
    }
    *t = local;
}

/* kernel (2018 seed): put_user_pages_dirty{,_lock}() with put_user_page() == put_page() */
static void put_user_pages_call(gb_page *const *pages, long n, int dirty, gb_tally *t) {
    for (long i = 0; i < n; i++) {
        gb_dirty_if_clean(pages[i], dirty, t);
        gb_put_page(pages[i], t);
    }
}

void gb_c_put_pages(gb_page *const *pages, long npages, long batch, int dirty, gb_tally *t) {
    gb_tally local = *t;
    for (long i = 0; i < npages; i += batch) {
        long n = npages - i < batch ? npages - i : batch;
        put_user_pages_call(pages + i, n, dirty, &local);
    }
    *t = local;
}

/* kernel: unpin_user_page() per entry, dirtying as the seed's loop does */
static void unpin_each_call(gb_page *const *pages, long n, int dirty, gb_tally *t) {
    for (long i = 0; i < n; i++) {
        gb_dirty_if_clean(pages[i], dirty, t);
        gb_unpin_user_page(pages[i], t);
    }
}

void gb_c_unpin_each(gb_page *const *pages, long npages, long batch, int dirty, gb_tally *t) {
    gb_tally local = *t;
    for (long i = 0; i < npages; i += batch) {
        long n = npages - i < batch ? npages - i : batch;
        unpin_each_call(pages + i, n, dirty, &local);
    }
    *t = local;
}

/* kernel: unpin_user_pages_dirty_lock() (and unpin_user_pages() when not dirtying) */
static void unpin_user_pages_call(gb_page *const *pages, long n, int dirty, gb_tally *t) {
    long nr;
    for (long i = 0; i < n; i += nr) {
        gb_page *folio = gb_gup_folio_next(pages, n, i, &nr);
        gb_dirty_if_clean(folio, dirty, t);
        gb_gup_put_folio(folio, (int)nr, GB_FOLL_PIN, t);
    }
}

void gb_c_unpin_batched(gb_page *const *pages, long npages, long batch, int dirty, gb_tally *t) {
    gb_tally local = *t;
    for (long i = 0; i < npages; i += batch) {
        long n = npages - i < batch ? npages - i : batch;
        unpin_user_pages_call(pages + i, n, dirty, &local);
    }
    *t = local;
}

/* kernel: unpin_user_page_range_dirty_lock() */
static void unpin_range_call(gb_page *start, long n, int dirty, gb_tally *t) {
    long nr;
    for (long i = 0; i < n; i += nr) {
        gb_page *folio = gb_gup_folio_range_next(start, n, i, &nr);
        gb_dirty_if_clean(folio, dirty, t);
        gb_gup_put_folio(folio, (int)nr, GB_FOLL_PIN, t);
    }
}

void gb_c_unpin_range(gb_page *start, long npages, long batch, int dirty, gb_tally *t) {
    gb_tally local = *t;
    for (long i = 0; i < npages; i += batch) {
        long n = npages - i < batch ? npages - i : batch;
        unpin_range_call(start + i, n, dirty, &local);
    }
    *t = local;
}
