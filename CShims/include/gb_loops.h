/*
 * gb_loops.h — the release strategies as C loops (--impl c), the reference the Swift loops are
 * measured against, and the untimed pin/reference phase both share.
 *
 * `pages` is the caller's array of descriptor pointers, as get_user_pages() fills a struct page
 * array; `batch` is the number of entries handed to one release call (>= 1); `dirty` a GB_DIRTY_*
 * mode; `detect` a GB_DETECT_* mode, with `ledger` non-null for GB_DETECT_LEDGER.
 */
#ifndef GB_LOOPS_H
#define GB_LOOPS_H

#include "gb_ledger.h"
#include "gb_free.h"

/* kernel: struct bio_vec (include/linux/bvec.h) — 16 bytes: the page, then length and offset. */
typedef struct gb_bvec {
    gb_page *_Nonnull bv_page;
    unsigned int bv_len;
    unsigned int bv_offset;
} gb_bvec;
_Static_assert(sizeof(gb_bvec) == 16, "a bio_vec is 16 bytes on 64-bit");

/* kernel: the grab side of pin_user_pages()/get_user_pages(): try_grab_folio() once per run of
 * consecutive entries in one folio; recorded in the ledger when one is given. Untimed setup. */
void gb_grab_pages(gb_page *_Nonnull const *_Nonnull pages, long npages, gb_foll flags,
                   gb_ledger *_Nullable ledger, gb_tally *_Nonnull t);

/*
 * The release loops, one per strategy and implementation, all with one signature: what the
 * strategy walks (the page array, the first of contiguous descriptors, the folio pointers or the
 * bvecs), then `count` entries, `batch` entries per release call, the dirty and detection modes,
 * the ledger (GB_DETECT_LEDGER), the tally the loop adds its counts to, and `ctx`: the thread's
 * free path for the `_last` loops, where a release drops the last reference and frees
 * (folio_put_refs() -> __folio_put(); gb_free.h), ignored by the others. A strategy whose
 * kernel function has no dirtying variant ignores `dirty`. Written once, on the walkers of
 * gb_loops.c; the Swift twins are in Sources/GUPBench/Strategies.
 */
#define GB_RELEASE_LOOP_PARAMS                                                                       \
    long count, long batch, gb_dirty_mode dirty, gb_detect_mode detect, gb_ledger *_Nullable ledger, \
        gb_tally *_Nonnull t, gb_free_ctx *_Nullable ctx

/* put-page: the seed's put_user_pages*() loop with put_user_page() == put_page(). */
void gb_c_put_pages(gb_page *_Nonnull const *_Nonnull pages, GB_RELEASE_LOOP_PARAMS);
void gb_c_put_pages_last(gb_page *_Nonnull const *_Nonnull pages, GB_RELEASE_LOOP_PARAMS);

/* unpin-each: unpin_user_page() per entry; today's per-page loop. */
void gb_c_unpin_each(gb_page *_Nonnull const *_Nonnull pages, GB_RELEASE_LOOP_PARAMS);
void gb_c_unpin_each_last(gb_page *_Nonnull const *_Nonnull pages, GB_RELEASE_LOOP_PARAMS);

/* unpin-batched: unpin_user_pages_dirty_lock() — one release per run of entries in one folio. */
void gb_c_unpin_batched(gb_page *_Nonnull const *_Nonnull pages, GB_RELEASE_LOOP_PARAMS);
void gb_c_unpin_batched_last(gb_page *_Nonnull const *_Nonnull pages, GB_RELEASE_LOOP_PARAMS);

/* unpin-range: unpin_user_page_range_dirty_lock() over contiguous descriptors from `first`. */
void gb_c_unpin_range(gb_page *_Nonnull first, GB_RELEASE_LOOP_PARAMS);
void gb_c_unpin_range_last(gb_page *_Nonnull first, GB_RELEASE_LOOP_PARAMS);

/* release-pages: release_pages() per call of `batch` entries — folio_batch of 31, one
 * folio_ref_sub_and_test() per entry, at zero the lruvec lock kept across a batch of one lruvec and
 * free_unref_folios() for the batch (gb_free.h). Drops FOLL_GET references, as put_page() does;
 * frees only with a `ctx` (one function for both modes). */
void gb_c_release_pages(gb_page *_Nonnull const *_Nonnull pages, GB_RELEASE_LOOP_PARAMS);

/* unpin-folios: unpin_folios() — runs of equal neighbouring pointers (no descriptor read to find
 * them), one gup_put_folio(folio, run, FOLL_PIN) per run; `batch` entries per call. */
void gb_c_unpin_folios(gb_page *_Nonnull const *_Nonnull folios, GB_RELEASE_LOOP_PARAMS);

/* io-uring-release: io_release_ubuf() — unpin_user_folio(page_folio(bv_page), 1) per bvec;
 * `batch` bvecs per registered buffer. The `_last` twin runs after the buffer's mapping is gone
 * (munmap while registered), so each unpin frees its folio. */
void gb_c_io_uring_release(const gb_bvec *_Nonnull bvecs, GB_RELEASE_LOOP_PARAMS);
void gb_c_io_uring_release_last(const gb_bvec *_Nonnull bvecs, GB_RELEASE_LOOP_PARAMS);

/* ---- untimed: the arrays unpin-folios and io-uring-release walk ---- */

/* Untimed: the folio array a caller holds for a page array, folios[k] = page_folio(pages[k]) —
 * one entry per page, so neighbours in one folio repeat and unpin_folios() groups them. */
void gb_folios_of_pages(gb_page *_Nonnull const *_Nonnull pages, long npages,
                        gb_page *_Nonnull *_Nonnull folios);

/*
 * Untimed: the bvec array IORING_REGISTER_BUFFERS builds for a page array. kernel:
 * io_sqe_buffer_register(): when io_check_coalesce_buffer() holds (each folio's pages appear in
 * order as consecutive descriptors and every folio but the first and last is whole and of one
 * size, larger than a page), io_coalesce_buffer() keeps one bvec — and one pin — per folio;
 * otherwise one bvec per page. Returns the number of bvecs written (at most npages).
 */
long gb_bvecs_of_pages(gb_page *_Nonnull const *_Nonnull pages, long npages,
                       gb_bvec *_Nonnull bvecs);

/* Untimed: the pins a registered buffer holds — one FOLL_PIN per bvec (after coalescing, the
 * kernel has dropped the other pins of each folio), recorded in the ledger when one is given. */
void gb_grab_bvecs(const gb_bvec *_Nonnull bvecs, long nbvecs, gb_ledger *_Nullable ledger,
                   gb_tally *_Nonnull t);

#endif /* GB_LOOPS_H */
