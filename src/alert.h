/* SPDX-License-Identifier: MIT */
#pragma once

/* Alerts for on-call staff: journal entries with a stable MESSAGE_ID per kind (explained
 * by systemd/cmkd.catalog, so `journalctl -x` shows what to do), PRIORITY from severity
 * and CMKD_* fields a responder can filter on. alert.c is the only caller of
 * sd_journal_send; alertstate.c decides what to send and when. Never a token. */

#include <sys/uio.h>

#include "policy.h"

struct alert_event;
struct alert_events;
struct sweep_result;

enum alert_kind {
        ALERT_FINDING,          /* a finding of one cluster; its code selects the MESSAGE_ID */
        ALERT_UPDATE_PROPOSED,  /* dry-run: the update cmkd would make */
        ALERT_UPDATE_REFUSED,   /* an update is wanted, a guard rail holds it back */
        ALERT_UPDATE_STARTED,   /* the update request was sent */
        ALERT_UPDATE_SUCCEEDED, /* done and verified */
        ALERT_UPDATE_FAILED,
        ALERT_SWEEP_FAILED,     /* fleet: the sweep could not run at all (no token, no listing) */
        ALERT_SWEEP_INCOMPLETE, /* fleet: some scopes could not be listed, or items not decoded */
        ALERT_OUTAGE,           /* fleet: many clusters could not be checked, for one cause */
        ALERT_RESOLVED,         /* ends any condition above (findings, refused, proposed, failed, fleet) */
        ALERT_REPORT_WRITTEN,
        ALERT_DAEMON_STARTED,
        ALERT_DAEMON_STOPPED,
        _ALERT_KIND_MAX,
        _ALERT_KIND_INVALID = -EINVAL,
};

/* Receives one journal entry: iov[i] holds "FIELD=value" (not NUL-terminated in general).
 * Returns 0 or a negative errno. */
typedef int (*alert_sink_fn)(const struct iovec *iov, size_t n, void *userdata);

/* Routes every alert to sink instead of the journal (unit tests). NULL restores the
 * journal (sd_journal_sendv). Not thread-safe; cmkd has one thread. */
void alert_set_sink(alert_sink_fn sink, void *userdata);

/* The ARM endpoint used in the commands that alerts suggest ("https://management.azure.com"
 * when never set). Borrowed: must outlive every later alert call. */
void alert_set_arm_endpoint(const char *endpoint);

/* Sends one event of alertstate_update(). now is the realtime clock (for ages in the text).
 * Returns 0, -ENOMEM, or the sink's error (journald not running: -ENOENT, -ECONNREFUSED). */
int alert_emit_event(const struct alert_event *e, usec_t now);
/* Sends every event in order; stops at nothing: returns the first error, or the number of
 * events sent. */
int alert_emit_events(const struct alert_events *ev, usec_t now);

/* "Report written": files are the names written into dir (NULL-terminated). */
int alert_emit_report_written(const char *dir, char *const *files, const struct sweep_result *s, usec_t now);
/* ALERT_DAEMON_STARTED or ALERT_DAEMON_STOPPED; mode and detail ("SIGTERM") may be NULL. */
int alert_emit_daemon(enum alert_kind kind, const char *mode, const char *detail);

/* The MESSAGE_ID (32 lowercase hex digits) of a kind; for ALERT_FINDING the code picks it.
 * NULL for an out-of-range argument. */
const char *alert_message_id(enum alert_kind kind, enum finding_code code);
/* Every MESSAGE_ID cmkd sends, for the catalog test: i in [0, alert_message_id_count()).
 * *ret_name gets "finding:<code>" or the kind's name. */
size_t alert_message_id_count(void);
const char *alert_message_id_nth(size_t i, const char **ret_name);

/* syslog priority of a condition of this kind and severity: critical → LOG_CRIT,
 * warning → LOG_WARNING, info → LOG_INFO; fixed for the other kinds (resolved: LOG_NOTICE). */
int alert_priority(enum alert_kind kind, enum severity severity);

const char *alert_kind_to_string(enum alert_kind k);
enum alert_kind alert_kind_from_string(const char *s);
