/* gb_region.c — mmap'd regions, libnuma placement before first touch, and its verification. */
#define _GNU_SOURCE
#include "gb_region.h"
#include "gb_pagemap.h"
#include "gb_stop.h"
#include "gb_system.h"

#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

static void set_error(gb_region_error *err, const char *call, const char *what, int e) {
    err->call = call;
    err->what = what;
    err->err = e;
}

/* Apply the placement policy to a range before anything touches it. */
static int apply_policy(void *addr, size_t len, int policy, int node) {
    struct bitmask *mask;
    int mode;
    if (policy == GB_POLICY_INTERLEAVE) {
        mask = numa_allocate_nodemask();
        copy_bitmask_to_bitmask(numa_all_nodes_ptr, mask);
        mode = MPOL_INTERLEAVE;
    } else {
        mask = numa_allocate_nodemask();
        numa_bitmask_setbit(mask, (unsigned)node);
        mode = policy == GB_POLICY_PREFERRED ? MPOL_PREFERRED : MPOL_BIND;
    }
    long rc = mbind(addr, len, mode, mask->maskp, mask->size + 1, 0);
    int e = errno;
    numa_free_nodemask(mask);
    return rc == 0 ? 0 : -e;
}

struct fault_job {
    gb_region *r;
    int node;    /* -1: any CPU (interleave) */
    int rc;      /* 0, or -errno from numa_run_on_node */
};

/* First touch: runs on a CPU of the target node so even a permissive policy lands locally. */
static void *fault_in(void *arg) {
    struct fault_job *job = arg;
    if (job->node >= 0 && numa_run_on_node(job->node) != 0) {
        job->rc = -errno;
        return NULL;
    }
    volatile unsigned char *data = job->r->data;
    for (size_t off = 0; off < job->r->size; off += GB_PAGE_SIZE) {
        /* SIGINT/SIGTERM: give up on a large region between 2 MiB chunks (gb_stop.h). */
        if (off % GB_HUGE_PAGE_SIZE == 0 && gb_stop_signal() != 0) {
            job->rc = -EINTR;
            return NULL;
        }
        data[off] = 0;
    }
    memset(job->r->memmap, 0, job->r->npages * sizeof(gb_page));
    job->rc = 0;
    return NULL;
}

static int map_memmap_and_touch(gb_region *r, size_t unit, gb_policy policy, int node,
                                gb_region_error *err);

int gb_region_map(gb_region *r, size_t size, gb_backing backing, unsigned mthp_order, gb_policy policy,
                  int node, gb_region_error *err) {
    memset(r, 0, sizeof *r);
    r->backing = backing;
    r->mthp_order = backing == GB_BACKING_MTHP ? mthp_order : 0;
    r->size = size;
    r->npages = size / GB_PAGE_SIZE;
    size_t unit = backing == GB_BACKING_4K     ? GB_PAGE_SIZE
                  : backing == GB_BACKING_MTHP ? GB_PAGE_SIZE << r->mthp_order
                                               : GB_HUGE_PAGE_SIZE;
    if (size == 0 || size % unit != 0 || unit > GB_HUGE_PAGE_SIZE) {
        set_error(err, "mmap", "data", EINVAL);
        return -err->err;
    }

    /* thp and mTHP: 2 MiB-aligned data, so every folio order the kernel may choose fits whole
     * (the fault path only uses an order whose naturally aligned range lies inside the VMA). */
    bool madvised = backing == GB_BACKING_THP || backing == GB_BACKING_MTHP;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    size_t slack = madvised ? GB_HUGE_PAGE_SIZE : 0;
    if (backing == GB_BACKING_HUGETLB)
        flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB; /* reserves at mmap: fails if none */
    void *map = mmap(NULL, size + slack, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (map == MAP_FAILED) {
        set_error(err, "mmap", "data", errno);
        return -err->err;
    }
    r->data_mapping = map;
    r->data_mapping_size = size + slack;
    r->data = (void *)round_up((uintptr_t)map, madvised ? GB_HUGE_PAGE_SIZE : GB_PAGE_SIZE);

    if (backing != GB_BACKING_HUGETLB) {
        int advice = madvised ? MADV_HUGEPAGE : MADV_NOHUGEPAGE;
        if (madvise(r->data, size, advice) != 0) {
            set_error(err, "madvise", "data", errno);
            gb_region_unmap(r);
            return -err->err;
        }
    }

    int rc = apply_policy(r->data, size, policy, node);
    if (rc != 0) {
        set_error(err, "mbind", "data", -rc);
        gb_region_unmap(r);
        return -err->err;
    }
    return map_memmap_and_touch(r, GB_PAGE_SIZE, policy, node, err);
}

/* The memmap (r->npages descriptors, in mappings of `unit` bytes) under the same policy, then
 * the first touch of data and memmap from a thread on `node`. Unmaps everything on failure. */
static int map_memmap_and_touch(gb_region *r, size_t unit, gb_policy policy, int node,
                                gb_region_error *err) {
    r->memmap_mapping_size = round_up(r->npages * sizeof(gb_page), unit);
    void *mm = mmap(NULL, r->memmap_mapping_size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mm == MAP_FAILED) {
        set_error(err, "mmap", "memmap", errno);
        gb_region_unmap(r);
        return -err->err;
    }
    r->memmap = mm;
    if (unit == GB_HUGE_PAGE_SIZE && madvise(mm, r->memmap_mapping_size, MADV_HUGEPAGE) != 0) {
        set_error(err, "madvise", "memmap", errno);
        gb_region_unmap(r);
        return -err->err;
    }
    int rc = apply_policy(r->memmap, r->memmap_mapping_size, policy, node);
    if (rc != 0) {
        set_error(err, "mbind", "memmap", -rc);
        gb_region_unmap(r);
        return -err->err;
    }

    gb_numa_ready(); /* before numa_run_on_node() in the fault thread: see gb_system.h */
    struct fault_job job = {r, policy == GB_POLICY_INTERLEAVE ? -1 : node, 0};
    pthread_t thread;
    int e = pthread_create(&thread, NULL, fault_in, &job);
    if (e != 0) {
        set_error(err, "pthread_create", "data", e);
        gb_region_unmap(r);
        return -err->err;
    }
    pthread_join(thread, NULL);
    if (job.rc != 0) {
        set_error(err, job.rc == -EINTR ? "first touch" : "numa_run_on_node", "data", -job.rc);
        gb_region_unmap(r);
        return -err->err;
    }
    return 0;
}

int gb_region_map_memmap(gb_region *r, size_t ndesc, gb_policy policy, int node,
                         gb_region_error *err) {
    memset(r, 0, sizeof *r);
    r->npages = ndesc;
    if (ndesc == 0) {
        set_error(err, "mmap", "memmap", EINVAL);
        return -err->err;
    }
    /* In 2 MiB THP mappings, as x86-64 maps the vmemmap (vmemmap_populate_hugepages()). The
     * first touch writes all of it: 64 bytes per frame of the span, at most 1/64 of the RAM. */
    return map_memmap_and_touch(r, GB_HUGE_PAGE_SIZE, policy, node, err);
}

void gb_region_unmap(gb_region *r) {
    if (r->data_mapping)
        munmap(r->data_mapping, r->data_mapping_size);
    if (r->memmap)
        munmap(r->memmap, r->memmap_mapping_size);
    r->data_mapping = NULL;
    r->data = NULL;
    r->memmap = NULL;
}

int gb_region_unmap_data(gb_region *r) {
    if (!r->data_mapping)
        return -EALREADY;
    if (munmap(r->data_mapping, r->data_mapping_size) != 0)
        return -errno;
    r->data_mapping = NULL;
    r->data = NULL;
    return 0;
}

long gb_pages_node_counts(const void *addr, size_t len, size_t stride, long *counts,
                          int max_nodes, long *unresolved) {
    enum { BATCH = 4096 };
    void *pages[BATCH];
    int status[BATCH];
    size_t npages = len / GB_PAGE_SIZE;
    if (stride == 0)
        stride = 1;
    long sampled = 0;
    *unresolved = 0;
    for (int n = 0; n < max_nodes; n++)
        counts[n] = 0;
    for (size_t i = 0; i < npages;) {
        int k = 0;
        for (; k < BATCH && i < npages; k++, i += stride)
            pages[k] = (char *)addr + i * GB_PAGE_SIZE;
        /* nodes == NULL: move_pages() only reports where each page is. */
        if (move_pages(0, (unsigned long)k, pages, NULL, status, 0) != 0)
            return -errno;
        for (int j = 0; j < k; j++) {
            if (status[j] >= 0 && status[j] < max_nodes)
                counts[status[j]]++;
            else
                (*unresolved)++;
        }
        sampled += k;
    }
    return sampled;
}

#define KPF_COMPOUND_HEAD 15
#define KPF_HUGE 17
#define KPF_THP 22

int gb_region_huge_chunks(const gb_region *r, unsigned char *is_huge, size_t nchunks) {
    int pagemap;
    int rc = gb_pagemap_open(0, &pagemap);
    if (rc != 0)
        return rc;
    int kpageflags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    if (kpageflags < 0) {
        int e = errno;
        close(pagemap);
        return -e;
    }
    const size_t per_chunk = GB_HUGE_PAGE_SIZE / GB_PAGE_SIZE;
    for (size_t c = 0; c < nchunks; c++) {
        uintptr_t first = (uintptr_t)r->data + c * GB_HUGE_PAGE_SIZE;
        uint64_t head = 0, last = 0, flags = 0;
        if (gb_pagemap_read(pagemap, first, 1, &head) != 0 ||
            gb_pagemap_read(pagemap, first + (per_chunk - 1) * GB_PAGE_SIZE, 1, &last) != 0) {
            rc = -EIO;
            break;
        }
        uint64_t pfn = gb_pagemap_pfn(head), last_pfn = gb_pagemap_pfn(last);
        if (gb_pagemap_present(head) && pfn == 0) { /* PFNs hidden: no CAP_SYS_ADMIN */
            rc = -EPERM;
            break;
        }
        is_huge[c] = 0;
        if (!gb_pagemap_present(head) || pfn % per_chunk != 0 || last_pfn != pfn + per_chunk - 1)
            continue;
        if (pread(kpageflags, &flags, 8, (off_t)(pfn * 8)) != 8) {
            rc = -EIO;
            break;
        }
        bool head_page = (flags >> KPF_COMPOUND_HEAD) & 1;
        bool huge = ((flags >> KPF_THP) & 1) || ((flags >> KPF_HUGE) & 1);
        is_huge[c] = head_page && huge;
    }
    close(pagemap);
    close(kpageflags);
    return rc;
}

#define KPF_COMPOUND_TAIL 16

int gb_region_folio_orders(const gb_region *r, unsigned char *orders) {
    size_t npages = r->npages;
    uint64_t *pm = malloc(npages * sizeof *pm);
    uint64_t *kf = malloc(npages * sizeof *kf);
    int kpageflags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (!pm || !kf)
        rc = -ENOMEM;
    else if (kpageflags < 0)
        rc = -errno;
    else
        rc = gb_pagemap_read_self(r->data, npages, pm);
    /* kpageflags, one pread per run of pages at consecutive frames. */
    for (size_t i = 0; rc == 0 && i < npages;) {
        uint64_t pfn = gb_pagemap_pfn(pm[i]);
        if (!gb_pagemap_present(pm[i])) {
            kf[i++] = 0;
            continue;
        }
        if (pfn == 0) { /* PFNs hidden: no CAP_SYS_ADMIN */
            rc = -EPERM;
            break;
        }
        size_t n = 1;
        while (i + n < npages && gb_pagemap_present(pm[i + n]) && gb_pagemap_pfn(pm[i + n]) == pfn + n)
            n++;
        ssize_t got = pread(kpageflags, kf + i, n * 8, (off_t)(pfn * 8));
        if (got != (ssize_t)(n * 8)) {
            rc = got < 0 ? -errno : -EIO;
            break;
        }
        i += n;
    }
    for (size_t i = 0; rc == 0 && i < npages;) {
        orders[i] = 0;
        if (!((kf[i] >> KPF_COMPOUND_HEAD) & 1)) {
            i++;
            continue;
        }
        uint64_t pfn = gb_pagemap_pfn(pm[i]);
        size_t n = 1;
        while (i + n < npages && ((kf[i + n] >> KPF_COMPOUND_TAIL) & 1) &&
               gb_pagemap_pfn(pm[i + n]) == pfn + n)
            n++;
        /* A whole, naturally aligned folio: n a power of two, frame and index n-aligned. */
        bool whole = (n & (n - 1)) == 0 && pfn % n == 0 && i % n == 0;
        unsigned order = whole ? (unsigned)__builtin_ctzl(n) : 0;
        for (size_t k = 0; k < n; k++)
            orders[i + k] = (unsigned char)order;
        i += n;
    }
    if (kpageflags >= 0)
        close(kpageflags);
    free(pm);
    free(kf);
    return rc;
}

long long gb_smaps_anon_huge_bytes(const void *addr) {
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f)
        return -errno;
    char line[512];
    bool inside = false;
    long long result = -ENOENT;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
            continue;
        }
        long long kb;
        if (inside && sscanf(line, "AnonHugePages: %lld kB", &kb) == 1) {
            result = kb * 1024;
            break;
        }
    }
    fclose(f);
    return result;
}

void gb_memmap_init_folios(gb_page *memmap, size_t first, size_t count, unsigned order) {
    size_t nr = (size_t)1 << order;
    for (size_t i = first; i < first + count; i += nr) {
        gb_page *head = memmap + i;
        memset(head, 0, nr * sizeof(gb_page));
        /* The mapping's own reference (kernel: taken at fault, dropped at unmap). */
        atomic_store_explicit(GB_ATOMIC(int, head->refcount), 1, memory_order_relaxed);
        if (order == 0) {
            /* kernel: _mapcount 0 = mapped by one PTE */
            atomic_store_explicit(GB_ATOMIC(int, head->mapcount), 0, memory_order_relaxed);
            continue;
        }
        /* kernel: prep_compound_page() / prep_compound_head(), then one PMD mapping
         * (folio_add_new_anon_rmap() at RMAP_LEVEL_PMD): _entire_mapcount and _large_mapcount
         * 0 (= mapped once), per-page _mapcount -1 (no PTE maps a page of it). */
        atomic_store_explicit(GB_ATOMIC(unsigned long, head->flags), 1UL << GB_PG_head, memory_order_relaxed);
        atomic_store_explicit(GB_ATOMIC(unsigned long, head[1].flags), (unsigned long)order & GB_FOLIO_ORDER_MASK,
                              memory_order_relaxed);
        atomic_store_explicit(GB_ATOMIC(unsigned int, head[1].nr_pages), (unsigned int)nr, memory_order_relaxed);
        atomic_store_explicit(GB_ATOMIC(int, head[1].large_mapcount), 0, memory_order_relaxed);
        atomic_store_explicit(GB_ATOMIC(int, head[1].entire_mapcount), 0, memory_order_relaxed);
        atomic_store_explicit(GB_ATOMIC(int, head->mapcount), -1, memory_order_relaxed);
        for (size_t j = 1; j < nr; j++) {
            atomic_store_explicit(GB_ATOMIC(uintptr_t, head[j].compound_head), (uintptr_t)head | 1,
                                  memory_order_relaxed);
            atomic_store_explicit(GB_ATOMIC(int, head[j].mapcount), -1, memory_order_relaxed);
        }
    }
}

void gb_memmap_audit(gb_page *memmap, size_t npages, gb_audit_report *out) {
    memset(out, 0, sizeof *out);
    out->first_bad_index = -1;
    for (size_t i = 0; i < npages;) {
        gb_page *folio = memmap + i;
        size_t nr = (size_t)gb_folio_nr_pages(folio);
        int ref = gb_ref_read_relaxed(folio);
        int pin = nr > 1 ? gb_pincount_read_relaxed(folio + 1) : 0;
        long bad = 0;
        if (ref != 1 || pin != 0)
            bad = (long)nr;
        for (size_t j = 1; j < nr; j++) /* tails hold no references of their own */
            if (gb_ref_read_relaxed(folio + j) != 0 && !bad)
                bad = (long)nr;
        if ((gb_flags_read_relaxed(folio) >> GB_PG_locked) & 1UL)
            out->locked_pages++;
        out->refcount_excess += ref - 1;
        if (ref > 1)
            out->refcount_leaked += ref - 1;
        out->pincount_excess += pin;
        if (bad && out->first_bad_index < 0) {
            out->first_bad_index = (long)i;
            out->first_bad_refcount = ref;
            out->first_bad_pincount = pin;
        }
        out->unbalanced_pages += bad;
        i += nr;
    }
}

void gb_memmap_clear_dirty(gb_page *memmap, size_t npages) {
    for (size_t i = 0; i < npages; i++)
        atomic_fetch_and_explicit(GB_ATOMIC(unsigned long, memmap[i].flags), ~(1UL << GB_PG_dirty), memory_order_relaxed);
}
