/* SPDX-License-Identifier: MIT */
/* kv_decode: every Key Vault reference example and our own samples decode with the
 * expected fields (RSA sizes recomputed here independently); malformed and wrongly typed
 * input gives -EBADMSG or -E2BIG with *ret untouched; allocation failures give -ENOMEM.
 * Data: tests/data (override with CMKD_TEST_DATA); run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "json_util.h"
#include "kv_decode.h"
#include "mem.h"
#include "strv.h"
#include "timeutil.h"

#include "decode-fixture.h"

/* ---- decoders under test ---------------------------------------------------------- */

DEFINE_TRY(key, kv_decode_key_bundle, struct key_bundle, key_bundle_free)
DEFINE_TRY(deleted_key, kv_decode_deleted_key_bundle, struct key_bundle, key_bundle_free)
DEFINE_TRY(versions, kv_decode_key_version_list, struct key_version_list, key_version_list_free)
DEFINE_TRY(rotation, kv_decode_rotation_policy, struct rotation_policy, rotation_policy_free)
DEFINE_TRY(hsm_roles, kv_decode_hsm_role_assignment_list, struct role_assignment_list, role_assignment_list_free)
DEFINE_TRY(hsm_role_defs, kv_decode_hsm_role_definition_list, struct role_definition_list,
           role_definition_list_free)

static const struct decoder decoders[] = {
        { "key_bundle", try_key },
        { "deleted_key_bundle", try_deleted_key },
        { "key_version_list", try_versions },
        { "rotation_policy", try_rotation },
        { "hsm_role_assignment_list", try_hsm_roles },
        { "hsm_role_definition_list", try_hsm_role_defs },
};

/* The bit length of a base64url big-endian integer, computed differently from
 * kv_decode.c: decode the whole thing into a buffer with a lookup in the alphabet, then
 * find the first non-zero byte and count with __builtin_clz. */
static unsigned reference_rsa_bits(const char *n) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t len = strlen(n), nbytes = 0;
        unsigned char *buf = calloc(len, 1);
        uint32_t acc = 0;
        int have = 0;
        unsigned bits = 0;

        assert_non_null(buf);
        for (size_t i = 0; i < len; i++) {
                const char *p = strchr(alphabet, n[i]);

                assert_non_null(p);
                acc = (acc << 6) | (uint32_t) (p - alphabet);
                have += 6;
                if (have >= 8) {
                        have -= 8;
                        buf[nbytes++] = (unsigned char) (acc >> have);
                }
        }
        for (size_t i = 0; i < nbytes; i++)
                if (buf[i]) {
                        bits = (unsigned) (8 * (nbytes - i - 1)) + (unsigned) (32 - __builtin_clz(buf[i]));
                        break;
                }
        free(buf);
        return bits;
}

/* The string member "n" of the "key" object of a JSON text. */
static char *key_n(const char *body) {
        struct json_object *root = json_tokener_parse(body), *key, *n;
        char *s;

        assert_non_null(root);
        assert_true(json_object_object_get_ex(root, "key", &key));
        assert_true(json_object_object_get_ex(key, "n", &n));
        s = strdup(json_object_get_string(n));
        json_object_put(root);
        return s;
}

/* ---- every decoder against malformed documents ------------------------------------ */

static void test_generic_malformed(void **state) {
        static const struct {
                const char *body;
                size_t len;
                int r;
        } t[] = {
                { S(""), -EBADMSG },
                { S("{"), -EBADMSG },
                { S("{\"key\":{\"kid\":\"https://v1x.vault.azure.net/keys/k/v\""), -EBADMSG },
                { S("[]"), -EBADMSG },
                { S("null"), -EBADMSG },
                { S("7"), -EBADMSG },
                { S("{} ]"), -EBADMSG },
                { S("{\"a\":\"\xfe\"}"), -EBADMSG },
                { S("{\"a\":\"\xe2\x82\"}"), -EBADMSG }, /* truncated UTF-8 sequence */
                { S("{\"a\":\"\\u0000\"}"), -EBADMSG },
                { S("{\"kid\":\"x\0\"}"), -EBADMSG },
                { S("{\"a\":[1,2,]}"), -EBADMSG },
        };
        char deep[4096];
        size_t n = 0;

        for (size_t d = 0; d < ELEMENTSOF(decoders); d++)
                for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                        int r = decoders[d].try(t[i].body, t[i].len);

                        if (r != t[i].r)
                                fail_msg("%s: malformed case %zu gave %d, want %d", decoders[d].name, i, r, t[i].r);
                }

        /* Nesting far past JSON_DEPTH_MAX. */
        n += (size_t) sprintf(deep, "{\"key\":");
        for (int i = 0; i < 1000; i++)
                deep[n++] = '[';
        for (int i = 0; i < 1000; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        for (size_t d = 0; d < ELEMENTSOF(decoders); d++) {
                assert_int_equal(decoders[d].try(deep, n), -E2BIG);
                assert_int_equal(decoders[d].try("{}", JSON_DOC_MAX + 1), -E2BIG);
        }
}

/* ---- keys --------------------------------------------------------------------------- */

static void test_key_examples(void **state) {
        static const struct {
                const char *file;
                bool deleted;
        } t[] = {
                { "reference/keyvault/7.5/GetKey-example.json", false },
                { "reference/keyvault/7.5/GetDeletedKey-example.json", true },
                { "reference/keyvault/2025-07-01/GetDeletedKey-example.json", true },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(key_bundle_freep) struct key_bundle *k = NULL;
                size_t len;
                char *b = example_body(t[i].file, "200", &len), *n = key_n(b);
                int r = t[i].deleted ? kv_decode_deleted_key_bundle(b, len, &k) : kv_decode_key_bundle(b, len, &k);

                if (r != 0)
                        fail_msg("%s: %d", t[i].file, r);
                assert_string_equal(k->kid, "https://myvault.vault.azure.net/keys/CreateSoftKeyTest/78deebed173b48e48f55abf87ed4cf71");
                assert_string_equal(k->version, "78deebed173b48e48f55abf87ed4cf71");
                assert_string_equal(k->kty, "RSA");
                assert_int_equal(k->rsa_bits, reference_rsa_bits(n));
                assert_int_equal(k->rsa_bits, 2048);
                assert_true(k->has_key_ops);
                assert_int_equal(k->key_ops, KEY_OP_ENCRYPT | KEY_OP_DECRYPT | KEY_OP_SIGN | KEY_OP_VERIFY |
                                                     KEY_OP_WRAP_KEY | KEY_OP_UNWRAP_KEY);
                assert_true(k->enabled);
                assert_int_equal(k->nbf, 0);
                assert_int_equal(k->exp, USEC_INFINITY);
                assert_int_equal(k->created, 1493942451 * USEC_PER_SEC);
                assert_int_equal(k->updated, 1493942451 * USEC_PER_SEC);
                assert_string_equal(k->recovery_level, "Recoverable+Purgeable");
                assert_false(k->managed);
                if (t[i].deleted) {
                        assert_string_equal(k->recovery_id, "https://myvault.vault.azure.net/deletedkeys/CreateSoftKeyTest");
                        assert_int_equal(k->deleted_date, 1493942452 * USEC_PER_SEC);
                        assert_int_equal(k->scheduled_purge_date, 1501718452 * USEC_PER_SEC);
                } else {
                        assert_null(k->recovery_id);
                        assert_int_equal(k->deleted_date, 0);
                }
                check_oom(t[i].deleted ? try_deleted_key : try_key, t[i].file, b, len);
                free(n);
                free(b);
        }
}

static void test_key_local(void **state) {
        _cleanup_(key_bundle_freep) struct key_bundle *k = NULL, *e = NULL;
        size_t len;
        char *b = read_data("local/key-hsm-rsa3072.json", &len), *n = key_n(b);

        /* Managed HSM key, modulus with two leading zero bytes, fractional exp, disabled. */
        assert_int_equal(kv_decode_key_bundle(b, len, &k), 0);
        assert_string_equal(k->version, "5f3ac9b1c2d34e5f8a9b0c1d2e3f4a5b");
        assert_string_equal(k->kty, "RSA-HSM");
        assert_int_equal(reference_rsa_bits(n), 3072);
        assert_int_equal(k->rsa_bits, 3072);
        assert_int_equal(k->key_ops, KEY_OP_WRAP_KEY | KEY_OP_UNWRAP_KEY | KEY_OP_ENCRYPT | KEY_OP_DECRYPT);
        assert_false(k->enabled);
        assert_int_equal(k->nbf, 1700000000 * USEC_PER_SEC);
        assert_int_equal(k->exp, 1800000000 * USEC_PER_SEC);
        assert_int_equal(k->created, 1690000000 * USEC_PER_SEC);
        assert_string_equal(k->recovery_level, "CustomizedRecoverable+Purgeable");
        assert_true(k->managed);
        check_oom(try_key, "key-hsm-rsa3072", b, len);
        free(n);
        free(b);

        b = read_data("local/key-ec.json", &len);
        assert_int_equal(kv_decode_key_bundle(b, len, &e), 0);
        assert_string_equal(e->kid, "https://prod-kv-01.vault.azure.net:443/keys/ec-key/00112233445566778899aabbccddeeff");
        assert_string_equal(e->version, "00112233445566778899aabbccddeeff");
        assert_string_equal(e->kty, "EC-HSM");
        assert_int_equal(e->rsa_bits, 0);
        assert_false(e->has_key_ops);
        assert_int_equal(e->key_ops, 0);
        assert_string_equal(e->recovery_level, "Recoverable");
        free(b);
}

#define KID "\"kid\":\"https://myvault.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef\""

static void test_key_rsa_bits(void **state) {
        static const struct {
                const char *n;
                int r;
                unsigned bits;
        } t[] = {
                { "AQAB", 0, 17 },   /* 0x010001 */
                { "AAAB", 0, 1 },    /* leading zero bytes skipped */
                { "gA", 0, 8 },      /* 0x80 */
                { "gA==", 0, 8 },    /* padded */
                { "AQ==", 0, 1 },
                { "", 0, 0 },
                { "AAAA", 0, 0 },    /* zero */
                { "_w", 0, 8 },      /* 0xff */
                { "A", -EBADMSG, 0 }, /* six bits are not a byte */
                { "AQAB=", -EBADMSG, 0 },
                { "gA=", -EBADMSG, 0 },
                { "a+b/", -EBADMSG, 0 }, /* standard base64, not base64url */
                { "AQ AB", -EBADMSG, 0 },
                { "AQ=B", -EBADMSG, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(key_bundle_freep) struct key_bundle *k = NULL;
                char body[256];
                int r;

                snprintf(body, sizeof body, "{\"key\":{" KID ",\"kty\":\"RSA\",\"n\":\"%s\"}}", t[i].n);
                r = kv_decode_key_bundle(body, strlen(body), &k);
                if (r != t[i].r)
                        fail_msg("n=\"%s\": %d, want %d", t[i].n, r, t[i].r);
                if (r == 0 && k->rsa_bits != t[i].bits)
                        fail_msg("n=\"%s\": %u bits, want %u", t[i].n, k->rsa_bits, t[i].bits);
        }
}

static void test_key_malformed(void **state) {
        static const struct bad_case t[] = {
                { "{\"key\":{" KID "}}", 0 },
                { "{\"key\":{" KID "},\"attributes\":null,\"managed\":null,\"tags\":{}}", 0 },
                { "{\"key\":{" KID "},\"attributes\":{\"exp\":1e300}}", 0 },      /* saturates */
                { "{\"key\":{" KID "},\"attributes\":{\"exp\":-5}}", 0 },         /* before 1970 */
                { "{\"key\":{" KID "},\"attributes\":{\"exp\":99999999999999999999}}", 0 },
                { "{\"key\":{" KID ",\"kty\":\"EC\",\"n\":\"!!\"}}", 0 },          /* n only read for RSA */
                { "{\"key\":{" KID ",\"key_ops\":[\"frobnicate\"]}}", 0 },          /* unknown op ignored */
                { "{}", -EBADMSG },
                { "{\"key\":null}", -EBADMSG },
                { "{\"key\":[]}", -EBADMSG },
                { "{\"key\":\"k\"}", -EBADMSG },
                { "{\"key\":{}}", -EBADMSG },                                      /* missing kid */
                { "{\"key\":{\"kid\":null}}", -EBADMSG },
                { "{\"key\":{\"kid\":42}}", -EBADMSG },
                { "{\"key\":{\"kid\":\"\"}}", -EBADMSG },
                { "{\"key\":{\"kid\":\"https://myvault.vault.azure.net/keys/k\"}}", -EBADMSG }, /* versionless */
                { "{\"key\":{\"kid\":\"https://myvault.vault.azure.net/keys/k/\"}}", -EBADMSG },
                { "{\"key\":{\"kid\":\"http://myvault.vault.azure.net/keys/k/v1\"}}", -EBADMSG },
                { "{\"key\":{\"kid\":\"https://myvault.evil.example/keys/k/v1\"}}", -EBADMSG },
                { "{\"key\":{\"kid\":\"https://myvault.vault.azure.net/secrets/k/v1\"}}", -EBADMSG },
                { "{\"key\":{\"kid\":\"https://myvault.vault.azure.net/keys/listkeyversionstest/7c9dc67.6d0e4177827c4f98f482fc12\"}}", -EBADMSG },
                { "{\"key\":{" KID ",\"kty\":1}}", -EBADMSG },
                { "{\"key\":{" KID ",\"key_ops\":\"wrapKey\"}}", -EBADMSG },
                { "{\"key\":{" KID ",\"key_ops\":[1]}}", -EBADMSG },
                { "{\"key\":{" KID ",\"key_ops\":[null]}}", -EBADMSG },
                { "{\"key\":{" KID ",\"kty\":\"RSA\",\"n\":5}}", -EBADMSG },
                { "{\"key\":{" KID ",\"kty\":\"RSA\",\"n\":\"!!\"}}", -EBADMSG },
                { "{\"key\":{" KID "},\"attributes\":[]}", -EBADMSG },
                { "{\"key\":{" KID "},\"attributes\":{\"enabled\":\"true\"}}", -EBADMSG },
                { "{\"key\":{" KID "},\"attributes\":{\"enabled\":1}}", -EBADMSG },
                { "{\"key\":{" KID "},\"attributes\":{\"exp\":\"1700000000\"}}", -EBADMSG },
                { "{\"key\":{" KID "},\"attributes\":{\"nbf\":true}}", -EBADMSG },
                { "{\"key\":{" KID "},\"attributes\":{\"created\":{}}}", -EBADMSG },
                { "{\"key\":{" KID "},\"attributes\":{\"updated\":[1]}}", -EBADMSG },
                { "{\"key\":{" KID "},\"attributes\":{\"exp\":NaN}}", -EBADMSG },
                { "{\"key\":{" KID "},\"attributes\":{\"exp\":Infinity}}", -EBADMSG },
                { "{\"key\":{" KID "},\"attributes\":{\"exp\":1e999}}", -EBADMSG },
                { "{\"key\":{" KID "},\"attributes\":{\"recoveryLevel\":3}}", -EBADMSG },
                { "{\"key\":{" KID "},\"managed\":\"yes\"}", -EBADMSG },
        };
        _cleanup_(key_bundle_freep) struct key_bundle *a = NULL, *b = NULL;

        run_cases(try_key, "key bundle", t, ELEMENTSOF(t));
        run_cases(try_deleted_key, "deleted key bundle", t, ELEMENTSOF(t));

        assert_int_equal(kv_decode_key_bundle(S("{\"key\":{" KID "},\"attributes\":{\"exp\":-5,\"nbf\":1e300}}"), &a), 0);
        assert_int_equal(a->exp, 0);
        assert_int_equal(a->nbf, USEC_INFINITY - 1);
        assert_true(a->enabled); /* absent: enabled */
        assert_null(a->kty);
        assert_int_equal(kv_decode_key_bundle(S("{\"key\":{" KID "},\"attributes\":{\"exp\":1700000000.999,\"created\":-1.5}}"), &b), 0);
        assert_int_equal(b->exp, 1700000000 * USEC_PER_SEC);
        assert_int_equal(b->created, 0);
}

static void test_deleted_key_malformed(void **state) {
        static const struct bad_case t[] = {
                { "{\"key\":{" KID "},\"recoveryId\":\"r\",\"deletedDate\":1,\"scheduledPurgeDate\":2.5}", 0 },
                { "{\"key\":{" KID "},\"recoveryId\":null,\"deletedDate\":null}", 0 },
                { "{\"key\":{" KID "},\"recoveryId\":5}", -EBADMSG },
                { "{\"key\":{" KID "},\"deletedDate\":\"1493942452\"}", -EBADMSG },
                { "{\"key\":{" KID "},\"scheduledPurgeDate\":false}", -EBADMSG },
                { "{\"recoveryId\":\"r\"}", -EBADMSG },
        };

        run_cases(try_deleted_key, "deleted key", t, ELEMENTSOF(t));
}

/* ---- key versions ----------------------------------------------------------------- */

static void test_key_versions(void **state) {
        _cleanup_(key_version_list_freep) struct key_version_list *l = NULL, *c = NULL, *m = NULL;
        size_t n;
        char *b = example_body("spec/keyvault/7.5/GetKeyVersions-example.json", "200", &n);

        assert_int_equal(kv_decode_key_version_list(b, n, &l), 0);
        assert_int_equal(l->n_items, 1);
        assert_int_equal(l->n_invalid, 0);
        assert_string_equal(l->items[0].kid, "https://myvault.vault.azure.net/keys/listkeyversionstest/7c9dc6775d0e4177827c4f98f482fc12");
        assert_string_equal(l->items[0].version, "7c9dc6775d0e4177827c4f98f482fc12");
        assert_true(l->items[0].enabled);
        assert_int_equal(l->items[0].created, 1493937851 * USEC_PER_SEC);
        assert_int_equal(l->items[0].exp, USEC_INFINITY);
        assert_true(startswith(l->next_link, "https://myvault.vault.azure.net:443/keys/listkeyversionstest/versions?api-version=7.2&$skiptoken="));
        check_oom(try_versions, "7.5 GetKeyVersions", b, n);
        free(b);

        /* The 7.6 copy has a corrupted kid ("7c9dc67.6d0e...", a version-string replace)
         * and fractional timestamps: the page decodes, the item is counted invalid and
         * named. */
        b = example_body("reference/keyvault/7.6/GetKeyVersions-example.json", "200", &n);
        assert_int_equal(kv_decode_key_version_list(b, n, &c), 0);
        assert_int_equal(c->n_items, 0);
        assert_int_equal(c->n_invalid, 1);
        assert_string_equal(c->invalid_ids[0], "https://myvault.vault.azure.net/keys/listkeyversionstest/7c9dc67.6d0e4177827c4f98f482fc12");
        assert_non_null(c->next_link);
        free(b);

        b = read_data("local/key-versions-mixed.json", &n);
        assert_int_equal(kv_decode_key_version_list(b, n, &m), 0);
        assert_int_equal(m->n_items, 3);
        assert_string_equal(m->items[0].version, "0123456789abcdef0123456789abcdef");
        assert_int_equal(m->items[0].exp, 1900000000 * USEC_PER_SEC);
        assert_int_equal(m->items[0].updated, 1700000001 * USEC_PER_SEC);
        assert_false(m->items[1].enabled);
        assert_int_equal(m->items[1].nbf, 1700000000 * USEC_PER_SEC);
        assert_true(m->items[2].enabled); /* no attributes */
        assert_int_equal(m->n_invalid, 5);
        assert_true(strv_equal(m->invalid_ids, (char *[]) {
                "https://prod-kv-01.vault.azure.net/keys/orders-kek",
                "https://evil.example/keys/orders-kek/0123",
                "https://prod-kv-01.vault.azure.net/keys/orders-kek/00000000000000000000000000000000", NULL }));
        assert_null(m->next_link); /* "" ends the list */
        check_oom(try_versions, "key-versions-mixed", b, n);
        free(b);
}

static void test_key_list_examples(void **state) {
        /* GetKeys pages carry versionless kids: this decoder is for GetKeyVersions, so it
         * reports them as invalid (with their kid) instead of inventing a version. */
        static const char *const files[] = { "reference/keyvault/7.6/GetKeys-example.json",
                                             "reference/keyvault/2025-07-01/GetKeys-example.json" };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_(key_version_list_freep) struct key_version_list *l = NULL;
                size_t n;
                char *b = example_body(files[i], "200", &n);

                assert_int_equal(kv_decode_key_version_list(b, n, &l), 0);
                assert_int_equal(l->n_items, 0);
                assert_int_equal(l->n_invalid, 1);
                assert_string_equal(l->invalid_ids[0], "https://myvault.vault.azure.net/keys/sdktestkey");
                assert_true(startswith(l->next_link, "https://myvault.vault.azure.net:443/keys?api-version=7.2"));
                free(b);
        }
}

static void test_key_versions_malformed(void **state) {
        static const struct bad_case t[] = {
                { "{\"value\":[]}", 0 },
                { "{\"value\":[{" KID "}],\"nextLink\":null}", 0 },
                { "{\"value\":[{" KID ",\"attributes\":{\"enabled\":\"false\"}}]}", 0 }, /* item invalid */
                { "{\"value\":{}}", -EBADMSG },
                { "{\"value\":null}", -EBADMSG },
                { "{\"value\":\"x\"}", -EBADMSG },
                { "{}", -EBADMSG },
                { "{\"value\":[],\"nextLink\":1}", -EBADMSG },
                { "{\"value\":[],\"nextLink\":[]}", -EBADMSG },
        };
        _cleanup_(key_version_list_freep) struct key_version_list *l = NULL;

        run_cases(try_versions, "key versions", t, ELEMENTSOF(t));
        assert_int_equal(kv_decode_key_version_list(S("{\"value\":[{" KID ",\"attributes\":{\"enabled\":\"false\"}}]}"), &l), 0);
        assert_int_equal(l->n_items, 0);
        assert_int_equal(l->n_invalid, 1);
}

/* ---- rotation policy --------------------------------------------------------------- */

static void test_rotation_policy(void **state) {
        _cleanup_(rotation_policy_freep) struct rotation_policy *p = NULL, *q = NULL, *r = NULL;
        usec_t d;
        size_t n;
        char *b = example_body("reference/keyvault/7.6/GetKeyRotationPolicy-example.json", "200", &n);

        assert_int_equal(kv_decode_rotation_policy(b, n, &p), 0);
        assert_true(p->has_rotate_action);
        assert_int_equal(p->rotate_after_create, 90 * USEC_PER_DAY);
        assert_int_equal(p->rotate_before_expiry, 0);
        assert_true(p->has_notify_action);
        assert_int_equal(p->notify_before_expiry, 30 * USEC_PER_DAY);
        assert_int_equal(p->expiry_time, 2 * 365 * USEC_PER_DAY);
        check_oom(try_rotation, "GetKeyRotationPolicy", b, n);
        free(b);

        b = read_data("local/rotation-policy-notify-only.json", &n);
        assert_int_equal(kv_decode_rotation_policy(b, n, &q), 0);
        assert_false(q->has_rotate_action);
        assert_true(q->has_notify_action);
        assert_int_equal(q->notify_before_expiry, 30 * USEC_PER_DAY); /* the first Notify */
        assert_int_equal(q->expiry_time, 18 * 30 * USEC_PER_DAY);
        free(b);

        b = read_data("local/rotation-policy-rotate.json", &n);
        assert_int_equal(kv_decode_rotation_policy(b, n, &r), 0);
        assert_true(r->has_rotate_action); /* "ROTATE" */
        assert_int_equal(r->rotate_before_expiry, 2 * USEC_PER_WEEK);
        assert_int_equal(iso8601_duration_parse("P1Y2M3DT4H5M6S", &d), 0);
        assert_int_equal(r->rotate_after_create, d);
        assert_false(r->has_notify_action);
        assert_int_equal(r->expiry_time, 0);
        free(b);
}

static void test_rotation_policy_malformed(void **state) {
        static const struct bad_case t[] = {
                { "{}", 0 },
                { "{\"lifetimeActions\":[],\"attributes\":{}}", 0 },
                { "{\"lifetimeActions\":null}", 0 },
                { "{\"lifetimeActions\":[{}]}", 0 },
                { "{\"lifetimeActions\":[{\"action\":{\"type\":\"Rotate\"}}]}", 0 },
                { "{\"lifetimeActions\":[{\"action\":{\"type\":\"Purge\"},\"trigger\":{\"timeAfterCreate\":\"bogus\"}}]}", 0 },
                { "{\"lifetimeActions\":{}}", -EBADMSG },
                { "{\"lifetimeActions\":[1]}", -EBADMSG },
                { "{\"lifetimeActions\":[{\"action\":\"Rotate\"}]}", -EBADMSG },
                { "{\"lifetimeActions\":[{\"action\":{\"type\":1}}]}", -EBADMSG },
                { "{\"lifetimeActions\":[{\"action\":{\"type\":\"Rotate\"},\"trigger\":\"P90D\"}]}", -EBADMSG },
                { "{\"lifetimeActions\":[{\"action\":{\"type\":\"Rotate\"},\"trigger\":{\"timeAfterCreate\":\"90 days\"}}]}", -EBADMSG },
                { "{\"lifetimeActions\":[{\"action\":{\"type\":\"Rotate\"},\"trigger\":{\"timeAfterCreate\":90}}]}", -EBADMSG },
                { "{\"lifetimeActions\":[{\"action\":{\"type\":\"Notify\"},\"trigger\":{\"timeBeforeExpiry\":\"P\"}}]}", -EBADMSG },
                { "{\"attributes\":{\"expiryTime\":730}}", -EBADMSG },
                { "{\"attributes\":{\"expiryTime\":\"two years\"}}", -EBADMSG },
                { "{\"attributes\":[]}", -EBADMSG },
        };

        run_cases(try_rotation, "rotation policy", t, ELEMENTSOF(t));
}

/* ---- Managed HSM local RBAC -------------------------------------------------------- */

static void test_hsm_roles(void **state) {
        _cleanup_(role_assignment_list_freep) struct role_assignment_list *e = NULL, *l = NULL;
        _cleanup_(role_definition_list_freep) struct role_definition_list *d = NULL, *x = NULL;
        size_t n;
        char *b = example_body("spec/keyvault/7.5/ListRoleAssignments-example.json", "200", &n);

        assert_int_equal(kv_decode_hsm_role_assignment_list(b, n, &e), 0);
        assert_int_equal(e->n_items, 1);
        assert_string_equal(e->items[0].scope, "/keys");
        assert_string_equal(e->items[0].role_definition, "roledefinitionid");
        assert_string_equal(e->items[0].principal_id, "principalId");
        check_oom(try_hsm_roles, "ListRoleAssignments", b, n);
        free(b);

        b = read_data("local/hsm-role-assignments.json", &n);
        assert_int_equal(kv_decode_hsm_role_assignment_list(b, n, &l), 0);
        assert_int_equal(l->n_items, 3);
        assert_int_equal(l->n_invalid, 0);
        assert_string_equal(l->items[0].scope, "/");
        assert_string_equal(l->items[0].role_definition, "21dbd100-6940-42c2-9190-5d6cb909625b");
        assert_string_equal(l->items[1].scope, "/keys");
        assert_string_equal(l->items[1].role_definition, "33413926-3206-4cdd-b39a-83574fe37a17");
        assert_string_equal(l->items[2].scope, "/keys/cmk-hsm"); /* from the id */
        assert_null(l->next_link);
        free(b);

        b = example_body("spec/keyvault/7.5/ListRoleDefinitions-example.json", "200", &n);
        assert_int_equal(kv_decode_hsm_role_definition_list(b, n, &x), 0);
        assert_int_equal(x->n_items, 1);
        assert_string_equal(x->items[0]->id, "roledefinitionid");
        assert_null(x->items[0]->data_actions[0]);
        free(b);

        b = read_data("local/hsm-role-definitions.json", &n);
        assert_int_equal(kv_decode_hsm_role_definition_list(b, n, &d), 0);
        assert_int_equal(d->n_items, 2);
        assert_string_equal(d->items[0]->id, "33413926-3206-4cdd-b39a-83574fe37a17");
        assert_string_equal(d->items[0]->name, "Managed HSM Crypto Service Encryption User");
        assert_int_equal(strv_length(d->items[0]->data_actions), 3);
        assert_true(strv_contains(d->items[0]->data_actions, "Microsoft.KeyVault/managedHsm/keys/unwrap/action"));
        assert_string_equal(d->items[1]->id, "custom1");
        assert_int_equal(d->n_invalid, 1);
        assert_string_equal(d->invalid_ids[0], "/providers/Microsoft.Authorization/roleDefinitions/broken");
        assert_non_null(d->next_link);
        check_oom(try_hsm_role_defs, "hsm-role-definitions", b, n);
        free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_generic_malformed),  cmocka_unit_test(test_key_examples),
                cmocka_unit_test(test_key_local),          cmocka_unit_test(test_key_rsa_bits),
                cmocka_unit_test(test_key_malformed),      cmocka_unit_test(test_deleted_key_malformed),
                cmocka_unit_test(test_key_versions),       cmocka_unit_test(test_key_list_examples),
                cmocka_unit_test(test_key_versions_malformed), cmocka_unit_test(test_rotation_policy),
                cmocka_unit_test(test_rotation_policy_malformed), cmocka_unit_test(test_hsm_roles),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
