/* SPDX-License-Identifier: MIT */
#pragma once

/* The configuration: /etc/cmkd/cmkd.conf, systemd-style INI read with libinih into a
 * validated struct conf. Parsing reads only the file and two environment variables
 * ($STATE_DIRECTORY, $AZURE_FEDERATED_TOKEN_FILE). A new conf is built whole and
 * validated before it replaces the old one (start-up and SIGHUP). Not thread-safe: it sets
 * libinih's global options for the duration of a parse. Every key, its type, default and
 * range: the key table (conf_keys()) and conf/cmkd.conf, which test-conf keeps equal. */

#include <stdio.h>
#include <sys/stat.h>

#include "calendar.h"
#include "cloud.h"
#include "macro.h"
#include "model.h"
#include "policy.h"

#define CONF_PATH_DEFAULT  "/etc/cmkd/cmkd.conf"
#define CONF_FILE_SIZE_MAX (1024 * 1024)
/* Longest line, without its newline. Longer lines are an error, never truncated. */
#define CONF_LINE_MAX 4096
/* conf_load() stops collecting after this many errors and says how many it left out. */
#define CONF_ERRORS_MAX 100
/* [Policy:MATCH] sections. */
#define CONF_OVERRIDES_MAX 256
/* Entries of one list key (Subscriptions=, Include=, ConnectTo=, ...). */
#define CONF_LIST_MAX 1024

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
        unsigned set;              /* enum policy_key bits */
        struct policy_conf policy; /* only the fields named in 'set' mean anything */
};

/* Every string and strv here is owned by the conf (conf_free()). An empty list is NULL
 * or an empty strv: use strv_length(). */
struct conf {
        char *path; /* the file it came from, or the name given to conf_load_string() */

        /* [Azure] */
        struct cloud cloud; /* the Cloud= preset with the endpoint overrides applied */
        enum auth_method auth;
        char *tenant_id;            /* lowercase GUID or NULL */
        char *client_id;            /* lowercase GUID or NULL: UAMI client id for IMDS, or the app id */
        char *client_secret_file;   /* path; a relative name is looked up in $CREDENTIALS_DIRECTORY */
        char *federated_token_file; /* default: $AZURE_FEDERATED_TOKEN_FILE */
        char **subscriptions;       /* strv of lowercase GUIDs; empty = every subscription visible */
        char **resource_groups;     /* strv; empty = all */
        char **vault_subscriptions; /* strv; where to look up vaults; empty = subscriptions */

        /* [Discovery] */
        char **include;      /* name globs ('/...': ARM id globs); empty = all */
        char **exclude;      /* name globs */
        char **include_tags; /* "name=glob" or "name"; empty = no tag needed */
        char **exclude_tags;

        /* [Network] */
        char *ca_file;     /* NULL = the system's CA bundle */
        char **connect_to; /* curl CURLOPT_CONNECT_TO entries, in order */
        unsigned max_concurrent_requests;
        usec_t request_timeout_usec;
        unsigned max_retries;

        /* [Daemon] */
        usec_t poll_interval_usec;
        char *state_directory; /* default /var/lib/cmkd, or $STATE_DIRECTORY's first entry */
        enum run_mode mode;
        usec_t cache_ttl_usec; /* vaults, identities, role assignments, rotation policies */
        int log_level;         /* LOG_ERR ... LOG_DEBUG, for log_set_max_level() */

        /* [Policy] */
        struct policy_conf policy;
        enum update_method update_method;
        unsigned max_updates_per_sweep; /* 0 = no update at all */
        usec_t update_timeout_usec;     /* how long an update is followed, from its request on */
        struct change_window change_windows[CHANGE_WINDOWS_MAX];
        size_t n_change_windows;   /* 0 = always */
        usec_t version_grace_usec; /* old version still current this recently: alert if disabled */
        struct policy_override *overrides;
        size_t n_overrides;

        /* [Alerts] */
        usec_t repeat_interval_usec;

        /* [Report] */
        char *report_directory; /* default: state_directory + "/reports" */
        struct report_schedule report_schedule;
        unsigned report_keep; /* reports of each format kept; 0 = keep all */

        /* [Metrics] */
        char *metrics_file; /* Prometheus textfile; NULL = none */
};

/* Reads and validates path. *ret_errors (if given) is set to NULL first. On success *ret
 * is a new conf (owned by the caller). On failure *ret is untouched and, unless the
 * failure is -ENOMEM, *ret_errors (if given) gets a new strv (caller frees) of every
 * problem found, one line each, naming the file, line, section, key, value and what is
 * accepted (format: tests/conf/README). The return value is:
 *   -EINVAL  the content is invalid, or path is a directory, device, FIFO or socket;
 *   -EPERM   the file is writable by group or others, or owned by neither root nor the
 *            running user (the reason is in *ret_errors);
 *   -EFBIG   larger than CONF_FILE_SIZE_MAX;
 *   -ENOENT, -EACCES, ...: opening or reading failed;
 *   -ENOMEM.
 * A symlink is followed (deployments such as NixOS link /etc files into a store); the
 * checks apply to the file actually opened. Logs nothing. */
int conf_load(const char *path, struct conf **ret, char ***ret_errors);
/* Same for text in memory; 'name' stands in for the file name in errors. No file checks. */
int conf_load_string(const char *text, const char *name, struct conf **ret, char ***ret_errors);
/* A conf with every default, as if the file were empty. Reads $STATE_DIRECTORY and
 * $AZURE_FEDERATED_TOKEN_FILE like conf_load(). Returns 0, -ENOMEM, or -EINVAL if one of
 * those variables is invalid. */
int conf_new_default(struct conf **ret);
struct conf *conf_free(struct conf *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct conf *, conf_free);

/* The policy for one cluster: [Policy] with every matching override applied in file
 * order (a later section wins for a key both set). If the result has
 * key_expiry_critical_usec > key_expiry_warning_usec (two overrides that each passed
 * validation but combine badly), critical is lowered to warning. */
void conf_policy_for(const struct conf *c, const struct cluster *cl, struct policy_conf *ret);
/* True if the cluster passes discovery: its subscription is in Subscriptions= and its
 * resource group in ResourceGroups= (when those are set; case-insensitive), its name
 * (or ARM id, for patterns starting with '/') matches an Include= glob (when set) and no
 * Exclude= glob, and its tags match an IncludeTag= (when set) and no ExcludeTag=. */
bool conf_cluster_selected(const struct conf *c, const struct cluster *cl);
/* True if glob (a Discovery or [Policy:MATCH] pattern) matches the cluster: a pattern
 * starting with '/' is matched against the ARM id, any other against the name; both
 * case-insensitively (ARM names and ids are). */
bool conf_cluster_matches(const struct cluster *cl, const char *glob);

/* Writes the effective configuration as INI text, every key with its value, sections in
 * the order of the key table, then the override sections. Parsing the output gives an
 * equal conf. Returns 0 or -errno of writing. */
int conf_dump(const struct conf *c, FILE *f);

/* Checks what conf_load() checks on the opened file: regular file, size, owner (root or
 * euid) and mode (not writable by group or others). Returns 0, -EINVAL, -EFBIG or -EPERM;
 * on failure *ret_reason (if given) gets a new string: the reason and how to fix it. */
int conf_check_stat(const struct stat *st, uid_t euid, char **ret_reason);

/* ---- The key table: one row per key (STYLE.md "Config"). Read-only. ----------------- */

struct conf_parse_state;
struct conf_key;
/* Parses value into field. Returns 0, -EINVAL/-ERANGE (then *ret_why may name the
 * problem, a static string), or -ENOMEM. */
typedef int (*conf_parse_fn)(struct conf_parse_state *st, const struct conf_key *k, const char *value,
                             void *field, const char **ret_why);
/* Formats field as values the parser accepts: a new strv with one element per line to
 * write ("Key=element"; lists give one per entry, an empty list one ""). NULL on -ENOMEM. */
typedef char **(*conf_format_fn)(const struct conf_key *k, const void *field);

enum conf_key_flags {
        CONF_KEY_PER_CLUSTER = 1u << 0, /* also allowed in [Policy:MATCH]; offset into struct policy_conf */
        CONF_KEY_CLOUD = 1u << 1,       /* endpoint override; offset into struct cloud */
        CONF_KEY_LIST = 1u << 2,        /* repeated assignments accumulate; empty resets */
};

struct conf_key {
        const char *section; /* "Azure", "Policy", ... */
        const char *key;     /* "PollIntervalSec" */
        conf_parse_fn parse;
        conf_format_fn format;
        size_t offset;             /* into struct conf, struct policy_conf or struct cloud (flags) */
        const char *default_value; /* as written in conf/cmkd.conf; "" = empty */
        uint64_t min, max;         /* numbers and time spans (usec) */
        const char *type;          /* "time span", "integer", "boolean", "list of GUIDs", ... */
        const char *accepted;      /* for errors and docs; NULL: made from min and max */
        unsigned flags;            /* enum conf_key_flags */
        unsigned policy_bit;       /* enum policy_key, for CONF_KEY_PER_CLUSTER */
};

/* The key table and its length. */
const struct conf_key *conf_keys(size_t *ret_n);
/* The accepted values of a key in words, e.g. "a time span from 10s to 1d" (new string,
 * NULL on -ENOMEM). */
char *conf_key_accepted(const struct conf_key *k);

const char *auth_method_to_string(enum auth_method a);
enum auth_method auth_method_from_string(const char *s);
const char *run_mode_to_string(enum run_mode m);
enum run_mode run_mode_from_string(const char *s);
const char *update_method_to_string(enum update_method m);
enum update_method update_method_from_string(const char *s);
