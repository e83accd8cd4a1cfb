/*
 * gb_layout.h — the folio structure of another process's memory, read from /proc/PID/pagemap and
 * /proc/kpageflags (both need root: without CAP_SYS_ADMIN pagemap reports PFN 0 and kpageflags
 * cannot be opened). Used by `gupbench layout`; what leaves this file is structure only: the PFN
 * of a folio's head serves as an in-memory identity and is never written anywhere.
 */
#ifndef GB_LAYOUT_H
#define GB_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

typedef enum gb_layout_state {
    GB_LAYOUT_ABSENT = 0,  /* not present (never touched, or swapped out) */
    GB_LAYOUT_PRESENT = 1, /* present, a page of a folio */
    GB_LAYOUT_ZERO = 2,    /* present, the shared zero page (or a page of the huge zero folio) */
} gb_layout_state;

/* One virtual page of the capture. */
typedef struct gb_layout_page {
    uint64_t folio;   /* the head's PFN: identity of the folio inside this process only */
    uint32_t index;   /* the page's index in its folio (its PFN minus the head's) */
    uint8_t order;    /* the folio's order */
    uint8_t state;    /* gb_layout_state */
    uint8_t thp;      /* KPF_THP set on the page */
    uint8_t hugetlb;  /* KPF_HUGE set on the page */
} gb_layout_page;

/*
 * Reads `npages` pages of virtual memory starting at `start` (page aligned) through the open
 * pagemap and kpageflags descriptors, filling out[0..npages). A folio's order is the length of
 * its run of PFNs: the head (KPF_COMPOUND_HEAD) and the KPF_COMPOUND_TAIL pages that follow it,
 * read from kpageflags even beyond the mapping when the folio extends past it.
 * Returns 0; -EPERM when PFNs are hidden (not root); -ESRCH when pagemap reads come back short
 * (the process exited); -EIO when kpageflags contradicts itself (a folio that is not a power of
 * two long, a tail without a head: a folio split or freed while we read); other -errno.
 */
int gb_layout_read(int pagemap_fd, int kpageflags_fd, uintptr_t start, size_t npages,
                   gb_layout_page *_Nonnull out);

#endif /* GB_LAYOUT_H */
