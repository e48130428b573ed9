/* SPDX-License-Identifier: MIT */
/* The manager: owns the event loop and every long-lived object, runs the poll cycle
 * (sweep, remediation, alerts, metrics, status, reports), handles signals, sd_notify and
 * the watchdog. The only module besides main.c that reads the clock for decisions and
 * the only one that logs at info and above about the fleet. */

#include <assert.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "alertstate.h"
#include "audit.h"
#include "fileio.h"
#include "hashmap.h"
#include "inventory.h"
#include "log.h"
#include "loop.h"
#include "manager.h"
#include "mem.h"
#include "metrics.h"
#include "notify.h"
#include "output.h"
#include "remediate.h"
#include "report.h"
#include "stall.h"
#include "status.h"
#include "strv.h"
#include "timeutil.h"

/* The poll interval varies by up to this fraction, so that several cmkd never poll in
 * step (and ARM sees no bursts at round times). */
#define POLL_JITTER 0.1

/* GETs of the inventory out in azure.c at most, per request that may be in flight
 * ([Network] MaxConcurrentRequests=). A sweep asks for every key, version, rotation policy and
 * identity of the fleet as the list pages come in, thousands at once; each call out holds a
 * few KiB (its azure.c call, its queued HTTP request with a copy of the token), so the others
 * wait here as a small record. Eight per slot keep enough queued below for http.c to hand a
 * freed connection the next request for its host. List pages never wait: a list is a chain
 * of requests the rest of the sweep waits for. */
#define FETCH_WINDOW_PER_SLOT 16U

/* The waiting calls of one host, oldest first. */
struct fetch_host {
        struct fetch_call *head, *tail; /* borrowed: owned by the manager's queue */
        char name[];
};

/* One GET of the inventory: waiting in m->fetch_queue, then on its way through azure.c. */
struct fetch_call {
        struct manager *m;
        fetch_done_fn done;
        void *userdata;
        struct fetch_call *prev, *next; /* in m->fetch_calls (started) or m->fetch_queue (waiting) */
        struct fetch_host *host;        /* while waiting: borrowed from m->fetch_hosts */
        struct fetch_call *host_next;   /* in host's queue */
        enum fetch_audience audience;
        enum fetch_kind kind;
        char url[]; /* the URL, in the same allocation */
};

struct manager {
        struct manager_options opts;
        struct ev_loop *loop;        /* the default loop (signals need it); destroyed with the manager */
        struct conf *conf;           /* owned */
        struct conf *pending_conf;   /* owned: a reloaded config waiting for a quiet moment */
        enum run_mode mode;
        bool stateless;              /* no state directory (read-only --once) */

        struct http *http;           /* owned */
        struct auth *auth;           /* owned */
        struct azure *azure;         /* owned */
        struct fetcher fetcher;
        struct fetch_call *fetch_calls; /* owned list: calls started, not answered yet */
        unsigned n_fetch_calls;
        /* owned FIFO: calls waiting for room in the window (FETCH_WINDOW_PER_SLOT) */
        struct fetch_call *fetch_queue_head, *fetch_queue_tail;
        /* owned: host -> struct fetch_host, owned, while it has waiting calls */
        struct hashmap *fetch_hosts;
        struct inventory *inventory; /* owned */
        struct remediate *remediate; /* owned */

        struct sweep_result last;    /* owned: the last sweep, valid until the next one starts */
        bool have_last;
        bool sweeping;
        bool report_due;
        bool stopping;
        usec_t sweep_started_mono;
        usec_t next_sweep_realtime;
        struct azure_stats stats_at_start;
        struct alertstate *alerts;   /* owned */
        struct metrics_counters counters;
        int exit_code;

        struct stall_monitor stall;  /* how long callbacks keep the loop from polling */

        ev_timer sweep_timer;
        ev_timer watchdog_timer;
        /* Applies pending_conf from the loop: a sweep or an update ends inside a callback of the
         * engine that the reload tears down (azure.c frees the call after it returns). */
        ev_timer reload_timer;
        ev_periodic report_periodic;
        ev_signal sig_term, sig_int, sig_hup;
};

static void sweep_start(struct manager *m);

/* ---- the inventory's network: azure.c ------------------------------------------------ */

static void fetch_call_unlink(struct manager *m, struct fetch_call *fc) {
        if (fc->prev)
                fc->prev->next = fc->next;
        else
                m->fetch_calls = fc->next;
        if (fc->next)
                fc->next->prev = fc->prev;
        m->n_fetch_calls--;
}

static unsigned fetch_window(const struct manager *m) {
        return MAX(m->conf->max_concurrent_requests, 1U) * FETCH_WINDOW_PER_SLOT;
}

static void fetch_pump(struct manager *m, const char *freed_host);

static void on_fetch_done(struct azure_call *call, struct azure_result *res, void *userdata) {
        struct fetch_call *fc = userdata;
        struct manager *m = fc->m;
        struct fetch_result r = {
                .error = res->error,
                .http_status = res->status,
                .body = res->body.data ?: "",
                .body_len = res->body.len,
                .error_code = res->error_code,
                .error_message = res->error_message,
        };

        char host[HTTP_HOST_MAX];

        if (http_url_host(fc->url, host, sizeof host) < 0)
                host[0] = 0;
        fetch_call_unlink(m, fc);
        fc->done(&r, fc->userdata);
        mem_free(fc);
        fetch_pump(m, host);
}

static int fetch_call_start(struct manager *m, struct fetch_call *fc) {
        static const enum azure_audience audiences[_FETCH_AUDIENCE_MAX] = {
                [FETCH_ARM] = AZURE_AUDIENCE_ARM,
                [FETCH_VAULT] = AZURE_AUDIENCE_VAULT,
                [FETCH_HSM] = AZURE_AUDIENCE_HSM,
        };
        static const enum azure_kind kinds[_FETCH_KIND_MAX] = {
                [FETCH_LIST_PAGE] = AZURE_KIND_ARM_LIST,
                [FETCH_RESOURCE] = AZURE_KIND_ARM_RESOURCE,
                [FETCH_KEY] = AZURE_KIND_KEY_VAULT,
        };
        struct azure_request rq = {
                .method = HTTP_GET,
                .audience = audiences[fc->audience],
                .kind = kinds[fc->kind],
                .url = fc->url,
        };
        int r;

        r = azure_call_start(m->azure, &rq, on_fetch_done, fc, NULL);
        if (r < 0)
                return r;
        fc->prev = NULL;
        fc->next = m->fetch_calls;
        if (m->fetch_calls)
                m->fetch_calls->prev = fc;
        m->fetch_calls = fc;
        m->n_fetch_calls++;
        return 0;
}

/* Starts waiting calls, oldest first, while the window has room. Called from the loop only
 * (an answer came), so a call that cannot start is answered as failed here, as the fetcher
 * promises: never from inside fetch_get(). */
static void fetch_dequeue(struct manager *m, struct fetch_call *fc) {
        struct fetch_host *fh = fc->host;

        if (fc->prev)
                fc->prev->next = fc->next;
        else
                m->fetch_queue_head = fc->next;
        if (fc->next)
                fc->next->prev = fc->prev;
        else
                m->fetch_queue_tail = fc->prev;
        /* The oldest waiting call of all is also the oldest of its host. */
        assert(fh->head == fc);
        fh->head = fc->host_next;
        if (!fh->head)
                mem_free(hashmap_remove(m->fetch_hosts, fh->name));
        fc->host = NULL;
        fc->prev = fc->next = fc->host_next = NULL;
}

static void fetch_pump(struct manager *m, const char *freed_host) {
        struct fetch_host *fh = freed_host ? hashmap_get(m->fetch_hosts, freed_host) : NULL;

        while (m->fetch_queue_head && m->n_fetch_calls < fetch_window(m)) {
                struct fetch_call *fc = fh && fh->head ? fh->head : m->fetch_queue_head;
                int r;

                fh = NULL;
                fetch_dequeue(m, fc);
                r = fetch_call_start(m, fc);
                if (r < 0) {
                        struct fetch_result fail = { .error = r };

                        fc->done(&fail, fc->userdata);
                        mem_free(fc);
                }
        }
}

static int fetch_get(void *ctx, enum fetch_audience audience, enum fetch_kind kind, const char *url,
                     fetch_done_fn done, void *userdata) {
        struct manager *m = ctx;
        struct fetch_call *fc;
        size_t n;
        int r;

        if (!url)
                return -EINVAL;
        n = strlen(url);
        fc = mem_malloc(offsetof(struct fetch_call, url) + n + 1);
        if (!fc)
                return -ENOMEM;
        *fc = (struct fetch_call) {
                .m = m, .done = done, .userdata = userdata, .audience = audience, .kind = kind
        };
        memcpy(fc->url, url, n + 1);
        /* Nothing overtakes a waiting call but a list page. */
        if (kind == FETCH_LIST_PAGE || (!m->fetch_queue_head && m->n_fetch_calls < fetch_window(m))) {
                r = fetch_call_start(m, fc);
                if (r < 0) {
                        mem_free(fc);
                        return r;
                }
                return 0;
        }
        {
                char host[HTTP_HOST_MAX];
                struct fetch_host *fh;

                if (http_url_host(url, host, sizeof host) < 0)
                        host[0] = 0;
                fh = hashmap_get(m->fetch_hosts, host);
                if (!fh) {
                        size_t hl = strlen(host);

                        fh = mem_malloc(sizeof(struct fetch_host) + hl + 1);
                        if (!fh) {
                                mem_free(fc);
                                return -ENOMEM;
                        }
                        *fh = (struct fetch_host) {};
                        memcpy(fh->name, host, hl + 1);
                        r = hashmap_put(m->fetch_hosts, host, fh);
                        if (r < 0) {
                                mem_free(fh);
                                mem_free(fc);
                                return r;
                        }
                }
                fc->host = fh;
                if (fh->tail)
                        fh->tail->host_next = fc;
                else
                        fh->head = fc;
                fh->tail = fc;
        }
        fc->prev = m->fetch_queue_tail;
        if (m->fetch_queue_tail)
                m->fetch_queue_tail->next = fc;
        else
                m->fetch_queue_head = fc;
        m->fetch_queue_tail = fc;
        return 0;
}

/* ---- setting up and tearing down what depends on the config ---------------------------- */

static void on_update_done(struct remediate *rm, const char *cluster_id, enum action_outcome outcome,
                           int error, void *userdata);

static void engine_teardown(struct manager *m) {
        m->remediate = remediate_free(m->remediate);
        m->inventory = inventory_free(m->inventory);
        /* Ends every call without a callback: the fetch calls are ours to free. */
        m->azure = azure_free(m->azure);
        while (m->fetch_calls) {
                struct fetch_call *fc = m->fetch_calls;

                m->fetch_calls = fc->next;
                mem_free(fc);
        }
        m->n_fetch_calls = 0;
        while (m->fetch_queue_head) {
                struct fetch_call *fc = m->fetch_queue_head;

                m->fetch_queue_head = fc->next;
                mem_free(fc);
        }
        m->fetch_queue_tail = NULL;
        m->fetch_hosts = hashmap_free(m->fetch_hosts);
        m->auth = auth_free(m->auth);
        m->http = http_free(m->http);
}

static int engine_setup(struct manager *m) {
        const struct conf *c = m->conf;
        struct http_conf hc = {
                .ca_file = c->ca_file,
                .connect_to = c->connect_to,
                .max_concurrent = c->max_concurrent_requests,
                .timeout_usec = c->request_timeout_usec,
        };
        struct auth_conf ac = {
                .method = c->auth,
                .cloud = &c->cloud,
                .tenant_id = c->tenant_id,
                .client_id = c->client_id,
                .client_secret_file = c->client_secret_file,
                .federated_token_file = c->federated_token_file,
                .max_retries = c->max_retries,
                .timeout_usec = c->request_timeout_usec,
        };
        struct azure_conf zc = {
                .cloud = &c->cloud,
                .tenant_id = c->tenant_id,
                .max_retries = c->max_retries,
        };
        int r;

        r = http_new(m->loop, &hc, &m->http);
        if (r < 0)
                return log_error_errno(r, "Failed to set up HTTPS: %m");
        r = auth_new(m->loop, m->http, &ac, &m->auth);
        if (r < 0)
                return log_error_errno(r, "Failed to set up authentication (%s): %m", auth_method_to_string(c->auth));
        r = azure_new(m->loop, m->http, m->auth, &zc, &m->azure);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the Azure client: %m");
        m->fetch_hosts = hashmap_new(false, mem_free);
        if (!m->fetch_hosts)
                return log_oom();
        m->fetcher = (struct fetcher) { .get = fetch_get, .ctx = m };
        r = inventory_new(c, &m->fetcher, &m->inventory);
        if (r < 0)
                return log_oom();

        r = remediate_new(m->loop, m->azure, c, m->stateless ? NULL : c->state_directory, on_update_done, m,
                          &m->remediate);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the state directory %s: %m", c->state_directory);
        alert_set_arm_endpoint(c->cloud.arm_endpoint);
        return 0;
}

/* ---- alerts, metrics, status, reports ----------------------------------------------------- */

static void process_alerts(struct manager *m, usec_t now) {
        _cleanup_(alertstate_freep) struct alertstate *next = NULL;
        _cleanup_(alert_events_freep) struct alert_events *events = NULL;
        struct alertstate_conf ac = { .repeat_interval_usec = m->conf->repeat_interval_usec };
        int r;

        r = alertstate_update(m->alerts, &m->last, now, &ac, &next, &events);
        if (r < 0) {
                log_oom();
                return;
        }
        r = alert_emit_events(events, now);
        if (r < 0)
                log_warning_errno(r, "Failed to send alerts to the journal: %m");
        alertstate_free(m->alerts);
        m->alerts = TAKE_PTR(next);
        if (!m->stateless) {
                r = alertstate_save(m->alerts, m->conf->state_directory);
                if (r < 0)
                        log_warning_errno(r, "Failed to save the alert state in %s: %m; a restart may alert again.",
                                          m->conf->state_directory);
        }
}

static void update_status(struct manager *m) {
        char line[STATUS_MAX];

        status_format(m->have_last ? &m->last : NULL, m->sweeping, now_usec(CLOCK_REALTIME), m->next_sweep_realtime, line,
                      sizeof line);
        (void) notify_status(line);
}

static void write_report(struct manager *m) {
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_free_ char *audit_path = NULL;
        usec_t now = now_usec(CLOCK_REALTIME);
        int r;

        if (!m->stateless)
                audit_path = path_join(m->conf->state_directory, AUDIT_FILE);
        r = report_run(m->conf->report_directory, audit_path, &m->last, run_mode_to_string(m->mode),
                       m->conf->report_keep, now, &files);
        if (r < 0) {
                log_error_errno(r, "Failed to write the compliance report into %s: %m", m->conf->report_directory);
                m->exit_code = 1;
                return;
        }
        log_info("Compliance report written to %s.", m->conf->report_directory);
        r = alert_emit_report_written(m->conf->report_directory, files, &m->last, now);
        if (r < 0)
                log_debug_errno(r, "Failed to send the report notice to the journal: %m");
}

/* ---- the sweep ---------------------------------------------------------------------------- */

static void schedule_next_sweep(struct manager *m) {
        double interval = (double) m->conf->poll_interval_usec / USEC_PER_SEC;

        interval *= 1.0 - POLL_JITTER + 2.0 * POLL_JITTER * drand48();
        m->next_sweep_realtime = now_usec(CLOCK_REALTIME) + (usec_t) (interval * USEC_PER_SEC);
        ev_timer_set(&m->sweep_timer, interval, 0.);
        ev_timer_start(m->loop, &m->sweep_timer);
}

static void apply_pending_conf_now(struct manager *m) {
        int r;

        if (!m->pending_conf || m->sweeping || (m->remediate && remediate_in_flight(m->remediate) > 0))
                return;
        engine_teardown(m);
        conf_free(m->conf);
        m->conf = TAKE_PTR(m->pending_conf);
        m->mode = m->opts.dry_run ? MODE_DRY_RUN : m->conf->mode;
        if (m->opts.log_level < 0)
                log_set_max_level(m->conf->log_level);
        r = engine_setup(m);
        if (r < 0) {
                /* The config was valid; setting it up failed (memory, state directory).
                 * Nothing can run without the engine: stop, systemd restarts us. */
                log_error("Cannot run with the reloaded configuration, stopping.");
                m->exit_code = 1;
                ev_break(m->loop, EVBREAK_ALL);
                return;
        }
        log_info("Reloaded configuration from %s.", m->opts.config_path);
}

static void on_reload_timer(struct ev_loop *loop, ev_timer *w, int revents) {
        apply_pending_conf_now(w->data);
}

/* Never tears the engine down from here: callers may be inside its callbacks. */
static void apply_pending_conf(struct manager *m) {
        if (!m->pending_conf || ev_is_active(&m->reload_timer))
                return;
        ev_timer_set(&m->reload_timer, 0., 0.);
        ev_timer_start(m->loop, &m->reload_timer);
}

static int write_stdout(const char *data, size_t len, void *userdata) {
        return fwrite(data, 1, len, stdout) == len ? 0 : -EIO;
}

static void finish_once(struct manager *m) {
        int r;

        remediate_collect(m->remediate, &m->last);
        /* Updates are events: announce them, without touching the daemon's alert state. */
        {
                _cleanup_(alertstate_freep) struct alertstate *next = NULL;
                _cleanup_(alert_events_freep) struct alert_events *events = NULL;
                struct alertstate_conf ac = { .repeat_interval_usec = USEC_INFINITY, .updates_only = true };

                if (alertstate_update(NULL, &m->last, now_usec(CLOCK_REALTIME), &ac, &next, &events) >= 0)
                        for (size_t i = 0; i < events->n_events; i++) {
                                enum alert_kind k = events->events[i].entry.kind;

                                if (k == ALERT_UPDATE_STARTED || k == ALERT_UPDATE_SUCCEEDED || k == ALERT_UPDATE_FAILED)
                                        (void) alert_emit_event(&events->events[i], now_usec(CLOCK_REALTIME));
                        }
        }

        /* Streamed: the JSON of a fleet is about 1 KiB per cluster. */
        if (m->opts.json)
                r = output_json_stream(&m->last, now_usec(CLOCK_REALTIME), 0, write_stdout, NULL);
        else
                r = output_table_stream(&m->last, now_usec(CLOCK_REALTIME), 0, write_stdout, NULL);
        if (r < 0)
                log_error_errno(r, "Failed to print the result: %m");
        fflush(stdout);

        m->exit_code = r < 0 ? 3 : sweep_exit_code(&m->last);
        for (size_t i = 0; m->exit_code < 1 && i < m->last.n_clusters; i++)
                if (m->last.clusters[i].action.outcome == OUTCOME_FAILED)
                        m->exit_code = 1;
        ev_break(m->loop, EVBREAK_ALL);
}

static void on_update_done(struct remediate *rm, const char *cluster_id, enum action_outcome outcome,
                           int error, void *userdata) {
        struct manager *m = userdata;
        usec_t now = now_usec(CLOCK_REALTIME);

        /* Counted here, once per attempt, whenever and wherever its result is reported. */
        metrics_count_update(&m->counters, outcome, error);
        if (m->opts.mode == MANAGER_ONCE) {
                if (!m->sweeping && remediate_in_flight(rm) == 0)
                        finish_once(m);
                return;
        }
        /* During a sweep the outcome waits for that sweep's results. */
        if (m->sweeping || !m->have_last)
                return;
        for (size_t i = 0; i < m->last.n_clusters; i++)
                if (strcasecmp(m->last.clusters[i].obs.cluster->id, cluster_id) == 0) {
                        remediate_collect(rm, &m->last);
                        process_alerts(m, now);
                        break;
                }
        apply_pending_conf(m);
}

static void sweep_finished(struct manager *m) {
        usec_t now = now_usec(CLOCK_REALTIME);
        struct azure_stats st;
        int r;

        m->sweeping = false;
        /* The sweep's list pages and requests are gone; its results come next. */
        mem_trim();
        r = inventory_evaluate(m->inventory, now, &m->last);
        if (r < 0) {
                log_oom();
                m->last = (struct sweep_result) { .ran = false, .error = r };
        }
        m->have_last = true;
        azure_get_stats(m->azure, &st);
        m->last.stats.requests = (unsigned) (st.attempts - m->stats_at_start.attempts);
        m->last.stats.retries = (unsigned) (st.retries - m->stats_at_start.retries);
        m->last.stats.throttled = (unsigned) (st.throttled - m->stats_at_start.throttled);
        m->last.stats.duration_usec = now_usec(CLOCK_MONOTONIC) - m->sweep_started_mono;

        if (!m->last.ran)
                log_error("Sweep failed: %s", strna(m->last.error_message));
        else if (m->opts.mode != MANAGER_REPORT) {
                r = remediate_apply(m->remediate, &m->last, m->mode, now);
                if (r < 0)
                        log_error_errno(r, "Failed to decide the updates of this sweep: %m");
        }
        if (m->last.ran) {
                unsigned counts[_SEVERITY_MAX] = {};

                for (size_t i = 0; i < m->last.n_clusters; i++)
                        if (m->last.clusters[i].verdict.n_findings > 0)
                                counts[m->last.clusters[i].verdict.worst]++;
                log_info("Sweep done in %.1fs: %zu clusters, %u critical, %u warning, %u requests, %u throttled.",
                         (double) m->last.stats.duration_usec / USEC_PER_SEC, m->last.n_clusters,
                         counts[SEVERITY_CRITICAL], counts[SEVERITY_WARNING], m->last.stats.requests,
                         m->last.stats.throttled);
        }

        switch (m->opts.mode) {
        case MANAGER_ONCE:
                if (remediate_in_flight(m->remediate) == 0)
                        finish_once(m);
                return;
        case MANAGER_REPORT:
                write_report(m);
                if (!m->last.ran)
                        m->exit_code = 1;
                ev_break(m->loop, EVBREAK_ALL);
                return;
        case MANAGER_DAEMON:
                break;
        }

        process_alerts(m, now);
        metrics_account(&m->counters, &m->last);
        m->counters.loop_stall_max_usec = stall_monitor_max_usec(&m->stall);
        if (m->conf->metrics_file) {
                r = metrics_write(m->conf->metrics_file, &m->last, &m->counters);
                if (r < 0)
                        log_warning_errno(r, "Failed to write metrics to %s: %m", m->conf->metrics_file);
        }
        if (m->report_due) {
                m->report_due = false;
                write_report(m);
        }
        apply_pending_conf(m);
        schedule_next_sweep(m);
        update_status(m);
}

static void on_inventory_done(struct inventory *inv, void *userdata) {
        sweep_finished(userdata);
}

static void sweep_start(struct manager *m) {
        int r;

        if (m->sweeping || m->stopping)
                return;
        /* The last sweep's observations point into the inventory, which the new sweep
         * resets: drop them first. */
        sweep_result_done(&m->last);
        m->have_last = false;
        m->sweeping = true;
        m->sweep_started_mono = now_usec(CLOCK_MONOTONIC);
        azure_get_stats(m->azure, &m->stats_at_start);
        update_status(m);
        log_debug("Sweep started.");
        r = inventory_sweep_start(m->inventory, now_usec(CLOCK_REALTIME), on_inventory_done, m);
        if (r < 0) {
                m->sweeping = false;
                log_error_errno(r, "Failed to start a sweep: %m");
                if (m->opts.mode == MANAGER_DAEMON)
                        schedule_next_sweep(m);
                else {
                        m->exit_code = 3;
                        ev_break(m->loop, EVBREAK_ALL);
                }
        }
}

/* ---- event handlers ------------------------------------------------------------------------ */

static void on_sweep_timer(struct ev_loop *loop, ev_timer *w, int revents) {
        sweep_start(w->data);
}

static void on_watchdog_timer(struct ev_loop *loop, ev_timer *w, int revents) {
        (void) notify_watchdog();
}

static usec_t monotonic_now(void) {
        return now_usec(CLOCK_MONOTONIC);
}

/* Nothing may block the loop (STYLE.md): a stall delays timers, requests, signals and the
 * watchdog alike. Say so, with its length; the longest goes to the metrics. */
static void on_stall(struct stall_monitor *s, usec_t usec, void *userdata) {
        log_warning("The event loop was blocked for %.3fs (longer than %.3fs): timers, requests and the watchdog "
                    "waited.",
                    (double) usec / USEC_PER_SEC, (double) s->conf.threshold_usec / USEC_PER_SEC);
}

static double on_report_reschedule(ev_periodic *w, double now) {
        struct manager *m = w->data;
        usec_t next = report_schedule_next(&m->conf->report_schedule, (usec_t) (now * USEC_PER_SEC));

        /* libev wants a time in the future; "never" is a year from now, re-evaluated then. */
        if (next == USEC_INFINITY)
                return now + 365.0 * 86400.0;
        return MAX((double) next / USEC_PER_SEC, now + 1.0);
}

static void on_report_periodic(struct ev_loop *loop, ev_periodic *w, int revents) {
        struct manager *m = w->data;

        if (m->conf->report_schedule.kind == SCHEDULE_OFF)
                return;
        if (m->sweeping || !m->have_last) {
                m->report_due = true;
                return;
        }
        write_report(m);
}

static void on_stop(struct ev_loop *loop, ev_signal *w, int revents) {
        struct manager *m = w->data;

        if (m->stopping)
                return;
        m->stopping = true;
        (void) notify_stopping();
        if (m->opts.mode == MANAGER_DAEMON) {
                size_t n = m->remediate ? remediate_in_flight(m->remediate) : 0;

                if (n > 0)
                        log_notice("Stopping: %zu update(s) in progress are recorded and will be followed after the "
                                   "next start.", n);
                (void) alert_emit_daemon(ALERT_DAEMON_STOPPED, run_mode_to_string(m->mode),
                                         w->signum == SIGINT ? "SIGINT" : "SIGTERM");
                m->exit_code = 0;
        } else
                m->exit_code = 3;
        ev_break(loop, EVBREAK_ALL);
}

static void log_conf_errors(char **errors, int r, const char *path) {
        STRV_FOREACH(e, errors)
                log_error("%s", *e);
        if (strv_length(errors) == 0)
                log_error_errno(r, "Failed to load %s: %m", path);
}

static void on_reload(struct ev_loop *loop, ev_signal *w, int revents) {
        struct manager *m = w->data;
        _cleanup_strv_free_ char **errors = NULL;
        struct conf *c = NULL;
        int r;

        (void) notify_reloading(now_usec(CLOCK_MONOTONIC));
        r = conf_load(m->opts.config_path, &c, &errors);
        if (r < 0) {
                log_conf_errors(errors, r, m->opts.config_path);
                log_error("Reload of %s rejected; keeping the configuration in use.", m->opts.config_path);
        } else {
                conf_free(m->pending_conf);
                m->pending_conf = c;
                if (m->sweeping || remediate_in_flight(m->remediate) > 0)
                        log_info("Configuration %s accepted; it takes effect when the current work ends.",
                                 m->opts.config_path);
                apply_pending_conf(m);
        }
        (void) notify_ready();
        update_status(m);
}

/* ---- public --------------------------------------------------------------------------------- */

static bool state_dir_usable(const char *dir) {
        if (mkdir_p(dir, 0700) < 0)
                return false;
        return access(dir, W_OK | X_OK) == 0;
}

int manager_new(const struct manager_options *opts, struct manager **ret) {
        _cleanup_(manager_freep) struct manager *m = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        int r;

        m = new0(struct manager, 1);
        if (!m)
                return log_oom();
        m->opts = *opts;
        r = conf_load(opts->config_path, &m->conf, &errors);
        if (r < 0) {
                log_conf_errors(errors, r, opts->config_path);
                return -EINVAL;
        }
        if (opts->log_level < 0)
                log_set_max_level(m->conf->log_level);
        m->mode = opts->dry_run ? MODE_DRY_RUN : m->conf->mode;

        if (!state_dir_usable(m->conf->state_directory)) {
                /* A monitoring user running `cmkd --once` may not reach the daemon's state:
                 * fine for looking, not for changing anything. */
                if (opts->mode == MANAGER_DAEMON || (opts->mode == MANAGER_ONCE && m->mode == MODE_ENFORCE)) {
                        log_error("State directory %s is not writable: cmkd needs it to record updates before "
                                  "it sends them. Use --dry-run to look without changing anything.",
                                  m->conf->state_directory);
                        return -EACCES;
                }
                log_notice("State directory %s is not writable; running without it (no audit log).",
                           m->conf->state_directory);
                m->stateless = true;
        }

        m->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
        if (!m->loop)
                return log_error_errno(ENOMEM, "Failed to set up the event loop.");
        /* libev aborts when it cannot allocate: let it take what it needs now. */
        r = loop_reserve(m->loop, NULL);
        if (r < 0)
                return log_oom();
        srand48((long) (now_usec(CLOCK_REALTIME) ^ (usec_t) getpid()));

        r = engine_setup(m);
        if (r < 0)
                return r;

        ev_timer_init(&m->sweep_timer, on_sweep_timer, 0., 0.);
        m->sweep_timer.data = m;
        ev_timer_init(&m->watchdog_timer, on_watchdog_timer, 0., 0.);
        ev_timer_init(&m->reload_timer, on_reload_timer, 0., 0.);
        m->reload_timer.data = m;
        m->watchdog_timer.data = m;
        ev_periodic_init(&m->report_periodic, on_report_periodic, 0., 0., on_report_reschedule);
        m->report_periodic.data = m;
        ev_signal_init(&m->sig_term, on_stop, SIGTERM);
        m->sig_term.data = m;
        ev_signal_init(&m->sig_int, on_stop, SIGINT);
        m->sig_int.data = m;
        ev_signal_init(&m->sig_hup, on_reload, SIGHUP);
        m->sig_hup.data = m;

        if (opts->mode == MANAGER_DAEMON && !m->stateless) {
                _cleanup_free_ char *aside = NULL;

                r = alertstate_load(m->conf->state_directory, now_usec(CLOCK_REALTIME), &m->alerts, &aside);
                if (r == 1)
                        log_error("The alert state was unreadable and is set aside as %s; alerts start afresh.", aside);
                else if (r < 0) {
                        log_warning_errno(r, "Failed to load the alert state from %s: %m; starting afresh.",
                                          m->conf->state_directory);
                        m->alerts = alertstate_new();
                        if (!m->alerts)
                                return log_oom();
                }
        }

        *ret = TAKE_PTR(m);
        return 0;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        if (m->loop) {
                stall_monitor_stop(&m->stall);
                ev_timer_stop(m->loop, &m->sweep_timer);
                ev_timer_stop(m->loop, &m->watchdog_timer);
                ev_timer_stop(m->loop, &m->reload_timer);
                ev_periodic_stop(m->loop, &m->report_periodic);
                ev_signal_stop(m->loop, &m->sig_term);
                ev_signal_stop(m->loop, &m->sig_int);
                ev_signal_stop(m->loop, &m->sig_hup);
        }
        sweep_result_done(&m->last);
        engine_teardown(m);
        alertstate_free(m->alerts);
        conf_free(m->conf);
        conf_free(m->pending_conf);
        /* After everything that has watchers on it: its epoll, eventfd and timerfd descriptors
         * would stay open otherwise (valgrind --track-fds, tests/integration/test_valgrind.py). */
        if (m->loop)
                ev_loop_destroy(m->loop);
        mem_free(m);
        return NULL;
}

int manager_run(struct manager *m) {
        usec_t wd;
        int r;

        ev_signal_start(m->loop, &m->sig_term);
        ev_signal_start(m->loop, &m->sig_int);
        m->exit_code = 0;

        if (m->opts.mode == MANAGER_DAEMON) {
                ev_signal_start(m->loop, &m->sig_hup);
                if (notify_watchdog_usec(&wd) > 0) {
                        double interval = (double) notify_watchdog_interval(wd) / USEC_PER_SEC;

                        ev_timer_set(&m->watchdog_timer, interval, interval);
                        ev_timer_start(m->loop, &m->watchdog_timer);
                }
                ev_periodic_start(m->loop, &m->report_periodic);
                r = remediate_resume(m->remediate, now_usec(CLOCK_REALTIME));
                if (r < 0)
                        log_error_errno(r, "Failed to resume recorded updates: %m");
                (void) alert_emit_daemon(ALERT_DAEMON_STARTED, run_mode_to_string(m->mode), NULL);
                log_info("cmkd %s started (mode %s), polling every %s.", CMKD_VERSION, run_mode_to_string(m->mode),
                         timespan_format((char[TIMESPAN_MAX]) {}, TIMESPAN_MAX, m->conf->poll_interval_usec,
                                         USEC_PER_SEC));
                /* Ready once the config is loaded, before any Azure request: an Azure
                 * outage must never fail the start. */
                (void) notify_ready();
        } else if (m->opts.mode == MANAGER_ONCE) {
                /* Operations a crashed daemon left behind are followed, not duplicated. */
                r = remediate_resume(m->remediate, now_usec(CLOCK_REALTIME));
                if (r < 0)
                        log_error_errno(r, "Failed to resume recorded updates: %m");
        }

        r = stall_monitor_start(&m->stall, m->loop,
                                &(struct stall_conf) { .clock = monotonic_now, .on_stall = on_stall, .userdata = m });
        if (r < 0)
                log_debug_errno(r, "Failed to start the loop-stall monitor: %m");
        ev_timer_set(&m->sweep_timer, 0., 0.);
        ev_timer_start(m->loop, &m->sweep_timer);
        ev_run(m->loop, 0);
        return m->exit_code;
}
