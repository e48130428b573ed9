/* SPDX-License-Identifier: MIT */
/* libFuzzer: keyurl_parse() on any text. A parsed key URL formats (versionless and
 * versioned) into URLs that parse back to the same key. */

#include <assert.h>
#include <string.h>

#include "keyurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct keyurl k, k2;
        char s[1024], buf[KEYURL_MAX];

        if (size >= sizeof s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        if (keyurl_parse(s, &k) < 0)
                return 0;
        assert(k.suffix && k.host[0] && k.name[0] && k.store_name[0]);

        keyurl_format_versionless(&k, buf, sizeof buf);
        assert(keyurl_parse(buf, &k2) == 0);
        assert(streq(k.host, k2.host) && streq(k.name, k2.name) && !keyurl_is_versioned(&k2) &&
               k.store == k2.store);
        if (keyurl_is_versioned(&k)) {
                keyurl_format_version(&k, k.version, buf, sizeof buf);
                assert(keyurl_parse(buf, &k2) == 0);
                assert(memcmp(&k, &k2, sizeof k) == 0);
        }
        keyurl_key_id(&k, buf, sizeof buf);
        return 0;
}
