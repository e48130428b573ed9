/* SPDX-License-Identifier: MIT */
#pragma once

/* The audit log: every action cmkd takes or proposes, and its outcome, as one JSON object
 * per line, appended and fsynced before the call returns (so an acknowledged entry
 * survives a crash). Reports read it back for a period. Never a token. Line format:
 *
 * {"time":"2026-11-23T06:00:00Z","cluster":"/subscriptions/…/mongoClusters/c1",
 *  "subscription":"…","action":"update","method":"PUT","mode":"enforce",
 *  "old_key_url":"https://v.vault.azure.net/keys/k/1","new_key_url":"https://v.vault.azure.net/keys/k",
 *  "operation_id":"…","result":"succeeded","refusal":null,"error":null,"error_code":null,
 *  "request_id":"…"}
 *
 * Every key is always present; absent values are null. */

#include "buf.h"
#include "macro.h"

#define AUDIT_LINE_MAX (64U * 1024U)
/* Its name in [Daemon] StateDirectory=. */
#define AUDIT_FILE "audit.log"

enum audit_result {
        AUDIT_PROPOSED,  /* dry-run: the request that would have been sent */
        AUDIT_STARTED,   /* the request was sent */
        AUDIT_SUCCEEDED, /* done and verified */
        AUDIT_FAILED,
        AUDIT_REFUSED, /* wanted, held back by a guard rail (refusal says which) */
        AUDIT_RESUMED, /* after a restart, cmkd follows an operation it had started */
        _AUDIT_RESULT_MAX,
        _AUDIT_RESULT_INVALID = -EINVAL,
};

/* One entry. For audit_append() and audit_format() the strings are borrowed and may be
 * NULL (written as null). In a struct audit_log they are owned by the log. */
struct audit_entry {
        usec_t time;   /* realtime */
        char *cluster; /* ARM id; required */
        char *subscription;
        char *action; /* "update" */
        char *method; /* "PUT" or "PATCH" */
        char *mode;   /* "enforce" or "dry-run" */
        char *old_url;
        char *new_url;
        char *operation_id; /* Azure's: null on "started" (written before the request goes out;
                             * the id comes with the answer) and on proposed/refused */
        enum audit_result result;
        char *refusal;    /* refusal_to_string() of a refused update */
        char *error;      /* what failed, in words (strerror, or the HTTP status) */
        char *error_code; /* Azure's error code */
        char *request_id; /* x-ms-request-id / x-ms-correlation-request-id, for Azure support */
};

/* Writes e as one JSON object (no newline) into out. Returns 0, -EINVAL (no cluster, bad
 * result), -ENOMEM or -E2BIG (longer than AUDIT_LINE_MAX). */
int audit_format(const struct audit_entry *e, struct buf *out);

/* Appends e to the log at path (created 0640 if missing) and fsyncs it. If the file does
 * not end in a newline (a crash cut the last line), a newline goes first, so the cut line
 * stays one corrupt line and the new entry stays whole. Returns 0 or -errno. */
int audit_append(const char *path, const struct audit_entry *e);

/* Parses one line. On success *ret owns its strings (free with audit_entry_done). Returns
 * 0, -EBADMSG (not an entry: bad JSON, no time or cluster, unknown result) or -ENOMEM. */
int audit_parse_line(const char *line, size_t len, struct audit_entry *ret);
void audit_entry_done(struct audit_entry *e);

struct audit_log {
        struct audit_entry *entries; /* owned, in file order */
        size_t n_entries;
        unsigned n_corrupt;   /* lines that are not entries (skipped, counted) */
        unsigned n_truncated; /* a last line without its newline that did not parse: cut by a crash */
        unsigned n_omitted;   /* entries in range beyond max_entries (the first ones are kept) */
};

/* Reads the entries with since <= time < until from path, streaming (the log may be large;
 * only the entries kept are in memory). A missing file is an empty log. Lines longer than
 * AUDIT_LINE_MAX count as corrupt. Returns 0, -ENOMEM, or -errno of reading. */
int audit_read(const char *path, usec_t since, usec_t until, size_t max_entries, struct audit_log **ret);
struct audit_log *audit_log_free(struct audit_log *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct audit_log *, audit_log_free);

const char *audit_result_to_string(enum audit_result r);
enum audit_result audit_result_from_string(const char *s);
