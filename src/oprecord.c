/* SPDX-License-Identifier: MIT */
/* Operation records: format and parse. Pure; fuzzed, because after a crash the file may be
 * anything. */

#include <ctype.h>
#include <inttypes.h>
#include <json.h>
#include <stdio.h>

#include "json_util.h"
#include "mem.h"
#include "oprecord.h"
#include "strtable.h"
#include "timeutil.h"

struct op_record *op_record_free(struct op_record *r) {
        if (!r)
                return NULL;
        mem_free(r->cluster_id);
        mem_free(r->subscription);
        mem_free(r->resource_url);
        mem_free(r->identity_id);
        mem_free(r->old_key_url);
        mem_free(r->new_key_url);
        mem_free(r->async_operation);
        mem_free(r->location);
        mem_free(r->request_id);
        mem_free(r);
        return NULL;
}

static const char *const op_phase_table[_OP_PHASE_MAX] = {
        [OP_PHASE_SENDING] = "sending",
        [OP_PHASE_ACCEPTED] = "accepted",
};

DEFINE_STRING_TABLE_LOOKUP(op_phase, enum op_phase, op_phase_table)

int op_record_format(const struct op_record *rec, struct buf *out) {
        char ts[RFC3339_MAX];
        int r;

        r = buf_printf(out, "{\"version\":%d", OPRECORD_VERSION);
        if (r >= 0)
                r = buf_put_json_member(out, "cluster", rec->cluster_id);
        if (r >= 0)
                r = buf_put_json_member(out, "subscription", rec->subscription);
        if (r >= 0)
                r = buf_put_json_member(out, "method", update_method_to_string(rec->method));
        if (r >= 0)
                r = buf_put_json_member(out, "resource_url", rec->resource_url);
        if (r >= 0)
                r = buf_put_json_member(out, "identity", rec->identity_id);
        if (r >= 0)
                r = buf_put_json_member(out, "old_key_url", rec->old_key_url);
        if (r >= 0)
                r = buf_put_json_member(out, "new_key_url", rec->new_key_url);
        if (r >= 0)
                r = buf_put_json_member(out, "phase", op_phase_to_string(rec->phase));
        if (r >= 0)
                r = buf_put_json_member(out, "async_operation", rec->async_operation);
        if (r >= 0)
                r = buf_put_json_member(out, "location", rec->location);
        if (r >= 0)
                r = buf_put_json_member(out, "request_id", rec->request_id);
        if (r >= 0)
                r = buf_put_json_member(out, "started", rfc3339_format(ts, sizeof ts, rec->started));
        if (r >= 0)
                r = buf_printf(out, ",\"resumes\":%u}\n", rec->resumes);
        return r;
}

/* Optional string member: absent or null leave *ret NULL. */
static int opt_string(struct json_object *o, const char *key, char **ret) {
        int r = json_dup_string(o, key, ret);

        return r < 0 ? r : 0;
}

int op_record_parse(const char *text, size_t len, struct op_record **ret) {
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_(op_record_freep) struct op_record *rec = NULL;
        const char *s;
        int64_t version, resumes = 0;
        int r;

        r = json_parse_object(text, len, &o);
        if (r < 0)
                return r;
        r = json_get_int64(o, "version", &version);
        if (r < 0)
                return r;
        if (r != JSON_FIELD_PRESENT)
                return -EBADMSG;
        if (version != OPRECORD_VERSION)
                return -EPROTONOSUPPORT;

        rec = new0(struct op_record, 1);
        if (!rec)
                return -ENOMEM;
        r = json_need_dup_string(o, "cluster", &rec->cluster_id);
        if (r >= 0)
                r = json_need_dup_string(o, "resource_url", &rec->resource_url);
        if (r >= 0)
                r = json_need_dup_string(o, "identity", &rec->identity_id);
        if (r >= 0)
                r = json_need_dup_string(o, "new_key_url", &rec->new_key_url);
        if (r >= 0)
                r = opt_string(o, "subscription", &rec->subscription);
        if (r >= 0)
                r = opt_string(o, "old_key_url", &rec->old_key_url);
        if (r >= 0)
                r = opt_string(o, "async_operation", &rec->async_operation);
        if (r >= 0)
                r = opt_string(o, "location", &rec->location);
        if (r >= 0)
                r = opt_string(o, "request_id", &rec->request_id);
        if (r < 0)
                return r;

        r = json_need_string(o, "method", &s);
        if (r < 0)
                return r;
        rec->method = update_method_from_string(s);
        if (rec->method < 0)
                return -EBADMSG;
        r = json_need_string(o, "phase", &s);
        if (r < 0)
                return r;
        rec->phase = op_phase_from_string(s);
        if (rec->phase < 0)
                return -EBADMSG;
        /* An accepted operation must say where to follow it. */
        if (rec->phase == OP_PHASE_ACCEPTED && !rec->async_operation && !rec->location)
                return -EBADMSG;
        r = json_need_string(o, "started", &s);
        if (r < 0)
                return r;
        if (rfc3339_parse(s, &rec->started) < 0)
                return -EBADMSG;
        r = json_get_int64(o, "resumes", &resumes);
        if (r < 0)
                return r;
        if (resumes < 0 || resumes > UINT32_MAX)
                return -EBADMSG;
        rec->resumes = (unsigned) resumes;

        *ret = TAKE_PTR(rec);
        return 0;
}

char *op_record_file_name(const char *cluster_id, char *buf, size_t len) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */

        for (const char *p = cluster_id; *p; p++) {
                h ^= (unsigned char) tolower((unsigned char) *p);
                h *= 1099511628211ULL;
        }
        snprintf(buf, len, "op-%016" PRIx64 ".json", h);
        return buf;
}

const char *op_record_operation_id(const struct op_record *r, char *buf, size_t len) {
        const char *url = r->async_operation ?: r->location, *end, *start;

        if (!url)
                return NULL;
        end = url + strcspn(url, "?#");
        start = end;
        while (start > url && start[-1] != '/')
                start--;
        if (start == end)
                return NULL;
        snprintf(buf, len, "%.*s", (int) (end - start), start);
        return buf;
}
