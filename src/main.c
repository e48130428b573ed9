/* SPDX-License-Identifier: MIT */
/* cmkd: command line, modes and process lifetime. The only file that exits: every
 * other module returns errors up to here. */

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "log.h"
#include "manager.h"
#include "mem.h"
#include "strv.h"

/* Exit codes of --once follow the monitoring-plugin convention. */
#define EXIT_PLUGIN_UNKNOWN 3
/* A bad config at start-up: the unit's RestartPreventExitStatus= stops a restart loop. */
#define EXIT_CONFIG 78

static void help(void) {
        printf("Usage: cmkd [OPTIONS]\n"
               "\n"
               "Keeps the customer-managed keys of Azure DocumentDB clusters current and safe.\n"
               "\n"
               "Modes:\n"
               "      (none)          Run the daemon in the foreground (for systemd)\n"
               "      --once          Run one sweep, print the findings and exit with a\n"
               "                      monitoring-plugin code: 0 ok, 1 warning, 2 critical,\n"
               "                      3 unknown (the sweep could not run)\n"
               "      --report        Run one read-only sweep and write a compliance report now\n"
               "      --check-config  Validate the configuration and exit\n"
               "\n"
               "Options:\n"
               "  -c, --config=FILE   Configuration file (default %s)\n"
               "      --json          With --once: print JSON instead of a table\n"
               "      --dry-run       Never change a cluster; log the exact request instead\n"
               "      --log-level=LVL debug, info, notice, warning, err\n"
               "  -h, --help          Show this help\n"
               "      --version       Show the version\n"
               "\n"
               "See cmkd(8) and cmkd.conf(5).\n",
               CONF_PATH_DEFAULT);
}

static int check_config(const char *path) {
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_(conf_freep) struct conf *c = NULL;
        int r;

        r = conf_load(path, &c, &errors);
        if (r < 0) {
                STRV_FOREACH(e, errors)
                        fprintf(stderr, "%s\n", *e);
                if (strv_length(errors) == 0)
                        fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        enum {
                ARG_ONCE = 0x100,
                ARG_JSON,
                ARG_DRY_RUN,
                ARG_REPORT,
                ARG_CHECK_CONFIG,
                ARG_VERSION,
                ARG_LOG_LEVEL,
        };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "once", no_argument, NULL, ARG_ONCE },
                { "json", no_argument, NULL, ARG_JSON },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "report", no_argument, NULL, ARG_REPORT },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        struct manager_options opts = { .mode = MANAGER_DAEMON, .config_path = CONF_PATH_DEFAULT, .log_level = -1 };
        _cleanup_(manager_freep) struct manager *m = NULL;
        bool once = false, report = false, check = false;
        int c, r;

        log_setup();

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        opts.config_path = optarg;
                        break;
                case ARG_ONCE:
                        once = true;
                        break;
                case ARG_JSON:
                        opts.json = true;
                        break;
                case ARG_DRY_RUN:
                        opts.dry_run = true;
                        break;
                case ARG_REPORT:
                        report = true;
                        break;
                case ARG_CHECK_CONFIG:
                        check = true;
                        break;
                case ARG_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0) {
                                fprintf(stderr, "cmkd: unknown log level '%s'\n", optarg);
                                return EXIT_PLUGIN_UNKNOWN;
                        }
                        log_set_max_level(r);
                        opts.log_level = r;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("cmkd %s\n", CMKD_VERSION);
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "Try 'cmkd --help'.\n");
                        return EXIT_PLUGIN_UNKNOWN;
                }
        if (optind < argc) {
                fprintf(stderr, "cmkd: unexpected argument '%s'. Try 'cmkd --help'.\n", argv[optind]);
                return EXIT_PLUGIN_UNKNOWN;
        }
        if (once + report + check > 1) {
                fprintf(stderr, "cmkd: --once, --report and --check-config exclude each other.\n");
                return EXIT_PLUGIN_UNKNOWN;
        }
        if (opts.json && !once) {
                fprintf(stderr, "cmkd: --json only applies to --once.\n");
                return EXIT_PLUGIN_UNKNOWN;
        }
        if (opts.dry_run && (report || check)) {
                fprintf(stderr, "cmkd: --dry-run applies to --once and to the daemon.\n");
                return EXIT_PLUGIN_UNKNOWN;
        }

        if (check)
                return check_config(opts.config_path);
        if (once)
                opts.mode = MANAGER_ONCE;
        else if (report)
                opts.mode = MANAGER_REPORT;

        r = mem_curl_global_init(CURL_GLOBAL_DEFAULT);
        if (r < 0) {
                log_error_errno(r, "Failed to initialize libcurl: %m");
                return EXIT_PLUGIN_UNKNOWN;
        }

        r = manager_new(&opts, &m);
        if (r < 0)
                /* The config errors were logged one per line already. */
                return opts.mode == MANAGER_DAEMON ? EXIT_CONFIG : EXIT_PLUGIN_UNKNOWN;

        return manager_run(m);
}
