/* SPDX-License-Identifier: MIT */
/* JSON read in place: one checking pass over the whole document, then walks that skip what
 * they do not read. It must accept nothing json_parse_object() refuses, read every accepted
 * document as json-c reads it (see json_scan.h for the few number forms it refuses more), and
 * never read past a document it has not checked. */

#include <assert.h>
#include <limits.h>

#include "hashmap.h"
#include "json_scan.h"
#include "json_util.h"
#include "mem.h"

#define ARENA_BLOCK_BYTES ((size_t) 8 * 1024)
/* Object names longer than this are never among those looked up. */
#define LOOKUP_NAME_MAX 64
/* Past this many members, json_scan_members() finds duplicates with a hash map. */
#define MEMBERS_LINEAR_MAX 32

struct json_scan_block {
        struct json_scan_block *next;
        size_t used, size;
        char data[];
};

static void arena_reset(struct json_scan_arena *a) {
        struct json_scan_block *keep = NULL;

        while (a->blocks) {
                struct json_scan_block *b = a->blocks;

                a->blocks = b->next;
                if (!keep && b->size == ARENA_BLOCK_BYTES)
                        keep = b;
                else
                        mem_free(b);
        }
        if (keep) {
                keep->used = 0;
                keep->next = NULL;
                a->blocks = keep;
        }
}

static void arena_done(struct json_scan_arena *a) {
        while (a->blocks) {
                struct json_scan_block *b = a->blocks;

                a->blocks = b->next;
                mem_free(b);
        }
}

static char *arena_take(struct json_scan_arena *a, size_t n) {
        struct json_scan_block *b = a->blocks;

        if (!b || b->size - b->used < n) {
                size_t size = MAX(n, ARENA_BLOCK_BYTES);

                b = mem_malloc(offsetof(struct json_scan_block, data) + size);
                if (!b)
                        return NULL;
                b->used = 0;
                b->size = size;
                b->next = a->blocks;
                a->blocks = b;
        }
        b->used += n;
        return b->data + b->used - n;
}

/* ---- checking ------------------------------------------------------------------------ */

struct checker {
        const char *p, *end;
        unsigned depth;
        struct json_scan *scan; /* where container bounds are noted */
};

/* Bytes a string holds as they are: anything but the quote, the backslash, NUL and bytes past
 * ASCII (those are checked as UTF-8). */
static bool string_plain(unsigned char b) {
        return b - 1u < 0x7fu && b != '"' && b != '\\';
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Whether any of the eight bytes of x is zero (the classic bit trick: exact for "any"). */
static bool has_zero_byte(uint64_t x) {
        return ((x - ONES) & ~x & HIGHS) != 0;
}

/* Past the plain bytes from p on, eight at a time while no byte of a word is special. */
static const unsigned char *skip_plain(const unsigned char *p, const unsigned char *end) {
        while (end - p >= 8) {
                uint64_t x;

                memcpy(&x, p, 8);
                if ((x & HIGHS) || has_zero_byte(x) || has_zero_byte(x ^ (ONES * '"')) ||
                    has_zero_byte(x ^ (ONES * '\\')))
                        break;
                p += 8;
        }
        while (p < end && string_plain(*p))
                p++;
        return p;
}

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void check_ws(struct checker *c) {
        while (c->p < c->end && is_ws(*c->p))
                c->p++;
}

static bool is_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The string at c->p, quoted with its first byte: '"', or for a member name '\'' too (json-c
 * takes single-quoted names, not values, even in strict mode; a '"' is a plain byte in them). */
static int check_string(struct checker *c) {
        const unsigned char *p = (const unsigned char *) c->p + 1, *end = (const unsigned char *) c->end;
        unsigned char quote = (unsigned char) *c->p;

        while (p < end) {
                unsigned char ch;

                if (quote == '"')
                        p = skip_plain(p, end);
                if (p >= end)
                        break;
                ch = *p;

                if (ch == quote) {
                        c->p = (const char *) p + 1;
                        return 0;
                }
                if (ch == '\\') {
                        if (end - p < 2)
                                return -EBADMSG;
                        switch (p[1]) {
                        case '"':
                        case '\\':
                        case '/':
                        case 'b':
                        case 'f':
                        case 'n':
                        case 'r':
                        case 't':
                                p += 2;
                                break;
                        case 'u':
                                if (end - p < 6 || !is_hex((char) p[2]) || !is_hex((char) p[3]) ||
                                    !is_hex((char) p[4]) || !is_hex((char) p[5]))
                                        return -EBADMSG;
                                p += 6;
                                break;
                        default:
                                return -EBADMSG;
                        }
                } else if (ch >= 0x80) {
                        size_t k = json_utf8_sequence(p, end);

                        if (k == 0)
                                return -EBADMSG;
                        p += k;
                } else if (ch == 0)
                        return -EBADMSG;
                else
                        p++;
        }
        return -EBADMSG;
}

static bool check_word(struct checker *c, const char *w) {
        size_t n = strlen(w);

        if ((size_t) (c->end - c->p) < n || memcmp(c->p, w, n) != 0)
                return false;
        c->p += n;
        return true;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Numbers as json-c takes them in strict mode (they are only checked, never read): NaN,
 * Infinity and -Infinity; integers, with leading zeros only when negative or zero ("00",
 * "-01"); and what strtod() reads whole from digits, one '.', an exponent and signs, leading
 * zeros included ("1.", "-.5", "01.5"). */
static int check_number(struct checker *c) {
        size_t int_digits = 0, frac_digits = 0;
        bool neg = false, is_double = false, nonzero = false;
        char first = 0;

        if (check_word(c, "NaN"))
                return 0;
        if (c->p < c->end && *c->p == '-') {
                neg = true;
                c->p++;
        }
        if (check_word(c, "Infinity"))
                return 0;
        if (c->p < c->end)
                first = *c->p;
        while (c->p < c->end && is_digit(*c->p)) {
                nonzero = nonzero || *c->p != '0';
                int_digits++;
                c->p++;
        }
        if (c->p < c->end && *c->p == '.') {
                is_double = true;
                c->p++;
                while (c->p < c->end && is_digit(*c->p)) {
                        frac_digits++;
                        c->p++;
                }
        }
        if (int_digits + frac_digits == 0 || (!neg && int_digits == 0))
                return -EBADMSG;
        if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
                is_double = true;
                c->p++;
                if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
                        c->p++;
                if (c->p >= c->end || !is_digit(*c->p))
                        return -EBADMSG;
                while (c->p < c->end && is_digit(*c->p))
                        c->p++;
        }
        if (!is_double && !neg && first == '0' && nonzero)
                return -EBADMSG;
        return 0;
}

static int check_value(struct checker *c);

/* A value inside a container of depth c->depth (the top value has depth 1): json-c refuses
 * one deeper than JSON_DEPTH_MAX as it starts on it, whatever its first byte (but those it
 * refuses before). */
static int check_member_value(struct checker *c) {
        unsigned char b;

        /* json-c takes a NUL byte for the end of the input, and refuses a byte past ASCII
         * before it looks at the depth (measured: tests/fuzz/fuzz-cluster.c compares). */
        if (c->p >= c->end)
                return -EBADMSG;
        b = (unsigned char) *c->p;
        if (b == 0 || b >= 0x80)
                return -EBADMSG;
        if (c->depth >= JSON_DEPTH_MAX)
                return -E2BIG;
        return check_value(c);
}

/* Notes where the container at c->p starts; its end is noted by container_end(). Returns its
 * index, or -ENOMEM. */
static int container_start(struct checker *c, size_t *ret) {
        struct json_scan *s = c->scan;

        if (s->n_containers >= s->allocated) {
                size_t n = MAX(s->allocated * 2, (size_t) 256);
                uint32_t *o = mem_realloc(s->open, n * sizeof(uint32_t)), *e;

                if (!o)
                        return -ENOMEM;
                s->open = o;
                e = mem_realloc(s->close, n * sizeof(uint32_t));
                if (!e)
                        return -ENOMEM;
                s->close = e;
                s->allocated = n;
        }
        s->open[s->n_containers] = (uint32_t) (c->p - s->start);
        *ret = s->n_containers++;
        return 0;
}

static int check_container(struct checker *c, bool object) {
        char close = object ? '}' : ']';
        size_t idx;
        int r;

        r = container_start(c, &idx);
        if (r < 0)
                return r;
        c->depth++;
        c->p++;
        check_ws(c);
        if (c->p < c->end && *c->p == close) {
                c->scan->close[idx] = (uint32_t) (c->p - c->scan->start);
                c->p++;
                c->depth--;
                return 0;
        }
        for (;;) {
                if (object) {
                        if (c->p >= c->end || (*c->p != '"' && *c->p != '\''))
                                return -EBADMSG;
                        r = check_string(c);
                        if (r < 0)
                                return r;
                        check_ws(c);
                        if (c->p >= c->end || *c->p != ':')
                                return -EBADMSG;
                        c->p++;
                        check_ws(c);
                } else if (c->p < c->end && *c->p == close)
                        return -EBADMSG; /* [1,] */
                r = check_member_value(c);
                if (r < 0)
                        return r;
                check_ws(c);
                if (c->p >= c->end)
                        return -EBADMSG;
                if (*c->p == close) {
                        c->scan->close[idx] = (uint32_t) (c->p - c->scan->start);
                        c->p++;
                        c->depth--;
                        return 0;
                }
                if (*c->p != ',')
                        return -EBADMSG;
                c->p++;
                check_ws(c);
        }
}

static int check_value(struct checker *c) {
        if (c->p >= c->end)
                return -EBADMSG;
        switch (*c->p) {
        case '{':
                return check_container(c, true);
        case '[':
                return check_container(c, false);
        case '"':
                return check_string(c);
        case 't':
                return check_word(c, "true") ? 0 : -EBADMSG;
        case 'f':
                return check_word(c, "false") ? 0 : -EBADMSG;
        case 'n':
                return check_word(c, "null") ? 0 : -EBADMSG;
        default:
                return check_number(c);
        }
}

int json_scan_document(struct json_scan *s, const char *body, size_t len, const char **ret) {
        struct checker c;
        const char *top;
        int r;

        *s = (struct json_scan) {};
        r = json_doc_precheck(&body, &len);
        if (r < 0)
                return r;
        s->start = body;
        c = (struct checker) { .p = body, .end = body + len, .scan = s };
        check_ws(&c);
        top = c.p;
        /* The value is checked before its type, as json-c parses it first: an array nested
         * too deep is -E2BIG, not a wrong type. */
        r = check_value(&c);
        if (r < 0)
                return r;
        if (*top != '{')
                return -EBADMSG;
        check_ws(&c);
        if (c.p != c.end)
                return -EBADMSG;
        *ret = top;
        return 0;
}

void json_scan_done(struct json_scan *s) {
        mem_free(s->open);
        mem_free(s->close);
        arena_done(&s->strings);
        *s = (struct json_scan) {};
}

void json_scan_forget_strings(struct json_scan *s) {
        arena_reset(&s->strings);
}

/* ---- reading a checked document -------------------------------------------------------- */

static const char *skip_ws(const char *p) {
        while (is_ws(*p))
                p++;
        return p;
}

/* Past the string at p (its opening quote): the first quote after it not escaped, that is
 * behind an even run of backslashes. */
static const char *skip_string(const char *p) {
        for (const char *q = p + 1;; q++) {
                size_t bs = 0;

                q = strchr(q, '"');
                /* The document is checked: its strings are closed, and hold no NUL. */
                while (q - bs - 1 > p && q[-(ptrdiff_t) bs - 1] == '\\')
                        bs++;
                if (bs % 2 == 0)
                        return q + 1;
        }
}

/* Past the container at v: where the check noted its end (the containers are noted in the
 * order they start, so a binary search finds it). */
static const char *skip_container(const struct json_scan *s, const char *v) {
        uint32_t off = (uint32_t) (v - s->start);
        size_t lo = 0, hi = s->n_containers;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (s->open[mid] < off)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        assert(lo < s->n_containers && s->open[lo] == off);
        return s->start + s->close[lo] + 1;
}

/* Past the value at v. */
static const char *skip_value(const struct json_scan *s, const char *v) {
        const char *p = v;

        switch (*p) {
        case '"':
                return skip_string(p);
        case '{':
        case '[':
                return skip_container(s, v);
        default:
                while (!is_ws(*p) && *p != ',' && *p != '}' && *p != ']')
                        p++;
                return p;
        }
}

enum json_scan_type json_scan_type(const char *v) {
        switch (*v) {
        case 'n':
                return JSON_SCAN_NULL;
        case 't':
        case 'f':
                return JSON_SCAN_BOOLEAN;
        case '"':
                return JSON_SCAN_STRING;
        case '[':
                return JSON_SCAN_ARRAY;
        case '{':
                return JSON_SCAN_OBJECT;
        default:
                return JSON_SCAN_NUMBER; /* NaN too */
        }
}

const char *json_scan_next(const struct json_scan *s, const char *v) {
        const char *p = skip_ws(skip_value(s, v));

        return *p == ',' ? skip_ws(p + 1) : NULL;
}

const char *json_scan_first(const char *a) {
        const char *p = skip_ws(a + 1);

        return *p == ']' ? NULL : p;
}

size_t json_scan_array_length(const struct json_scan *s, const char *a) {
        size_t n = 0;

        for (const char *v = json_scan_first(a); v; v = json_scan_next(s, v))
                n++;
        return n;
}

static unsigned hex_value(char c) {
        return c <= '9' ? (unsigned) (c - '0') : (unsigned) ((c | 0x20) - 'a' + 10);
}

static unsigned hex4(const char *p) {
        return hex_value(p[0]) << 12 | hex_value(p[1]) << 8 | hex_value(p[2]) << 4 | hex_value(p[3]);
}

static size_t put_utf8(char *out, uint32_t cp) {
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xc0 | cp >> 6);
                out[1] = (char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char) (0xe0 | cp >> 12);
                out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char) (0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char) (0xf0 | cp >> 18);
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char) (0x80 | (cp & 0x3f));
        return 4;
}

#define REPLACEMENT_CHARACTER 0xfffdu

/* Unescapes the string at s (its opening quote) into out, which has room for the raw length:
 * an escape never grows (\uXXXX, six bytes, gives at most three; a surrogate pair, twelve,
 * gives four). Returns the length written; *ret_end is past the closing quote. */
static size_t unescape(const char *s, char *out, const char **ret_end) {
        const char *p = s + 1;
        char quote = *s; /* '"', or '\'' for a member name (see check_string()) */
        size_t n = 0;
        uint32_t high = 0; /* a high surrogate waiting for its low half */

        for (;;) {
                const char *run = p;

                while (*p != quote && *p != '\\')
                        p++;
                if (p > run) {
                        if (high) {
                                n += put_utf8(out + n, REPLACEMENT_CHARACTER);
                                high = 0;
                        }
                        memcpy(out + n, run, (size_t) (p - run));
                        n += (size_t) (p - run);
                }
                if (*p == quote)
                        break;
                /* An escape. */
                if (p[1] == 'u') {
                        uint32_t u = hex4(p + 2);

                        p += 6;
                        if (high && u >= 0xdc00 && u <= 0xdfff) {
                                n += put_utf8(out + n, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
                                high = 0;
                                continue;
                        }
                        if (high) {
                                n += put_utf8(out + n, REPLACEMENT_CHARACTER);
                                high = 0;
                        }
                        if (u >= 0xd800 && u <= 0xdbff)
                                high = u;
                        else if (u >= 0xdc00 && u <= 0xdfff)
                                n += put_utf8(out + n, REPLACEMENT_CHARACTER);
                        else
                                n += put_utf8(out + n, u);
                        continue;
                }
                if (high) {
                        n += put_utf8(out + n, REPLACEMENT_CHARACTER);
                        high = 0;
                }
                switch (p[1]) {
                case 'b':
                        out[n++] = '\b';
                        break;
                case 'f':
                        out[n++] = '\f';
                        break;
                case 'n':
                        out[n++] = '\n';
                        break;
                case 'r':
                        out[n++] = '\r';
                        break;
                case 't':
                        out[n++] = '\t';
                        break;
                default: /* " \ / */
                        out[n++] = p[1];
                        break;
                }
                p += 2;
        }
        if (high)
                n += put_utf8(out + n, REPLACEMENT_CHARACTER);
        *ret_end = p + 1;
        return n;
}

int json_scan_string(struct json_scan *s, const char *v, const char **ret, size_t *ret_len) {
        const char *end;
        size_t raw, n;
        char *out;

        if (*v != '"')
                return -EBADMSG;
        raw = (size_t) (skip_string(v) - v) - 2;
        out = arena_take(&s->strings, raw + 1);
        if (!out)
                return -ENOMEM;
        n = unescape(v, out, &end);
        out[n] = 0;
        *ret = out;
        if (ret_len)
                *ret_len = n;
        return 0;
}

/* The member at p (its name's opening quote): the name's raw bytes (between the quotes),
 * whether it has escapes, and its value. Returns where the next member would start, or NULL
 * after the last. */
static const char *member(const struct json_scan *s, const char *p, const char **ret_raw,
                          size_t *ret_raw_len, bool *ret_escaped, const char **ret_value) {
        const char *q = p + 1;
        bool escaped = false;

        for (;; q++) {
                if (*q == *p) /* the closing quote: see check_string() */
                        break;
                if (*q == '\\') {
                        escaped = true;
                        q++;
                }
        }
        *ret_raw = p + 1;
        *ret_raw_len = (size_t) (q - p - 1);
        *ret_escaped = escaped;
        q = skip_ws(q + 1); /* ':' */
        *ret_value = skip_ws(q + 1);
        q = skip_ws(skip_value(s, *ret_value));
        return *q == ',' ? skip_ws(q + 1) : NULL;
}

static const char *first_member(const char *o) {
        const char *p = skip_ws(o + 1);

        return *p == '}' ? NULL : p;
}

int json_scan_lookup(struct json_scan *s, const char *o, const char *const *keys, size_t n,
                     const char **values) {
        size_t count = 0, key_len[JSON_SCAN_LOOKUP_MAX];

        assert(n <= JSON_SCAN_LOOKUP_MAX);
        for (size_t i = 0; i < n; i++) {
                values[i] = NULL;
                key_len[i] = strlen(keys[i]);
        }
        for (const char *p = first_member(o); p;) {
                const char *raw, *value, *name;
                char buf[LOOKUP_NAME_MAX + 4];
                size_t len;
                bool escaped;

                p = member(s, p, &raw, &len, &escaped, &value);
                count++;
                name = raw;
                if (escaped) {
                        const char *end;

                        /* Unescaping never grows: a raw name that fits fits unescaped. */
                        if (len > LOOKUP_NAME_MAX)
                                continue;
                        len = unescape(raw - 1, buf, &end);
                        name = buf;
                }
                for (size_t i = 0; i < n; i++)
                        if (key_len[i] == len && memcmp(keys[i], name, len) == 0)
                                values[i] = value; /* the last one wins, as in json-c */
        }
        if (count <= JSON_MEMBERS_MAX)
                return (int) MIN(count, (size_t) INT_MAX);
        /* Only past the limit does it matter whether duplicates made the count. */
        {
                _cleanup_free_ struct json_scan_member *m = NULL;
                size_t distinct;
                int r;

                /* Their names stay among s's strings until it forgets them. */
                r = json_scan_members(s, o, &m, &distinct);
                if (r < 0)
                        return r;
                return (int) MIN(distinct, (size_t) INT_MAX);
        }
}

int json_scan_members(struct json_scan *s, const char *o, struct json_scan_member **ret, size_t *ret_n) {
        /* name -> index + 1, once past MEMBERS_LINEAR_MAX */
        _cleanup_(hashmap_freep) struct hashmap *seen = NULL;
        struct json_scan_member *m = NULL;
        size_t n = 0, allocated = 0;
        int r;

        for (const char *p = first_member(o); p;) {
                const char *raw, *value, *end;
                size_t raw_len, len, dup = SIZE_MAX;
                bool escaped;
                char *name;

                p = member(s, p, &raw, &raw_len, &escaped, &value);
                name = arena_take(&s->strings, raw_len + 1);
                if (!name) {
                        r = -ENOMEM;
                        goto fail;
                }
                len = unescape(raw - 1, name, &end);
                name[len] = 0;
                if (seen) {
                        void *v = hashmap_get(seen, name);

                        if (v)
                                dup = (uintptr_t) v - 1;
                } else
                        for (size_t i = 0; i < n; i++)
                                if (m[i].name_len == len && memcmp(m[i].name, name, len) == 0) {
                                        dup = i;
                                        break;
                                }
                if (dup != SIZE_MAX) {
                        m[dup].value = value;
                        continue;
                }
                if (GREEDY_REALLOC(m, allocated, n + 1) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
                m[n++] = (struct json_scan_member) { .name = name, .name_len = len, .value = value };
                if (!seen && n > MEMBERS_LINEAR_MAX) {
                        seen = hashmap_new_borrowed(false, NULL);
                        if (!seen) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        for (size_t i = 0; i + 1 < n; i++)
                                if (hashmap_put(seen, m[i].name, (void *) (uintptr_t) (i + 1)) < 0) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                }
                if (seen && hashmap_put(seen, name, (void *) (uintptr_t) n) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        *ret = m;
        *ret_n = n;
        return 0;
fail:
        mem_free(m);
        return r;
}
