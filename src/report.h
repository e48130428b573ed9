/* SPDX-License-Identifier: MIT */
#pragma once

/* Compliance reports for auditors: one sweep plus the audit log of a period, written as
 * JSON (machine-readable, "schema_version", see man/cmkd-report.schema.json), CSV (one row
 * per cluster) and a self-contained HTML page (inline CSS and SVG, no script, no external
 * fetch; every Azure string escaped). Files are cmkd-report-YYYYMMDDTHHMMSSZ.{json,csv,html}
 * (UTC) plus latest.{json,csv,html}, which are copies (replaced atomically, never dangling
 * after pruning, fine for tools that do not follow symlinks). */

#include "audit.h"
#include "buf.h"
#include "sweep.h"

#define REPORT_SCHEMA_VERSION 1
#define REPORT_PREFIX "cmkd-report-"
#define REPORT_FILE_MAX (64U * 1024U * 1024U)
/* Bars in the HTML expiry chart (soonest first); the table always lists every cluster. */
#define REPORT_CHART_MAX 30

enum report_format {
        REPORT_JSON,
        REPORT_CSV,
        REPORT_HTML,
        _REPORT_FORMAT_MAX,
        _REPORT_FORMAT_INVALID = -EINVAL,
};

struct report_input {
        const struct sweep_result *sweep; /* required */
        const struct audit_log *audit;    /* entries of the period; NULL: none read */
        usec_t period_start;              /* realtime; what "the period" of the actions is */
        usec_t period_end;
        usec_t generated; /* realtime: the file names, "generated_at", key ages and days left */
        const char *mode; /* run_mode_to_string(), or NULL */
};

/* Render one format into out. Return 0, -EINVAL (no sweep), -ENOMEM or -E2BIG. */
int report_format(enum report_format f, const struct report_input *in, struct buf *out);

/* Writes the three formats into dir (created if missing), each atomically, then the
 * latest.* copies, then prunes each format to keep files (0: keep all). *ret_files (if
 * given) gets the timestamped names written. Returns 0 or -errno; on failure files
 * already written stay (each is whole). */
int report_write(const char *dir, const struct report_input *in, unsigned keep, char ***ret_files);

/* A period with no earlier report to start from (the first report, or after pruning all). */
#define REPORT_PERIOD_DEFAULT_USEC (7 * USEC_PER_DAY)
#define REPORT_AUDIT_MAX 100000

/* What the daemon's schedule (ev_periodic on report_schedule_next()) and `cmkd --report` do:
 * the period runs from the newest report in dir (else now - REPORT_PERIOD_DEFAULT_USEC) to
 * now; the audit entries of the period are read from audit_path (NULL: none, a missing file is
 * an empty log, at most REPORT_AUDIT_MAX entries); then report_write(). mode may be NULL.
 * Returns 0 or -errno, like report_write(). */
int report_run(const char *dir, const char *audit_path, const struct sweep_result *s, const char *mode,
               unsigned keep, usec_t now, char ***ret_files);

/* Removes the oldest cmkd-report-*.EXT files of one format beyond keep (0: none). Other
 * files are never touched. Returns the number removed or -errno. */
int report_prune(const char *dir, enum report_format f, unsigned keep);

/* The time in the name of the newest report in dir (for the start of the next period).
 * Returns 0, -ENOENT if there is none, or -errno. */
int report_last_time(const char *dir, usec_t *ret);

/* "cmkd-report-20261123T060000Z.json". Returns buf. */
char *report_file_name(enum report_format f, usec_t t, char *buf, size_t len);
#define REPORT_NAME_MAX 64

const char *report_format_to_string(enum report_format f); /* "json", "csv", "html" */
