/* SPDX-License-Identifier: MIT */
/* arm: URLs, operation statuses, provisioning states, and how an initial answer starts a
 * long-running operation (README §7.1). Pure parts only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "arm.h"
#include "mem.h"

#define EP  "https://management.azure.com"
#define SUB "11111111-1111-1111-1111-111111111111"

static void test_urls(void **state) {
        char *u = NULL;

        assert_int_equal(arm_url(EP "/", "/subscriptions/" SUB, "2025-09-01", &u), 0);
        assert_string_equal(u, EP "/subscriptions/" SUB "?api-version=2025-09-01");
        mem_free(u);
        assert_int_equal(arm_url(EP, "/x?$filter=a", "2022-04-01", &u), 0);
        assert_string_equal(u, EP "/x?$filter=a&api-version=2022-04-01");
        mem_free(u);
        assert_int_equal(arm_url(EP, "x", "1", &u), -EINVAL);
        assert_int_equal(arm_url(EP, "/x", "", &u), -EINVAL);
        assert_int_equal(arm_url("", "/x", "1", &u), -EINVAL);

        assert_int_equal(arm_url_clusters(EP, SUB, NULL, ARM_API_MONGO_CLUSTERS, &u), 0);
        assert_string_equal(u, EP "/subscriptions/" SUB
                                  "/providers/Microsoft.DocumentDB/mongoClusters?api-version=2025-09-01");
        mem_free(u);
        assert_int_equal(arm_url_clusters(EP, SUB, "rg-data", ARM_API_MONGO_CLUSTERS_2026, &u), 0);
        assert_string_equal(u, EP "/subscriptions/" SUB
                                  "/resourceGroups/rg-data/providers/Microsoft.DocumentDB/"
                                  "mongoClusters?api-version=2026-06-01");
        mem_free(u);
        assert_int_equal(arm_url_clusters(EP, NULL, NULL, "1", &u), -EINVAL);

        assert_int_equal(
                arm_url_role_assignments(EP,
                                         "/subscriptions/" SUB
                                         "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
                                         "aaaaaaaa-0000-0000-0000-000000000001", &u),
                0);
        assert_string_equal(u, EP "/subscriptions/" SUB
                                  "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
                                  "/providers/Microsoft.Authorization/"
                                  "roleAssignments?$filter=assignedTo%28%27aaaaaaaa-0000-0000-"
                                  "0000-000000000001%27%29&api-version=2022-04-01");
        mem_free(u);
        assert_int_equal(arm_url_role_assignments(EP, "/", NULL, &u), 0);
        assert_string_equal(u, EP "/providers/Microsoft.Authorization/"
                                  "roleAssignments?$filter=atScope%28%29&api-version=2022-04-01");
        mem_free(u);
}

static void test_status_strings(void **state) {
        static const struct {
                const char *s;
                enum arm_lro_status e;
        } rows[] = {
                {"Succeeded", ARM_LRO_SUCCEEDED},
                {"succeeded", ARM_LRO_SUCCEEDED},
                {"FAILED", ARM_LRO_FAILED},
                {"Canceled", ARM_LRO_CANCELED},
                {"Cancelled", ARM_LRO_CANCELED},
                {"InProgress", _ARM_LRO_STATUS_INVALID},
                {"Updating", _ARM_LRO_STATUS_INVALID},
                {"Accepted", _ARM_LRO_STATUS_INVALID},
                {"Dropping", _ARM_LRO_STATUS_INVALID},
                {"", _ARM_LRO_STATUS_INVALID},
                {NULL, _ARM_LRO_STATUS_INVALID},
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                assert_int_equal(arm_lro_status_from_string(rows[i].s), rows[i].e);
        assert_string_equal(arm_lro_status_to_string(ARM_LRO_FAILED), "Failed");
}

static void test_decoders(void **state) {
        char *s = NULL, *c = NULL, *m = NULL;
        const char *op =
                "{\"id\":\"x\",\"name\":\"n\",\"status\":\"Failed\",\"startTime\":\"2026-01-01T00:00:00Z\","
                "\"error\":{\"code\":\"InternalServerError\",\"message\":\"boom\"}}";
        const char *running = "{\"status\":\"InProgress\",\"percentComplete\":50}";

        assert_int_equal(arm_operation_status_decode(op, strlen(op), &s, &c, &m), 0);
        assert_string_equal(s, "Failed");
        assert_string_equal(c, "InternalServerError");
        assert_string_equal(m, "boom");
        mem_free(s), mem_free(c), mem_free(m);
        assert_int_equal(arm_operation_status_decode(running, strlen(running), &s, &c, &m), 0);
        assert_string_equal(s, "InProgress");
        assert_null(c);
        assert_null(m);
        mem_free(s);
        assert_int_equal(arm_operation_status_decode("{\"status\":5}", 12, &s, NULL, NULL), -EBADMSG);
        assert_int_equal(arm_operation_status_decode("{}", 2, &s, NULL, NULL), -EBADMSG);
        assert_int_equal(arm_operation_status_decode("nope", 4, &s, NULL, NULL), -EBADMSG);

        const char *res =
                "{\"id\":\"/"
                "x\",\"properties\":{\"provisioningState\":\"Updating\",\"clusterStatus\":\"Ready\"}}";
        assert_int_equal(arm_provisioning_state_decode(res, strlen(res), &s), 0);
        assert_string_equal(s, "Updating");
        mem_free(s);
        assert_int_equal(arm_provisioning_state_decode("{\"properties\":{}}", 17, &s), 0);
        assert_null(s);
        assert_int_equal(arm_provisioning_state_decode("{", 1, &s), -EBADMSG);
}

static struct azure_result result(long status, const char *body, const char *async, const char *location) {
        struct azure_result r = {.status = status, .error = azure_status_to_errno(status)};

        buf_init(&r.body, 0);
        if (body)
                assert_int_equal(buf_puts(&r.body, body), 0);
        r.async_operation = async ? mem_strdup(async) : NULL;
        r.location = location ? mem_strdup(location) : NULL;
        return r;
}

static void test_lro_begin(void **state) {
        static const struct {
                long status;
                const char *body, *async, *location;
                int r;
        } rows[] = {
                /* PATCH 202 with both headers (MongoClusters_PatchCMK) */
                {202, NULL, EP "/op/a", EP "/op/l", 1},
                {202, NULL, NULL, EP "/op/l", 1},
                {201, "{\"properties\":{\"provisioningState\":\"InProgress\"}}", EP "/op/a", NULL, 1},
                /* no header: follow the resource while its state is not terminal */
                {201, "{\"properties\":{\"provisioningState\":\"Updating\"}}", NULL, NULL, 1},
                {200, "{\"properties\":{\"provisioningState\":\"Succeeded\"}}", NULL, NULL, 0},
                {200, "{\"properties\":{\"provisioningState\":\"failed\"}}", NULL, NULL, 0},
                {200, "{\"properties\":{}}", NULL, NULL, 0},
                {200, "not json", NULL, NULL, 0},
                {204, NULL, NULL, NULL, 0},
                /* a 202 with nothing to follow */
                {202, NULL, NULL, NULL, -EBADMSG},
                /* a failed first answer is the error */
                {409, "{\"error\":{\"code\":\"Conflict\"}}", NULL, NULL, -EBUSY},
                {400, NULL, EP "/op/a", NULL, -EINVAL},
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                struct azure_result res =
                        result(rows[i].status, rows[i].body, rows[i].async, rows[i].location);
                struct arm_lro_urls u = {};
                int r = arm_lro_begin(HTTP_PATCH, EP "/c?api-version=1", &res, &u);

                if (r != rows[i].r)
                        fail_msg("row %zu: %d", i, r);
                if (r == 1) {
                        assert_int_equal(u.method, HTTP_PATCH);
                        assert_string_equal(u.resource, EP "/c?api-version=1");
                        assert_true(streq_ptr(u.async_operation, rows[i].async));
                        assert_true(streq_ptr(u.location, rows[i].location));
                } else
                        assert_null(u.resource);
                arm_lro_urls_done(&u);
                azure_result_done(&res);
        }

        struct azure_result res = result(202, NULL, EP "/op/a", EP "/op/l");
        res.has_retry_after = true;
        res.retry_after_usec = 10 * USEC_PER_SEC;
        for (unsigned n = 1;; n++) {
                struct arm_lro_urls u = {};
                mem_fail_at(n, false);
                int r = arm_lro_begin(HTTP_PUT, EP "/c", &res, &u);
                mem_fail_at(0, false);
                if (r == 1) {
                        assert_true(u.has_retry_after);
                        assert_int_equal(u.retry_after_usec, 10 * USEC_PER_SEC);
                        arm_lro_urls_done(&u);
                        break;
                }
                assert_int_equal(r, -ENOMEM);
        }
        azure_result_done(&res);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_urls),
                cmocka_unit_test(test_status_strings),
                cmocka_unit_test(test_decoders),
                cmocka_unit_test(test_lro_begin),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
