/* SPDX-License-Identifier: MIT */
/* auth_decode: token answers of IMDS and Entra, Key Vault challenges, audiences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "auth_decode.h"
#include "mem.h"

#define NOW (1506480273ULL * USEC_PER_SEC)

static void test_token_imds(void **state) {
        /* README §6.1, every value a string. */
        const char *body =
                "{ \"access_token\": \"eyJ0eXAi.eyJhdWQi.sig-_\", \"refresh_token\": \"\", "
                "\"expires_in\": \"3599\", \"expires_on\": \"1506484173\", \"not_before\": \"1506480273\", "
                "\"resource\": \"https://management.azure.com/\", \"token_type\": \"Bearer\" }";
        struct auth_token t = {};

        assert_int_equal(auth_decode_token(body, strlen(body), NOW, &t), 0);
        assert_string_equal(t.access_token, "eyJ0eXAi.eyJhdWQi.sig-_");
        assert_int_equal(t.expires_at, 1506484173ULL * USEC_PER_SEC);
        auth_token_done(&t);
        assert_null(t.access_token);
        auth_token_done(&t); /* twice is fine */
}

static void test_token_entra(void **state) {
        /* README §6.2: numbers. */
        const char *body = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,\"access_"
                           "token\":\"abc\"}";
        struct auth_token t = {};

        assert_int_equal(auth_decode_token(body, strlen(body), NOW, &t), 0);
        assert_string_equal(t.access_token, "abc");
        assert_int_equal(t.expires_at, NOW + 3599 * USEC_PER_SEC);
        auth_token_done(&t);
}

static void test_token_table(void **state) {
        static const struct {
                const char *body;
                int r;
                long long expires_in_sec; /* relative to NOW when r == 0 */
        } rows[] = {
                /* expires_on in the past: expires_in wins */
                {"{\"access_token\":\"a\",\"expires_on\":\"1000\",\"expires_in\":\"60\"}", 0, 60},
                /* only expires_on */
                {"{\"access_token\":\"a\",\"expires_on\":1506480333}", 0, 60},
                /* both: expires_on wins even if it disagrees */
                {"{\"access_token\":\"a\",\"expires_on\":1506480333,\"expires_in\":7200}", 0, 60},
                /* a ten-year token is cut to a day */
                {"{\"access_token\":\"a\",\"expires_in\":315360000}", 0, 86400},
                /* token type in another case */
                {"{\"access_token\":\"a\",\"expires_in\":5,\"token_type\":\"bearer\"}", 0, 5},
                {"{\"access_token\":\"a\",\"expires_in\":5.0}", 0, 5},
                /* refused */
                {"{\"access_token\":\"a\",\"expires_in\":5,\"token_type\":\"pop\"}", -EBADMSG, 0},
                {"{\"access_token\":\"a\",\"expires_on\":\"1000\"}", -EBADMSG, 0}, /* expired */
                {"{\"access_token\":\"a\",\"expires_in\":0}", -EBADMSG, 0},
                {"{\"access_token\":\"a\",\"expires_in\":-5}", -EBADMSG, 0},
                {"{\"access_token\":\"a\",\"expires_in\":\"soon\"}", -EBADMSG, 0},
                {"{\"access_token\":\"a\",\"expires_in\":\"60s\"}", -EBADMSG, 0},
                {"{\"access_token\":\"a\"}", -EBADMSG, 0},
                {"{\"access_token\":\"\",\"expires_in\":5}", -EBADMSG, 0},
                {"{\"access_token\":\"a b\",\"expires_in\":5}", -EBADMSG, 0},
                {"{\"access_token\":\"a\\r\\nX-Evil: 1\",\"expires_in\":5}", -EBADMSG,
                 0}, /* header injection */
                {"{\"access_token\":\"\\u00e9\",\"expires_in\":5}", -EBADMSG, 0},
                {"{\"access_token\":5,\"expires_in\":5}", -EBADMSG, 0},
                {"{\"expires_in\":5}", -EBADMSG, 0},
                {"[\"access_token\"]", -EBADMSG, 0},
                {"{\"access_token\":\"a\",\"expires_in\":5", -EBADMSG, 0},
                {"{\"access_token\":\"a\",\"expires_in\":5} trailing", -EBADMSG, 0},
                {"", -EBADMSG, 0},
                {"<html>", -EBADMSG, 0},
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                struct auth_token t = {};
                int r = auth_decode_token(rows[i].body, strlen(rows[i].body), NOW, &t);

                if (r != rows[i].r)
                        fail_msg("row %zu (%s): %d", i, rows[i].body, r);
                if (r == 0)
                        assert_int_equal(t.expires_at, NOW + (usec_t)rows[i].expires_in_sec * USEC_PER_SEC);
                else
                        assert_null(t.access_token);
                auth_token_done(&t);
        }
}

static void test_token_long(void **state) {
        char body[AUTH_TOKEN_MAX + 100];
        struct auth_token t = {};
        int n;

        n = snprintf(body, sizeof body, "{\"expires_in\":5,\"access_token\":\"");
        memset(body + n, 'x', AUTH_TOKEN_MAX);
        strcpy(body + n + AUTH_TOKEN_MAX, "\"}");
        assert_int_equal(auth_decode_token(body, strlen(body), NOW, &t), 0);
        assert_int_equal(strlen(t.access_token), AUTH_TOKEN_MAX);
        auth_token_done(&t);
        body[n + AUTH_TOKEN_MAX] = 'x';
        strcpy(body + n + AUTH_TOKEN_MAX + 1, "\"}");
        assert_int_equal(auth_decode_token(body, strlen(body), NOW, &t), -EBADMSG);
}

static void test_token_oom(void **state) {
        const char *body = "{\"access_token\":\"abc\",\"expires_in\":5}";
        struct auth_token t = {};

        mem_fail_at(1, true);
        assert_int_equal(auth_decode_token(body, strlen(body), NOW, &t), -ENOMEM);
        mem_fail_at(0, false);
        assert_null(t.access_token);
}

static void test_challenge(void **state) {
        static const struct {
                const char *header;
                int r;
                const char *authorization, *tenant, *resource, *error;
        } rows[] = {
                /* README §2.4 */
                {"Bearer authorization=\"https://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47\", "
                 "resource=\"https://vault.azure.net\"",
                 0, "https://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47",
                 "72f988bf-86f1-41af-91ab-2d7cd011db47", "https://vault.azure.net", NULL},
                /* authorization_uri + scope, trailing slash and .default dropped */
                {"Bearer authorization_uri=\"https://login.microsoftonline.com/contoso.onmicrosoft.com/\", "
                 "scope=\"https://managedhsm.azure.net/.default\"",
                 0, "https://login.microsoftonline.com/contoso.onmicrosoft.com/", "contoso.onmicrosoft.com",
                 "https://managedhsm.azure.net", NULL},
                /* resource beats scope; scheme and names in any case; no comma */
                {"bearer Resource=\"https://vault.azure.cn/\" scope=\"https://x/.default\" "
                 "AUTHORIZATION=https://login.chinacloudapi.cn/t1",
                 0, "https://login.chinacloudapi.cn/t1", "t1", "https://vault.azure.cn", NULL},
                /* CAE */
                {"Bearer realm=\"\", "
                 "authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", "
                 "error=\"insufficient_claims\", claims=\"eyJhY2Nlc3NfdG9rZW4iOnt9fQ==\"",
                 0, "https://login.microsoftonline.com/common/oauth2/authorize", "common", NULL,
                 "insufficient_claims"},
                /* another scheme first; its parameters are not ours */
                {"PoP resource=\"https://evil.example\", nonce=\"x\", Bearer "
                 "resource=\"https://vault.azure.net\"",
                 0, NULL, NULL, "https://vault.azure.net", NULL},
                /* escapes in quoted strings */
                {"Bearer resource=\"https://vault.azure.net\\\\x\"", 0, NULL, NULL,
                 "https://vault.azure.net\\x", NULL},
                /* authority without a tenant path */
                {"Bearer authorization=\"https://login.windows.net\", resource=\"https://vault.azure.net\"",
                 0, "https://login.windows.net", NULL, "https://vault.azure.net", NULL},
                /* first of a repeated parameter wins */
                {"Bearer resource=\"https://vault.azure.net\", resource=\"https://evil.example\"", 0, NULL,
                 NULL, "https://vault.azure.net", NULL},
                {"Basic realm=\"x\"", -EBADMSG},
                {"", -EBADMSG},
                {"Bearer resource=\"unterminated", -EBADMSG},
                {"Bearer =x", -EBADMSG},
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                struct auth_challenge c = {};
                int r = auth_decode_challenge(rows[i].header, &c);

                if (r != rows[i].r)
                        fail_msg("row %zu: %d", i, r);
                if (r == 0) {
                        if (!streq_ptr(c.authorization, rows[i].authorization) ||
                            !streq_ptr(c.tenant, rows[i].tenant) ||
                            !streq_ptr(c.resource, rows[i].resource) || !streq_ptr(c.error, rows[i].error))
                                fail_msg("row %zu: authorization=%s tenant=%s resource=%s error=%s", i,
                                         strna(c.authorization), strna(c.tenant), strna(c.resource),
                                         strna(c.error));
                }
                auth_challenge_done(&c);
        }
}

static void test_challenge_oom(void **state) {
        const char *h =
                "Bearer authorization=\"https://login.windows.net/t\", resource=\"https://vault.azure.net\"";
        struct auth_challenge c = {};
        unsigned n;

        for (n = 1;; n++) {
                mem_fail_at(n, false);
                int r = auth_decode_challenge(h, &c);
                mem_fail_at(0, false);
                if (r == 0)
                        break;
                assert_int_equal(r, -ENOMEM);
        }
        assert_true(n > 3);
        assert_string_equal(c.tenant, "t");
        auth_challenge_done(&c);
}

static void test_audience(void **state) {
        assert_true(auth_audience_equal("https://management.azure.com/", "https://management.azure.com"));
        assert_true(auth_audience_equal("https://vault.azure.net/.default", "https://VAULT.azure.net"));
        assert_true(auth_audience_equal("https://vault.azure.net//", "https://vault.azure.net"));
        assert_false(auth_audience_equal("https://vault.azure.net", "https://vault.azure.net.evil"));
        assert_false(auth_audience_equal("https://vault.azure.net", "https://managedhsm.azure.net"));
        assert_false(auth_audience_equal("/", "/"));
        assert_false(auth_audience_equal(NULL, "x"));

        assert_true(auth_audience_covers_host("https://vault.azure.net", "myvault.vault.azure.net"));
        assert_true(auth_audience_covers_host("https://vault.azure.net/", "MyVault.Vault.Azure.Net"));
        assert_true(auth_audience_covers_host("https://managedhsm.azure.net/.default",
                                              "h.managedhsm.azure.net"));
        assert_false(auth_audience_covers_host("https://vault.azure.net", "vault.azure.net"));
        assert_false(auth_audience_covers_host("https://vault.azure.net", "myvaultvault.azure.net"));
        assert_false(auth_audience_covers_host("https://vault.azure.net",
                                               "myvault.vault.azure.net.evil.example"));
        assert_false(auth_audience_covers_host("http://vault.azure.net", "myvault.vault.azure.net"));
        assert_false(auth_audience_covers_host("https://vault.azure.net", NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_token_imds),    cmocka_unit_test(test_token_entra),
                cmocka_unit_test(test_token_table),   cmocka_unit_test(test_token_long),
                cmocka_unit_test(test_token_oom),     cmocka_unit_test(test_challenge),
                cmocka_unit_test(test_challenge_oom), cmocka_unit_test(test_audience),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
