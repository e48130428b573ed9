/* SPDX-License-Identifier: MIT */
/* libFuzzer: timespan_parse(), iso8601_duration_parse() and rfc3339_parse() on any text.
 * What parses formats back to text that parses to the same value. */

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char s[256], buf[TIMESPAN_MAX];
        usec_t t, u;

        if (size >= sizeof s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;

        if (timespan_parse(s, USEC_PER_SEC, &t) == 0 && t != USEC_INFINITY) {
                timespan_format(buf, sizeof buf, t, 1);
                if (timespan_parse(buf, USEC_PER_SEC, &u) != 0 || u != t) {
                        fprintf(stderr, "timespan \"%s\" = %llu formats as \"%s\"\n", s,
                                (unsigned long long) t, buf);
                        abort();
                }
        }
        (void) timespan_parse(s, 1, &t);
        (void) iso8601_duration_parse(s, &t);
        if (rfc3339_parse(s, &t) == 0 && t / USEC_PER_SEC < 253402300800ULL) { /* before year 10000 */
                char r[RFC3339_MAX];

                rfc3339_format(r, sizeof r, t);
                if (rfc3339_parse(r, &u) != 0 || u != t - t % USEC_PER_SEC) {
                        fprintf(stderr, "rfc3339 \"%s\" formats as \"%s\"\n", s, r);
                        abort();
                }
        }
        return 0;
}
