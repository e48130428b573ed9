/* SPDX-License-Identifier: MIT */
/* Audit log: the line format, synced appends, and a reader that survives cut and
 * damaged lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "audit.h"
#include "fileio.h"
#include "mem.h"

#define TMPDIR_TEMPLATE "/tmp/cmkd-test-audit.XXXXXX"
#include "tmpdir.h"

#define T0 ((usec_t) 1795413600 * USEC_PER_SEC) /* 2026-11-23T06:00:00Z */
#define CLUSTER "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DocumentDB/mongoClusters/c1"

static struct audit_entry entry(usec_t t, enum audit_result result) {
        return (struct audit_entry) {
                .time = t,
                .cluster = (char *) CLUSTER,
                .subscription = (char *) "s",
                .action = (char *) "update",
                .method = (char *) "PUT",
                .mode = (char *) "enforce",
                .old_url = (char *) "https://v.vault.azure.net/keys/k/1",
                .new_url = (char *) "https://v.vault.azure.net/keys/k",
                .operation_id = (char *) "op-1",
                .result = result,
        };
}

static char *fresh_log(const char *name) {
        char *path = path_join(dir, name);

        assert_non_null(path);
        unlink(path);
        return path;
}

static void append_raw(const char *path, const char *text) {
        FILE *f = fopen(path, "ae");

        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static void test_format(void **state) {
        struct audit_entry e = entry(T0, AUDIT_FAILED);
        struct buf b;

        e.error = (char *) "HTTP 400";
        e.error_code = (char *) "Invalid\"Key";
        e.operation_id = NULL;
        e.request_id = (char *) "req-9";
        buf_init(&b, 0);
        assert_int_equal(audit_format(&e, &b), 0);
        assert_string_equal(buf_str(&b),
                            "{\"time\":\"2026-11-23T06:00:00Z\",\"cluster\":\"" CLUSTER
                            "\",\"subscription\":\"s\","
                            "\"action\":\"update\",\"method\":\"PUT\",\"mode\":\"enforce\","
                            "\"old_key_url\":\"https://v.vault.azure.net/keys/k/1\","
                            "\"new_key_url\":\"https://v.vault.azure.net/keys/k\",\"operation_id\":null,"
                            "\"result\":\"failed\",\"refusal\":null,\"error\":\"HTTP 400\","
                            "\"error_code\":\"Invalid\\\"Key\",\"request_id\":\"req-9\"}");

        /* No cluster or no valid result: nothing written. */
        buf_clear(&b);
        e.cluster = NULL;
        assert_int_equal(audit_format(&e, &b), -EINVAL);
        e = entry(T0, _AUDIT_RESULT_MAX);
        assert_int_equal(audit_format(&e, &b), -EINVAL);
        assert_int_equal(b.len, 0);
        buf_done(&b);

        for (int r = 0; r < _AUDIT_RESULT_MAX; r++)
                assert_int_equal(audit_result_from_string(audit_result_to_string(r)), r);
        assert_int_equal(audit_result_from_string("done"), _AUDIT_RESULT_INVALID);
}

static void test_roundtrip_and_range(void **state) {
        _cleanup_free_ char *path = fresh_log("a.log");
        _cleanup_(audit_log_freep) struct audit_log *log = NULL, *all = NULL, *few = NULL;
        struct stat st;

        for (int i = 0; i < 5; i++) {
                struct audit_entry e =
                        entry(T0 + (usec_t) i * USEC_PER_HOUR, i % 2 ? AUDIT_SUCCEEDED : AUDIT_STARTED);

                e.refusal = i == 4 ? (char *) "outside-window" : NULL;
                assert_int_equal(audit_append(path, &e), 0);
        }
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640);

        /* [T0+1h, T0+3h): entries 1 and 2. */
        assert_int_equal(audit_read(path, T0 + USEC_PER_HOUR, T0 + 3 * USEC_PER_HOUR, 100, &log), 0);
        assert_int_equal(log->n_entries, 2);
        assert_true(log->entries[0].time == T0 + USEC_PER_HOUR);
        assert_int_equal(log->entries[0].result, AUDIT_SUCCEEDED);
        assert_string_equal(log->entries[0].cluster, CLUSTER);
        assert_string_equal(log->entries[0].old_url, "https://v.vault.azure.net/keys/k/1");
        assert_string_equal(log->entries[0].new_url, "https://v.vault.azure.net/keys/k");
        assert_string_equal(log->entries[0].operation_id, "op-1");
        assert_string_equal(log->entries[0].method, "PUT");
        assert_string_equal(log->entries[0].mode, "enforce");
        assert_null(log->entries[0].error);
        assert_int_equal(log->n_corrupt + log->n_truncated + log->n_omitted, 0);

        assert_int_equal(audit_read(path, 0, USEC_INFINITY, 100, &all), 0);
        assert_int_equal(all->n_entries, 5);
        assert_string_equal(all->entries[4].refusal, "outside-window");

        /* A cap keeps the first entries and counts the rest. */
        assert_int_equal(audit_read(path, 0, USEC_INFINITY, 3, &few), 0);
        assert_int_equal(few->n_entries, 3);
        assert_int_equal(few->n_omitted, 2);
}

static void test_cut_last_line(void **state) {
        _cleanup_free_ char *path = fresh_log("cut.log");
        _cleanup_(audit_log_freep) struct audit_log *a = NULL, *b = NULL;
        struct audit_entry e = entry(T0, AUDIT_STARTED);

        assert_int_equal(audit_append(path, &e), 0);
        assert_int_equal(audit_append(path, &e), 0);
        /* A crash in the middle of a write. */
        append_raw(path, "{\"time\":\"2026-11-23T07:00:00Z\",\"cluster\":\"/x\",\"res");
        assert_int_equal(audit_read(path, 0, USEC_INFINITY, 100, &a), 0);
        assert_int_equal(a->n_entries, 2);
        assert_int_equal(a->n_truncated, 1);
        assert_int_equal(a->n_corrupt, 0);

        /* The next append starts on a new line: the new entry is whole, the cut one stays
         * a single corrupt line. */
        e.result = AUDIT_SUCCEEDED;
        assert_int_equal(audit_append(path, &e), 0);
        assert_int_equal(audit_read(path, 0, USEC_INFINITY, 100, &b), 0);
        assert_int_equal(b->n_entries, 3);
        assert_int_equal(b->entries[2].result, AUDIT_SUCCEEDED);
        assert_int_equal(b->n_corrupt, 1);
        assert_int_equal(b->n_truncated, 0);
}

static void test_complete_tail_without_newline(void **state) {
        _cleanup_free_ char *path = fresh_log("tail.log");
        _cleanup_(audit_log_freep) struct audit_log *log = NULL;

        append_raw(path, "{\"time\":\"2026-11-23T07:00:00Z\",\"cluster\":\"/x\",\"result\":\"refused\"}");
        assert_int_equal(audit_read(path, 0, USEC_INFINITY, 100, &log), 0);
        assert_int_equal(log->n_entries, 1);
        assert_int_equal(log->entries[0].result, AUDIT_REFUSED);
        assert_int_equal(log->n_truncated, 0);
}

static void test_corrupt_lines(void **state) {
        _cleanup_free_ char *path = fresh_log("bad.log"), *huge = NULL;
        _cleanup_(audit_log_freep) struct audit_log *log = NULL;
        struct audit_entry e = entry(T0, AUDIT_PROPOSED);
        static const char *const bad[] = {
                "garbage\n",
                "{\"time\":\"2026-11-23T07:00:00Z\",\"result\":\"started\"}\n",         /* no cluster */
                "{\"time\":\"yesterday\",\"cluster\":\"/x\",\"result\":\"started\"}\n", /* bad time */
                "{\"time\":\"2026-11-23T07:00:00Z\",\"cluster\":\"/x\",\"result\":\"done\"}\n", /* bad result
                                                                                                 */
                "{\"time\":\"2026-11-23T07:00:00Z\",\"cluster\":7,\"result\":\"started\"}\n", /* bad type */
                "[1,2]\n",
                "{\"time\":\"2026-11-23T07:00:00Z\",\"cluster\":\"/x\",\"result\":\"started\"} {}\n",
        };

        assert_int_equal(audit_append(path, &e), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                append_raw(path, bad[i]);
        append_raw(path, "\n\r\n");
        /* A line longer than any entry, with an entry's start in it. */
        huge = mem_malloc(AUDIT_LINE_MAX + 100);
        assert_non_null(huge);
        memset(huge, 'x', AUDIT_LINE_MAX + 98);
        memcpy(huge, "{\"time\":\"", 9);
        huge[AUDIT_LINE_MAX + 98] = '\n';
        huge[AUDIT_LINE_MAX + 99] = 0;
        append_raw(path, huge);
        assert_int_equal(audit_append(path, &e), 0);

        assert_int_equal(audit_read(path, 0, USEC_INFINITY, 100, &log), 0);
        assert_int_equal(log->n_entries, 2);
        assert_int_equal(log->n_corrupt, ELEMENTSOF(bad) + 1);
        assert_int_equal(log->n_truncated, 0);
}

static void test_many_entries_stream(void **state) {
        _cleanup_free_ char *path = fresh_log("many.log");
        _cleanup_(audit_log_freep) struct audit_log *log = NULL;
        struct buf all;

        /* 3000 lines (about 1.3 MB) cross many read chunks. */
        buf_init(&all, 0);
        for (int i = 0; i < 3000; i++) {
                struct audit_entry e = entry(T0 + (usec_t) i * USEC_PER_SEC, AUDIT_REFUSED);

                assert_int_equal(audit_format(&e, &all), 0);
                assert_int_equal(buf_putc(&all, '\n'), 0);
        }
        assert_int_equal(write_file_atomic(dir, "many.log", all.data, all.len, 0640), 0);
        buf_done(&all);
        assert_int_equal(audit_read(path, T0 + 1000 * USEC_PER_SEC, USEC_INFINITY, 5000, &log), 0);
        assert_int_equal(log->n_entries, 2000);
        assert_true(log->entries[0].time == T0 + 1000 * USEC_PER_SEC);
        assert_true(log->entries[1999].time == T0 + 2999 * USEC_PER_SEC);
        assert_int_equal(log->n_corrupt + log->n_truncated, 0);
}

static void test_missing_and_unreadable(void **state) {
        _cleanup_free_ char *path = fresh_log("none.log");
        _cleanup_(audit_log_freep) struct audit_log *log = NULL;
        struct audit_entry e = entry(T0, AUDIT_STARTED);

        assert_int_equal(audit_read(path, 0, USEC_INFINITY, 10, &log), 0);
        assert_int_equal(log->n_entries, 0);
        assert_int_equal(audit_read(dir, 0, USEC_INFINITY, 10, &(struct audit_log *) { NULL }), -EISDIR);
        assert_int_equal(audit_append("/nonexistent-dir/x.log", &e), -ENOENT);
}

static void test_alloc_failure(void **state) {
        _cleanup_free_ char *path = fresh_log("oom.log");
        unsigned long n;

        for (int i = 0; i < 3; i++) {
                struct audit_entry e = entry(T0 + (usec_t) i, AUDIT_STARTED);

                e.error_code = (char *) "Conflict";
                assert_int_equal(audit_append(path, &e), 0);
        }
        append_raw(path, "broken\n");
        for (n = 1;; n++) {
                struct audit_log *log = NULL;
                int r;

                mem_fail_at(n, false);
                r = audit_read(path, 0, USEC_INFINITY, 10, &log);
                mem_fail_at(0, false);
                if (r == 0) {
                        assert_int_equal(log->n_entries, 3);
                        assert_int_equal(log->n_corrupt, 1);
                        audit_log_free(log);
                        break;
                }
                assert_int_equal(r, -ENOMEM);
                assert_null(log);
        }
        assert_true(n > 10);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_roundtrip_and_range),
                cmocka_unit_test(test_cut_last_line),
                cmocka_unit_test(test_complete_tail_without_newline),
                cmocka_unit_test(test_corrupt_lines),
                cmocka_unit_test(test_many_entries_stream),
                cmocka_unit_test(test_missing_and_unreadable),
                cmocka_unit_test(test_alloc_failure),
        };
        return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
