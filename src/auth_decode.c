/* SPDX-License-Identifier: MIT */
/* Token answers and Key Vault challenges, decoded. Pure: no I/O, no clock, no logging.
 * It must never copy a token anywhere but the struct it returns, and wipes the copy json-c
 * made of it before dropping the tree. */

#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>

#include "auth_decode.h"
#include "json_util.h"
#include "mem.h"
#include "timeutil.h"

static bool token_chars_ok(const char *s, size_t n) {
        if (n == 0 || n > AUTH_TOKEN_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
                        return false;
        return true;
}

/* A JSON number or a string of decimal digits (IMDS sends strings). */
static int json_seconds(struct json_object *o, int64_t *ret) {
        const char *s;
        char *end;
        long long v;

        if (!o)
                return -ENOENT;
        if (json_object_is_type(o, json_type_int)) {
                v = json_object_get_int64(o);
        } else if (json_object_is_type(o, json_type_double)) {
                double d = json_object_get_double(o);
                if (!(d >= 0 && d < 1e15))
                        return -EBADMSG;
                v = (long long)d;
        } else if (json_object_is_type(o, json_type_string)) {
                s = json_object_get_string(o);
                if (!isdigit((unsigned char)s[0]))
                        return -EBADMSG;
                errno = 0;
                v = strtoll(s, &end, 10);
                if (errno != 0 || *end != 0)
                        return -EBADMSG;
        } else
                return -EBADMSG;
        if (v < 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* json-c keeps its own copy of every string: wipe the token's before the tree goes. */
static void wipe_json_string(struct json_object *o) {
        if (o && json_object_is_type(o, json_type_string))
                explicit_wipe((char *)json_object_get_string(o), (size_t)json_object_get_string_len(o));
}

/* A token endpoint's answer as a json-c tree. The decoders below promise -EBADMSG for
 * every malformed answer, too large or too deep included. */
static int parse_answer(const char *body, size_t len, struct json_object **ret) {
        int r;

        r = json_parse_object(body, len, ret);
        return r < 0 && r != -ENOMEM ? -EBADMSG : r;
}

/* token_type may be absent; present, it must be the string "Bearer" (any case). */
static bool token_type_ok(const struct json_object *root) {
        const char *s;
        int r;

        r = json_get_string(root, "token_type", &s);
        return r == JSON_FIELD_ABSENT || (r == JSON_FIELD_PRESENT && strcasecmp(s, "Bearer") == 0);
}

int auth_decode_token(const char *body, size_t len, usec_t now_realtime, struct auth_token *ret) {
        struct json_object *root = NULL, *tok = NULL, *o;
        int64_t on = -1, in = -1, v;
        usec_t expires_at, max_at;
        const char *s;
        char *copy;
        size_t n;
        int r;

        r = parse_answer(body, len, &root);
        if (r < 0)
                return r;
        r = -EBADMSG;
        if (!token_type_ok(root))
                goto finish;
        /* Looked up as an object, so that its json-c copy is wiped whatever it holds. */
        (void) json_object_object_get_ex(root, "access_token", &tok);
        if (json_value_string(tok, &s) < 0)
                goto finish;
        n = strlen(s);
        if (!token_chars_ok(s, n))
                goto finish;

        if (json_object_object_get_ex(root, "expires_on", &o) && json_seconds(o, &v) >= 0)
                on = v;
        if (json_object_object_get_ex(root, "expires_in", &o) && json_seconds(o, &v) >= 0)
                in = v;

        if (on >= 0 && usec_from_unix(on) > now_realtime)
                expires_at = usec_from_unix(on);
        else if (in > 0 && (uint64_t)in < UINT64_MAX / USEC_PER_SEC - now_realtime / USEC_PER_SEC)
                expires_at = now_realtime + (usec_t)in * USEC_PER_SEC;
        else
                goto finish; /* no expiry, or already expired */
        max_at = now_realtime + AUTH_TOKEN_LIFETIME_MAX;
        expires_at = MIN(expires_at, max_at);

        copy = mem_strndup(s, n);
        if (!copy) {
                r = -ENOMEM;
                goto finish;
        }
        *ret = (struct auth_token){.access_token = copy, .expires_at = expires_at};
        r = 0;
finish:
        wipe_json_string(tok);
        json_object_put(root);
        return r;
}

void auth_token_done(struct auth_token *t) {
        mem_free_secret(t->access_token);
        *t = (struct auth_token){};
}

/* ---- WWW-Authenticate ----------------------------------------------------------- */

static bool is_tchar(char c) {
        /* RFC 9110 token characters. */
        return c != 0 && (isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *p) {
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* Reads a quoted-string or token value at *p into a new string. */
static int read_value(const char **p, char **ret) {
        const char *s = *p;
        char *v, *o;

        if (*s == '"') {
                v = mem_malloc(strlen(s));
                if (!v)
                        return -ENOMEM;
                o = v;
                for (s++; *s && *s != '"'; s++) {
                        if (*s == '\\' && s[1])
                                s++;
                        *o++ = *s;
                }
                if (*s != '"') {
                        mem_free(v);
                        return -EBADMSG;
                }
                *o = 0;
                *p = s + 1;
        } else {
                const char *e = s;
                /* token68 may end in '=' padding */
                while (is_tchar(*e) || *e == '/' || *e == ':' || *e == '=')
                        e++;
                v = mem_strndup(s, (size_t)(e - s));
                if (!v)
                        return -ENOMEM;
                *p = e;
        }
        *ret = v;
        return 0;
}

/* The tenant is the first path segment of the authority URL, when it has the shape of
 * a tenant id or domain. *ret stays NULL when there is none. */
static int tenant_from_authority(const char *url, char **ret) {
        const char *p = startswith_no_case(url, "https://"), *e;
        size_t n;

        if (!p)
                return 0;
        p = strchr(p, '/');
        if (!p)
                return 0;
        p++;
        e = p + strcspn(p, "/?#");
        n = (size_t)(e - p);
        if (n == 0 || n > 128)
                return 0;
        for (const char *c = p; c < e; c++)
                if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.' && *c != '_')
                        return 0;
        *ret = mem_strndup(p, n);
        return *ret ? 0 : -ENOMEM;
}

/* The length of an audience without a trailing "/.default" and trailing '/'. */
static size_t audience_len(const char *s) {
        size_t n = strlen(s);

        if (n >= 9 && strcasecmp(s + n - 9, "/.default") == 0)
                n -= 9;
        while (n > 0 && s[n - 1] == '/')
                n--;
        return n;
}

int auth_decode_challenge(const char *header, struct auth_challenge *ret) {
        struct auth_challenge c = {};
        char *scope = NULL;
        const char *p = header;
        bool in_bearer = false, seen_bearer = false;
        int r;

        for (;;) {
                const char *name;
                size_t n;

                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                if (!*p)
                        break;
                name = p;
                while (is_tchar(*p))
                        p++;
                n = (size_t)(p - name);
                if (n == 0) {
                        r = -EBADMSG;
                        goto fail;
                }
                p = skip_ows(p);
                if (*p != '=') {
                        /* A scheme name: a new challenge starts. */
                        in_bearer = n == 6 && strncasecmp(name, "Bearer", 6) == 0;
                        seen_bearer = seen_bearer || in_bearer;
                        continue;
                }
                p = skip_ows(p + 1);

                char *value = NULL, **slot = NULL;
                r = read_value(&p, &value);
                if (r < 0)
                        goto fail;
                if (in_bearer) {
#define IS(s) (n == strlen(s) && strncasecmp(name, s, n) == 0)
                        if (IS("authorization") || IS("authorization_uri"))
                                slot = &c.authorization;
                        else if (IS("resource"))
                                slot = &c.resource;
                        else if (IS("scope"))
                                slot = &scope;
                        else if (IS("error"))
                                slot = &c.error;
                        else if (IS("claims"))
                                slot = &c.claims;
#undef IS
                }
                if (slot && !*slot)
                        *slot = value;
                else
                        mem_free(value);
        }

        if (!seen_bearer) {
                r = -EBADMSG;
                goto fail;
        }
        if (!c.resource && scope)
                c.resource = TAKE_PTR(scope);
        if (c.resource)
                c.resource[audience_len(c.resource)] = 0;
        if (c.authorization) {
                r = tenant_from_authority(c.authorization, &c.tenant);
                if (r < 0)
                        goto fail;
        }
        mem_free(scope);
        *ret = c;
        return 0;
fail:
        mem_free(scope);
        auth_challenge_done(&c);
        return r;
}

void auth_challenge_done(struct auth_challenge *c) {
        mem_free(c->authorization);
        mem_free(c->tenant);
        mem_free(c->resource);
        mem_free(c->error);
        mem_free(c->claims);
        *c = (struct auth_challenge){};
}

/* ---- audiences ------------------------------------------------------------------ */

bool auth_audience_equal(const char *a, const char *b) {
        size_t na, nb;

        if (!a || !b)
                return false;
        na = audience_len(a);
        nb = audience_len(b);
        return na > 0 && na == nb && strncasecmp(a, b, na) == 0;
}

bool auth_audience_covers_host(const char *audience, const char *host) {
        const char *h = startswith_no_case(audience, "https://");
        size_t nh, nhost;

        if (!h || !host)
                return false;
        nh = strcspn(h, "/:?#");
        nhost = strlen(host);
        if (nh == 0 || nhost <= nh + 1)
                return false;
        return host[nhost - nh - 1] == '.' && strncasecmp(host + nhost - nh, h, nh) == 0;
}

/* ---- token endpoint errors -------------------------------------------------------- */

int auth_decode_error(const char *body, size_t len, char **ret_error, char **ret_description) {
        _cleanup_json_ struct json_object *root = NULL;
        _cleanup_free_ char *error = NULL, *description = NULL;
        const char *e, *d;
        int r;

        r = parse_answer(body, len, &root);
        if (r < 0)
                return r;
        if (json_get_string(root, "error", &e) != JSON_FIELD_PRESENT)
                return -EBADMSG;
        if (ret_error) {
                error = mem_strdup(e);
                if (!error)
                        return -ENOMEM;
        }
        /* An error_description of another type is passed over. */
        if (ret_description && json_get_string(root, "error_description", &d) == JSON_FIELD_PRESENT) {
                description = mem_strdup(d);
                if (!description)
                        return -ENOMEM;
        }
        if (ret_error)
                *ret_error = TAKE_PTR(error);
        if (ret_description)
                *ret_description = TAKE_PTR(description);
        return 0;
}
