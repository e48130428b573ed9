/* SPDX-License-Identifier: MIT */
#pragma once

/* A growing byte buffer with a hard maximum: past it, appends fail with -E2BIG, so no
 * answer from the network or file can make cmkd grow without bound. The contents are
 * always NUL-terminated. */

#include <stdarg.h>
#include <stddef.h>

#include "macro.h"

struct buf {
        char *data; /* owned; NULL until the first append */
        size_t len;
        size_t allocated;
        size_t max; /* most bytes ever held, not counting the NUL; 0 = SIZE_MAX/2 */
};

void buf_init(struct buf *b, size_t max);
/* Frees the contents; the struct may be reused after buf_init(). */
void buf_done(struct buf *b);
/* Like buf_done(), but wipes the bytes first: for buffers that held a secret. */
void buf_done_secret(struct buf *b);
void buf_clear(struct buf *b);

/* Return 0, -ENOMEM or -E2BIG (the buffer is unchanged on failure). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *format, ...) _printf_(2, 3);
int buf_vprintf(struct buf *b, const char *format, va_list ap) _printf_(2, 0);

/* Appends s as a JSON string literal, quotes included. */
int buf_put_json_string(struct buf *b, const char *s);
/* Appends ,"key": and value as a JSON string, or null when value is NULL: a further member of
 * an object. key is written as it is (a name with nothing to escape). */
int buf_put_json_member(struct buf *b, const char *key, const char *value);

/* Always a valid C string, "" when empty. Borrowed. */
const char *buf_str(const struct buf *b);

/* Hands the data out (caller frees with mem_free); the buffer is left empty. */
char *buf_steal(struct buf *b);
