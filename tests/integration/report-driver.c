/* SPDX-License-Identifier: MIT */
/* Writes the report of one fake sweep, as `cmkd --report` does: read the audit log of the
 * period, report_write(), prune.
 *
 *   report-driver --dir DIR --now RFC3339 [--audit FILE] [--since RFC3339] [--keep N] FIXTURE.json
 *
 * Prints the names written. Exit 0 on success, 1 on failure, 2 on bad usage or fixture. */

#include <getopt.h>
#include <stdio.h>

#include "audit.h"
#include "fixture.h"
#include "report.h"
#include "strv.h"
#include "timeutil.h"

static int usage(void) {
        fprintf(stderr,
                "usage: report-driver --dir DIR --now RFC3339 [--audit FILE] [--since RFC3339] [--keep N] "
                "FIXTURE.json\n");
        return 2;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "dir", required_argument, NULL, 'd' },   { "now", required_argument, NULL, 'n' },
                { "audit", required_argument, NULL, 'a' }, { "since", required_argument, NULL, 's' },
                { "keep", required_argument, NULL, 'k' },  {},
        };
        const char *dir = NULL, *audit_path = NULL;
        struct report_input in = { .mode = "enforce" };
        struct audit_log *log = NULL;
        struct fixture *fx = NULL;
        char **files = NULL;
        unsigned keep = 0;
        usec_t since = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        dir = optarg;
                        break;
                case 'n':
                        if (rfc3339_parse(optarg, &in.generated) < 0)
                                return usage();
                        break;
                case 'a':
                        audit_path = optarg;
                        break;
                case 's':
                        if (rfc3339_parse(optarg, &since) < 0)
                                return usage();
                        break;
                case 'k':
                        keep = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                default:
                        return usage();
                }
        if (!dir || in.generated == 0 || optind != argc - 1)
                return usage();
        if (fixture_load(argv[optind], &fx, &in.sweep) < 0)
                return 2;
        in.period_start = since ?: in.generated - USEC_PER_DAY;
        in.period_end = in.generated;
        if (audit_path) {
                r = audit_read(audit_path, in.period_start, in.period_end, 100000, &log);
                if (r < 0) {
                        fprintf(stderr, "report-driver: cannot read %s: %s\n", audit_path, strerror(-r));
                        return 1;
                }
                in.audit = log;
        }
        r = report_write(dir, &in, keep, &files);
        if (r < 0)
                fprintf(stderr, "report-driver: cannot write the report into %s: %s\n", dir, strerror(-r));
        STRV_FOREACH(f, files)
                printf("%s\n", *f);
        strv_free(files);
        audit_log_free(log);
        fixture_free(fx);
        return r < 0 ? 1 : 0;
}
