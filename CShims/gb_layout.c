/* gb_layout.c — a process's folio structure from /proc/PID/pagemap and /proc/kpageflags. */
#define _GNU_SOURCE
#include "gb_layout.h"
#include "gb_pagemap.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* include/uapi/linux/kernel-page-flags.h, and Documentation/admin-guide/mm/pagemap.rst */
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_HUGE 17
#define KPF_NOPAGE 20
#define KPF_THP 22
#define KPF_ZERO_PAGE 24

/* The largest folio the kernel builds: a 16 GiB gigantic hugetlb page is order 22. */
#define MAX_FOLIO_PAGES ((uint64_t)1 << 22)
#define CHUNK 512

static bool bit(uint64_t flags, int b) { return (flags >> b) & 1; }

/* kpageflags of [pfn, pfn + n); returns entries read (short past the end of memory), or -errno. */
static long read_flags(int fd, uint64_t pfn, uint64_t *buf, size_t n) {
    ssize_t got = pread(fd, buf, n * 8, (off_t)(pfn * 8));
    if (got < 0)
        return -errno;
    return got / 8;
}

/* The head PFN of the folio holding tail `pfn`: the nearest KPF_COMPOUND_HEAD below it
 * (kernel: compound_head() / page_folio(), seen from the flags). */
static int find_head(int fd, uint64_t pfn, uint64_t *head) {
    uint64_t buf[CHUNK];
    uint64_t hi = pfn; /* search [.., hi) */
    while (hi > 0 && pfn - hi < MAX_FOLIO_PAGES) {
        size_t n = hi >= CHUNK ? CHUNK : (size_t)hi;
        long got = read_flags(fd, hi - n, buf, n);
        if (got < 0)
            return (int)got;
        if ((size_t)got != n)
            return -EIO;
        for (size_t k = n; k-- > 0;) {
            if (bit(buf[k], KPF_COMPOUND_HEAD)) {
                *head = hi - n + k;
                return 0;
            }
            if (!bit(buf[k], KPF_COMPOUND_TAIL))
                return -EIO; /* a tail whose run back does not reach a head */
        }
        hi -= n;
    }
    return -EIO;
}

/* Pages of the folio whose head is `head`: 1 + the KPF_COMPOUND_TAIL PFNs that follow it
 * (kernel: folio_nr_pages()). */
static int folio_pages(int fd, uint64_t head, uint64_t *nr) {
    uint64_t buf[CHUNK];
    uint64_t count = 1;
    while (count < MAX_FOLIO_PAGES) {
        long got = read_flags(fd, head + count, buf, CHUNK);
        if (got < 0)
            return (int)got;
        for (long k = 0; k < got; k++) {
            if (!bit(buf[k], KPF_COMPOUND_TAIL)) {
                *nr = count;
                return 0;
            }
            count++;
        }
        if (got < CHUNK)
            break; /* end of physical memory */
    }
    *nr = count;
    return 0;
}

static unsigned order_of(uint64_t nr) {
    unsigned order = 0;
    while (((uint64_t)1 << order) < nr)
        order++;
    return order;
}

int gb_layout_read(int pagemap_fd, int kpageflags_fd, uintptr_t start, size_t npages,
                   gb_layout_page *out) {
    uint64_t entries[CHUNK];
    /* The folio of the previous present page: pages inside it need no kpageflags read. */
    uint64_t cached_head = 0, cached_nr = 0, cached_flags = 0;
    bool cached = false;
    for (size_t done = 0; done < npages;) {
        size_t n = npages - done < CHUNK ? npages - done : CHUNK;
        int rc = gb_pagemap_read(pagemap_fd, start + done * 4096, n, entries);
        if (rc != 0)
            return rc; /* -ESRCH: the mm is gone (the process exited) */
        for (size_t k = 0; k < n; k++) {
            gb_layout_page *p = &out[done + k];
            memset(p, 0, sizeof *p);
            uint64_t e = entries[k];
            if (!gb_pagemap_present(e))
                continue;
            uint64_t pfn = gb_pagemap_pfn(e);
            if (pfn == 0)
                return -EPERM; /* PFNs hidden from a reader without CAP_SYS_ADMIN */
            if (!(cached && pfn >= cached_head && pfn < cached_head + cached_nr)) {
                uint64_t flags;
                long r = read_flags(kpageflags_fd, pfn, &flags, 1);
                if (r < 0)
                    return (int)r;
                if (r != 1 || bit(flags, KPF_NOPAGE))
                    return -EIO;
                uint64_t head = pfn, nr = 1;
                if (bit(flags, KPF_COMPOUND_TAIL)) {
                    int rc = find_head(kpageflags_fd, pfn, &head);
                    if (rc != 0)
                        return rc;
                }
                if (bit(flags, KPF_COMPOUND_HEAD) || bit(flags, KPF_COMPOUND_TAIL)) {
                    int rc = folio_pages(kpageflags_fd, head, &nr);
                    if (rc != 0)
                        return rc;
                    if ((nr & (nr - 1)) != 0 || pfn >= head + nr)
                        return -EIO; /* split or freed under us */
                }
                cached = true;
                cached_head = head;
                cached_nr = nr;
                cached_flags = flags;
            }
            p->folio = cached_head;
            p->index = (uint32_t)(pfn - cached_head);
            p->order = (uint8_t)order_of(cached_nr);
            p->state = bit(cached_flags, KPF_ZERO_PAGE) ? GB_LAYOUT_ZERO : GB_LAYOUT_PRESENT;
            p->thp = bit(cached_flags, KPF_THP);
            p->hugetlb = bit(cached_flags, KPF_HUGE);
        }
        done += n;
    }
    return 0;
}
