/* SPDX-License-Identifier: MIT */
/* conf-check FILE: loads FILE like `cmkd --check-config -c FILE` will, until that exists.
 * Output: nothing and exit 0 when the file is valid; otherwise every error on its own
 * line on stderr and exit 1. With --dump, prints the effective configuration.
 * conf-check --list-keys prints the key table for the man page check (tests/man/check-man):
 * one line per key, tab-separated: section, key, default ("" = empty), type, flags
 * (comma-separated: list, per-cluster, cloud; "-" for none), accepted values in words. */

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "mem.h"
#include "strv.h"

static int list_keys(void) {
        const struct conf_key *keys;
        size_t n;

        keys = conf_keys(&n);
        for (size_t i = 0; i < n; i++) {
                const struct conf_key *k = &keys[i];
                _cleanup_free_ char *accepted = conf_key_accepted(k);
                char flags[64] = "";

                if (!accepted) {
                        fprintf(stderr, "conf-check: out of memory\n");
                        return 1;
                }
                if (k->flags & CONF_KEY_LIST)
                        strcat(flags, "list,");
                if (k->flags & CONF_KEY_PER_CLUSTER)
                        strcat(flags, "per-cluster,");
                if (k->flags & CONF_KEY_CLOUD)
                        strcat(flags, "cloud,");
                if (flags[0])
                        flags[strlen(flags) - 1] = 0;
                else
                        strcpy(flags, "-");
                printf("%s\t%s\t%s\t%s\t%s\t%s\n", k->section, k->key, k->default_value, k->type, flags,
                       accepted);
        }
        return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
        _cleanup_(conf_freep) struct conf *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        bool dump = argc == 3 && strcmp(argv[1], "--dump") == 0;
        int r;

        if (argc == 2 && strcmp(argv[1], "--list-keys") == 0)
                return list_keys();
        if (argc != 2 && !dump) {
                fprintf(stderr, "usage: conf-check [--dump] FILE\n       conf-check --list-keys\n");
                return 2;
        }
        r = conf_load(argv[argc - 1], &c, &errors);
        if (r < 0) {
                STRV_FOREACH(e, errors)
                        fprintf(stderr, "%s\n", *e);
                if (!errors)
                        fprintf(stderr, "%s: %s\n", argv[argc - 1], strerror(-r));
                return 1;
        }
        if (dump && conf_dump(c, stdout) < 0)
                return 1;
        return 0;
}
