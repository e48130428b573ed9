/* SPDX-License-Identifier: MIT */
/* Builds the update request and judges its result. Pure: the time and every fact are
 * arguments. */

#include "calendar.h"
#include "strtable.h"
#include "update.h"

static int put_encryption(struct buf *b, const struct cluster *c, const char *new_key_url) {
        int r;

        r = buf_puts(b, "\"properties\":{\"encryption\":{\"customerManagedKeyEncryption\":{"
                        "\"keyEncryptionKeyIdentity\":{\"identityType\":\"UserAssignedIdentity\","
                        "\"userAssignedIdentityResourceId\":");
        if (r >= 0)
                r = buf_put_json_string(b, c->kek_identity_id);
        if (r >= 0)
                r = buf_puts(b, "},\"keyEncryptionKeyUrl\":");
        if (r >= 0)
                r = buf_put_json_string(b, new_key_url);
        if (r >= 0)
                r = buf_puts(b, "}}}");
        return r;
}

int update_build_body(const struct cluster *c, const char *new_key_url, enum update_method method, struct buf *out) {
        size_t saved = out->len;
        int r;

        if (isempty(c->kek_identity_id) || isempty(new_key_url))
                return -EINVAL;
        if (method == UPDATE_METHOD_PUT && isempty(c->location))
                return -EINVAL;

        /* Only the encryption identity: the docs say every identity passed is added to the
         * cluster, even if the update then fails (cmk-rules.md U3). */
        r = buf_puts(out, "{\"identity\":{\"type\":\"UserAssigned\",\"userAssignedIdentities\":{");
        if (r >= 0)
                r = buf_put_json_string(out, c->kek_identity_id);
        if (r >= 0)
                r = buf_puts(out, ":{}}},");
        if (r >= 0 && method == UPDATE_METHOD_PUT) {
                r = buf_puts(out, "\"location\":");
                if (r >= 0)
                        r = buf_put_json_string(out, c->location);
                if (r >= 0)
                        r = buf_putc(out, ',');
        }
        if (r >= 0)
                r = put_encryption(out, c, new_key_url);
        if (r >= 0)
                r = buf_putc(out, '}');
        if (r < 0) {
                out->len = saved;
                if (out->data)
                        out->data[saved] = 0;
        }
        return r;
}

enum refusal update_gate(const struct conf *c, enum run_mode mode, bool in_flight, unsigned started_this_sweep,
                         usec_t now) {
        if (in_flight)
                return REFUSAL_IN_FLIGHT;
        if (mode == MODE_ALERT_ONLY)
                return REFUSAL_MODE;
        if (!change_windows_open(c->change_windows, c->n_change_windows, now))
                return REFUSAL_OUTSIDE_WINDOW;
        /* A dry run proposes every update: the budget limits what is sent. */
        if (mode != MODE_DRY_RUN && started_this_sweep >= c->max_updates_per_sweep)
                return REFUSAL_BUDGET;
        return REFUSAL_NONE;
}

bool update_key_urls_equal(const char *a, const char *b) {
        struct keyurl ka, kb;

        if (!a || !b)
                return false;
        if (keyurl_parse(a, &ka) < 0 || keyurl_parse(b, &kb) < 0)
                return strcasecmp(a, b) == 0;
        /* Key Vault names and versions are case-insensitive. */
        return streq(ka.host, kb.host) && strcasecmp(ka.name, kb.name) == 0 && strcasecmp(ka.version, kb.version) == 0;
}

static bool state_is(const char *s, const char *want) {
        return s && strcasecmp(s, want) == 0;
}

static bool operation_under_way(const struct cluster *c) {
        return state_is(c->provisioning_state, "Updating") || state_is(c->provisioning_state, "InProgress") ||
               state_is(c->cluster_status, "Updating");
}

bool update_not_applied(const struct cluster *after, const char *old_key_url) {
        return old_key_url && !operation_under_way(after) && update_key_urls_equal(after->key_url, old_key_url);
}

enum update_check update_verify(const struct cluster *after, const char *new_key_url, const char *identity_id) {
        const char *ps = after->provisioning_state;

        if (operation_under_way(after))
                return UPDATE_CHECK_PENDING;
        if (!update_key_urls_equal(after->key_url, new_key_url))
                return UPDATE_CHECK_WRONG_KEY;
        if (!cluster_find_assigned(after, identity_id) ||
            !strcaseeq_ptr(after->kek_identity_id, identity_id))
                return UPDATE_CHECK_IDENTITY_LOST;
        if (!state_is(ps, "Succeeded") || !cluster_status_is_ready(after->cluster_status))
                return UPDATE_CHECK_NOT_READY;
        return UPDATE_CHECK_OK;
}

static const char *const update_check_table[_UPDATE_CHECK_MAX] = {
        [UPDATE_CHECK_OK] = "ok",
        [UPDATE_CHECK_PENDING] = "pending",
        [UPDATE_CHECK_WRONG_KEY] = "wrong-key",
        [UPDATE_CHECK_NOT_READY] = "not-ready",
        [UPDATE_CHECK_IDENTITY_LOST] = "identity-lost",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(update_check, enum update_check, update_check_table)
