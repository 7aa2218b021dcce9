# g3c — the one build entry point. Non-recursive: every directory contributes
# a module.mk; the shared rules for daemons, tools, unit tests and fuzzers live
# in mk/rules.mk. `make help` lists the targets.

.DEFAULT_GOAL := all
SHELL := /bin/sh

SAN ?=
ifeq ($(strip $(SAN)),)
BUILD ?= build
else
BUILD ?= build-san
endif

PYTHON ?= /usr/bin/python3
FUZZ_TIME ?= 60

# Libraries every program may use. Debian's libev ships no .pc file.
PKGS := libssl libcrypto libprotobuf-c nanomsg yaml-0.1 libcares libsystemd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lev -lcrypt -lpthread -lm
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wwrite-strings -Wvla -Wundef -Wimplicit-fallthrough
HARDEN := -fstack-protector-strong -fPIE
OPT ?= -O2 -g

ifneq ($(strip $(SAN)),)
OPT := -O1 -g -fno-omit-frame-pointer
SAN_FLAGS := -fsanitize=$(SAN) -fno-sanitize-recover=all
else
HARDEN += -D_FORTIFY_SOURCE=2
endif
ifeq ($(FUZZ),1)
OPT := -O1 -g -fno-omit-frame-pointer
SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined
endif
ifneq ($(strip $(CI)),)
WERROR := -Werror
endif

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(WERROR) $(HARDEN) $(OPT) $(SAN_FLAGS) \
	-I. -I$(BUILD) $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(SAN_FLAGS) $(LDFLAGS)

# Filled in by the module.mk files.
BINS :=
UNIT_TESTS :=
FUZZERS :=

include proto/module.mk
include mk/rules.mk
include common/module.mk
# Daemons and tools: every other directory with a module.mk.
include $(sort $(filter-out proto/module.mk common/module.mk,$(wildcard */module.mk)) \
	$(wildcard tools/*/module.mk))

# Keep generated sources and objects that pattern rules make along the way.
.SECONDARY:

.PHONY: all deps test check unit fuzz-replay integration run bench lint fuzz fuzz-build clean help

all: $(BINS) $(UNIT_TESTS) $(foreach f,$(FUZZERS),$(BUILD)/fuzz/$(f))

# deploy/deps.sh is idempotent; the stamp only saves its dpkg queries.
.deps.stamp: deploy/deps.sh
	sh deploy/deps.sh
	@touch $@

deps: .deps.stamp

test: .deps.stamp
	+$(MAKE) --no-print-directory check

check: all
	+$(MAKE) --no-print-directory unit fuzz-replay integration

unit: $(UNIT_TESTS)
	sh mk/run-unit.sh $(UNIT_TESTS)

fuzz-replay: $(foreach f,$(FUZZERS),$(BUILD)/fuzz/$(f))
	sh mk/run-fuzz-replay.sh $(BUILD)/fuzz $(foreach f,$(FUZZERS),$(f):$(FUZZ_CORPUS_$(f)))

integration: $(BINS)
	G3C_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider integration

run: .deps.stamp
	+$(MAKE) --no-print-directory $(BINS)
	sh deploy/run.sh $(BUILD)

# Speed is measured here, never in tests: each workload against a reference
# measured in the same run (bench/README.md). QUICK=1 for a short run,
# ONLY="workload ..." for some of them.
bench: .deps.stamp
	sh deploy/deps.sh --bench
	+$(MAKE) --no-print-directory all
	QUICK=$(QUICK) sh bench/run.sh $(BUILD)

# libFuzzer builds need clang; they go to their own directory.
fuzz: .deps.stamp
	+$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang FUZZ=1 fuzz-build
	sh mk/run-fuzz.sh build-fuzz/fuzz $(FUZZ_TIME) $(foreach f,$(FUZZERS),$(f):$(FUZZ_CORPUS_$(f)))

fuzz-build: $(foreach f,$(FUZZERS),$(BUILD)/fuzz/$(f))

LINT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
lint:
	clang-format --dry-run -Werror $(LINT_SRCS)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem --suppress=missingInclude -I. -D__GNUC__ $(LINT_SRCS)
	clang-tidy --quiet $(filter %.c,$(LINT_SRCS)) -- -std=c11 -D_GNU_SOURCE -I. -I$(BUILD) \
		$(PKG_CFLAGS)

clean:
	rm -rf build build-san build-fuzz

help:
	@echo "make [all]      build daemons, tools, unit tests and fuzz replayers into $(BUILD)/"
	@echo "make run        install deps, build, start the constellation on loopback"
	@echo "make test       install deps, build, run unit, fuzz-corpus and integration tests"
	@echo "make check      the tests without the dependency step"
	@echo "make SAN=address,undefined check   the same under sanitizers (build-san/)"
	@echo "make bench [QUICK=1]                speed against references measured in the same run"
	@echo "make fuzz [FUZZ_TIME=60]            libFuzzer runs with clang (build-fuzz/)"
	@echo "make lint       clang-format, cppcheck, clang-tidy"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
