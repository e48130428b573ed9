/* SPDX-License-Identifier: MIT */
/* libFuzzer: retry_after_parse() on any header value. Input: 8 bytes of "now", then
 * the value. A delay in seconds comes back exactly; a date never gives a negative delay. */

#include <assert.h>
#include <ctype.h>
#include <string.h>

#include "timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char s[256];
        usec_t now = 0, d = 12345;

        if (size < 8 || size - 8 >= sizeof s)
                return 0;
        memcpy(&now, data, 8);
        memcpy(s, data + 8, size - 8);
        s[size - 8] = 0;
        if (retry_after_parse(s, now, &d) == 0) {
                const char *p = s;

                while (*p == ' ' || *p == '\t')
                        p++;
                if (isdigit((unsigned char) *p))
                        assert(d % USEC_PER_SEC == 0 && d / USEC_PER_SEC == strtoull(p, NULL, 10));
        } else
                assert(d == 12345);
        return 0;
}
