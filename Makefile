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

# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer, no recovery.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lev -lm

CFLAGS ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2 -DCMKD_VERSION='"$(VERSION)"' $(PKG_CFLAGS) \
	$(if $(SAN),$(SAN_FLAGS))
override LDFLAGS += $(if $(SAN),$(SAN_FLAGS)) -Wl,-z,relro,-z,now

SRC := $(wildcard src/*.c)
OBJ := $(SRC:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJ := $(filter-out $(BUILD)/obj/main.o,$(OBJ))
UNIT_SRC := $(wildcard tests/unit/test-*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/unit/%)


.PHONY: FORCE all bench check check-conf check-faults check-install check-demo check-detect check-engine check-hsm \
	check-integration check-man check-notify check-service check-tell check-twin check-update clean demo deps \
	fuzz-build fuzz-build-conf fuzz-smoke fuzz-smoke-conf install soak unit

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

check-conf: $(BUILD)/conf-check
	$(PYTHON) tests/conf/run.py -- $(abspath $(BUILD)/conf-check)

# Fuzzing of the config and the foundation parsers (libFuzzer; clang). Separate names
# from the decoders' fuzz-build/fuzz-smoke so both can live in build-fuzz/.
#   make fuzz-build-conf                    build build-fuzz/fuzz-{conf,timespan,...}
#   make fuzz-smoke-conf FUZZ_CONF_SECONDS=60   run each for that long, stop on a crash
FUZZ_CONF_CC ?= clang
FUZZ_CONF_SECONDS ?= 60
FUZZ_CONF_TARGETS := fuzz-conf fuzz-timespan fuzz-calendar fuzz-keyurl fuzz-retry-after
FUZZ_CONF_BIN := $(FUZZ_CONF_TARGETS:%=build-fuzz/%)
FUZZ_CONF_OBJ := $(patsubst src/%.c,build-fuzz/conf-obj/%.o,$(filter-out src/main.c,$(SRC)))
FUZZ_CONF_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Wall -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all $(PKG_CFLAGS)

build-fuzz/conf-obj/%.o: src/%.c
	@mkdir -p $(@D)
	@echo '  CC      $@'
	@$(FUZZ_CONF_CC) $(FUZZ_CONF_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_CONF_BIN): build-fuzz/%: tests/fuzz/%.c $(FUZZ_CONF_OBJ)
	@echo '  CCLD    $@'
	@$(FUZZ_CONF_CC) $(FUZZ_CONF_FLAGS) -fsanitize=fuzzer -Isrc -o $@ $< $(FUZZ_CONF_OBJ) $(PKG_LIBS)

fuzz-build-conf: $(FUZZ_CONF_BIN)

# Seeds: the config cases and cmkd.conf for fuzz-conf; tests/fuzz/seeds/<target>/ for
# the others (calendar and retry-after inputs start with 8 bytes of time).
fuzz-smoke-conf: fuzz-build-conf
	@set -e; for t in $(FUZZ_CONF_TARGETS); do \
		mkdir -p build-fuzz/corpus/$$t; \
		seeds=tests/fuzz/seeds/$$t; [ $$t = fuzz-conf ] && seeds="tests/conf conf"; \
		echo "== $$t ($(FUZZ_CONF_SECONDS)s)"; \
		build-fuzz/$$t -max_total_time=$(FUZZ_CONF_SECONDS) -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=build-fuzz/$$t- build-fuzz/corpus/$$t $$seeds \
			2>build-fuzz/$$t.log || { tail -40 build-fuzz/$$t.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' build-fuzz/$$t.log; \
	done

check-integration: $(BUILD)/cmkd $(DRIVERS) $(BUILD)/soak-driver
	CMKD=$(abspath $(BUILD)/cmkd) CMKD_BUILD=$(abspath $(BUILD)) $(PYTHON) -m unittest discover -s tests/integration -p 'test_*.py'

# Alerts through a real journald (private mount namespace), the catalog through journalctl,
# reports against their schema and in headless Chromium.
# Needs root (mount namespace) and Debian's chromium. Screenshot: $(BUILD)/report-screenshot.png.
check-tell: $(DRIVERS) $(BUILD)/cmkd
	cd tests/integration && CMKD_BUILD=$(abspath $(BUILD)) $(PYTHON) -m unittest -v test_journal test_report test_journal_daemon test_daemon_outputs

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
CMKD ?= $(abspath $(BUILD)/cmkd)
check-notify: $(BUILD)/cmkd
	CMKD=$(CMKD) $(PYTHON) -m unittest -v tests/integration/test_notify.py

# Issue 5, the updates, against the twin: end to end (PUT, versionless, PATCH), every guard
# rail, failed operations and their holds, kill -9 and restart, corrupt records, dry run.
# CMKD=path tries another binary, e.g. the ASan build:
#   make BUILD=build-asan SAN=1 build-asan/cmkd && make check-update CMKD=$PWD/build-asan/cmkd
check-update: $(BUILD)/cmkd
	CMKD=$(CMKD) $(PYTHON) -m unittest -v tests/integration/test_update.py

# Issue 10, Managed HSM, against the twin: healthy HSM-backed clusters (every way a local role
# grants access), broken ones (local role removed or at another key's scope, key disabled, stale
# pin, EC-HSM, purge protection off, firewall, HSM deleted or in another region, role assignments
# cmkd may not read), the update of a stale HSM pin end to end, the HSM audience on every HSM
# request and no 401, the report's key store type, the daemon's cache. About a minute.
# CMKD=path tries another binary.
check-hsm: $(BUILD)/cmkd
	CMKD=$(CMKD) $(PYTHON) -m unittest -v tests/integration/test_hsm.py

# Decoder fuzzers (libFuzzer, clang 14 + libclang-rt-14-dev). Only the modules the decoders
# use are built, instrumented, into $(FUZZ_BUILD). fuzz-smoke runs each target for
# FUZZ_SECONDS, seeded from tests/fuzz/corpus/<target>/ (regenerate the seeds with
# tests/fuzz/make-corpus.py); new inputs go to $(FUZZ_BUILD)/corpus/, crashes to
# $(FUZZ_BUILD)/artifacts/.
FUZZ_BUILD ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 20
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -Isrc $(PKG_CFLAGS) $(FUZZ_SAN)
FUZZ_LIB_SRC := src/json_util.c src/arm_decode.c src/kv_decode.c src/model.c src/mem.c src/strv.c \
	src/armid.c src/keyurl.c src/timeutil.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o)
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

fuzz-smoke: fuzz-build
	@set -e; for b in $(FUZZ_BIN); do \
		t=$${b##*/fuzz-}; log=$(FUZZ_BUILD)/fuzz-$$t.log; \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts; \
		echo "== fuzz-$$t ($(FUZZ_SECONDS)s)"; \
		if ! $$b -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
			-dict=tests/fuzz/json.dict -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- \
			$(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t >$$log 2>&1; then \
			tail -n 60 $$log; echo "fuzz-$$t failed: see $$log and $(FUZZ_BUILD)/artifacts/" >&2; exit 1; \
		fi; \
		grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units|^stat::peak_rss_mb' $$log || true; \
	done

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

# Every test, in order of how fast they fail. Each is also a target of its own.
CHECKS := unit check-conf check-man check-service check-install check-engine check-twin check-detect check-update \
	check-hsm check-notify check-tell check-faults check-demo

check: deps
	$(MAKE) all
	@set -e; for t in $(CHECKS); do \
		echo "==== make $$t"; start=$$(date +%s); \
		$(MAKE) --no-print-directory $$t; \
		echo "==== make $$t: ok ($$(( $$(date +%s) - start ))s)"; \
	done

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

-include $(OBJ:.o=.d) $(UNIT_BIN:=.d) $(BUILD)/conf-check.d $(DRIVERS:=.d) $(BUILD)/integration/fixture.d \
	$(FUZZ_LIB_OBJ:.o=.d) $(BUILD)/engine-driver.d $(BUILD)/soak-driver.d
