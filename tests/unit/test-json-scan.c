/* SPDX-License-Identifier: MIT */
/* json_scan: documents checked as json_parse_object() checks them (compared on a table of
 * valid, malformed and odd documents), lookups and member walks with json-c's rules for
 * duplicates, strings unescaped as json-c unescapes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "json_scan.h"
#include "json_util.h"
#include "mem.h"

#define S(s) s, sizeof(s) - 1

/* Each document: json_scan_document() must give what json_parse_object() gives, but where it
 * is stricter on purpose (want_scan set: invalid UTF-8 that json-c lets through). */
static void test_document_like_json_c(void **state) {
        static const struct {
                const char *body;
                size_t len;
                int want_scan; /* 0: as json-c */
        } t[] = {
                { S("{}"), 0 },
                { S(" \t\r\n{ }\n"), 0 },
                { S("\xef\xbb\xbf{}"), 0 },
                { S(""), 0 },
                { S("   "), 0 },
                { S("{"), 0 },
                { S("[]"), 0 },
                { S("null"), 0 },
                { S("\"x\""), 0 },
                { S("42"), 0 },
                { S("{} x"), 0 },
                { S("{}{}"), 0 },
                { S("{\"a\":1,}"), 0 },
                { S("{\"a\":[1,]}"), 0 },
                { S("{\"a\":[,1]}"), 0 },
                { S("{,}"), 0 },
                { S("{\"a\"}"), 0 },
                { S("{\"a\":}"), 0 },
                { S("{\"a\":1 \"b\":2}"), 0 },
                { S("{\"a\" : 1 , \"b\" :[ 1 , 2 ] }"), 0 },
                { S("{'a':1}"), 0 },
                { S("{'a':'x'}"), 0 },
                { S("{\"a\":{'b':1}}"), 0 },
                { S("{'a\"b':1,'':2,'\\u0041' :3}"), 0 },
                { S("{'a\\'b':1}"), 0 },
                { S("{'a\\\"b':1}"), 0 },
                { S("/* c */ {}"), 0 },
                { S("{}\f"), 0 },
                { S("{}\0"), 0 },
                { S("{\"a\":\"x\0y\"}"), 0 },
                { S("{\"a\":\"x\\u0000y\"}"), 0 },
                { S("{\"a\\u0000\":1}"), 0 },
                { S("{\"a\":\"\\\\u0000\"}"), 0 },
                { S("{\"a\":\"\t\x01\x1f\x7f\"}"), 0 },
                { S("{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"}"), 0 },
                { S("{\"a\":\"\\a\"}"), 0 },
                { S("{\"a\":\"\\x41\"}"), 0 },
                { S("{\"a\":\"\\U0041\"}"), 0 },
                { S("{\"a\":\"\\u12\"}"), 0 },
                { S("{\"a\":\"\\ud800\"}"), 0 },
                { S("{\"a\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}"), 0 },
                { S("{\"a\":\"\xff\"}"), 0 },
                { S("{\"a\":\"\xe2\x82\"}"), 0 },
                { S("{\"a\":\"\xc0\x80\"}"), -EBADMSG },     /* overlong NUL */
                { S("{\"a\":\"\xc1\xbf\"}"), -EBADMSG },         /* overlong */
                { S("{\"a\":\"\xed\xbf\xbf\"}"), -EBADMSG },     /* surrogate */
                { S("{\"a\":\"\xf4\x90\x80\x80\"}"), -EBADMSG }, /* past U+10FFFF */
                { S("{\"a\":true,\"b\":false,\"c\":null}"), 0 },
                { S("{\"a\":True}"), 0 },
                { S("{\"a\":nul}"), 0 },
                { S("{\"a\":tru}"), 0 },
                { S("{\"a\":[0,-0,1.5,-1.5e3,1E+5,1e-5,0.0e-0]}"), 0 },
                { S("{\"a\":[00,000,-01,-00,01.5,00.5,-.5,1.,0.,1.e5,00e5,-01e5]}"), 0 },
                { S("{\"a\":[NaN,Infinity,-Infinity]}"), 0 },
                { S("{\"a\":01}"), 0 },
                { S("{\"a\":001}"), 0 },
                { S("{\"a\":-NaN}"), 0 },
                { S("{\"a\":+1}"), 0 },
                { S("{\"a\":.5}"), 0 },
                { S("{\"a\":1e}"), 0 },
                { S("{\"a\":1e+}"), 0 },
                { S("{\"a\":-}"), 0 },
                { S("{\"a\":--1}"), 0 },
                { S("{\"a\":0x10}"), 0 },
                { S("{\"a\":1.2.3}"), 0 },
                { S("{\"a\":1e5.5}"), 0 },
                { S("{\"a\":1.+5}"), 0 },
                { S("{\"a\":-.e5}"), 0 },
                { S("{\"a\":nan}"), 0 },
                { S("{\"a\":infinity}"), 0 },
                { S("{\"a\":Inf}"), 0 },
                { S("{\"a\":123456789012345678901234567890}"), 0 },
                { S("{\"a\":[1 2]}"), 0 },
                { S("{\"a\":[]]}"), 0 },
                { S("{\"a\":{}}}"), 0 },
                { S("{\"\":1}"), 0 },
        };
        struct json_scan scan;
        const char *top;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct json_object *o = NULL;
                int rj = json_parse_object(t[i].body, t[i].len, &o), rs;

                if (o)
                        json_object_put(o);
                rs = json_scan_document(&scan, t[i].body, t[i].len, &top);
                json_scan_done(&scan);
                if (rs != (t[i].want_scan ?: rj))
                        fail_msg("case %zu: json_scan_document() %d, json-c %d, want %d", i, rs, rj,
                                 t[i].want_scan ?: rj);
                if (rs == 0 && *top != '{')
                        fail_msg("case %zu: top is not the object", i);
        }
}

/* Nesting: containers JSON_DEPTH_MAX deep are fine, a value deeper is -E2BIG as json-c starts
 * on it (after the bytes json-c refuses first); the limit and the whole size come before any
 * other check. */
static void test_depth_and_size(void **state) {
        static const char *const inner[] = { "", "1", "]", "\x05", "x", "\xc3\xa9", "\x88", "[" };
        struct json_scan scan;
        const char *top;
        char doc[256];

        for (size_t depth = JSON_DEPTH_MAX - 2; depth <= JSON_DEPTH_MAX + 1; depth++)
                for (size_t k = 0; k < ELEMENTSOF(inner); k++) {
                        struct json_object *o = NULL;
                        size_t n = 0;
                        int rj, rs;

                        n += (size_t) sprintf(doc + n, "{\"a\":");
                        for (size_t i = 1; i < depth; i++)
                                doc[n++] = '[';
                        n += (size_t) sprintf(doc + n, "%s", inner[k]);
                        rj = json_parse_object(doc, n, &o);
                        if (o)
                                json_object_put(o);
                        rs = json_scan_document(&scan, doc, n, &top);
                        json_scan_done(&scan);
                        if (rs != rj)
                                fail_msg("depth %zu, then '%s': json_scan_document() %d, json-c %d", depth,
                                         inner[k], rs, rj);
                }
        assert_int_equal(json_scan_document(&scan, "{}", JSON_DOC_MAX + 1, &top), -E2BIG);
        json_scan_done(&scan);
        assert_int_equal(json_scan_document(&scan, NULL, 0, &top), -EBADMSG);
        json_scan_done(&scan);
}

/* Lookups: the last of duplicate members wins, names compare unescaped, values are typed by
 * their first byte; walking members gives each distinct name once, where it first appeared,
 * with its last value; arrays step element by element over nested values. */
static void test_read(void **state) {
        static const char doc[] = "{\"a\":1,\"b\":{\"x\":[1,{\"y\":\"}\"}]},\"\\u0061\":\"two\",\"c\":null,"
                                  "\"d\":[\"s\\\"q\",[[]],{},-1.5e3,true],\"b\":\"last\","
                                  "\"e\\\\\":\"caf\\u00e9 \\ud83d\\ude00 \\ud800!\"}";
        static const char *const keys[] = { "a", "b", "c", "d", "missing", "e\\" };
        struct json_scan scan;
        struct json_scan_member *m = NULL;
        const char *top, *v[ELEMENTSOF(keys)], *s, *e;
        size_t n, len;

        assert_int_equal(json_scan_document(&scan, S(doc), &top), 0);
        /* Up to JSON_MEMBERS_MAX the count is of members, duplicates included. */
        assert_int_equal(json_scan_lookup(&scan, top, keys, ELEMENTSOF(keys), v), 7);
        assert_int_equal(json_scan_type(v[0]), JSON_SCAN_STRING); /* "\u0061" is "a", and later */
        assert_int_equal(json_scan_string(&scan, v[0], &s, &len), 0);
        assert_string_equal(s, "two");
        assert_int_equal(len, 3);
        assert_int_equal(json_scan_string(&scan, v[1], &s, NULL), 0);
        assert_string_equal(s, "last");
        assert_int_equal(json_scan_type(v[2]), JSON_SCAN_NULL);
        assert_int_equal(json_scan_type(v[3]), JSON_SCAN_ARRAY);
        assert_null(v[4]);
        assert_int_equal(json_scan_string(&scan, v[5], &s, &len), 0);
        assert_string_equal(s, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xef\xbf\xbd!");
        assert_int_equal(len, strlen(s));
        assert_int_equal(json_scan_string(&scan, v[3], &s, NULL), -EBADMSG);

        /* The array, element by element. */
        assert_int_equal(json_scan_array_length(&scan, v[3]), 5);
        e = json_scan_first(v[3]);
        assert_int_equal(json_scan_string(&scan, e, &s, NULL), 0);
        assert_string_equal(s, "s\"q");
        e = json_scan_next(&scan, e);
        assert_int_equal(json_scan_type(e), JSON_SCAN_ARRAY);
        assert_int_equal(json_scan_array_length(&scan, e), 1);
        e = json_scan_next(&scan, e);
        assert_int_equal(json_scan_type(e), JSON_SCAN_OBJECT);
        assert_int_equal(json_scan_lookup(&scan, e, keys, 0, v), 0);
        e = json_scan_next(&scan, e);
        assert_int_equal(json_scan_type(e), JSON_SCAN_NUMBER);
        e = json_scan_next(&scan, e);
        assert_int_equal(json_scan_type(e), JSON_SCAN_BOOLEAN);
        assert_null(json_scan_next(&scan, e));

        /* Members: a, b, c, d, e\ once each; a and b with their last values. */
        assert_int_equal(json_scan_members(&scan, top, &m, &n), 0);
        assert_int_equal(n, 5);
        assert_string_equal(m[0].name, "a");
        assert_int_equal(json_scan_string(&scan, m[0].value, &s, NULL), 0);
        assert_string_equal(s, "two");
        assert_string_equal(m[1].name, "b");
        assert_int_equal(json_scan_type(m[1].value), JSON_SCAN_STRING);
        assert_string_equal(m[4].name, "e\\");
        assert_int_equal(m[4].name_len, 2);
        mem_free(m);

        json_scan_forget_strings(&scan);
        assert_int_equal(json_scan_string(&scan, v[1], &s, NULL), 0);
        assert_string_equal(s, "last");
        json_scan_done(&scan);

        assert_int_equal(json_scan_document(&scan, S("{\"e\":[]}"), &top), 0);
        assert_int_equal(json_scan_lookup(&scan, top, keys, 0, v), 1);
        assert_int_equal(json_scan_members(&scan, top, &m, &n), 0);
        assert_int_equal(n, 1);
        assert_null(json_scan_first(m[0].value));
        assert_int_equal(json_scan_array_length(&scan, m[0].value), 0);
        mem_free(m);
        json_scan_done(&scan);
}

/* Many members, some repeated: the walk finds duplicates past the linear search too, and the
 * count is of distinct names. */
static void test_many_members(void **state) {
        static const char *const keys[] = { "k7", "k199" };
        struct json_scan scan;
        struct json_scan_member *m = NULL;
        const char *top, *v[ELEMENTSOF(keys)];
        char *doc = malloc(64 * 1024), *p = doc;
        size_t n;

        assert_non_null(doc);
        *p++ = '{';
        for (int i = 0; i < 300; i++)
                p += sprintf(p, "%s\"k%d\":%d", i ? "," : "", i % 200, i);
        *p++ = '}';
        assert_int_equal(json_scan_document(&scan, doc, (size_t) (p - doc), &top), 0);
        assert_int_equal(json_scan_lookup(&scan, top, keys, ELEMENTSOF(keys), v), 300);
        assert_int_equal(strtol(v[0], NULL, 10), 207);
        assert_int_equal(strtol(v[1], NULL, 10), 199);
        assert_int_equal(json_scan_members(&scan, top, &m, &n), 0);
        assert_int_equal(n, 200);
        for (size_t i = 0; i < n; i++) {
                char name[32];

                snprintf(name, sizeof name, "k%zu", i);
                assert_string_equal(m[i].name, name);
                assert_int_equal(strtol(m[i].value, NULL, 10), i < 100 ? (long) i + 200 : (long) i);
        }
        mem_free(m);
        json_scan_done(&scan);
        free(doc);
}

static void test_oom(void **state) {
        static const char doc[] = "{\"a\":[{\"b\":\"x\"}],\"c\":\"\\u00e9\"}";
        static const char *const keys[] = { "c" };
        struct json_scan scan;
        struct json_scan_member *m = NULL;
        const char *top, *v[1], *s = NULL;
        size_t n;

        mem_fail_at(1, false);
        assert_int_equal(json_scan_document(&scan, S(doc), &top), -ENOMEM);
        mem_fail_at(0, false);
        json_scan_done(&scan);
        assert_int_equal(json_scan_document(&scan, S(doc), &top), 0);
        assert_int_equal(json_scan_lookup(&scan, top, keys, 1, v), 2);
        mem_fail_at(1, false);
        assert_int_equal(json_scan_string(&scan, v[0], &s, NULL), -ENOMEM);
        mem_fail_at(1, false);
        assert_int_equal(json_scan_members(&scan, top, &m, &n), -ENOMEM);
        mem_fail_at(0, false);
        assert_null(m);
        assert_int_equal(json_scan_string(&scan, v[0], &s, NULL), 0);
        assert_string_equal(s, "\xc3\xa9");
        json_scan_done(&scan);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_document_like_json_c),
                cmocka_unit_test(test_depth_and_size),
                cmocka_unit_test(test_read),
                cmocka_unit_test(test_many_members),
                cmocka_unit_test(test_oom),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
