/* SPDX-License-Identifier: MIT */
/* soak-driver: the daemon's own sweep path, back to back, in one process, for the memory
 * and soak tests (tests/integration/test_memory.py, make soak). It compiles src/manager.c
 * into itself to reach the manager's config and statistics, starts the manager in daemon
 * mode from a config file, and sets the poll interval of the loaded config to 1 ms: every
 * sweep then starts as soon as the previous one is done, with everything the daemon does
 * after a sweep (updates, alert state, metrics file, status) and every long-lived object
 * (token cache, TTL caches, pacer, connection cache, holds) living across sweeps exactly as
 * in cmkd. PollIntervalSec= cannot go below 10 s, which would make 10,000 sweeps take a day;
 * nothing in src/ knows about this driver.
 *
 *   soak-driver -c CONFIG -n SWEEPS [-s SAMPLE_EVERY] [-r CAPACITY:REFILL_PER_SEC]
 *
 * Prints, to stdout, one line per sample (every SAMPLE_EVERY sweeps, and after the first):
 *   sample sweeps=N rss_kib=K fds=F seconds=S
 * and at the end:
 *   done sweeps=N failed=N requests=N retries=N throttled=N updates_succeeded=N updates_failed=N
 *        updates_timed_out=N stall_max_ms=X stalls=N seconds=S
 * (update attempts by how they ended, each once: cmkd_updates_total).
 * cmkd's own log goes to stderr. Exit status 0, or 1 when the manager could not start. */

#include "azure.h"

/* The pacer's limit for ARM reads: ARM's own (250, 25/s) unless -r gives the capacity and
 * refill of the twin's throttle (set_throttle), so that 10,000 sweeps are not paced to 25
 * reads a second. Set in the config handed to azure_new(), the one place the manager
 * builds it. */
static struct pacer_limit soak_arm_reads;
static int soak_azure_new(struct ev_loop *loop, struct http *http, struct auth *auth, const struct azure_conf *conf,
                          struct azure **ret);
#define azure_new soak_azure_new
#include "../../src/manager.c"
#undef azure_new

static int soak_azure_new(struct ev_loop *loop, struct http *http, struct auth *auth, const struct azure_conf *conf,
                          struct azure **ret) {
        struct azure_conf c = *conf;

        if (soak_arm_reads.capacity > 0)
                c.arm_reads = soak_arm_reads;
        return azure_new(loop, http, auth, &c, ret);
}

#include <curl/curl.h>
#include <dirent.h>
#include <getopt.h>

static struct {
        struct manager *m;
        unsigned sweeps_wanted;
        unsigned sample_every;
        uint64_t next_sample;
        usec_t started;
        ev_prepare watch;
} soak;

static void sample_proc(long *ret_rss_kib, unsigned *ret_fds) {
        char line[256];
        FILE *f = fopen("/proc/self/status", "re");
        DIR *d;
        struct dirent *de;
        unsigned n = 0;

        *ret_rss_kib = -1;
        if (f) {
                while (fgets(line, sizeof line, f))
                        if (startswith(line, "VmRSS:"))
                                *ret_rss_kib = strtol(line + 6, NULL, 10);
                fclose(f);
        }
        d = opendir("/proc/self/fd");
        if (d) {
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.')
                                n++;
                closedir(d);
                n--; /* the directory's own descriptor */
        }
        *ret_fds = n;
}

static void print_sample(uint64_t sweeps) {
        long rss;
        unsigned fds;

        sample_proc(&rss, &fds);
        printf("sample sweeps=%llu rss_kib=%ld fds=%u seconds=%.1f\n", (unsigned long long) sweeps, rss, fds,
               (double) (now_usec(CLOCK_MONOTONIC) - soak.started) / USEC_PER_SEC);
        fflush(stdout);
}

/* Before each poll of the loop: sample when a mark is passed, stop after the last sweep. */
static void on_watch(struct ev_loop *loop, ev_prepare *w, int revents) {
        struct manager *m = soak.m;
        uint64_t sweeps = m->counters.sweeps;

        if (sweeps >= soak.next_sample) {
                print_sample(sweeps);
                soak.next_sample = sweeps < soak.sample_every ? soak.sample_every
                                                              : (sweeps / soak.sample_every + 1) * soak.sample_every;
        }
        /* The poll interval of a reloaded config would be the file's: keep it short. */
        m->conf->poll_interval_usec = USEC_PER_MSEC;
        if (sweeps >= soak.sweeps_wanted && !m->sweeping)
                ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char *argv[]) {
        struct manager_options opts = { .mode = MANAGER_DAEMON, .log_level = -1 };
        const struct metrics_counters *c;
        int opt, r;

        soak.sample_every = 100;
        while ((opt = getopt(argc, argv, "c:n:s:r:")) >= 0)
                switch (opt) {
                case 'c':
                        opts.config_path = optarg;
                        break;
                case 'n':
                        soak.sweeps_wanted = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        soak.sample_every = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'r':
                        if (sscanf(optarg, "%lf:%lf", &soak_arm_reads.capacity, &soak_arm_reads.refill_per_sec) != 2 ||
                            soak_arm_reads.capacity < 1 || soak_arm_reads.refill_per_sec <= 0) {
                                fprintf(stderr, "soak-driver: -r wants CAPACITY:REFILL_PER_SEC\n");
                                return 2;
                        }
                        soak_arm_reads.reserve_fraction = 0.1;
                        break;
                default:
                        fprintf(stderr, "usage: soak-driver -c CONFIG -n SWEEPS [-s SAMPLE_EVERY] [-r CAP:REFILL]\n");
                        return 2;
                }
        if (!opts.config_path || soak.sweeps_wanted == 0 || soak.sample_every == 0) {
                fprintf(stderr, "usage: soak-driver -c CONFIG -n SWEEPS [-s SAMPLE_EVERY]\n");
                return 2;
        }

        log_setup();
        r = mem_curl_global_init(CURL_GLOBAL_DEFAULT);
        if (r < 0)
                return 1;
        r = manager_new(&opts, &soak.m);
        if (r < 0)
                return 1;
        soak.m->conf->poll_interval_usec = USEC_PER_MSEC;
        soak.started = now_usec(CLOCK_MONOTONIC);
        soak.next_sample = 1;
        ev_prepare_init(&soak.watch, on_watch);
        ev_prepare_start(soak.m->loop, &soak.watch);

        (void) manager_run(soak.m);

        ev_prepare_stop(soak.m->loop, &soak.watch);
        print_sample(soak.m->counters.sweeps);
        c = &soak.m->counters;
        printf("done sweeps=%llu failed=%llu requests=%llu retries=%llu throttled=%llu updates_succeeded=%llu "
               "updates_failed=%llu updates_timed_out=%llu stall_max_ms=%.1f stalls=%llu seconds=%.1f\n",
               (unsigned long long) c->sweeps, (unsigned long long) c->sweeps_failed,
               (unsigned long long) c->requests, (unsigned long long) c->retries,
               (unsigned long long) c->throttled, (unsigned long long) c->updates[METRICS_UPDATE_SUCCEEDED],
               (unsigned long long) c->updates[METRICS_UPDATE_FAILED],
               (unsigned long long) c->updates[METRICS_UPDATE_TIMED_OUT],
               (double) stall_monitor_max_usec(&soak.m->stall) / USEC_PER_MSEC,
               (unsigned long long) soak.m->stall.stalls,
               (double) (now_usec(CLOCK_MONOTONIC) - soak.started) / USEC_PER_SEC);
        fflush(stdout);
        soak.m = manager_free(soak.m);
        return 0;
}
