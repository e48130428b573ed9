/* SPDX-License-Identifier: MIT */
/* The holds file (update-holds.json) as remediate_new() reads it back: the members a hold
 * needs, the optional ones that let a held-back failure report after a restart what it
 * reported before (old key URL, operation id, errno, attempt start), and what is refused.
 * The sending and following of updates is tested against the twin (test_update.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "remediate.h"

#define CLUSTER                                                                                             \
        "\"cluster\":\"/subscriptions/s/resourceGroups/rg/providers/Microsoft.DocumentDB/mongoClusters/c\""
#define TARGET      "\"target\":\"https://kv.vault.azure.net/keys/k/v2\""
#define HOLD(extra) "{" CLUSTER "," TARGET ",\"failures\":1,\"retry_at\":1795417200" extra "}"

static void test_holds_parse(void **state) {
        static const struct {
                const char *text;
                int r;
                size_t n;
        } table[] = {
                /* As written by cmkd before the optional members existed. */
                {"{\"version\":1,\"holds\":[" HOLD(
                         ",\"error\":\"boom\",\"error_code\":\"InternalServerError\"") "]}",
                 0, 1},
                /* As written now. */
                {"{\"version\":1,\"holds\":[" HOLD(
                         ",\"error\":\"operation o did not end within UpdateTimeoutSec=30min\","
                         "\"error_code\":\"OperationTimedOut\","
                         "\"old\":\"https://kv.vault.azure.net/keys/k/v1\","
                         "\"operation_id\":\"o\",\"errno\":-62,\"attempt_started\":1795413600") "]}",
                 0, 1},
                {"{\"version\":1,\"holds\":[" HOLD("") "," HOLD(
                         ",\"old\":\"\",\"operation_id\":\"\",\"errno\":0") "]}",
                 0, 1}, /* the same cluster twice: the first one counts */
                {"{\"version\":1,\"holds\":[]}", 0, 0},
                {"{\"holds\":[" HOLD(",\"errno\":5") "]}", -EBADMSG, 0},     /* errno is negative */
                {"{\"holds\":[" HOLD(",\"errno\":-5000") "]}", -EBADMSG, 0}, /* not an errno */
                {"{\"holds\":[" HOLD(",\"errno\":\"-62\"") "]}", -EBADMSG, 0},
                {"{\"holds\":[" HOLD(",\"attempt_started\":-1") "]}", -EBADMSG, 0},
                {"{\"holds\":[" HOLD(",\"old\":7") "]}", -EBADMSG, 0},
                {"{\"holds\":[" HOLD(",\"operation_id\":[]") "]}", -EBADMSG, 0},
                {"{\"holds\":[{" CLUSTER ",\"failures\":1,\"retry_at\":0}]}", -EBADMSG, 0}, /* no target */
                {"{\"holds\":[{" CLUSTER "," TARGET ",\"failures\":0,\"retry_at\":0}]}", -EBADMSG, 0},
                {"{\"version\":1}", -EBADMSG, 0},
                {"[]", -EBADMSG, 0},
                {"{\"holds\":[", -EBADMSG, 0},
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t n = 12345;
                int r = remediate_holds_parse(table[i].text, strlen(table[i].text), &n);

                if (r != table[i].r)
                        fail_msg("case %zu: %d, want %d: %s", i, r, table[i].r, table[i].text);
                if (r >= 0 && n != table[i].n)
                        fail_msg("case %zu: %zu holds, want %zu", i, n, table[i].n);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_holds_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
