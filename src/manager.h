/* SPDX-License-Identifier: MIT */
#pragma once

/* The manager owns the event loop and every long-lived object (config, HTTP client,
 * token cache, inventory, alert state) and runs the poll cycle. main.c creates it for
 * one of the modes below. */

#include "macro.h"

struct manager;

enum manager_mode {
        MANAGER_DAEMON, /* poll forever; sd_notify; SIGHUP reloads */
        MANAGER_ONCE,   /* one sweep, print, exit with a monitoring-plugin code */
        MANAGER_REPORT, /* one read-only sweep, write a report now */
};

struct manager_options {
        enum manager_mode mode;
        const char *config_path;
        bool json;     /* --once: print JSON instead of a table */
        bool dry_run;  /* --dry-run: overrides Mode= with dry-run */
        int log_level; /* --log-level, or -1: LogLevel= of the config */
};

/* Loads and validates the config (logging every error), sets up the loop, HTTP and
 * auth. Returns 0, -EINVAL for a bad config, or -errno. */
int manager_new(const struct manager_options *opts, struct manager **ret);
struct manager *manager_free(struct manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free);

/* Runs the mode until done. Returns the process exit code (0..3 for --once; 0 or 1
 * otherwise). */
int manager_run(struct manager *m);
