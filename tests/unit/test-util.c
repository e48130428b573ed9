/* SPDX-License-Identifier: MIT */
/* buf, strv, hashmap and the allocation-failure hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "buf.h"
#include "hashmap.h"
#include "mem.h"
#include "strv.h"

static void test_buf(void **state) {
        struct buf b;

        buf_init(&b, 8);
        assert_string_equal(buf_str(&b), "");
        assert_int_equal(buf_puts(&b, "abcd"), 0);
        assert_int_equal(buf_printf(&b, "%d", 123), 0);
        assert_string_equal(buf_str(&b), "abcd123");
        assert_int_equal(buf_puts(&b, "xy"), -E2BIG);
        assert_string_equal(buf_str(&b), "abcd123");
        assert_int_equal(buf_putc(&b, 'z'), 0);
        assert_int_equal(buf_putc(&b, 'z'), -E2BIG);
        buf_clear(&b);
        assert_int_equal(buf_put_json_string(&b, "a\"\n"), 0);
        assert_string_equal(buf_str(&b), "\"a\\\"\\n\"");
        buf_done(&b);
}

/* JSON string escaping: plain runs as they are (UTF-8 included), the rest escaped; past the
 * cap nothing is left half-written. */
static void test_buf_json_string(void **state) {
        static const struct {
                const char *in, *out;
        } rows[] = {
                {"", "\"\""},
                {"plain text", "\"plain text\""},
                {"\"", "\"\\\"\""},
                {"a\\b", "\"a\\\\b\""},
                {"tab\there\r\n", "\"tab\\there\\r\\n\""},
                {"\x01\x1f\x7f x", "\"\\u0001\\u001f\\u007f x\""},
                {"caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\""},
                {"\"\"ab\"", "\"\\\"\\\"ab\\\"\""},
        };
        struct buf b;

        buf_init(&b, 1024);
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                buf_clear(&b);
                assert_int_equal(buf_put_json_string(&b, rows[i].in), 0);
                assert_string_equal(buf_str(&b), rows[i].out);
        }
        buf_done(&b);

        /* Each special byte at each place of a long string (the plain runs go a word at a
         * time): as a byte-by-byte escape gives. */
        buf_init(&b, 1024);
        for (size_t pos = 0; pos < 24; pos++)
                for (size_t k = 0; k < 6; k++) {
                        static const char special[] = { '"', '\\', '\n', 0x01, 0x7f, (char) 0xc3 };
                        char in[32], want[64], *w = want;

                        memset(in, 'a', 24);
                        in[24] = 0;
                        in[pos] = special[k];
                        *w++ = '"';
                        for (size_t i = 0; i < 24; i++) {
                                unsigned char c = (unsigned char) in[i];

                                if (c == '"' || c == '\\')
                                        w += sprintf(w, "\\%c", c);
                                else if (c == '\n')
                                        w += sprintf(w, "\\n");
                                else if (c < 0x20 || c == 0x7f)
                                        w += sprintf(w, "\\u%04x", c);
                                else
                                        *w++ = (char) c;
                        }
                        *w++ = '"';
                        *w = 0;
                        buf_clear(&b);
                        assert_int_equal(buf_put_json_string(&b, in), 0);
                        assert_string_equal(buf_str(&b), want);
                }
        buf_done(&b);

        buf_init(&b, 10);
        assert_int_equal(buf_puts(&b, "x:"), 0);
        assert_int_equal(buf_put_json_string(&b, "abcdefgh"), -E2BIG);
        assert_string_equal(buf_str(&b), "x:");
        assert_int_equal(buf_put_json_string(&b, "ab\ncde"), -E2BIG); /* 11 bytes */
        assert_string_equal(buf_str(&b), "x:");
        assert_int_equal(buf_put_json_string(&b, "ab\n"), 0);
        assert_string_equal(buf_str(&b), "x:\"ab\\n\"");
        buf_done(&b);
}

static void test_strv(void **state) {
        _cleanup_strv_free_ char **l = NULL;

        assert_int_equal(strv_split("  a b,,c ", " ,", &l), 0);
        assert_int_equal(strv_length(l), 3);
        assert_string_equal(l[2], "c");
        assert_true(strv_contains(l, "b"));
        assert_false(strv_contains(l, "B"));
        assert_true(strv_contains_case(l, "B"));
}

static void test_hashmap(void **state) {
        struct hashmap *h = hashmap_new(true, mem_free);
        const char *k;
        char key[32], *v;
        size_t n = 0;

        assert_non_null(h);
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof key, "Key%d", i);
                assert_int_equal(hashmap_put(h, key, mem_strdup(key)), 0);
        }
        assert_int_equal(hashmap_put(h, "KEY5", NULL), -EEXIST);
        assert_string_equal(hashmap_get(h, "key999"), "Key999");
        v = hashmap_remove(h, "KEY5");
        assert_string_equal(v, "Key5");
        mem_free(v);
        assert_null(hashmap_get(h, "key5"));
        assert_int_equal(hashmap_size(h), 999);
        HASHMAP_FOREACH(k, v, h)
                n++;
        assert_int_equal(n, 999);
        hashmap_free(h);

        /* Case-insensitive is ASCII only: other bytes compare as they are. */
        h = hashmap_new(true, NULL);
        assert_non_null(h);
        assert_int_equal(hashmap_put(h, "caf\xc3\xa9", (void *) 1), 0);
        assert_int_equal(hashmap_put(h, "CAF\xc3\x89", (void *) 2), 0);
        assert_int_equal(hashmap_put(h, "Caf\xc3\xa9", (void *) 3), -EEXIST);
        assert_int_equal((uintptr_t) hashmap_get(h, "CAF\xc3\xa9"), 1);
        assert_int_equal((uintptr_t) hashmap_get(h, "caf\xc3\x89"), 2);
        assert_null(hashmap_get(h, "caf"));
        assert_null(hashmap_get(h, "caf\xc3\xa9s"));
        hashmap_free(h);
}

/* Borrowed keys: the map keeps the caller's pointer (no copy, nothing to free). */
static void test_hashmap_borrowed(void **state) {
        static const char *const keys[] = { "/subscriptions/S/a", "/subscriptions/S/B",
                                            "/subscriptions/S/c" };
        struct hashmap *h = hashmap_new_borrowed(true, NULL);
        const char *k;
        void *v;
        size_t n = 0;

        assert_non_null(h);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                assert_int_equal(hashmap_put(h, keys[i], (void *) (uintptr_t) (i + 1)), 0);
        assert_int_equal(hashmap_put(h, "/SUBSCRIPTIONS/s/A", NULL), -EEXIST);
        assert_int_equal((uintptr_t) hashmap_get(h, "/subscriptions/s/b"), 2);
        HASHMAP_FOREACH(k, v, h) {
                size_t i = (uintptr_t) v - 1;

                assert_ptr_equal(k, keys[i]);
                n++;
        }
        assert_int_equal(n, 3);
        assert_int_equal((uintptr_t) hashmap_remove(h, "/subscriptions/S/c"), 3);
        assert_null(hashmap_get(h, "/subscriptions/S/c"));
        assert_int_equal(hashmap_size(h), 2);
        /* Under ASan a free of a static key would fail here. */
        hashmap_free(h);
}

static void test_mem_fail(void **state) {
        char *p;

        mem_fail_at(2, false);
        p = mem_strdup("x");
        assert_non_null(p);
        mem_free(p);
        assert_null(mem_strdup("y"));
        assert_true(mem_failure_injected());
        p = mem_strdup("z");
        assert_non_null(p);
        mem_free(p);
        mem_fail_at(0, false);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_buf),
                cmocka_unit_test(test_buf_json_string),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_hashmap),
                cmocka_unit_test(test_hashmap_borrowed),
                cmocka_unit_test(test_mem_fail),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
