/* SPDX-License-Identifier: MIT */
#pragma once

/* A pool of interned strings for objects that live and die together (the clusters of one
 * sweep): each distinct string is stored once, in large blocks rather than an allocation of
 * its own, and found again by its hash. Ten thousand clusters name a few hundred identities,
 * locations and states and a few thousand key URLs between them. Strings are compared
 * exactly (case-sensitive). Nothing is removed before strpool_free(). */

#include "macro.h"

struct strpool;

/* Returns 0 or -ENOMEM. */
int strpool_new(struct strpool **ret);
/* Frees every string of the pool: whatever points into it must be gone. Accepts NULL;
 * returns NULL. */
struct strpool *strpool_free(struct strpool *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct strpool *, strpool_free);

/* The pool's NUL-terminated copy of s[0..n), added if the pool has none yet (s need not be
 * NUL-terminated; it must not contain NUL). Valid until strpool_free(). NULL on allocation
 * failure (the pool is unchanged then). */
const char *strpool_intern(struct strpool *p, const char *s, size_t n);

/* Distinct strings held, and the bytes the pool holds for them (blocks and table). */
size_t strpool_count(const struct strpool *p);
size_t strpool_bytes(const struct strpool *p);
