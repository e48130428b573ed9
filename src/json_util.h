/* SPDX-License-Identifier: MIT */
#pragma once

/* Strict helpers over json-c for the decoders (arm_decode.c, kv_decode.c): parsing with
 * size and depth limits, typed member lookups that tell "absent", "null" and "wrong type"
 * apart, and copies into mem.h allocations. Pure: no I/O, no logging.
 *
 * Error codes used throughout: -EBADMSG for anything malformed or of the wrong type,
 * -E2BIG for anything beyond the limits below, -ENOMEM. */

#include <json-c/json.h>

#include "macro.h"

/* The HTTP layer caps bodies already; this is a second fence (and json-c takes an int). */
#define JSON_DOC_MAX ((size_t) 32 * 1024 * 1024)
/* Azure documents nest about 8 deep; anything past this is hostile. */
#define JSON_DEPTH_MAX 64
/* Longest string a decoder accepts: nextLink URLs with skip tokens reach a few KiB. */
#define JSON_STRING_MAX ((size_t) 16 * 1024)
/* Longest array and largest object (member count) a decoder walks. ARM pages hold up to
 * about 1000 items, Key Vault pages 25. */
#define JSON_ARRAY_MAX ((size_t) 10000)
#define JSON_MEMBERS_MAX ((size_t) 10000)

/* What a member lookup found. Negative returns are errors. */
enum json_field {
        JSON_FIELD_ABSENT = 0,
        JSON_FIELD_NULL = 1,
        JSON_FIELD_PRESENT = 2,
};

static inline void json_object_putp(struct json_object **p) {
        if (*p)
                json_object_put(*p);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Parses body[0..len) (need not be NUL-terminated) as exactly one JSON object, with only
 * whitespace around it (a leading UTF-8 byte order mark is skipped). Rejects invalid UTF-8,
 * the escape \u0000 anywhere, and nesting deeper than JSON_DEPTH_MAX (-E2BIG). On success
 * *ret owns the tree: drop it with json_object_put() in the same function.
 * Known json-c leniencies, harmless because every value is type-checked afterwards:
 * single-quoted strings and "1." are accepted, NaN/Infinity parse as doubles (the number
 * getters reject them), a duplicate member keeps its last value, lone surrogate escapes
 * become U+FFFD. json-c allocates with malloc(), not mem.h: an allocation failure inside
 * json-c shows as -EBADMSG. */
int json_parse_object(const char *body, size_t len, struct json_object **ret);

/* Checks an element already in hand (array item, map value): a string of at most
 * JSON_STRING_MAX bytes, valid UTF-8, without NUL. *ret is borrowed from v.
 * Returns 0, -EBADMSG, -E2BIG. */
int json_value_string(const struct json_object *v, const char **ret);
/* An array of at most JSON_ARRAY_MAX elements; *ret_n = its length. */
int json_value_array(const struct json_object *v, size_t *ret_n);
/* An object of at most JSON_MEMBERS_MAX members. */
int json_value_object(const struct json_object *v);
/* Any JSON number (not a string), truncated toward zero and saturated to int64; NaN and
 * infinities are rejected. Key Vault timestamps are integers, but some spec examples
 * carry fractions ("1493937.61"). */
int json_value_int64(const struct json_object *v, int64_t *ret);

/* Member lookups in the object o (which must be an object). Each returns JSON_FIELD_ABSENT
 * or JSON_FIELD_NULL leaving *ret untouched, JSON_FIELD_PRESENT with *ret set (borrowed
 * from o where a pointer), or -EBADMSG (another type) / -E2BIG (beyond the limits). */
int json_get_string(const struct json_object *o, const char *key, const char **ret);
int json_get_bool(const struct json_object *o, const char *key, bool *ret);
int json_get_int64(const struct json_object *o, const char *key, int64_t *ret);
int json_get_object(const struct json_object *o, const char *key, struct json_object **ret);
int json_get_array(const struct json_object *o, const char *key, struct json_object **ret, size_t *ret_n);

/* Like json_get_string(), but copies: on JSON_FIELD_PRESENT *ret is a new mem.h string
 * owned by the caller. Adds -ENOMEM. */
int json_dup_string(const struct json_object *o, const char *key, char **ret);

/* Required members: absent or null give -EBADMSG, so do empty strings. Return 0. */
int json_need_string(const struct json_object *o, const char *key, const char **ret);
int json_need_dup_string(const struct json_object *o, const char *key, char **ret);
int json_need_object(const struct json_object *o, const char *key, struct json_object **ret);

/* nextLink of a list page: a copy, or NULL when absent, null or "" (ARM's RPC says it is
 * never empty; an empty link names no page, so it ends the list, and the page's items are
 * kept). Returns 0, -EBADMSG (not a string), -E2BIG, -ENOMEM. */
int json_get_next_link(const struct json_object *o, char **ret);

/* The "value" array of a list page (required). Returns 0, -EBADMSG, -E2BIG. */
int json_get_page_value(const struct json_object *o, struct json_object **ret, size_t *ret_n);

/* Records a list item that failed to decode: increments *n_invalid and, when item is an
 * object with a readable string member id_key, appends a copy of it to the strv
 * *invalid_ids. Returns 0 or -ENOMEM. */
int json_note_invalid(const struct json_object *item, const char *id_key, size_t *n_invalid,
                      char ***invalid_ids);

/* Decodes one item of a list page into slot, the next unused element of the page's items
 * array (zeroed). Returns 0; -EBADMSG or -E2BIG when the item is invalid, with slot left
 * zeroed (anything decoded into it freed), so that the item is counted and skipped; or another
 * negative errno, which fails the whole page. */
typedef int (*json_item_fn)(const struct json_object *item, void *slot, void *userdata);

/* Where a list struct of model.h (struct cluster_list and its kind) keeps the members that
 * every list page has: its size, and the offsets of items, n_items, next_link, n_invalid
 * and invalid_ids. JSON_PAGE_LAYOUT(struct x_list) fills it in. */
struct json_page_layout {
        size_t size;
        size_t item_size; /* of one element of items */
        size_t items, n_items, next_link, n_invalid, invalid_ids;
};

#define JSON_PAGE_LAYOUT(type)                                                                          \
        ((const struct json_page_layout) {                                                              \
                .size = sizeof(type),                                                                   \
                .item_size = sizeof(((type *) NULL)->items[0]),                                         \
                .items = offsetof(type, items),                                                         \
                .n_items = offsetof(type, n_items),                                                     \
                .next_link = offsetof(type, next_link),                                                 \
                .n_invalid = offsetof(type, n_invalid),                                                 \
                .invalid_ids = offsetof(type, invalid_ids),                                             \
        })

/* Decodes one list page: parses body[0..len), takes its required "value" array
 * (json_get_page_value()) and its nextLink (json_get_next_link()), and decodes each element
 * with decode(item, slot, userdata) into a new items array (at least one element long, so
 * never NULL). Items that fail with json_item_error() are counted and skipped, and noted
 * with json_note_invalid() under their member id_key. The new list (layout.size bytes,
 * zeroed first) is stored in *ret_list as soon as it is allocated, also when a later step
 * fails: the caller owns it from then on and frees it with the list's _free() function, which
 * finds in it whatever was decoded so far. Returns 0, -EBADMSG, -E2BIG, -ENOMEM, or what
 * decode returned. */
int json_decode_page(const char *body, size_t len, struct json_page_layout layout, const char *id_key,
                     json_item_fn decode, void *userdata, void **ret_list);

/* True for errors that make one list item invalid rather than the whole page. */
static inline bool json_item_error(int r) {
        return r == -EBADMSG || r == -E2BIG;
}

/* True if p[0..n) holds the escape \u0000 (outside of an escaped backslash), which
 * json_parse_object() refuses anywhere in a document. */
bool json_has_nul_escape(const char *p, size_t n);

/* The checks a document gets before it is parsed, the same for json_parse_object() and
 * json_scan_document(), in this order: at most JSON_DOC_MAX bytes (-E2BIG), not empty
 * (-EBADMSG), no \u0000 escape (-EBADMSG). A leading UTF-8 byte order mark is skipped: *body
 * and *len are moved past it. Returns 0 when the document may be parsed. */
int json_doc_precheck(const char **body, size_t *len);

/* True if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF). */
bool json_utf8_valid(const char *s, size_t n);
/* The UTF-8 sequence at p (a byte >= 0x80): its length if well-formed (no overlongs,
 * surrogates or code points past U+10FFFF) and within end, else 0. */
size_t json_utf8_sequence(const unsigned char *p, const unsigned char *end);
