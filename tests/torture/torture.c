/* SPDX-License-Identifier: MIT */
/* torture: fails each allocation of a full `cmkd --once --json --dry-run` sweep in turn, the
 * way curl's torture tests do, and checks that nothing crashes, nothing leaks and no
 * partial result is presented as complete.
 *
 *   torture [OPTIONS] CONFIG
 *     --count          one run without failures: print the allocation points per library
 *     --sticky         from the n-th allocation on, every one fails (default: only the n-th)
 *     --json-c         fail json-c's allocations too (see fail_jsonc below: json-c 0.16 crashes)
 *     --from=N --to=M  the points to try (default 1 .. the count of a clean run)
 *     --step=K         every K-th point only (a sample)
 *     --state=DIR      the config's StateDirectory=, emptied before each run
 *     --log=FILE       one JSON line per point tried
 *     --verbose        print cmkd's stderr of every point
 *
 * Each point runs in a forked child built like main.c (curl's allocations through mem.c,
 * the manager in MANAGER_ONCE mode), with stdout and stderr in files. The child exits 0
 * once cmkd is done, whatever cmkd's exit code: a sanitizer report (ASan, UBSan, LeakSanitizer
 * at exit: this binary is built with SAN=1) makes it exit otherwise, and so does a crash or a
 * hang (alarm). Every allocation through mem.c is a point: ours and libcurl's
 * (curl_global_init_mem). json-c's are counted (the static libjson-c.a linked here has malloc,
 * calloc, realloc and strdup renamed to torture_json_*, see the Makefile), failed with --json-c.
 * libev allocates with its own allocator, which must
 * not be used while a sweep runs: counted through ev_set_allocator().
 *
 * A point passes when the child exits 0 and the output is either a clean failure (exit code 3,
 * an error on stderr) or, compared with a clean run: no cluster that the clean run lacks,
 * every cluster of the clean run unless the sweep says it is incomplete, and each cluster
 * with the clean run's findings, or with check-unknown and no finding the clean run lacks.
 * Exit status: 0 every point passed, 1 a point failed, 2 usage or setup error.
 *
 * Found and handled in cmkd: clusters missing from sweeps that said they were complete
 * (inventory.c counts work dropped for want of memory), a NULL vault map read (hashmap_get),
 * a sweep that waited forever because libcurl failed before arming its timer (http.c),
 * libcurl 7.88's double free of a TLS session it failed to cache (http.c turns the session
 * cache off), and libcurl 7.88's division by zero (SIGFPE in the hash of a socket's
 * transfers): when an allocation fails while it adds a transfer to a socket, it destroys that
 * socket's table of transfers, keeps the socket, and divides by the table's 0 slots the next
 * time it adds a transfer to it. http.c drops the multi handle as soon as
 * curl_multi_socket_action() says it ran out of memory, ends the requests in flight with
 * -ENOMEM and goes on with a fresh one (multi_drop()). Before that, about 6 points in 1000
 * died so (59 of 9,646; which ones moves a little from run to run: libcurl's count is not
 * constant), none since (every point, 8,317, one failure each; the build without it died so at
 * 34 of points 1-2,722). A crash of any kind fails the point.
 * Found at a few points of the first token request (about 211 to 230 of ~9700): libcurl 7.88
 * lost a transfer after a failed allocation (no timeout of its own left), and then made every
 * later transfer to the same host wait for that lost connection (CURLOPT_PIPEWAIT) until it
 * aged out of its cache after 118 s. http.c ends a lost transfer by a deadline of its own, and
 * stops waiting for multiplexing on a host where that happened (and never asks for it on plain
 * HTTP). cmkd's debug log (on by default here) names each request ended by that deadline: more
 * than one in a run fails the point. */

#include <curl/curl.h>
#include <ev.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "mem.h"

#define RUN_TIMEOUT_SEC 300

enum origin {
        ORIGIN_OURS,
        ORIGIN_CURL,
        ORIGIN_JSONC,
        _ORIGIN_MAX,
};

static const char *const origin_names[_ORIGIN_MAX] = { "cmkd", "libcurl", "json-c" };

/* ---- the child: counting and attributing allocations ------------------------------------ */

static unsigned long origin_calls[_ORIGIN_MAX]; /* curl and json-c calls; ours = total - both */
static int failed_origin = -1;                  /* library of the first allocation that failed */
static unsigned long ev_allocs;                 /* libev allocations (and reallocations) */

/* Calls through mem.c for a library, noting whose allocation failed first. */
#define ATTRIBUTE(o, call)                                                                   \
        ({                                                                                  \
                bool _before = mem_failure_injected();                                      \
                __auto_type _p = (call);                                                    \
                if ((o) != ORIGIN_JSONC)                                                    \
                        origin_calls[o]++;                                                  \
                if (!_p && !_before && mem_failure_injected() && failed_origin < 0)         \
                        failed_origin = (o);                                                \
                _p;                                                                         \
        })

static void *curl_malloc_cb(size_t size) {
        return ATTRIBUTE(ORIGIN_CURL, mem_malloc(size));
}
static void *curl_calloc_cb(size_t n, size_t size) {
        return ATTRIBUTE(ORIGIN_CURL, mem_calloc(n, size));
}
static void *curl_realloc_cb(void *p, size_t size) {
        return ATTRIBUTE(ORIGIN_CURL, mem_realloc(p, size));
}
static char *curl_strdup_cb(const char *s) {
        return ATTRIBUTE(ORIGIN_CURL, mem_strdup(s));
}

/* json-c's allocations (the renamed symbols of our copy of libjson-c.a). */
void *torture_json_malloc(size_t size);
void *torture_json_calloc(size_t n, size_t size);
void *torture_json_realloc(void *p, size_t size);
char *torture_json_strdup(const char *s);

/* json-c allocates with malloc() in production, not through mem.c, and json-c 0.16 (Debian
 * 12) does not survive its own allocation failures: its tokener passes the unchecked strdup()
 * of a member name to json_object_object_add() (NULL dereference in lh_char_hash), and drops
 * the value without freeing it when that add fails (a leak). Nothing in cmkd can repair either,
 * so by default json-c's allocations are counted but never failed (they are no allocation
 * point of cmkd's); --json-c fails them too, to see json-c's own behaviour. */
static bool fail_jsonc;

#define JSONC(call_mem, call_libc) (origin_calls[ORIGIN_JSONC]++, fail_jsonc ? ATTRIBUTE(ORIGIN_JSONC, call_mem) : (call_libc))

void *torture_json_malloc(size_t size) {
        return JSONC(mem_malloc(size), malloc(size));
}
void *torture_json_calloc(size_t n, size_t size) {
        return JSONC(mem_calloc(n, size), calloc(n, size));
}
void *torture_json_realloc(void *p, size_t size) {
        /* json-c never shrinks to 0; mem_realloc would not free. */
        return JSONC(mem_realloc(p, size), realloc(p, size));
}
char *torture_json_strdup(const char *s) {
        return JSONC(mem_strdup(s), strdup(s));
}

/* libev's allocator, as its default (ev_realloc_emul), counting. */
static bool in_sweep;
void __sanitizer_print_stack_trace(void);
static void *ev_alloc_cb(void *p, long size) EV_NOEXCEPT {
        if (size > 0) {
                ev_allocs++;
                if (in_sweep && getenv("TORTURE_EV_TRACE")) { fprintf(stderr, "libev alloc %ld\n", size); __sanitizer_print_stack_trace(); }
                return realloc(p, (size_t) size);
        }
        free(p);
        return NULL;
}

struct child_result {
        unsigned long allocs;          /* mem.c allocations of the run: the points */
        unsigned long calls[_ORIGIN_MAX];
        unsigned long ev_startup;      /* libev allocations before the sweep (loop, watchers) */
        unsigned long ev_sweep;        /* ... while it ran: must be 0 */
        int injected;                  /* an allocation failed */
        int origin;                    /* whose, or -1 */
        int exit_code;                 /* cmkd's */
};

/* Runs cmkd --once --json --dry-run -c config with allocation n failing (0: none). Writes a
 * struct child_result to meta_fd. */
static int child_run(const char *config, unsigned long n, bool sticky, int meta_fd) {
        struct manager_options opts = {
                .mode = MANAGER_ONCE,
                .config_path = config,
                .json = true,
                .dry_run = true,
                .log_level = -1,
        };
        /* cmkd's debug log by default: judge() reads it (requests ended by cmkd's deadline). */
        const char *level = getenv("TORTURE_LOG_LEVEL") ?: "7";
        struct child_result res = { .origin = -1 };
        struct manager *m = NULL;
        int r;

        opts.log_level = atoi(level);
        log_set_max_level(opts.log_level); /* as main.c does for --log-level */
        alarm(RUN_TIMEOUT_SEC);
        ev_set_allocator(ev_alloc_cb);
        /* What mem_curl_global_init() does, with the callbacks attributed to libcurl. */
        if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, curl_malloc_cb, mem_free, curl_realloc_cb, curl_strdup_cb,
                                 curl_calloc_cb) != CURLE_OK) {
                fprintf(stderr, "torture: curl_global_init_mem failed\n");
                return 2;
        }
        origin_calls[ORIGIN_CURL] = origin_calls[ORIGIN_JSONC] = 0;

        mem_fail_at(n, sticky);
        r = manager_new(&opts, &m);
        res.ev_startup = ev_allocs;
        if (r < 0)
                res.exit_code = 3; /* as main.c */
        else {
                in_sweep = true;
                res.exit_code = manager_run(m);
                in_sweep = false;
                res.ev_sweep = ev_allocs - res.ev_startup;
                m = manager_free(m);
        }
        res.allocs = mem_alloc_count();
        res.injected = mem_failure_injected();
        mem_fail_at(0, false);
        memcpy(res.calls, origin_calls, sizeof res.calls);
        res.origin = res.injected ? (failed_origin >= 0 ? failed_origin : ORIGIN_OURS) : -1;
        fflush(stdout);
        if (write(meta_fd, &res, sizeof res) != (ssize_t) sizeof res)
                return 2;
        return 0;
}

/* ---- the parent ----------------------------------------------------------------------------- */

struct run {
        int status;          /* of waitpid */
        struct child_result res;
        char *out;           /* stdout, owned */
        char *err;           /* stderr, owned */
        double seconds;
};

static char *read_file(const char *path) {
        FILE *f = fopen(path, "re");
        char *s = NULL;
        size_t len = 0;

        if (!f)
                return strdup("");
        if (getdelim(&s, &len, '\0', f) < 0) {
                free(s);
                s = strdup("");
        }
        fclose(f);
        return s;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return ftw->level == 0 ? 0 : remove(path);
}

static int run_point(const char *config, const char *state, const char *work, unsigned long n, bool sticky,
                     struct run *ret) {
        char out_path[4096], err_path[4096], meta_path[4096];
        struct timespec t0, t1;
        int out_fd, err_fd, meta_fd;
        pid_t pid;

        if (state)
                (void) nftw(state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        snprintf(out_path, sizeof out_path, "%s/stdout", work);
        snprintf(err_path, sizeof err_path, "%s/stderr", work);
        snprintf(meta_path, sizeof meta_path, "%s/meta", work);
        out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        meta_fd = open(meta_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out_fd < 0 || err_fd < 0 || meta_fd < 0) {
                perror("torture: open");
                return -1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        /* The child leaves with exit(), which flushes whatever stdio holds: nothing. */
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                perror("torture: fork");
                return -1;
        }
        if (pid == 0) {
                if (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0)
                        _exit(2);
                close(out_fd);
                close(err_fd);
                /* Returning from here runs LeakSanitizer's check at exit. */
                exit(child_run(config, n, sticky, meta_fd));
        }
        close(out_fd);
        close(err_fd);
        *ret = (struct run) {};
        if (waitpid(pid, &ret->status, 0) < 0) {
                perror("torture: waitpid");
                return -1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ret->seconds = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (pread(meta_fd, &ret->res, sizeof ret->res, 0) != (ssize_t) sizeof ret->res)
                ret->res = (struct child_result) { .origin = -1, .exit_code = -1 };
        close(meta_fd);
        ret->out = read_file(out_path);
        ret->err = read_file(err_path);
        return 0;
}

static void run_done(struct run *r) {
        free(r->out);
        free(r->err);
        *r = (struct run) {};
}

/* ---- judging the output ------------------------------------------------------------------- */

/* The findings of a cluster object as a sorted, comma-joined "code:severity" list. */
static void finding_list(struct json_object *cluster, char *buf, size_t len, bool *ret_unknown) {
        struct json_object *fs = NULL;
        const char *items[64];
        size_t n = 0;

        *ret_unknown = false;
        buf[0] = 0;
        if (!json_object_object_get_ex(cluster, "findings", &fs) || !json_object_is_type(fs, json_type_array))
                return;
        for (size_t i = 0; i < json_object_array_length(fs) && n < 64; i++) {
                struct json_object *f = json_object_array_get_idx(fs, i), *c = NULL, *s = NULL;
                static char tmp[64][96];

                json_object_object_get_ex(f, "code", &c);
                json_object_object_get_ex(f, "severity", &s);
                snprintf(tmp[n], sizeof tmp[n], "%s:%s", json_object_get_string(c), json_object_get_string(s));
                if (strcmp(json_object_get_string(c) ?: "", "check-unknown") == 0)
                        *ret_unknown = true;
                items[n] = tmp[n];
                n++;
        }
        /* Insertion sort: a handful of findings. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && strcmp(items[j - 1], items[j]) > 0; j--) {
                        const char *t = items[j];

                        items[j] = items[j - 1];
                        items[j - 1] = t;
                }
        for (size_t i = 0; i < n; i++) {
                strncat(buf, items[i], len - strlen(buf) - 1);
                strncat(buf, ",", len - strlen(buf) - 1);
        }
}

static struct json_object *cluster_by_id(struct json_object *doc, const char *id) {
        struct json_object *cs = NULL;

        if (!json_object_object_get_ex(doc, "clusters", &cs))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(cs); i++) {
                struct json_object *c = json_object_array_get_idx(cs, i), *v = NULL;

                if (json_object_object_get_ex(c, "id", &v) && strcasecmp(json_object_get_string(v), id) == 0)
                        return c;
        }
        return NULL;
}

static bool sweep_complete(struct json_object *doc) {
        struct json_object *sw = NULL, *c = NULL;

        return json_object_object_get_ex(doc, "sweep", &sw) && json_object_object_get_ex(sw, "complete", &c) &&
               json_object_get_boolean(c);
}

/* Is every finding code of have (a finding list) in want? Severities are not compared: with
 * part of the facts unknown, a rule may grade its finding lower (a stale pin is critical when
 * the pinned version is known to be disabled, a warning otherwise), and check-unknown says so. */
static bool findings_subset(const char *have, const char *want) {
        char buf[8192], *save = NULL;

        snprintf(buf, sizeof buf, "%s", have);
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                char needle[128];
                char *colon = strchr(t, ':');
                const char *w;
                size_t len;

                if (strncmp(t, "check-unknown:", 14) == 0)
                        continue;
                if (colon)
                        *colon = 0;
                len = (size_t) snprintf(needle, sizeof needle, "%s:", t);
                for (w = strstr(want, needle); w && w != want && w[-1] != ','; w = strstr(w + len, needle))
                        ;
                if (!w)
                        return false;
        }
        return true;
}

/* What http.c's debug log says of a request it ended by its own deadline. */
#define DEADLINE_LOG "ended by cmkd's deadline) after"

static unsigned count_occurrences(const char *s, const char *needle) {
        unsigned n = 0;

        for (const char *p = s ? strstr(s, needle) : NULL; p; p = strstr(p + 1, needle))
                n++;
        return n;
}

/* NULL when the run's result is acceptable, else why not (static). */
static const char *judge(const struct run *r, struct json_object *base, bool injected_expected) {
        static char why[20000];
        struct json_object *doc, *cs = NULL, *bcs = NULL;
        const char *verdict = NULL;

        if (WIFSIGNALED(r->status)) {
                snprintf(why, sizeof why, "killed by signal %d (%s)", WTERMSIG(r->status), strsignal(WTERMSIG(r->status)));
                return why;
        }
        if (WEXITSTATUS(r->status) != 0) {
                snprintf(why, sizeof why, "exit status %d (sanitizer report?)", WEXITSTATUS(r->status));
                return why;
        }
        if (r->res.ev_sweep > 0) {
                snprintf(why, sizeof why, "libev allocated %lu times during the sweep", r->res.ev_sweep);
                return why;
        }
        if (strstr(r->err, "Sanitizer") || strstr(r->err, "runtime error:"))
                return "sanitizer report on stderr";
        /* One request libcurl lost track of, ended by cmkd's own deadline, is the recovery
         * working. More than one means libcurl's state stayed wrong after the failure and every
         * later request ran into the deadline (a sweep of minutes instead of a second). */
        if (count_occurrences(r->err, DEADLINE_LOG) > 1) {
                snprintf(why, sizeof why, "%u requests ended by cmkd's deadline (libcurl lost them)",
                         count_occurrences(r->err, DEADLINE_LOG));
                return why;
        }
        if (r->res.exit_code == 3) {
                /* A clean failure: said why, and printed no verdict (or one that did not run). */
                if (r->err[0] == 0)
                        return "exit code 3 without an error message";
                if (r->out[0] == 0)
                        return NULL;
                doc = json_tokener_parse(r->out);
                if (!doc)
                        return "exit code 3 and output that is not JSON";
                {
                        struct json_object *sw = NULL, *ran = NULL;

                        if (!json_object_object_get_ex(doc, "sweep", &sw) || !json_object_object_get_ex(sw, "ran", &ran) ||
                            json_object_get_boolean(ran))
                                verdict = "exit code 3 but the sweep says it ran";
                }
                json_object_put(doc);
                return verdict;
        }
        doc = json_tokener_parse(r->out);
        if (!doc) {
                snprintf(why, sizeof why, "exit code %d and no JSON on stdout", r->res.exit_code);
                return why;
        }
        json_object_object_get_ex(doc, "clusters", &cs);
        json_object_object_get_ex(base, "clusters", &bcs);
        for (size_t i = 0; cs && i < json_object_array_length(cs) && !verdict; i++) {
                struct json_object *c = json_object_array_get_idx(cs, i), *id = NULL, *b;
                char have[8192], want[8192];
                bool unknown, b_unknown;

                json_object_object_get_ex(c, "id", &id);
                b = cluster_by_id(base, json_object_get_string(id));
                if (!b) {
                        snprintf(why, sizeof why, "cluster %s is not in the clean run", json_object_get_string(id));
                        verdict = why;
                        break;
                }
                finding_list(c, have, sizeof have, &unknown);
                finding_list(b, want, sizeof want, &b_unknown);
                if (strcmp(have, want) == 0)
                        continue;
                if (unknown && findings_subset(have, want))
                        continue;
                snprintf(why, sizeof why, "cluster %s: findings [%s], the clean run has [%s]",
                         json_object_get_string(id), have, want);
                verdict = why;
        }
        if (!verdict && !sweep_complete(doc)) {
                /* Incomplete, and says so: clusters may be missing. */
        } else if (!verdict)
                for (size_t i = 0; bcs && i < json_object_array_length(bcs); i++) {
                        struct json_object *b = json_object_array_get_idx(bcs, i), *id = NULL;

                        json_object_object_get_ex(b, "id", &id);
                        if (!cluster_by_id(doc, json_object_get_string(id))) {
                                snprintf(why, sizeof why, "cluster %s is missing from a sweep that says it is complete",
                                         json_object_get_string(id));
                                verdict = why;
                                break;
                        }
                }
        json_object_put(doc);
        (void) injected_expected;
        return verdict;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void help(void) {
        printf("Usage: torture [--count] [--json-c] [--sticky] [--from=N] [--to=M] [--step=K] [--state=DIR] [--log=FILE] "
               "[--verbose] CONFIG\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_COUNT = 0x100, ARG_JSONC, ARG_STICKY, ARG_FROM, ARG_TO, ARG_STEP, ARG_STATE, ARG_LOG, ARG_VERBOSE };
        static const struct option options[] = {
                { "count", no_argument, NULL, ARG_COUNT },   { "sticky", no_argument, NULL, ARG_STICKY },
                { "from", required_argument, NULL, ARG_FROM }, { "to", required_argument, NULL, ARG_TO },
                { "step", required_argument, NULL, ARG_STEP }, { "state", required_argument, NULL, ARG_STATE },
                { "log", required_argument, NULL, ARG_LOG },  { "verbose", no_argument, NULL, ARG_VERBOSE },
                { "json-c", no_argument, NULL, ARG_JSONC }, { "help", no_argument, NULL, 'h' },
                {},
        };
        unsigned long from = 1, to = 0, step = 1, tried[_ORIGIN_MAX] = {}, n_points = 0, n_failed = 0,
                      n_clean_fail = 0, n_complete = 0, n_incomplete = 0;
        const char *state = NULL, *log_path = NULL, *config;
        bool count_only = false, sticky = false, verbose = false;
        char work[] = "/tmp/cmkd-torture-XXXXXX";
        struct json_object *base;
        struct run base_run;
        FILE *log = NULL;
        struct timespec t0, t1;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_COUNT:
                        count_only = true;
                        break;
                case ARG_JSONC:
                        fail_jsonc = true;
                        break;
                case ARG_STICKY:
                        sticky = true;
                        break;
                case ARG_FROM:
                        from = strtoul(optarg, NULL, 10);
                        break;
                case ARG_TO:
                        to = strtoul(optarg, NULL, 10);
                        break;
                case ARG_STEP:
                        step = strtoul(optarg, NULL, 10);
                        break;
                case ARG_STATE:
                        state = optarg;
                        break;
                case ARG_LOG:
                        log_path = optarg;
                        break;
                case ARG_VERBOSE:
                        verbose = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (optind != argc - 1 || from < 1 || step < 1) {
                help();
                return 2;
        }
        config = argv[optind];
        if (!mkdtemp(work)) {
                perror("torture: mkdtemp");
                return 2;
        }
        if (log_path && !(log = fopen(log_path, "we"))) {
                perror("torture: log");
                return 2;
        }

        /* The clean run, twice: the result the others are judged against must be stable. */
        for (int i = 0; i < 2; i++) {
                struct run again;
                const char *why;

                if (run_point(config, state, work, 0, false, i == 0 ? &base_run : &again) < 0)
                        return 2;
                if (i == 0) {
                        base = json_tokener_parse(base_run.out);
                        if (!base || !WIFEXITED(base_run.status) || WEXITSTATUS(base_run.status) != 0 ||
                            base_run.res.exit_code == 3 || base_run.res.injected) {
                                fprintf(stderr, "torture: the clean run failed (exit code %d):\n%s\n%s\n",
                                        base_run.res.exit_code, base_run.out, base_run.err);
                                return 2;
                        }
                        continue;
                }
                why = judge(&again, base, false);
                {
                        struct json_object *doc = json_tokener_parse(again.out);

                        if (!why && (!doc || strcmp(json_object_get_string(json_object_object_get(base, "summary")),
                                                    json_object_get_string(json_object_object_get(doc, "summary"))) != 0))
                                why = "summary";
                        json_object_put(doc);
                }
                if (why) {
                        fprintf(stderr, "torture: two clean runs differ (%s):\n%s\n---\n%s\n--- stderr:\n%s\n", why,
                                base_run.out, again.out, again.err);
                        return 2;
                }
                run_done(&again);
        }
        {
                unsigned long ours = base_run.res.allocs - base_run.res.calls[ORIGIN_CURL] -
                                     (fail_jsonc ? base_run.res.calls[ORIGIN_JSONC] : 0);

                printf("clean run: exit code %d, %lu allocation points: cmkd %lu, libcurl %lu, json-c %lu%s; "
                       "libev %lu at start-up, %lu during the sweep; %.2fs\n",
                       base_run.res.exit_code, base_run.res.allocs, ours, base_run.res.calls[ORIGIN_CURL],
                       base_run.res.calls[ORIGIN_JSONC], fail_jsonc ? "" : " (counted, not failed)",
                       base_run.res.ev_startup, base_run.res.ev_sweep, base_run.seconds);
                if (base_run.res.ev_sweep > 0) {
                        fprintf(stderr, "torture: libev allocated during the clean sweep\n");
                        return 1;
                }
        }
        if (count_only) {
                json_object_put(base);
                run_done(&base_run);
                return 0;
        }
        if (to == 0)
                to = base_run.res.allocs;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (unsigned long n = from; n <= to; n += step) {
                struct run r;
                const char *why;

                if (run_point(config, state, work, n, sticky, &r) < 0)
                        return 2;
                why = judge(&r, base, true);
                n_points++;
                if (r.res.origin >= 0)
                        tried[r.res.origin]++;
                if (!why) {
                        if (r.res.exit_code == 3)
                                n_clean_fail++;
                        else {
                                json_object *doc = json_tokener_parse(r.out);

                                if (doc && sweep_complete(doc))
                                        n_complete++;
                                else
                                        n_incomplete++;
                                json_object_put(doc);
                        }
                }
                if (log)
                        fprintf(log,
                                "{\"n\":%lu,\"sticky\":%s,\"injected\":%s,\"origin\":\"%s\",\"exit_code\":%d,"
                                "\"seconds\":%.3f,\"ok\":%s}\n",
                                n, sticky ? "true" : "false", r.res.injected ? "true" : "false",
                                r.res.origin >= 0 ? origin_names[r.res.origin] : "none", r.res.exit_code, r.seconds,
                                why ? "false" : "true");
                if (verbose)
                        printf("point %lu (%s): exit code %d, %.2fs\n--- stderr:\n%s\n", n,
                               r.res.origin >= 0 ? origin_names[r.res.origin] : "no failure injected", r.res.exit_code,
                               r.seconds, r.err);
                if (why) {
                        n_failed++;
                        printf("FAIL point %lu (%s%s): %s\n--- stdout:\n%s--- stderr (last 6000 bytes):\n%s\n", n,
                               r.res.origin >= 0 ? origin_names[r.res.origin] : "no failure injected",
                               sticky ? ", sticky" : "", why, r.out,
                               r.err + (strlen(r.err) > 6000 ? strlen(r.err) - 6000 : 0));
                        fflush(stdout);
                }
                run_done(&r);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("%s: %lu points (%lu..%lu step %lu): cmkd %lu, libcurl %lu, json-c %lu; %lu complete, %lu "
               "incomplete and saying so, %lu clean failures, %lu FAILED; %.0fs\n",
               sticky ? "sticky" : "one failure", n_points, from, to, step, tried[ORIGIN_OURS], tried[ORIGIN_CURL],
               tried[ORIGIN_JSONC], n_complete, n_incomplete, n_clean_fail, n_failed,
               (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
        json_object_put(base);
        run_done(&base_run);
        if (log)
                fclose(log);
        (void) nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        rmdir(work);
        return n_failed > 0 ? 1 : 0;
}
