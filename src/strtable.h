/* SPDX-License-Identifier: MIT */
#pragma once

/* Enum <-> name tables: the names of an enum's values in a `static const char *const
 * table[]` indexed by the value, and x_to_string()/x_from_string() generated from it.
 * Header only (the decoder fuzzers link a fixed list of modules). Pure: no allocation. */

#include "macro.h"

/* table[i], or NULL when i is out of [0, n) or has no name. */
static inline const char *string_table_to_string(const char *const *table, size_t n, int i) {
        return i >= 0 && (size_t) i < n ? table[i] : NULL;
}

/* The index whose name is s, compared exactly or (no_case) ignoring ASCII case; -EINVAL
 * when s is NULL or names no entry. */
static inline int string_table_from_string(const char *const *table, size_t n, const char *s, bool no_case) {
        for (size_t i = 0; s && i < n; i++)
                if (table[i] && (no_case ? strcasecmp(table[i], s) : strcmp(table[i], s)) == 0)
                        return (int) i;
        return -EINVAL;
}

/* Define name##_to_string(type) and name##_from_string(const char *) over table, an array
 * (not a pointer) of names indexed by type. _from_string() returns -EINVAL (the enum's
 * _X_INVALID) for NULL and for unknown names. `static DEFINE_STRING_TABLE_LOOKUP_TO_STRING()`
 * makes a private _to_string(). */
#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, table)                                        \
        const char *name##_to_string(type x) {                                                        \
                return string_table_to_string(table, ELEMENTSOF(table), (int) x);                      \
        }

#define _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, table, no_case)                            \
        type name##_from_string(const char *s) {                                                      \
                return (type) string_table_from_string(table, ELEMENTSOF(table), s, no_case);          \
        }

/* Names compared exactly. */
#define DEFINE_STRING_TABLE_LOOKUP(name, type, table)                                                  \
        DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, table)                                        \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, table, false)

/* Names compared ignoring ASCII case: for values a user writes (config) in any case. */
#define DEFINE_STRING_TABLE_LOOKUP_NO_CASE(name, type, table)                                          \
        DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, table)                                        \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, table, true)
