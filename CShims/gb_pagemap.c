/* gb_pagemap.c — /proc/PID/pagemap, read in one place (see gb_pagemap.h). */
#define _GNU_SOURCE
#include "gb_pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int gb_pagemap_open(int pid, int *fd) {
    char path[48];
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/pagemap");
    else
        snprintf(path, sizeof path, "/proc/%d/pagemap", pid);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -errno;
    *fd = f;
    return 0;
}

int gb_pagemap_read(int fd, uintptr_t addr, size_t npages, uint64_t *entries) {
    off_t first = (off_t)(addr / 4096 * 8);
    size_t done = 0;
    /* pagemap_read() may return fewer entries than asked (it walks in batches); 0 means the mm
     * is gone. */
    while (done < npages) {
        ssize_t got = pread(fd, entries + done, (npages - done) * 8, first + (off_t)(done * 8));
        if (got < 0)
            return -errno;
        if (got == 0 || got % 8 != 0)
            return -ESRCH;
        done += (size_t)got / 8;
    }
    return 0;
}

int gb_pagemap_read_self(const void *addr, size_t npages, uint64_t *entries) {
    int fd;
    int rc = gb_pagemap_open(0, &fd);
    if (rc != 0)
        return rc;
    rc = gb_pagemap_read(fd, (uintptr_t)addr, npages, entries);
    close(fd);
    return rc;
}

long gb_pfn_adjacent_pairs(const void *addr, size_t npages) {
    enum { BATCH = 4096 };
    uint64_t entries[BATCH];
    int fd;
    int rc = gb_pagemap_open(0, &fd);
    if (rc != 0)
        return rc;
    long adjacent = 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < npages; i += BATCH) {
        size_t n = npages - i < BATCH ? npages - i : BATCH;
        rc = gb_pagemap_read(fd, (uintptr_t)addr + i * 4096, n, entries);
        if (rc != 0) {
            close(fd);
            return -EIO;
        }
        for (size_t j = 0; j < n; j++) {
            bool present = gb_pagemap_present(entries[j]);
            uint64_t pfn = gb_pagemap_pfn(entries[j]);
            if (present && pfn == 0) { /* PFNs hidden from this process */
                close(fd);
                return -EPERM;
            }
            if (i + j > 0 && present && pfn == prev + 1)
                adjacent++;
            prev = present ? pfn : 0;
        }
    }
    close(fd);
    return adjacent;
}

int gb_pfns_read(const void *addr, size_t npages, uint64_t *pfns) {
    int rc = gb_pagemap_read_self(addr, npages, pfns);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < npages; i++) {
        if (!gb_pagemap_present(pfns[i]))
            return -EFAULT;
        pfns[i] = gb_pagemap_pfn(pfns[i]);
        if (pfns[i] == 0) /* present but hidden from this process */
            return -EPERM;
    }
    return 0;
}
