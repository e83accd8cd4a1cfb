/*
 * gb_pagemap.h — the one reader of /proc/PID/pagemap (Documentation/admin-guide/mm/pagemap.rst;
 * kernel: fs/proc/task_mmu.c pagemap_read()): one 64-bit entry per virtual page, bit 63 set when
 * the page is present, bits 0-54 its page frame number (0 to a reader without CAP_SYS_ADMIN).
 * Every C and Swift caller reads pagemap through these functions, so the entry format, the
 * short-read rule and the hidden-PFN test are written once.
 */
#ifndef GB_PAGEMAP_H
#define GB_PAGEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An entry's present bit and page frame number (pagemap.rst: PM_PRESENT, PM_PFRAME_MASK). */
static inline bool gb_pagemap_present(uint64_t entry) { return (entry >> 63) & 1; }
static inline uint64_t gb_pagemap_pfn(uint64_t entry) { return entry & ((1ULL << 55) - 1); }

/* Opens /proc/PID/pagemap read-only (pid 0: this process), the descriptor into *fd. 0 or -errno. */
int gb_pagemap_open(int pid, int *_Nonnull fd);

/* The entries of the `npages` virtual pages from the page holding `addr` into entries[0..npages),
 * through a descriptor from gb_pagemap_open. 0 or -errno; -ESRCH when the read comes back short
 * (pagemap_read() returns 0 once the process's mm is gone: it exited). */
int gb_pagemap_read(int fd, uintptr_t addr, size_t npages, uint64_t *_Nonnull entries);

/* gb_pagemap_read on this process's own pagemap, opened and closed around the read. */
int gb_pagemap_read_self(const void *_Nonnull addr, size_t npages, uint64_t *_Nonnull entries);

/* How physically scattered a range is, as the kernel's own struct pages see it: of the
 * npages - 1 neighbouring pairs of 4 KiB pages from addr, how many sit at consecutive page frame
 * numbers (kernel: the vmemmap is indexed by PFN, so scattered frames mean scattered struct
 * pages). The count, or -errno: -EPERM when PFNs are hidden (no CAP_SYS_ADMIN). */
long gb_pfn_adjacent_pairs(const void *_Nonnull addr, size_t npages);

/* The page frame number of each of the npages 4 KiB pages from addr, into pfns[0..npages)
 * (kernel: the vmemmap is indexed by PFN, so these give the order of the region's struct
 * pages). 0, -EPERM when PFNs are hidden (no CAP_SYS_ADMIN), -EFAULT when a page is not
 * present, another -errno when the read fails. */
int gb_pfns_read(const void *_Nonnull addr, size_t npages, uint64_t *_Nonnull pfns);

#endif /* GB_PAGEMAP_H */
