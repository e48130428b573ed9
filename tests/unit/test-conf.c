/* SPDX-License-Identifier: MIT */
/* The configuration: defaults, conf/cmkd.conf against the key table, every value type,
 * errors (exact lines), lists, overrides, discovery, line handling, file checks,
 * allocation failures and dump round trips. */
#include <ctype.h>
#include <fcntl.h>
#include <ini.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "conf.h"
#include "mem.h"
#include "strv.h"

#define SUB1   "00000000-0000-0000-0000-000000000001"
#define SUB2   "00000000-0000-0000-0000-000000000002"
#define TENANT "72f988bf-86f1-41af-91ab-2d7cd011db47"

static void clean_env(void) {
        unsetenv("STATE_DIRECTORY");
        unsetenv("AZURE_FEDERATED_TOKEN_FILE");
}

static int setup(void **state) {
        clean_env();
        return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

static char *drop(char *s) {
        mem_free(s);
        return NULL;
}

static struct conf *load_ok(const char *text) {
        _cleanup_strv_free_ char **errors = NULL;
        struct conf *c = NULL;
        int r = conf_load_string(text, "t.conf", &c, &errors);

        if (r < 0) {
                STRV_FOREACH(e, errors)
                        print_error("  %s\n", *e);
                fail_msg("conf_load_string failed with %d for:\n%s", r, text);
        }
        assert_null(errors);
        return c;
}

/* Loads text that must fail and returns its errors joined by '\n'. */
static char *load_errors(const char *text) {
        _cleanup_strv_free_ char **errors = NULL;
        struct conf *c = (struct conf *) 0x1;
        size_t len = 0;
        char *joined;
        int r = conf_load_string(text, "t.conf", &c, &errors);

        if (r >= 0)
                fail_msg("conf_load_string accepted:\n%s", text);
        assert_int_equal(r, -EINVAL);
        assert_ptr_equal(c, (struct conf *) 0x1); /* untouched */
        assert_non_null(errors);
        STRV_FOREACH(e, errors)
                len += strlen(*e) + 1;
        joined = mem_calloc(len + 1, 1);
        assert_non_null(joined);
        STRV_FOREACH(e, errors) {
                strcat(joined, *e);
                strcat(joined, "\n");
        }
        return joined;
}

static void expect_errors(const char *text, const char *want) {
        _cleanup_free_ char *got = load_errors(text);

        if (!streq(got, want))
                fail_msg("for:\n%s\ngot:\n%swant:\n%s", text, got, want);
}

static void assert_strv_equal(char **a, char **b, const char *what) {
        if (!strv_equal(a, b))
                fail_msg("%s differs", what);
}

#define EQ_STR(f)                                                                                           \
        do {                                                                                                \
                if (!streq_ptr(a->f, b->f))                                                                 \
                        fail_msg(#f ": \"%s\" != \"%s\"", strna(a->f), strna(b->f));                        \
        } while (0)
#define EQ_STRV(f) assert_strv_equal(a->f, b->f, #f)
#define EQ_NUM(f)                                                                                           \
        do {                                                                                                \
                if (a->f != b->f)                                                                           \
                        fail_msg(#f ": %llu != %llu", (unsigned long long) a->f,                            \
                                 (unsigned long long) b->f);                                                \
        } while (0)

static void policy_equal(const struct policy_conf *a, const struct policy_conf *b) {
        EQ_NUM(stale_version);
        EQ_NUM(update_target);
        EQ_NUM(key_expiry_warning_usec);
        EQ_NUM(key_expiry_critical_usec);
        EQ_NUM(max_key_age_usec);
        EQ_NUM(require_rotation_policy);
        EQ_NUM(clock_skew_usec);
}

static void cloud_equal(const struct cloud *a, const struct cloud *b) {
        EQ_STR(name);
        EQ_STR(arm_endpoint);
        EQ_STR(arm_audience);
        EQ_STR(authority_host);
        EQ_STRV(vault_suffixes);
        EQ_STR(vault_audience);
        EQ_STRV(hsm_suffixes);
        EQ_STR(hsm_audience);
        EQ_STR(imds_endpoint);
}

/* Field by field, every field of struct conf but path. */
static void conf_equal(const struct conf *a, const struct conf *b) {
        cloud_equal(&a->cloud, &b->cloud);
        EQ_NUM(auth);
        EQ_STR(tenant_id);
        EQ_STR(client_id);
        EQ_STR(client_secret_file);
        EQ_STR(federated_token_file);
        EQ_STRV(subscriptions);
        EQ_STRV(resource_groups);
        EQ_STRV(vault_subscriptions);
        EQ_STRV(include);
        EQ_STRV(exclude);
        EQ_STRV(include_tags);
        EQ_STRV(exclude_tags);
        EQ_STR(ca_file);
        EQ_STRV(connect_to);
        EQ_NUM(max_concurrent_requests);
        EQ_NUM(request_timeout_usec);
        EQ_NUM(max_retries);
        EQ_NUM(poll_interval_usec);
        EQ_STR(state_directory);
        EQ_NUM(mode);
        EQ_NUM(cache_ttl_usec);
        EQ_NUM(log_level);
        policy_equal(&a->policy, &b->policy);
        EQ_NUM(update_method);
        EQ_NUM(max_updates_per_sweep);
        EQ_NUM(update_timeout_usec);
        EQ_NUM(n_change_windows);
        assert_memory_equal(a->change_windows, b->change_windows,
                            sizeof(struct change_window) * a->n_change_windows);
        EQ_NUM(version_grace_usec);
        EQ_NUM(n_overrides);
        for (size_t i = 0; i < a->n_overrides; i++) {
                assert_string_equal(a->overrides[i].match, b->overrides[i].match);
                assert_int_equal(a->overrides[i].set, b->overrides[i].set);
                policy_equal(&a->overrides[i].policy, &b->overrides[i].policy);
        }
        EQ_NUM(repeat_interval_usec);
        EQ_STR(report_directory);
        EQ_NUM(report_schedule.kind);
        EQ_NUM(report_schedule.weekday);
        EQ_NUM(report_schedule.minute);
        EQ_NUM(report_keep);
        EQ_STR(metrics_file);
}

static char *read_text(const char *path) {
        FILE *f = fopen(path, "re");
        char *text;
        long n;

        if (!f)
                return NULL;
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        rewind(f);
        text = mem_malloc((size_t) n + 1);
        assert_non_null(text);
        assert_int_equal(fread(text, 1, (size_t) n, f), (size_t) n);
        text[n] = 0;
        fclose(f);
        return text;
}

/* conf/cmkd.conf from the top of the tree, where `make unit` runs. */
static char *read_cmkd_conf(void) {
        char *text = read_text("conf/cmkd.conf");

        if (!text)
                fail_msg("conf/cmkd.conf not found: run the unit tests from the top of the source tree");
        return text;
}

/* ---- defaults and conf/cmkd.conf ----------------------------------------------------- */

static void test_defaults(void **state) {
        _cleanup_(conf_freep) struct conf *c = NULL;

        assert_int_equal(conf_new_default(&c), 0);
        assert_string_equal(c->cloud.name, "AzurePublicCloud");
        assert_string_equal(c->cloud.arm_endpoint, "https://management.azure.com");
        assert_string_equal(c->cloud.arm_audience, "https://management.azure.com/");
        assert_string_equal(c->cloud.authority_host, "https://login.microsoftonline.com");
        assert_string_equal(c->cloud.vault_suffixes[0], "vault.azure.net");
        assert_null(c->cloud.vault_suffixes[1]);
        assert_string_equal(c->cloud.vault_audience, "https://vault.azure.net");
        assert_string_equal(c->cloud.hsm_suffixes[0], "managedhsm.azure.net");
        assert_string_equal(c->cloud.hsm_audience, "https://managedhsm.azure.net");
        assert_string_equal(c->cloud.imds_endpoint, "http://169.254.169.254");
        assert_int_equal(c->auth, AUTH_MANAGED_IDENTITY);
        assert_null(c->tenant_id);
        assert_null(c->client_id);
        assert_null(c->client_secret_file);
        assert_null(c->federated_token_file);
        assert_int_equal(strv_length(c->subscriptions), 0);
        assert_int_equal(strv_length(c->include), 0);
        assert_null(c->ca_file);
        assert_int_equal(strv_length(c->connect_to), 0);
        assert_int_equal(c->max_concurrent_requests, 16);
        assert_int_equal(c->request_timeout_usec, 30 * USEC_PER_SEC);
        assert_int_equal(c->max_retries, 4);
        assert_int_equal(c->poll_interval_usec, 5 * USEC_PER_MINUTE);
        assert_string_equal(c->state_directory, "/var/lib/cmkd");
        assert_int_equal(c->mode, MODE_ENFORCE);
        assert_int_equal(c->cache_ttl_usec, 10 * USEC_PER_MINUTE);
        assert_int_equal(c->log_level, LOG_INFO);
        assert_int_equal(c->policy.stale_version, STALE_VERSION_ALERT);
        assert_int_equal(c->policy.update_target, UPDATE_TARGET_LATEST);
        assert_int_equal(c->policy.key_expiry_warning_usec, 30 * USEC_PER_DAY);
        assert_int_equal(c->policy.key_expiry_critical_usec, 7 * USEC_PER_DAY);
        assert_int_equal(c->policy.max_key_age_usec, 730 * USEC_PER_DAY);
        assert_false(c->policy.require_rotation_policy);
        assert_int_equal(c->policy.clock_skew_usec, 5 * USEC_PER_MINUTE);
        assert_int_equal(c->update_method, UPDATE_METHOD_PUT);
        assert_int_equal(c->max_updates_per_sweep, 10);
        assert_int_equal(c->update_timeout_usec, 30 * USEC_PER_MINUTE);
        assert_int_equal(c->n_change_windows, 0);
        assert_int_equal(c->version_grace_usec, 2 * USEC_PER_HOUR);
        assert_int_equal(c->n_overrides, 0);
        assert_int_equal(c->repeat_interval_usec, 4 * USEC_PER_HOUR);
        assert_string_equal(c->report_directory, "/var/lib/cmkd/reports");
        assert_int_equal(c->report_schedule.kind, SCHEDULE_DAILY);
        assert_int_equal(c->report_schedule.minute, 6 * 60);
        assert_int_equal(c->report_keep, 30);
        assert_null(c->metrics_file);
        assert_string_equal(c->path, "(defaults)");
}

/* Every default in the key table parses (a table bug would otherwise only show at run
 * time), and the accepted text exists for each key. */
static void test_key_table(void **state) {
        size_t n;
        const struct conf_key *k = conf_keys(&n);

        assert_int_equal(n, 48);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *a = conf_key_accepted(&k[i]);

                assert_non_null(a);
                assert_true(strlen(a) > 3);
                assert_non_null(k[i].type);
                for (size_t j = 0; j < i; j++)
                        if (streq(k[i].section, k[j].section) && streq(k[i].key, k[j].key))
                                fail_msg("key %s listed twice", k[i].key);
                if (k[i].flags & CONF_KEY_PER_CLUSTER)
                        assert_true(streq(k[i].section, "Policy") && k[i].policy_bit != 0);
        }
}

/* Uncomments the "#Key=value" lines (no blank after '#': examples are written "#   Key=")
 * so that the file's documented defaults are parsed for real. */
static char *uncomment_defaults(const char *text) {
        char *out = mem_strdup(text), *w = out;

        assert_non_null(out);
        for (const char *p = text; *p;) {
                size_t n = strcspn(p, "\n");

                if (p[0] == '#' && isupper((unsigned char) p[1])) {
                        size_t k = 1;

                        while (k < n && isalnum((unsigned char) p[k]))
                                k++;
                        if (k < n && p[k] == '=')
                                p++, n--;
                }
                memcpy(w, p, n);
                w += n;
                p += n;
                if (*p == '\n')
                        *w++ = *p++;
        }
        *w = 0;
        return out;
}

static void test_cmkd_conf(void **state) {
        _cleanup_free_ char *text = read_cmkd_conf(), *uncommented = NULL;
        _cleanup_(conf_freep) struct conf *def = NULL, *as_is = NULL, *c = NULL;
        const struct conf_key *keys;
        size_t n_keys;

        assert_int_equal(conf_new_default(&def), 0);
        as_is = load_ok(text);
        conf_equal(as_is, def);

        uncommented = uncomment_defaults(text);
        assert_string_not_equal(uncommented, text);
        c = load_ok(uncommented);
        conf_equal(c, def);

        /* Every key of the table is in the file, once, in its section, at its default, with
         * an explanation right above it. */
        keys = conf_keys(&n_keys);
        for (size_t i = 0; i < n_keys; i++) {
                char section[64], want[128];
                const char *sec, *line, *next_sec;
                size_t found = 0;

                snprintf(section, sizeof section, "\n[%s]\n", keys[i].section);
                sec = strstr(text, section);
                if (!sec)
                        fail_msg("conf/cmkd.conf has no [%s] section", keys[i].section);
                next_sec = strstr(sec + 1, "\n[");
                snprintf(want, sizeof want, "\n#%s=", keys[i].key);
                for (line = strstr(text, want); line; line = strstr(line + 1, want)) {
                        const char *value = line + strlen(want), *prev;
                        size_t vlen = strcspn(value, "\n");

                        found++;
                        if (line < sec || (next_sec && line > next_sec))
                                fail_msg("#%s= is not in [%s]", keys[i].key, keys[i].section);
                        if (vlen != strlen(keys[i].default_value) ||
                            strncmp(value, keys[i].default_value, vlen))
                                fail_msg("#%s=%.*s in conf/cmkd.conf, but its default is \"%s\"",
                                         keys[i].key, (int) vlen, value, keys[i].default_value);
                        for (prev = line - 1; prev > text && prev[-1] != '\n'; prev--)
                                ;
                        if (!startswith(prev, "# ") || prev[2] == '\n')
                                fail_msg("#%s= has no explanation on the line above", keys[i].key);
                }
                if (found != 1)
                        fail_msg("#%s= appears %zu times in conf/cmkd.conf, want 1", keys[i].key, found);
        }
}

/* ---- values -------------------------------------------------------------------------- */

static void test_good_values(void **state) {
        _cleanup_(conf_freep) struct conf *c =
                load_ok("[Azure]\n"
                        "Cloud=azurechinacloud\n"
                        "Authentication=Client-Secret\n"
                        "TenantId=72F988BF-86F1-41AF-91AB-2D7CD011DB47\n"
                        "ClientId=" SUB1 "\n"
                        "ClientSecretFile=azure-secret\n"
                        "Subscriptions=" SUB1 " " SUB2 "\n"
                        "ResourceGroups=rg-1 Prod.(x)\n"
                        "VaultSubscriptions=" SUB2 "\n"
                        "ResourceManagerEndpoint=HTTPS://Management.Example.COM:8443/base//\n"
                        "ResourceManagerAudience=https://management.example.com\n"
                        "AuthorityHost=https://[::1]:8443\n"
                        "KeyVaultSuffix=Vault.Azure.CN vault.azure.net\n"
                        "KeyVaultAudience=https://vault.example.com/\n"
                        "ManagedHsmSuffix=managedhsm.azure.cn\n"
                        "ManagedHsmAudience=https://hsm.example.com\n"
                        "IMDSEndpoint=http://127.0.0.1:8080/\n"
                        "[Discovery]\n"
                        "Include=prod-* \"with space\"\n"
                        "Exclude=*-test\n"
                        "IncludeTag=env=prod 'team=data platform' cmk\n"
                        "ExcludeTag=cmkd=off\n"
                        "[Network]\n"
                        "CAFile=/etc/ssl/test-ca.pem\n"
                        "ConnectTo=management.azure.com:443:127.0.0.1:8443 ::[::1]:9443 :443:localhost:\n"
                        "MaxConcurrentRequests=256\n"
                        "RequestTimeoutSec=1\n"
                        "MaxRetries=0\n"
                        "[Daemon]\n"
                        "PollIntervalSec=10s\n"
                        "StateDirectory=/srv/cmkd/\n"
                        "Mode=dry-run\n"
                        "CacheTTLSec=0\n"
                        "LogLevel=debug\n"
                        "[Policy]\n"
                        "StaleVersion=update\n"
                        "UpdateTarget=versionless\n"
                        "UpdateMethod=patch\n"
                        "KeyExpiryWarningSec=60d\n"
                        "KeyExpiryCriticalSec=14d\n"
                        "MaxKeyAgeSec=0\n"
                        "RequireRotationPolicy=on\n"
                        "ClockSkewSec=0\n"
                        "MaxUpdatesPerSweep=0\n"
                        "UpdateTimeoutSec=2h 30min\n"
                        "ChangeWindow=Mon..Fri 22:00-06:00\n"
                        "VersionDisableGraceSec=1d\n"
                        "[Alerts]\n"
                        "RepeatIntervalSec=1h 30min\n"
                        "[Report]\n"
                        "Schedule=weekly Tue 07:30\n"
                        "Keep=0\n"
                        "[Metrics]\n"
                        "TextfilePath=/var/lib/prometheus/node-exporter/cmkd.prom\n");
        char buf[64];

        assert_string_equal(c->cloud.name, "AzureChinaCloud");
        assert_string_equal(c->cloud.arm_endpoint, "https://management.example.com:8443/base");
        assert_string_equal(c->cloud.arm_audience, "https://management.example.com/");
        assert_string_equal(c->cloud.authority_host, "https://[::1]:8443");
        assert_string_equal(c->cloud.vault_suffixes[0], "vault.azure.cn");
        assert_string_equal(c->cloud.vault_suffixes[1], "vault.azure.net");
        assert_string_equal(c->cloud.vault_audience, "https://vault.example.com");
        assert_string_equal(c->cloud.hsm_suffixes[0], "managedhsm.azure.cn");
        assert_string_equal(c->cloud.hsm_audience, "https://hsm.example.com");
        assert_string_equal(c->cloud.imds_endpoint, "http://127.0.0.1:8080");
        assert_int_equal(c->auth, AUTH_CLIENT_SECRET);
        assert_string_equal(c->tenant_id, TENANT);
        assert_string_equal(c->client_secret_file, "azure-secret");
        assert_int_equal(strv_length(c->subscriptions), 2);
        assert_string_equal(c->resource_groups[1], "Prod.(x)");
        assert_string_equal(c->include[1], "with space");
        assert_string_equal(c->include_tags[1], "team=data platform");
        assert_int_equal(strv_length(c->connect_to), 3);
        assert_string_equal(c->connect_to[1], "::[::1]:9443");
        assert_string_equal(c->ca_file, "/etc/ssl/test-ca.pem");
        assert_int_equal(c->max_concurrent_requests, 256);
        assert_int_equal(c->request_timeout_usec, USEC_PER_SEC);
        assert_int_equal(c->max_retries, 0);
        assert_int_equal(c->poll_interval_usec, 10 * USEC_PER_SEC);
        assert_string_equal(c->state_directory, "/srv/cmkd");
        assert_string_equal(c->report_directory, "/srv/cmkd/reports"); /* follows StateDirectory= */
        assert_int_equal(c->mode, MODE_DRY_RUN);
        assert_int_equal(c->cache_ttl_usec, 0);
        assert_int_equal(c->log_level, LOG_DEBUG);
        assert_int_equal(c->policy.stale_version, STALE_VERSION_UPDATE);
        assert_int_equal(c->policy.update_target, UPDATE_TARGET_VERSIONLESS);
        assert_int_equal(c->update_method, UPDATE_METHOD_PATCH);
        assert_int_equal(c->policy.key_expiry_warning_usec, 60 * USEC_PER_DAY);
        assert_int_equal(c->policy.key_expiry_critical_usec, 14 * USEC_PER_DAY);
        assert_int_equal(c->policy.max_key_age_usec, 0);
        assert_true(c->policy.require_rotation_policy);
        assert_int_equal(c->policy.clock_skew_usec, 0);
        assert_int_equal(c->max_updates_per_sweep, 0);
        assert_int_equal(c->update_timeout_usec, 150 * USEC_PER_MINUTE);
        assert_int_equal(c->n_change_windows, 1);
        assert_string_equal(change_window_format(&c->change_windows[0], buf, sizeof buf),
                            "Mon..Fri 22:00-06:00");
        assert_int_equal(c->version_grace_usec, USEC_PER_DAY);
        assert_int_equal(c->repeat_interval_usec, 90 * USEC_PER_MINUTE);
        assert_int_equal(c->report_schedule.kind, SCHEDULE_WEEKLY);
        assert_int_equal(c->report_keep, 0);
        assert_string_equal(c->metrics_file, "/var/lib/prometheus/node-exporter/cmkd.prom");
}

static void test_booleans(void **state) {
        static const char *const yes[] = { "yes", "YES", "true", "True", "on", "1" }, *const no[] = {
                "no", "No", "false", "FALSE", "off", "0"
        };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                char text[128];
                struct conf *c;

                snprintf(text, sizeof text, "[Policy]\nRequireRotationPolicy=%s\n", yes[i]);
                c = load_ok(text);
                assert_true(c->policy.require_rotation_policy);
                conf_free(c);
                snprintf(text, sizeof text,
                         "[Policy]\nRequireRotationPolicy=yes\nRequireRotationPolicy=%s\n", no[i]);
                c = load_ok(text);
                assert_false(c->policy.require_rotation_policy);
                conf_free(c);
        }
}

/* One bad value per row; the whole error line is checked. */
static void test_bad_values(void **state) {
        static const struct {
                const char *text, *error;
        } t[] = {
                { "[Azure]\nCloud=AzureGermanCloud\n",
                  "t.conf:2: [Azure] Cloud=AzureGermanCloud: unknown cloud; accepted: AzurePublicCloud, "
                  "AzureChinaCloud, AzureUSGovernment" },
                { "[Azure]\nAuthentication=certificate\n",
                  "t.conf:2: [Azure] Authentication=certificate: unknown value; accepted: managed-identity, "
                  "client-secret, workload-identity" },
                { "[Azure]\nTenantId=contoso.onmicrosoft.com\n",
                  "t.conf:2: [Azure] TenantId=contoso.onmicrosoft.com: not a GUID; accepted: a GUID "
                  "(00000000-0000-0000-0000-000000000000), or empty" },
                { "[Azure]\nClientId=72f988bf-86f1-41af-91ab-2d7cd011db4\n",
                  "t.conf:2: [Azure] ClientId=72f988bf-86f1-41af-91ab-2d7cd011db4: not a GUID; accepted: a "
                  "GUID, or "
                  "empty (managed identity: the system-assigned one)" },
                { "[Azure]\nClientSecretFile=secrets/azure\n",
                  "t.conf:2: [Azure] ClientSecretFile=secrets/azure: neither an absolute path nor a "
                  "credential "
                  "name; accepted: an absolute path or a systemd credential name ([A-Za-z0-9_.:@-]), or "
                  "empty" },
                { "[Azure]\nFederatedTokenFile=token\n", "t.conf:2: [Azure] FederatedTokenFile=token: not "
                                                         "an absolute path; accepted: an absolute path, "
                                                         "or empty ($AZURE_FEDERATED_TOKEN_FILE)" },
                { "[Azure]\nSubscriptions=" SUB1 " my-subscription\n",
                  "t.conf:2: [Azure] Subscriptions=" SUB1
                  " my-subscription: not a GUID; accepted: subscription "
                  "GUIDs separated by spaces; empty resets" },
                { "[Azure]\nResourceGroups=rg.\n", "t.conf:2: [Azure] ResourceGroups=rg.: not a resource "
                                                   "group name; accepted: resource group "
                                                   "names separated by spaces; empty resets" },
                { "[Azure]\nVaultSubscriptions=\"" SUB1 "\n", "t.conf:2: [Azure] VaultSubscriptions=\"" SUB1
                                                              ": unbalanced quote; accepted: subscription "
                                                              "GUIDs separated by spaces; empty resets" },
                { "[Azure]\nResourceManagerEndpoint=http://management.azure.com\n",
                  "t.conf:2: [Azure] ResourceManagerEndpoint=http://management.azure.com: must start with "
                  "https://; accepted: an https:// URL, or empty for the cloud's" },
                { "[Azure]\nResourceManagerAudience=https://management.azure.com/?x=1\n",
                  "t.conf:2: [Azure] ResourceManagerAudience=https://management.azure.com/?x=1: a query or "
                  "fragment is not allowed; accepted: an https:// URL, or empty for the cloud's" },
                { "[Azure]\nAuthorityHost=https://user@login.microsoftonline.com\n",
                  "t.conf:2: [Azure] AuthorityHost=https://user@login.microsoftonline.com: user information "
                  "is "
                  "not allowed; accepted: an https:// URL, or empty for the cloud's" },
                { "[Azure]\nKeyVaultSuffix=vault.example.com\n",
                  "t.conf:2: [Azure] KeyVaultSuffix=vault.example.com: not a Key Vault DNS suffix cmkd "
                  "knows; "
                  "accepted: Key Vault DNS suffixes (vault.azure.net, ...) separated by spaces; empty "
                  "resets" },
                { "[Azure]\nKeyVaultAudience=https://-bad.example\n",
                  "t.conf:2: [Azure] KeyVaultAudience=https://-bad.example: bad host; accepted: an https:// "
                  "URL, "
                  "or empty for the cloud's" },
                { "[Azure]\nManagedHsmSuffix=vault.azure.net\n",
                  "t.conf:2: [Azure] ManagedHsmSuffix=vault.azure.net: not a Managed HSM DNS suffix cmkd "
                  "knows; "
                  "accepted: Managed HSM DNS suffixes (managedhsm.azure.net, ...) separated by spaces; "
                  "empty "
                  "resets" },
                { "[Azure]\nManagedHsmAudience=https://hsm.example:0\n",
                  "t.conf:2: [Azure] ManagedHsmAudience=https://hsm.example:0: bad port (1-65535); "
                  "accepted: an "
                  "https:// URL, or empty for the cloud's" },
                { "[Azure]\nIMDSEndpoint=https://169.254.169.254\n",
                  "t.conf:2: [Azure] IMDSEndpoint=https://169.254.169.254: must start with http://; "
                  "accepted: an "
                  "http:// URL, or empty for http://169.254.169.254" },
                { "[Discovery]\nInclude=prod-[ab\n", "t.conf:2: [Discovery] Include=prod-[ab: not a valid "
                                                     "glob ('[' without ']' or a trailing '\\'); "
                                                     "accepted: globs separated by spaces (fnmatch, "
                                                     "case-insensitive; '/...' matches the ARM id); "
                                                     "empty resets" },
                { "[Discovery]\nExclude=test\\\n", "t.conf:2: [Discovery] Exclude=test\\: not a valid glob "
                                                   "('[' without ']' or a trailing '\\'); "
                                                   "accepted: globs separated by spaces (fnmatch, "
                                                   "case-insensitive; '/...' matches the ARM id); "
                                                   "empty resets" },
                { "[Discovery]\nIncludeTag==prod\n",
                  "t.conf:2: [Discovery] IncludeTag==prod: empty or over-long tag name; accepted: NAME=GLOB "
                  "or "
                  "NAME (has the tag), separated by spaces; quote values with spaces; empty resets" },
                { "[Discovery]\nExcludeTag=a/b=c\n", "t.conf:2: [Discovery] ExcludeTag=a/b=c: tag names "
                                                     "cannot contain < > % & \\ ? /; accepted: "
                                                     "NAME=GLOB or NAME (has the tag), separated by spaces; "
                                                     "quote values with spaces; empty resets" },
                { "[Network]\nCAFile=ca.pem\n", "t.conf:2: [Network] CAFile=ca.pem: not an absolute path; "
                                                "accepted: an absolute path, or empty "
                                                "(the system's CA bundle)" },
                { "[Network]\nConnectTo=management.azure.com:443:127.0.0.1\n",
                  "t.conf:2: [Network] ConnectTo=management.azure.com:443:127.0.0.1: needs four "
                  "':'-separated "
                  "fields; accepted: HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT entries (curl --connect-to) "
                  "separated by spaces; empty resets" },
                { "[Network]\nConnectTo=a:443:b:70000\n",
                  "t.conf:2: [Network] ConnectTo=a:443:b:70000: bad port (1-65535); accepted: "
                  "HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT entries (curl --connect-to) separated by "
                  "spaces; "
                  "empty resets" },
                { "[Network]\nConnectTo=a_b:443:b:1\n",
                  "t.conf:2: [Network] ConnectTo=a_b:443:b:1: bad host name; accepted: "
                  "HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT entries (curl --connect-to) separated by "
                  "spaces; "
                  "empty resets" },
                { "[Network]\nConnectTo=a:443::\n",
                  "t.conf:2: [Network] ConnectTo=a:443::: connects to the same host and port: does nothing; "
                  "accepted: HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT entries (curl --connect-to) "
                  "separated by "
                  "spaces; empty resets" },
                { "[Network]\nMaxConcurrentRequests=0\n", "t.conf:2: [Network] MaxConcurrentRequests=0: out "
                                                          "of range; accepted: an integer from 1 to 256" },
                { "[Network]\nMaxConcurrentRequests=257\n",
                  "t.conf:2: [Network] MaxConcurrentRequests=257: out of range; accepted: an integer from 1 "
                  "to 256" },
                { "[Network]\nMaxConcurrentRequests=-1\n", "t.conf:2: [Network] MaxConcurrentRequests=-1: "
                                                           "not a whole number; accepted: an integer from 1 "
                                                           "to 256" },
                { "[Network]\nMaxRetries=4x\n", "t.conf:2: [Network] MaxRetries=4x: not a whole number; "
                                                "accepted: an integer from 0 to 10" },
                { "[Network]\nMaxRetries=99999999999999999999999\n",
                  "t.conf:2: [Network] MaxRetries=99999999999999999999999: out of range; accepted: an "
                  "integer "
                  "from 0 to 10" },
                { "[Network]\nRequestTimeoutSec=0\n", "t.conf:2: [Network] RequestTimeoutSec=0: out of "
                                                      "range; accepted: a time span from 1s to 10min "
                                                      "(e.g. 30s, 5min, 1h, 7d)" },
                { "[Daemon]\nPollIntervalSec=5 parsecs\n", "t.conf:2: [Daemon] PollIntervalSec=5 parsecs: "
                                                           "not a time span; accepted: a time span from 10s "
                                                           "to 1d (e.g. 30s, 5min, 1h, 7d)" },
                { "[Daemon]\nPollIntervalSec=9s\n", "t.conf:2: [Daemon] PollIntervalSec=9s: out of range; "
                                                    "accepted: a time span from 10s to 1d (e.g. "
                                                    "30s, 5min, 1h, 7d)" },
                { "[Daemon]\nPollIntervalSec=infinity\n", "t.conf:2: [Daemon] PollIntervalSec=infinity: out "
                                                          "of range; accepted: a time span from 10s to 1d "
                                                          "(e.g. 30s, 5min, 1h, 7d)" },
                { "[Daemon]\nStateDirectory=var/lib/cmkd\n",
                  "t.conf:2: [Daemon] StateDirectory=var/lib/cmkd: not an absolute path; accepted: an "
                  "absolute "
                  "path ($STATE_DIRECTORY when set by systemd)" },
                { "[Daemon]\nMode=enforcing\n", "t.conf:2: [Daemon] Mode=enforcing: unknown value; "
                                                "accepted: enforce, alert-only, dry-run" },
                { "[Daemon]\nCacheTTLSec=-1\n", "t.conf:2: [Daemon] CacheTTLSec=-1: not a time span; "
                                                "accepted: a time span from 0 to 1d (e.g. "
                                                "30s, 5min, 1h, 7d)" },
                { "[Daemon]\nLogLevel=verbose\n", "t.conf:2: [Daemon] LogLevel=verbose: unknown log level; "
                                                  "accepted: emerg, alert, crit, err, "
                                                  "warning, notice, info, debug (or 0-7)" },
                { "[Policy]\nStaleVersion=fix\n",
                  "t.conf:2: [Policy] StaleVersion=fix: unknown value; accepted: update, alert, ignore" },
                { "[Policy]\nUpdateTarget=newest\n",
                  "t.conf:2: [Policy] UpdateTarget=newest: unknown value; accepted: latest, versionless" },
                { "[Policy]\nUpdateMethod=post\n",
                  "t.conf:2: [Policy] UpdateMethod=post: unknown value; accepted: put, patch" },
                { "[Policy]\nKeyExpiryWarningSec=11y\n", "t.conf:2: [Policy] KeyExpiryWarningSec=11y: out "
                                                         "of range; accepted: a time span from 0 to 3650d "
                                                         "(e.g. 30s, 5min, 1h, 7d)" },
                { "[Policy]\nKeyExpiryCriticalSec=seven days\n",
                  "t.conf:2: [Policy] KeyExpiryCriticalSec=seven days: not a time span; accepted: a time "
                  "span from 0 "
                  "to 3650d (e.g. 30s, 5min, 1h, 7d)" },
                { "[Policy]\nMaxKeyAgeSec=2 eons\n",
                  "t.conf:2: [Policy] MaxKeyAgeSec=2 eons: not a time span; accepted: a time span from 0 to "
                  "36500d (e.g. 30s, 5min, 1h, 7d)" },
                { "[Policy]\nRequireRotationPolicy=maybe\n",
                  "t.conf:2: [Policy] RequireRotationPolicy=maybe: not a boolean; accepted: yes, no, true, "
                  "false, "
                  "on, off, 1, 0" },
                { "[Policy]\nClockSkewSec=2h\n", "t.conf:2: [Policy] ClockSkewSec=2h: out of range; "
                                                 "accepted: a time span from 0 to 1h (e.g. 30s, "
                                                 "5min, 1h, 7d)" },
                { "[Policy]\nMaxUpdatesPerSweep=10001\n", "t.conf:2: [Policy] MaxUpdatesPerSweep=10001: out "
                                                          "of range; accepted: an integer from 0 to "
                                                          "10000" },
                { "[Policy]\nUpdateTimeoutSec=4s\n", "t.conf:2: [Policy] UpdateTimeoutSec=4s: out of range; "
                                                     "accepted: a time span from 5s to 1d (e.g. 30s, 5min, "
                                                     "1h, 7d)" },
                { "[Policy]\nUpdateTimeoutSec=0\n", "t.conf:2: [Policy] UpdateTimeoutSec=0: out of range; "
                                                    "accepted: a time span from 5s to 1d (e.g. 30s, 5min, "
                                                    "1h, 7d)" },
                { "[Policy]\nUpdateTimeoutSec=infinity\n", "t.conf:2: [Policy] UpdateTimeoutSec=infinity: out "
                                                           "of range; accepted: a time span from 5s to 1d (e.g. "
                                                           "30s, 5min, 1h, 7d)" },
                { "[Policy]\nUpdateTimeoutSec=25h\n", "t.conf:2: [Policy] UpdateTimeoutSec=25h: out of range; "
                                                      "accepted: a time span from 5s to 1d (e.g. 30s, 5min, "
                                                      "1h, 7d)" },
                { "[Policy]\nUpdateTimeoutSec=half an hour\n",
                  "t.conf:2: [Policy] UpdateTimeoutSec=half an hour: not a time span; accepted: a time span "
                  "from 5s to 1d (e.g. 30s, 5min, 1h, 7d)" },
                { "[Policy]\nChangeWindow=Mon..Fri 22:00\n",
                  "t.conf:2: [Policy] ChangeWindow=Mon..Fri 22:00: not a change window; accepted: [DAYS] "
                  "HH:MM-HH:MM in UTC, e.g. \"Mon..Fri 22:00-06:00\" or \"Sat,Sun 00:00-24:00\"; repeat for "
                  "more "
                  "(at most 16); empty resets" },
                { "[Policy]\nVersionDisableGraceSec=31d\n",
                  "t.conf:2: [Policy] VersionDisableGraceSec=31d: out of range; accepted: a time span from "
                  "0 to 30d "
                  "(e.g. 30s, 5min, 1h, 7d)" },
                { "[Alerts]\nRepeatIntervalSec=30s\n", "t.conf:2: [Alerts] RepeatIntervalSec=30s: out of "
                                                       "range; accepted: a time span from 1min to 30d "
                                                       "(e.g. 30s, 5min, 1h, 7d)" },
                { "[Report]\nDirectory=reports\n", "t.conf:2: [Report] Directory=reports: not an absolute "
                                                   "path; accepted: an absolute path, or "
                                                   "empty for the reports/ directory in StateDirectory=" },
                { "[Report]\nSchedule=monthly\n",
                  "t.conf:2: [Report] Schedule=monthly: not a schedule; accepted: off, hourly [:MM], daily "
                  "[HH:MM], weekly [DAY] [HH:MM] (UTC)" },
                { "[Report]\nKeep=100001\n", "t.conf:2: [Report] Keep=100001: out of range; accepted: an "
                                             "integer from 0 (keep all) to 100000" },
                { "[Metrics]\nTextfilePath=/var/lib/prometheus/node-exporter/cmkd.txt\n",
                  "t.conf:2: [Metrics] TextfilePath=/var/lib/prometheus/node-exporter/cmkd.txt: not an "
                  "absolute "
                  "path ending in .prom; accepted: an absolute path ending in .prom, or empty (off)" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char want[1024];

                snprintf(want, sizeof want, "%s\n", t[i].error);
                expect_errors(t[i].text, want);
        }
}

/* Every key of the table gets at least one bad value in test_bad_values or here. */
static void test_every_key_has_a_bad_value(void **state) {
        size_t n;
        const struct conf_key *k = conf_keys(&n);

        for (size_t i = 0; i < n; i++) {
                /* A value no key accepts: control characters are refused before any parser,
                 * so use text that every parser refuses on its own. */
                static const char *const bad[] = { "\"", "-1", "x y z [", "nonsense value \"" };
                bool refused = false;

                for (size_t j = 0; j < ELEMENTSOF(bad) && !refused; j++) {
                        char text[256];
                        _cleanup_strv_free_ char **errors = NULL;
                        struct conf *c = NULL;

                        snprintf(text, sizeof text, "[%s]\n%s=%s\n", k[i].section, k[i].key, bad[j]);
                        if (conf_load_string(text, "t.conf", &c, &errors) == -EINVAL)
                                refused = true;
                        conf_free(c);
                }
                if (!refused)
                        fail_msg("%s= accepts every bad value tried", k[i].key);
        }
}

/* ---- errors: syntax, sections, keys, cross-key ------------------------------------------ */

static void test_syntax_errors(void **state) {
        expect_errors("Mode=enforce\n",
                      "t.conf:1: Mode: key outside of any section; put it under its [Section]\n");
        expect_errors("[Daemon]\nMode\n", "t.conf:2: \"Mode\": not a KEY=VALUE line\n");
        expect_errors("[Daemon]\nMode: enforce\n", "t.conf:2: \"Mode: enforce\": not a KEY=VALUE line\n");
        expect_errors("[Daemon]\nLog Level=info\n",
                      "t.conf:2: \"Log Level\": not a key name; accepted: KEY=VALUE with a CamelCase KEY\n");
        expect_errors("[Daemon]\n=info\n",
                      "t.conf:2: \"\": not a key name; accepted: KEY=VALUE with a CamelCase KEY\n");
        expect_errors("[Daemon\nMode=enforce\n",
                      "t.conf:1: [Daemon: bad section header; accepted: [NAME] alone on its line\n");
        expect_errors("[Daemon] # main\n",
                      "t.conf:1: [Daemon] # main: bad section header; accepted: [NAME] alone on its line\n");
        expect_errors("[]\n", "t.conf:1: []: bad section header; accepted: [NAME] alone on its line\n");
        expect_errors(
                "[Bogus]\nA=1\nB=2\n[Daemon]\nMode=x\n",
                "t.conf:1: [Bogus]: unknown section; accepted: [Azure], [Discovery], [Network], [Daemon], "
                "[Policy], [Policy:MATCH], [Alerts], [Report], [Metrics]\n"
                "t.conf:5: [Daemon] Mode=x: unknown value; accepted: enforce, alert-only, dry-run\n");
        expect_errors("[daemon]\n", "t.conf:1: [daemon]: unknown section; did you mean [Daemon]? (names are "
                                    "case-sensitive)\n");
        expect_errors("[Daemon]\nPollInterval=5min\n", "t.conf:2: [Daemon] PollInterval=: unknown key\n");
        expect_errors(
                "[Daemon]\npollintervalsec=5min\n",
                "t.conf:2: [Daemon] pollintervalsec=: unknown key; did you mean PollIntervalSec=? (names "
                "are case-sensitive)\n");
        expect_errors("[Daemon]\nCAFile=/x\n",
                      "t.conf:2: [Daemon] CAFile=: unknown key in this section; it belongs in [Network]\n");
        /* The value of an unknown key is never shown: it may be a secret. */
        expect_errors("[Azure]\nClientSecret=hunter2\n",
                      "t.conf:2: [Azure] ClientSecret=: unknown key; secrets never go in this file: use "
                      "ClientSecretFile= (a file or a systemd credential)\n");
        expect_errors("[Daemon]\nMode=enforce\x01\n",
                      "t.conf:2: line contains a control character or NUL byte; not read\n");
        /* Inline comments are not comments (systemd): the value is refused whole. */
        expect_errors("[Daemon]\nMode=enforce # the default\n",
                      "t.conf:2: [Daemon] Mode=enforce # the default: unknown value; accepted: enforce, "
                      "alert-only, "
                      "dry-run\n");
        expect_errors("[Daemon]\nMode=enforce ; the default\n",
                      "t.conf:2: [Daemon] Mode=enforce ; the default: unknown value; accepted: enforce, "
                      "alert-only, "
                      "dry-run\n");
}

static void test_override_errors(void **state) {
        expect_errors(
                "[Policy:prod-*]\nUpdateMethod=patch\n",
                "t.conf:2: [Policy:prod-*] UpdateMethod=patch: applies to every cluster, so it belongs in "
                "[Policy]; accepted here: StaleVersion=, UpdateTarget=, KeyExpiryWarningSec=, "
                "KeyExpiryCriticalSec=, MaxKeyAgeSec=, RequireRotationPolicy=, ClockSkewSec=\n");
        expect_errors("[Policy:a]\nStaleVersion=update\n[Policy:b]\n[Policy:A]\nStaleVersion=alert\n",
                      "t.conf:4: [Policy:A]: duplicate section (first on line 1); merge the two: their "
                      "order would "
                      "decide which one wins\n");
        expect_errors("[Policy:]\n",
                      "t.conf:1: [Policy:]: \"\" is not a valid pattern; accepted: [Policy:GLOB], a "
                      "glob on the cluster name, or on the ARM id when it starts with '/'\n");
        expect_errors("[Policy:prod-[a]\n",
                      "t.conf:1: [Policy:prod-[a]: \"prod-[a\" is not a valid pattern; "
                      "accepted: [Policy:GLOB], a glob on the cluster name, or on the ARM id "
                      "when it starts with '/'\n");
        expect_errors("[Policy:x]\nStaleVersion=sometimes\nFoo=1\n",
                      "t.conf:2: [Policy:x] StaleVersion=sometimes: unknown value; accepted: update, alert, "
                      "ignore\n"
                      "t.conf:3: [Policy:x] Foo=: unknown key\n");
}

static void test_override_section_limit(void **state) {
        _cleanup_free_ char *text = mem_malloc(64 * (CONF_OVERRIDES_MAX + 2)), *errors = NULL;
        size_t used = 0;

        assert_non_null(text);
        for (unsigned i = 0; i <= CONF_OVERRIDES_MAX; i++)
                used += (size_t) sprintf(text + used, "[Policy:c%u]\nStaleVersion=update\n", i);
        errors = load_errors(text);
        assert_string_equal(errors,
                            "t.conf:513: [Policy:c256]: too many [Policy:MATCH] sections (at most 256)\n");
}

static void test_cross_key_errors(void **state) {
        expect_errors("[Azure]\nAuthentication=client-secret\nTenantId=" TENANT "\n",
                      "t.conf:2: [Azure] Authentication=client-secret: needs TenantId=, ClientId= and "
                      "ClientSecretFile=; missing: ClientId=, ClientSecretFile=\n");
        expect_errors("[Azure]\nAuthentication=workload-identity\n",
                      "t.conf:2: [Azure] Authentication=workload-identity: needs TenantId=, ClientId= and "
                      "FederatedTokenFile= (or $AZURE_FEDERATED_TOKEN_FILE); missing: TenantId=, ClientId=, "
                      "FederatedTokenFile=\n");
        expect_errors("[Azure]\nClientSecretFile=/etc/cmkd/secret\n",
                      "t.conf:2: [Azure] ClientSecretFile=/etc/cmkd/secret: only used with "
                      "Authentication=client-secret, not managed-identity\n");
        expect_errors("[Azure]\nFederatedTokenFile=/run/token\n",
                      "t.conf:2: [Azure] FederatedTokenFile=/run/token: only used with "
                      "Authentication=workload-identity, not managed-identity\n");
        expect_errors(
                "[Policy]\nKeyExpiryCriticalSec=40d\n",
                "t.conf:2: [Policy] KeyExpiryCriticalSec=40d: longer than KeyExpiryWarningSec=30d; the "
                "critical threshold must not be longer than the warning one\n");
        expect_errors("[Policy]\nKeyExpiryWarningSec=1d\n",
                      "t.conf:2: [Policy] KeyExpiryCriticalSec=7d: longer than KeyExpiryWarningSec=1d; the "
                      "critical "
                      "threshold must not be longer than the warning one\n");
        expect_errors(
                "[Policy:prod-*]\nKeyExpiryWarningSec=2d\n",
                "t.conf:2: [Policy:prod-*] KeyExpiryCriticalSec=7d: longer than KeyExpiryWarningSec=2d; the "
                "critical threshold must not be longer than the warning one\n");
        /* The next sweep is scheduled when the last one ends: a request timeout longer
         * than the poll interval is fine. */
        {
                struct conf *c = NULL;
                char **errors = NULL;

                assert_int_equal(conf_load_string("[Daemon]\nPollIntervalSec=20s\n", "t.conf", &c, &errors), 0);
                assert_null(errors);
                conf_free(c);
        }
        /* Value errors and cross-key errors come out of the same pass. */
        expect_errors("[Azure]\nAuthentication=client-secret\nTenantId=nope\n[Daemon]\nMode=x\n",
                      "t.conf:3: [Azure] TenantId=nope: not a GUID; accepted: a GUID "
                      "(00000000-0000-0000-0000-000000000000), or empty\n"
                      "t.conf:5: [Daemon] Mode=x: unknown value; accepted: enforce, alert-only, dry-run\n"
                      "t.conf:2: [Azure] Authentication=client-secret: needs TenantId=, ClientId= and "
                      "ClientSecretFile=; missing: TenantId=, ClientId=, ClientSecretFile=\n");
        /* A complete client-secret setup passes. */
        conf_free(load_ok("[Azure]\nAuthentication=client-secret\nTenantId=" TENANT "\nClientId=" SUB1
                          "\nClientSecretFile=/etc/cmkd/secret\n"));
}

static void test_error_cap(void **state) {
        _cleanup_free_ char *text = mem_malloc(32 * 160), *errors = NULL;
        size_t used = 0, lines = 0;

        assert_non_null(text);
        used += (size_t) sprintf(text, "[Daemon]\n");
        for (unsigned i = 0; i < 150; i++)
                used += (size_t) sprintf(text + used, "Mode=bad%u\n", i);
        errors = load_errors(text);
        for (const char *p = errors; (p = strchr(p, '\n')); p++)
                lines++;
        assert_int_equal(lines, CONF_ERRORS_MAX + 1);
        assert_non_null(strstr(errors, "t.conf:101: [Daemon] Mode=bad99:"));
        assert_null(strstr(errors, "Mode=bad100:"));
        assert_true(endswith(errors, "t.conf: 50 more errors not shown\n"));
}

/* ---- lists, repeated keys, empty assignments ---------------------------------------------- */

static void test_lists(void **state) {
        _cleanup_(conf_freep) struct conf *c =
                load_ok("[Azure]\n"
                        "Subscriptions=" SUB1 "\n"
                        "Subscriptions=" SUB2 " " SUB1 "\n" /* duplicate dropped */
                        "ResourceGroups=a b\n"
                        "ResourceGroups=\n" /* reset */
                        "ResourceGroups=c\n"
                        "VaultSubscriptions=" SUB1 "\n"
                        "VaultSubscriptions=\n"
                        "KeyVaultSuffix=vault.azure.cn\n"
                        "KeyVaultSuffix=\n" /* back to the preset */
                        "[Network]\n"
                        "ConnectTo=a:1:b:2\n"
                        "ConnectTo=a:1:b:2 c:3:d:4\n" /* order kept, repeats too */
                        "[Policy]\n"
                        "ChangeWindow=Mon 01:00-02:00\n"
                        "ChangeWindow=\n"
                        "ChangeWindow=Tue 01:00-02:00\n"
                        "ChangeWindow=Wed 01:00-02:00\n"
                        "[Daemon]\n"
                        "Mode=dry-run\n"
                        "Mode=alert-only\n" /* scalar: last wins */
                        "PollIntervalSec=1h\n"
                        "PollIntervalSec=\n" /* scalar: back to default */);

        assert_int_equal(strv_length(c->subscriptions), 2);
        assert_string_equal(c->subscriptions[0], SUB1);
        assert_string_equal(c->subscriptions[1], SUB2);
        assert_int_equal(strv_length(c->resource_groups), 1);
        assert_string_equal(c->resource_groups[0], "c");
        assert_int_equal(strv_length(c->vault_subscriptions), 0);
        assert_string_equal(c->cloud.vault_suffixes[0], "vault.azure.net");
        assert_int_equal(strv_length(c->connect_to), 3);
        assert_string_equal(c->connect_to[2], "c:3:d:4");
        assert_int_equal(c->n_change_windows, 2);
        assert_int_equal(c->change_windows[0].days, 0x2);
        assert_int_equal(c->mode, MODE_ALERT_ONLY);
        assert_int_equal(c->poll_interval_usec, 5 * USEC_PER_MINUTE);
}

static void test_change_window_limit(void **state) {
        char text[2048];
        size_t used = (size_t) sprintf(text, "[Policy]\n");
        _cleanup_free_ char *errors = NULL;

        for (unsigned i = 0; i < CHANGE_WINDOWS_MAX; i++)
                used += (size_t) sprintf(text + used, "ChangeWindow=%02u:00-%02u:30\n", i, i);
        conf_free(load_ok(text));
        sprintf(text + used, "ChangeWindow=23:00-23:30\n");
        errors = load_errors(text);
        assert_string_equal(errors,
                            "t.conf:18: [Policy] ChangeWindow=23:00-23:30: too many change windows (at "
                            "most 16); accepted: [DAYS] HH:MM-HH:MM in UTC, e.g. \"Mon..Fri "
                            "22:00-06:00\" or \"Sat,Sun 00:00-24:00\"; repeat for more (at most 16); empty "
                            "resets\n");
}

static void test_list_limit(void **state) {
        _cleanup_free_ char *text = mem_malloc(16 * (CONF_LIST_MAX + 8)), *errors = NULL;
        _cleanup_(conf_freep) struct conf *c = NULL;
        size_t used = (size_t) sprintf(text, "[Discovery]\n");

        assert_non_null(text);
        /* 1024 entries over several lines, with repeats that do not count. */
        for (unsigned i = 0; i < CONF_LIST_MAX; i++)
                used += (size_t) sprintf(text + used, "%sx%u%s", i % 8 == 0 ? "Include=" : " ", i,
                                         i % 8 == 7 ? " x0\n" : "");
        c = load_ok(text);
        assert_int_equal(strv_length(c->include), CONF_LIST_MAX);
        /* One more is refused whole: the list is not left half extended. */
        sprintf(text + used, "Include=x0 new1 new2\n");
        errors = load_errors(text);
        assert_string_equal(errors,
                            "t.conf:130: [Discovery] Include=x0 new1 new2: too many entries (at most 1024); "
                            "accepted: globs separated by spaces (fnmatch, case-insensitive; '/...' matches "
                            "the ARM id); empty resets\n");
}

static void test_cloud_presets(void **state) {
        static const struct {
                const char *name, *arm, *audience, *authority, *vault, *vault_aud, *hsm, *hsm_aud;
        } t[] = {
                { "AzurePublicCloud", "https://management.azure.com", "https://management.azure.com/",
                  "https://login.microsoftonline.com", "vault.azure.net", "https://vault.azure.net",
                  "managedhsm.azure.net", "https://managedhsm.azure.net" },
                { "AzureChinaCloud", "https://management.chinacloudapi.cn",
                  "https://management.chinacloudapi.cn/", "https://login.chinacloudapi.cn", "vault.azure.cn",
                  "https://vault.azure.cn", "managedhsm.azure.cn", "https://managedhsm.azure.cn" },
                { "AzureUSGovernment", "https://management.usgovcloudapi.net",
                  "https://management.usgovcloudapi.net/", "https://login.microsoftonline.us",
                  "vault.usgovcloudapi.net", "https://vault.usgovcloudapi.net",
                  "managedhsm.usgovcloudapi.net", "https://managedhsm.usgovcloudapi.net" },
        };
        struct cloud c, copy;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char text[128];
                struct conf *conf;

                assert_int_equal(cloud_preset(t[i].name, &c), 0);
                assert_string_equal(c.name, t[i].name);
                assert_string_equal(c.arm_endpoint, t[i].arm);
                assert_string_equal(c.arm_audience, t[i].audience);
                assert_string_equal(c.authority_host, t[i].authority);
                assert_string_equal(c.vault_suffixes[0], t[i].vault);
                assert_string_equal(c.vault_audience, t[i].vault_aud);
                assert_string_equal(c.hsm_suffixes[0], t[i].hsm);
                assert_string_equal(c.hsm_audience, t[i].hsm_aud);
                assert_string_equal(c.imds_endpoint, "http://169.254.169.254");
                assert_int_equal(cloud_copy(&c, &copy), 0);
                cloud_equal(&c, &copy);
                cloud_done(&copy);

                /* Through the config, and the preset suffixes pass the config's own check. */
                snprintf(text, sizeof text, "[Azure]\nCloud=%s\nKeyVaultSuffix=%s\nManagedHsmSuffix=%s\n",
                         t[i].name, t[i].vault, t[i].hsm);
                conf = load_ok(text);
                cloud_equal(&conf->cloud, &c);
                conf_free(conf);
                cloud_done(&c);
        }
        assert_int_equal(cloud_preset("AzureCloud", &c), 0); /* the Azure CLI's name */
        assert_string_equal(c.name, "AzurePublicCloud");
        cloud_done(&c);
        assert_int_equal(cloud_preset("AzureGermanCloud", &c), -ENOENT);
        assert_null(cloud_preset_canonical(NULL));
        cloud_done(&c); /* zeroed: fine */
}

/* ---- overrides, discovery ------------------------------------------------------------------ */

static void test_policy_for(void **state) {
        _cleanup_(conf_freep) struct conf *c = load_ok("[Policy]\n"
                                                       "KeyExpiryWarningSec=20d\n"
                                                       "KeyExpiryCriticalSec=5d\n"
                                                       "[Policy:prod-*]\n"
                                                       "StaleVersion=update\n"
                                                       "KeyExpiryWarningSec=40d\n"
                                                       "[Policy:prod-eu-*]\n"
                                                       "StaleVersion=ignore\n"
                                                       "UpdateTarget=versionless\n"
                                                       "ClockSkewSec=\n" /* empty: not overridden */
                                                       "[Policy:/subscriptions/" SUB2 "/*]\n"
                                                       "KeyExpiryCriticalSec=15d\n"
                                                       "MaxKeyAgeSec=365d\n"
                                                       "RequireRotationPolicy=yes\n"
                                                       "ClockSkewSec=1min\n"
                                                       "[Policy:tiny-*]\n"
                                                       "KeyExpiryWarningSec=10d\n");
        struct cluster prod = { .name = (char *) "PROD-us-1",
                                .id = (char *) "/subscriptions/" SUB1 "/x/PROD-us-1" },
                       eu = { .name = (char *) "prod-eu-2",
                              .id = (char *) "/subscriptions/" SUB1 "/x/prod-eu-2" },
                       sub2 = { .name = (char *) "dev", .id = (char *) "/SUBSCRIPTIONS/" SUB2 "/x/dev" },
                       both = { .name = (char *) "tiny-1",
                                .id = (char *) "/subscriptions/" SUB2 "/x/tiny-1" },
                       noname = {};
        struct policy_conf p;

        assert_int_equal(c->n_overrides, 4);
        assert_int_equal(c->overrides[1].set, POLICY_KEY_STALE_VERSION | POLICY_KEY_UPDATE_TARGET);

        conf_policy_for(c, &prod, &p);
        assert_int_equal(p.stale_version, STALE_VERSION_UPDATE);
        assert_int_equal(p.key_expiry_warning_usec, 40 * USEC_PER_DAY);
        assert_int_equal(p.key_expiry_critical_usec, 5 * USEC_PER_DAY);
        assert_int_equal(p.update_target, UPDATE_TARGET_LATEST);

        conf_policy_for(c, &eu, &p); /* both prod-* and prod-eu-*: the later wins */
        assert_int_equal(p.stale_version, STALE_VERSION_IGNORE);
        assert_int_equal(p.update_target, UPDATE_TARGET_VERSIONLESS);
        assert_int_equal(p.key_expiry_warning_usec, 40 * USEC_PER_DAY);
        assert_int_equal(p.clock_skew_usec, 5 * USEC_PER_MINUTE);

        conf_policy_for(c, &sub2, &p); /* by ARM id, case-insensitive */
        assert_int_equal(p.stale_version, STALE_VERSION_ALERT);
        assert_int_equal(p.key_expiry_critical_usec, 15 * USEC_PER_DAY);
        assert_int_equal(p.max_key_age_usec, 365 * USEC_PER_DAY);
        assert_true(p.require_rotation_policy);
        assert_int_equal(p.clock_skew_usec, USEC_PER_MINUTE);

        /* Two overrides valid alone, 15d critical and 10d warning together: clamped. */
        conf_policy_for(c, &both, &p);
        assert_int_equal(p.key_expiry_warning_usec, 10 * USEC_PER_DAY);
        assert_int_equal(p.key_expiry_critical_usec, 10 * USEC_PER_DAY);

        conf_policy_for(c, &noname, &p);
        policy_equal(&p, &c->policy);
}

static void test_cluster_selected(void **state) {
        struct cluster_tag tags[] = { { (char *) "Env", (char *) "Prod East" },
                                      { (char *) "cmkd", (char *) "off" } };
        struct cluster a = { .name = (char *) "prod-1",
                             .id = (char *) "/subscriptions/" SUB1 "/resourceGroups/RG1/providers/x/prod-1",
                             .subscription = (char *) SUB1,
                             .resource_group = (char *) "RG1" },
                       b = a;
        static const struct {
                const char *conf;
                bool a, b;
        } t[] = {
                { "", true, true },
                { "[Azure]\nSubscriptions=" SUB1 "\n", true, true },
                { "[Azure]\nSubscriptions=" SUB2 "\n", false, false },
                { "[Azure]\nResourceGroups=rg1\n", true, true },
                { "[Azure]\nResourceGroups=rg2\n", false, false },
                { "[Discovery]\nInclude=PROD-*\n", true, true },
                { "[Discovery]\nInclude=dev-*\n", false, false },
                { "[Discovery]\nInclude=dev-* /subscriptions/*/resourcegroups/rg1/*\n", true, true },
                { "[Discovery]\nExclude=prod-?\n", false, false },
                { "[Discovery]\nIncludeTag=env\n", false, true },
                { "[Discovery]\nIncludeTag=ENV=Prod*\n", false, true },
                { "[Discovery]\nIncludeTag=env=prod*\n", false, false }, /* values are case-sensitive */
                { "[Discovery]\nIncludeTag=\"env=Prod East\"\n", false, true },
                { "[Discovery]\nIncludeTag=owner env=*\n", false, true },
                { "[Discovery]\nExcludeTag=cmkd=off\n", true, false },
                { "[Discovery]\nExcludeTag=cmkd=on\n", true, true },
                { "[Discovery]\nInclude=prod-*\nExcludeTag=cmkd\n", true, false },
        };

        b.tags = tags;
        b.n_tags = ELEMENTSOF(tags);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(conf_freep) struct conf *c = load_ok(t[i].conf);

                if (conf_cluster_selected(c, &a) != t[i].a || conf_cluster_selected(c, &b) != t[i].b)
                        fail_msg("row %zu (%s): want a=%d b=%d", i, t[i].conf, t[i].a, t[i].b);
        }
        {
                _cleanup_(conf_freep) struct conf *c = load_ok("[Azure]\nSubscriptions=" SUB1 "\n");
                struct cluster none = {};

                assert_false(conf_cluster_selected(c, &none));
        }
}

/* ---- lines: numbering, length, comments, BOM, CRLF ----------------------------------------- */

static void test_line_numbers(void **state) {
        expect_errors(
                "\xef\xbb\xbf# comment\r\n"
                "; another\r\n"
                "\r\n"
                "   [Daemon]   \r\n"
                "\tMode = nope  \r\n"
                "  # indented comment\n"
                "    PollIntervalSec=1s\n"
                "[Policy]\n"
                "MaxUpdatesPerSweep=x",
                "t.conf:5: [Daemon] Mode=nope: unknown value; accepted: enforce, alert-only, dry-run\n"
                "t.conf:7: [Daemon] PollIntervalSec=1s: out of range; accepted: a time span from 10s to 1d "
                "(e.g. 30s, 5min, 1h, 7d)\n"
                "t.conf:9: [Policy] MaxUpdatesPerSweep=x: not a whole number; accepted: an integer from 0 "
                "to "
                "10000\n");
        /* Indented lines are not continuations (Python's configparser style is off). */
        {
                _cleanup_(conf_freep) struct conf *c = load_ok("[Daemon]\nMode=dry-run\n  LogLevel=debug\n");

                assert_int_equal(c->mode, MODE_DRY_RUN);
                assert_int_equal(c->log_level, LOG_DEBUG);
        }
}

static void test_long_lines(void **state) {
        size_t n = CONF_LINE_MAX + 200;
        _cleanup_free_ char *text = mem_malloc(3 * n), *errors = NULL;
        _cleanup_(conf_freep) struct conf *c = NULL;
        char *p;
        char want[256];

        assert_non_null(text);
        /* A line of exactly CONF_LINE_MAX bytes is read whole (a long Include= list of
         * distinct words "w000000 w000001 ... zzzz"). */
        {
                size_t room = CONF_LINE_MAX - strlen("Include="), words = 0;
                char *q;

                p = q = text + sprintf(text, "[Discovery]\nInclude=");
                for (; (size_t) (q - p) + 8 < room; words++)
                        q += sprintf(q, "w%06zu ", words);
                memset(q, 'z', room - (size_t) (q - p));
                strcpy(p + room, "\n[Daemon]\nMode=dry-run\n");
                assert_int_equal(strcspn(text + strlen("[Discovery]\n"), "\n"), CONF_LINE_MAX);
                c = load_ok(text);
                assert_int_equal(c->mode, MODE_DRY_RUN);
                assert_int_equal(strv_length(c->include), words + 1);
                assert_true(endswith(c->include[words], "zz"));
        }

        /* One byte more is an error with its line number, and the lines after it keep theirs. */
        p = text + sprintf(text, "[Discovery]\n# x\nInclude=");
        memset(p, 'b', CONF_LINE_MAX - strlen("Include=") + 1);
        p += CONF_LINE_MAX - strlen("Include=") + 1;
        strcpy(p, "\n[Daemon]\nMode=bad\n");
        errors = load_errors(text);
        snprintf(want, sizeof want,
                 "t.conf:3: line is longer than %d bytes (%d); not read\n"
                 "t.conf:5: [Daemon] Mode=bad: unknown value; accepted: enforce, alert-only, dry-run\n",
                 CONF_LINE_MAX, CONF_LINE_MAX + 1);
        assert_string_equal(errors, want);
}

static void test_ini_options_restored(void **state) {
        bool multiline = ini_allow_multiline, inline_comments = ini_allow_inline_comments;
        int max_line = ini_max_line;

        conf_free(load_ok("[Daemon]\nMode=enforce\n"));
        assert_int_equal(ini_allow_multiline, multiline);
        assert_int_equal(ini_allow_inline_comments, inline_comments);
        assert_int_equal(ini_max_line, max_line);
}

/* ---- environment ------------------------------------------------------------------------------ */

static void test_environment(void **state) {
        struct conf *c;

        setenv("STATE_DIRECTORY", "/var/lib/cmkd-test:/var/lib/other", 1);
        setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token", 1);
        assert_int_equal(conf_new_default(&c), 0);
        assert_string_equal(c->state_directory, "/var/lib/cmkd-test");
        assert_string_equal(c->report_directory, "/var/lib/cmkd-test/reports");
        assert_string_equal(c->federated_token_file, "/var/run/secrets/azure/tokens/azure-identity-token");
        conf_free(c);

        /* The file wins over the environment. */
        c = load_ok("[Daemon]\nStateDirectory=/srv/cmkd\n[Report]\nDirectory=/srv/reports\n");
        assert_string_equal(c->state_directory, "/srv/cmkd");
        assert_string_equal(c->report_directory, "/srv/reports");
        conf_free(c);

        /* workload-identity takes the token file from the environment. */
        c = load_ok("[Azure]\nAuthentication=workload-identity\nTenantId=" TENANT "\nClientId=" SUB1 "\n");
        assert_string_equal(c->federated_token_file, "/var/run/secrets/azure/tokens/azure-identity-token");
        conf_free(c);

        setenv("STATE_DIRECTORY", "relative", 1);
        expect_errors("", "t.conf: environment variable STATE_DIRECTORY=relative: not an absolute path\n");
        assert_int_equal(conf_new_default(&c), -EINVAL);
        clean_env();
}

/* ---- files ------------------------------------------------------------------------------------- */

static char tmpdir[64];

static char *tmp_path(const char *name) {
        static char buf[128];

        snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
        return buf;
}

static void write_file(const char *name, const char *text, mode_t mode) {
        int fd = open(tmp_path(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
}

static int load_file(const char *path, char **ret_first_error) {
        _cleanup_strv_free_ char **errors = NULL;
        struct conf *c = NULL;
        int r = conf_load(path, &c, &errors);

        if (r >= 0) {
                assert_null(errors);
                assert_string_equal(c->path, path);
        } else {
                assert_null(c);
                assert_non_null(errors);
                *ret_first_error = mem_strdup(errors[0]);
        }
        conf_free(c);
        return r;
}

static void test_files(void **state) {
        _cleanup_free_ char *e = NULL;
        char want[256], *big;
        size_t n;

        strcpy(tmpdir, "/tmp/test-conf.XXXXXX");
        assert_non_null(mkdtemp(tmpdir));

        write_file("ok.conf", "[Daemon]\nMode=dry-run\n", 0600);
        assert_int_equal(load_file(tmp_path("ok.conf"), &e), 0);
        write_file("ro.conf", "[Daemon]\nMode=dry-run\n", 0444);
        assert_int_equal(load_file(tmp_path("ro.conf"), &e), 0);

        write_file("bad.conf", "[Daemon]\nMode=x\n", 0600);
        assert_int_equal(load_file(tmp_path("bad.conf"), &e), -EINVAL);
        snprintf(want, sizeof want,
                 "%s:2: [Daemon] Mode=x: unknown value; accepted: enforce, alert-only, dry-run",
                 tmp_path("bad.conf"));
        assert_string_equal(e, want);
        e = drop(e);

        write_file("gw.conf", "", 0620);
        assert_int_equal(load_file(tmp_path("gw.conf"), &e), -EPERM);
        snprintf(want, sizeof want,
                 "%s: is writable by group or others (mode 0620), so others could change what "
                 "cmkd does; fix with: chmod go-w",
                 tmp_path("gw.conf"));
        assert_string_equal(e, want);
        e = drop(e);
        write_file("ow.conf", "", 0602);
        assert_int_equal(load_file(tmp_path("ow.conf"), &e), -EPERM);
        e = drop(e);

        assert_int_equal(load_file(tmp_path("missing.conf"), &e), -ENOENT);
        snprintf(want, sizeof want, "%s: cannot open: No such file or directory", tmp_path("missing.conf"));
        assert_string_equal(e, want);
        e = drop(e);

        assert_int_equal(load_file(tmpdir, &e), -EINVAL);
        assert_true(endswith(e, ": is a directory, not a file"));
        e = drop(e);
        assert_int_equal(load_file("/dev/null", &e), -EINVAL);
        assert_string_equal(e, "/dev/null: is not a regular file (a device, FIFO or socket)");
        e = drop(e);
        assert_int_equal(mkfifo(tmp_path("fifo"), 0600), 0);
        assert_int_equal(load_file(tmp_path("fifo"), &e), -EINVAL); /* and does not hang */
        e = drop(e);

        /* A symlink is followed; the target is what is checked. */
        assert_int_equal(symlink("ok.conf", tmp_path("link.conf")), 0);
        assert_int_equal(load_file(tmp_path("link.conf"), &e), 0);
        assert_int_equal(symlink("gw.conf", tmp_path("link-gw.conf")), 0);
        assert_int_equal(load_file(tmp_path("link-gw.conf"), &e), -EPERM);
        e = drop(e);

        /* Size: exactly the maximum is fine (all comments), one byte more is not. */
        n = CONF_FILE_SIZE_MAX;
        big = mem_malloc(n + 2);
        assert_non_null(big);
        memset(big, '#', n);
        for (size_t i = 79; i < n; i += 80)
                big[i] = '\n';
        big[n] = 0;
        write_file("max.conf", big, 0600);
        assert_int_equal(load_file(tmp_path("max.conf"), &e), 0);
        big[n] = '\n';
        big[n + 1] = 0;
        write_file("big.conf", big, 0600);
        assert_int_equal(load_file(tmp_path("big.conf"), &e), -EFBIG);
        snprintf(want, sizeof want, "%s: is %d bytes, more than the %d allowed", tmp_path("big.conf"),
                 CONF_FILE_SIZE_MAX + 1, CONF_FILE_SIZE_MAX);
        assert_string_equal(e, want);
        e = drop(e);
        mem_free(big);

        /* A NUL byte in the file is an error on its line, not the end of the file. */
        {
                int fd = open(tmp_path("nul.conf"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                static const char text[] = "[Daemon]\nMode=enf\0orce\nLogLevel=x\n";

                assert_true(fd >= 0);
                assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t) sizeof text - 1);
                close(fd);
                assert_int_equal(load_file(tmp_path("nul.conf"), &e), -EINVAL);
                snprintf(want, sizeof want, "%s:2: line contains a control character or NUL byte; not read",
                         tmp_path("nul.conf"));
                assert_string_equal(e, want);
                e = drop(e);
        }

        /* Without ret_errors, the return value alone. */
        {
                struct conf *c = NULL;

                assert_int_equal(conf_load(tmp_path("gw.conf"), &c, NULL), -EPERM);
                assert_null(c);
        }

        {
                char cmd[128];

                snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
                assert_int_equal(system(cmd), 0);
        }
}

static void test_check_stat(void **state) {
        struct stat st = { .st_mode = S_IFREG | 0644, .st_uid = 0, .st_size = 10 };
        char *reason = NULL;

        assert_int_equal(conf_check_stat(&st, 1000, &reason), 0);
        st.st_uid = 1000;
        assert_int_equal(conf_check_stat(&st, 1000, &reason), 0); /* the running user */
        st.st_uid = 1001;
        assert_int_equal(conf_check_stat(&st, 1000, &reason), -EPERM);
        assert_string_equal(reason,
                            "is owned by uid 1001, neither root nor the running user (uid 1000); fix with: "
                            "chown root");
        reason = drop(reason);
        st.st_uid = 0;
        st.st_mode = S_IFREG | 0666;
        assert_int_equal(conf_check_stat(&st, 1000, &reason), -EPERM);
        reason = drop(reason);
        st.st_mode = S_IFREG | 0640;
        st.st_size = CONF_FILE_SIZE_MAX + 1;
        assert_int_equal(conf_check_stat(&st, 0, NULL), -EFBIG);
        st.st_mode = S_IFSOCK | 0600;
        assert_int_equal(conf_check_stat(&st, 0, NULL), -EINVAL);
        st.st_mode = S_IFBLK | 0600;
        assert_int_equal(conf_check_stat(&st, 0, NULL), -EINVAL);
}

/* ---- allocation failures, dump --------------------------------------------------------------------- */

static const char rich[] = "[Azure]\n"
                           "Cloud=AzureUSGovernment\n"
                           "Authentication=client-secret\n"
                           "TenantId=" TENANT "\n"
                           "ClientId=" SUB1 "\n"
                           "ClientSecretFile=/etc/cmkd/secret\n"
                           "Subscriptions=" SUB1 " " SUB2 "\n"
                           "ResourceGroups=rg1 rg2\n"
                           "VaultSubscriptions=" SUB2 "\n"
                           "ResourceManagerEndpoint=https://management.example.com/\n"
                           "KeyVaultSuffix=vault.azure.net vault.usgovcloudapi.net\n"
                           "IMDSEndpoint=http://127.0.0.1:9999\n"
                           "[Discovery]\n"
                           "Include=prod-* /subscriptions/*/resourceGroups/rg1/*\n"
                           "Exclude=*-test\n"
                           "IncludeTag=\"team=data platform\" env=prod\n"
                           "ExcludeTag=cmkd=off\n"
                           "[Network]\n"
                           "CAFile=/etc/ssl/ca.pem\n"
                           "ConnectTo=management.usgovcloudapi.net:443:127.0.0.1:8443 ::[::1]:9443\n"
                           "MaxConcurrentRequests=8\n"
                           "[Daemon]\n"
                           "Mode=alert-only\n"
                           "LogLevel=7\n"
                           "[Policy]\n"
                           "StaleVersion=update\n"
                           "KeyExpiryWarningSec=45d 12h\n"
                           "MaxKeyAgeSec=1y\n"
                           "ChangeWindow=Mon..Fri 22:00-06:00\n"
                           "ChangeWindow=Sat,Sun 00:00-24:00\n"
                           "VersionDisableGraceSec=90min\n"
                           "[Policy:prod-*]\n"
                           "StaleVersion=alert\n"
                           "KeyExpiryCriticalSec=10d\n"
                           "[Policy:/subscriptions/" SUB2 "/*]\n"
                           "RequireRotationPolicy=yes\n"
                           "ClockSkewSec=30s\n"
                           "[Report]\n"
                           "Schedule=hourly :15\n"
                           "[Metrics]\n"
                           "TextfilePath=/var/lib/prometheus/node-exporter/cmkd.prom\n";

static void test_allocation_failures(void **state) {
        static const char *const texts[] = { rich, "[Daemon]\nMode=x\n[Bogus]\n[Policy:a]\nFoo=1\n" };

        for (size_t t = 0; t < ELEMENTSOF(texts); t++) {
                unsigned long n;

                for (n = 1;; n++) {
                        _cleanup_strv_free_ char **errors = NULL;
                        struct conf *c = NULL;
                        int r;

                        mem_fail_at(n, false);
                        r = conf_load_string(texts[t], "t.conf", &c, &errors);
                        if (!mem_failure_injected()) {
                                mem_fail_at(0, false);
                                assert_int_equal(r, t == 0 ? 0 : -EINVAL);
                                conf_free(c);
                                break;
                        }
                        mem_fail_at(0, false);
                        if (r != -ENOMEM)
                                fail_msg("text %zu, allocation %lu failed: got %d, want -ENOMEM", t, n, r);
                        assert_null(c);
                        assert_null(errors);
                }
                assert_true(n > 20);
        }
}

static void test_dump_round_trip(void **state) {
        static const char *const texts[] = {
                rich, "", "[Daemon]\nPollIntervalSec=23h 59min 59s 999ms 1us\nCacheTTLSec=1d\n"
        };

        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                _cleanup_(conf_freep) struct conf *c = load_ok(texts[i]), *again = NULL;
                char *dump = NULL, *dump2 = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&dump, &len);

                assert_non_null(f);
                assert_int_equal(conf_dump(c, f), 0);
                fclose(f);
                again = load_ok(dump);
                conf_equal(c, again);
                f = open_memstream(&dump2, &len);
                assert_non_null(f);
                assert_int_equal(conf_dump(again, f), 0);
                fclose(f);
                assert_string_equal(dump, dump2);
                free(dump); /* open_memstream's buffers come from libc */
                free(dump2);
        }
}

static void test_enum_strings(void **state) {
        for (int i = 0; i < _AUTH_MAX; i++)
                assert_int_equal(auth_method_from_string(auth_method_to_string(i)), i);
        for (int i = 0; i < _MODE_MAX; i++)
                assert_int_equal(run_mode_from_string(run_mode_to_string(i)), i);
        for (int i = 0; i < _UPDATE_METHOD_MAX; i++)
                assert_int_equal(update_method_from_string(update_method_to_string(i)), i);
        assert_int_equal(auth_method_from_string("x"), _AUTH_INVALID);
        assert_int_equal(run_mode_from_string(NULL), _MODE_INVALID);
        assert_null(update_method_to_string(_UPDATE_METHOD_MAX));
        assert_null(run_mode_to_string(_MODE_INVALID));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_defaults, setup),
                cmocka_unit_test_setup(test_key_table, setup),
                cmocka_unit_test_setup(test_cmkd_conf, setup),
                cmocka_unit_test_setup(test_good_values, setup),
                cmocka_unit_test_setup(test_booleans, setup),
                cmocka_unit_test_setup(test_bad_values, setup),
                cmocka_unit_test_setup(test_every_key_has_a_bad_value, setup),
                cmocka_unit_test_setup(test_syntax_errors, setup),
                cmocka_unit_test_setup(test_override_errors, setup),
                cmocka_unit_test_setup(test_override_section_limit, setup),
                cmocka_unit_test_setup(test_cross_key_errors, setup),
                cmocka_unit_test_setup(test_error_cap, setup),
                cmocka_unit_test_setup(test_lists, setup),
                cmocka_unit_test_setup(test_change_window_limit, setup),
                cmocka_unit_test_setup(test_list_limit, setup),
                cmocka_unit_test_setup(test_cloud_presets, setup),
                cmocka_unit_test_setup(test_policy_for, setup),
                cmocka_unit_test_setup(test_cluster_selected, setup),
                cmocka_unit_test_setup(test_line_numbers, setup),
                cmocka_unit_test_setup(test_long_lines, setup),
                cmocka_unit_test_setup(test_ini_options_restored, setup),
                cmocka_unit_test_setup(test_environment, setup),
                cmocka_unit_test_setup(test_files, setup),
                cmocka_unit_test_setup(test_check_stat, setup),
                cmocka_unit_test_setup(test_allocation_failures, setup),
                cmocka_unit_test_setup(test_dump_round_trip, setup),
                cmocka_unit_test_setup(test_enum_strings, setup),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
