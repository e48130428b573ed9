/* SPDX-License-Identifier: MIT */
#pragma once

/* The one allocator of cmkd. Every allocation of ours and of libcurl (through
 * curl_global_init_mem) goes through here, so that a test can fail the Nth one and
 * prove that every failure path is clean. */

#include <stddef.h>

#include "macro.h"

void *mem_malloc(size_t size);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *p, size_t size);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
void mem_free(void *p);

/* Copies n bytes. Returns NULL on allocation failure. */
void *mem_memdup(const void *p, size_t n);

/* Frees a string after wiping it: for tokens and secrets. Accepts NULL. */
void mem_free_secret(char *s);

#define new(t, n) ((t *) mem_malloc_multiply(sizeof(t), (n)))
#define new0(t, n) ((t *) mem_calloc((n), sizeof(t)))

static inline void *mem_malloc_multiply(size_t size, size_t n) {
        if (size > 0 && n > SIZE_MAX / size)
                return NULL;
        return mem_malloc(size * n);
}

/* Grows *p to hold at least need elements of size bytes, doubling. Returns -ENOMEM. */
int mem_grow(void **p, size_t *allocated, size_t need, size_t size);
#define GREEDY_REALLOC(p, allocated, need) mem_grow((void **) &(p), &(allocated), (need), sizeof((p)[0]))

static inline void freep(void *p) {
        mem_free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Test hooks. mem_fail_at(n): the n-th allocation from now (1-based) and, when
 * 'sticky', every later one, return NULL. n == 0 disables failures. */
void mem_fail_at(unsigned long n, bool sticky);
unsigned long mem_alloc_count(void);
bool mem_failure_injected(void);

/* Hands free heap memory back to the kernel (glibc's malloc_trim()): for a moment when much
 * has just been freed and more is about to be allocated (a sweep's list pages and requests gone,
 * its results not built yet), so that the peak is not the sum of both. */
void mem_trim(void);

/* Wires libcurl's allocations through us. Must run before any other curl call.
 * Returns 0 or -EIO. */
int mem_curl_global_init(long flags);
