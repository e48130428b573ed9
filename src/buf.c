/* SPDX-License-Identifier: MIT */
/* Bounded growing buffer. */

#include <stdio.h>

#include "buf.h"
#include "mem.h"

void buf_init(struct buf *b, size_t max) {
        *b = (struct buf) { .max = max ?: SIZE_MAX / 2 };
}

void buf_done(struct buf *b) {
        mem_free(b->data);
        b->data = NULL;
        b->len = b->allocated = 0;
}

void buf_done_secret(struct buf *b) {
        explicit_wipe(b->data, b->allocated);
        buf_done(b);
}

void buf_clear(struct buf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = 0;
}

static int buf_reserve(struct buf *b, size_t n) {
        size_t need;

        if (n > b->max - b->len)
                return -E2BIG;
        need = b->len + n + 1;
        if (need <= b->allocated)
                return 0;
        return GREEDY_REALLOC(b->data, b->allocated, need);
}

int buf_append(struct buf *b, const void *p, size_t n) {
        int r;

        r = buf_reserve(b, n);
        if (r < 0)
                return r;
        if (n > 0)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
}

int buf_puts(struct buf *b, const char *s) {
        return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c) {
        return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *format, va_list ap) {
        va_list aq;
        int n, r;

        va_copy(aq, ap);
        n = vsnprintf(NULL, 0, format, aq);
        va_end(aq);
        if (n < 0)
                return -EINVAL;
        r = buf_reserve(b, (size_t) n);
        if (r < 0)
                return r;
        vsnprintf(b->data + b->len, (size_t) n + 1, format, ap);
        b->len += (size_t) n;
        return 0;
}

int buf_printf(struct buf *b, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = buf_vprintf(b, format, ap);
        va_end(ap);
        return r;
}

/* Whether a byte goes into a JSON string as it is: not a quote, backslash or control. */
static bool json_plain(unsigned char c) {
        return c >= 0x20 && c != '"' && c != '\\' && c != 0x7f;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Whether any byte of x is below n (n <= 0x80; the classic bit trick, exact for "any"). */
static bool has_byte_below(uint64_t x, unsigned n) {
        return ((x - ONES * n) & ~x & HIGHS) != 0;
}

/* Past the plain bytes from p on, up to end: eight at a time while a word has none to escape. */
static const unsigned char *json_plain_run(const unsigned char *p, const unsigned char *end) {
        while (end - p >= 8) {
                uint64_t x;

                memcpy(&x, p, sizeof x);
                if (has_byte_below(x, 0x20) || has_byte_below(x ^ (ONES * '"'), 1) ||
                    has_byte_below(x ^ (ONES * '\\'), 1) || has_byte_below(x ^ (ONES * 0x7f), 1))
                        break;
                p += 8;
        }
        while (p < end && json_plain(*p))
                p++;
        return p;
}

int buf_put_json_string(struct buf *b, const char *s) {
        size_t saved = b->len;
        const unsigned char *p = (const unsigned char *) s, *end = p + strlen(s);
        int r;

        r = buf_putc(b, '"');
        while (r >= 0 && p < end) {
                const unsigned char *run = p;

                /* A run of plain bytes in one copy: most strings are nothing else. */
                p = json_plain_run(p, end);
                if (p > run) {
                        r = buf_append(b, run, (size_t) (p - run));
                        continue;
                }
                switch (*p) {
                case '"':
                        r = buf_puts(b, "\\\"");
                        break;
                case '\\':
                        r = buf_puts(b, "\\\\");
                        break;
                case '\n':
                        r = buf_puts(b, "\\n");
                        break;
                case '\r':
                        r = buf_puts(b, "\\r");
                        break;
                case '\t':
                        r = buf_puts(b, "\\t");
                        break;
                default:
                        r = buf_printf(b, "\\u%04x", *p);
                }
                p++;
        }
        if (r >= 0)
                r = buf_putc(b, '"');
        if (r < 0) {
                b->len = saved;
                if (b->data)
                        b->data[saved] = 0;
        }
        return r;
}

int buf_put_json_member(struct buf *b, const char *key, const char *value) {
        int r;

        r = buf_printf(b, ",\"%s\":", key);
        if (r < 0)
                return r;
        return value ? buf_put_json_string(b, value) : buf_puts(b, "null");
}

const char *buf_str(const struct buf *b) {
        return b->data ?: "";
}

char *buf_steal(struct buf *b) {
        char *d = b->data;

        if (!d)
                d = mem_strdup("");
        b->data = NULL;
        b->len = b->allocated = 0;
        return d;
}
