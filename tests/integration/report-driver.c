/* SPDX-License-Identifier: MIT */
/* Writes the report of one fake sweep as `cmkd --report` and the report schedule do,
 * through report_run(): the period starts at the newest report in DIR (else a week ago),
 * the audit entries of the period are read, the files written and pruned.
 *
 *   report-driver --dir DIR --now RFC3339 [--audit FILE] [--keep N] [--mode MODE] FIXTURE.json
 *
 * Prints the names written. Exit 0 on success, 1 on failure, 2 on bad usage or fixture. */

#include <getopt.h>
#include <stdio.h>

#include "fixture.h"
#include "report.h"
#include "strv.h"
#include "timeutil.h"

static int usage(void) {
        fprintf(stderr, "usage: report-driver --dir DIR --now RFC3339 [--audit FILE] [--keep N] [--mode MODE] "
                        "FIXTURE.json\n");
        return 2;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "dir", required_argument, NULL, 'd' },  { "now", required_argument, NULL, 'n' },
                { "audit", required_argument, NULL, 'a' }, { "keep", required_argument, NULL, 'k' },
                { "mode", required_argument, NULL, 'm' },  {},
        };
        const char *dir = NULL, *audit_path = NULL, *mode = "enforce";
        const struct sweep_result *sweep;
        struct fixture *fx = NULL;
        char **files = NULL;
        unsigned keep = 0;
        usec_t now = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        dir = optarg;
                        break;
                case 'n':
                        if (rfc3339_parse(optarg, &now) < 0)
                                return usage();
                        break;
                case 'a':
                        audit_path = optarg;
                        break;
                case 'k':
                        keep = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'm':
                        mode = optarg;
                        break;
                default:
                        return usage();
                }
        if (!dir || now == 0 || optind != argc - 1)
                return usage();
        if (fixture_load(argv[optind], &fx, &sweep) < 0)
                return 2;
        r = report_run(dir, audit_path, sweep, mode, keep, now, &files);
        if (r < 0)
                fprintf(stderr, "report-driver: cannot write the report into %s: %s\n", dir, strerror(-r));
        STRV_FOREACH(f, files)
                printf("%s\n", *f);
        strv_free(files);
        fixture_free(fx);
        return r < 0 ? 1 : 0;
}
