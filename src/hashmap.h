/* SPDX-License-Identifier: MIT */
#pragma once

/* String-keyed hash map (open addressing). Keys are copied and owned by the map (or
 * borrowed: hashmap_new_borrowed());
 * values are borrowed unless a value destructor is given. ARM resource ids compare
 * case-insensitively, so a map can be made case-insensitive: ASCII letters only, whatever the
 * locale. */

#include "macro.h"

struct hashmap;
typedef void (*hashmap_free_fn)(void *value);

/* Returns NULL on allocation failure. */
struct hashmap *hashmap_new(bool case_insensitive, hashmap_free_fn free_value);
/* The same, but keys are borrowed, not copied: each must stay valid and unchanged while its
 * entry is in the map, and the map never frees or reads them after that (a map of tens of
 * thousands of cluster ids need not hold a second copy of each). */
struct hashmap *hashmap_new_borrowed(bool case_insensitive, hashmap_free_fn free_value);
/* Frees keys, and values through free_value. Accepts NULL; returns NULL. */
struct hashmap *hashmap_free(struct hashmap *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct hashmap *, hashmap_free);

/* Returns 0 on insert, -EEXIST if the key is present (nothing changed), -ENOMEM. */
int hashmap_put(struct hashmap *h, const char *key, void *value);
/* The value of key, or NULL when absent. h may be NULL (a map never allocated: empty). */
void *hashmap_get(const struct hashmap *h, const char *key);
/* Removes the entry and returns its value without freeing it (NULL if absent). */
void *hashmap_remove(struct hashmap *h, const char *key);
size_t hashmap_size(const struct hashmap *h);

/* Iteration in unspecified order; *state starts at 0. Returns false at the end.
 * The map must not change during an iteration. */
bool hashmap_iterate(const struct hashmap *h, size_t *state, const char **ret_key, void **ret_value);

#define HASHMAP_FOREACH(k, v, h) \
        for (size_t _i_ = 0; hashmap_iterate((h), &_i_, &(k), (void **) &(v));)
