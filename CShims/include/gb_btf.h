/*
 * gb_btf.h — a small reader of the kernel's BTF type information (Documentation/bpf/btf.rst), as
 * /sys/kernel/btf/vmlinux exports it. It checks the page-descriptor model's layout against the
 * running kernel's own types: struct sizes, member offsets and enumerator values.
 *
 * Every function returns 0 on success or a negative errno: -ENOENT when a name is not found,
 * -EINVAL for a malformed or truncated blob (nothing is ever read outside it), -ENOMEM, or the
 * -errno of open/read. Out-parameters are written only on success. No global state.
 */
#ifndef GB_BTF_H
#define GB_BTF_H

#include <stddef.h>

/* Swift (clang) reads the nullability annotations; gcc does not know them. */
#ifndef __clang__
#ifndef _Nonnull
#define _Nonnull
#endif
#ifndef _Nullable
#define _Nullable
#endif
#endif

typedef struct gb_btf gb_btf; /* opaque: the parsed blob and an index of its type records */

/* Parses a BTF blob (copied, so `data` may be freed afterwards); *out is NULL on failure. */
int gb_btf_open_blob(const void *_Nonnull data, size_t len, gb_btf *_Nullable *_Nonnull out);

/* Reads `path` (e.g. /sys/kernel/btf/vmlinux) to EOF and parses it; *out is NULL on failure. */
int gb_btf_open_file(const char *_Nonnull path, gb_btf *_Nullable *_Nonnull out);

void gb_btf_close(gb_btf *_Nullable btf);

/* Byte size of the first STRUCT or UNION named `name` (FWD declarations are skipped). */
int gb_btf_struct_size(const gb_btf *_Nonnull btf, const char *_Nonnull name, long *_Nonnull size);

/*
 * The member `member` of the struct (or union) `name`: a direct member, or one inside anonymous
 * struct/union members at any depth, their offsets added up; breadth-first, so the shallowest
 * match wins, and among equal depth the first in declaration order. Gives its bit offset from the
 * start of `name`, its bitfield size in bits (0 when not a bitfield) and its byte size with
 * typedef/volatile/const/restrict/type_tag resolved (arrays: element size * nelems; pointers:
 * the host's pointer size; for a bitfield: the size of its declared type).
 */
int gb_btf_member(const gb_btf *_Nonnull btf, const char *_Nonnull name, const char *_Nonnull member,
                  long *_Nonnull bit_offset, long *_Nonnull bitfield_size, long *_Nonnull byte_size);

/*
 * The value of `enumerator` in the ENUM or ENUM64 named `enum_name` (the first such enum that has
 * it); with enum_name "" every enum, anonymous ones included, is searched. Values are signed or
 * unsigned as the enum's kind_flag says; an unsigned 64-bit value above LLONG_MAX wraps.
 */
int gb_btf_enum_value(const gb_btf *_Nonnull btf, const char *_Nonnull enum_name,
                      const char *_Nonnull enumerator, long long *_Nonnull value);

#endif /* GB_BTF_H */
