/* SPDX-License-Identifier: MIT */
#pragma once

/* Repoints stale clusters: for each cluster whose verdict wants an update, applies the
 * global gates, then proposes (dry run: the exact request is logged), or sends the update
 * and follows it to its end: operation record first (state directory), request, long-
 * running operation, a fresh read of the cluster to verify it, audit log throughout. After
 * a crash, remediate_resume() follows recorded operations instead of sending again. A
 * failed update is held back with a growing delay, so failures never become a storm. */

#include <ev.h>

#include "azure.h"
#include "conf.h"
#include "sweep.h"

/* First delay after a failed update of a cluster to the same target; doubles per failure. */
#define REMEDIATE_HOLD_USEC (1 * USEC_PER_HOUR)
#define REMEDIATE_HOLD_MAX_USEC (24 * USEC_PER_HOUR)
/* How long an operation is followed is [Policy] UpdateTimeoutSec= (conf->update_timeout_usec),
 * counted from the request (the record's start, so a restart does not extend it). After
 * that the update ends failed, -ETIME, error code REMEDIATE_TIMED_OUT_CODE, and is held
 * back like any failure; the operation may still end in Azure, and the policy refuses any
 * update while the cluster reads Updating. */
#define REMEDIATE_TIMED_OUT_CODE "OperationTimedOut"
/* While the cluster still reads Updating after its operation ended. */
#define REMEDIATE_VERIFY_INTERVAL_USEC (10 * USEC_PER_SEC)
#define REMEDIATE_VERIFY_READS_MAX 30u
#define REMEDIATE_HOLDS_FILE "update-holds.json"

struct remediate;

/* An update attempt ended for this cluster: called exactly once per attempt that was
 * started (audited "started"), with its outcome (OUTCOME_SUCCEEDED or OUTCOME_FAILED) and,
 * when failed, its negative errno (-ETIME: cmkd gave up waiting, see struct action_result).
 * The whole result waits in the remediate until remediate_collect() or the next
 * remediate_apply() picks it up. */
typedef void (*remediate_done_fn)(struct remediate *rm, const char *cluster_id, enum action_outcome outcome,
                                  int error, void *userdata);

/* az, loop and conf are borrowed. state_dir is copied; operation records go to
 * state_dir/operations/, the audit log is state_dir/audit.log. state_dir NULL: no state
 * (a read-only `--once` of a monitoring user): nothing is audited and no update can start
 * (an update without a record is never sent). Returns 0, -ENOMEM, or -errno creating the
 * directory. */
int remediate_new(struct ev_loop *loop, struct azure *az, const struct conf *conf, const char *state_dir,
                  remediate_done_fn done, void *userdata, struct remediate **ret);
/* Parses the text of the holds file (StateDirectory/holds.json, {"holds":[...]}) into a
 * scratch table and drops it: what remediate_new() does with the file, for the fuzzer and
 * the tests. *ret_n (if given) gets the number of holds. Returns 0, -EBADMSG, -ENOMEM. */
int remediate_holds_parse(const char *text, size_t len, size_t *ret_n);
/* Stops following operations (their records stay for the next start). Returns NULL. */
struct remediate *remediate_free(struct remediate *rm);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct remediate *, remediate_free);

/* Picks up the operations recorded by an earlier run. A corrupt record is set aside (its
 * name logged) and skipped. An accepted operation is followed from its URLs; one recorded
 * before its request went out is judged by reading the cluster, never by sending again:
 * Updating or on the new key, it is followed to its end; still on the old key once
 * [Network] RequestTimeoutSec= has passed since the resume, the request is taken as never
 * sent: the update ends "failed" (error code NotSent) without a hold, so the next sweep
 * decides afresh. Returns the number resumed or -errno. */
int remediate_resume(struct remediate *rm, usec_t now_realtime);

/* Decides the action of every cluster of s and fills cr->action: outcomes of operations
 * that ended since the last call, in-progress for those still followed, failed with
 * action.held set while a failure holds a cluster back (the failure repeated, nothing
 * sent), refused by a guard rail or gate, proposed in dry-run mode, or started. Returns the
 * number of updates started, or -ENOMEM. */
int remediate_apply(struct remediate *rm, struct sweep_result *s, enum run_mode mode, usec_t now_realtime);

/* Moves the outcomes of operations that ended into the matching clusters of s (those not
 * in s stay for later). Returns how many were moved. */
size_t remediate_collect(struct remediate *rm, struct sweep_result *s);

size_t remediate_in_flight(const struct remediate *rm);
bool remediate_cluster_in_flight(const struct remediate *rm, const char *cluster_id);
