/* SPDX-License-Identifier: MIT */
/* cmkd: command line, modes and process lifetime. The only file that exits. */

#include <stdio.h>

#include "macro.h"

int main(int argc, char *argv[]) {
        if (argc > 1 && streq(argv[1], "--version")) {
                printf("cmkd %s\n", CMKD_VERSION);
                return 0;
        }
        fprintf(stderr, "cmkd: not yet usable\n");
        return 3;
}
