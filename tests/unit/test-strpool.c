/* SPDX-License-Identifier: MIT */
/* strpool: each distinct string stored once, found again, never moved; allocation failures
 * leave the pool as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "mem.h"
#include "strpool.h"

static void test_intern(void **state) {
        _cleanup_(strpool_freep) struct strpool *p = NULL;
        const char *a, *b, *c, *first[2000];
        char buf[32];

        assert_int_equal(strpool_new(&p), 0);
        assert_int_equal(strpool_count(p), 0);
        a = strpool_intern(p, "westus2", 7);
        assert_string_equal(a, "westus2");
        /* The same text, from elsewhere and not NUL-terminated: the same copy. */
        b = strpool_intern(p, "westus2-and-more", 7);
        assert_ptr_equal(a, b);
        /* Case counts; so does length. */
        c = strpool_intern(p, "WestUS2", 7);
        assert_ptr_not_equal(a, c);
        assert_ptr_not_equal(strpool_intern(p, "westus", 6), a);
        assert_string_equal(strpool_intern(p, "", 0), "");
        assert_int_equal(strpool_count(p), 4);

        /* Enough strings to grow the table and fill several blocks: none moves, each is found
         * again. */
        for (size_t i = 0; i < ELEMENTSOF(first); i++) {
                snprintf(buf, sizeof buf, "key-%04zu", i);
                first[i] = strpool_intern(p, buf, strlen(buf));
                assert_non_null(first[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(first); i++) {
                snprintf(buf, sizeof buf, "key-%04zu", i);
                assert_string_equal(first[i], buf);
                assert_ptr_equal(strpool_intern(p, buf, strlen(buf)), first[i]);
        }
        assert_int_equal(strpool_count(p), 4 + ELEMENTSOF(first));
        assert_string_equal(a, "westus2");
        assert_true(strpool_bytes(p) > ELEMENTSOF(first) * 9);
}

static void test_long(void **state) {
        _cleanup_(strpool_freep) struct strpool *p = NULL;
        _cleanup_free_ char *big = mem_malloc(20000);
        const char *x, *y, *z;

        assert_non_null(big);
        memset(big, 'x', 19999);
        big[19999] = 0;
        assert_int_equal(strpool_new(&p), 0);
        x = strpool_intern(p, "short", 5);
        /* Longer than a block: a block of its own; the current block goes on being filled. */
        y = strpool_intern(p, big, 19999);
        assert_non_null(y);
        assert_int_equal(strlen(y), 19999);
        z = strpool_intern(p, "next", 4);
        assert_string_equal(x, "short");
        assert_string_equal(z, "next");
        assert_ptr_equal(strpool_intern(p, big, 19999), y);
}

static void test_oom(void **state) {
        _cleanup_(strpool_freep) struct strpool *p = NULL;
        unsigned long n;

        mem_fail_at(1, false);
        assert_int_equal(strpool_new(&p), -ENOMEM);
        mem_fail_at(0, false);
        assert_null(p);
        assert_int_equal(strpool_new(&p), 0);
        /* The first string needs the table and a block: each failure leaves nothing behind. */
        for (n = 1; n <= 2; n++) {
                mem_fail_at(n, false);
                assert_null(strpool_intern(p, "a", 1));
                mem_fail_at(0, false);
                assert_int_equal(strpool_count(p), 0);
        }
        assert_string_equal(strpool_intern(p, "a", 1), "a");
        assert_int_equal(strpool_count(p), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_intern),
                cmocka_unit_test(test_long),
                cmocka_unit_test(test_oom),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
