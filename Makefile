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

.PHONY: all deps check unit check-integration install demo clean fuzz-build fuzz-smoke

all: $(BUILD)/cmkd

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

$(BUILD)/obj $(BUILD)/unit:
	mkdir -p $@

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

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

check-integration: $(BUILD)/cmkd
	CMKD=$(abspath $(BUILD)/cmkd) $(PYTHON) -m unittest discover -s tests/integration -p 'test_*.py'

check: deps
	$(MAKE) all
	$(MAKE) unit

install: $(BUILD)/cmkd
	install -Dm755 $(BUILD)/cmkd $(DESTDIR)$(BINDIR)/cmkd

clean:
	rm -rf build build-*

-include $(OBJ:.o=.d) $(UNIT_BIN:=.d) $(FUZZ_LIB_OBJ:.o=.d)
