/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "mem.h"

#define TMPDIR_TEMPLATE "/tmp/cmkd-test-fileio.XXXXXX"
#include "tmpdir.h"

static void test_atomic_roundtrip(void **state) {
        _cleanup_free_ char *path = path_join(dir, "a.json"), *data = NULL;
        struct stat st;
        size_t len;

        assert_int_equal(write_file_atomic(dir, "a.json", "{\"x\":1}", 7, 0600), 0);
        assert_int_equal(read_file_bounded(path, 100, &data, &len), 0);
        assert_int_equal(len, 7);
        assert_string_equal(data, "{\"x\":1}");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        mem_free(data);
        data = NULL;
        assert_int_equal(write_file_atomic(dir, "a.json", "2", 1, 0644), 0);
        assert_int_equal(read_file_bounded(path, 100, &data, NULL), 0);
        assert_string_equal(data, "2");
        assert_int_equal(read_file_bounded(path, 0, &data, NULL), -EFBIG);
        assert_int_equal(read_file_bounded(dir, 10, &data, NULL), -EINVAL);
}

static void test_append_and_aside(void **state) {
        _cleanup_free_ char *path = path_join(dir, "audit.log"), *data = NULL, *aside = NULL;

        assert_int_equal(append_line_sync(path, "{\"a\":1}", 0600), 0);
        assert_int_equal(append_line_sync(path, "{\"a\":2}", 0600), 0);
        assert_int_equal(read_file_bounded(path, 1000, &data, NULL), 0);
        assert_string_equal(data, "{\"a\":1}\n{\"a\":2}\n");
        assert_int_equal(set_aside_corrupt(path, 1234 * USEC_PER_SEC, &aside), 0);
        assert_true(endswith(aside, "audit.log.corrupt-1234"));
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(access(aside, F_OK), 0);
}

static void test_mkdir_p(void **state) {
        _cleanup_free_ char *sub = path_join(dir, "x/y/z");
        struct stat st;

        assert_int_equal(mkdir_p(sub, 0700), 0);
        assert_int_equal(mkdir_p(sub, 0700), 0);
        assert_int_equal(stat(sub, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
}

static void test_alloc_failure(void **state) {
        /* Every allocation point fails cleanly and leaves the old file in place. */
        _cleanup_free_ char *path = path_join(dir, "b.json");
        unsigned long n;

        assert_int_equal(write_file_atomic(dir, "b.json", "old", 3, 0600), 0);
        for (n = 1;; n++) {
                _cleanup_free_ char *data = NULL;
                int r;

                mem_fail_at(n, false);
                r = write_file_atomic(dir, "b.json", "new", 3, 0600);
                mem_fail_at(0, false);
                assert_int_equal(read_file_bounded(path, 10, &data, NULL), 0);
                if (r == 0) {
                        assert_string_equal(data, "new");
                        break;
                }
                assert_int_equal(r, -ENOMEM);
                assert_string_equal(data, "old");
        }
        assert_true(n > 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_atomic_roundtrip),
                cmocka_unit_test(test_append_and_aside),
                cmocka_unit_test(test_mkdir_p),
                cmocka_unit_test(test_alloc_failure),
        };
        return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
