/* SPDX-License-Identifier: MIT */
#pragma once

/* Key identifiers: https://{vault}.vault.azure.net/keys/{name}[/{version}] and the
 * Managed HSM form https://{hsm}.managedhsm.azure.net/keys/{name}[/{version}], in every
 * cloud. Pure. The key URL comes from a cluster that anyone with write access to it
 * could set, and cmkd sends a Key Vault token to its host: callers must check that
 * .suffix belongs to the configured cloud before any request (keyurl_suffix_allowed). */

#include "macro.h"

enum key_store {
        KEY_STORE_VAULT,
        KEY_STORE_MANAGED_HSM,
        _KEY_STORE_MAX,
        _KEY_STORE_INVALID = -EINVAL,
};

/* A valid host is a store name (3-24 characters) and one of the known suffixes (at most 28:
 * "managedhsm.usgovcloudapi.net"); a key name has at most 127 characters, a version 63.
 * Every cluster's verdict holds a parsed key URL and a target URL: the sizes are what a
 * valid URL needs, no more (a longer host is invalid either way). */
#define KEYURL_HOST_MAX 64
#define KEYURL_STORE_NAME_MAX 32
#define KEYURL_NAME_MAX 128
#define KEYURL_VERSION_MAX 64
/* "https://" host "/keys/" name "/" version */
#define KEYURL_MAX 320
_Static_assert(KEYURL_MAX >= 8 + KEYURL_HOST_MAX + 6 + KEYURL_NAME_MAX + 1 + KEYURL_VERSION_MAX, "KEYURL_MAX");

struct keyurl {
        enum key_store store;
        char host[KEYURL_HOST_MAX];            /* lowercase, without port: "myvault.vault.azure.net" */
        char store_name[KEYURL_STORE_NAME_MAX]; /* lowercase vault or HSM name: "myvault" */
        const char *suffix;                    /* static: "vault.azure.net", "managedhsm.azure.net", ... */
        char name[KEYURL_NAME_MAX];            /* key name as written */
        char version[KEYURL_VERSION_MAX];      /* "" when versionless */
};

/* Parses url. Accepts an explicit ":443", one trailing "/", any case in scheme and host.
 * Rejects other ports, user info, queries, fragments, unknown DNS suffixes, and names or
 * versions of the wrong shape. Returns 0 or -EINVAL. */
int keyurl_parse(const char *url, struct keyurl *ret);

/* All empty: what a verdict points to when its cluster has no usable key URL. */
extern const struct keyurl keyurl_none;

static inline bool keyurl_is_versioned(const struct keyurl *k) {
        return k->version[0] != 0;
}

/* "https://{host}/keys/{name}" into buf (KEYURL_MAX). Returns buf. */
char *keyurl_format_versionless(const struct keyurl *k, char *buf, size_t len);
/* "https://{host}/keys/{name}/{version}". Returns buf. */
char *keyurl_format_version(const struct keyurl *k, const char *version, char *buf, size_t len);
/* Identity of the key for de-duplication: "{host}/keys/{lowercase name}". Returns buf. */
char *keyurl_key_id(const struct keyurl *k, char *buf, size_t len);

/* True if suffix is one of the key store suffixes given (NULL-terminated list). */
bool keyurl_suffix_allowed(const struct keyurl *k, char *const *allowed_suffixes);

const char *key_store_to_string(enum key_store s);
