/* SPDX-License-Identifier: MIT */
/* Open-addressing hash map with linear probing and tombstones. Each entry keeps its key's
 * hash: a probe compares strings only when the hashes match, and growing never hashes a key
 * again. Case-insensitive maps fold ASCII letters only, in the hash and the comparison alike
 * (ARM ids are ASCII; the locale plays no part). */

#include "hashmap.h"
#include "mem.h"

struct entry {
        char *key; /* owned unless the map borrows keys; NULL = empty slot */
        void *value;
        uint32_t hash;
        bool deleted; /* tombstone: key is NULL and the slot was used */
};

struct hashmap {
        struct entry *entries; /* owned */
        size_t n_buckets;
        size_t n_items;
        size_t n_used; /* items + tombstones */
        bool case_insensitive;
        bool borrow_keys; /* keys belong to the caller */
        hashmap_free_fn free_value;
};

static unsigned char ascii_fold(unsigned char c) {
        return c >= 'A' && c <= 'Z' ? (unsigned char) (c + ('a' - 'A')) : c;
}

static uint32_t hash_string(const char *s, bool fold) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */

        if (fold)
                for (; *s; s++) {
                        h ^= ascii_fold((unsigned char) *s);
                        h *= 1099511628211ULL;
                }
        else
                for (; *s; s++) {
                        h ^= (unsigned char) *s;
                        h *= 1099511628211ULL;
                }
        return (uint32_t) (h ^ (h >> 32));
}

static bool ascii_case_eq(const char *a, const char *b) {
        for (; *a && ascii_fold((unsigned char) *a) == ascii_fold((unsigned char) *b); a++, b++)
                ;
        return ascii_fold((unsigned char) *a) == ascii_fold((unsigned char) *b);
}

static bool key_eq(const struct hashmap *h, const char *a, const char *b) {
        /* Keys of a case-insensitive map mostly come in one spelling: the plain comparison
         * (vectorized in libc) settles those. */
        if (strcmp(a, b) == 0)
                return true;
        return h->case_insensitive && ascii_case_eq(a, b);
}

struct hashmap *hashmap_new(bool case_insensitive, hashmap_free_fn free_value) {
        struct hashmap *h = new0(struct hashmap, 1);

        if (!h)
                return NULL;
        h->case_insensitive = case_insensitive;
        h->free_value = free_value;
        return h;
}

struct hashmap *hashmap_new_borrowed(bool case_insensitive, hashmap_free_fn free_value) {
        struct hashmap *h = hashmap_new(case_insensitive, free_value);

        if (h)
                h->borrow_keys = true;
        return h;
}

struct hashmap *hashmap_free(struct hashmap *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n_buckets; i++)
                if (h->entries[i].key) {
                        if (!h->borrow_keys)
                                mem_free(h->entries[i].key);
                        if (h->free_value)
                                h->free_value(h->entries[i].value);
                }
        mem_free(h->entries);
        mem_free(h);
        return NULL;
}

static struct entry *find_hashed(const struct hashmap *h, const char *key, uint32_t hash) {
        size_t i;

        if (h->n_buckets == 0)
                return NULL;
        i = hash & (h->n_buckets - 1);
        for (size_t probes = 0; probes < h->n_buckets; probes++) {
                struct entry *e = &h->entries[i];

                if (!e->key && !e->deleted)
                        return NULL;
                if (e->key && e->hash == hash && key_eq(h, e->key, key))
                        return e;
                i = (i + 1) & (h->n_buckets - 1);
        }
        return NULL;
}

static struct entry *find(const struct hashmap *h, const char *key) {
        return h->n_buckets == 0 ? NULL : find_hashed(h, key, hash_string(key, h->case_insensitive));
}

static int resize(struct hashmap *h, size_t n_buckets) {
        struct entry *old = h->entries, *e;
        size_t old_n = h->n_buckets;

        e = new0(struct entry, n_buckets);
        if (!e)
                return -ENOMEM;
        h->entries = e;
        h->n_buckets = n_buckets;
        h->n_used = h->n_items;
        for (size_t i = 0; i < old_n; i++) {
                size_t j;

                if (!old[i].key)
                        continue;
                j = old[i].hash & (n_buckets - 1);
                while (e[j].key)
                        j = (j + 1) & (n_buckets - 1);
                e[j] = (struct entry) { .key = old[i].key, .value = old[i].value, .hash = old[i].hash };
        }
        mem_free(old);
        return 0;
}

int hashmap_put(struct hashmap *h, const char *key, void *value) {
        uint32_t hash = hash_string(key, h->case_insensitive);
        size_t i;
        char *k;
        int r;

        if (find_hashed(h, key, hash))
                return -EEXIST;
        if ((h->n_used + 1) * 4 >= h->n_buckets * 3) {
                size_t n = h->n_buckets ? h->n_buckets : 16;

                while ((h->n_items + 1) * 2 >= n)
                        n *= 2;
                r = resize(h, n);
                if (r < 0)
                        return r;
        }
        k = h->borrow_keys ? (char *) key : mem_strdup(key);
        if (!k)
                return -ENOMEM;
        i = hash & (h->n_buckets - 1);
        while (h->entries[i].key)
                i = (i + 1) & (h->n_buckets - 1);
        if (!h->entries[i].deleted)
                h->n_used++;
        h->entries[i] = (struct entry) { .key = k, .value = value, .hash = hash };
        h->n_items++;
        return 0;
}

void *hashmap_get(const struct hashmap *h, const char *key) {
        struct entry *e;

        /* A map that could not be allocated holds nothing. */
        if (!h)
                return NULL;
        e = find(h, key);

        return e ? e->value : NULL;
}

void *hashmap_remove(struct hashmap *h, const char *key) {
        struct entry *e = find(h, key);
        void *v;

        if (!e)
                return NULL;
        v = e->value;
        if (!h->borrow_keys)
                mem_free(e->key);
        *e = (struct entry) { .deleted = true };
        h->n_items--;
        return v;
}

size_t hashmap_size(const struct hashmap *h) {
        return h ? h->n_items : 0;
}

bool hashmap_iterate(const struct hashmap *h, size_t *state, const char **ret_key, void **ret_value) {
        if (!h)
                return false;
        for (; *state < h->n_buckets; (*state)++)
                if (h->entries[*state].key) {
                        *ret_key = h->entries[*state].key;
                        *ret_value = h->entries[*state].value;
                        (*state)++;
                        return true;
                }
        return false;
}
