/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the decoder tests (test-arm-decode.c, test-kv-decode.c): test data files,
 * spec example bodies, and checks that run a decoder through its contract. Include after
 * <cmocka.h>. Data: tests/data (override with CMKD_TEST_DATA); run from the repository
 * root. */

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "mem.h"

/* A string literal and its length, without the terminating NUL. */
#define S(x) x, sizeof(x) - 1

/* The file rel under the test data directory, NUL-terminated; *ret_len is its length. */
static inline char *read_data(const char *rel, size_t *ret_len) {
        const char *dir = getenv("CMKD_TEST_DATA") ?: "tests/data";
        char path[1024];
        FILE *f;
        char *buf;
        long n;

        snprintf(path, sizeof path, "%s/%s", dir, rel);
        f = fopen(path, "rb");
        if (!f)
                fail_msg("cannot open test data %s (run from the repository root or set CMKD_TEST_DATA): %m", path);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n >= 0);
        rewind(f);
        buf = malloc((size_t) n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
        buf[n] = 0;
        fclose(f);
        *ret_len = (size_t) n;
        return buf;
}

/* The body of responses.<code>.body in a spec example file, as JSON text. */
static inline char *example_body(const char *rel, const char *code, size_t *ret_len) {
        struct json_object *root, *responses, *resp, *body;
        size_t n;
        char *text = read_data(rel, &n), *out;

        root = json_tokener_parse(text);
        if (!root)
                fail_msg("%s is not JSON", rel);
        if (!json_object_object_get_ex(root, "responses", &responses) ||
            !json_object_object_get_ex(responses, code, &resp) || !json_object_object_get_ex(resp, "body", &body))
                fail_msg("%s has no responses.%s.body", rel, code);
        out = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
        assert_non_null(out);
        json_object_put(root);
        free(text);
        *ret_len = strlen(out);
        return out;
}

#define SENTINEL ((void *) 0x1)

/* try_<name>(body, len): runs one decoder, checks the out-parameter contract (untouched
 * on failure, set on success), frees the result and returns the decoder's result. */
#define DEFINE_TRY(name, decoder, type, freefn)                                                  \
        static int try_##name(const char *b, size_t n) {                                         \
                type *x = SENTINEL;                                                              \
                int r = decoder(b, n, &x);                                                       \
                if (r < 0) {                                                                     \
                        if (x != SENTINEL)                                                       \
                                fail_msg(#decoder " changed *ret on failure %d", r);             \
                        return r;                                                                \
                }                                                                                \
                if (r != 0 || !x || x == (void *) SENTINEL)                                     \
                        fail_msg(#decoder " returned %d without a result", r);                   \
                freefn(x);                                                                       \
                return r;                                                                        \
        }

/* One decoder of a test program's table, run through its try_<name>(). */
struct decoder {
        const char *name;
        int (*try)(const char *b, size_t n);
};

/* Fails each allocation in turn: every failure must give -ENOMEM (and, under ASan or
 * valgrind, leak nothing); the run without failure must succeed. */
static inline void check_oom(int (*try)(const char *, size_t), const char *what, const char *b, size_t n) {
        unsigned long i;
        int r;

        for (i = 1;; i++) {
                mem_fail_at(i, false);
                r = try(b, n);
                if (!mem_failure_injected())
                        break;
                if (r != -ENOMEM)
                        fail_msg("%s: allocation %lu failed but the decoder returned %d", what, i, r);
        }
        mem_fail_at(0, false);
        if (r != 0)
                fail_msg("%s: decoding without failures gave %d", what, r);
        assert_true(i > 1);
}

/* A document a decoder must refuse, and with what. */
struct bad_case {
        const char *body;
        int r;
};

static inline void run_cases(int (*try)(const char *, size_t), const char *what, const struct bad_case *t, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = try(t[i].body, strlen(t[i].body));

                if (r != t[i].r)
                        fail_msg("%s case %zu (%s): got %d, want %d", what, i, t[i].body, r, t[i].r);
        }
}
