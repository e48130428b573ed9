/* SPDX-License-Identifier: MIT */
#pragma once

/* The configuration: /etc/cmkd/cmkd.conf, systemd-style INI read with libinih into a
 * validated struct conf. Parsing is pure but for reading the file. A new conf is built
 * whole and validated before it replaces the old one (start-up and SIGHUP). */

#include "calendar.h"
#include "macro.h"
#include "model.h"
#include "policy.h"

#define CONF_PATH_DEFAULT "/etc/cmkd/cmkd.conf"
#define CONF_FILE_SIZE_MAX (1024 * 1024)

enum auth_method {
        AUTH_MANAGED_IDENTITY,
        AUTH_CLIENT_SECRET,
        AUTH_WORKLOAD_IDENTITY,
        _AUTH_MAX,
        _AUTH_INVALID = -EINVAL,
};

enum run_mode {
        MODE_ENFORCE,
        MODE_ALERT_ONLY,
        MODE_DRY_RUN,
        _MODE_MAX,
        _MODE_INVALID = -EINVAL,
};

enum update_method {
        UPDATE_METHOD_PUT,   /* the product docs' REST sample */
        UPDATE_METHOD_PATCH, /* the spec's MongoClusters_Update */
        _UPDATE_METHOD_MAX,
        _UPDATE_METHOD_INVALID = -EINVAL,
};

/* Endpoints of one Azure cloud, after the preset and any override. URLs carry no
 * trailing slash. */
struct cloud {
        char *name;             /* "AzurePublicCloud", ... */
        char *arm_endpoint;     /* "https://management.azure.com" */
        char *arm_audience;     /* "https://management.azure.com/" (IMDS resource; scope adds ".default") */
        char *authority_host;   /* "https://login.microsoftonline.com" */
        char **vault_suffixes;  /* strv: "vault.azure.net" */
        char *vault_audience;   /* "https://vault.azure.net" */
        char **hsm_suffixes;    /* strv: "managedhsm.azure.net" */
        char *hsm_audience;     /* "https://managedhsm.azure.net" */
        char *imds_endpoint;    /* "http://169.254.169.254" */
};

/* Bits of struct policy_override.set: which keys the override section names. */
enum policy_key {
        POLICY_KEY_STALE_VERSION = 1u << 0,
        POLICY_KEY_UPDATE_TARGET = 1u << 1,
        POLICY_KEY_EXPIRY_WARNING = 1u << 2,
        POLICY_KEY_EXPIRY_CRITICAL = 1u << 3,
        POLICY_KEY_MAX_KEY_AGE = 1u << 4,
        POLICY_KEY_REQUIRE_ROTATION = 1u << 5,
        POLICY_KEY_CLOCK_SKEW = 1u << 6,
};

/* A [Policy:MATCH] section. MATCH is a glob on the cluster name, or (when it starts
 * with '/') a glob on the ARM id, compared case-insensitively. Later sections win. */
struct policy_override {
        char *match;
        unsigned set; /* enum policy_key bits */
        struct policy_conf policy;
};

struct conf {
        char *path; /* the file it came from, or the name given to conf_load_string() */

        /* [Azure] */
        struct cloud cloud;
        enum auth_method auth;
        char *tenant_id;
        char *client_id;            /* UAMI client id for IMDS, or the app id */
        char *client_secret_file;   /* path; a relative name is looked up in $CREDENTIALS_DIRECTORY */
        char *federated_token_file; /* default: $AZURE_FEDERATED_TOKEN_FILE */
        char **subscriptions;       /* strv; empty = every subscription visible */
        char **resource_groups;     /* strv; empty = all */
        char **vault_subscriptions; /* strv; where to look up vaults; empty = subscriptions */

        /* [Discovery] */
        char **include;      /* name globs; empty = all */
        char **exclude;      /* name globs */
        char **include_tags; /* "name=glob" */
        char **exclude_tags;

        /* [Network] */
        char *ca_file;
        char **connect_to; /* curl CURLOPT_CONNECT_TO entries, in order */
        unsigned max_concurrent_requests;
        usec_t request_timeout_usec;
        unsigned max_retries;

        /* [Daemon] */
        usec_t poll_interval_usec;
        char *state_directory;
        enum run_mode mode;
        usec_t cache_ttl_usec; /* vaults, identities, role assignments, rotation policies */
        int log_level;

        /* [Policy] */
        struct policy_conf policy;
        enum update_method update_method;
        unsigned max_updates_per_sweep; /* 0 = no update at all */
        struct change_window change_windows[CHANGE_WINDOWS_MAX];
        size_t n_change_windows;     /* 0 = always */
        usec_t version_grace_usec;   /* old version still current this recently: alert if disabled */
        struct policy_override *overrides;
        size_t n_overrides;

        /* [Alerts] */
        usec_t repeat_interval_usec;

        /* [Report] */
        char *report_directory;
        struct report_schedule report_schedule;
        unsigned report_keep; /* reports of each format kept; 0 = keep all */

        /* [Metrics] */
        char *metrics_file; /* Prometheus textfile; NULL = none */
};

/* Reads and validates path. On success *ret is a new conf. On failure returns -EINVAL
 * (or -errno of reading the file: -ENOENT, -EACCES, -EPERM for a file writable by others,
 * -EFBIG over CONF_FILE_SIZE_MAX) and *ret_errors (if given) gets every problem found,
 * each naming the file, line, key, value and what is accepted. Logs nothing. */
int conf_load(const char *path, struct conf **ret, char ***ret_errors);
/* Same for text in memory; 'name' stands in for the file name in errors. */
int conf_load_string(const char *text, const char *name, struct conf **ret, char ***ret_errors);
/* A conf with every default, as if the file were empty. */
int conf_new_default(struct conf **ret);
struct conf *conf_free(struct conf *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct conf *, conf_free);

/* The policy for one cluster: [Policy] with every matching override applied in order. */
void conf_policy_for(const struct conf *c, const struct cluster *cl, struct policy_conf *ret);
/* True if the cluster passes [Discovery] include/exclude by name and tag. */
bool conf_cluster_selected(const struct conf *c, const struct cluster *cl);

/* Presets: AzurePublicCloud, AzureChinaCloud, AzureUSGovernment. */
int cloud_preset(const char *name, struct cloud *ret);
void cloud_done(struct cloud *c);

const char *auth_method_to_string(enum auth_method a);
enum auth_method auth_method_from_string(const char *s);
const char *run_mode_to_string(enum run_mode m);
enum run_mode run_mode_from_string(const char *s);
const char *update_method_to_string(enum update_method m);
enum update_method update_method_from_string(const char *s);
