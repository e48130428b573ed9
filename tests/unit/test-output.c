/* SPDX-License-Identifier: MIT */
/* `cmkd --once` output: the blank line before each cluster's group of lines in the table,
 * and the per-cluster severity of the JSON, which says "ok" for no finding as the table
 * does. Both found by the demo (tests/demo). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "output.h"
#include "sweep-fixture.h"

static struct fx fx;

#define NOW (FX_T0 + 60 * USEC_PER_SEC)

/* c0: an info finding first, then a warning; c1: a warning; c2: nothing; c3: only a refused
 * update. */
static void build_sweep(void) {
        fx_init(&fx, 4);
        fx_finding(&fx, 0, FINDING_KEY_NO_ROTATION_POLICY, SEVERITY_INFO);
        fx_finding(&fx, 0, FINDING_KEY_EXPIRING, SEVERITY_WARNING);
        fx_finding(&fx, 1, FINDING_KEY_EXPIRING, SEVERITY_WARNING);
        fx_finding(&fx, 3, FINDING_KEY_VERSION_PINNED, SEVERITY_INFO);
        fx_action(&fx, 3, OUTCOME_REFUSED, REFUSAL_OUTSIDE_WINDOW,
                  "https://vault3.vault.azure.net/keys/key3", NULL);
}

/* The text of the line that starts with prefix, and whether the line before it is empty. */
static bool blank_before(const char *text, const char *prefix) {
        const char *p = strstr(text, prefix);

        if (!p)
                fail_msg("no line starting with '%s' in:\n%s", prefix, text);
        assert_true(p == text || p[-1] == '\n');
        return p - text >= 2 && p[-2] == '\n';
}

static void test_table_groups(void **state) {
        struct buf b;

        build_sweep();
        buf_init(&b, 0);
        assert_int_equal(output_table(&fx.sweep, NOW, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);

        /* A group starts with a blank line even when its first finding is info (not printed). */
        assert_true(blank_before(b.data, "WARNING  c0 [key-expiring]"));
        assert_true(blank_before(b.data, "WARNING  c1 [key-expiring]"));
        assert_true(blank_before(b.data, "NOTICE   c3: update refused"));
        assert_true(blank_before(b.data, "4 clusters: 0 critical, 2 warning, 1 info, 1 ok"));
        /* Never two blank lines in a row, and no line for the healthy or info findings. */
        assert_null(strstr(b.data, "\n\n\n"));
        assert_null(strstr(b.data, "c2 ["));
        assert_null(strstr(b.data, "[key-no-rotation-policy]"));
        buf_done(&b);
}

/* The value of "severity" that follows "name":"NAME" in the JSON. */
static void check_severity(const char *json, const char *name, const char *expect) {
        char needle[64], want[64];
        const char *p, *sev;

        snprintf(needle, sizeof needle, "\"name\":\"%s\"", name);
        p = strstr(json, needle);
        assert_non_null(p);
        sev = strstr(p, "\"severity\":");
        assert_non_null(sev);
        snprintf(want, sizeof want, "\"severity\":\"%s\"", expect);
        if (!startswith(sev, want))
                fail_msg("cluster %s: expected %s, got %.40s", name, want, sev);
}

static void test_json_severity(void **state) {
        struct buf b;

        build_sweep();
        buf_init(&b, 0);
        assert_int_equal(output_json(&fx.sweep, NOW, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);

        check_severity(b.data, "c0", "warning");
        check_severity(b.data, "c1", "warning");
        check_severity(b.data, "c2", "ok");
        check_severity(b.data, "c3", "info");
        assert_non_null(strstr(
                b.data, "\"summary\":{\"clusters\":4,\"critical\":0,\"warning\":2,\"info\":1,\"ok\":1}"));
        buf_done(&b);
}

struct collect {
        struct buf all;
        unsigned calls;
        int fail_at; /* the call that fails with -EIO; 0 = none */
};

static int collect_write(const char *data, size_t len, void *userdata) {
        struct collect *c = userdata;

        assert_true(len > 0);
        if (++c->calls == (unsigned) c->fail_at)
                return -EIO;
        return buf_append(&c->all, data, len);
}

/* Streamed in pieces (here one per cluster and part), the text is the same as at once; a
 * failing write stops it with its error. */
static void test_stream(void **state) {
        for (int json = 0; json <= 1; json++) {
                struct collect c = {};
                struct buf whole;

                build_sweep();
                buf_init(&whole, 0);
                buf_init(&c.all, 0);
                if (json) {
                        assert_int_equal(output_json(&fx.sweep, NOW, &whole), 0);
                        assert_int_equal(output_json_stream(&fx.sweep, NOW, 1, collect_write, &c), 0);
                } else {
                        assert_int_equal(output_table(&fx.sweep, NOW, &whole), 0);
                        assert_int_equal(output_table_stream(&fx.sweep, NOW, 1, collect_write, &c), 0);
                }
                assert_true(c.calls > 4);
                assert_int_equal(c.all.len, whole.len);
                assert_memory_equal(c.all.data, whole.data, whole.len);

                /* The default piece size holds this small sweep in one piece. */
                c.calls = 0;
                buf_clear(&c.all);
                if (json)
                        assert_int_equal(output_json_stream(&fx.sweep, NOW, 0, collect_write, &c), 0);
                else
                        assert_int_equal(output_table_stream(&fx.sweep, NOW, 0, collect_write, &c), 0);
                assert_int_equal(c.calls, 1);
                assert_int_equal(c.all.len, whole.len);

                c.calls = 0;
                c.fail_at = 2;
                buf_clear(&c.all);
                if (json)
                        assert_int_equal(output_json_stream(&fx.sweep, NOW, 1, collect_write, &c), -EIO);
                else
                        assert_int_equal(output_table_stream(&fx.sweep, NOW, 1, collect_write, &c), -EIO);
                assert_int_equal(c.calls, 2);
                buf_done(&whole);
                buf_done(&c.all);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_groups),
                cmocka_unit_test(test_json_severity),
                cmocka_unit_test(test_stream),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
