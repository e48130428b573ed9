/* SPDX-License-Identifier: MIT */
/* Key Vault / Managed HSM GETs on top of azure.c. It builds URLs only from a parsed key URL
 * (keyurl.h) and never sends a token anywhere azure.c would not. */

#include "kv.h"
#include "mem.h"

enum azure_audience kv_audience(const struct keyurl *k) {
        return k->store == KEY_STORE_MANAGED_HSM ? AZURE_AUDIENCE_HSM : AZURE_AUDIENCE_VAULT;
}

int kv_url(const struct keyurl *k, const char *what, const char *version, const char *api_version,
           char **ret) {
        struct buf b;
        int r;

        if (!k || isempty(k->host) || isempty(k->name) || !what)
                return -EINVAL;
        buf_init(&b, 0);
        r = buf_printf(&b, "https://%s/%s/", k->host, streq(what, "deleted") ? "deletedkeys" : "keys");
        if (r >= 0)
                r = http_url_escape(&b, k->name);
        if (r >= 0 && streq(what, "")) {
                if (!isempty(version)) {
                        r = buf_putc(&b, '/');
                        if (r >= 0)
                                r = http_url_escape(&b, version);
                }
        } else if (r >= 0 && streq(what, "versions"))
                r = buf_printf(&b, "/versions?maxresults=%d&", KV_VERSIONS_PAGE_SIZE);
        else if (r >= 0 && streq(what, "rotationpolicy"))
                r = buf_puts(&b, "/rotationpolicy");
        else if (r >= 0 && !streq(what, "deleted"))
                r = -EINVAL;
        if (r >= 0)
                r = buf_puts(&b, streq(what, "versions") ? "api-version=" : "?api-version=");
        if (r >= 0)
                r = http_url_escape(&b, api_version ?: KV_API_VERSION_DEFAULT);
        if (r < 0) {
                buf_done(&b);
                return r;
        }
        *ret = buf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static int kv_get(struct azure *az, const struct keyurl *k, const char *what, const char *version,
                  const char *api_version, azure_done_fn done, void *userdata, struct azure_call **ret) {
        _cleanup_free_ char *url = NULL;
        int r;

        r = kv_url(k, what, version, api_version, &url);
        if (r < 0)
                return r;
        struct azure_request rq = {
                .method = HTTP_GET,
                .audience = kv_audience(k),
                .kind = AZURE_KIND_KEY_VAULT,
                .url = url,
        };
        return azure_call_start(az, &rq, done, userdata, ret);
}

int kv_get_key(struct azure *az, const struct keyurl *k, const char *version, const char *api_version,
               azure_done_fn done, void *userdata, struct azure_call **ret) {
        return kv_get(az, k, "", version, api_version, done, userdata, ret);
}

int kv_get_rotation_policy(struct azure *az, const struct keyurl *k, const char *api_version,
                           azure_done_fn done, void *userdata, struct azure_call **ret) {
        return kv_get(az, k, "rotationpolicy", NULL, api_version, done, userdata, ret);
}

int kv_get_deleted_key(struct azure *az, const struct keyurl *k, const char *api_version, azure_done_fn done,
                       void *userdata, struct azure_call **ret) {
        return kv_get(az, k, "deleted", NULL, api_version, done, userdata, ret);
}

int kv_list_key_versions(struct azure *az, const struct keyurl *k, const char *api_version,
                         azure_page_fn page, azure_list_done_fn done, void *userdata,
                         struct azure_list **ret) {
        _cleanup_free_ char *url = NULL;
        int r;

        r = kv_url(k, "versions", NULL, api_version, &url);
        if (r < 0)
                return r;
        return azure_list_start(az, kv_audience(k), AZURE_KIND_KEY_VAULT, url, page, done, userdata, ret);
}
