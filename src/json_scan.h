/* SPDX-License-Identifier: MIT */
#pragma once

/* A JSON reader without a tree, for the decoder that reads tens of megabytes a sweep (the
 * mongoCluster list pages): the document is checked once, whole, as json_parse_object()
 * checks it (json_util.h), and then read in place. A value is the pointer to its first byte
 * in the document; an object's members are looked up in one walk over it; strings are copied
 * (unescaped, NUL-terminated, into an arena) only when read. json-c builds a tree of a few
 * hundred allocations per cluster and frees it again: five times the CPU of the rest of the
 * decoding.
 *
 * Lookups follow json-c, so that a decoder built on this reads a document exactly as one
 * built on json_util.h: of duplicate members the last wins, and walking an object's members
 * gives each distinct name once, in the order it first appeared, with its last value. The
 * document checks are json_parse_object()'s: one object with only whitespace around it (a
 * leading byte order mark skipped), strict syntax (but single-quoted member names, which json-c
 * takes in strict mode too), valid UTF-8, no \u0000 escape, nesting at
 * most JSON_DEPTH_MAX deep (-E2BIG), at most JSON_DOC_MAX bytes (-E2BIG); inside strings any
 * byte but NUL, as json-c takes; lone surrogate escapes become U+FFFD; numbers as json-c's
 * strict mode takes them (NaN, Infinity, "1.", "-01" included: they are only checked, never
 * read). One difference: json-c takes any UTF-8 byte pattern of the right shape, overlongs,
 * surrogates and code points past U+10FFFF included, where they are refused here (-EBADMSG),
 * as json_util.h promises.
 *
 * Pure: no I/O, no logging. Allocation (the arena, the member lists) goes through mem.h. */

#include "macro.h"

/* Where read strings live, in blocks that never move, until the arena is reset. */
struct json_scan_arena {
        struct json_scan_block *blocks; /* owned list, the one being filled first */
};

/* One checked document. Reading it skips whole objects and arrays at a time: the check
 * notes where each one ends. */
struct json_scan {
        const char *start;              /* the document (borrowed from the caller) */
        uint32_t *open, *close;         /* owned: offsets of each container's first and last byte,
                                         * in document order */
        size_t n_containers, allocated;
        struct json_scan_arena strings; /* what json_scan_string() and json_scan_members() return */
};

/* Checks body[0..len) as described above; body must outlive s. Returns 0 with *ret pointing at
 * the top object's '{' (inside body), -EBADMSG, -E2BIG, or -ENOMEM. s is initialized either way:
 * json_scan_done() it. Every other function takes values of a document checked so. */
int json_scan_document(struct json_scan *s, const char *body, size_t len, const char **ret);
/* Frees what s holds (strings read from it included). */
void json_scan_done(struct json_scan *s);
/* Frees the strings read so far (the blocks but one): for a decoder done with one item. */
void json_scan_forget_strings(struct json_scan *s);

enum json_scan_type {
        JSON_SCAN_NULL,
        JSON_SCAN_BOOLEAN,
        JSON_SCAN_NUMBER,
        JSON_SCAN_STRING,
        JSON_SCAN_ARRAY,
        JSON_SCAN_OBJECT,
};

enum json_scan_type json_scan_type(const char *v);

/* The value after v in its array, or NULL when v was the last. */
const char *json_scan_next(const struct json_scan *s, const char *v);
/* The first element of array a, or NULL when it is empty. */
const char *json_scan_first(const char *a);
/* Elements of array a. */
size_t json_scan_array_length(const struct json_scan *s, const char *a);

/* Looks up n keys in object o in one walk over it: values[i] is the value of the last member
 * named keys[i], or NULL when there is none (a JSON null is a value: see json_scan_type()).
 * Names are compared after unescaping. Returns the number of members (a name given twice
 * counting twice) when that is at most JSON_MEMBERS_MAX, else the number of distinct ones
 * (what json_object_object_length() says), so that a comparison with JSON_MEMBERS_MAX comes
 * out as with json-c; or -ENOMEM. */
int json_scan_lookup(struct json_scan *s, const char *o, const char *const *keys, size_t n,
                     const char **values);
/* The most keys one lookup takes. */
#define JSON_SCAN_LOOKUP_MAX 16

struct json_scan_member {
        const char *name; /* unescaped, NUL-terminated, among s's strings */
        size_t name_len;
        const char *value;
};

/* Every distinct member of object o, in the order it first appeared, with its last value:
 * *ret is a new array (mem.h) of *ret_n. Returns 0 or -ENOMEM. */
int json_scan_members(struct json_scan *s, const char *o, struct json_scan_member **ret, size_t *ret_n);

/* The string v unescaped among s's strings (NUL-terminated; *ret_len its length, optional).
 * Returns 0, -EBADMSG when v is not a string, -ENOMEM. */
int json_scan_string(struct json_scan *s, const char *v, const char **ret, size_t *ret_len);
