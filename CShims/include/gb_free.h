/*
 * gb_free.h — what happens when a release drops a folio's LAST reference: the folio leaves its
 * node's LRU list under the lruvec lock and goes to a per-CPU free list under the pcp lock, which
 * spills to the zone's free list under the zone lock at a high-water mark. Linux 6.x:
 * mm/swap.c (__folio_put, __page_cache_release, folios_put_refs, release_pages),
 * mm/page_alloc.c (free_frozen_pages, free_unref_folios, free_frozen_page_commit,
 * free_pcppages_bulk, free_one_page), include/linux/memcontrol.h (folio_lruvec_relock_irqsave),
 * mm/memcontrol.c and mm/page_counter.c (the memory cgroup's uncharge, below).
 *
 * Locks are real spinlocks (C11 atomics, test-and-test-and-set with PAUSE); lists are real
 * intrusive doubly-linked lists through the descriptors, as the kernel's are.
 *
 * Where the list links live. struct page keeps `lru` (a list_head: next, prev) at offset 8, in a
 * union with `compound_head`, and with `pcp_list` and `buddy_list` (the free lists reuse the same
 * two words). Only a folio's HEAD is ever linked: a tail's word at offset 8 is its compound_head
 * (head address | 1), a linked head's is a pointer to another list_head, always 8-aligned, so bit
 * 0 is clear and compound_head(head) still answers "head". The model does exactly that: a
 * folio's head links through descriptor offsets 8 (next, the compound_head word) and 16 (prev:
 * on a head the slot page[1] uses for _large_mapcount and _nr_pages_mapped, unused there, as
 * struct folio's lru.prev is); page[1] — the order in _flags_1, the mapcounts, _pincount — is never
 * linked, so the lists never touch what the release path reads there. Every link is read and written with relaxed atomics
 * (the kernel's READ_ONCE/WRITE_ONCE in list.h), because another thread may be reading that
 * compound_head word of a head while a neighbour's list_del rewrites it.
 *
 * Which lruvec: the kernel keeps the node id in the upper bits of page->flags and, with memcg
 * off, uses the node's lruvec. The model keeps a lruvec index in the top byte of the head's flags
 * (GB_LRUVEC_SHIFT); the model's one zone stands for the node's ZONE_NORMAL.
 *
 * Differences from the kernel, on purpose: no buddy merging (the zone keeps one free list of
 * whole folios), no migratetypes; free_pages_prepare()'s clearing of tails writes back the
 * values the next repetition needs (the same lines written, gb_free_tail_pages_prepare()), so
 * the folio keeps its compound shape while free and the next repetition can "allocate" it again.
 * Lock and unlock never disable interrupts (user space).
 */
#ifndef GB_FREE_H
#define GB_FREE_H

#include "gb_page.h"

/* kernel: enum pageflags — PG_lru follows PG_dirty (4). */
enum { GB_PG_lru = 5 };

/* Which lruvec a folio belongs to (kernel: the node bits of page->flags). */
#define GB_LRUVEC_SHIFT 56
#define GB_LRUVEC_MASK 0xffUL

/* kernel: PAGEVEC_SIZE (include/linux/pagevec.h): a folio_batch holds 31 folios. */
#define GB_FOLIO_BATCH_SIZE 31

/* kernel: PAGE_ALLOC_COSTLY_ORDER and HPAGE_PMD_ORDER, for pcp_allowed_order(). */
#define GB_PAGE_ALLOC_COSTLY_ORDER 3
#define GB_HPAGE_PMD_ORDER 9

/* The two words of a list_head. Lists link descriptor offset 8 (see above) or a sentinel. */
typedef struct gb_list_head {
    uintptr_t next;
    uintptr_t prev;
} gb_list_head;

_Static_assert(offsetof(gb_page, compound_head) == 8, "lru.next shares the compound_head word");
_Static_assert(offsetof(gb_page, flags) + sizeof(unsigned long) <= 8, "flags stay outside lru");
_Static_assert(offsetof(gb_page, large_mapcount) == 16 && offsetof(gb_page, nr_pages_mapped) == 20,
               "lru.prev of a head overlays page[1]-only fields, never a head's");
_Static_assert(offsetof(gb_page, mapcount) >= 24 && offsetof(gb_page, refcount) >= 24,
               "_mapcount and _refcount stay outside lru");

/* A spinlock on its own cache line (padding, not an alignment attribute, so Swift imports it). */
typedef struct gb_spinlock {
    int locked;
    unsigned char _pad[60];
} gb_spinlock;

/* Locks taken, counted by the thread that took them (kept in that thread's pcp). */
typedef struct gb_lock_counts {
    uint64_t lruvec;        /* lruvec->lru_lock acquisitions */
    uint64_t pcp;           /* pcp->lock acquisitions */
    uint64_t zone;          /* zone->lock acquisitions */
    uint64_t waits;         /* acquisitions that found the lock held and spun */
    uint64_t folios_freed;  /* folios whose last reference this thread dropped */
    uint64_t pages_freed;
    uint64_t bad_frees;     /* frees of a folio with _refcount != 0 or still on an LRU */
    uint64_t spills;        /* free_pcppages_bulk() calls */
    uint64_t memcg_batches; /* uncharge_batch() calls: the page counters' subtractions */
    uint64_t memcg_folios;  /* folios uncharged (uncharge_folio()) */
    uint64_t tails_prepared; /* tail descriptors free_pages_prepare() walked */
} gb_lock_counts;

/* kernel: struct lruvec (the node's, memcg off): one LRU list (inactive anon) and its lock. */
typedef struct gb_lruvec {
    gb_spinlock lru_lock;
    gb_list_head list;
    long nr_folios;
    long nr_pages;
    unsigned char _pad[32];
} gb_lruvec;

/* kernel: struct zone — its lock and (the model's single) free list. */
typedef struct gb_zone {
    gb_spinlock lock;
    gb_list_head free_list;
    long nr_folios;
    long nr_pages;
    unsigned char _pad[32];
} gb_zone;

/* kernel: struct per_cpu_pages — one per worker thread (one thread per CPU). */
typedef struct gb_pcp {
    gb_spinlock lock;
    gb_list_head list;
    long count;        /* pages on the list */
    long nr_folios;
    long high;         /* spill when count reaches it (kernel: pcp->high) */
    long batch;        /* kernel: pcp->batch */
    long free_count;   /* consecutive freed pages, grows the spill (kernel: pcp->free_count) */
    unsigned char _pad[8];
    gb_lock_counts counts;
    /* The memcg's per-CPU state this CPU writes (plain adds, as this_cpu_add() is): the css
     * reference count in percpu mode (css_get/css_put) and the v1 page events. */
    long css_ref;
    long memcg_events;
    unsigned char _pad2[64 - (sizeof(gb_lock_counts) + 2 * sizeof(long)) % 64];
} gb_pcp;

/* kernel: struct page_counter's `usage` (mm/page_counter.c), each level's on its own line: each
 * is in another memcg's allocation, and every CPU of the machine subtracts from the upper ones. */
typedef struct gb_page_counter {
    long usage;
    unsigned char _pad[56];
} gb_page_counter;

#define GB_MEMCG_MAX_LEVELS 32

/* The memory cgroup the region is charged to, as its uncharge sees it. `levels` page counters:
 * the memcg's own and each ancestor's up to and including root's (page_counter_uncharge() walks
 * c->parent until NULL); 0 when the process is in the root memcg, whose folios charge no
 * counter (try_charge() returns early for root, uncharge_folio() adds no pages for it). On
 * cgroup v1 each level also has a memsw counter (do_memsw_account()). */
typedef struct gb_memcg {
    gb_page_counter memory[GB_MEMCG_MAX_LEVELS];
    gb_page_counter memsw[GB_MEMCG_MAX_LEVELS];
    int levels;
    int memsw_on;
} gb_memcg;

/* Where the free path makes the kernel's out-of-line calls. The kernel's free path is a chain of
 * real functions (and, in the running kernel's build, of static ones it did not inline); each
 * such call and its return costs what a call costs in the run's mitigation mode (every return
 * through the Safe-RET thunk on an SRSO-mitigated AMD host). The model's work is inline; at each
 * of these places it makes as many out-of-line calls (gb_k_empty_call) as the running kernel
 * does there: FreePathCalls.swift names the kernel functions behind each count and keeps those
 * the running kernel has as text symbols (/proc/kallsyms). */
typedef enum gb_free_call_site {
    GB_FC_FOLIO_PUT = 0,    /* __folio_put(), per folio it frees */
    GB_FC_RELEASE_BATCH,    /* folios_put_refs(), per batch of release_pages() */
    GB_FC_LRU_LOCK,         /* each lruvec lock taken (folio_lruvec_lock_irqsave()) */
    GB_FC_LRU_UNLOCK,       /* each lruvec lock dropped */
    GB_FC_LRU_DEL,          /* each folio off the LRU: the LRU size statistics (update_lru_size()) */
    GB_FC_UNCHARGE_ONE,     /* __mem_cgroup_uncharge(): one folio (__folio_put()) */
    GB_FC_UNCHARGE_FOLIOS,  /* __mem_cgroup_uncharge_folios(): a batch (folios_put_refs()) */
    GB_FC_UNCHARGE_GATHER,  /* the first folio of a gather: css_get() */
    GB_FC_UNCHARGE_FOLIO,   /* each folio uncharged: uncharge_folio(), css_put() */
    GB_FC_UNCHARGE_BATCH,   /* each uncharge_batch(): the page counters, level by level, and v1 events */
    GB_FC_FREE_ONE,         /* free_frozen_pages(): one folio */
    GB_FC_FREE_BATCH,       /* free_unref_folios(): a batch */
    GB_FC_PREPARE,          /* free_pages_prepare(), per folio */
    GB_FC_TAIL,             /* free_tail_page_prepare(), per tail page of a large folio */
    GB_FC_PCP_LOCK,         /* each pcp lock taken (spin_trylock()) */
    GB_FC_PCP_UNLOCK,       /* each pcp lock dropped */
    GB_FC_COMMIT,           /* free_frozen_page_commit(), per folio onto a pcp list */
    GB_FC_SPILL,            /* each free_pcppages_bulk(): the zone lock taken and dropped */
    GB_FC_SPILL_FOLIO,      /* each folio it moves: __free_one_page(), the NR_FREE_PAGES update */
    GB_FC_ZONE_FREE,        /* free_one_page(): an order the pcp does not take, to the zone */
    GB_FC_SITES
} gb_free_call_site;

/* What one thread's release path needs: the lruvecs, the zone, its own pcp. */
typedef struct gb_free_ctx {
    gb_lruvec *_Nonnull lruvecs;
    gb_zone *_Nonnull zone;
    gb_pcp *_Nonnull pcp;
    gb_memcg *_Nullable memcg; /* NULL: memory cgroups off (mem_cgroup_disabled()) */
    /* Out-of-line calls per site (gb_free_call_site), the model's (gb_free_model_set_calls). */
    const unsigned char *_Nonnull calls;
    /* Whether they return through the Safe-RET thunk: the run's mode, read at each rebuild. */
    int saferet;
} gb_free_ctx;

/* One out-of-line call and its return, nothing in it, in the two shapes the kernel's calls have
 * (gb_kcalls.c); the calls floor's calibration times the same two. */
void gb_k_empty_call(void);
void gb_k_empty_call_saferet(void);

/* The out-of-line calls the kernel makes at `site` (none when the model has none set). */
GB_INLINE void gb_free_calls(gb_free_ctx *_Nonnull c, gb_free_call_site site, gb_tally *_Nonnull t) {
    unsigned n = c->calls[site];
    if (!n)
        return;
    t->kernel_calls += n;
    if (c->saferet)
        for (unsigned i = 0; i < n; i++)
            gb_k_empty_call_saferet();
    else
        for (unsigned i = 0; i < n; i++)
            gb_k_empty_call();
}

/* ---- spinlock: test-and-test-and-set ---- */

/* kernel: spin_lock() — xchg to take it; while held, spin on a plain read with PAUSE so the
 * line stays shared until it is released. Returns whether it had to wait. */
GB_INLINE bool gb_spin_lock(gb_spinlock *_Nonnull l) {
    if (!atomic_exchange_explicit(GB_ATOMIC(int, l->locked), 1, memory_order_acquire))
        return false;
    do {
        while (atomic_load_explicit(GB_ATOMIC(int, l->locked), memory_order_relaxed))
            __builtin_ia32_pause();
    } while (atomic_exchange_explicit(GB_ATOMIC(int, l->locked), 1, memory_order_acquire));
    return true;
}

/* kernel: spin_unlock() — a release store (no LOCK prefix on x86). */
GB_INLINE void gb_spin_unlock(gb_spinlock *_Nonnull l) {
    atomic_store_explicit(GB_ATOMIC(int, l->locked), 0, memory_order_release);
}

/* ---- intrusive lists (kernel: include/linux/list.h) ---- */

GB_INLINE uintptr_t gb_lru_node(gb_page *_Nonnull p) { return (uintptr_t)p + 8; }
GB_INLINE gb_page *_Nonnull gb_node_page(uintptr_t node) { return (gb_page *)(node - 8); }
GB_INLINE uintptr_t gb_list_sentinel(gb_list_head *_Nonnull h) { return (uintptr_t)h; }

GB_INLINE uintptr_t gb_node_next(uintptr_t node) {
    return atomic_load_explicit((_Atomic(uintptr_t) *)node, memory_order_relaxed);
}
GB_INLINE uintptr_t gb_node_prev(uintptr_t node) {
    return atomic_load_explicit((_Atomic(uintptr_t) *)(node + sizeof(uintptr_t)), memory_order_relaxed);
}
GB_INLINE void gb_node_set_next(uintptr_t node, uintptr_t v) {
    atomic_store_explicit((_Atomic(uintptr_t) *)node, v, memory_order_relaxed);
}
GB_INLINE void gb_node_set_prev(uintptr_t node, uintptr_t v) {
    atomic_store_explicit((_Atomic(uintptr_t) *)(node + sizeof(uintptr_t)), v, memory_order_relaxed);
}

/* kernel: INIT_LIST_HEAD() */
GB_INLINE void gb_list_init(gb_list_head *_Nonnull h) {
    gb_node_set_next(gb_list_sentinel(h), gb_list_sentinel(h));
    gb_node_set_prev(gb_list_sentinel(h), gb_list_sentinel(h));
}

/* kernel: __list_add() */
GB_INLINE void gb__list_add(uintptr_t node, uintptr_t prev, uintptr_t next) {
    gb_node_set_prev(next, node);
    gb_node_set_next(node, next);
    gb_node_set_prev(node, prev);
    gb_node_set_next(prev, node);
}

/* kernel: list_add() — at the head. */
GB_INLINE void gb_list_add(uintptr_t node, gb_list_head *_Nonnull h) {
    uintptr_t s = gb_list_sentinel(h);
    gb__list_add(node, s, gb_node_next(s));
}

/* kernel: list_add_tail() */
GB_INLINE void gb_list_add_tail(uintptr_t node, gb_list_head *_Nonnull h) {
    uintptr_t s = gb_list_sentinel(h);
    gb__list_add(node, gb_node_prev(s), s);
}

/* kernel: list_del() — unlinks; the node's own words keep stale values (the kernel poisons them;
 * here they must stay even so the head still reads as a head, so they are left as they were). */
GB_INLINE void gb_list_del(uintptr_t node) {
    uintptr_t prev = gb_node_prev(node), next = gb_node_next(node);
    gb_node_set_prev(next, prev);
    gb_node_set_next(prev, next);
}

GB_INLINE bool gb_list_empty(gb_list_head *_Nonnull h) {
    return gb_node_next(gb_list_sentinel(h)) == gb_list_sentinel(h);
}

/* ---- the lruvec side (mm/swap.c, include/linux/memcontrol.h, include/linux/mm_inline.h) ---- */

/* kernel: folio_lruvec() — the node's lruvec, from the node bits of the folio's flags. */
GB_INLINE gb_lruvec *_Nonnull gb_folio_lruvec(gb_page *_Nonnull folio, gb_free_ctx *_Nonnull c) {
    return &c->lruvecs[(gb_flags_read_relaxed(folio) >> GB_LRUVEC_SHIFT) & GB_LRUVEC_MASK];
}

/* kernel: unlock_page_lruvec_irqrestore() */
GB_INLINE void gb_lruvec_unlock(gb_lruvec *_Nonnull lruvec, gb_free_ctx *_Nonnull c, gb_tally *_Nonnull t) {
    gb_free_calls(c, GB_FC_LRU_UNLOCK, t);
    gb_spin_unlock(&lruvec->lru_lock);
}

/* kernel: folio_lruvec_relock_irqsave() — keep the lock held when the folio's lruvec is the one
 * already locked, otherwise drop it and take the folio's. */
GB_INLINE gb_lruvec *_Nonnull gb_folio_lruvec_relock(gb_page *_Nonnull folio, gb_lruvec *_Nullable locked,
                                                     gb_free_ctx *_Nonnull c, gb_tally *_Nonnull t) {
    gb_lruvec *lruvec = gb_folio_lruvec(folio, c);
    if (lruvec == locked)
        return lruvec;
    if (locked)
        gb_lruvec_unlock(locked, c, t);
    gb_free_calls(c, GB_FC_LRU_LOCK, t);
    c->pcp->counts.waits += gb_spin_lock(&lruvec->lru_lock);
    c->pcp->counts.lruvec++;
    return lruvec;
}

/* kernel: lruvec_del_folio() — off the list, the lruvec's page count down. Under lru_lock. */
GB_INLINE void gb_lruvec_del_folio(gb_lruvec *_Nonnull lruvec, gb_page *_Nonnull folio) {
    gb_list_del(gb_lru_node(folio));
    lruvec->nr_folios--;
    lruvec->nr_pages -= gb_folio_nr_pages(folio);
}

/* kernel: lruvec_add_folio() — at the head of the list. Under lru_lock. */
GB_INLINE void gb_lruvec_add_folio(gb_lruvec *_Nonnull lruvec, gb_page *_Nonnull folio) {
    gb_list_add(gb_lru_node(folio), &lruvec->list);
    lruvec->nr_folios++;
    lruvec->nr_pages += gb_folio_nr_pages(folio);
}

/* kernel: __page_cache_release() — a folio on the LRU leaves it under its lruvec's lock, which
 * stays held for the caller (the batch keeps it across folios of one lruvec). PG_lru is cleared
 * with a plain store: the refcount is zero, nobody else can see the folio (__folio_clear_lru_flags). */
GB_INLINE gb_lruvec *_Nullable gb_page_cache_release(gb_page *_Nonnull folio, gb_lruvec *_Nullable locked,
                                                     gb_free_ctx *_Nonnull c, gb_tally *_Nonnull t) {
    unsigned long flags = gb_flags_read_relaxed(folio);
    if (!((flags >> GB_PG_lru) & 1UL))
        return locked;
    locked = gb_folio_lruvec_relock(folio, locked, c, t);
    gb_lruvec_del_folio(locked, folio);
    gb_free_calls(c, GB_FC_LRU_DEL, t);
    atomic_store_explicit(GB_ATOMIC(unsigned long, folio->flags), flags & ~(1UL << GB_PG_lru),
                          memory_order_relaxed);
    return locked;
}

/* ---- the memory cgroup's uncharge (mm/memcontrol.c, mm/page_counter.c, mm/memcontrol-v1.c) ---- */

/* kernel: folio->memcg_data — on the head, the word at offset 56 (page[1] keeps _nr_pages there). */
GB_INLINE unsigned long gb_folio_memcg_data(gb_page *_Nonnull folio) {
    return (unsigned long)atomic_load_explicit(GB_ATOMIC(unsigned int, folio->nr_pages), memory_order_relaxed) |
           (unsigned long)atomic_load_explicit(GB_ATOMIC(unsigned int, folio->memcg_data_hi), memory_order_relaxed)
               << 32;
}
GB_INLINE void gb_folio_set_memcg_data(gb_page *_Nonnull folio, unsigned long v) {
    atomic_store_explicit(GB_ATOMIC(unsigned int, folio->nr_pages), (unsigned int)v, memory_order_relaxed);
    atomic_store_explicit(GB_ATOMIC(unsigned int, folio->memcg_data_hi), (unsigned int)(v >> 32),
                          memory_order_relaxed);
}

/* kernel: struct uncharge_gather — the pages and page events of a run of folios of one memcg. */
typedef struct gb_uncharge_gather {
    long nr_memory;
    long pgpgout;
    bool started; /* ug->memcg set: the css reference taken */
} gb_uncharge_gather;

/* kernel: uncharge_folio() — every folio of the region is charged to the one memcg, so only the
 * first of a gather takes the css reference; the pages count unless the memcg is root; the
 * folio's memcg_data is cleared; css_put(). The css operations are per-CPU adds (percpu_ref in
 * percpu mode), no LOCK prefix. */
GB_INLINE void gb_uncharge_folio(gb_page *_Nonnull folio, gb_uncharge_gather *_Nonnull ug,
                                 gb_free_ctx *_Nonnull c, gb_tally *_Nonnull t) {
    gb_free_calls(c, GB_FC_UNCHARGE_FOLIO, t);
    if (!ug->started) {
        gb_free_calls(c, GB_FC_UNCHARGE_GATHER, t);
        ug->started = true;
        c->pcp->css_ref++; /* css_get(), paired with uncharge_batch()'s css_put() */
    }
    if (c->memcg->levels > 0) /* "LRU pages aren't accounted at the root level" */
        ug->nr_memory += gb_folio_nr_pages(folio);
    ug->pgpgout++;
    gb_folio_set_memcg_data(folio, 0);
    c->pcp->css_ref--; /* css_put() */
    c->pcp->counts.memcg_folios++;
}

/* kernel: page_counter_uncharge() — page_counter_cancel() on each level up to root: one
 * atomic_long_sub_return() (`lock xadd`) each. No memory.min/low protection to propagate: v1
 * counters have none, and the model's v2 memcg none set. */
GB_INLINE void gb_page_counter_uncharge(gb_page_counter *_Nonnull counters, int levels, long nr,
                                        gb_tally *_Nonnull t) {
    for (int l = 0; l < levels; l++)
        atomic_fetch_sub_explicit(GB_ATOMIC(long, counters[l].usage), nr, memory_order_seq_cst);
    t->atomics += (uint64_t)levels;
}

/* kernel: uncharge_batch() — memcg_uncharge() (the memory counters, and memsw on v1), then
 * memcg1_uncharge_batch()'s per-CPU page events (with interrupts off in the kernel), and the
 * css_put() for uncharge_folio()'s css_get(). */
GB_INLINE void gb_uncharge_batch(const gb_uncharge_gather *_Nonnull ug, gb_free_ctx *_Nonnull c,
                                 gb_tally *_Nonnull t) {
    gb_memcg *m = c->memcg;
    gb_free_calls(c, GB_FC_UNCHARGE_BATCH, t);
    if (ug->nr_memory) {
        gb_page_counter_uncharge(m->memory, m->levels, ug->nr_memory, t);
        if (m->memsw_on)
            gb_page_counter_uncharge(m->memsw, m->levels, ug->nr_memory, t);
    }
    c->pcp->memcg_events += ug->pgpgout + ug->nr_memory; /* PGPGOUT, nr_page_events */
    c->pcp->css_ref--;
    c->pcp->counts.memcg_batches++;
}

/* kernel: mem_cgroup_uncharge() -> __mem_cgroup_uncharge() — one folio, one batch of its own
 * (__folio_put()); nothing when memcgs are off or the folio is not charged. */
GB_INLINE void gb_mem_cgroup_uncharge(gb_page *_Nonnull folio, gb_free_ctx *_Nonnull c, gb_tally *_Nonnull t) {
    if (!c->memcg || !gb_folio_memcg_data(folio))
        return;
    gb_free_calls(c, GB_FC_UNCHARGE_ONE, t);
    gb_uncharge_gather ug = {0, 0, false};
    gb_uncharge_folio(folio, &ug, c, t);
    gb_uncharge_batch(&ug, c, t);
}

/* kernel: mem_cgroup_uncharge_folios() — a batch's freed folios gathered: the counters
 * subtracted once for the run of one memcg (folios_put_refs()). */
GB_INLINE void gb_mem_cgroup_uncharge_folios(gb_page *_Nullable const *_Nonnull folios, unsigned nr,
                                             gb_free_ctx *_Nonnull c, gb_tally *_Nonnull t) {
    if (!c->memcg)
        return;
    gb_free_calls(c, GB_FC_UNCHARGE_FOLIOS, t);
    gb_uncharge_gather ug = {0, 0, false};
    for (unsigned i = 0; i < nr; i++)
        if (gb_folio_memcg_data(folios[i])) /* kernel: folio_memcg() NULL: skipped */
            gb_uncharge_folio(folios[i], &ug, c, t);
    if (ug.started)
        gb_uncharge_batch(&ug, c, t);
}

/* ---- the free side (mm/page_alloc.c) ---- */

/* kernel: pcp_allowed_order() — orders up to PAGE_ALLOC_COSTLY_ORDER, and the PMD order with THP. */
GB_INLINE bool gb_pcp_allowed_order(unsigned order) {
    return order <= GB_PAGE_ALLOC_COSTLY_ORDER || order == GB_HPAGE_PMD_ORDER;
}

/* kernel: free_pages_prepare()'s walk of a large folio's tails, which runs whether or not page
 * checks are on: free_tail_page_prepare() sets each tail's `mapping` (offset 24) to NULL and
 * clears its compound_head, and each tail's flags lose PAGE_FLAGS_CHECK_AT_PREP; page[1] loses
 * PAGE_FLAGS_SECOND (the order) and _nr_pages first. Every tail descriptor's line is read and
 * written: 511 for a THP. The model writes each word back as the next repetition needs it
 * (compound_head = head | 1, page[1]'s order, _nr_pages and the counts at 24-31) where the kernel
 * clears it: the same lines dirtied, the folio's shape kept for the audit and the next rebuild. */
GB_INLINE void gb_free_tail_pages_prepare(gb_page *_Nonnull folio, long nr, gb_free_ctx *_Nonnull c,
                                         gb_tally *_Nonnull t) {
    for (long i = 1; i < nr; i++) {
        gb_page *p = folio + i;
        gb_free_calls(c, GB_FC_TAIL, t);
        atomic_store_explicit(GB_ATOMIC(unsigned long, p->flags), gb_flags_read_relaxed(p), memory_order_relaxed);
        atomic_store_explicit(GB_ATOMIC(int, p->entire_mapcount),
                              atomic_load_explicit(GB_ATOMIC(int, p->entire_mapcount), memory_order_relaxed),
                              memory_order_relaxed);
        atomic_store_explicit(GB_ATOMIC(int, p->pincount), gb_pincount_read_relaxed(p), memory_order_relaxed);
        atomic_store_explicit(GB_ATOMIC(uintptr_t, p->compound_head), (uintptr_t)folio | 1, memory_order_relaxed);
    }
}

/* kernel: free_pages_prepare() — the tail walk above, and page_expected_state()'s check, the part
 * that applies here: a folio going to a free list must have _refcount 0 and must not be on an LRU
 * (bad_page()). */
GB_INLINE void gb_free_pages_prepare(gb_page *_Nonnull folio, gb_free_ctx *_Nonnull c, gb_tally *_Nonnull t) {
    long nr = gb_folio_nr_pages(folio);
    gb_free_calls(c, GB_FC_PREPARE, t);
    gb_free_tail_pages_prepare(folio, nr, c, t);
    bool bad = gb_ref_read_relaxed(folio) != 0 || ((gb_flags_read_relaxed(folio) >> GB_PG_lru) & 1UL);
    c->pcp->counts.bad_frees += bad;
    c->pcp->counts.folios_freed++;
    c->pcp->counts.pages_freed += (uint64_t)nr;
    c->pcp->counts.tails_prepared += (uint64_t)(nr - 1);
}

/* kernel: free_pcppages_bulk() — move `count` pages, oldest first (the list's tail), from the pcp
 * list to the zone's free list under zone->lock. Called with the pcp lock held. */
GB_INLINE void gb_free_pcppages_bulk(gb_free_ctx *_Nonnull c, long count, gb_tally *_Nonnull t) {
    gb_zone *zone = c->zone;
    gb_pcp *pcp = c->pcp;
    gb_free_calls(c, GB_FC_SPILL, t);
    pcp->counts.waits += gb_spin_lock(&zone->lock);
    pcp->counts.zone++;
    pcp->counts.spills++;
    uintptr_t s = gb_list_sentinel(&pcp->list);
    while (count > 0 && pcp->count > 0) {
        uintptr_t node = gb_node_prev(s);
        if (node == s)
            break;
        gb_page *folio = gb_node_page(node);
        long nr = gb_folio_nr_pages(folio);
        gb_free_calls(c, GB_FC_SPILL_FOLIO, t);
        gb_list_del(node);
        pcp->count -= nr;
        pcp->nr_folios--;
        gb_list_add(node, &zone->free_list); /* kernel: __free_one_page() */
        zone->nr_folios++;
        zone->nr_pages += nr;
        count -= nr;
    }
    gb_spin_unlock(&zone->lock);
}

/* kernel: nr_pcp_free() — how much one spill frees: the run of consecutive frees, at least
 * `batch`, leaving at least `batch` pages on the list. */
GB_INLINE long gb_nr_pcp_free(gb_pcp *_Nonnull pcp) {
    if (pcp->high < pcp->batch)
        return 1;
    long lo = pcp->batch, hi = pcp->high - pcp->batch;
    long n = pcp->free_count;
    return n < lo ? lo : (n > hi ? hi : n);
}

/* kernel: free_frozen_page_commit() — onto the pcp list (under the pcp lock); at the high-water
 * mark spill to the zone. The kernel's dynamic pcp->high tuning is left out: `high` is fixed. */
GB_INLINE void gb_free_frozen_page_commit(gb_free_ctx *_Nonnull c, gb_page *_Nonnull folio, gb_tally *_Nonnull t) {
    gb_pcp *pcp = c->pcp;
    long nr = gb_folio_nr_pages(folio);
    gb_free_calls(c, GB_FC_COMMIT, t);
    gb_list_add(gb_lru_node(folio), &pcp->list);
    pcp->count += nr;
    pcp->nr_folios++;
    if (pcp->free_count < (pcp->batch << 5)) /* CONFIG_PCP_BATCH_SCALE_MAX = 5 */
        pcp->free_count += nr;
    if (pcp->count >= pcp->high)
        gb_free_pcppages_bulk(c, gb_nr_pcp_free(pcp), t);
}

/* kernel: free_one_page() — straight to the zone under zone->lock (orders the pcp does not take). */
GB_INLINE void gb_free_one_page(gb_zone *_Nonnull zone, gb_page *_Nonnull folio, gb_free_ctx *_Nonnull c,
                                gb_tally *_Nonnull t) {
    gb_free_calls(c, GB_FC_ZONE_FREE, t);
    c->pcp->counts.waits += gb_spin_lock(&zone->lock);
    c->pcp->counts.zone++;
    gb_list_add(gb_lru_node(folio), &zone->free_list);
    zone->nr_folios++;
    zone->nr_pages += gb_folio_nr_pages(folio);
    gb_spin_unlock(&zone->lock);
}

/* kernel: free_frozen_pages() / __free_frozen_pages() — one folio: pcp lock, commit, unlock. */
GB_INLINE void gb_free_frozen_pages(gb_page *_Nonnull folio, gb_free_ctx *_Nonnull c, gb_tally *_Nonnull t) {
    gb_free_calls(c, GB_FC_FREE_ONE, t);
    gb_free_pages_prepare(folio, c, t);
    if (!gb_pcp_allowed_order(gb_folio_order(folio))) {
        gb_free_one_page(c->zone, folio, c, t);
        return;
    }
    gb_free_calls(c, GB_FC_PCP_LOCK, t);
    c->pcp->counts.waits += gb_spin_lock(&c->pcp->lock);
    c->pcp->counts.pcp++;
    gb_free_frozen_page_commit(c, folio, t);
    gb_free_calls(c, GB_FC_PCP_UNLOCK, t);
    gb_spin_unlock(&c->pcp->lock);
}

/* kernel: __folio_put() — the last reference is gone: page_cache_release() (lruvec lock taken
 * and dropped for this one folio), mem_cgroup_uncharge() (the page counters for this one
 * folio), then free_frozen_pages(). */
GB_INLINE void gb__folio_put(gb_page *_Nonnull folio, gb_free_ctx *_Nonnull c, gb_tally *_Nonnull t) {
    gb_free_calls(c, GB_FC_FOLIO_PUT, t);
    gb_lruvec *locked = gb_page_cache_release(folio, NULL, c, t);
    if (locked)
        gb_lruvec_unlock(locked, c, t);
    gb_mem_cgroup_uncharge(folio, c, t);
    gb_free_frozen_pages(folio, c, t);
}

/* kernel: folio_put_refs() — folio_ref_sub_and_test() (`lock sub`, a branch on its flags), and
 * __folio_put() when _refcount reached exactly 0. gb_folio_put_refs() (gb_page.h) with the free
 * added: the events of a release at or below zero are noted the same way. A NULL context
 * (reference-drop mode) frees nothing. Returns whether _refcount went below zero. */
GB_INLINE bool gb_folio_put_refs_last(gb_page *_Nonnull folio, int refs, gb_free_ctx *_Nullable c,
                                      gb_tally *_Nonnull t) {
    gb_put_outcome o = gb_folio_put_refs_outcome(folio, refs, t);
    if (o == GB_PUT_FREED && c)
        gb__folio_put(folio, c, t);
    return o == GB_PUT_NEGATIVE;
}

/* kernel: gup_put_folio() — as gb_gup_put_folio() (gb_page.h), ending in the folio_put_refs()
 * that frees at the last reference. */
GB_INLINE gb_put_result gb_gup_put_folio_last(gb_page *_Nonnull folio, int refs, gb_foll flags,
                                              gb_free_ctx *_Nullable c, gb_tally *_Nonnull t) {
    gb_put_result r = {false, false};
    if (flags == GB_FOLL_PIN) {
        t->pins_released += (uint64_t)refs; /* kernel: NR_FOLL_PIN_RELEASED */
        if (gb_folio_has_pincount(folio))
            r.pincount_negative = gb_pincount_sub(folio + 1, refs, t);
        else
            refs *= GB_PIN_COUNTING_BIAS;
    } else {
        t->refs_released += (uint64_t)refs;
    }
    r.refcount_negative = gb_folio_put_refs_last(folio, refs, c, t);
    return r;
}

/* kernel: struct folio_batch — up to 31 folios, with release_pages()'s refs[] beside them. */
typedef struct gb_folio_batch {
    unsigned nr;
    int refs[GB_FOLIO_BATCH_SIZE];
    gb_page *_Nullable folios[GB_FOLIO_BATCH_SIZE];
} gb_folio_batch;

/* kernel: free_unref_folios() — the freed folios of a batch: the pcp lock taken once (one zone),
 * each committed under it; orders the pcp does not take go to the zone one by one. */
GB_INLINE void gb_free_unref_folios(gb_folio_batch *_Nonnull fb, gb_free_ctx *_Nonnull c, gb_tally *_Nonnull t) {
    bool locked = false;
    gb_free_calls(c, GB_FC_FREE_BATCH, t);
    for (unsigned i = 0; i < fb->nr; i++) {
        gb_page *folio = fb->folios[i];
        gb_free_pages_prepare(folio, c, t);
        if (!gb_pcp_allowed_order(gb_folio_order(folio))) {
            gb_free_one_page(c->zone, folio, c, t);
            continue;
        }
        if (!locked) {
            gb_free_calls(c, GB_FC_PCP_LOCK, t);
            c->pcp->counts.waits += gb_spin_lock(&c->pcp->lock);
            c->pcp->counts.pcp++;
            locked = true;
        }
        gb_free_frozen_page_commit(c, folio, t);
    }
    if (locked) {
        gb_free_calls(c, GB_FC_PCP_UNLOCK, t);
        gb_spin_unlock(&c->pcp->lock);
    }
    fb->nr = 0;
}

/* kernel: folios_put_refs() — one folio_ref_sub_and_test() per folio; each folio that reached
 * zero leaves the LRU with the lruvec lock kept across consecutive folios of one lruvec, then the
 * batch is uncharged (mem_cgroup_uncharge_folios()) and freed together. With a NULL context nothing is freed (the reference drop only). */
GB_INLINE void gb_folios_put_refs(gb_folio_batch *_Nonnull fb, gb_free_ctx *_Nullable c,
                                  gb_tally *_Nonnull t) {
    unsigned j = 0;
    gb_lruvec *locked = NULL;
    if (c)
        gb_free_calls(c, GB_FC_RELEASE_BATCH, t);
    for (unsigned i = 0; i < fb->nr; i++) {
        gb_page *folio = fb->folios[i];
        gb_put_outcome o = gb_folio_put_refs_outcome(folio, fb->refs[i], t);
        if (__builtin_expect(o == GB_PUT_HELD, 1))
            continue;
        t->underflows += o == GB_PUT_NEGATIVE; /* the check --detect underflow makes, from the same flags */
        if (o != GB_PUT_FREED || !c)
            continue;
        locked = gb_page_cache_release(folio, locked, c, t);
        fb->folios[j++] = folio;
    }
    if (locked)
        gb_lruvec_unlock(locked, c, t);
    fb->nr = j;
    if (j) {
        gb_mem_cgroup_uncharge_folios(fb->folios, j, c, t);
        gb_free_unref_folios(fb, c, t);
    }
    fb->nr = 0;
}

/* kernel: folio_batch_add() — returns the space left (0 = full, time to flush). */
GB_INLINE unsigned gb_folio_batch_add(gb_folio_batch *_Nonnull fb, gb_page *_Nonnull folio, int refs) {
    fb->refs[fb->nr] = refs;
    fb->folios[fb->nr++] = folio;
    return GB_FOLIO_BATCH_SIZE - fb->nr;
}

/* kernel: release_pages() — a batched put_page() over an array of pages: each entry's folio goes
 * into the batch with one reference; a full batch (31) is put with folios_put_refs(). */
GB_INLINE void gb_release_pages(gb_page *_Nonnull const *_Nonnull pages, long nr,
                                gb_free_ctx *_Nullable c, gb_tally *_Nonnull t) {
    gb_folio_batch fb;
    fb.nr = 0;
    for (long i = 0; i < nr; i++) {
        t->refs_released++;
        if (gb_folio_batch_add(&fb, gb_compound_head(pages[i]), 1) > 0)
            continue;
        gb_folios_put_refs(&fb, c, t);
    }
    if (fb.nr)
        gb_folios_put_refs(&fb, c, t);
}

/* ---- the model's state, set up and checked outside the timed window (gb_free.c) ---- */

typedef struct gb_free_model {
    gb_page *_Nonnull memmap;
    size_t npages;
    int nr_lruvecs;
    int nr_pcps;
    gb_lruvec *_Nonnull lruvecs;
    gb_zone *_Nonnull zone;
    gb_pcp *_Nonnull pcps;
    gb_free_ctx *_Nonnull ctxs;     /* one per pcp */
    gb_memcg *_Nullable memcg;      /* NULL: no memory cgroup uncharge */
    /* NULL: every folio of the memmap is the run's. Otherwise one byte per descriptor, 1 at the
     * head of each folio the run's page array names: a frame-spaced memmap (`--layout pfn`) has
     * descriptors of other memory between them, which no release reaches and nothing frees. */
    unsigned char *_Nullable members;
    /* Out-of-line calls per gb_free_call_site (all 0 until gb_free_model_set_calls). */
    unsigned char calls[GB_FC_SITES];
} gb_free_model;

/* Allocate the model for a memmap: `nr_lruvecs` lruvecs (>= 1), one pcp per worker thread with
 * the given high-water mark and batch (kernel: pcp->high, pcp->batch), and the memory cgroup
 * the frees uncharge: `memcg_levels` page counters (0: the root memcg; -1: memcgs off) with a
 * memsw counter each when `memcg_memsw` (cgroup v1). NULL on bad input or no memory. */
gb_free_model *_Nullable gb_free_model_create(gb_page *_Nonnull memmap, size_t npages, int nr_lruvecs,
                                              int nr_pcps, long high, long batch, int memcg_levels,
                                              int memcg_memsw);
void gb_free_model_destroy(gb_free_model *_Nonnull m);

/* Only the folios holding one of `indexes[0..n)` (descriptor indexes of the memmap) are the run's:
 * rebuild, restore and the audit leave every other descriptor alone. 0, or -ENOMEM. */
int gb_free_model_set_members(gb_free_model *_Nonnull m, const long *_Nonnull indexes, long n);

/* The out-of-line calls the free path makes at each site (gb_free_call_site): `n` counts, the
 * rest 0. Takes effect for every worker. */
void gb_free_model_set_calls(gb_free_model *_Nonnull m, const unsigned char *_Nonnull counts, int n);

/* The context worker `thread` releases with. */
gb_free_ctx *_Nonnull gb_free_model_ctx(gb_free_model *_Nonnull m, int thread);

/* The state before a timed last-reference release, as the page-fault path leaves it: every folio
 * allocated (off the free lists), _refcount 1 (the mapping's reference), mapped once (the
 * mapcounts gb_memmap_init_folios sets), _pincount 0, PG_lru set
 * and on its lruvec's list (kernel: folio_add_lru() after the batch drains). Folio f (in memmap
 * order) goes to lruvec (f / lruvec_run) % nr_lruvecs; with a memcg, each folio charged to it
 * (memcg_data set, every page counter's usage the run's pages). Lock counts and pcp state are
 * reset. */
void gb_free_model_rebuild(gb_free_model *_Nonnull m, long lruvec_run);

/* Back to the baseline the reference-drop mode expects (gb_memmap_audit): every folio off every
 * list, _refcount 1, PG_lru clear, the head's link words zero; lists emptied. */
void gb_free_model_restore(gb_free_model *_Nonnull m);

/* The untimed unmap (munmap while the pages are still held): gb_folio_unmap() — mapcounts to
 * "unmapped", then the mapping's reference dropped — by the worker whose share holds a folio's
 * head, after it grabbed its own references, so _refcount never reaches 0 here. */
void gb_drop_mapping_refs(gb_page *_Nonnull const *_Nonnull pages, long npages, gb_tally *_Nonnull t);

/* The sum of every pcp's lock counts. */
gb_lock_counts gb_free_model_counts(gb_free_model *_Nonnull m);

/* What the audit found after a last-reference release. */
typedef struct gb_free_audit {
    long folios;              /* folios in the memmap */
    long freed_folios;        /* distinct folios found on a free list */
    long on_pcp;              /* folios on pcp lists */
    long on_zone;             /* folios on the zone's free list */
    long on_lru;              /* folios still on an LRU list or with PG_lru */
    long double_freed;        /* folios linked into the free lists more than once */
    long leaked;              /* folios on no free list (never freed, or lost) */
    long not_zero;            /* folios on a free list whose _refcount is not 0 */
    long broken_lists;        /* lists whose prev/next do not agree or never end */
    long count_mismatch;      /* list counters that disagree with what the walk found */
    long first_double_index;  /* memmap index of the first such folio, -1 if none */
    long first_leak_index;
    int first_leak_refcount;
    int first_leak_on_lru;
    long first_lru_index;
    long first_not_zero_index;
} gb_free_audit;

/* Walks every list (bounded, so a corrupt list cannot hang it) and every folio. */
void gb_free_model_audit(gb_free_model *_Nonnull m, gb_free_audit *_Nonnull out);

/* Indexes (in memmap order of the walk) of the folios on pcp `thread`'s list, head first, or on
 * the zone's list when thread < 0; returns how many, writing at most `max`. */
long gb_free_model_list(gb_free_model *_Nonnull m, int thread, long *_Nonnull out, long max);

#endif /* GB_FREE_H */
