# cmkd: keeps customer-managed keys of Azure DocumentDB clusters current and safe.
#
#   make            build build/cmkd
#   make check      every test (installs missing dependencies first)
#   make demo       run cmkd against the twin with a demo fleet
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
LIBDIR_SYSTEMD ?= $(PREFIX)/lib/systemd
UNITDIR ?= $(LIBDIR_SYSTEMD)/system
CATALOGDIR ?= $(LIBDIR_SYSTEMD)/catalog
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/cmkd

VERSION := 0.1.0
BUILD ?= build
CC ?= cc
PYTHON ?= /usr/bin/python3
PKGS := libcurl json-c libsystemd inih

# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer, no recovery, and runs
# whatever a target runs with these options (unless set): the first report aborts the
# process, LeakSanitizer checks at exit.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ifneq ($(SAN),)
export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1
endif
NPROC := $(shell nproc 2>/dev/null || echo 2)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lev -lm

CFLAGS ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2 -DCMKD_VERSION='"$(VERSION)"' $(PKG_CFLAGS) \
	$(if $(SAN),$(SAN_FLAGS))
override LDFLAGS += $(if $(SAN),$(SAN_FLAGS)) -Wl,-z,relro,-z,now

# The binary the integration suites run (CMKD=path tries another one).
CMKD ?= $(abspath $(BUILD)/cmkd)

SRC := $(wildcard src/*.c)
OBJ := $(SRC:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJ := $(filter-out $(BUILD)/obj/main.o,$(OBJ))
UNIT_SRC := $(wildcard tests/unit/test-*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/unit/%)


.PHONY: FORCE all bench check check-build check-conf check-faults check-install check-demo check-detect check-engine \
	check-hsm check-integration check-man check-valgrind torture torture-smoke \
	check-notify check-service check-tell check-twin check-update clean demo deps fuzz fuzz-build \
	fuzz-smoke install soak unit $(SAN_CHECKS)

all: $(BUILD)/cmkd $(BUILD)/systemd/cmkd.service

# Installs whatever build or test dependency is missing (apt-get); quick when none is.
deps:
	@.ci/install-deps

$(BUILD)/obj/%.o: src/%.c | $(BUILD)/obj
	@echo '  CC      $<'
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libcmkd.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/cmkd: $(BUILD)/obj/main.o $(BUILD)/libcmkd.a
	@echo '  LD      $@'
	@$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/unit/%: tests/unit/%.c $(BUILD)/libcmkd.a | $(BUILD)/unit
	@echo '  CCLD    $@'
	@$(CC) -Isrc $(CFLAGS) -MMD -MP -o $@ $< $(BUILD)/libcmkd.a $(LDFLAGS) $(PKG_LIBS) -lcmocka

# Test drivers of the journal and report checks (tests/integration/*-driver.c).
DRIVERS := $(BUILD)/alert-driver $(BUILD)/report-driver

$(BUILD)/%-driver: tests/integration/%-driver.c $(BUILD)/integration/fixture.o $(BUILD)/libcmkd.a
	@echo '  CCLD    $@'
	@$(CC) $(CFLAGS) -Isrc -Itests/integration -MMD -MP -o $@ $< $(BUILD)/integration/fixture.o \
		$(BUILD)/libcmkd.a $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/integration/fixture.o: tests/integration/fixture.c | $(BUILD)/integration
	@echo '  CC      $<'
	@$(CC) $(CFLAGS) -Isrc -MMD -MP -c $< -o $@

$(BUILD)/obj $(BUILD)/unit $(BUILD)/systemd $(BUILD)/integration:
	mkdir -p $@

# The unit as installed, ExecStart= at $(BINDIR). Rewritten only when the text changes, so
# 'make install PREFIX=/usr' after 'make' gets the right path without a needless rebuild.
$(BUILD)/systemd/cmkd.service: systemd/cmkd.service.in FORCE | $(BUILD)/systemd
	@sed 's|@BINDIR@|$(BINDIR)|g' $< >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; echo '  GEN     $@'; fi

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# Config cases: tests/conf/NAME.conf against NAME.expected (see tests/conf/README).
$(BUILD)/conf-check: tests/conf/conf-check.c $(BUILD)/libcmkd.a | $(BUILD)/obj
	@echo '  CCLD    $@'
	@$(CC) $(CFLAGS) -Isrc -MMD -MP -o $@ $< $(BUILD)/libcmkd.a $(LDFLAGS) $(PKG_LIBS)

check-conf: $(BUILD)/conf-check $(BUILD)/cmkd
	$(PYTHON) tests/conf/run.py -- $(abspath $(BUILD)/conf-check)
	CMKD=$(CMKD) $(PYTHON) -m unittest -v tests/conf/test_binary.py

check-integration: $(BUILD)/cmkd $(DRIVERS) $(BUILD)/soak-driver
	CMKD=$(abspath $(BUILD)/cmkd) CMKD_BUILD=$(abspath $(BUILD)) $(PYTHON) -m unittest discover -s tests/integration -p 'test_*.py'

# Alerts through a real journald (private mount namespace), the catalog through journalctl,
# reports against their schema and in headless Chromium.
# Needs root (mount namespace) and Debian's chromium. Screenshot: $(BUILD)/report-screenshot.png.
check-tell: $(DRIVERS) $(BUILD)/cmkd
	cd tests/integration && CMKD=$(CMKD) CMKD_BUILD=$(abspath $(BUILD)) $(PYTHON) -m unittest -v test_journal test_report test_journal_daemon test_daemon_outputs

# 'systemd-analyze verify' prints nothing and 'security --offline=yes' rates the unit at 1.0
# or lower; the checked copy runs the binary just built. Starts no systemd.
check-service: $(BUILD)/cmkd
	tests/service/check-service systemd/cmkd.service.in $(abspath $(BUILD)) $(BUILD)/check-service 1.0

# make install into a scratch DESTDIR: files in place, installed config valid, kept on reinstall.
check-install: $(BUILD)/cmkd $(BUILD)/systemd/cmkd.service
	tests/service/check-install $(BUILD)

# The man pages: lint-clean (mandoc, groff) and complete against the sources (every config
# key, option, finding code, refusal, exit status, environment variable, journal field).
check-man: $(BUILD)/conf-check
	$(PYTHON) tests/man/check-man --conf-check $(abspath $(BUILD)/conf-check)

# Issue 4 (Detect) end to end against the twin: every finding code, healthy clusters, exit
# codes, discovery, requests per sweep (and the daemon's cached second sweep), the --once table
# and JSON. About 40 s. CMKD=path tries another binary; under ASan/UBSan:
#   make BUILD=build-asan SAN=1 check-detect
check-detect: $(BUILD)/cmkd
	CMKD=$(CMKD) $(PYTHON) -m unittest -v tests/integration/test_detect.py tests/integration/test_grace.py tests/integration/test_proxy.py

# The sd_notify protocol of the daemon (READY, WATCHDOG, RELOADING, STOPPING) against a fake
# notify socket and the twin. CMKD=path tries another binary.
check-notify: $(BUILD)/cmkd
	CMKD=$(CMKD) $(PYTHON) -m unittest -v tests/integration/test_notify.py

# Issue 5, the updates, against the twin: end to end (PUT, versionless, PATCH), every guard
# rail, failed operations and their holds, kill -9 and restart, corrupt records, dry run.
# CMKD=path tries another binary, e.g. the ASan build:
#   make BUILD=build-asan SAN=1 build-asan/cmkd && make check-update CMKD=$PWD/build-asan/cmkd
check-update: $(BUILD)/cmkd
	CMKD=$(CMKD) $(PYTHON) -m unittest -v tests/integration/test_update.py

# Valgrind memcheck over one full `cmkd --once` sweep against the twin: 0 errors, 0 bytes
# definitely lost, no descriptor open at exit beyond stdio. The plain build (valgrind and ASan
# do not mix). About 5 s. CMKD=path tries another binary.
check-valgrind: $(BUILD)/cmkd
	CMKD=$(CMKD) $(PYTHON) -m unittest -v tests/integration/test_valgrind.py

# Issue 10, Managed HSM, against the twin: healthy HSM-backed clusters (every way a local role
# grants access), broken ones (local role removed or at another key's scope, key disabled, stale
# pin, EC-HSM, purge protection off, firewall, HSM deleted or in another region, role assignments
# cmkd may not read), the update of a stale HSM pin end to end, the HSM audience on every HSM
# request and no 401, the report's key store type, the daemon's cache. About a minute.
# CMKD=path tries another binary.
check-hsm: $(BUILD)/cmkd
	CMKD=$(CMKD) $(PYTHON) -m unittest -v tests/integration/test_hsm.py

# Fuzzers (libFuzzer, clang 14 + libclang-rt-14-dev), one per parser of outside input:
# tests/fuzz/fuzz-*.c. The decoders of ARM and Key Vault answers (cluster, vault, key, arm-misc,
# kv-misc), tokens, challenges and error envelopes (auth), the config (conf), key URLs (keyurl),
# time spans, durations and RFC 3339 times (timespan), Retry-After (retry-after), change windows
# and report schedules (calendar), and every file read back from the StateDirectory: alert
# state, operation records, update holds, audit lines (state). Every module but main.c is built
# instrumented into $(FUZZ_BUILD)/obj. Seeds: tests/fuzz/corpus/<name>/ (the reference
# examples, tests/fuzz/make-corpus.py), tests/fuzz/seeds/fuzz-<name>/, and for conf the config
# cases and conf/cmkd.conf; new inputs go to $(FUZZ_BUILD)/corpus/<name>/, crashes to
# $(FUZZ_BUILD)/artifacts/.
#   make fuzz         each target for FUZZ_SECONDS (60)
#   make fuzz-smoke   each target for FUZZ_SMOKE_SECONDS (4), in make check
FUZZ_BUILD ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -DCMKD_VERSION='"$(VERSION)"' -Isrc $(PKG_CFLAGS) $(FUZZ_SAN)
FUZZ_LIB_OBJ := $(patsubst src/%.c,$(FUZZ_BUILD)/obj/%.o,$(filter-out src/main.c,$(SRC)))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/obj/%.o: src/%.c | $(FUZZ_BUILD)/obj
	@echo '  FUZZCC  $<'
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz-common.h $(FUZZ_LIB_OBJ) | $(FUZZ_BUILD)/obj
	@echo '  FUZZLD  $@'
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(PKG_LIBS)

$(FUZZ_BUILD)/obj:
	mkdir -p $@

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	tests/fuzz/run-fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_BIN)

fuzz-smoke: fuzz-build
	tests/fuzz/run-fuzz $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZ_BIN)

# The instrumented objects are shared by every target: keep them between runs.
.SECONDARY: $(FUZZ_LIB_OBJ)

# The engine (http, auth, azure, arm, kv): its unit tests, then the driver against the twin.
ENGINE_UNITS := $(addprefix $(BUILD)/unit/,test-backoff test-pacer test-auth_decode test-auth test-http test-azure \
	test-arm test-kv)

$(BUILD)/engine-driver: tests/integration/engine-driver.c $(BUILD)/libcmkd.a
	@echo '  CCLD    $@'
	@$(CC) $(CFLAGS) -Isrc -MMD -MP -o $@ $< $(BUILD)/libcmkd.a $(LDFLAGS) $(PKG_LIBS)

# The daemon's sweep path back to back in one process (tests/integration/soak-driver.c
# compiles src/manager.c into itself and sets the loaded poll interval to 1 ms), for the
# memory test and make soak.
$(BUILD)/soak-driver: tests/integration/soak-driver.c src/manager.c $(BUILD)/libcmkd.a
	@echo '  CCLD    $@'
	@$(CC) $(CFLAGS) -Isrc -MMD -MP -o $@ $< $(BUILD)/libcmkd.a $(LDFLAGS) $(PKG_LIBS)

check-engine: $(ENGINE_UNITS) $(BUILD)/engine-driver
	@set -e; for t in $(ENGINE_UNITS); do echo "== $$t"; $$t; done
	ENGINE_DRIVER=$(abspath $(BUILD)/engine-driver) $(PYTHON) -m unittest -v tests/integration/test_engine.py


# The twin (tests/twin): its unittests, the spec-example walk, the throttling test and the
# official Azure JS SDK run against it (npm ci into tests/twin/fidelity/node_modules).
check-twin:
	@command -v node >/dev/null 2>&1 || { echo "check-twin: node (Node.js >= 20) is required for the SDK fidelity test" >&2; exit 1; }
	@command -v npm >/dev/null 2>&1 || { echo "check-twin: npm is required for the SDK fidelity test" >&2; exit 1; }
	cd tests/twin && $(PYTHON) -m unittest discover -s . -p 'test_*.py'

# Issue 8, "Prove it holds": the fault matrix (test_faults, in two shards), kill -9 loop and
# corrupt state files (test_crash), secret hygiene (test_secrets, a private journald: needs
# root), and memory and descriptors over 400 back-to-back sweeps with 500+ faults
# (test_memory). The first four run side by side (they mostly wait on the twin's timers);
# each writes its log to $(BUILD)/check-faults/. About 2-3 minutes. CMKD=path tries another
# binary; CRASH_ITERATIONS= (10 here, 2 kills per phase), CRASH_SEED=. Under SAN=1, RSS is
# not asserted (MEMORY_RSS_CHECK=0: ASan's shadow and quarantine); LeakSanitizer is.
FAULT_TESTS := test_faults@0/2 test_faults@1/2 test_crash test_secrets
CRASH_ITERATIONS ?= 10
check-faults: $(BUILD)/cmkd $(BUILD)/soak-driver
	@mkdir -p $(BUILD)/check-faults
	@set -e; pids=; for spec in $(FAULT_TESTS); do \
		t=$${spec%%@*}; shard=; log=$$t; case $$spec in *@*) shard=$${spec#*@}; log=$$t-$${shard%%/*};; esac; \
		FAULTS_SHARD=$$shard CRASH_ITERATIONS=$(CRASH_ITERATIONS) CMKD=$(CMKD) CMKD_BUILD=$(abspath $(BUILD)) \
			$(PYTHON) -m unittest -v tests/integration/$$t.py >$(BUILD)/check-faults/$$log.log 2>&1 & \
		pids="$$pids $$log:$$!"; \
	done; rc=0; for tp in $$pids; do \
		t=$${tp%%:*}; if wait $${tp##*:}; then echo "  $$t: ok ($$(grep -h '^Ran ' $(BUILD)/check-faults/$$t.log))"; \
		else echo "  $$t: FAILED"; tail -n 80 $(BUILD)/check-faults/$$t.log; rc=1; fi; \
		grep -h 'figures' $(BUILD)/check-faults/$$t.log || true; \
	done; exit $$rc
	MEMORY_RSS_CHECK=$(if $(SAN),0,1) CMKD_BUILD=$(abspath $(BUILD)) $(PYTHON) -m unittest -v \
		tests/integration/test_memory.py

# Not part of make check: 10,000 sweeps of the daemon's sweep path back to back in one
# process (build/soak-driver; PollIntervalSec= cannot go below 10 s, so the driver compiles
# src/manager.c in and sets the loaded poll interval to 1 ms, with no test-only code in
# src/) against a twin injecting 10,000+ faults; RSS and descriptor count sampled every 250
# sweeps and printed (first, after warm-up, last, max). Bounded: SOAK_TIMEOUT=1800 s.
SOAK_SWEEPS ?= 10000
SOAK_TIMEOUT ?= 1800
soak: $(BUILD)/soak-driver
	MEMORY_SWEEPS=$(SOAK_SWEEPS) MEMORY_FAULTS=$(SOAK_SWEEPS) SOAK_TIMEOUT=$(SOAK_TIMEOUT) \
		CMKD_BUILD=$(abspath $(BUILD)) $(PYTHON) -m unittest -v tests/integration/test_memory.py

# ---- allocation-failure torture (tests/torture) ---------------------------------------------
# torture fails each allocation of a full sweep in turn (make torture: all of them, once and
# sticky; make torture-smoke: a sample, in make check). Built with SAN=1 (LeakSanitizer
# checks each run). json-c allocates with malloc(): the torture binary links a copy of the
# static libjson-c.a whose malloc, calloc, realloc and strdup are renamed to torture_json_*,
# which count and fail them through mem.c like ours and libcurl's.
JSONC_A := $(shell pkg-config --variable=libdir json-c 2>/dev/null)/libjson-c.a
TORTURE_LIBS = $(shell pkg-config --libs libcurl libsystemd inih 2>/dev/null) -lev -lm

$(BUILD)/libjson-c-torture.a: $(JSONC_A) | $(BUILD)/obj
	@echo '  OBJCOPY $@'
	@objcopy --redefine-sym malloc=torture_json_malloc --redefine-sym calloc=torture_json_calloc \
		--redefine-sym realloc=torture_json_realloc --redefine-sym strdup=torture_json_strdup $< $@

$(BUILD)/torture: tests/torture/torture.c $(BUILD)/libcmkd.a $(BUILD)/libjson-c-torture.a
	@echo '  CCLD    $@'
	@$(CC) $(CFLAGS) -Isrc -MMD -MP -o $@ $< $(BUILD)/libcmkd.a $(BUILD)/libjson-c-torture.a $(LDFLAGS) \
		$(TORTURE_LIBS)

# make torture: every point of a full sweep of the findings scenario, each failing alone, then
# from it on (sticky); hours. TORTURE_ARGS adds to both (e.g. --from=N --to=M, --json-c).
# torture-smoke, in make check: every TORTURE_SMOKE_STEP-th point, failing alone; then every
# point of TORTURE_SMOKE_RANGE, the first token request and the first connections (about
# points 190-320 today), where libcurl 7.88 lost transfers after a failed allocation, and
# where it divided by zero (about 213 and 314) until http.c dropped its multi handle then.
TORTURE_ARGS ?=
TORTURE_SMOKE_STEP ?= 149
TORTURE_SMOKE_RANGE ?= --from=150 --to=350
torture:
	@$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) SAN=1 $(SAN_BUILD)/torture
	$(PYTHON) tests/torture/run-torture --mode once --mode sticky $(abspath $(SAN_BUILD)/torture) \
		--log=$(abspath $(SAN_BUILD))/torture.jsonl $(TORTURE_ARGS)

torture-smoke:
	@$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) SAN=1 $(SAN_BUILD)/torture
	$(PYTHON) tests/torture/run-torture $(abspath $(SAN_BUILD)/torture) --step=$(TORTURE_SMOKE_STEP)
	$(PYTHON) tests/torture/run-torture $(abspath $(SAN_BUILD)/torture) $(TORTURE_SMOKE_RANGE)

# ---- make check ---------------------------------------------------------------------------
# Builds everything first (plain in $(BUILD)/, ASan+UBSan in $(SAN_BUILD)/, the fuzzers, the
# torture driver), then runs every suite through tests/run-suites, CHECK_JOBS at a time:
# one line per suite with its time, the whole log of each failed suite at the end, every
# log in $(BUILD)/check-logs/. The suites can run side by side: each starts its own twin
# on ephemeral ports and keeps its files in private temporary directories; most of their
# time is spent waiting (for sweeps, timers, the twin), not computing, so 2 cores carry
# several at once. Each suite is also a target of its own.
#
# Sanitizers: every suite that runs our C code runs twice, the second time as san-SUITE
# with $(SAN_BUILD)/ (SAN=1: ASan and UBSan without recovery, LeakSanitizer at exit, the
# options above): the unit tests, the config cases (conf-check), the engine (its unit tests
# and engine-driver), detection, updates, Managed HSM, sd_notify, the journal and report drivers with
# the daemon, the faults, crash, secret and memory tests, and the demo. Not twice: check-man (it only asks conf-check for the key list,
# which san-check-conf covers), check-service and check-install (they check files and the
# unit, not behaviour), check-twin (no C).
SAN_BUILD := build-asan
SAN_CHECKS := san-unit san-check-conf san-check-engine san-check-detect san-check-update san-check-hsm \
	san-check-notify san-check-tell san-check-faults san-check-demo
CHECK_JOBS ?= 6
# Longest first, so that the short ones fill the gaps.
CHECKS := san-check-faults check-faults san-check-detect san-check-tell torture-smoke check-detect fuzz-smoke check-valgrind san-check-hsm san-check-engine check-engine check-hsm \
	check-twin san-check-notify check-notify san-check-update check-update check-tell san-unit unit check-demo \
	san-check-demo check-conf san-check-conf check-man check-service check-install

$(SAN_CHECKS): san-%:
	@$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) SAN=1 CMKD=$(abspath $(SAN_BUILD)/cmkd) $*

# What the suites of one build need, so that none of them builds while others run.
check-build: all $(UNIT_BIN) $(DRIVERS) $(BUILD)/conf-check $(BUILD)/engine-driver $(BUILD)/soak-driver $(if $(SAN),$(BUILD)/torture)

check: deps
	@$(MAKE) --no-print-directory -j$(NPROC) check-build
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=$(SAN_BUILD) SAN=1 check-build
	@$(MAKE) --no-print-directory -j$(NPROC) fuzz-build
	@$(PYTHON) tests/run-suites -j $(CHECK_JOBS) --log-dir $(abspath $(BUILD))/check-logs $(CHECKS)

# Issue 9: a full sweep of cmkd against the same detection written with the official Azure SDK
# for JavaScript (tests/bench/sdk-sweep.cjs), both on the twin with 20 ms of latency and ARM
# throttling, at 1,000, 10,000 and 50,000 clusters; the floor, the idle cost, the targets.
# Figures to tests/bench/results/DATE-MACHINE.md. About 5 minutes; not part of make check.
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--scales 10000 --runs 5 --no-write".
BENCH_ARGS ?=
bench: $(BUILD)/cmkd
	$(PYTHON) tests/bench/run-bench --cmkd $(abspath $(BUILD)/cmkd) $(BENCH_ARGS)

# The demo (README.md): installs what building it needs (.ci/install-deps --build), builds,
# and runs cmkd against the twin with a demo fleet (tests/demo/run-demo). Everything it
# writes goes to $(BUILD)/demo; it starts afresh each time and stops what it started.
demo:
	@.ci/install-deps --build
	@$(MAKE) --no-print-directory all
	@$(PYTHON) tests/demo/run-demo --cmkd $(abspath $(BUILD)/cmkd) --dir $(abspath $(BUILD)/demo)

# The demo, non-interactively, into $(BUILD)/check-demo: every step must show in its output
# and leave its files (tests/demo/test_demo.py). Needs root or a readable running journald
# for the alert step.
check-demo: $(BUILD)/cmkd
	CMKD=$(abspath $(BUILD)/cmkd) CMKD_BUILD=$(abspath $(BUILD)) $(PYTHON) -m unittest -v tests/demo/test_demo.py

install: $(BUILD)/cmkd $(BUILD)/systemd/cmkd.service
	install -Dm755 $(BUILD)/cmkd $(DESTDIR)$(BINDIR)/cmkd
	install -Dm644 $(BUILD)/systemd/cmkd.service $(DESTDIR)$(UNITDIR)/cmkd.service
	install -Dm644 -t $(DESTDIR)$(DOCDIR)/examples systemd/examples/*.conf
	install -Dm644 man/cmkd.8 $(DESTDIR)$(MANDIR)/man8/cmkd.8
	install -Dm644 man/cmkd.conf.5 $(DESTDIR)$(MANDIR)/man5/cmkd.conf.5
	install -Dm644 systemd/cmkd.catalog $(DESTDIR)$(CATALOGDIR)/cmkd.catalog
	install -Dm644 conf/cmkd.conf $(DESTDIR)$(DOCDIR)/examples/cmkd.conf
	@# The shipped config (every key commented out at its default) unless one is there: never
	@# overwrite the administrator's.
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/cmkd/cmkd.conf ]; then \
		echo "  KEEP    $(DESTDIR)$(SYSCONFDIR)/cmkd/cmkd.conf"; \
	else \
		install -Dm644 conf/cmkd.conf $(DESTDIR)$(SYSCONFDIR)/cmkd/cmkd.conf && \
		echo "  INSTALL $(DESTDIR)$(SYSCONFDIR)/cmkd/cmkd.conf"; \
	fi

clean:
	rm -rf build build-*

-include $(BUILD)/torture.d $(OBJ:.o=.d) $(UNIT_BIN:=.d) $(BUILD)/conf-check.d $(DRIVERS:=.d) $(BUILD)/integration/fixture.d \
	$(FUZZ_LIB_OBJ:.o=.d) $(BUILD)/engine-driver.d $(BUILD)/soak-driver.d
