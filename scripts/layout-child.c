/*
 * layout-child — a process with a known mix of memory, for `gupbench layout` to capture (the
 * tests and docs/layout.md's example run it). Each argument adds one mapping, in its own 2 MiB
 * aligned slot with a PROT_NONE guard before it, so no two mappings merge:
 *
 *   thp:MIB     MADV_HUGEPAGE, every page written: PMD-mapped THPs
 *   4k:MIB      MADV_NOHUGEPAGE, every page written: order-0 folios
 *   hole:MIB    MADV_NOHUGEPAGE, only the first and last quarter written: a hole in the middle
 *   split:MIB   like thp, then the first 1 MiB made read-only with mprotect(): the first THP's
 *               PMD is split into PTEs and the mapping into two VMAs, its folio stays whole
 *   mthp:KIB    MADV_HUGEPAGE, smaller than 2 MiB so only an mTHP size can back it
 *   zero:MIB    MADV_NOHUGEPAGE, every page read, none written: the shared zero page
 *
 * It prints one line per VMA it made, "name start_hex pages anon_huge_kb" (start as
 * /proc/PID/maps prints it, AnonHugePages from its own smaps), then "ready", and exits when its
 * stdin closes. Build: cc -O1 -o layout-child scripts/layout-child.c
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1UL << 20)
#define SLOT_ALIGN (2 * MIB)

static long anon_huge_kb(uintptr_t start) {
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int inside = 0;
    long kb = -1;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = lo == start;
            continue;
        }
        if (inside && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
            break;
    }
    if (f)
        fclose(f);
    return kb;
}

static void report(const char *name, uintptr_t start, size_t len) {
    printf("%s %lx %zu %ld\n", name, (unsigned long)start, len / 4096, anon_huge_kb(start));
}

int main(int argc, char **argv) {
    size_t total = 0;
    for (int i = 1; i < argc; i++) {
        char *colon = strchr(argv[i], ':');
        if (!colon) {
            fprintf(stderr, "layout-child: '%s' is not kind:size\n", argv[i]);
            return 2;
        }
        size_t n = strtoul(colon + 1, NULL, 10);
        size_t bytes = strncmp(argv[i], "mthp", 4) == 0 ? n * 1024 : n * MIB;
        total += SLOT_ALIGN + (bytes + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
    }
    /* One reservation, PROT_NONE, 2 MiB aligned: each mapping goes into its own slot. */
    char *raw = mmap(NULL, total + SLOT_ALIGN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    char *slot = (char *)(((uintptr_t)raw + SLOT_ALIGN - 1) & ~(SLOT_ALIGN - 1));
    for (int i = 1; i < argc; i++) {
        char *colon = strchr(argv[i], ':');
        size_t n = strtoul(colon + 1, NULL, 10);
        int mthp = strncmp(argv[i], "mthp", 4) == 0;
        size_t bytes = mthp ? n * 1024 : n * MIB;
        char *p = slot + SLOT_ALIGN; /* the guard stays PROT_NONE */
        slot = p + (bytes + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
        if (mmap(p, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        int huge = !strncmp(argv[i], "thp", 3) || !strncmp(argv[i], "split", 5) || mthp;
        if (madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0) {
            perror("madvise");
            return 1;
        }
        if (!strncmp(argv[i], "zero", 4)) {
            volatile char sink = 0;
            for (size_t off = 0; off < bytes; off += 4096)
                sink += ((volatile char *)p)[off];
            (void)sink;
        } else if (!strncmp(argv[i], "hole", 4)) {
            for (size_t off = 0; off < bytes / 4; off += 4096)
                p[off] = 1;
            for (size_t off = bytes - bytes / 4; off < bytes; off += 4096)
                p[off] = 1;
        } else {
            for (size_t off = 0; off < bytes; off += 4096)
                p[off] = 1;
        }
        if (!strncmp(argv[i], "split", 5)) {
            if (mprotect(p, MIB, PROT_READ) != 0) {
                perror("mprotect");
                return 1;
            }
            report("split-ro", (uintptr_t)p, MIB);
            report("split-rw", (uintptr_t)p + MIB, bytes - MIB);
        } else {
            char name[32];
            snprintf(name, sizeof name, "%.*s", (int)(colon - argv[i]), argv[i]);
            report(name, (uintptr_t)p, bytes);
        }
    }
    printf("ready\n");
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
    return 0;
}
