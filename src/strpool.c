/* SPDX-License-Identifier: MIT */
/* Interned strings in blocks, with an open-addressing table (linear probing) of hash, length
 * and pointer. It only ever adds; it must not hand out a string that a later call could move
 * (blocks never grow in place: a full block is left as it is and a new one started). */

#include "mem.h"
#include "strpool.h"

/* Strings go into blocks of this size; a string longer than a quarter of it gets a block
 * of its own, so that a block is never left more than a quarter empty for want of room. */
#define STRPOOL_BLOCK_BYTES ((size_t) 16 * 1024)

struct strpool_block {
        struct strpool_block *next; /* owned */
        size_t used, size;
        char data[];
};

struct strpool_entry {
        const char *s; /* NULL: empty slot; else in a block */
        uint32_t hash;
        uint32_t len;
};

struct strpool {
        struct strpool_block *blocks; /* owned list, the block being filled first */
        struct strpool_entry *table;  /* owned; n_slots is a power of two */
        size_t n_slots, n_items, bytes;
};

int strpool_new(struct strpool **ret) {
        struct strpool *p = new0(struct strpool, 1);

        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

struct strpool *strpool_free(struct strpool *p) {
        if (!p)
                return NULL;
        while (p->blocks) {
                struct strpool_block *b = p->blocks;

                p->blocks = b->next;
                mem_free(b);
        }
        mem_free(p->table);
        mem_free(p);
        return NULL;
}

static uint32_t hash_bytes(const char *s, size_t n) {
        uint32_t h = 2166136261u; /* FNV-1a */

        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char) s[i];
                h *= 16777619u;
        }
        return h;
}

static int table_grow(struct strpool *p) {
        size_t n = p->n_slots ? p->n_slots * 2 : 256;
        struct strpool_entry *t = new0(struct strpool_entry, n);

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_slots; i++) {
                const struct strpool_entry *e = &p->table[i];
                size_t j;

                if (!e->s)
                        continue;
                for (j = e->hash & (n - 1); t[j].s; j = (j + 1) & (n - 1))
                        ;
                t[j] = *e;
        }
        p->bytes += (n - p->n_slots) * sizeof(struct strpool_entry);
        mem_free(p->table);
        p->table = t;
        p->n_slots = n;
        return 0;
}

/* Room for n bytes: in the block being filled, or a new one. */
static char *block_take(struct strpool *p, size_t n) {
        struct strpool_block *b = p->blocks;

        if (!b || b->size - b->used < n) {
                size_t size = n > STRPOOL_BLOCK_BYTES / 4 ? n : STRPOOL_BLOCK_BYTES;

                b = mem_malloc(offsetof(struct strpool_block, data) + size);
                if (!b)
                        return NULL;
                b->used = 0;
                b->size = size;
                p->bytes += offsetof(struct strpool_block, data) + size;
                if (size == STRPOOL_BLOCK_BYTES || !p->blocks) {
                        b->next = p->blocks;
                        p->blocks = b;
                } else {
                        /* A block of its own is full at once: keep filling the current one. */
                        b->next = p->blocks->next;
                        p->blocks->next = b;
                }
        }
        b->used += n;
        return b->data + b->used - n;
}

const char *strpool_intern(struct strpool *p, const char *s, size_t n) {
        uint32_t h = hash_bytes(s, n);
        size_t i;
        char *c;

        if (n >= UINT32_MAX)
                return NULL;
        /* At most three quarters full, so that a probe always ends on an empty slot. */
        if ((p->n_items + 1) * 4 > p->n_slots * 3 && table_grow(p) < 0)
                return NULL;
        for (i = h & (p->n_slots - 1); p->table[i].s; i = (i + 1) & (p->n_slots - 1))
                if (p->table[i].hash == h && p->table[i].len == n && memcmp(p->table[i].s, s, n) == 0)
                        return p->table[i].s;
        c = block_take(p, n + 1);
        if (!c)
                return NULL;
        memcpy(c, s, n);
        c[n] = 0;
        p->table[i] = (struct strpool_entry) { .s = c, .hash = h, .len = (uint32_t) n };
        p->n_items++;
        return c;
}

size_t strpool_count(const struct strpool *p) {
        return p->n_items;
}

size_t strpool_bytes(const struct strpool *p) {
        return p->bytes;
}
