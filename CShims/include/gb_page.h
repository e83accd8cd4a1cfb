/*
 * gb_page.h — the page-descriptor model ("struct page" in user space).
 *
 * One 64-byte, 64-byte-aligned descriptor per 4 KiB page of a real data region. The rules follow
 * Linux 6.x on 64-bit (mm/gup.c, include/linux/mm.h, include/linux/page-flags.h); the kernel code
 * was read for facts, this is an independent model. Every model function names the kernel function
 * it mirrors.
 *
 * Every primitive that performs an atomic read-modify-write adds 1 to `gb_tally.atomics`. The tally
 * lives in a local variable of the calling loop, so after inlining it is a register increment next
 * to a LOCK-prefixed instruction: the counts in reports and tests are what the code did, not what
 * a formula says it should do.
 */
#ifndef GB_PAGE_H
#define GB_PAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_INLINE static inline __attribute__((always_inline))

/* kernel: GUP_PIN_COUNTING_BIAS (include/linux/mm.h) */
#define GB_PIN_COUNTING_BIAS 1024

/* Page-flag bit numbers, as enum pageflags orders them in Linux 6.x. */
enum {
    GB_PG_locked = 0,
    GB_PG_dirty = 4,
    GB_PG_head = 6,
};

/* Which kind of reference a get_user_pages() call took: kernel FOLL_GET / FOLL_PIN. */
typedef enum gb_foll {
    GB_FOLL_GET = 1,
    GB_FOLL_PIN = 2,
} gb_foll;

/*
 * The descriptor. Field placement follows struct page where it matters for cache behaviour:
 * flags and compound_head in the first 16 bytes, _refcount at offset 52. A large folio keeps its
 * order and its _pincount in page[1], the first tail, i.e. a second cache line (struct folio).
 */
/* Swift's importer skips over-aligned records, so the alignment attribute is for C only; the
 * layout is the same (64 bytes, asserted below) and every memmap starts page-aligned from mmap. */
#if defined(__swift__)
#define GB_CACHELINE_ALIGNED
#else
#define GB_CACHELINE_ALIGNED __attribute__((aligned(64)))
#endif

typedef struct GB_CACHELINE_ALIGNED gb_page {
    unsigned long flags;          /*  0: PG_* bits */
    uintptr_t compound_head;      /*  8: tail pages: head address | 1 */
    unsigned char folio_order;    /* 16: page[1] only (kernel: folio->_flags_1 & 0xff) */
    unsigned char _pad0[7];
    int pincount;                 /* 24: page[1] only (kernel: folio->_pincount) */
    unsigned char _pad1[20];
    int mapcount;                 /* 48: kernel: _mapcount (-1 = unmapped); informational */
    int refcount;                 /* 52: kernel: _refcount (atomic_t) */
    unsigned long private_;       /* 56: kernel: memcg_data; unused here */
} gb_page;

/*
 * The fields are declared plain because Swift's importer drops structs with _Atomic members; every
 * access goes through GB_ATOMIC(), which views the field as the C11 _Atomic type of the same size
 * and alignment, as the kernel's atomic_t wraps a plain int. Nothing touches these fields directly.
 */
#define GB_ATOMIC(type, lvalue) ((_Atomic(type) *)&(lvalue))

_Static_assert(sizeof(gb_page) == 64, "a descriptor is one cache line, as struct page is");
#if !defined(__swift__)
_Static_assert(_Alignof(gb_page) == 64, "descriptors are cache-line aligned");
#endif
_Static_assert(offsetof(gb_page, flags) == 0, "flags first, as in struct page");
_Static_assert(offsetof(gb_page, compound_head) == 8, "compound_head at 8, as in struct page");
_Static_assert(offsetof(gb_page, folio_order) == 16, "folio order in page[1] at 16");
_Static_assert(offsetof(gb_page, pincount) == 24, "_pincount in page[1] at 24");
_Static_assert(offsetof(gb_page, refcount) == 52, "_refcount at 52, as in struct page");

/* What a loop did, counted by the primitives themselves. Kept in a local by callers. */
typedef struct gb_tally {
    uint64_t atomics;        /* atomic read-modify-writes performed */
    uint64_t flag_tests;     /* plain reads of a flag word (PageDirty) */
    uint64_t flag_atomics;   /* the atomics that were flag operations (set/clear/lock/unlock) */
    uint64_t pins_acquired;  /* per 4 KiB page, as /proc/vmstat nr_foll_pin_acquired counts */
    uint64_t pins_released;  /* per 4 KiB page, as nr_foll_pin_released counts */
    uint64_t refs_acquired;  /* FOLL_GET references taken */
    uint64_t refs_released;  /* FOLL_GET references dropped */
    uint64_t underflows;     /* releases whose atomic returned a count below zero (--detect) */
    int64_t thread;          /* which worker this tally belongs to (for the ledger) */
} gb_tally;

/* ---- atomic helpers: each names its memory ordering, none is sequentially consistent ---- */

GB_INLINE int gb_ref_read_relaxed(gb_page *_Nonnull p) {
    return atomic_load_explicit(GB_ATOMIC(int, p->refcount), memory_order_relaxed);
}

GB_INLINE int gb_pincount_read_relaxed(gb_page *_Nonnull p) {
    return atomic_load_explicit(GB_ATOMIC(int, p->pincount), memory_order_relaxed);
}

GB_INLINE unsigned long gb_flags_read_relaxed(gb_page *_Nonnull p) {
    return atomic_load_explicit(GB_ATOMIC(unsigned long, p->flags), memory_order_relaxed);
}

/* kernel: page_ref_add() — atomic_add(), no ordering implied. Returns the new value. */
GB_INLINE int gb_ref_add_relaxed(gb_page *_Nonnull p, int n, gb_tally *_Nonnull t) {
    t->atomics++;
    return atomic_fetch_add_explicit(GB_ATOMIC(int, p->refcount), n, memory_order_relaxed) + n;
}

/* kernel: page_ref_sub_and_test() — a value-returning atomic, fully ordered in the kernel;
 * acquire-release is what the put side needs (prior accesses happen before the drop). */
GB_INLINE int gb_ref_sub_acq_rel(gb_page *_Nonnull p, int n, gb_tally *_Nonnull t) {
    t->atomics++;
    return atomic_fetch_sub_explicit(GB_ATOMIC(int, p->refcount), n, memory_order_acq_rel) - n;
}

GB_INLINE int gb_pincount_add_relaxed(gb_page *_Nonnull p, int n, gb_tally *_Nonnull t) {
    t->atomics++;
    return atomic_fetch_add_explicit(GB_ATOMIC(int, p->pincount), n, memory_order_relaxed) + n;
}

GB_INLINE int gb_pincount_sub_relaxed(gb_page *_Nonnull p, int n, gb_tally *_Nonnull t) {
    t->atomics++;
    return atomic_fetch_sub_explicit(GB_ATOMIC(int, p->pincount), n, memory_order_relaxed) - n;
}

/* kernel: test_bit() — a plain read. */
GB_INLINE bool gb_test_bit_relaxed(int bit, gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    t->flag_tests++;
    return (atomic_load_explicit(GB_ATOMIC(unsigned long, p->flags), memory_order_relaxed) >> bit) & 1UL;
}

/* kernel: set_bit() — atomic, unordered. */
GB_INLINE void gb_set_bit_relaxed(int bit, gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    t->atomics++;
    t->flag_atomics++;
    atomic_fetch_or_explicit(GB_ATOMIC(unsigned long, p->flags), 1UL << bit, memory_order_relaxed);
}

/* kernel: clear_bit() — atomic, unordered. */
GB_INLINE void gb_clear_bit_relaxed(int bit, gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    t->atomics++;
    t->flag_atomics++;
    atomic_fetch_and_explicit(GB_ATOMIC(unsigned long, p->flags), ~(1UL << bit), memory_order_relaxed);
}

/* kernel: test_and_set_bit_lock() — acquire on success. Returns the old bit. */
GB_INLINE bool gb_test_and_set_bit_acquire(int bit, gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    t->atomics++;
    t->flag_atomics++;
    return (atomic_fetch_or_explicit(GB_ATOMIC(unsigned long, p->flags), 1UL << bit, memory_order_acquire) >> bit) & 1UL;
}

/* kernel: clear_bit_unlock() — release. */
GB_INLINE void gb_clear_bit_release(int bit, gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    t->atomics++;
    t->flag_atomics++;
    atomic_fetch_and_explicit(GB_ATOMIC(unsigned long, p->flags), ~(1UL << bit), memory_order_release);
}

/* ---- folio geometry ---- */

/* kernel: _compound_head() — a tail stores its head's address with bit 0 set. */
GB_INLINE gb_page *_Nonnull gb_compound_head(gb_page *_Nonnull p) {
    uintptr_t head = atomic_load_explicit(GB_ATOMIC(uintptr_t, p->compound_head), memory_order_relaxed);
    return (head & 1) ? (gb_page *)(head - 1) : p;
}

/* kernel: page_folio() */
GB_INLINE gb_page *_Nonnull gb_page_folio(gb_page *_Nonnull p) { return gb_compound_head(p); }

/* kernel: PageTail() */
GB_INLINE bool gb_page_tail(gb_page *_Nonnull p) {
    return atomic_load_explicit(GB_ATOMIC(uintptr_t, p->compound_head), memory_order_relaxed) & 1;
}

/* kernel: folio_test_large() — PG_head on the folio. */
GB_INLINE bool gb_folio_test_large(gb_page *_Nonnull folio) {
    return (atomic_load_explicit(GB_ATOMIC(unsigned long, folio->flags), memory_order_relaxed) >> GB_PG_head) & 1UL;
}

/* kernel: folio_order() — the order lives in page[1]. */
GB_INLINE unsigned gb_folio_order(gb_page *_Nonnull folio) {
    return gb_folio_test_large(folio) ? folio[1].folio_order : 0;
}

/* kernel: folio_nr_pages() */
GB_INLINE long gb_folio_nr_pages(gb_page *_Nonnull folio) { return 1L << gb_folio_order(folio); }

/* ---- flags with their page-flags.h policies ---- */

/* kernel: PageDirty() — PG_dirty is PF_HEAD: a tail reads its head's bit. */
GB_INLINE bool gb_page_dirty(gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    return gb_test_bit_relaxed(GB_PG_dirty, gb_compound_head(p), t);
}

/* kernel: folio_mark_dirty() for an anonymous folio (no a_ops): set PG_dirty on the folio. */
GB_INLINE void gb_folio_mark_dirty(gb_page *_Nonnull folio, gb_tally *_Nonnull t) {
    gb_set_bit_relaxed(GB_PG_dirty, folio, t);
}

/* kernel: set_page_dirty() = folio_mark_dirty(page_folio(page)) — PF_HEAD: marks the head. */
GB_INLINE void gb_set_page_dirty(gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    gb_folio_mark_dirty(gb_compound_head(p), t);
}

/* kernel: folio_lock() — PG_locked is PF_NO_TAIL; the kernel sleeps, the model spins. */
GB_INLINE void gb_folio_lock(gb_page *_Nonnull folio, gb_tally *_Nonnull t) {
    while (gb_test_and_set_bit_acquire(GB_PG_locked, folio, t)) {
        while ((atomic_load_explicit(GB_ATOMIC(unsigned long, folio->flags), memory_order_relaxed) >> GB_PG_locked) & 1UL)
            __builtin_ia32_pause();
    }
}

/* kernel: folio_unlock() */
GB_INLINE void gb_folio_unlock(gb_page *_Nonnull folio, gb_tally *_Nonnull t) {
    gb_clear_bit_release(GB_PG_locked, folio, t);
}

/* kernel: lock_page() — lock_page(tail) locks the head. */
GB_INLINE void gb_lock_page(gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    gb_folio_lock(gb_compound_head(p), t);
}

/* kernel: unlock_page() */
GB_INLINE void gb_unlock_page(gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    gb_folio_unlock(gb_compound_head(p), t);
}

/* kernel: PageLocked() — reads go to the head (PF_NO_TAIL). */
GB_INLINE bool gb_page_locked(gb_page *_Nonnull p) {
    return (gb_flags_read_relaxed(gb_compound_head(p)) >> GB_PG_locked) & 1UL;
}

/* kernel: set_page_dirty_lock() — lock the folio, mark it dirty, unlock: three atomics. */
GB_INLINE void gb_set_page_dirty_lock(gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    gb_page *folio = gb_compound_head(p);
    gb_folio_lock(folio, t);
    gb_folio_mark_dirty(folio, t);
    gb_folio_unlock(folio, t);
}

/* ---- references and pins ---- */

/* kernel: folio_maybe_dma_pinned() — exact for large folios, fuzzy (>= bias) for order 0. */
GB_INLINE bool gb_folio_maybe_dma_pinned(gb_page *_Nonnull folio) {
    if (gb_folio_test_large(folio))
        return gb_pincount_read_relaxed(folio + 1) > 0;
    return gb_ref_read_relaxed(folio) >= GB_PIN_COUNTING_BIAS;
}

/* kernel: page_maybe_dma_pinned() */
GB_INLINE bool gb_page_maybe_dma_pinned(gb_page *_Nonnull p) {
    return gb_folio_maybe_dma_pinned(gb_compound_head(p));
}

/* kernel: try_grab_folio() — take `refs` references of kind `flags` on a folio.
 * FOLL_GET: refs on _refcount. FOLL_PIN: large folio: refs on _refcount and on _pincount
 * (page[1]); order 0: refs * GUP_PIN_COUNTING_BIAS on _refcount. */
GB_INLINE void gb_try_grab_folio(gb_page *_Nonnull folio, int refs, gb_foll flags,
                                 gb_tally *_Nonnull t) {
    if (flags == GB_FOLL_GET) {
        gb_ref_add_relaxed(folio, refs, t);
        t->refs_acquired += (uint64_t)refs;
        return;
    }
    if (gb_folio_test_large(folio)) {
        gb_ref_add_relaxed(folio, refs, t);
        gb_pincount_add_relaxed(folio + 1, refs, t);
    } else {
        gb_ref_add_relaxed(folio, refs * GB_PIN_COUNTING_BIAS, t);
    }
    t->pins_acquired += (uint64_t)refs; /* kernel: node_stat_mod_folio(NR_FOLL_PIN_ACQUIRED) */
}

/* What a release left behind: the values the last atomics returned, for run-time checks. */
typedef struct gb_put_result {
    int refcount;   /* folio _refcount after the release */
    int pincount;   /* folio _pincount after the release (large folios; else 0) */
} gb_put_result;

/* kernel: gup_put_folio() — drop `refs` references of kind `flags` from a folio.
 * FOLL_PIN on a large folio: _pincount -= refs, then _refcount -= refs (2 atomics);
 * FOLL_PIN on order 0: _refcount -= refs * bias (1 atomic); FOLL_GET: _refcount -= refs. */
GB_INLINE gb_put_result gb_gup_put_folio(gb_page *_Nonnull folio, int refs, gb_foll flags,
                                         gb_tally *_Nonnull t) {
    gb_put_result r = {0, 0};
    if (flags == GB_FOLL_PIN) {
        t->pins_released += (uint64_t)refs; /* kernel: NR_FOLL_PIN_RELEASED */
        if (gb_folio_test_large(folio)) {
            r.pincount = gb_pincount_sub_relaxed(folio + 1, refs, t);
        } else {
            refs *= GB_PIN_COUNTING_BIAS;
        }
    } else {
        t->refs_released += (uint64_t)refs;
    }
    r.refcount = gb_ref_sub_acq_rel(folio, refs, t); /* kernel: folio_put_refs() */
    return r;
}

/* kernel: put_page() — drop one ordinary reference from the page's folio. */
GB_INLINE gb_put_result gb_put_page(gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    return gb_gup_put_folio(gb_compound_head(p), 1, GB_FOLL_GET, t);
}

/* kernel: unpin_user_page() */
GB_INLINE gb_put_result gb_unpin_user_page(gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    return gb_gup_put_folio(gb_compound_head(p), 1, GB_FOLL_PIN, t);
}

/* kernel: gup_folio_next() — the folio of list[i] and how many consecutive entries share it.
 * Reads one descriptor per entry: the walk the range variant avoids. */
GB_INLINE gb_page *_Nonnull gb_gup_folio_next(gb_page *_Nonnull const *_Nonnull list,
                                              long npages, long i, long *_Nonnull ntails) {
    gb_page *folio = gb_compound_head(list[i]);
    long nr = i + 1;
    while (nr < npages && gb_compound_head(list[nr]) == folio)
        nr++;
    *ntails = nr - i;
    return folio;
}

/* kernel: gup_folio_range_next() — the folio of start[i] in a contiguous range and how many
 * of the range's pages it holds: folio arithmetic, one descriptor per folio. */
GB_INLINE gb_page *_Nonnull gb_gup_folio_range_next(gb_page *_Nonnull start, long npages, long i,
                                                    long *_Nonnull ntails) {
    gb_page *next = start + i;
    gb_page *folio = gb_compound_head(next);
    long nr = 1;
    if (gb_folio_test_large(folio)) {
        long left_in_folio = gb_folio_nr_pages(folio) - (long)(next - folio);
        long left_in_range = npages - i;
        nr = left_in_folio < left_in_range ? left_in_folio : left_in_range;
    }
    *ntails = nr;
    return folio;
}

/* Dirty modes (--dirty). */
enum {
    GB_DIRTY_NONE = 0,
    GB_DIRTY_DIRTY = 1,      /* put_user_pages_dirty(): if (!PageDirty(p)) set_page_dirty(p) */
    GB_DIRTY_LOCK = 2,       /* put_user_pages_dirty_lock(): ... set_page_dirty_lock(p) */
};

/* The seed's `if (!PageDirty(p)) set_page_dirty(p)`, and its _lock twin, on one page or folio. */
GB_INLINE void gb_dirty_if_clean(gb_page *_Nonnull p, int dirty_mode, gb_tally *_Nonnull t) {
    if (dirty_mode == GB_DIRTY_NONE || gb_page_dirty(p, t))
        return;
    if (dirty_mode == GB_DIRTY_LOCK)
        gb_set_page_dirty_lock(p, t);
    else
        gb_set_page_dirty(p, t);
}

/*
 * --detect underflow: the check the release path can make for free with the values its atomics
 * return. A _pincount or _refcount below zero after a release means a release without a matching
 * grab (kernel: the WARN_ON_ONCE / VM_BUG_ON_FOLIO checks of a DEBUG_VM build). Branchless:
 * counted, never aborting.
 */
GB_INLINE void gb_check_underflow(gb_put_result r, gb_tally *_Nonnull t) {
    t->underflows += (uint64_t)((r.refcount < 0) | (r.pincount < 0));
}

#endif /* GB_PAGE_H */
