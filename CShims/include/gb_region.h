/*
 * gb_region.h — real memory: mmap'd data regions with their memmap, NUMA placement through
 * libnuma applied before the first touch, and verification of what the kernel actually gave us.
 * Everything here is out of line (gb_region.c): it needs _GNU_SOURCE, libnuma and syscalls.
 */
#ifndef GB_REGION_H
#define GB_REGION_H

#include <stddef.h>
#include <stdint.h>
#include "gb_page.h"

typedef enum gb_backing {
    GB_BACKING_4K = 0,       /* 4 KiB pages, MADV_NOHUGEPAGE */
    GB_BACKING_THP = 1,      /* 2 MiB aligned, MADV_HUGEPAGE */
    GB_BACKING_HUGETLB = 2,  /* MAP_HUGETLB, 2 MiB pages from the reserved pool */
    GB_BACKING_MTHP = 3,     /* 2 MiB aligned, MADV_HUGEPAGE, for a multi-size THP order below PMD:
                                which order the kernel gives is its sysfs settings' choice */
} gb_backing;

typedef enum gb_policy {
    GB_POLICY_BIND = 0,       /* MPOL_BIND to one node */
    GB_POLICY_PREFERRED = 1,  /* MPOL_PREFERRED: one node, others if it is full */
    GB_POLICY_INTERLEAVE = 2, /* MPOL_INTERLEAVE across all nodes with memory */
} gb_policy;

#define GB_HUGE_PAGE_SIZE ((size_t)2 << 20)
#define GB_PAGE_SIZE ((size_t)4096)

/* A data region and its memmap. Owned by whoever called gb_region_map; gb_region_unmap frees it. */
typedef struct gb_region {
    void *_Nullable data;           /* first byte of the data, aligned for the backing */
    size_t size;                    /* bytes of data */
    size_t npages;                  /* 4 KiB pages of data = descriptors in the memmap */
    gb_page *_Nullable memmap;      /* npages descriptors */
    void *_Nullable data_mapping;   /* what munmap must be given (includes alignment slack) */
    size_t data_mapping_size;
    size_t memmap_mapping_size;
    gb_backing backing;
    unsigned mthp_order;            /* GB_BACKING_MTHP: the folio order asked for; else 0 */
} gb_region;

/* Where gb_region_map failed: the call and what it was mapping (the errno is also the
 * function's return value, negated). */
typedef struct gb_region_error {
    const char *_Nullable call;     /* "mmap", "mbind", "madvise", "pthread_create" */
    int err;                        /* errno value */
    const char *_Nullable what;     /* "data" or "memmap" */
} gb_region_error;

/*
 * Map `size` bytes of data (a multiple of 4 KiB; of 2 MiB for thp and hugetlb; of the folio size
 * 4 KiB << mthp_order for mTHP) and its memmap, apply
 * `policy` on `node` to both before any page is touched, then fault both in from a thread running
 * on `node` (first touch). 0, or -errno: then nothing stays mapped and *err names the call that
 * failed; a SIGINT/SIGTERM recorded by gb_stop.h during the first touch fails it with -EINTR.
 */
int gb_region_map(gb_region *_Nonnull r, size_t size, gb_backing backing, unsigned mthp_order,
                  gb_policy policy, int node, gb_region_error *_Nonnull err);

/*
 * A memmap of `ndesc` descriptors and no data (r->data NULL, r->size 0), in 2 MiB THP mappings
 * as the kernel's vmemmap is, placed and first touched (zeroed) like gb_region_map's: the
 * frame-spaced memmap of --layout pfn, one descriptor per page frame of a region's span.
 * 0 or -errno, *err as gb_region_map's.
 */
int gb_region_map_memmap(gb_region *_Nonnull r, size_t ndesc, gb_policy policy, int node,
                         gb_region_error *_Nonnull err);

/* munmap both mappings; safe on a zeroed or already-unmapped region. */
void gb_region_unmap(gb_region *_Nonnull r);

/* munmap the data mapping only, once: the memmap stays, `data` and `data_mapping` become NULL so
 * gb_region_unmap() leaves the range alone (it may be someone else's mapping by then). 0, -EALREADY
 * when the data is already unmapped, or munmap's -errno (the mapping is then kept). */
int gb_region_unmap_data(gb_region *_Nonnull r);

/*
 * The NUMA node of the pages of [addr, addr+len), sampled every `stride` 4 KiB pages, from
 * move_pages(2) status. counts[n] gets the pages found on node n (n < max_nodes); *unresolved
 * the sampled pages whose node could not be read. Returns the number of pages sampled, or -errno.
 */
long gb_pages_node_counts(const void *_Nonnull addr, size_t len, size_t stride,
                          long *_Nonnull counts, int max_nodes, long *_Nonnull unresolved);

/*
 * For each 2 MiB chunk of the region, whether it is backed by one PMD-sized folio (THP or hugetlb),
 * read from /proc/self/pagemap and /proc/kpageflags. Returns 0, or -errno when those files cannot
 * be read (no CAP_SYS_ADMIN): then use gb_smaps_anon_huge_bytes.
 */
int gb_region_huge_chunks(const gb_region *_Nonnull r, unsigned char *_Nonnull is_huge,
                          size_t nchunks);

/*
 * The order of the folio behind every 4 KiB page of the region, read from /proc/self/pagemap and
 * /proc/kpageflags: a page that is KPF_COMPOUND_HEAD followed by KPF_COMPOUND_TAIL pages at
 * consecutive frames makes a run of n pages; when n is a power of two, the head frame and the
 * head's index in the region are n-aligned, and the run ends where the next folio (or an order-0
 * page) starts, every page of the run gets order log2(n). Anything else (order-0 pages, folios only
 * partly inside the region, runs the kernel split) gets 0. orders[] has r->npages entries.
 * Returns 0, or -errno when those files cannot be read or PFNs are hidden (no CAP_SYS_ADMIN).
 */
int gb_region_folio_orders(const gb_region *_Nonnull r, unsigned char *_Nonnull orders);

/* AnonHugePages of the mapping containing addr, from /proc/self/smaps; -errno on failure. */
long long gb_smaps_anon_huge_bytes(const void *_Nonnull addr);

/* ---- the memmap ---- */

/*
 * Lay out folios of order `order` over descriptors [first, first + count) in their baseline state:
 * mapped once by the data region's page table, which holds the folio's only reference.
 * order 0: _refcount 1, _mapcount 0. Large folio: head has PG_head and _refcount 1 (the one
 * reference of its PMD mapping), page[1] holds the order (low byte of _flags_1), _nr_pages,
 * _large_mapcount 0, _entire_mapcount 0 and _pincount 0, every tail points to the head, every
 * _mapcount is -1. A release that takes _refcount to 0 while this mapping stands has taken the
 * mapping's own reference: the kernel would free mapped memory. count must be a multiple of
 * 1 << order.
 */
void gb_memmap_init_folios(gb_page *_Nonnull memmap, size_t first, size_t count, unsigned order);

/* The result of an audit of the memmap against the baseline gb_memmap_init_folios set. */
typedef struct gb_audit_report {
    long unbalanced_pages;   /* descriptors not at their baseline */
    long first_bad_index;    /* -1 when none */
    int first_bad_refcount;  /* _refcount of the first bad folio head (or page) */
    int first_bad_pincount;  /* _pincount of the first bad folio (0 for order 0) */
    long locked_pages;       /* folios left with PG_locked set */
    long long refcount_excess;  /* sum over folios of (_refcount - baseline) */
    long long refcount_leaked;  /* sum over folios of the excess above baseline, where positive:
                                   references nobody will drop, so the folio outlives its unmap */
    long long pincount_excess;  /* sum over large folios of _pincount */
} gb_audit_report;

/* Check every descriptor against its baseline (outside any timed window). */
void gb_memmap_audit(gb_page *_Nonnull memmap, size_t npages, gb_audit_report *_Nonnull out);

/* Clear PG_dirty on every descriptor (before a repetition that dirties). */
void gb_memmap_clear_dirty(gb_page *_Nonnull memmap, size_t npages);

#endif /* GB_REGION_H */
