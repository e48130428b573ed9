/* SPDX-License-Identifier: MIT */
/* Allocation wrapper with a failure-injection hook (the curl "torture" idea).
 * It must never log: logging allocates. */

#include <curl/curl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static unsigned long alloc_count;
static unsigned long fail_at;
static bool fail_sticky;
static bool failure_injected;

static bool should_fail(void) {
        alloc_count++;
        if (fail_at == 0)
                return false;
        if (alloc_count == fail_at || (fail_sticky && alloc_count > fail_at)) {
                failure_injected = true;
                return true;
        }
        return false;
}

void mem_fail_at(unsigned long n, bool sticky) {
        alloc_count = 0;
        fail_at = n;
        fail_sticky = sticky;
        failure_injected = false;
}

unsigned long mem_alloc_count(void) {
        return alloc_count;
}

bool mem_failure_injected(void) {
        return failure_injected;
}

void *mem_malloc(size_t size) {
        if (should_fail())
                return NULL;
        return malloc(size ?: 1);
}

void *mem_calloc(size_t n, size_t size) {
        if (should_fail())
                return NULL;
        return calloc(n ?: 1, size ?: 1);
}

void *mem_realloc(void *p, size_t size) {
        if (should_fail())
                return NULL;
        return realloc(p, size ?: 1);
}

char *mem_strdup(const char *s) {
        if (!s)
                return NULL;
        return mem_memdup(s, strlen(s) + 1);
}

char *mem_strndup(const char *s, size_t n) {
        size_t l = strnlen(s, n);
        char *r = mem_malloc(l + 1);
        if (!r)
                return NULL;
        memcpy(r, s, l);
        r[l] = 0;
        return r;
}

void *mem_memdup(const void *p, size_t n) {
        void *r = mem_malloc(n);
        if (!r)
                return NULL;
        memcpy(r, p, n);
        return r;
}

void mem_free(void *p) {
        free(p);
}

void mem_free_secret(char *s) {
        if (!s)
                return;
        explicit_wipe(s, strlen(s));
        free(s);
}

int mem_grow(void **p, size_t *allocated, size_t need, size_t size) {
        size_t n;
        void *q;

        if (need <= *allocated)
                return 0;
        n = MAX(need, *allocated * 2);
        n = MAX(n, (size_t) 8);
        if (n > SIZE_MAX / size)
                return -ENOMEM;
        q = mem_realloc(*p, n * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *allocated = n;
        return 0;
}

static char *curl_strdup_cb(const char *s) {
        return mem_strdup(s);
}

int mem_curl_global_init(long flags) {
        if (curl_global_init_mem(flags, mem_malloc, mem_free, mem_realloc, curl_strdup_cb, mem_calloc) != CURLE_OK)
                return -EIO;
        return 0;
}

void mem_trim(void) {
        (void) malloc_trim(0);
}
