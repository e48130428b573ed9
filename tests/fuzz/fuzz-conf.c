/* SPDX-License-Identifier: MIT */
/* libFuzzer: conf_load_string() on any text. A conf that loads must satisfy the
 * validation rules and survive conf_dump() → conf_load_string() → conf_dump() unchanged. */

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "mem.h"
#include "strv.h"

static char *dump(const struct conf *c) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        assert(f);
        assert(conf_dump(c, f) == 0);
        fclose(f);
        return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(conf_freep) struct conf *c = NULL, *again = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        char *text, *d1, *d2;
        int r;

        if (size > 64 * 1024)
                return 0;
        text = mem_malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        r = conf_load_string(text, "fuzz.conf", &c, &errors);
        mem_free(text);
        if (r < 0) {
                assert(r == -EINVAL && errors && errors[0]);
                assert(strv_length(errors) <= CONF_ERRORS_MAX + 1);
                return 0;
        }
        assert(!errors);
        assert(c->policy.key_expiry_critical_usec <= c->policy.key_expiry_warning_usec);
        assert(c->n_change_windows <= CHANGE_WINDOWS_MAX);
        assert(c->request_timeout_usec < c->poll_interval_usec);
        assert(c->cloud.arm_endpoint && c->cloud.vault_suffixes && c->cloud.vault_suffixes[0]);

        d1 = dump(c);
        r = conf_load_string(d1, "dump.conf", &again, NULL);
        if (r < 0) {
                fprintf(stderr, "dump does not load again:\n%s\n", d1);
                abort();
        }
        d2 = dump(again);
        if (strcmp(d1, d2) != 0) {
                fprintf(stderr, "dump changed:\n%s\n---\n%s\n", d1, d2);
                abort();
        }
        free(d1);
        free(d2);
        return 0;
}
