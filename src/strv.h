/* SPDX-License-Identifier: MIT */
#pragma once

/* NULL-terminated arrays of owned strings. */

#include "macro.h"

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);
/* Appends a copy of s. Returns 0 or -ENOMEM (l unchanged). */
int strv_extend(char ***l, const char *s);
/* Appends s itself, taking ownership even on failure (s is freed then). */
int strv_consume(char ***l, char *s);
/* Splits s on any of the separator characters, dropping empty words. */
int strv_split(const char *s, const char *separators, char ***ret);
char **strv_copy(char *const *l);
bool strv_contains(char *const *l, const char *s);
bool strv_contains_case(char *const *l, const char *s);
bool strv_equal(char *const *a, char *const *b);

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
