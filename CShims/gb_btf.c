/*
 * gb_btf.c — a small reader of the kernel's BTF (Documentation/bpf/btf.rst, include/uapi/linux/
 * btf.h). It checks the page-descriptor model's layout against the running kernel's own types.
 *
 * Parsing walks the type section once, checks that every record and its kind-specific data fit,
 * that every name offset used later lies inside the NUL-terminated string section, and records
 * where each type id starts. Type ids met later (member types, typedef targets) are checked
 * against the count before use, and chains and anonymous-member searches are bounded, so a
 * malformed blob gives -EINVAL and never an out-of-bounds read or an endless loop.
 */
#include "gb_btf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    K_INT = 1, K_PTR, K_ARRAY, K_STRUCT, K_UNION, K_ENUM, K_FWD, K_TYPEDEF, K_VOLATILE, K_CONST,
    K_RESTRICT, K_FUNC, K_FUNC_PROTO, K_VAR, K_DATASEC, K_FLOAT, K_DECL_TAG, K_TYPE_TAG, K_ENUM64,
};

#define BTF_MAGIC 0xeB9F
#define HDR_LEN 24u        /* sizeof(struct btf_header) */
#define REC_LEN 12u        /* sizeof(struct btf_type) */
#define MAX_CHAIN 256      /* typedef/modifier hops before a chain is taken for a cycle */
#define MAX_VISITS 65536   /* structs one member search may visit before the blob is malformed */

struct gb_btf {
    uint8_t *blob;         /* owned copy of the whole blob */
    const uint8_t *types;  /* type section, types_len bytes */
    uint32_t types_len;
    const char *strs;      /* string section, strs_len bytes, last one NUL */
    uint32_t strs_len;
    uint32_t ntypes;       /* valid ids are 1..ntypes */
    uint32_t *off;         /* off[id]: offset of id's record in the type section (off[0] unused) */
};

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, sizeof v); return v; }
static uint32_t kind_of(uint32_t info) { return (info >> 24) & 0x1f; }
static uint32_t vlen_of(uint32_t info) { return info & 0xffff; }
static int kflag_of(uint32_t info) { return (int)(info >> 31); }
static const uint8_t *rec(const gb_btf *b, uint32_t id) { return b->types + b->off[id]; }
static uint32_t info_of(const gb_btf *b, uint32_t id) { return rd32(rec(b, id) + 4); }
/* Offsets were checked by parse(), and the string section ends in a NUL. */
static const char *str_at(const gb_btf *b, uint32_t off) { return b->strs + off; }

/* Bytes of kind-specific data after a record, or -1 for an unknown kind. */
static long extra_len(uint32_t kind, uint32_t vlen) {
    switch (kind) {
    case K_INT: case K_VAR: case K_DECL_TAG: return 4;
    case K_ARRAY: return 12;
    case K_STRUCT: case K_UNION: case K_DATASEC: case K_ENUM64: return 12L * vlen;
    case K_ENUM: case K_FUNC_PROTO: return 8L * vlen;
    case K_PTR: case K_FWD: case K_TYPEDEF: case K_VOLATILE: case K_CONST: case K_RESTRICT:
    case K_FUNC: case K_FLOAT: case K_TYPE_TAG: return 0;
    default: return -1;
    }
}

void gb_btf_close(gb_btf *_Nullable btf) {
    if (!btf) return;
    free(btf->off);
    free(btf->blob);
    free(btf);
}

/* Parses `blob` (len bytes), taking ownership of it whatever the outcome. */
static int parse(uint8_t *blob, size_t len, gb_btf *_Nullable *_Nonnull out) {
    gb_btf *b = calloc(1, sizeof *b);
    if (!b) { free(blob); return -ENOMEM; }
    b->blob = blob;
    int rc = -EINVAL;
    if (len < HDR_LEN) goto fail;
    uint16_t magic;
    memcpy(&magic, blob, sizeof magic);
    uint32_t hdr_len = rd32(blob + 4), type_off = rd32(blob + 8), type_len = rd32(blob + 12);
    uint32_t str_off = rd32(blob + 16), str_len = rd32(blob + 20);
    if (magic != BTF_MAGIC || blob[2] != 1 || hdr_len < HDR_LEN || hdr_len > len) goto fail;
    uint64_t body = len - hdr_len;
    if ((uint64_t)type_off + type_len > body || (uint64_t)str_off + str_len > body) goto fail;
    b->types = blob + hdr_len + type_off;
    b->types_len = type_len;
    b->strs = (const char *)blob + hdr_len + str_off;
    b->strs_len = str_len;
    if (str_len == 0 || b->strs[str_len - 1] != '\0') goto fail;

    uint32_t cap = 0;
    for (uint32_t pos = 0; pos < type_len;) {
        if (type_len - pos < REC_LEN) goto fail;
        const uint8_t *t = b->types + pos;
        uint32_t info = rd32(t + 4), kind = kind_of(info), vlen = vlen_of(info);
        long extra = extra_len(kind, vlen);
        if (extra < 0 || type_len - pos - REC_LEN < (uint64_t)extra) goto fail;
        if (rd32(t) >= str_len) goto fail;
        uint32_t step = kind == K_ENUM ? 8 : 12; /* name offsets of members and enumerators */
        if (kind == K_STRUCT || kind == K_UNION || kind == K_ENUM || kind == K_ENUM64)
            for (uint32_t i = 0; i < vlen; i++)
                if (rd32(t + REC_LEN + i * step) >= str_len) goto fail;
        if (b->ntypes + 1 >= cap) {
            cap = cap ? cap * 2 : 4096;
            uint32_t *grown = realloc(b->off, (size_t)cap * sizeof *grown);
            if (!grown) { rc = -ENOMEM; goto fail; }
            b->off = grown;
        }
        b->off[++b->ntypes] = pos;
        pos += REC_LEN + (uint32_t)extra;
    }
    *out = b;
    return 0;
fail:
    gb_btf_close(b);
    return rc;
}

int gb_btf_open_blob(const void *_Nonnull data, size_t len, gb_btf *_Nullable *_Nonnull out) {
    *out = NULL;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return -ENOMEM;
    memcpy(copy, data, len);
    return parse(copy, len, out);
}

int gb_btf_open_file(const char *_Nonnull path, gb_btf *_Nullable *_Nonnull out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    /* sysfs reports a size, but only EOF ends the file: one byte more avoids a regrow to see it. */
    size_t cap = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 1u << 20;
    size_t len = 0;
    uint8_t *buf = malloc(cap);
    int rc = buf ? 0 : -ENOMEM;
    while (rc == 0) {
        if (len == cap) {
            uint8_t *grown = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!grown) { rc = -ENOMEM; break; }
            buf = grown;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n > 0) len += (size_t)n;
        else if (n == 0) break;
        else if (errno != EINTR) rc = -errno;
    }
    close(fd);
    if (rc) { free(buf); return rc; }
    return parse(buf, len, out);
}

/* Follows typedef/volatile/const/restrict/type_tag from `id` to the type they name. */
static int skip_mods(const gb_btf *b, uint32_t id, uint32_t *res) {
    for (int hops = 0; hops < MAX_CHAIN; hops++) {
        if (id == 0 || id > b->ntypes) return -EINVAL; /* void or out of range: no member has it */
        uint32_t kind = kind_of(info_of(b, id));
        if (kind != K_TYPEDEF && kind != K_VOLATILE && kind != K_CONST && kind != K_RESTRICT &&
            kind != K_TYPE_TAG) {
            *res = id;
            return 0;
        }
        id = rd32(rec(b, id) + 8);
    }
    return -EINVAL;
}

/* Byte size of type `id`; arrays multiply out, pointers are the host's. */
static int type_size(const gb_btf *b, uint32_t id, long *size) {
    uint64_t mult = 1, sz;
    for (int hops = 0; hops < MAX_CHAIN; hops++) {
        int rc = skip_mods(b, id, &id);
        if (rc) return rc;
        const uint8_t *t = rec(b, id);
        switch (kind_of(rd32(t + 4))) {
        case K_INT: case K_STRUCT: case K_UNION: case K_ENUM: case K_ENUM64: case K_FLOAT:
        case K_DATASEC:
            sz = rd32(t + 8);
            break;
        case K_PTR:
            sz = sizeof(void *);
            break;
        case K_ARRAY: {
            uint32_t nelems = rd32(t + REC_LEN + 8);
            if (nelems && mult > (uint64_t)LONG_MAX / nelems) return -EINVAL;
            mult *= nelems;
            id = rd32(t + REC_LEN);
            continue;
        }
        default:
            return -EINVAL;
        }
        if (sz && mult > (uint64_t)LONG_MAX / sz) return -EINVAL;
        *size = (long)(mult * sz);
        return 0;
    }
    return -EINVAL;
}

/* The first STRUCT or UNION named `name`, or 0. */
static uint32_t find_struct(const gb_btf *b, const char *name) {
    if (!*name) return 0;
    for (uint32_t id = 1; id <= b->ntypes; id++) {
        uint32_t kind = kind_of(info_of(b, id));
        if ((kind == K_STRUCT || kind == K_UNION) && strcmp(str_at(b, rd32(rec(b, id))), name) == 0)
            return id;
    }
    return 0;
}

int gb_btf_struct_size(const gb_btf *_Nonnull btf, const char *_Nonnull name, long *_Nonnull size) {
    uint32_t id = find_struct(btf, name);
    if (!id) return -ENOENT;
    *size = (long)rd32(rec(btf, id) + 8);
    return 0;
}

struct visit { uint32_t id; long bits; };

int gb_btf_member(const gb_btf *_Nonnull btf, const char *_Nonnull name, const char *_Nonnull member,
                  long *_Nonnull bit_offset, long *_Nonnull bitfield_size, long *_Nonnull byte_size) {
    uint32_t root = find_struct(btf, name);
    if (!root || !*member) return -ENOENT;
    /* Breadth-first: a FIFO of structs to look in, each with its bit offset in `name`. */
    size_t head = 0, tail = 0, cap = 16;
    struct visit *q = malloc(cap * sizeof *q);
    if (!q) return -ENOMEM;
    q[tail++] = (struct visit){root, 0};
    int rc = -ENOENT;
    while (head < tail && rc == -ENOENT) {
        struct visit v = q[head++];
        const uint8_t *t = rec(btf, v.id);
        uint32_t info = rd32(t + 4), vlen = vlen_of(info);
        for (uint32_t i = 0; i < vlen && rc == -ENOENT; i++) {
            const uint8_t *m = t + REC_LEN + 12 * i;
            uint32_t name_off = rd32(m), type = rd32(m + 4), off = rd32(m + 8), res;
            long bits = v.bits + (long)(kflag_of(info) ? off & 0xffffff : off);
            long bf = kflag_of(info) ? (long)(off >> 24) : 0;
            if (name_off != 0) {
                if (strcmp(str_at(btf, name_off), member) != 0) continue;
                long size;
                if ((rc = skip_mods(btf, type, &res)) || (rc = type_size(btf, res, &size))) break;
                const uint8_t *rt = rec(btf, res);
                if (!kflag_of(info) && kind_of(rd32(rt + 4)) == K_INT) {
                    /* Old encoding: the bitfield is described by the INT's offset and bits. */
                    uint32_t enc = rd32(rt + REC_LEN), ibits = enc & 0xff, ioff = (enc >> 16) & 0xff;
                    if (ioff || (uint64_t)ibits != 8 * (uint64_t)size) { bf = ibits; bits += ioff; }
                }
                *bit_offset = bits;
                *bitfield_size = bf;
                *byte_size = size;
                rc = 0;
            } else {
                if ((rc = skip_mods(btf, type, &res))) break;
                rc = -ENOENT;
                uint32_t kind = kind_of(info_of(btf, res));
                if (kind != K_STRUCT && kind != K_UNION) continue; /* e.g. an unnamed bitfield */
                if (tail == cap) {
                    struct visit *grown = cap < MAX_VISITS ? realloc(q, 2 * cap * sizeof *q) : NULL;
                    if (!grown) { rc = cap < MAX_VISITS ? -ENOMEM : -EINVAL; break; }
                    q = grown;
                    cap *= 2;
                }
                q[tail++] = (struct visit){res, bits};
            }
        }
    }
    free(q);
    return rc;
}

int gb_btf_enum_value(const gb_btf *_Nonnull btf, const char *_Nonnull enum_name,
                      const char *_Nonnull enumerator, long long *_Nonnull value) {
    for (uint32_t id = 1; id <= btf->ntypes; id++) {
        const uint8_t *t = rec(btf, id);
        uint32_t info = rd32(t + 4), kind = kind_of(info), vlen = vlen_of(info);
        if (kind != K_ENUM && kind != K_ENUM64) continue;
        if (*enum_name && strcmp(str_at(btf, rd32(t)), enum_name) != 0) continue;
        uint32_t step = kind == K_ENUM ? 8 : 12;
        for (uint32_t i = 0; i < vlen; i++) {
            const uint8_t *e = t + REC_LEN + i * step;
            if (strcmp(str_at(btf, rd32(e)), enumerator) != 0) continue;
            if (kind == K_ENUM) { /* kind_flag: signed */
                *value = kflag_of(info) ? (long long)(int32_t)rd32(e + 4) : (long long)rd32(e + 4);
                return 0;
            }
            /* 64 bits: the same two's-complement bits whether the enum is signed or not. */
            uint64_t v = (uint64_t)rd32(e + 8) << 32 | rd32(e + 4);
            *value = v <= LLONG_MAX ? (long long)v : (long long)(v - 1 - LLONG_MAX) + LLONG_MIN;
            return 0;
        }
    }
    return -ENOENT;
}
