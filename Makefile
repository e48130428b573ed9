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

.PHONY: all deps check unit check-integration check-engine check-twin install demo clean

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
	@$(CC) $(CFLAGS) -Isrc -MMD -MP -o $@ $< $(BUILD)/libcmkd.a $(LDFLAGS) $(PKG_LIBS) -lcmocka

$(BUILD)/obj $(BUILD)/unit:
	mkdir -p $@

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# The engine (http, auth, azure, arm, kv): its unit tests, then the driver against the twin.
ENGINE_UNITS := $(addprefix $(BUILD)/unit/,test-backoff test-pacer test-auth_decode test-auth test-http test-azure \
	test-arm test-kv)

$(BUILD)/engine-driver: tests/integration/engine-driver.c $(BUILD)/libcmkd.a
	@echo '  CCLD    $@'
	@$(CC) $(CFLAGS) -Isrc -MMD -MP -o $@ $< $(BUILD)/libcmkd.a $(LDFLAGS) $(PKG_LIBS)

check-engine: $(ENGINE_UNITS) $(BUILD)/engine-driver
	@set -e; for t in $(ENGINE_UNITS); do echo "== $$t"; $$t; done
	ENGINE_DRIVER=$(abspath $(BUILD)/engine-driver) $(PYTHON) -m unittest -v tests/integration/test_engine.py

check-integration: $(BUILD)/cmkd
	CMKD=$(abspath $(BUILD)/cmkd) $(PYTHON) -m unittest discover -s tests/integration -p 'test_*.py'

# The twin (tests/twin): its unittests, the spec-example walk, the throttling test and the
# official Azure JS SDK run against it (npm ci into tests/twin/fidelity/node_modules).
check-twin:
	@command -v node >/dev/null 2>&1 || { echo "check-twin: node (Node.js >= 20) is required for the SDK fidelity test" >&2; exit 1; }
	@command -v npm >/dev/null 2>&1 || { echo "check-twin: npm is required for the SDK fidelity test" >&2; exit 1; }
	cd tests/twin && $(PYTHON) -m unittest discover -s . -p 'test_*.py'

check: deps
	$(MAKE) all
	$(MAKE) unit

install: $(BUILD)/cmkd
	install -Dm755 $(BUILD)/cmkd $(DESTDIR)$(BINDIR)/cmkd

clean:
	rm -rf build build-*

-include $(OBJ:.o=.d) $(UNIT_BIN:=.d) $(BUILD)/engine-driver.d
