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
 * The descriptor: struct page, and in page[1] of a large folio the fields struct folio keeps there
 * (include/linux/mm_types.h, 64-bit, Linux 6.15-6.18; the model's field names drop the kernel's
 * leading underscore). One struct serves every page, as the kernel's unions do: a field named for
 * page[1] means nothing on other pages and the model leaves it 0 there.
 *
 *   page (any)           page[1] of a large folio (struct folio)
 *    0 flags              _flags_1: its low byte is the folio order (folio_order())
 *    8 compound_head      _head_1 (tail: head address | 1)
 *   16 -                  _large_mapcount (mappings of the whole folio - 1; -1 = unmapped)
 *   20 -                  _nr_pages_mapped (unused by the model)
 *   24 -                  _entire_mapcount (PMD mappings - 1; -1 = not PMD-mapped)
 *   28 -                  _pincount
 *   32 -                  _mm_id_mapcount[2], _mm_ids (unused by the model)
 *   48 _mapcount          (-1 = not mapped by a PTE)
 *   52 _refcount
 *   56 memcg_data         _nr_pages (NR_PAGES_IN_LARGE_FOLIO: folio_nr_pages() reads it)
 *
 * So a large folio's order, _pincount and _nr_pages share page[1]'s cache line with each other but
 * not with the head's _refcount: releasing a pin on a large folio writes two lines.
 */
/* Swift's importer skips over-aligned records, so the alignment attribute is for C only; the
 * layout is the same (64 bytes, asserted below) and every memmap starts page-aligned from mmap. */
#if defined(__swift__)
#define GB_CACHELINE_ALIGNED
#else
#define GB_CACHELINE_ALIGNED __attribute__((aligned(64)))
#endif

typedef struct GB_CACHELINE_ALIGNED gb_page {
    unsigned long flags;          /*  0: PG_* bits; page[1]: _flags_1, order in the low byte */
    uintptr_t compound_head;      /*  8: tail pages: head address | 1 */
    int large_mapcount;           /* 16: page[1] only: folio->_large_mapcount */
    int nr_pages_mapped;          /* 20: page[1] only: folio->_nr_pages_mapped (unused) */
    int entire_mapcount;          /* 24: page[1] only: folio->_entire_mapcount */
    int pincount;                 /* 28: page[1] only: folio->_pincount */
    unsigned char mm_ids[16];     /* 32: page[1] only: _mm_id_mapcount[2], _mm_ids (unused) */
    int mapcount;                 /* 48: page->_mapcount (-1 = not PTE-mapped) */
    int refcount;                 /* 52: page->_refcount (atomic_t) */
    unsigned int nr_pages;        /* 56: page[1] only: folio->_nr_pages; elsewhere memcg_data */
    unsigned int memcg_data_hi;   /* 60: the rest of memcg_data (unused) */
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
_Static_assert(offsetof(gb_page, flags) == 0, "flags (page[1]: _flags_1 with the order) at 0");
_Static_assert(offsetof(gb_page, compound_head) == 8, "compound_head at 8, as in struct page");
_Static_assert(offsetof(gb_page, large_mapcount) == 16, "page[1]: _large_mapcount at 16");
_Static_assert(offsetof(gb_page, nr_pages_mapped) == 20, "page[1]: _nr_pages_mapped at 20");
_Static_assert(offsetof(gb_page, entire_mapcount) == 24, "page[1]: _entire_mapcount at 24");
_Static_assert(offsetof(gb_page, pincount) == 28, "page[1]: _pincount at 28");
_Static_assert(offsetof(gb_page, mm_ids) == 32, "page[1]: _mm_id_mapcount and _mm_ids at 32");
_Static_assert(offsetof(gb_page, mapcount) == 48, "_mapcount at 48, as in struct page");
_Static_assert(offsetof(gb_page, refcount) == 52, "_refcount at 52, as in struct page");
_Static_assert(offsetof(gb_page, nr_pages) == 56, "page[1]: _nr_pages at 56, over memcg_data");

/* kernel: folio_order() keeps the order in the low byte of _flags_1. */
#define GB_FOLIO_ORDER_MASK 0xffUL

/* What a loop did, counted by the primitives themselves. Kept in a local by callers. */
typedef struct gb_tally {
    uint64_t atomics;        /* atomic read-modify-writes performed */
    uint64_t flag_tests;     /* plain reads of a flag word (PageDirty, folio_test_dirty) */
    uint64_t flag_atomics;   /* the atomics that were flag operations (set/clear/lock/unlock) */
    uint64_t folio_locks;    /* folio_lock() acquisitions (PG_locked taken) */
    uint64_t pins_acquired;  /* per 4 KiB page, as /proc/vmstat nr_foll_pin_acquired counts */
    uint64_t pins_released;  /* per 4 KiB page, as nr_foll_pin_released counts */
    uint64_t refs_acquired;  /* FOLL_GET references taken */
    uint64_t refs_released;  /* FOLL_GET references dropped */
    uint64_t underflows;     /* releases that left _refcount or _pincount below zero (--detect) */
    /* Events of folio_put_refs(), always recorded (see gb_folio_put_refs): */
    uint64_t freed;                /* _refcount reached exactly 0: the kernel frees the folio */
    uint64_t freed_while_mapped;   /*   ... while a page table still maps it: use-after-free */
    uint64_t freed_with_pincount;  /*   ... with _pincount != 0 (bad_page() under page checks) */
    uint64_t jumped_over_zero;     /* _refcount went from above 0 to below 0: nothing freed */
    uint64_t released_below_zero;  /* a release on a _refcount already at 0 or below */
    /* The kernel's per-call work (gb_kcalls.h): */
    uint64_t kernel_calls;         /* out-of-line calls: unpin_user_page/folio, gup_put_folio,
                                      mod_node_page_state, and retpoline mode's indirect call */
    uint64_t zero_folio_tests;     /* is_zero_folio() tests */
    uint64_t vmstat_cmpxchgs;      /* unlocked this_cpu_try_cmpxchg() on the per-CPU diff */
    uint64_t vmstat_folds;         /* diff folded into node + global counters (2 locked adds) */
    int64_t thread;          /* which worker this tally belongs to (for the ledger) */
} gb_tally;

/* ---- atomic helpers: each names its memory ordering, none is sequentially consistent ---- */

/* kernel: folio_ref_count() / page_ref_count() — atomic_read(&page->_refcount). */
GB_INLINE int gb_ref_read_relaxed(gb_page *_Nonnull p) {
    return atomic_load_explicit(GB_ATOMIC(int, p->refcount), memory_order_relaxed);
}

/* kernel: atomic_read(&folio->_pincount) (folio_maybe_dma_pinned()); p is page[1]. */
GB_INLINE int gb_pincount_read_relaxed(gb_page *_Nonnull p) {
    return atomic_load_explicit(GB_ATOMIC(int, p->pincount), memory_order_relaxed);
}

/* kernel: READ_ONCE(page->flags), as the page-flag tests read it. */
GB_INLINE unsigned long gb_flags_read_relaxed(gb_page *_Nonnull p) {
    return atomic_load_explicit(GB_ATOMIC(unsigned long, p->flags), memory_order_relaxed);
}

/* kernel: page_ref_add() / folio_ref_add() — atomic_add(), no ordering implied. Returns the new value. */
GB_INLINE int gb_ref_add_relaxed(gb_page *_Nonnull p, int n, gb_tally *_Nonnull t) {
    t->atomics++;
    return atomic_fetch_add_explicit(GB_ATOMIC(int, p->refcount), n, memory_order_relaxed) + n;
}

/* kernel: atomic_add(refs, &folio->_pincount) in try_grab_folio(). Returns the new value. */
GB_INLINE int gb_pincount_add_relaxed(gb_page *_Nonnull p, int n, gb_tally *_Nonnull t) {
    t->atomics++;
    return atomic_fetch_add_explicit(GB_ATOMIC(int, p->pincount), n, memory_order_relaxed) + n;
}

/* kernel: atomic_sub(refs, &folio->_pincount) in gup_put_folio() — unordered, its value unused by
 * the kernel. Returns whether the count went below zero, read from the flags of the `lock sub`
 * with a branch that is never taken in a correct run (free unless a --detect mode uses it). */
GB_INLINE bool gb_pincount_sub(gb_page *_Nonnull p, int n, gb_tally *_Nonnull t) {
    t->atomics++;
#if defined(__x86_64__)
    __asm__ goto("lock subl %1, %0\n\t"
                 "jl %l[negative]"
                 : "+m"(p->pincount)
                 : "ir"(n)
                 : "memory", "cc"
                 : negative);
    return false;
negative:
    return true;
#else
    return atomic_fetch_sub_explicit(GB_ATOMIC(int, p->pincount), n, memory_order_relaxed) - n < 0;
#endif
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

/* kernel: folio_order() — 0, or the low byte of page[1]'s _flags_1. */
GB_INLINE unsigned gb_folio_order(gb_page *_Nonnull folio) {
    if (!gb_folio_test_large(folio))
        return 0;
    return (unsigned)(gb_flags_read_relaxed(folio + 1) & GB_FOLIO_ORDER_MASK);
}

/* kernel: folio_nr_pages() with NR_PAGES_IN_LARGE_FOLIO — 1, or page[1]'s _nr_pages. */
GB_INLINE long gb_folio_nr_pages(gb_page *_Nonnull folio) {
    if (!gb_folio_test_large(folio))
        return 1;
    return (long)atomic_load_explicit(GB_ATOMIC(unsigned int, folio[1].nr_pages), memory_order_relaxed);
}

/* kernel: folio_has_pincount() — on 64-bit every large folio has _pincount in page[1]. */
GB_INLINE bool gb_folio_has_pincount(gb_page *_Nonnull folio) { return gb_folio_test_large(folio); }

/*
 * kernel: folio_mapped() = folio_mapcount() >= 1. Mapcounts are stored minus one: an order-0 page
 * is mapped when its _mapcount >= 0, a large folio when page[1]'s _large_mapcount >= 0 (it counts
 * every PTE and PMD mapping of the folio).
 */
GB_INLINE bool gb_folio_mapped(gb_page *_Nonnull folio) {
    if (!gb_folio_test_large(folio))
        return atomic_load_explicit(GB_ATOMIC(int, folio->mapcount), memory_order_relaxed) >= 0;
    return atomic_load_explicit(GB_ATOMIC(int, folio[1].large_mapcount), memory_order_relaxed) >= 0;
}

/* ---- flags with their page-flags.h policies ---- */

/* kernel: PageDirty() — PG_dirty is PF_HEAD: a tail reads its head's bit. */
GB_INLINE bool gb_page_dirty(gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    return gb_test_bit_relaxed(GB_PG_dirty, gb_compound_head(p), t);
}

/* kernel: folio_test_dirty() — a plain read of PG_dirty on the folio itself. */
GB_INLINE bool gb_folio_test_dirty(gb_page *_Nonnull folio, gb_tally *_Nonnull t) {
    return gb_test_bit_relaxed(GB_PG_dirty, folio, t);
}

/* kernel: folio_mark_dirty() for an anonymous folio. Anonymous folios have no a_ops, so it ends in
 * noop_dirty_folio(): PG_dirty set atomically, one atomic. (A file folio would call
 * mapping->a_ops->dirty_folio() instead, e.g. filemap_dirty_folio(): xarray tags, accounting and
 * inode dirtying under locks; not modelled.) */
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
    t->folio_locks++;
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

/* kernel: set_page_dirty_lock() (mm/page-writeback.c) — lock the folio, mark it dirty, unlock:
 * three atomics. The seed's put_user_pages_dirty_lock() called it per page. */
GB_INLINE void gb_set_page_dirty_lock(gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    gb_page *folio = gb_compound_head(p);
    gb_folio_lock(folio, t);
    gb_folio_mark_dirty(folio, t);
    gb_folio_unlock(folio, t);
}

/* kernel: the dirtying step of unpin_user_pages_dirty_lock() and
 * unpin_user_page_range_dirty_lock() (mm/gup.c), once per folio run:
 *     if (!folio_test_dirty(folio)) { folio_lock(folio); folio_mark_dirty(folio); folio_unlock(folio); }
 * on the folio directly: no set_page_dirty_lock(), no page_folio() per subpage. The test and the
 * set are not under one lock: the comment above it accepts the race with
 * clear_page_dirty_for_io() / folio_mkclean() (a folio seen dirty is being written back anyway). */
GB_INLINE void gb_unpin_folio_dirty_lock(gb_page *_Nonnull folio, gb_tally *_Nonnull t) {
    if (gb_folio_test_dirty(folio, t))
        return;
    gb_folio_lock(folio, t);
    gb_folio_mark_dirty(folio, t);
    gb_folio_unlock(folio, t);
}

/* ---- references and pins ---- */

/* kernel: folio_maybe_dma_pinned() — exact for large folios, fuzzy (>= bias) for order 0. */
GB_INLINE bool gb_folio_maybe_dma_pinned(gb_page *_Nonnull folio) {
    if (gb_folio_has_pincount(folio))
        return gb_pincount_read_relaxed(folio + 1) > 0;
    /* (unsigned int)folio_ref_count(folio): a count driven below zero reads as pinned */
    return (unsigned int)gb_ref_read_relaxed(folio) >= GB_PIN_COUNTING_BIAS;
}

/* kernel: page_maybe_dma_pinned() */
GB_INLINE bool gb_page_maybe_dma_pinned(gb_page *_Nonnull p) {
    return gb_folio_maybe_dma_pinned(gb_compound_head(p));
}

/* kernel: try_grab_folio() (mm/gup.c) — take `refs` references of kind `flags` on a folio.
 * FOLL_GET: refs on _refcount. FOLL_PIN: large folio: refs on _refcount and on _pincount
 * (page[1]); order 0: refs * GUP_PIN_COUNTING_BIAS on _refcount. The kernel's always-on
 * WARN_ON_ONCE(folio_ref_count(folio) <= 0) is left out: the grab side is untimed setup. */
GB_INLINE void gb_try_grab_folio(gb_page *_Nonnull folio, int refs, gb_foll flags,
                                 gb_tally *_Nonnull t) {
    if (flags == GB_FOLL_GET) {
        gb_ref_add_relaxed(folio, refs, t);
        t->refs_acquired += (uint64_t)refs;
        return;
    }
    if (gb_folio_has_pincount(folio)) {
        gb_ref_add_relaxed(folio, refs, t);
        gb_pincount_add_relaxed(folio + 1, refs, t);
    } else {
        gb_ref_add_relaxed(folio, refs * GB_PIN_COUNTING_BIAS, t);
    }
    t->pins_acquired += (uint64_t)refs; /* kernel: node_stat_mod_folio(NR_FOLL_PIN_ACQUIRED) */
}

/*
 * kernel: folio_put_refs() (include/linux/mm.h) — `if (folio_ref_sub_and_test(folio, refs))
 * __folio_put(folio);`: the folio is freed when _refcount reaches exactly 0, and only then.
 *
 * On x86 the kernel's atomic_sub_and_test() is a `lock sub` and a branch on the flags it leaves
 * (GEN_BINARY_RMWcc), not a `lock xadd` and a compare of the returned value; on this project's
 * AMD host a `lock xadd` whose result is used costs about 1.5-2x a `lock sub` once the descriptors
 * are out of cache. So the model keeps the kernel's instruction, and the events it records are
 * branches on those flags that a correct release never takes (an `asm goto`, so the hot path is
 * `lock sub; je; jb; jl` and nothing else):
 *   je  zero:    new == 0, sub_and_test is true and the kernel calls __folio_put(): the folio goes
 *                back to the allocator. If a page table still maps it (gb_folio_mapped), the user
 *                still reaches memory that is no longer theirs: freed while mapped, a
 *                use-after-free. A large folio freed with _pincount != 0 is what
 *                free_tail_page_prepare() reports as "nonzero pincount" (bad_page()) when page
 *                checks are on.
 *   jb  crossed: old < refs as unsigned (CF), i.e. old in [0, refs): the count went negative from
 *                zero or above. From above zero it jumped over 0: sub_and_test is false, nothing
 *                is freed, and the count never comes back to exactly 0, so the folio is never
 *                freed (a leak). From exactly 0 it is a second release of a freed folio; that case
 *                is told apart by reading the count again, exact when no other thread releases
 *                this folio at the same moment (the misuse runs are single-threaded).
 *   jl  below:   new < 0 from a count already negative: a release of a leaked folio.
 * Returns what became of the folio: still held, freed (reached 0), or its count is negative (for
 * --detect underflow). The hot path returns the constant GB_PUT_HELD, so a caller's test of the
 * outcome is threaded onto the cold branches after inlining.
 */
typedef enum gb_put_outcome {
    GB_PUT_HELD = 0,      /* _refcount still above 0 */
    GB_PUT_FREED = 1,     /* reached exactly 0: __folio_put() */
    GB_PUT_NEGATIVE = 2,  /* below 0: jumped over it, or released a freed or leaked folio */
} gb_put_outcome;

GB_INLINE gb_put_outcome gb_folio_put_refs_outcome(gb_page *_Nonnull folio, int refs, gb_tally *_Nonnull t) {
    t->atomics++;
#if defined(__x86_64__)
    __asm__ goto("lock subl %1, %0\n\t"
                 "je %l[zero]\n\t"
                 "jb %l[crossed]\n\t"
                 "jl %l[below]"
                 : "+m"(folio->refcount)
                 : "ir"(refs)
                 : "memory", "cc"
                 : zero, crossed, below);
    return GB_PUT_HELD;
#else
    int old = atomic_fetch_sub_explicit(GB_ATOMIC(int, folio->refcount), refs, memory_order_acq_rel);
    if (__builtin_expect(old > refs, 1))
        return GB_PUT_HELD;
    if (old == refs)
        goto zero;
    if (old >= 0)
        goto crossed;
    goto below;
#endif
zero:
    t->freed++;
    t->freed_while_mapped += gb_folio_mapped(folio);
    t->freed_with_pincount += gb_folio_has_pincount(folio) && gb_pincount_read_relaxed(folio + 1) != 0;
    return GB_PUT_FREED;
crossed:
    if (gb_ref_read_relaxed(folio) != -refs) {
        t->jumped_over_zero++;
        return GB_PUT_NEGATIVE;
    }
below:
    t->released_below_zero++;
    return GB_PUT_NEGATIVE;
}

/* kernel: folio_put_refs() — gb_folio_put_refs_outcome(), answering only whether _refcount is
 * now below zero. */
GB_INLINE bool gb_folio_put_refs(gb_page *_Nonnull folio, int refs, gb_tally *_Nonnull t) {
    return gb_folio_put_refs_outcome(folio, refs, t) == GB_PUT_NEGATIVE;
}

/* What a release left behind, for the run-time check of --detect underflow: read from the flags of
 * the atomics the release performed anyway. */
typedef struct gb_put_result {
    bool refcount_negative;   /* folio _refcount below zero after the release */
    bool pincount_negative;   /* folio _pincount below zero after the release (large folios) */
} gb_put_result;

/* kernel: gup_put_folio() (mm/gup.c) — drop `refs` references of kind `flags` from a folio.
 * FOLL_PIN on a large folio: _pincount -= refs, then folio_put_refs(refs) (2 atomics);
 * FOLL_PIN on order 0: folio_put_refs(refs * bias) (1 atomic); FOLL_GET: folio_put_refs(refs).
 * The kernel checks nothing here: no WARN on a count going negative. (Its is_zero_folio() test and
 * NR_FOLL_PIN_RELEASED accounting are per-call work modelled elsewhere.)
 *
 * `count_underflows` is --detect underflow's check (a constant at every call site): a release that
 * left _refcount or _pincount below zero adds 1 to t->underflows. Each path releases and checks
 * on its own rather than meeting at one call with a variable count: after inlining every path has
 * its own `lock sub` (an immediate where refs is a constant) and the check's count sits on the
 * cold branches of that path, so the check adds nothing to a correct release. */
GB_INLINE gb_put_result gb_gup_put_folio_checked(gb_page *_Nonnull folio, int refs, gb_foll flags,
                                                 bool count_underflows, gb_tally *_Nonnull t) {
    gb_put_result r = {false, false};
    if (flags == GB_FOLL_PIN) {
        t->pins_released += (uint64_t)refs; /* kernel: NR_FOLL_PIN_RELEASED */
        if (gb_folio_has_pincount(folio)) {
            r.pincount_negative = gb_pincount_sub(folio + 1, refs, t);
            r.refcount_negative = gb_folio_put_refs(folio, refs, t);
            if (count_underflows && __builtin_expect(r.pincount_negative | r.refcount_negative, 0))
                t->underflows++;
        } else {
            r.refcount_negative = gb_folio_put_refs(folio, refs * GB_PIN_COUNTING_BIAS, t);
            if (count_underflows && __builtin_expect(r.refcount_negative, 0))
                t->underflows++;
        }
        return r;
    }
    t->refs_released += (uint64_t)refs;
    r.refcount_negative = gb_folio_put_refs(folio, refs, t);
    if (count_underflows && __builtin_expect(r.refcount_negative, 0))
        t->underflows++;
    return r;
}

/* kernel: gup_put_folio() (mm/gup.c), without --detect's check. */
GB_INLINE gb_put_result gb_gup_put_folio(gb_page *_Nonnull folio, int refs, gb_foll flags,
                                         gb_tally *_Nonnull t) {
    return gb_gup_put_folio_checked(folio, refs, flags, false, t);
}

/* kernel: put_page() = folio_put(page_folio(page)) — drop one ordinary reference; folio_put() is
 * folio_put_testzero() (`lock decl` and a branch on ZF), the same test as folio_put_refs(.., 1). */
GB_INLINE gb_put_result gb_put_page(gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    return gb_gup_put_folio(gb_compound_head(p), 1, GB_FOLL_GET, t);
}

/* kernel: unpin_user_page() = gup_put_folio(page_folio(page), 1, FOLL_PIN) */
GB_INLINE gb_put_result gb_unpin_user_page(gb_page *_Nonnull p, gb_tally *_Nonnull t) {
    return gb_gup_put_folio(gb_compound_head(p), 1, GB_FOLL_PIN, t);
}

/*
 * kernel: unmapping a mapped folio (zap_present_ptes() / zap_huge_pmd() with their TLB batch):
 * the rmap is removed first (folio_remove_rmap_pte() / _pmd(): the mapcounts drop to "unmapped"),
 * then the mapping's reference is dropped (folios_put_refs() from tlb_finish_mmu()). So an unmap
 * frees a folio nobody else holds, and never "while mapped". Untimed; for tests and the misuse runs.
 */
GB_INLINE void gb_folio_unmap(gb_page *_Nonnull folio, gb_tally *_Nonnull t) {
    if (gb_folio_test_large(folio)) {
        atomic_fetch_sub_explicit(GB_ATOMIC(int, folio[1].entire_mapcount), 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(GB_ATOMIC(int, folio[1].large_mapcount), 1, memory_order_relaxed);
    } else {
        atomic_fetch_sub_explicit(GB_ATOMIC(int, folio->mapcount), 1, memory_order_relaxed);
    }
    gb_folio_put_refs(folio, 1, t);
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
typedef enum gb_dirty_mode {
    GB_DIRTY_NONE = 0,
    GB_DIRTY_DIRTY = 1,      /* the seed's put_user_pages_dirty(): test, then mark, no lock */
    GB_DIRTY_LOCK = 2,       /* dirty under the folio lock: set_page_dirty_lock() per page in the
                                seed's loop; unpin_user_pages_dirty_lock()'s test, lock, mark,
                                unlock once per folio run in the batched ones */
} gb_dirty_mode;

/* The per-page loops (the seed's put_user_pages_dirty{,_lock}()): `if (!PageDirty(p))
 * set_page_dirty(p)` or its _lock twin, on one page (its head under PF_HEAD). */
GB_INLINE void gb_dirty_if_clean(gb_page *_Nonnull p, gb_dirty_mode dirty_mode, gb_tally *_Nonnull t) {
    if (dirty_mode == GB_DIRTY_NONE || gb_page_dirty(p, t))
        return;
    if (dirty_mode == GB_DIRTY_LOCK)
        gb_set_page_dirty_lock(p, t);
    else
        gb_set_page_dirty(p, t);
}

/* The batched loops, once per folio run: GB_DIRTY_LOCK is unpin_user_pages_dirty_lock()'s step
 * (gb_unpin_folio_dirty_lock); GB_DIRTY_DIRTY the same test and mark without the lock, as the
 * seed's put_user_pages_dirty() did (no kernel function does that today). */
GB_INLINE void gb_dirty_folio_run(gb_page *_Nonnull folio, gb_dirty_mode dirty_mode, gb_tally *_Nonnull t) {
    if (dirty_mode == GB_DIRTY_LOCK)
        gb_unpin_folio_dirty_lock(folio, t);
    else if (dirty_mode == GB_DIRTY_DIRTY && !gb_folio_test_dirty(folio, t))
        gb_folio_mark_dirty(folio, t);
}

/*
 * --detect underflow on a result already in hand: the same count as gb_gup_put_folio_checked()
 * makes, for callers that release through gb_gup_put_folio() and check afterwards. The release
 * loops use gb_detect_put_folio() (gb_ledger.h) instead, which keeps the count on the cold paths;
 * this form merges the two bools of the result in the hot path.
 */
GB_INLINE void gb_check_underflow(gb_put_result r, gb_tally *_Nonnull t) {
    if (__builtin_expect(r.refcount_negative | r.pincount_negative, 0))
        t->underflows++;
}

#endif /* GB_PAGE_H */
