/* SPDX-License-Identifier: MIT */
/* Helpers over a sweep's outcome. Pure. */

#include "mem.h"
#include "strtable.h"
#include "strv.h"
#include "sweep.h"

void action_result_done(struct action_result *a) {
        mem_free(a->old_url);
        mem_free(a->new_url);
        mem_free(a->operation_id);
        mem_free(a->error_code);
        mem_free(a->error_message);
        *a = (struct action_result) {};
}

void sweep_result_done(struct sweep_result *s) {
        for (size_t i = 0; i < s->n_clusters; i++)
                action_result_done(&s->clusters[i].action);
        mem_free(s->clusters);
        mem_free(s->error_message);
        strv_free(s->failed_scopes);
        *s = (struct sweep_result) {};
}

enum severity sweep_worst_severity(const struct sweep_result *s) {
        enum severity worst = SEVERITY_INFO;

        for (size_t i = 0; i < s->n_clusters; i++)
                worst = MAX(worst, s->clusters[i].verdict.worst);
        if (s->failed_scopes && s->failed_scopes[0])
                worst = MAX(worst, SEVERITY_WARNING);
        if (s->n_unreadable > 0)
                worst = MAX(worst, SEVERITY_WARNING);
        return worst;
}

int sweep_exit_code(const struct sweep_result *s) {
        if (!s->ran)
                return 3;
        switch (sweep_worst_severity(s)) {
        case SEVERITY_CRITICAL:
                return 2;
        case SEVERITY_WARNING:
                return 1;
        default:
                return 0;
        }
}

void sweep_count_findings(const struct sweep_result *s, unsigned counts[_FINDING_MAX][_SEVERITY_MAX]) {
        memset(counts, 0, sizeof(unsigned) * _FINDING_MAX * _SEVERITY_MAX);
        for (size_t i = 0; i < s->n_clusters; i++) {
                const struct verdict *v = &s->clusters[i].verdict;

                for (size_t j = 0; j < v->n_findings; j++)
                        counts[v->findings[j].code][v->findings[j].severity]++;
        }
}

const struct key_bundle *cluster_result_key_in_use(const struct cluster_result *cr) {
        const struct keyurl *k = &cr->verdict.keyurl;
        const struct key_bundle *current = cr->obs.key;

        if (!cr->verdict.has_keyurl)
                return NULL;
        if (!keyurl_is_versioned(k))
                return current;
        /* The pinned version is read only when it is not the current one. */
        if (cr->obs.pinned)
                return cr->obs.pinned;
        return current && current->version && streq(current->version, k->version) ? current : NULL;
}

static const char *const action_outcome_table[_OUTCOME_MAX] = {
        [OUTCOME_NONE] = "none",
        [OUTCOME_PROPOSED] = "proposed",
        [OUTCOME_REFUSED] = "refused",
        [OUTCOME_IN_PROGRESS] = "in-progress",
        [OUTCOME_SUCCEEDED] = "succeeded",
        [OUTCOME_FAILED] = "failed",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(action_outcome, enum action_outcome, action_outcome_table)
