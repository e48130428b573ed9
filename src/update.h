/* SPDX-License-Identifier: MIT */
#pragma once

/* The pure parts of repointing a cluster to a new key URL: the exact request body, the
 * global gates (Mode=, ChangeWindow=, MaxUpdatesPerSweep=, an update already in flight)
 * and the check of the cluster after the operation. No I/O; remediate.c sends. */

#include "buf.h"
#include "conf.h"
#include "model.h"
#include "policy.h"

/* The body of the update, as the product docs give it for an existing cluster
 * (how-to-data-encryption.md, "Update data encryption settings"): identity and key
 * always together, only the encryption identity, the cluster's location.
 *   PUT:   {"identity":{...},"location":L,"properties":{"encryption":{...}}}
 *   PATCH: {"identity":{...},"properties":{"encryption":{...}}} (MongoClusters_Update)
 * Returns 0, -EINVAL if the cluster lacks the encryption identity or (PUT) a location,
 * -ENOMEM, -E2BIG. */
int update_build_body(const struct cluster *c, const char *new_key_url, enum update_method method, struct buf *out);

/* Global guard rails, in this order: an update of ours in flight for this cluster,
 * Mode=alert-only, ChangeWindow=, MaxUpdatesPerSweep=. Mode=dry-run is not a refusal:
 * the update is proposed and its exact request logged. Returns REFUSAL_NONE or the
 * refusal. */
enum refusal update_gate(const struct conf *c, enum run_mode mode, bool in_flight, unsigned started_this_sweep,
                         usec_t now_realtime);

enum update_check {
        UPDATE_CHECK_OK,            /* carries the new URL, Succeeded and Ready, identity kept */
        UPDATE_CHECK_PENDING,       /* still Updating / InProgress: read again later */
        UPDATE_CHECK_WRONG_KEY,     /* terminal, but the key URL is not the new one */
        UPDATE_CHECK_NOT_READY,     /* terminal, new URL, but not Succeeded and Ready */
        UPDATE_CHECK_IDENTITY_LOST, /* the encryption identity is no longer assigned */
        _UPDATE_CHECK_MAX,
        _UPDATE_CHECK_INVALID = -EINVAL,
};

/* Judges the cluster as read after its operation ended. Key URLs compare
 * case-insensitively in scheme and host, exactly in path. */
enum update_check update_verify(const struct cluster *after, const char *new_key_url, const char *identity_id);
const char *update_check_to_string(enum update_check c);

/* After a restart, for an update recorded before its request went out (OP_PHASE_SENDING):
 * true if the cluster as read shows no trace of that request, i.e. it still carries
 * old_key_url and no operation is under way (not Updating / InProgress). False when
 * old_key_url is NULL. */
bool update_not_applied(const struct cluster *after, const char *old_key_url);

/* True if two key URLs name the same key and version. */
bool update_key_urls_equal(const char *a, const char *b);
