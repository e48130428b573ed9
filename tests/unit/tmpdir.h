/* SPDX-License-Identifier: MIT */
#pragma once

/* A scratch directory for unit tests that write files: `dir`, made from TMPDIR_TEMPLATE
 * (define it before including this, e.g. "/tmp/cmkd-test-audit.XXXXXX") by tmpdir_setup()
 * and removed with all it holds by tmpdir_teardown(): the cmocka group setup and teardown,
 * or called from them. */

#include <stdio.h>
#include <stdlib.h>

#ifndef TMPDIR_TEMPLATE
#error "define TMPDIR_TEMPLATE before including tmpdir.h"
#endif

static char dir[] = TMPDIR_TEMPLATE;

static inline int tmpdir_setup(void **state) {
        return mkdtemp(dir) ? 0 : -1;
}

static inline int tmpdir_teardown(void **state) {
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}
