/* SPDX-License-Identifier: MIT */
/* libFuzzer target: what comes back from token endpoints and ARM besides resources: token
 * answers, WWW-Authenticate challenges, error envelopes (auth_decode.h, azure.h), async
 * operation status and provisioning state (arm.h). */

#include <string.h>

#include "arm.h"
#include "auth_decode.h"
#include "azure.h"
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *body = (const char *) data;
        char header[4096];

        FUZZ_TWICE(data, size, {
                struct auth_token t = {};
                int r = auth_decode_token(body, size, 1764000000ULL * 1000000ULL, &t);

                if (r >= 0 && (!t.access_token || !t.access_token[0]))
                        abort();
                auth_token_done(&t);
                fuzz_check(r);
        });
        FUZZ_TWICE(data, size, {
                char *e = NULL, *d = NULL;
                int r = auth_decode_error(body, size, &e, &d);

                mem_free(e);
                mem_free(d);
                fuzz_check(r);
        });
        FUZZ_TWICE(data, size, {
                char *c = NULL, *m = NULL;
                int r = azure_error_decode(body, size, &c, &m);

                mem_free(c);
                mem_free(m);
                fuzz_check(r);
        });
        FUZZ_TWICE(data, size, {
                char *st = NULL, *c = NULL, *m = NULL;
                int r = arm_operation_status_decode(body, size, &st, &c, &m);

                if (r >= 0 && !st)
                        abort();
                mem_free(st);
                mem_free(c);
                mem_free(m);
                fuzz_check(r);
        });
        FUZZ_TWICE(data, size, {
                char *st = NULL;
                int r = arm_provisioning_state_decode(body, size, &st);

                mem_free(st);
                fuzz_check(r);
        });
        /* A header value is a C string. */
        if (size < sizeof header) {
                memcpy(header, data, size);
                header[size] = 0;
                FUZZ_TWICE(data, size, {
                        struct auth_challenge ch = {};
                        int r = auth_decode_challenge(header, &ch);

                        auth_challenge_done(&ch);
                        fuzz_check(r);
                });
        }
        return 0;
}
