/* gb_free.c — the last-reference model's state: built before, audited after, every timed release
 * (see gb_free.h). Nothing here runs inside a timed window except through the inline primitives. */
#define _GNU_SOURCE
#include "gb_free.h"
#include "gb_kcalls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void *zalloc_lines(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p)
        memset(p, 0, rounded ? rounded : 64);
    return p;
}

gb_free_model *gb_free_model_create(gb_page *memmap, size_t npages, int nr_lruvecs, int nr_pcps,
                                    long high, long batch, int memcg_levels, int memcg_memsw) {
    if (nr_lruvecs < 1 || nr_lruvecs > (int)GB_LRUVEC_MASK + 1 || nr_pcps < 1 || high < 1 || batch < 1 ||
        memcg_levels > GB_MEMCG_MAX_LEVELS)
        return NULL;
    gb_free_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->memmap = memmap;
    m->npages = npages;
    m->nr_lruvecs = nr_lruvecs;
    m->nr_pcps = nr_pcps;
    m->lruvecs = zalloc_lines(sizeof(gb_lruvec) * (size_t)nr_lruvecs);
    m->zone = zalloc_lines(sizeof(gb_zone));
    m->pcps = zalloc_lines(sizeof(gb_pcp) * (size_t)nr_pcps);
    m->ctxs = calloc((size_t)nr_pcps, sizeof(gb_free_ctx));
    if (memcg_levels >= 0) {
        m->memcg = zalloc_lines(sizeof(gb_memcg));
        if (m->memcg) {
            m->memcg->levels = memcg_levels;
            m->memcg->memsw_on = memcg_memsw != 0;
        }
    }
    if (!m->lruvecs || !m->zone || !m->pcps || !m->ctxs || (memcg_levels >= 0 && !m->memcg)) {
        gb_free_model_destroy(m);
        return NULL;
    }
    for (int i = 0; i < nr_lruvecs; i++)
        gb_list_init(&m->lruvecs[i].list);
    gb_list_init(&m->zone->free_list);
    for (int t = 0; t < nr_pcps; t++) {
        gb_list_init(&m->pcps[t].list);
        m->pcps[t].high = high;
        m->pcps[t].batch = batch;
        m->ctxs[t] = (gb_free_ctx){m->lruvecs, m->zone, &m->pcps[t], m->memcg, m->calls, 0};
    }
    return m;
}

void gb_free_model_destroy(gb_free_model *m) {
    free(m->members);
    free(m->memcg);
    free(m->lruvecs);
    free(m->zone);
    free(m->pcps);
    free(m->ctxs);
    free(m);
}

gb_free_ctx *gb_free_model_ctx(gb_free_model *m, int thread) { return &m->ctxs[thread]; }

void gb_free_model_set_calls(gb_free_model *m, const unsigned char *counts, int n) {
    for (int site = 0; site < GB_FC_SITES; site++)
        m->calls[site] = site < n ? counts[site] : 0;
}

int gb_free_model_set_members(gb_free_model *m, const long *indexes, long n) {
    unsigned char *members = calloc(m->npages ? m->npages : 1, 1);
    if (!members)
        return -ENOMEM;
    for (long k = 0; k < n; k++)
        if (indexes[k] >= 0 && (size_t)indexes[k] < m->npages)
            members[gb_compound_head(m->memmap + indexes[k]) - m->memmap] = 1;
    free(m->members);
    m->members = members;
    return 0;
}

/* Whether the folio at descriptor `i` is the run's (gb_free_model_set_members). */
static bool is_member(const gb_free_model *m, size_t i) { return !m->members || m->members[i]; }

static void reset_lists(gb_free_model *m) {
    for (int i = 0; i < m->nr_lruvecs; i++) {
        gb_lruvec *l = &m->lruvecs[i];
        gb_list_init(&l->list);
        l->nr_folios = l->nr_pages = 0;
        l->lru_lock.locked = 0;
    }
    gb_list_init(&m->zone->free_list);
    m->zone->nr_folios = m->zone->nr_pages = 0;
    m->zone->lock.locked = 0;
    for (int t = 0; t < m->nr_pcps; t++) {
        gb_pcp *p = &m->pcps[t];
        gb_list_init(&p->list);
        p->count = p->nr_folios = p->free_count = 0;
        p->lock.locked = 0;
        memset(&p->counts, 0, sizeof p->counts);
        p->css_ref = p->memcg_events = 0;
    }
}

static void set_link_words(gb_page *head, uintptr_t next, uintptr_t prev) {
    gb_node_set_next(gb_lru_node(head), next);
    gb_node_set_prev(gb_lru_node(head), prev);
}

/* Mapped once, as gb_memmap_init_folios leaves a folio: one PTE (order 0) or one PMD. */
static void map_once(gb_page *folio, long nr) {
    if (nr > 1) {
        atomic_store_explicit(GB_ATOMIC(int, folio[1].pincount), 0, memory_order_relaxed);
        atomic_store_explicit(GB_ATOMIC(int, folio[1].large_mapcount), 0, memory_order_relaxed);
        atomic_store_explicit(GB_ATOMIC(int, folio[1].entire_mapcount), 0, memory_order_relaxed);
    } else {
        atomic_store_explicit(GB_ATOMIC(int, folio->mapcount), 0, memory_order_relaxed);
    }
}

static unsigned long flags_without_lru_state(gb_page *folio) {
    unsigned long f = gb_flags_read_relaxed(folio);
    return f & ~(1UL << GB_PG_lru) & ~(GB_LRUVEC_MASK << GB_LRUVEC_SHIFT);
}

void gb_free_model_rebuild(gb_free_model *m, long lruvec_run) {
    reset_lists(m);
    int saferet = gb_mitigation_thunks_returns(gb_mitigations());
    for (int t = 0; t < m->nr_pcps; t++)
        m->ctxs[t].saferet = saferet;
    if (lruvec_run < 1)
        lruvec_run = 1;
    long f = 0, charged = 0;
    for (size_t i = 0; i < m->npages; f++) {
        gb_page *folio = m->memmap + i;
        long nr = gb_folio_nr_pages(folio);
        if (!is_member(m, i)) {
            i += (size_t)nr;
            f--;
            continue;
        }
        unsigned long lv = (unsigned long)((f / lruvec_run) % m->nr_lruvecs);
        atomic_store_explicit(GB_ATOMIC(int, folio->refcount), 1, memory_order_relaxed);
        map_once(folio, nr);
        atomic_store_explicit(GB_ATOMIC(unsigned long, folio->flags),
                              flags_without_lru_state(folio) | (1UL << GB_PG_lru) | (lv << GB_LRUVEC_SHIFT),
                              memory_order_relaxed);
        gb_lruvec *lruvec = &m->lruvecs[lv];
        gb_list_add_tail(gb_lru_node(folio), &lruvec->list); /* kernel: lruvec_add_folio() */
        lruvec->nr_folios++;
        lruvec->nr_pages += nr;
        if (m->memcg) /* kernel: commit_charge() — memcg_data names the memcg (any nonzero word here) */
            gb_folio_set_memcg_data(folio, 1);
        charged += nr;
        i += (size_t)nr;
    }
    if (m->memcg) /* kernel: try_charge_memcg() charged every level for the faulted pages */
        for (int l = 0; l < m->memcg->levels; l++)
            m->memcg->memory[l].usage = m->memcg->memsw[l].usage = charged;
}

void gb_free_model_restore(gb_free_model *m) {
    reset_lists(m);
    for (size_t i = 0; i < m->npages;) {
        gb_page *folio = m->memmap + i;
        long nr = gb_folio_nr_pages(folio);
        if (!is_member(m, i)) {
            i += (size_t)nr;
            continue;
        }
        atomic_store_explicit(GB_ATOMIC(int, folio->refcount), 1, memory_order_relaxed);
        map_once(folio, nr);
        atomic_store_explicit(GB_ATOMIC(unsigned long, folio->flags), flags_without_lru_state(folio),
                              memory_order_relaxed);
        set_link_words(folio, 0, 0);
        gb_folio_set_memcg_data(folio, 0);
        i += (size_t)nr;
    }
}

void gb_drop_mapping_refs(gb_page *const *pages, long npages, gb_tally *t) {
    for (long i = 0; i < npages; i++)
        if (!gb_page_tail(pages[i]))
            gb_folio_unmap(pages[i], t);
}


gb_lock_counts gb_free_model_counts(gb_free_model *m) {
    gb_lock_counts sum = {0};
    for (int t = 0; t < m->nr_pcps; t++) {
        gb_lock_counts c = m->pcps[t].counts;
        sum.lruvec += c.lruvec;
        sum.pcp += c.pcp;
        sum.zone += c.zone;
        sum.waits += c.waits;
        sum.folios_freed += c.folios_freed;
        sum.pages_freed += c.pages_freed;
        sum.bad_frees += c.bad_frees;
        sum.spills += c.spills;
        sum.memcg_batches += c.memcg_batches;
        sum.memcg_folios += c.memcg_folios;
        sum.tails_prepared += c.tails_prepared;
    }
    return sum;
}

/* Per-descriptor marks of the audit walk. */
enum { MARK_FREE_COUNT = 0x3f, MARK_ON_LRU = 0x40 };

/* Walks one list from its sentinel, at most `limit` steps. A node outside the memmap, on a tail,
 * or whose neighbours disagree breaks the list; a folio met a second time is a double free (the
 * walk stops there: a folio added twice usually links to itself). Returns the folios counted. */
static long walk(gb_free_model *m, gb_list_head *h, unsigned char *marks, bool lru, long limit,
                 gb_free_audit *out) {
    uintptr_t s = gb_list_sentinel(h);
    uintptr_t lo = (uintptr_t)m->memmap, hi = (uintptr_t)(m->memmap + m->npages);
    uintptr_t prev = s, node = gb_node_next(s);
    long n = 0;
    while (node != s) {
        if (node < lo + 8 || node >= hi || (node - lo - 8) % sizeof(gb_page) != 0 || n >= limit) {
            out->broken_lists++;
            return n;
        }
        gb_page *folio = gb_node_page(node);
        long index = folio - m->memmap;
        if (gb_page_tail(folio)) {
            out->broken_lists++;
            return n;
        }
        /* Met before on a free list: a second list_add() of a linked folio (a double free) leaves
         * it reachable twice; its old neighbours still point at it, so look before trusting prev. */
        if (!lru && (marks[index] & MARK_FREE_COUNT) >= 1) {
            out->double_freed++;
            if (out->first_double_index < 0)
                out->first_double_index = index;
            return n;
        }
        if (gb_node_prev(node) != prev) {
            out->broken_lists++;
            return n;
        }
        if (lru)
            marks[index] |= MARK_ON_LRU;
        else
            marks[index]++;
        n++;
        prev = node;
        node = gb_node_next(node);
    }
    return n;
}

void gb_free_model_audit(gb_free_model *m, gb_free_audit *out) {
    memset(out, 0, sizeof *out);
    out->first_double_index = out->first_leak_index = out->first_lru_index = out->first_not_zero_index = -1;
    unsigned char *marks = calloc(m->npages ? m->npages : 1, 1);
    if (!marks) {
        out->broken_lists = -ENOMEM;
        return;
    }
    long folios = 0;
    for (size_t i = 0; i < m->npages; i += (size_t)gb_folio_nr_pages(m->memmap + i))
        folios += is_member(m, i);
    out->folios = folios;
    long limit = folios + 1;
    for (int i = 0; i < m->nr_lruvecs; i++) {
        long n = walk(m, &m->lruvecs[i].list, marks, true, limit, out);
        if (n != m->lruvecs[i].nr_folios)
            out->count_mismatch++;
    }
    for (int t = 0; t < m->nr_pcps; t++) {
        long n = walk(m, &m->pcps[t].list, marks, false, limit, out);
        out->on_pcp += n;
        if (n != m->pcps[t].nr_folios)
            out->count_mismatch++;
    }
    long z = walk(m, &m->zone->free_list, marks, false, limit, out);
    out->on_zone = z;
    if (z != m->zone->nr_folios)
        out->count_mismatch++;
    for (size_t i = 0; i < m->npages;) {
        gb_page *folio = m->memmap + i;
        long index = (long)i;
        if (!is_member(m, i)) {
            i += (size_t)gb_folio_nr_pages(folio);
            continue;
        }
        bool lru = (marks[i] & MARK_ON_LRU) || ((gb_flags_read_relaxed(folio) >> GB_PG_lru) & 1UL);
        int freed = marks[i] & MARK_FREE_COUNT;
        int ref = gb_ref_read_relaxed(folio);
        if (lru) {
            out->on_lru++;
            if (out->first_lru_index < 0)
                out->first_lru_index = index;
        }
        if (freed) {
            out->freed_folios++;
            if (ref != 0) {
                out->not_zero++;
                if (out->first_not_zero_index < 0)
                    out->first_not_zero_index = index;
            }
        } else {
            out->leaked++;
            if (out->first_leak_index < 0) {
                out->first_leak_index = index;
                out->first_leak_refcount = ref;
                out->first_leak_on_lru = lru;
            }
        }
        i += (size_t)gb_folio_nr_pages(folio);
    }
    free(marks);
}

long gb_free_model_list(gb_free_model *m, int thread, long *out, long max) {
    gb_list_head *h = thread < 0 ? &m->zone->free_list : &m->pcps[thread].list;
    uintptr_t s = gb_list_sentinel(h);
    long n = 0;
    for (uintptr_t node = gb_node_next(s); node != s && n < max; node = gb_node_next(node))
        out[n++] = gb_node_page(node) - m->memmap;
    return n;
}
