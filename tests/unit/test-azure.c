/* SPDX-License-Identifier: MIT */
/* azure: error envelopes, status summaries, and where a request may go (refused before any
 * token or byte leaves). No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "azure.h"
#include "mem.h"

static void test_error_decode(void **state) {
        static const struct {
                const char *body;
                int r;
                const char *code, *message;
        } rows[] = {
                /* ARM (README §7.2) */
                {"{\"error\":{\"code\":\"ResourceNotFound\",\"message\":\"The Resource was not found.\"}}",
                 0, "ResourceNotFound", "The Resource was not found."},
                /* Key Vault: the innermost code (README §2.3) */
                {"{\"error\":{\"code\":\"Forbidden\",\"message\":\"Caller is not "
                 "authorized.\",\"innererror\":"
                 "{\"code\":\"ForbiddenByRbac\"}}}",
                 0, "ForbiddenByRbac", "Caller is not authorized."},
                {"{\"error\":{\"code\":\"A\",\"innererror\":{\"code\":\"B\",\"message\":\"m\","
                 "\"innererror\":"
                 "{\"code\":\"C\",\"innererror\":null}}}}",
                 0, "C", "m"},
                /* details are not followed, extra members ignored */
                {"{\"error\":{\"code\":\"X\",\"message\":\"y\",\"details\":[{\"code\":\"Z\"}],\"target\":"
                 "\"t\"}}",
                 0, "X", "y"},
                /* token endpoints (README §6.2) */
                {"{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client "
                 "secret.\","
                 "\"error_codes\":[7000215]}",
                 0, "invalid_client", "AADSTS7000215: Invalid client secret."},
                {"{\"error\":\"bad_request_102\"}", 0, "bad_request_102", NULL},
                /* not an envelope */
                {"{\"error\":{}}", -EBADMSG},
                {"{\"error\":5}", -EBADMSG},
                {"{\"value\":[]}", -EBADMSG},
                {"<html><body>Bad Gateway</body></html>", -EBADMSG},
                {"", -EBADMSG},
                {"[1,2]", -EBADMSG},
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char *code = NULL, *message = NULL;
                int r = azure_error_decode(rows[i].body, strlen(rows[i].body), &code, &message);
                if (r != rows[i].r)
                        fail_msg("row %zu: %d", i, r);
                if (r == 0 && (!streq_ptr(code, rows[i].code) || !streq_ptr(message, rows[i].message)))
                        fail_msg("row %zu: code=%s message=%s", i, strna(code), strna(message));
                mem_free(code);
                mem_free(message);
        }
        /* Either output may be skipped. */
        const char *b = rows[1].body;
        char *code = NULL;
        assert_int_equal(azure_error_decode(b, strlen(b), &code, NULL), 0);
        assert_string_equal(code, "ForbiddenByRbac");
        mem_free(code);
        assert_int_equal(azure_error_decode(b, strlen(b), NULL, NULL), 0);
        for (unsigned n = 1;; n++) {
                char *m = NULL;
                mem_fail_at(n, false);
                int r = azure_error_decode(b, strlen(b), &code, &m);
                mem_fail_at(0, false);
                if (r == 0) {
                        mem_free(code);
                        mem_free(m);
                        break;
                }
                assert_int_equal(r, -ENOMEM);
        }
}

static void test_status(void **state) {
        static const struct {
                long status;
                int e;
        } rows[] = {
                {200, 0},       {201, 0},       {202, 0},       {204, 0},      {400, -EINVAL},
                {401, -EACCES}, {403, -EACCES}, {404, -ENOENT}, {409, -EBUSY}, {410, -ENOENT},
                {412, -ESTALE}, {429, -EAGAIN}, {500, -EIO},    {503, -EIO},   {599, -EIO},
                {301, -EPROTO}, {418, -EPROTO}, {0, -EPROTO},
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                if (azure_status_to_errno(rows[i].status) != rows[i].e)
                        fail_msg("status %ld", rows[i].status);
        assert_string_equal(azure_kind_to_string(AZURE_KIND_ARM_LIST), "arm-list");
        assert_string_equal(azure_audience_to_string(AZURE_AUDIENCE_HSM), "managed-hsm");
        assert_null(azure_kind_to_string(_AZURE_KIND_MAX));
}

static void on_done(struct azure_call *call, struct azure_result *res, void *userdata) {
        fail_msg("no call may complete in this test");
}

static int on_page(const char *body, size_t len, void *userdata, char **ret) {
        return -EIO;
}

static void on_list_done(struct azure_list *l, int error, const struct azure_result *last, unsigned pages,
                         void *userdata) {
        fail_msg("no list may complete in this test");
}

static void test_hosts(void **state) {
        static char *vs[] = {(char *)"vault.azure.net", NULL};
        static char *hs[] = {(char *)"managedhsm.azure.net", NULL};
        struct cloud c = {
                .arm_endpoint = (char *)"https://management.azure.com",
                .arm_audience = (char *)"https://management.azure.com/",
                .vault_suffixes = vs,
                .vault_audience = (char *)"https://vault.azure.net",
                .hsm_suffixes = hs,
                .hsm_audience = (char *)"https://managedhsm.azure.net",
                .imds_endpoint = (char *)"http://169.254.169.254",
        };
        struct ev_loop *loop = ev_loop_new(0);
        struct http_conf hc = {};
        struct auth_conf ac = {.method = AUTH_MANAGED_IDENTITY, .cloud = &c};
        struct azure_conf zc = {.cloud = &c};
        struct http *h = NULL;
        struct auth *a = NULL;
        struct azure *az = NULL;
        struct azure_call *call;
        static const struct {
                enum azure_audience aud;
                const char *url;
                int r;
        } rows[] = {
                {AZURE_AUDIENCE_ARM, "https://management.azure.com/subscriptions?api-version=1", 0},
                {AZURE_AUDIENCE_ARM, "https://MANAGEMENT.azure.com:443/x", 0},
                {AZURE_AUDIENCE_ARM, "https://management.azure.com.evil.example/x", -EPERM},
                {AZURE_AUDIENCE_ARM, "https://evil.example/management.azure.com/x", -EPERM},
                {AZURE_AUDIENCE_ARM, "https://kv.vault.azure.net/keys/k", -EPERM},
                {AZURE_AUDIENCE_ARM, "http://management.azure.com/x", -EPERM},
                {AZURE_AUDIENCE_VAULT, "https://kv.vault.azure.net/keys/k", 0},
                {AZURE_AUDIENCE_VAULT, "https://vault.azure.net/keys/k", -EPERM},
                {AZURE_AUDIENCE_VAULT, "https://kv.managedhsm.azure.net/keys/k", -EPERM},
                {AZURE_AUDIENCE_VAULT, "https://kv.vault.azure.net.evil.example/keys/k", -EPERM},
                {AZURE_AUDIENCE_VAULT, "https://management.azure.com/x", -EPERM},
                {AZURE_AUDIENCE_HSM, "https://h.managedhsm.azure.net/keys/k", 0},
                {AZURE_AUDIENCE_HSM, "https://h.vault.azure.net/keys/k", -EPERM},
                {AZURE_AUDIENCE_ARM, "not a url", -EPERM},
                {_AZURE_AUDIENCE_MAX, "https://management.azure.com/x", -EINVAL},
        };

        assert_int_equal(mem_curl_global_init(0), 0);
        assert_int_equal(http_new(loop, &hc, &h), 0);
        assert_int_equal(auth_new(loop, h, &ac, &a), 0);
        assert_int_equal(azure_new(loop, h, a, &(struct azure_conf){}, &az), -EINVAL);
        for (unsigned n = 1;; n++) {
                mem_fail_at(n, false);
                int r = azure_new(loop, h, a, &zc, &az);
                mem_fail_at(0, false);
                if (r == 0)
                        break;
                assert_int_equal(r, -ENOMEM);
        }

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                struct azure_request rq = {.method = HTTP_GET,
                                           .audience = rows[i].aud,
                                           .kind = AZURE_KIND_ARM_RESOURCE,
                                           .url = rows[i].url};
                int r = azure_call_start(az, &rq, on_done, NULL, &call);
                if (r != rows[i].r)
                        fail_msg("row %zu (%s): %d", i, rows[i].url, r);
                if (r == 0)
                        azure_call_cancel(call); /* before the loop ever ran: nothing was sent */
        }

        /* A call left pending when the client goes is ended without a callback. */
        struct azure_request rq = {.method = HTTP_PUT,
                                   .audience = AZURE_AUDIENCE_ARM,
                                   .kind = AZURE_KIND_ARM_RESOURCE,
                                   .url = "https://management.azure.com/x",
                                   .body = "{}",
                                   .body_len = 2};
        assert_int_equal(azure_call_start(az, &rq, on_done, NULL, NULL), 0);

        struct azure_list *l = NULL;
        assert_int_equal(azure_list_start(az, AZURE_AUDIENCE_ARM, AZURE_KIND_ARM_LIST,
                                          "https://evil.example/x", on_page, on_list_done, NULL, &l),
                         -EPERM);
        assert_int_equal(azure_list_start(az, AZURE_AUDIENCE_ARM, AZURE_KIND_ARM_LIST,
                                          "https://management.azure.com/x", on_page, on_list_done, NULL, &l),
                         0);
        azure_list_cancel(l);

        struct azure_stats st;
        azure_get_stats(az, &st);
        assert_int_equal(st.attempts, 0);
        azure_free(az);
        auth_free(a);
        http_free(h);
        ev_loop_destroy(loop);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_error_decode),
                cmocka_unit_test(test_status),
                cmocka_unit_test(test_hosts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
