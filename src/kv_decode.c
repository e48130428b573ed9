/* SPDX-License-Identifier: MIT */
/* Key Vault / Managed HSM data-plane JSON → model: key bundles, deleted keys, key version
 * pages, rotation policies, HSM local role assignments and definitions. Pure: no curl, no
 * I/O, no logging, no clock. Every json-c tree is dropped before returning. */

#include <ctype.h>

#include "arm_decode.h"
#include "json_util.h"
#include "keyurl.h"
#include "kv_decode.h"
#include "mem.h"
#include "strv.h"
#include "timeutil.h"

/* Value of one base64url character, or -1. Padding is handled by the caller. */
static int b64url_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '-')
                return 62;
        if (c == '_')
                return 63;
        return -1;
}

/* Bit length of the big-endian unsigned integer encoded in base64url (JWK "n"), decoded
 * on the fly without a buffer: leading zero bytes do not count, and the first non-zero
 * byte counts for the position of its highest set bit. Accepts trailing "=" padding.
 * Returns 0 or -EBADMSG. */
static int base64url_bit_length(const char *s, unsigned *ret) {
        size_t n = strlen(s), pad = 0;
        unsigned bits = 0, acc = 0, acc_bits = 0, byte;
        bool seen = false;

        while (n > 0 && s[n - 1] == '=' && pad < 2) {
                n--;
                pad++;
        }
        if (pad > 0 && (n + pad) % 4 != 0)
                return -EBADMSG;
        if (n % 4 == 1) /* six bits cannot end a byte */
                return -EBADMSG;

        for (size_t i = 0; i < n; i++) {
                int v = b64url_value(s[i]);

                if (v < 0)
                        return -EBADMSG;
                acc = ((acc << 6) | (unsigned) v) & 0xfff;
                acc_bits += 6;
                if (acc_bits < 8)
                        continue;
                acc_bits -= 8;
                byte = (acc >> acc_bits) & 0xff;
                if (seen)
                        bits += 8;
                else if (byte != 0) {
                        seen = true;
                        for (unsigned b = byte; b; b >>= 1)
                                bits++;
                }
        }
        *ret = bits;
        return 0;
}

static unsigned key_op_from_string(const char *s) {
        static const struct {
                const char *name;
                unsigned bit;
        } table[] = {
                { "encrypt", KEY_OP_ENCRYPT },     { "decrypt", KEY_OP_DECRYPT },
                { "sign", KEY_OP_SIGN },           { "verify", KEY_OP_VERIFY },
                { "wrapKey", KEY_OP_WRAP_KEY },    { "unwrapKey", KEY_OP_UNWRAP_KEY },
                { "import", KEY_OP_IMPORT },       { "export", KEY_OP_EXPORT },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcasecmp(s, table[i].name) == 0)
                        return table[i].bit;
        return 0; /* extensible: an op we do not know grants nothing we check */
}

/* An optional Unix-seconds member into usec; *ret untouched when absent or null. */
static int get_unix_time(const struct json_object *o, const char *key, usec_t *ret) {
        int64_t sec;
        int r;

        r = json_get_int64(o, key, &sec);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        *ret = usec_from_unix(sec);
        return 0;
}

/* kid must be a key URL with a version; *ret_version is a copy of the version. */
static int kid_version(const char *kid, char **ret_version) {
        struct keyurl k;
        char *v;

        if (keyurl_parse(kid, &k) < 0 || !keyurl_is_versioned(&k))
                return -EBADMSG;
        v = mem_strdup(k.version);
        if (!v)
                return -ENOMEM;
        *ret_version = v;
        return 0;
}

/* KeyAttributes into the fields given (any may be NULL). */
static int attributes_from_json(const struct json_object *o, bool *enabled, usec_t *nbf, usec_t *exp,
                                usec_t *created, usec_t *updated, char **recovery_level) {
        struct json_object *a;
        int r;

        *enabled = true;
        *nbf = 0;
        *exp = USEC_INFINITY;
        *created = *updated = 0;
        r = json_get_object(o, "attributes", &a);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        r = json_get_bool(a, "enabled", enabled);
        if (r < 0)
                return r;
        r = get_unix_time(a, "nbf", nbf);
        if (r < 0)
                return r;
        r = get_unix_time(a, "exp", exp);
        if (r < 0)
                return r;
        r = get_unix_time(a, "created", created);
        if (r < 0)
                return r;
        r = get_unix_time(a, "updated", updated);
        if (r < 0)
                return r;
        if (recovery_level) {
                r = json_dup_string(a, "recoveryLevel", recovery_level);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int key_bundle_decode(const char *body, size_t len, bool deleted, struct key_bundle **ret) {
        _cleanup_json_ struct json_object *root = NULL;
        _cleanup_(key_bundle_freep) struct key_bundle *k = NULL;
        struct json_object *key, *ops;
        const char *n;
        size_t n_ops;
        int r;

        r = json_parse_object(body, len, &root);
        if (r < 0)
                return r;
        k = new0(struct key_bundle, 1);
        if (!k)
                return -ENOMEM;

        r = json_need_object(root, "key", &key);
        if (r < 0)
                return r;
        r = json_need_dup_string(key, "kid", &k->kid);
        if (r < 0)
                return r;
        r = kid_version(k->kid, &k->version);
        if (r < 0)
                return r;
        r = json_dup_string(key, "kty", &k->kty);
        if (r < 0)
                return r;

        r = json_get_array(key, "key_ops", &ops, &n_ops);
        if (r < 0)
                return r;
        k->has_key_ops = r == JSON_FIELD_PRESENT;
        for (size_t i = 0; k->has_key_ops && i < n_ops; i++) {
                const char *s;

                r = json_value_string(json_object_array_get_idx(ops, i), &s);
                if (r < 0)
                        return r;
                k->key_ops |= key_op_from_string(s);
        }

        r = json_get_string(key, "n", &n);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT && k->kty && strncasecmp(k->kty, "RSA", 3) == 0) {
                r = base64url_bit_length(n, &k->rsa_bits);
                if (r < 0)
                        return r;
        }

        r = attributes_from_json(root, &k->enabled, &k->nbf, &k->exp, &k->created, &k->updated,
                                 &k->recovery_level);
        if (r < 0)
                return r;
        r = json_get_bool(root, "managed", &k->managed);
        if (r < 0)
                return r;

        if (deleted) {
                r = json_dup_string(root, "recoveryId", &k->recovery_id);
                if (r < 0)
                        return r;
                r = get_unix_time(root, "deletedDate", &k->deleted_date);
                if (r < 0)
                        return r;
                r = get_unix_time(root, "scheduledPurgeDate", &k->scheduled_purge_date);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(k);
        return 0;
}

int kv_decode_key_bundle(const char *body, size_t len, struct key_bundle **ret) {
        return key_bundle_decode(body, len, false, ret);
}

int kv_decode_deleted_key_bundle(const char *body, size_t len, struct key_bundle **ret) {
        return key_bundle_decode(body, len, true, ret);
}

static int key_version_item_from_json(const struct json_object *o, struct key_version_item *it) {
        int r;

        r = json_value_object(o);
        if (r < 0)
                return r;
        r = json_need_dup_string(o, "kid", &it->kid);
        if (r < 0)
                return r;
        r = kid_version(it->kid, &it->version);
        if (r < 0)
                return r;
        return attributes_from_json(o, &it->enabled, &it->nbf, &it->exp, &it->created, &it->updated, NULL);
}

/* An invalid item leaves its slot zeroed, for the next one. */
static int key_version_item(const struct json_object *o, void *slot, void *userdata) {
        int r;

        r = key_version_item_from_json(o, slot);
        if (r < 0)
                key_version_item_done(slot);
        return r;
}

int kv_decode_key_version_list(const char *body, size_t len, struct key_version_list **ret) {
        _cleanup_(key_version_list_freep) struct key_version_list *l = NULL;
        int r;

        r = json_decode_page(body, len, JSON_PAGE_LAYOUT(struct key_version_list), "kid", key_version_item,
                             NULL, (void **) &l);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* An optional ISO 8601 duration member; *ret untouched when absent or null. */
static int get_duration(const struct json_object *o, const char *key, usec_t *ret) {
        const char *s;
        usec_t d;
        int r;

        r = json_get_string(o, key, &s);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        if (iso8601_duration_parse(s, &d) < 0)
                return -EBADMSG;
        *ret = d;
        return 0;
}

int kv_decode_rotation_policy(const char *body, size_t len, struct rotation_policy **ret) {
        _cleanup_json_ struct json_object *root = NULL;
        _cleanup_(rotation_policy_freep) struct rotation_policy *p = NULL;
        struct json_object *actions, *attrs;
        size_t n;
        int r;

        r = json_parse_object(body, len, &root);
        if (r < 0)
                return r;
        p = new0(struct rotation_policy, 1);
        if (!p)
                return -ENOMEM;

        r = json_get_array(root, "lifetimeActions", &actions, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; r == JSON_FIELD_PRESENT && i < n; i++) {
                struct json_object *la = json_object_array_get_idx(actions, i), *trigger = NULL, *action;
                const char *type = NULL;
                int k;

                k = json_value_object(la);
                if (k < 0)
                        return k;
                k = json_get_object(la, "trigger", &trigger);
                if (k < 0)
                        return k;
                k = json_get_object(la, "action", &action);
                if (k < 0)
                        return k;
                if (k == JSON_FIELD_PRESENT) {
                        k = json_get_string(action, "type", &type);
                        if (k < 0)
                                return k;
                }
                if (!type)
                        continue;
                if (strcasecmp(type, "Rotate") == 0 && !p->has_rotate_action) {
                        p->has_rotate_action = true;
                        if (!trigger)
                                continue;
                        k = get_duration(trigger, "timeAfterCreate", &p->rotate_after_create);
                        if (k < 0)
                                return k;
                        k = get_duration(trigger, "timeBeforeExpiry", &p->rotate_before_expiry);
                        if (k < 0)
                                return k;
                } else if (strcasecmp(type, "Notify") == 0 && !p->has_notify_action) {
                        p->has_notify_action = true;
                        if (!trigger)
                                continue;
                        k = get_duration(trigger, "timeBeforeExpiry", &p->notify_before_expiry);
                        if (k < 0)
                                return k;
                }
        }

        r = json_get_object(root, "attributes", &attrs);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT) {
                r = get_duration(attrs, "expiryTime", &p->expiry_time);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

/* The Managed HSM data plane serves the same RoleAssignment and RoleDefinition shapes as
 * ARM (rbac.json mirrors Microsoft.Authorization), only with scopes "/" and "/keys[/...]". */
int kv_decode_hsm_role_assignment_list(const char *body, size_t len, struct role_assignment_list **ret) {
        return arm_decode_role_assignment_list(body, len, ret);
}

int kv_decode_hsm_role_definition_list(const char *body, size_t len, struct role_definition_list **ret) {
        return arm_decode_role_definition_list(body, len, ret);
}
