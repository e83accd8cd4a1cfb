/* gb_ledger.c — the ledger's allocation and its slow path. */
#include "gb_ledger.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int gb_ledger_init(gb_ledger *l, gb_page *memmap, size_t npages) {
    memset(l, 0, sizeof *l);
    l->gets = calloc(npages ? npages : 1, sizeof(int));
    l->pins = calloc(npages ? npages : 1, sizeof(int));
    if (!l->gets || !l->pins) {
        gb_ledger_free(l);
        return -ENOMEM;
    }
    l->memmap = memmap;
    l->npages = npages;
    l->first.page_index = -1;
    return 0;
}

void gb_ledger_free(gb_ledger *l) {
    free(l->gets);
    free(l->pins);
    l->gets = l->pins = NULL;
}

void gb_ledger_reset(gb_ledger *l) {
    memset(l->gets, 0, l->npages * sizeof(int));
    memset(l->pins, 0, l->npages * sizeof(int));
    l->violations = 0;
    l->first_taken = 0;
    memset(&l->first, 0, sizeof l->first);
    l->first.page_index = -1;
}

void gb_ledger_report(gb_ledger *l, long index, long thread, int made, int gets, int pins) {
    atomic_fetch_add_explicit(GB_ATOMIC(long, l->violations), 1, memory_order_relaxed);
    int expected = 0;
    if (atomic_exchange_explicit(GB_ATOMIC(int, l->first_taken), 1, memory_order_acq_rel))
        return;
    /* What the caller should have called, given what the page holds. */
    if (made == GB_CALL_PUT_PAGE && pins > 0)
        expected = GB_CALL_UNPIN_USER_PAGE;
    else if (made == GB_CALL_UNPIN_USER_PAGE && gets > 0)
        expected = GB_CALL_PUT_PAGE;
    l->first = (gb_ledger_violation){index, thread, made, expected, gets, pins};
}
