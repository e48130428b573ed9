/* SPDX-License-Identifier: MIT */
#pragma once

/* Decoding what token endpoints and Key Vault say about tokens: the token answer of IMDS
 * and Entra ID (README §6.1, §6.2), and Key Vault's WWW-Authenticate challenge (§2.4).
 * Pure: bytes in, structs out; no I/O, clock or logging. Token strings are secrets: the
 * structs that hold them are wiped by their _done() functions. */

#include "macro.h"

/* A token as long as this is refused (real ones are 1-5 KB). */
#define AUTH_TOKEN_MAX (16 * 1024)
/* A claimed lifetime longer than this is cut to it, so a confused endpoint cannot make
 * us keep a token forever. Entra and IMDS tokens live 1-24 h. */
#define AUTH_TOKEN_LIFETIME_MAX (24 * USEC_PER_HOUR)

struct auth_token {
        char *access_token; /* owned, secret; wiped by auth_token_done() */
        usec_t expires_at;  /* CLOCK_REALTIME usec */
};

/* Decodes a 200 answer of a token endpoint. Accepts both shapes: IMDS (every value a
 * string: "expires_in": "3599", "expires_on": "1506484173") and Entra v2 (numbers).
 * Expiry is expires_on when it lies after now_realtime, else now_realtime + expires_in
 * (README §6.1: what the SDKs do), cut to AUTH_TOKEN_LIFETIME_MAX. token_type, when
 * present, must be "Bearer" (any case). The token must be 1..AUTH_TOKEN_MAX visible
 * ASCII characters (it goes into a header line). Returns 0, -EBADMSG (not JSON, not an
 * object, no usable token or expiry, already expired), or -ENOMEM. On success *ret owns
 * a copy; body is not changed (the caller wipes it). */
int auth_decode_token(const char *body, size_t len, usec_t now_realtime, struct auth_token *ret);
/* Wipes and frees the token; the struct is zeroed. Accepts a zeroed struct. */
void auth_token_done(struct auth_token *t);

/* A Bearer challenge: WWW-Authenticate: Bearer authorization="https://login.windows.net/
 * {tenant}", resource="https://vault.azure.net" (other names seen: authorization_uri,
 * scope; CAE adds error="insufficient_claims", claims="..."). */
struct auth_challenge {
        char *authorization; /* authorization= or authorization_uri=; NULL if absent */
        char *tenant;   /* first path segment of authorization when it looks like a tenant; NULL otherwise */
        char *resource; /* resource=, else scope= without "/.default"; no trailing '/'; NULL if neither */
        char *error;    /* error=; NULL if absent */
        char *claims;   /* claims=; NULL if absent */
};

/* Parses a WWW-Authenticate value; other schemes (PoP, Basic...) in the same value are
 * skipped. Returns 0, -EBADMSG (no Bearer challenge, bad syntax), -ENOMEM. */
int auth_decode_challenge(const char *header, struct auth_challenge *ret);
void auth_challenge_done(struct auth_challenge *c);

/* Audiences compare without regard to case, a trailing "/.default" or a trailing '/':
 * "https://management.azure.com/" equals "https://management.azure.com". */
bool auth_audience_equal(const char *a, const char *b);
/* True if host (lowercase or not, no port) lies under the host of audience:
 * "myvault.vault.azure.net" under "https://vault.azure.net". The SDKs' challenge check. */
bool auth_audience_covers_host(const char *audience, const char *host);

/* The error answer of a token endpoint: {"error": "invalid_client", "error_description":
 * "AADSTS7000215: ...", "error_codes": [7000215], ...} (README §6.1, §6.2). *ret_error and
 * *ret_description (either may be NULL to skip) get new strings, or NULL when absent.
 * Returns 0, -EBADMSG (not JSON, no string "error"), -ENOMEM. */
int auth_decode_error(const char *body, size_t len, char **ret_error, char **ret_description);
