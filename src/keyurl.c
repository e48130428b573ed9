/* SPDX-License-Identifier: MIT */
/* Key identifier parsing. Pure; fuzzed. */

#include <ctype.h>
#include <stdio.h>

#include "keyurl.h"
#include "strtable.h"
#include "strv.h"

static const struct {
        const char *suffix;
        enum key_store store;
} known_suffixes[] = {
        { "vault.azure.net", KEY_STORE_VAULT },
        { "vault.azure.cn", KEY_STORE_VAULT },
        { "vault.usgovcloudapi.net", KEY_STORE_VAULT },
        { "vault.microsoftazure.de", KEY_STORE_VAULT },
        { "managedhsm.azure.net", KEY_STORE_MANAGED_HSM },
        { "managedhsm.azure.cn", KEY_STORE_MANAGED_HSM },
        { "managedhsm.usgovcloudapi.net", KEY_STORE_MANAGED_HSM },
};

static const char *const key_store_table[_KEY_STORE_MAX] = {
        [KEY_STORE_VAULT] = "vault",
        [KEY_STORE_MANAGED_HSM] = "managed-hsm",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(key_store, enum key_store, key_store_table)

/* Vault names: 3-24 of [a-z0-9-], starting with a letter, no "--", not ending in '-'.
 * Managed HSM names follow the same rule. */
static bool store_name_valid(const char *s, size_t n) {
        if (n < 3 || n > 24 || !isalpha((unsigned char) s[0]) || s[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                if (!isalnum((unsigned char) s[i]) && s[i] != '-')
                        return false;
                if (s[i] == '-' && i > 0 && s[i - 1] == '-')
                        return false;
        }
        return true;
}

/* Key names: 1-127 of [A-Za-z0-9-]. */
static bool key_name_valid(const char *s, size_t n) {
        if (n < 1 || n > 127)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '-')
                        return false;
        return true;
}

/* Versions are 32 hex digits in Azure; accept 1-63 alphanumerics so odd ids still parse. */
static bool version_valid(const char *s, size_t n) {
        if (n < 1 || n >= KEYURL_VERSION_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]))
                        return false;
        return true;
}

int keyurl_parse(const char *url, struct keyurl *ret) {
        struct keyurl k = {};
        const char *p, *host, *dot, *path, *seg;
        size_t host_len, name_len, n;

        p = startswith_no_case(url, "https://");
        if (!p)
                return -EINVAL;
        host = p;
        host_len = strcspn(host, ":/?#@");
        if (host_len == 0 || host_len >= sizeof k.host)
                return -EINVAL;
        p = host + host_len;
        if (*p == ':') {
                p++;
                if (strncmp(p, "443", 3) != 0)
                        return -EINVAL;
                p += 3;
        }
        if (*p != '/')
                return -EINVAL;
        path = p;

        for (size_t i = 0; i < host_len; i++)
                k.host[i] = (char) tolower((unsigned char) host[i]);
        dot = strchr(k.host, '.');
        if (!dot)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(known_suffixes); i++)
                if (streq(dot + 1, known_suffixes[i].suffix)) {
                        k.suffix = known_suffixes[i].suffix;
                        k.store = known_suffixes[i].store;
                        break;
                }
        if (!k.suffix || !store_name_valid(k.host, (size_t) (dot - k.host)))
                return -EINVAL;
        memcpy(k.store_name, k.host, (size_t) (dot - k.host));

        seg = startswith(path, "/keys/");
        if (!seg)
                return -EINVAL;
        name_len = strcspn(seg, "/");
        if (!key_name_valid(seg, name_len))
                return -EINVAL;
        memcpy(k.name, seg, name_len);
        p = seg + name_len;
        if (*p == '/' && p[1]) {
                p++;
                n = strcspn(p, "/");
                if (!version_valid(p, n))
                        return -EINVAL;
                memcpy(k.version, p, n);
                p += n;
        }
        if (*p == '/')
                p++;
        if (*p)
                return -EINVAL;

        *ret = k;
        return 0;
}

char *keyurl_format_versionless(const struct keyurl *k, char *buf, size_t len) {
        snprintf(buf, len, "https://%s/keys/%s", k->host, k->name);
        return buf;
}

char *keyurl_format_version(const struct keyurl *k, const char *version, char *buf, size_t len) {
        snprintf(buf, len, "https://%s/keys/%s/%s", k->host, k->name, version);
        return buf;
}

char *keyurl_key_id(const struct keyurl *k, char *buf, size_t len) {
        size_t n;

        snprintf(buf, len, "%s/keys/%s", k->host, k->name);
        n = strlen(k->host) + strlen("/keys/");
        for (char *c = buf + MIN(n, len ? len - 1 : 0); *c; c++)
                *c = (char) tolower((unsigned char) *c);
        return buf;
}

bool keyurl_suffix_allowed(const struct keyurl *k, char *const *allowed_suffixes) {
        return k->suffix && strv_contains_case(allowed_suffixes, k->suffix);
}
