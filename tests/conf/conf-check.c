/* SPDX-License-Identifier: MIT */
/* conf-check FILE: loads FILE like `cmkd --check-config -c FILE` will, until that exists.
 * Output: nothing and exit 0 when the file is valid; otherwise every error on its own
 * line on stderr and exit 1. With --dump, prints the effective configuration. */

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "strv.h"

int main(int argc, char **argv) {
        _cleanup_(conf_freep) struct conf *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        bool dump = argc == 3 && strcmp(argv[1], "--dump") == 0;
        int r;

        if (argc != 2 && !dump) {
                fprintf(stderr, "usage: conf-check [--dump] FILE\n");
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
