/* SPDX-License-Identifier: MIT */
#pragma once

/* The outcome of one sweep: per cluster, what was observed, the verdict and what was
 * done about it; plus fleet-level problems and request statistics. The manager owns it;
 * the inventory fills the observations, remediation fills the actions, and output.c,
 * alert.c, report.c and metrics.c only read it. Valid until the next sweep starts
 * (observations borrow from the inventory). */

#include "model.h"
#include "policy.h"

enum action_outcome {
        OUTCOME_NONE,        /* nothing wanted */
        OUTCOME_PROPOSED,    /* wanted, not sent: dry-run (the exact request is logged) */
        OUTCOME_REFUSED,     /* wanted, refused by a guard rail: see refusal */
        OUTCOME_IN_PROGRESS, /* sent; the operation is still being followed */
        OUTCOME_SUCCEEDED,   /* done and verified: the cluster carries the new URL, Succeeded, Ready */
        OUTCOME_FAILED,      /* sent and failed, or could not be verified */
        _OUTCOME_MAX,
        _OUTCOME_INVALID = -EINVAL,
};

struct action_result {
        enum action_outcome outcome;
        enum refusal refusal;  /* for OUTCOME_REFUSED */
        char *old_url;         /* owned */
        char *new_url;         /* owned */
        char *operation_id;    /* owned: last segment of the Azure-AsyncOperation URL, or NULL */
        int error;             /* negative errno for OUTCOME_FAILED; -ETIME: cmkd gave up waiting (the
                                * operation did not end within UpdateTimeoutSec=, or the cluster still
                                * read Updating after it ended): the result in Azure is unknown */
        char *error_code;      /* owned: Azure error code, or NULL */
        char *error_message;   /* owned */
        usec_t attempt_started; /* realtime start of the update attempt, which identifies it; 0 if none */
        bool held;              /* OUTCOME_FAILED: an earlier attempt's failure, repeated while the cluster
                                 * is held back after it; nothing was sent for it this sweep */
};

struct cluster_result {
        struct cluster_obs obs;    /* borrowed from the inventory */
        struct policy_conf policy; /* the policy that applied */
        struct verdict verdict;
        struct action_result action;
};

struct sweep_stats {
        unsigned requests;       /* HTTP requests sent, retries included */
        unsigned retries;
        unsigned throttled;      /* 429 answers received */
        unsigned list_pages;
        unsigned key_reads;      /* Key Vault / Managed HSM GETs */
        unsigned cached_reads;   /* facts served from the TTL cache */
        usec_t duration_usec;    /* monotonic, start to end */
};

struct sweep_result {
        usec_t started_realtime;
        usec_t finished_realtime;
        /* false: the sweep could not run (no token, no listing at all): exit code 3 and
         * one fleet-level alert, never one per cluster. */
        bool ran;
        int error;             /* why it could not run, or the first fleet-level failure */
        char *error_message;   /* owned */
        /* Scopes (subscriptions, resource groups) whose listing failed: the clusters in
         * them are unknown this sweep, not absent. strv, owned. */
        char **failed_scopes;
        unsigned n_unreadable; /* list items that did not decode, work dropped for want of memory
                                * (counted, never dropped silently) */
        struct cluster_result *clusters; /* owned array */
        size_t n_clusters;
        /* owned: the findings of every cluster, which their verdicts point into (NULL when
         * whoever made the sweep keeps them elsewhere) */
        struct finding *findings;
        /* owned: the target URLs of the verdicts that want an update, one after the other,
         * which those verdicts point into (NULL when none, or kept elsewhere) */
        char *target_urls;
        /* owned: one parsed key URL per distinct key URL string, which the verdicts point into
         * (ten thousand clusters use a few thousand URLs) */
        struct keyurl *keyurls;
        size_t n_keyurls;
        struct sweep_stats stats;
};

void action_result_done(struct action_result *a);
void sweep_result_done(struct sweep_result *s);
/* Worst severity over all clusters; SEVERITY_INFO when none. */
enum severity sweep_worst_severity(const struct sweep_result *s);
/* Monitoring-plugin exit code: 0 nothing above info, 1 warning, 2 critical, 3 did not run. */
int sweep_exit_code(const struct sweep_result *s);
/* Counts findings per code and severity into counts[_FINDING_MAX][_SEVERITY_MAX]. */
void sweep_count_findings(const struct sweep_result *s, unsigned counts[_FINDING_MAX][_SEVERITY_MAX]);

/* The key version the cluster uses: for a versioned URL the pinned version (obs.pinned, or
 * obs.key when the pin is the current version); for a versionless URL the current one.
 * NULL when unknown (not read, or no parsable key URL). */
const struct key_bundle *cluster_result_key_in_use(const struct cluster_result *cr);

const char *action_outcome_to_string(enum action_outcome o);
