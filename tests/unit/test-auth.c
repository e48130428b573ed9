/* SPDX-License-Identifier: MIT */
/* auth: refresh timing of the token cache (pure), and the client secret file rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "mem.h"

#define S USEC_PER_SEC

static void test_timing_table(void **state) {
        static const struct {
                unsigned long long lifetime_s, now_s; /* token obtained at 1000 s */
                enum auth_token_state expect;
        } rows[] = {
                /* an hour: refresh 5 min ahead, stale 30 s ahead */
                {3600, 0, AUTH_TOKEN_FRESH},
                {3600, 3299, AUTH_TOKEN_FRESH},
                {3600, 3300, AUTH_TOKEN_REFRESH_DUE},
                {3600, 3569, AUTH_TOKEN_REFRESH_DUE},
                {3600, 3570, AUTH_TOKEN_EXPIRED},
                {3600, 9999, AUTH_TOKEN_EXPIRED},
                /* six seconds (tests): refresh at half, stale at 90% */
                {6, 0, AUTH_TOKEN_FRESH},
                {6, 2, AUTH_TOKEN_FRESH},
                {6, 3, AUTH_TOKEN_REFRESH_DUE},
                {6, 5, AUTH_TOKEN_REFRESH_DUE},
                {6, 6, AUTH_TOKEN_EXPIRED},
                /* ten minutes: half is exactly 5 min */
                {600, 299, AUTH_TOKEN_FRESH},
                {600, 300, AUTH_TOKEN_REFRESH_DUE},
                {600, 570, AUTH_TOKEN_EXPIRED},
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                usec_t obtained = 1000 * S, expires = obtained + rows[i].lifetime_s * S;
                enum auth_token_state st = auth_token_state(obtained, expires, obtained + rows[i].now_s * S);
                if (st != rows[i].expect)
                        fail_msg("row %zu: state %d", i, st);
        }
        assert_int_equal(auth_token_state(0, 0, 5), AUTH_TOKEN_MISSING);
        assert_int_equal(auth_refresh_at(1000 * S, 4600 * S), 4300 * S);
        assert_int_equal(auth_stale_at(1000 * S, 4600 * S), 4570 * S);
        assert_int_equal(auth_refresh_at(1000 * S, 1006 * S), 1003 * S);
        assert_int_equal(auth_stale_at(1000 * S, 1010 * S), 1009 * S);
        /* expiry not after obtained (clock trouble): at once stale */
        assert_int_equal(auth_token_state(1000 * S, 900 * S, 1000 * S), AUTH_TOKEN_EXPIRED);
        /* refresh always before stale, stale never after expiry */
        for (unsigned long long l = 1; l < 100000; l = l * 3 + 1) {
                usec_t o = 5 * S, e = o + l * S;
                assert_true(auth_refresh_at(o, e) <= auth_stale_at(o, e));
                assert_true(auth_stale_at(o, e) <= e);
                assert_true(auth_refresh_at(o, e) > o);
        }
}

static char dir[] = "/tmp/test-auth-XXXXXX";

static void write_file(const char *name, const char *content, mode_t mode) {
        char path[256];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
        assert_int_equal(chmod(path, mode), 0);
}

static void test_secret_file(void **state) {
        struct auth_failure f = {};
        struct buf b = {};
        char path[256];

        assert_non_null(mkdtemp(dir));
        write_file("ok", "s3cret\n\n", 0600);
        write_file("group", "g-secret", 0640);
        write_file("world", "leaked", 0644);
        write_file("empty", " \n", 0600);

        snprintf(path, sizeof path, "%s/ok", dir);
        assert_int_equal(auth_read_client_secret(path, &b, &f), 0);
        assert_string_equal(buf_str(&b), "s3cret");
        buf_done_secret(&b);

        snprintf(path, sizeof path, "%s/group", dir);
        assert_int_equal(auth_read_client_secret(path, &b, &f), 0);
        buf_done_secret(&b);

        snprintf(path, sizeof path, "%s/world", dir);
        assert_int_equal(auth_read_client_secret(path, &b, &f), -EPERM);
        assert_non_null(strstr(f.message, "readable by others"));
        assert_null(strstr(f.message, "leaked"));

        snprintf(path, sizeof path, "%s/empty", dir);
        assert_int_equal(auth_read_client_secret(path, &b, &f), -EINVAL);
        snprintf(path, sizeof path, "%s/missing", dir);
        assert_int_equal(auth_read_client_secret(path, &b, &f), -ENOENT);
        assert_int_equal(auth_read_client_secret(dir, &b, &f), -EINVAL); /* a directory */
        assert_int_equal(auth_read_client_secret("", &b, &f), -EINVAL);

        /* A bare name is a systemd credential when $CREDENTIALS_DIRECTORY is set... */
        setenv("CREDENTIALS_DIRECTORY", dir, 1);
        assert_int_equal(auth_read_client_secret("ok", &b, &f), 0);
        assert_string_equal(buf_str(&b), "s3cret");
        buf_done_secret(&b);
        assert_int_equal(auth_read_client_secret("world", &b, &f), -EPERM);
        /* ...a path is a path. */
        snprintf(path, sizeof path, "%s/group", dir);
        assert_int_equal(auth_read_client_secret(path, &b, &f), 0);
        buf_done_secret(&b);
        unsetenv("CREDENTIALS_DIRECTORY");
        assert_int_equal(auth_read_client_secret("ok", &b, &f), -ENOENT); /* relative to the cwd */

        /* Too large */
        {
                char big[AUTH_SECRET_FILE_MAX + 2];
                memset(big, 'x', sizeof big - 1);
                big[sizeof big - 1] = 0;
                write_file("big", big, 0600);
                snprintf(path, sizeof path, "%s/big", dir);
                assert_int_equal(auth_read_client_secret(path, &b, &f), -EFBIG);
        }

        const char *names[] = {"ok", "group", "world", "empty", "big"};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                unlink(path);
        }
        rmdir(dir);
}

static void test_new_and_audiences(void **state) {
        static char *vs[] = {(char *)"vault.azure.net", NULL};
        struct cloud c = {
                .arm_endpoint = (char *)"https://management.azure.com",
                .arm_audience = (char *)"https://management.azure.com/",
                .authority_host = (char *)"https://login.microsoftonline.com/",
                .vault_suffixes = vs,
                .vault_audience = (char *)"https://vault.azure.net",
                .imds_endpoint = (char *)"http://169.254.169.254",
        };
        struct ev_loop *loop = ev_loop_new(0);
        struct http_conf hc = {};
        struct http *h = NULL;
        struct auth *a = NULL;
        struct auth_waiter w = {};
        const char *authz = NULL;

        assert_int_equal(mem_curl_global_init(0), 0);
        assert_int_equal(http_new(loop, &hc, &h), 0);

        /* A method lacking what it needs is refused at start-up. */
        struct auth_conf bad[] = {
                {.method = AUTH_CLIENT_SECRET, .cloud = &c, .client_id = "x", .client_secret_file = "f"},
                {.method = AUTH_CLIENT_SECRET, .cloud = &c, .tenant_id = "t", .client_id = "x"},
                {.method = AUTH_WORKLOAD_IDENTITY, .cloud = &c, .tenant_id = "t"},
                {.method = AUTH_MANAGED_IDENTITY},
                {.method = 99, .cloud = &c},
        };
        unsetenv("AZURE_FEDERATED_TOKEN_FILE");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(auth_new(loop, h, &bad[i], &a), -EINVAL);

        struct auth_conf ok = {.method = AUTH_MANAGED_IDENTITY, .cloud = &c};
        /* Every allocation failure is clean. */
        for (unsigned n = 1;; n++) {
                mem_fail_at(n, false);
                int r = auth_new(loop, h, &ok, &a);
                mem_fail_at(0, false);
                if (r == 0)
                        break;
                assert_int_equal(r, -ENOMEM);
        }
        assert_true(auth_audience_known(a, "https://management.azure.com"));
        assert_true(auth_audience_known(a, "https://management.azure.com/.default"));
        assert_true(auth_audience_known(a, "https://vault.azure.net/"));
        assert_false(auth_audience_known(a, "https://managedhsm.azure.net")); /* the cloud names none */
        assert_false(auth_audience_known(a, "https://evil.example"));
        /* Never a token for an audience the cloud does not name. */
        assert_int_equal(auth_token_get(a, "https://evil.example", &w, NULL, NULL, &authz, NULL), -EPERM);
        assert_int_equal(auth_token_get(a, NULL, &w, NULL, NULL, &authz, NULL), -EPERM);
        assert_null(authz);
        auth_token_rejected(a, "https://evil.example", 1); /* harmless */
        auth_free(a);
        http_free(h);
        ev_loop_destroy(loop);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_timing_table),
                cmocka_unit_test(test_secret_file),
                cmocka_unit_test(test_new_and_audiences),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
