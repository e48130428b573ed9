/* SPDX-License-Identifier: MIT */
/* Sends updates and follows them to the end: record, request, long-running operation,
 * verification read, audit. Decides nothing about whether a cluster needs an update (the
 * policy and update.c do); never sends a request that is not recorded first. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <stdio.h>
#include <unistd.h>

#include "arm.h"
#include "arm_decode.h"
#include "audit.h"
#include "fileio.h"
#include "hashmap.h"
#include "inventory.h"
#include "json_util.h"
#include "log.h"
#include "mem.h"
#include "oprecord.h"
#include "remediate.h"
#include "strv.h"
#include "timeutil.h"
#include "update.h"

struct op {
        struct remediate *rm;
        struct op_record *rec;        /* owned */
        char name[OPRECORD_NAME_MAX]; /* record file name */
        struct azure_call *call;      /* in flight, or NULL */
        struct arm_lro *lro;          /* in flight, or NULL */
        ev_timer verify_timer;
        unsigned verify_reads;
        enum run_mode mode;
        /* A record resumed in phase SENDING: the request may never have left the crashed
         * process. Until this time (monotonic) a cluster still on its old key may yet get
         * the request; from then on, cmkd concludes that it never took effect. 0 = not such
         * a record. */
        usec_t unsent_after;
        bool unsent; /* concluded so: finished without a hold, the next sweep decides */
};

/* A cluster held back after a failed update to target_url until retry_at. */
struct hold {
        char *target_url;
        unsigned failures;
        usec_t retry_at;
        struct action_result last; /* the failure, to report while held back */
};

struct remediate {
        struct ev_loop *loop;     /* borrowed */
        struct azure *az;         /* borrowed */
        const struct conf *conf;  /* borrowed */
        char *state_dir;
        char *ops_dir;
        char *audit_path;
        struct hashmap *ops;      /* cluster id → struct op, owned */
        struct hashmap *finished; /* cluster id → struct action_result, owned */
        struct hashmap *holds;    /* cluster id → struct hold, owned */
        struct hashmap *noted;    /* audit keys of proposals and refusals already logged */
        remediate_done_fn done;
        void *userdata;
};

static void action_result_free(void *p) {
        struct action_result *a = p;

        if (!a)
                return;
        action_result_done(a);
        mem_free(a);
}

static void hold_free(void *p) {
        struct hold *h = p;

        if (!h)
                return;
        mem_free(h->target_url);
        action_result_done(&h->last);
        mem_free(h);
}

static void op_free(void *p) {
        struct op *op = p;

        if (!op)
                return;
        if (op->call)
                azure_call_cancel(op->call);
        if (op->lro)
                arm_lro_cancel(op->lro);
        ev_timer_stop(op->rm->loop, &op->verify_timer);
        op_record_free(op->rec);
        mem_free(op);
}

static char *dup_or_null(const char *s) {
        return s ? mem_strdup(s) : NULL;
}

/* ---- holds (persisted, so that a restart does not retry a failure at once) ---------- */

static void holds_save(struct remediate *rm) {
        const char *id;
        struct hold *h;
        struct buf b;
        bool first = true;
        int r;

        if (!rm->state_dir)
                return;
        buf_init(&b, 4 * 1024 * 1024);
        r = buf_puts(&b, "{\"version\":1,\"holds\":[");
        HASHMAP_FOREACH(id, h, rm->holds) {
                if (r >= 0 && !first)
                        r = buf_putc(&b, ',');
                first = false;
                if (r >= 0)
                        r = buf_puts(&b, "{\"cluster\":");
                if (r >= 0)
                        r = buf_put_json_string(&b, id);
                if (r >= 0)
                        r = buf_puts(&b, ",\"target\":");
                if (r >= 0)
                        r = buf_put_json_string(&b, h->target_url);
                if (r >= 0)
                        r = buf_printf(&b, ",\"failures\":%u,\"retry_at\":%llu,\"error\":", h->failures,
                                       (unsigned long long) (h->retry_at / USEC_PER_SEC));
                if (r >= 0)
                        r = buf_put_json_string(&b, strempty(h->last.error_message));
                if (r >= 0)
                        r = buf_puts(&b, ",\"error_code\":");
                if (r >= 0)
                        r = buf_put_json_string(&b, strempty(h->last.error_code));
                /* What the held-back failure reports after a restart, as before it. */
                if (r >= 0)
                        r = buf_puts(&b, ",\"old\":");
                if (r >= 0)
                        r = buf_put_json_string(&b, strempty(h->last.old_url));
                if (r >= 0)
                        r = buf_puts(&b, ",\"operation_id\":");
                if (r >= 0)
                        r = buf_put_json_string(&b, strempty(h->last.operation_id));
                if (r >= 0)
                        r = buf_printf(&b, ",\"errno\":%d,\"attempt_started\":%llu}", h->last.error,
                                       (unsigned long long) (h->last.attempt_started / USEC_PER_SEC));
        }
        if (r >= 0)
                r = buf_puts(&b, "]}\n");
        if (r >= 0)
                r = write_file_atomic(rm->state_dir, REMEDIATE_HOLDS_FILE, b.data, b.len, 0600);
        if (r < 0)
                log_warning_errno(r, "Failed to save %s/%s: %m; a restart may retry failed updates sooner.",
                                  rm->state_dir, REMEDIATE_HOLDS_FILE);
        buf_done(&b);
}

static int holds_parse(struct hashmap *holds, const char *text, size_t len) {
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *arr;
        size_t n;
        int r;

        r = json_parse_object(text, len, &o);
        if (r < 0)
                return r;
        r = json_get_array(o, "holds", &arr, &n);
        if (r < 0)
                return r;
        if (r != JSON_FIELD_PRESENT)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                struct json_object *item = json_object_array_get_idx(arr, i);
                const char *cluster, *target, *err = NULL, *code = NULL, *old = NULL, *opid = NULL;
                int64_t failures, retry_at, error = 0, started = 0;
                struct hold *h;

                if (json_value_object(item) < 0 || json_need_string(item, "cluster", &cluster) < 0 ||
                    json_need_string(item, "target", &target) < 0 ||
                    json_get_int64(item, "failures", &failures) != JSON_FIELD_PRESENT ||
                    json_get_int64(item, "retry_at", &retry_at) != JSON_FIELD_PRESENT || failures < 1 ||
                    failures > 1000 || retry_at < 0 || json_get_string(item, "error", &err) < 0 ||
                    json_get_string(item, "error_code", &code) < 0 ||
                    /* Optional: files of earlier versions lack them. */
                    json_get_string(item, "old", &old) < 0 ||
                    json_get_string(item, "operation_id", &opid) < 0 ||
                    json_get_int64(item, "errno", &error) < 0 ||
                    json_get_int64(item, "attempt_started", &started) < 0 || error > 0 || error < -4095 ||
                    started < 0)
                        return -EBADMSG;
                h = new0(struct hold, 1);
                if (!h)
                        return -ENOMEM;
                h->target_url = mem_strdup(target);
                h->failures = (unsigned) failures;
                h->retry_at = usec_from_unix(retry_at);
                h->last.outcome = OUTCOME_FAILED;
                h->last.new_url = mem_strdup(target);
                h->last.error_message = isempty(err) ? NULL : mem_strdup(err);
                h->last.error_code = isempty(code) ? NULL : mem_strdup(code);
                h->last.old_url = isempty(old) ? NULL : mem_strdup(old);
                h->last.operation_id = isempty(opid) ? NULL : mem_strdup(opid);
                h->last.error = (int) error;
                h->last.attempt_started = usec_from_unix(started);
                if (!h->target_url || !h->last.new_url || hashmap_put(holds, cluster, h) < 0)
                        hold_free(h);
        }
        return 0;
}

int remediate_holds_parse(const char *text, size_t len, size_t *ret_n) {
        _cleanup_(hashmap_freep) struct hashmap *holds = hashmap_new(true, hold_free);
        int r;

        if (!holds)
                return -ENOMEM;
        r = holds_parse(holds, text, len);
        if (r < 0)
                return r;
        if (ret_n)
                *ret_n = hashmap_size(holds);
        return 0;
}

static void holds_load(struct remediate *rm, usec_t now) {
        _cleanup_free_ char *path = NULL, *text = NULL, *aside = NULL;
        size_t len;
        int r;

        if (!rm->state_dir)
                return;
        path = path_join(rm->state_dir, REMEDIATE_HOLDS_FILE);
        if (!path)
                return;
        r = read_file_bounded(path, 4 * 1024 * 1024, &text, &len);
        if (r == -ENOENT)
                return;
        if (r >= 0)
                r = holds_parse(rm->holds, text, len);
        if (r >= 0)
                return;
        if (set_aside_corrupt(path, now, &aside) >= 0)
                log_error_errno(r, "Failed to read %s: %m; set aside as %s, starting without held-back updates.",
                                path, aside);
        else
                log_error_errno(r, "Failed to read %s: %m; ignoring it.", path);
}

static void hold_add(struct remediate *rm, const char *cluster_id, const struct action_result *failed, usec_t now) {
        struct hold *h = hashmap_get(rm->holds, cluster_id);
        usec_t delay;

        if (h && !streq_ptr(h->target_url, failed->new_url)) {
                hold_free(hashmap_remove(rm->holds, cluster_id));
                h = NULL;
        }
        if (!h) {
                h = new0(struct hold, 1);
                if (!h || !(h->target_url = dup_or_null(failed->new_url)) ||
                    hashmap_put(rm->holds, cluster_id, h) < 0) {
                        hold_free(h);
                        log_oom();
                        return;
                }
        }
        h->failures++;
        delay = REMEDIATE_HOLD_USEC << MIN(h->failures - 1, 10u);
        h->retry_at = now + MIN(delay, REMEDIATE_HOLD_MAX_USEC);
        action_result_done(&h->last);
        h->last.outcome = OUTCOME_FAILED;
        h->last.old_url = dup_or_null(failed->old_url);
        h->last.new_url = dup_or_null(failed->new_url);
        h->last.operation_id = dup_or_null(failed->operation_id);
        h->last.error = failed->error;
        h->last.error_code = dup_or_null(failed->error_code);
        h->last.error_message = dup_or_null(failed->error_message);
        h->last.attempt_started = failed->attempt_started;
        holds_save(rm);
}

/* ---- audit ------------------------------------------------------------------------ */

static void audit(struct remediate *rm, const struct op_record *rec, enum run_mode mode, enum audit_result result,
                  const char *refusal, const char *error, const char *error_code, const char *request_id) {
        char opid[256];
        struct audit_entry e = {
                .time = now_usec(CLOCK_REALTIME),
                .cluster = rec->cluster_id,
                .subscription = rec->subscription,
                .action = (char *) "update",
                .method = (char *) (rec->method == UPDATE_METHOD_PATCH ? "PATCH" : "PUT"),
                .mode = (char *) run_mode_to_string(mode),
                .old_url = rec->old_key_url,
                .new_url = rec->new_key_url,
                .operation_id = (char *) op_record_operation_id(rec, opid, sizeof opid),
                .result = result,
                .refusal = (char *) refusal,
                .error = (char *) error,
                .error_code = (char *) error_code,
                .request_id = (char *) (request_id ?: rec->request_id),
        };
        int r;

        if (!rm->audit_path)
                return;
        r = audit_append(rm->audit_path, &e);
        if (r < 0)
                log_error_errno(r, "Failed to append to the audit log %s: %m", rm->audit_path);
}

/* Proposals and refusals repeat every sweep; the audit log gets each (cluster, target,
 * outcome, refusal) once per run of cmkd. */
static bool noted_first(struct remediate *rm, const char *cluster_id, const char *target, const char *what) {
        char key[2048];

        snprintf(key, sizeof key, "%s|%s|%s", cluster_id, strempty(target), what);
        if (hashmap_get(rm->noted, key))
                return false;
        (void) hashmap_put(rm->noted, key, (void *) 1);
        return true;
}

/* ---- records ------------------------------------------------------------------------ */

static int record_write(struct remediate *rm, struct op *op) {
        struct buf b;
        int r;

        if (!rm->ops_dir)
                return -EROFS;
        buf_init(&b, OPRECORD_FILE_MAX);
        r = op_record_format(op->rec, &b);
        if (r >= 0)
                r = write_file_atomic(rm->ops_dir, op->name, b.data, b.len, 0600);
        buf_done(&b);
        return r;
}

static void record_remove(struct remediate *rm, struct op *op) {
        _cleanup_free_ char *path = rm->ops_dir ? path_join(rm->ops_dir, op->name) : NULL;

        if (path && unlink(path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove operation record %s: %m", path);
}

/* ---- ending an operation -------------------------------------------------------------- */

static void op_finish(struct op *op, enum action_outcome outcome, int error, const char *code, const char *message) {
        struct remediate *rm = op->rm;
        struct op_record *rec = op->rec;
        _cleanup_free_ char *cluster_id = mem_strdup(rec->cluster_id);
        struct action_result *a;
        struct hold *h;
        char opid[256], retry[RFC3339_MAX];
        usec_t now = now_usec(CLOCK_REALTIME);

        a = new0(struct action_result, 1);
        if (a) {
                a->outcome = outcome;
                a->old_url = dup_or_null(rec->old_key_url);
                a->new_url = dup_or_null(rec->new_key_url);
                a->operation_id = dup_or_null(op_record_operation_id(rec, opid, sizeof opid));
                a->error = error;
                a->error_code = dup_or_null(code);
                a->error_message = dup_or_null(message);
                a->attempt_started = rec->started;
        }

        /* State first (audit, holds, record), the log line last: whoever reads the log may
         * act on it at once (a test, an operator) and must find the state settled. */
        if (outcome == OUTCOME_SUCCEEDED) {
                audit(rm, rec, op->mode, AUDIT_SUCCEEDED, NULL, NULL, NULL, NULL);
                hold_free(hashmap_remove(rm->holds, rec->cluster_id));
                holds_save(rm);
        } else if (op->unsent)
                /* Nothing failed at Azure: no hold, the next sweep decides afresh. */
                audit(rm, rec, op->mode, AUDIT_FAILED, NULL, message, code, NULL);
        else {
                audit(rm, rec, op->mode, AUDIT_FAILED, NULL, message ?: strerror(ERRNO_VALUE(error ?: EIO)),
                      code, NULL);
                if (a)
                        hold_add(rm, rec->cluster_id, a, now);
        }
        record_remove(rm, op);
        h = outcome == OUTCOME_FAILED && !op->unsent ? hashmap_get(rm->holds, rec->cluster_id) : NULL;
        if (h)
                rfc3339_format(retry, sizeof retry, h->retry_at);

        if (outcome == OUTCOME_SUCCEEDED)
                log_notice("Cluster %s now uses %s (operation %s).", rec->cluster_id, rec->new_key_url,
                           strna(op_record_operation_id(rec, opid, sizeof opid)));
        else if (op->unsent)
                log_warning("The update of cluster %s to %s did not reach Azure before cmkd stopped; the next "
                            "sweep decides again.", rec->cluster_id, rec->new_key_url);
        else if (error == -ETIME)
                /* Given up, not failed: Azure may still carry it out. Say what cmkd does next. */
                log_error("Gave up on the update of cluster %s to %s: %s%s%s. It may still complete in "
                          "Azure; cmkd sends no update while the cluster reads Updating, reads it again on "
                          "every sweep and holds this update back until %s.",
                          rec->cluster_id, rec->new_key_url, strempty(code), code ? ": " : "",
                          strempty(message), h ? retry : "later");
        else
                log_error("Updating cluster %s to %s failed: %s%s%s; holding it back until %s before another "
                          "attempt.",
                          rec->cluster_id, rec->new_key_url, strempty(code), code ? ": " : "",
                          message ?: strerror(ERRNO_VALUE(error ?: EIO)), h ? retry : "later");

        if (a) {
                action_result_free(hashmap_remove(rm->finished, cluster_id));
                if (hashmap_put(rm->finished, cluster_id, a) < 0)
                        action_result_free(a);
        } else
                log_oom();
        op_free(hashmap_remove(rm->ops, cluster_id));
        if (rm->done)
                rm->done(rm, cluster_id, outcome, outcome == OUTCOME_FAILED ? (error ?: -EIO) : 0,
                         rm->userdata);
}

/* ---- verification --------------------------------------------------------------------- */

static void verify_read(struct op *op);

static void judge_cluster(struct op *op, const char *body, size_t len) {
        _cleanup_(cluster_freep) struct cluster *c = NULL;
        enum update_check check;
        char msg[512];
        int r;

        r = arm_decode_cluster(body, len, &c);
        if (r < 0) {
                op_finish(op, OUTCOME_FAILED, r, "MalformedResponse", "the cluster read after the update did not decode");
                return;
        }
        check = update_verify(c, op->rec->new_key_url, op->rec->identity_id);
        if (check == UPDATE_CHECK_WRONG_KEY && op->unsent_after > 0 && update_not_applied(c, op->rec->old_key_url)) {
                usec_t now = now_usec(CLOCK_MONOTONIC);

                if (now < op->unsent_after && op->verify_reads < REMEDIATE_VERIFY_READS_MAX) {
                        /* The request may still be on its way: look again at the end of the grace. */
                        ev_timer_set(&op->verify_timer,
                                     (double) MIN(op->unsent_after - now, REMEDIATE_VERIFY_INTERVAL_USEC) / USEC_PER_SEC,
                                     0.);
                        ev_timer_start(op->rm->loop, &op->verify_timer);
                        return;
                }
                op->unsent = true;
                op_finish(op, OUTCOME_FAILED, -ENOTCONN, "NotSent",
                          "the request did not take effect: cmkd stopped before Azure had it");
                return;
        }
        switch (check) {
        case UPDATE_CHECK_OK:
                op_finish(op, OUTCOME_SUCCEEDED, 0, NULL, NULL);
                return;
        case UPDATE_CHECK_PENDING:
                if (op->verify_reads >= REMEDIATE_VERIFY_READS_MAX) {
                        op_finish(op, OUTCOME_FAILED, -ETIME, "StillUpdating",
                                  "the cluster still reads Updating after its operation ended");
                        return;
                }
                ev_timer_set(&op->verify_timer, (double) REMEDIATE_VERIFY_INTERVAL_USEC / USEC_PER_SEC, 0.);
                ev_timer_start(op->rm->loop, &op->verify_timer);
                return;
        default:
                snprintf(msg, sizeof msg,
                         "verification failed (%s): the cluster reads key %s, provisioningState %s, clusterStatus %s",
                         update_check_to_string(check), strna(c->key_url), strna(c->provisioning_state),
                         strna(c->cluster_status));
                op_finish(op, OUTCOME_FAILED, -EPROTO, "VerificationFailed", msg);
        }
}

static void on_verify_read(struct azure_call *call, struct azure_result *res, void *userdata) {
        struct op *op = userdata;

        op->call = NULL;
        if (res->error < 0) {
                /* A failed read says nothing about the update: try again, within bounds. */
                if (op->verify_reads < REMEDIATE_VERIFY_READS_MAX) {
                        log_warning_errno(res->error, "Failed to read cluster %s after its update: %m, retrying.",
                                          op->rec->cluster_id);
                        ev_timer_set(&op->verify_timer, (double) REMEDIATE_VERIFY_INTERVAL_USEC / USEC_PER_SEC, 0.);
                        ev_timer_start(op->rm->loop, &op->verify_timer);
                        return;
                }
                op_finish(op, OUTCOME_FAILED, res->error, res->error_code, res->error_message);
                return;
        }
        judge_cluster(op, res->body.data ?: "", res->body.len);
}

static void verify_read(struct op *op) {
        int r;

        op->verify_reads++;
        r = arm_get(op->rm->az, op->rec->resource_url, on_verify_read, op, &op->call);
        if (r < 0)
                op_finish(op, OUTCOME_FAILED, r, NULL, "could not read the cluster after its update");
}

static void on_verify_timer(struct ev_loop *loop, ev_timer *w, int revents) {
        verify_read(w->data);
}

/* ---- the operation ---------------------------------------------------------------------- */

static usec_t update_timeout(const struct remediate *rm) {
        return rm->conf->update_timeout_usec ?: ARM_LRO_DEADLINE_USEC_DEFAULT;
}

/* What is left of UpdateTimeoutSec= for an operation whose request went out at started
 * (realtime, from its record): a restart does not give it the whole time again. Past it,
 * 1 µs: the operation is looked at once more (it may have ended meanwhile), then given up.
 * A clock set back gives the whole time, never more. */
static usec_t follow_deadline(const struct remediate *rm, usec_t started, usec_t now) {
        usec_t limit = update_timeout(rm);

        if (started == 0 || now <= started)
                return limit;
        return now - started >= limit ? 1 : limit - (now - started);
}

static void on_lro_done(struct arm_lro *lro, struct arm_lro_result *res, void *userdata) {
        struct op *op = userdata;
        char msg[256];

        op->lro = NULL;
        if (res->error == -ETIME) {
                char span[TIMESPAN_MAX], opid[256];

                snprintf(msg, sizeof msg,
                         "operation %s did not end within UpdateTimeoutSec=%s (%u polls, last status %s)",
                         strna(op_record_operation_id(op->rec, opid, sizeof opid)),
                         timespan_format(span, sizeof span, update_timeout(op->rm), USEC_PER_SEC), res->polls,
                         strna(res->status_string));
                op_finish(op, OUTCOME_FAILED, -ETIME, REMEDIATE_TIMED_OUT_CODE, msg);
                return;
        }
        if (res->error < 0) {
                /* A poll that failed after its retries, or whose answer did not decode, says
                 * nothing about the operation, which may well have succeeded: judge the
                 * cluster itself, as after an update that got no answer. Its read is
                 * retried and, while the cluster reads Updating, repeated (bounded). */
                log_warning_errno(res->error,
                                  "Could not follow the operation of the update of cluster %s: %m%s%s; reading the "
                                  "cluster instead.",
                                  op->rec->cluster_id, res->last.error_code ? ", " : "", strempty(res->last.error_code));
                verify_read(op);
                return;
        }
        if (res->status != ARM_LRO_SUCCEEDED) {
                op_finish(op, OUTCOME_FAILED, -EIO, res->error_code ?: res->status_string,
                          res->error_message ?: "the operation ended without success");
                return;
        }
        /* Never trust the operation alone: judge the cluster as read after it ended (the
         * poller's final GET of the resource), else read it. */
        if (res->last.status == 200 && res->last.body.len > 0)
                judge_cluster(op, res->last.body.data, res->last.body.len);
        else
                verify_read(op);
}

static void follow(struct op *op) {
        struct arm_lro_urls urls = {
                .method = op->rec->method == UPDATE_METHOD_PATCH ? HTTP_PATCH : HTTP_PUT,
                .resource = op->rec->resource_url,
                .async_operation = op->rec->async_operation,
                .location = op->rec->location,
        };
        struct arm_lro_conf lc = {
                .deadline_usec = follow_deadline(op->rm, op->rec->started, now_usec(CLOCK_REALTIME)),
        };
        int r;

        r = arm_lro_poll(op->rm->az, &urls, &lc, on_lro_done, op, &op->lro);
        if (r < 0)
                op_finish(op, OUTCOME_FAILED, r, NULL, "could not follow the operation");
}

static void on_initial(struct azure_call *call, struct azure_result *res, void *userdata) {
        struct op *op = userdata;
        struct arm_lro_urls urls = {};
        int r;

        op->call = NULL;
        if (res->error < 0 && res->status == 0) {
                /* No answer: the request may or may not have reached Azure. Read the
                 * cluster to find out rather than send it again. */
                log_warning_errno(res->error, "No answer to the update of cluster %s: %m; reading it back.",
                                  op->rec->cluster_id);
                verify_read(op);
                return;
        }
        if (res->error < 0) {
                op_finish(op, OUTCOME_FAILED, res->error, res->error_code, res->error_message);
                return;
        }

        r = arm_lro_begin(op->rec->method == UPDATE_METHOD_PATCH ? HTTP_PATCH : HTTP_PUT, op->rec->resource_url, res,
                          &urls);
        if (r < 0) {
                op_finish(op, OUTCOME_FAILED, r, res->error_code, res->error_message);
                return;
        }
        mem_free(op->rec->request_id);
        op->rec->request_id = dup_or_null(res->request_id);
        if (r == 0) {
                /* Done already: the answer is the cluster. */
                judge_cluster(op, res->body.data ?: "", res->body.len);
                return;
        }
        op->rec->phase = OP_PHASE_ACCEPTED;
        mem_free(op->rec->async_operation);
        mem_free(op->rec->location);
        op->rec->async_operation = TAKE_PTR(urls.async_operation);
        op->rec->location = TAKE_PTR(urls.location);
        arm_lro_urls_done(&urls);
        r = record_write(op->rm, op);
        if (r < 0)
                /* Following it is still right; only a crash now would lose track of it. */
                log_error_errno(r, "Failed to record the operation of cluster %s: %m", op->rec->cluster_id);
        follow(op);
}

static struct op *op_new(struct remediate *rm, struct op_record *rec, enum run_mode mode) {
        struct op *op = new0(struct op, 1);

        if (!op)
                return NULL;
        op->rm = rm;
        op->rec = rec;
        op->mode = mode;
        op_record_file_name(rec->cluster_id, op->name, sizeof op->name);
        ev_timer_init(&op->verify_timer, on_verify_timer, 0., 0.);
        op->verify_timer.data = op;
        if (hashmap_put(rm->ops, rec->cluster_id, op) < 0) {
                op->rec = NULL;
                mem_free(op);
                return NULL;
        }
        return op;
}

static int op_start(struct remediate *rm, const struct cluster_result *cr, enum run_mode mode, usec_t now,
                    struct action_result *ret) {
        const struct cluster *c = cr->obs.cluster;
        enum update_method method = rm->conf->update_method;
        _cleanup_(op_record_freep) struct op_record *rec = NULL;
        struct buf body;
        struct op *op;
        int r;

        rec = new0(struct op_record, 1);
        if (!rec)
                return -ENOMEM;
        rec->cluster_id = mem_strdup(c->id);
        rec->subscription = dup_or_null(c->subscription);
        rec->method = method;
        rec->resource_url = inventory_cluster_url(rm->conf, c->id);
        rec->identity_id = dup_or_null(c->kek_identity_id);
        rec->old_key_url = dup_or_null(c->key_url);
        rec->new_key_url = mem_strdup(cr->verdict.action.target_url);
        rec->phase = OP_PHASE_SENDING;
        rec->started = now;
        if (!rec->cluster_id || !rec->resource_url || !rec->new_key_url)
                return -ENOMEM;

        buf_init(&body, 64 * 1024);
        r = update_build_body(c, rec->new_key_url, method, &body);
        if (r < 0) {
                buf_done(&body);
                return r;
        }

        op = op_new(rm, TAKE_PTR(rec), mode);
        if (!op) {
                buf_done(&body);
                return -ENOMEM;
        }
        /* The record goes to disk before the request goes out: after a crash, cmkd follows
         * this operation instead of sending a second one. No record, no request. */
        r = record_write(rm, op);
        if (r < 0) {
                log_error_errno(r, "Failed to record the update of cluster %s in %s: %m; not sending it.", c->id,
                                rm->ops_dir);
                op_free(hashmap_remove(rm->ops, c->id));
                buf_done(&body);
                return r;
        }
        log_notice("Updating cluster %s: %s %s → %s", c->id, method == UPDATE_METHOD_PATCH ? "PATCH" : "PUT",
                   strna(c->key_url),
                   op->rec->new_key_url);
        audit(rm, op->rec, mode, AUDIT_STARTED, NULL, NULL, NULL, NULL);

        if (method == UPDATE_METHOD_PATCH)
                r = arm_patch(rm->az, op->rec->resource_url, body.data, body.len, on_initial, op, &op->call);
        else
                r = arm_put(rm->az, op->rec->resource_url, body.data, body.len, on_initial, op, &op->call);
        buf_done(&body);
        if (r < 0) {
                record_remove(rm, op);
                op_free(hashmap_remove(rm->ops, c->id));
                return r;
        }

        *ret = (struct action_result) {
                .outcome = OUTCOME_IN_PROGRESS,
                .old_url = dup_or_null(c->key_url),
                .new_url = mem_strdup(cr->verdict.action.target_url),
                .attempt_started = now,
        };
        return 0;
}

/* ---- public --------------------------------------------------------------------------------- */

int remediate_new(struct ev_loop *loop, struct azure *az, const struct conf *conf, const char *state_dir,
                  remediate_done_fn done, void *userdata, struct remediate **ret) {
        _cleanup_(remediate_freep) struct remediate *rm = NULL;
        int r;

        rm = new0(struct remediate, 1);
        if (!rm)
                return -ENOMEM;
        rm->loop = loop;
        rm->az = az;
        rm->conf = conf;
        rm->done = done;
        rm->userdata = userdata;
        rm->ops = hashmap_new(true, op_free);
        rm->finished = hashmap_new(true, action_result_free);
        rm->holds = hashmap_new(true, hold_free);
        rm->noted = hashmap_new(false, NULL);
        if (!rm->ops || !rm->finished || !rm->holds || !rm->noted)
                return -ENOMEM;
        if (state_dir) {
                rm->state_dir = mem_strdup(state_dir);
                rm->ops_dir = path_join(state_dir, OPRECORD_DIR);
                rm->audit_path = path_join(state_dir, AUDIT_FILE);
                if (!rm->state_dir || !rm->ops_dir || !rm->audit_path)
                        return -ENOMEM;
                r = mkdir_p(rm->ops_dir, 0700);
                if (r < 0)
                        return r;
        }
        holds_load(rm, now_usec(CLOCK_REALTIME));
        *ret = TAKE_PTR(rm);
        return 0;
}

struct remediate *remediate_free(struct remediate *rm) {
        if (!rm)
                return NULL;
        hashmap_free(rm->ops);
        hashmap_free(rm->finished);
        hashmap_free(rm->holds);
        hashmap_free(rm->noted);
        mem_free(rm->state_dir);
        mem_free(rm->ops_dir);
        mem_free(rm->audit_path);
        mem_free(rm);
        return NULL;
}

static int resume_one(struct remediate *rm, const char *name, usec_t now) {
        _cleanup_free_ char *path = path_join(rm->ops_dir, name), *text = NULL, *aside = NULL;
        _cleanup_(op_record_freep) struct op_record *rec = NULL;
        struct op *op;
        size_t len;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_file_bounded(path, OPRECORD_FILE_MAX, &text, &len);
        if (r >= 0)
                r = op_record_parse(text, len, &rec);
        if (r < 0) {
                if (set_aside_corrupt(path, now, &aside) >= 0)
                        log_error_errno(r, "Operation record %s is unreadable: %m; set aside as %s. "
                                           "Check that cluster by hand.", path, aside);
                else
                        log_error_errno(r, "Operation record %s is unreadable: %m", path);
                return 0;
        }
        if (hashmap_get(rm->ops, rec->cluster_id))
                return 0;
        rec->resumes++;
        op = op_new(rm, TAKE_PTR(rec), rm->conf->mode);
        if (!op)
                return -ENOMEM;
        /* Keep the record's name (it is the hash of the id; a renamed file would differ). */
        snprintf(op->name, sizeof op->name, "%s", name);
        (void) record_write(rm, op);
        if (op->rec->phase == OP_PHASE_SENDING)
                /* A request that was on its way when cmkd stopped has reached Azure within
                 * cmkd's own request timeout, or is taken as never sent. */
                op->unsent_after = now_usec(CLOCK_MONOTONIC) + rm->conf->request_timeout_usec;
        audit(rm, op->rec, op->mode, AUDIT_RESUMED, NULL, NULL, NULL, NULL);
        log_notice("Resuming the update of cluster %s to %s (%s when cmkd stopped).", op->rec->cluster_id,
                   op->rec->new_key_url, op_phase_to_string(op->rec->phase));
        if (op->rec->phase == OP_PHASE_ACCEPTED)
                follow(op);
        else
                /* Azure may or may not have the request: read the cluster, never resend. */
                verify_read(op);
        return 1;
}

int remediate_resume(struct remediate *rm, usec_t now) {
        DIR *d;
        struct dirent *de;
        int n = 0, r;

        if (!rm->ops_dir)
                return 0;
        d = opendir(rm->ops_dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                if (startswith(de->d_name, ".op-")) {
                        /* The temporary file of a write that a crash interrupted before its
                         * rename: the record it was to replace, if any, is whole beside it. */
                        if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                                log_debug_errno(errno, "Cannot remove %s/%s: %m", rm->ops_dir, de->d_name);
                        continue;
                }
                if (!startswith(de->d_name, "op-") || !endswith(de->d_name, ".json"))
                        continue;
                r = resume_one(rm, de->d_name, now);
                if (r < 0) {
                        closedir(d);
                        return r;
                }
                n += r;
        }
        closedir(d);
        return n;
}

static void move_result(struct action_result *dst, struct action_result *src) {
        action_result_done(dst);
        *dst = *src;
        *src = (struct action_result) {};
}

static int copy_result(struct action_result *dst, const struct action_result *src) {
        action_result_done(dst);
        *dst = (struct action_result) {
                .outcome = src->outcome,
                .refusal = src->refusal,
                .old_url = dup_or_null(src->old_url),
                .new_url = dup_or_null(src->new_url),
                .operation_id = dup_or_null(src->operation_id),
                .error = src->error,
                .error_code = dup_or_null(src->error_code),
                .error_message = dup_or_null(src->error_message),
                .attempt_started = src->attempt_started,
        };
        return 0;
}

size_t remediate_collect(struct remediate *rm, struct sweep_result *s) {
        size_t n = 0;

        for (size_t i = 0; i < s->n_clusters; i++) {
                struct action_result *a = hashmap_remove(rm->finished, s->clusters[i].obs.cluster->id);

                if (!a)
                        continue;
                move_result(&s->clusters[i].action, a);
                action_result_free(a);
                n++;
        }
        return n;
}

static void log_proposal(struct remediate *rm, const struct cluster_result *cr) {
        const struct cluster *c = cr->obs.cluster;
        _cleanup_free_ char *url = inventory_cluster_url(rm->conf, c->id);
        struct buf body;

        buf_init(&body, 64 * 1024);
        if (update_build_body(c, cr->verdict.action.target_url, rm->conf->update_method, &body) >= 0)
                log_notice("Dry run: would send %s %s %s", rm->conf->update_method == UPDATE_METHOD_PATCH ? "PATCH" : "PUT",
                           strna(url), buf_str(&body));
        buf_done(&body);
}

static void audit_once(struct remediate *rm, const struct cluster_result *cr, enum run_mode mode,
                       enum audit_result result, enum refusal refusal) {
        const struct cluster *c = cr->obs.cluster;
        struct op_record rec = {
                .cluster_id = c->id,
                .subscription = c->subscription,
                .method = rm->conf->update_method,
                .old_key_url = c->key_url,
                .new_key_url = (char *) cr->verdict.action.target_url,
        };
        const char *what = result == AUDIT_REFUSED ? refusal_to_string(refusal) : "proposed";

        if (!noted_first(rm, c->id, cr->verdict.action.target_url, what))
                return;
        audit(rm, &rec, mode, result, result == AUDIT_REFUSED ? refusal_to_string(refusal) : NULL, NULL, NULL,
              NULL);
}

int remediate_apply(struct remediate *rm, struct sweep_result *s, enum run_mode mode, usec_t now) {
        unsigned started = 0;

        for (size_t i = 0; i < s->n_clusters; i++) {
                struct cluster_result *cr = &s->clusters[i];
                const char *id = cr->obs.cluster->id;
                struct action_result *fin;
                struct hold *h;
                struct op *op;
                enum refusal refusal;
                int r;

                /* An operation that ended since the last sweep: its outcome is this
                 * sweep's news; the facts read during it may be older than its end. */
                fin = hashmap_remove(rm->finished, id);
                if (fin) {
                        move_result(&cr->action, fin);
                        action_result_free(fin);
                        continue;
                }
                op = hashmap_get(rm->ops, id);
                if (op) {
                        char opid[256];

                        action_result_done(&cr->action);
                        cr->action = (struct action_result) {
                                .outcome = OUTCOME_IN_PROGRESS,
                                .old_url = dup_or_null(op->rec->old_key_url),
                                .new_url = dup_or_null(op->rec->new_key_url),
                                .operation_id = dup_or_null(op_record_operation_id(op->rec, opid, sizeof opid)),
                                .attempt_started = op->rec->started,
                        };
                        continue;
                }
                if (!cr->verdict.action.wanted)
                        continue;

                if (cr->verdict.action.refusal != REFUSAL_NONE) {
                        cr->action = (struct action_result) {
                                .outcome = OUTCOME_REFUSED,
                                .refusal = cr->verdict.action.refusal,
                                .old_url = dup_or_null(cr->obs.cluster->key_url),
                                .new_url = mem_strdup(cr->verdict.action.target_url),
                        };
                        audit_once(rm, cr, mode, AUDIT_REFUSED, cr->verdict.action.refusal);
                        continue;
                }

                h = hashmap_get(rm->holds, id);
                if (h && streq_ptr(h->target_url, cr->verdict.action.target_url) && now < h->retry_at) {
                        /* The last attempt failed: keep saying so, do not try again yet. */
                        copy_result(&cr->action, &h->last);
                        cr->action.held = true;
                        continue;
                }

                refusal = update_gate(rm->conf, mode, false, started, now);
                if (refusal != REFUSAL_NONE) {
                        cr->action = (struct action_result) {
                                .outcome = OUTCOME_REFUSED,
                                .refusal = refusal,
                                .old_url = dup_or_null(cr->obs.cluster->key_url),
                                .new_url = mem_strdup(cr->verdict.action.target_url),
                        };
                        audit_once(rm, cr, mode, AUDIT_REFUSED, refusal);
                        continue;
                }
                if (mode == MODE_DRY_RUN) {
                        cr->action = (struct action_result) {
                                .outcome = OUTCOME_PROPOSED,
                                .old_url = dup_or_null(cr->obs.cluster->key_url),
                                .new_url = mem_strdup(cr->verdict.action.target_url),
                        };
                        log_proposal(rm, cr);
                        audit_once(rm, cr, mode, AUDIT_PROPOSED, REFUSAL_NONE);
                        continue;
                }

                r = op_start(rm, cr, mode, now, &cr->action);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        cr->action = (struct action_result) {
                                .outcome = OUTCOME_FAILED,
                                .old_url = dup_or_null(cr->obs.cluster->key_url),
                                .new_url = mem_strdup(cr->verdict.action.target_url),
                                .error = r,
                                .error_message = mem_strdup("could not start the update"),
                        };
                        continue;
                }
                started++;
        }
        return (int) started;
}

size_t remediate_in_flight(const struct remediate *rm) {
        return hashmap_size(rm->ops);
}

bool remediate_cluster_in_flight(const struct remediate *rm, const char *cluster_id) {
        return hashmap_get(rm->ops, cluster_id) != NULL;
}
