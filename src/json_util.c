/* SPDX-License-Identifier: MIT */
/* Strict json-c helpers for the decoders: limits, typed lookups, copies. Pure: it never
 * logs, never reads anything but its arguments, and never keeps a json-c tree past the
 * call that parsed it (that is the caller's job). */

#include <math.h>

#include "json_util.h"
#include "mem.h"
#include "strv.h"

size_t json_utf8_sequence(const unsigned char *p, const unsigned char *end) {
        unsigned c = p[0];
        size_t k;
        uint32_t cp, min;

        if ((c & 0xe0) == 0xc0) {
                k = 1;
                cp = c & 0x1f;
                min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
                k = 2;
                cp = c & 0x0f;
                min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
                k = 3;
                cp = c & 0x07;
                min = 0x10000;
        } else
                return 0;
        if ((size_t) (end - p) <= k)
                return 0;
        for (size_t j = 1; j <= k; j++) {
                if ((p[j] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return k + 1;
}

bool json_utf8_valid(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s, *end = p + n;

        while (p < end) {
                size_t k = *p < 0x80 ? 1 : json_utf8_sequence(p, end);

                if (k == 0)
                        return false;
                p += k;
        }
        return true;
}

/* json-c turns "\u0000" into a NUL inside strings and object keys, and keys are kept as C
 * strings, so "a\u0000b" would silently become "a". No Azure document carries it: refuse
 * the document. Backslashes only occur inside strings in valid JSON, so pairing them up
 * is enough to tell "\u0000" from "\\u0000". */
bool json_has_nul_escape(const char *p, size_t n) {
        const char *end = p + n, *b = p;

        /* From one backslash to the next (memchr: they are rare). */
        while (end - b >= 2 && (b = memchr(b, '\\', (size_t) (end - b) - 1))) {
                if (b[1] == 'u' && end - b >= 6 && memcmp(b + 2, "0000", 4) == 0)
                        return true;
                b += 2; /* past the escaped character, which may itself be a backslash */
        }
        return false;
}

int json_doc_precheck(const char **body, size_t *len) {
        if (*len > JSON_DOC_MAX)
                return -E2BIG;
        if (!*body || *len == 0)
                return -EBADMSG;
        /* RFC 8259 lets a parser ignore a byte order mark; json-c does not. */
        if (*len >= 3 && memcmp(*body, "\xef\xbb\xbf", 3) == 0) {
                *body += 3;
                *len -= 3;
        }
        return json_has_nul_escape(*body, *len) ? -EBADMSG : 0;
}

static bool is_json_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int json_parse_object(const char *body, size_t len, struct json_object **ret) {
        struct json_tokener *tok;
        struct json_object *o;
        enum json_tokener_error e;
        size_t end;
        int r;

        r = json_doc_precheck(&body, &len);
        if (r < 0)
                return r;

        tok = json_tokener_new_ex(JSON_DEPTH_MAX);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, body, (int) len);
        e = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        if (!o)
                /* NULL with success is a top-level "null"; json_tokener_continue is a
                 * truncated document. */
                return e == json_tokener_error_depth ? -E2BIG : -EBADMSG;
        if (e != json_tokener_success || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        for (size_t i = end; i < len; i++)
                if (!is_json_space(body[i])) {
                        json_object_put(o);
                        return -EBADMSG;
                }
        *ret = o;
        return 0;
}

int json_value_string(const struct json_object *v, const char **ret) {
        const char *s;
        int n;

        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        n = json_object_get_string_len(v);
        if (n < 0)
                return -EBADMSG;
        if ((size_t) n > JSON_STRING_MAX)
                return -E2BIG;
        s = json_object_get_string((struct json_object *) v);
        if (!s || strlen(s) != (size_t) n || !json_utf8_valid(s, (size_t) n))
                return -EBADMSG;
        *ret = s;
        return 0;
}

int json_value_array(const struct json_object *v, size_t *ret_n) {
        size_t n;

        if (!json_object_is_type(v, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(v);
        if (n > JSON_ARRAY_MAX)
                return -E2BIG;
        *ret_n = n;
        return 0;
}

int json_value_object(const struct json_object *v) {
        int n;

        if (!json_object_is_type(v, json_type_object))
                return -EBADMSG;
        n = json_object_object_length(v);
        if (n < 0)
                return -EBADMSG;
        if ((size_t) n > JSON_MEMBERS_MAX)
                return -E2BIG;
        return 0;
}

int json_value_int64(const struct json_object *v, int64_t *ret) {
        double d;

        if (json_object_is_type(v, json_type_int)) {
                /* json-c saturates integers beyond int64 to INT64_MIN/INT64_MAX. */
                *ret = json_object_get_int64(v);
                return 0;
        }
        if (!json_object_is_type(v, json_type_double))
                return -EBADMSG;
        d = json_object_get_double(v);
        if (!isfinite(d))
                return -EBADMSG;
        /* Converting an out-of-range double to an integer is undefined: clamp first. */
        if (d >= 9223372036854775807.0)
                *ret = INT64_MAX;
        else if (d <= -9223372036854775808.0)
                *ret = INT64_MIN;
        else
                *ret = (int64_t) d; /* truncates toward zero */
        return 0;
}

/* Looks key up: absent, null, or present with *ret set. */
static int lookup(const struct json_object *o, const char *key, struct json_object **ret) {
        struct json_object *v = NULL;

        if (!o || !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if (!json_object_object_get_ex(o, key, &v))
                return JSON_FIELD_ABSENT;
        if (!v)
                return JSON_FIELD_NULL;
        *ret = v;
        return JSON_FIELD_PRESENT;
}

int json_get_string(const struct json_object *o, const char *key, const char **ret) {
        struct json_object *v;
        const char *s;
        int r;

        r = lookup(o, key, &v);
        if (r != JSON_FIELD_PRESENT)
                return r;
        r = json_value_string(v, &s);
        if (r < 0)
                return r;
        *ret = s;
        return JSON_FIELD_PRESENT;
}

int json_get_bool(const struct json_object *o, const char *key, bool *ret) {
        struct json_object *v;
        int r;

        r = lookup(o, key, &v);
        if (r != JSON_FIELD_PRESENT)
                return r;
        /* Strictly a JSON boolean: "true" (a string) and 1 are wrong types. */
        if (!json_object_is_type(v, json_type_boolean))
                return -EBADMSG;
        *ret = json_object_get_boolean(v);
        return JSON_FIELD_PRESENT;
}

int json_get_int64(const struct json_object *o, const char *key, int64_t *ret) {
        struct json_object *v;
        int64_t x;
        int r;

        r = lookup(o, key, &v);
        if (r != JSON_FIELD_PRESENT)
                return r;
        r = json_value_int64(v, &x);
        if (r < 0)
                return r;
        *ret = x;
        return JSON_FIELD_PRESENT;
}

int json_get_object(const struct json_object *o, const char *key, struct json_object **ret) {
        struct json_object *v;
        int r;

        r = lookup(o, key, &v);
        if (r != JSON_FIELD_PRESENT)
                return r;
        r = json_value_object(v);
        if (r < 0)
                return r;
        *ret = v;
        return JSON_FIELD_PRESENT;
}

int json_get_array(const struct json_object *o, const char *key, struct json_object **ret, size_t *ret_n) {
        struct json_object *v;
        size_t n;
        int r;

        r = lookup(o, key, &v);
        if (r != JSON_FIELD_PRESENT)
                return r;
        r = json_value_array(v, &n);
        if (r < 0)
                return r;
        *ret = v;
        *ret_n = n;
        return JSON_FIELD_PRESENT;
}

int json_dup_string(const struct json_object *o, const char *key, char **ret) {
        const char *s;
        char *c;
        int r;

        r = json_get_string(o, key, &s);
        if (r != JSON_FIELD_PRESENT)
                return r;
        c = mem_strdup(s);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return JSON_FIELD_PRESENT;
}

int json_need_string(const struct json_object *o, const char *key, const char **ret) {
        const char *s;
        int r;

        r = json_get_string(o, key, &s);
        if (r < 0)
                return r;
        if (r != JSON_FIELD_PRESENT || s[0] == 0)
                return -EBADMSG;
        *ret = s;
        return 0;
}

int json_need_dup_string(const struct json_object *o, const char *key, char **ret) {
        const char *s;
        char *c;
        int r;

        r = json_need_string(o, key, &s);
        if (r < 0)
                return r;
        c = mem_strdup(s);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

int json_need_object(const struct json_object *o, const char *key, struct json_object **ret) {
        struct json_object *v;
        int r;

        r = json_get_object(o, key, &v);
        if (r < 0)
                return r;
        if (r != JSON_FIELD_PRESENT)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int json_get_next_link(const struct json_object *o, char **ret) {
        const char *s;
        char *c = NULL;
        int r;

        r = json_get_string(o, "nextLink", &s);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT && s[0] != 0) {
                c = mem_strdup(s);
                if (!c)
                        return -ENOMEM;
        }
        *ret = c;
        return 0;
}

int json_get_page_value(const struct json_object *o, struct json_object **ret, size_t *ret_n) {
        struct json_object *v;
        size_t n;
        int r;

        /* "value" is required in every list result of the specs; a page without it is not
         * an empty page. */
        r = json_get_array(o, "value", &v, &n);
        if (r < 0)
                return r;
        if (r != JSON_FIELD_PRESENT)
                return -EBADMSG;
        *ret = v;
        *ret_n = n;
        return 0;
}

int json_note_invalid(const struct json_object *item, const char *id_key, size_t *n_invalid,
                      char ***invalid_ids) {
        const char *id;

        (*n_invalid)++;
        if (!json_object_is_type(item, json_type_object))
                return 0;
        if (json_get_string(item, id_key, &id) != JSON_FIELD_PRESENT || id[0] == 0)
                return 0;
        return strv_extend(invalid_ids, id);
}

int json_decode_page(const char *body, size_t len, struct json_page_layout layout, const char *id_key,
                     json_item_fn decode, void *userdata, void **ret_list) {
        _cleanup_json_ struct json_object *root = NULL;
        struct json_object *value;
        char *l, *items;
        size_t n, *n_items, *n_invalid;
        int r;

        r = json_parse_object(body, len, &root);
        if (r < 0)
                return r;
        r = json_get_page_value(root, &value, &n);
        if (r < 0)
                return r;
        l = mem_calloc(1, layout.size);
        if (!l)
                return -ENOMEM;
        *ret_list = l;
        n_items = (size_t *) (l + layout.n_items);
        n_invalid = (size_t *) (l + layout.n_invalid);

        r = json_get_next_link(root, (char **) (l + layout.next_link));
        if (r < 0)
                return r;
        items = mem_calloc(MAX(n, (size_t) 1), layout.item_size);
        if (!items)
                return -ENOMEM;
        /* Stored like GREEDY_REALLOC() stores its array: through a void pointer. */
        *(void **) (l + layout.items) = items;
        for (size_t i = 0; i < n; i++) {
                struct json_object *item = json_object_array_get_idx(value, i);

                r = decode(item, items + *n_items * layout.item_size, userdata);
                if (r < 0 && !json_item_error(r))
                        return r;
                if (r < 0) {
                        r = json_note_invalid(item, id_key, n_invalid, (char ***) (l + layout.invalid_ids));
                        if (r < 0)
                                return r;
                        continue;
                }
                (*n_items)++;
        }
        return 0;
}
