# esmeload: plain make. Objects go to build/.
#   make [all]      build/esmeload
#   make test       unit tests + integration tests (tests/run.sh)
#   make asan       the same tests with AddressSanitizer + UBSan (build-asan/)
#   make install    PREFIX=/usr/local DESTDIR=: the binary, the man page,
#                   the bash completion and the README
#   make clean
# The version is the first line of VERSION (debian/changelog's top entry and
# the man page carry the same; tests/integration/test_manpage.py checks).
CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
VERSION := $(shell head -n 1 VERSION)
CSTD    := -std=gnu11
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
OPT     ?= -O2 -g
CPPFLAGS += -Iinclude -Isrc -I/usr/include/bearssl -D_GNU_SOURCE
CFLAGS  += $(CSTD) $(WARN) $(OPT) $(EXTRA_CFLAGS)
LDLIBS  += -luring -lbearssl -lm -lpthread
LDFLAGS += $(EXTRA_LDFLAGS)

# Every module in src/ and src/serve/ goes into one archive; main.c is the binary.
LIB_SRCS  := $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard src/engine/*.c) $(wildcard src/session/*.c) $(wildcard src/serve/*.c) $(wildcard src/run/*.c) $(wildcard src/report/*.c)
LIB_OBJS  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

.PHONY: all test unit asan install clean completion man
all: $(BUILD)/esmeload $(TEST_BINS)

$(BUILD)/obj/%.o: src/%.c $(wildcard include/*.h) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libesmeload.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Only main.c sees the version, so a new one rebuilds main.c alone.
$(BUILD)/esmeload: src/main.c $(BUILD)/libesmeload.a VERSION
	$(CC) $(CPPFLAGS) -DESMELOAD_VERSION='"$(VERSION)"' $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libesmeload.a $(LDLIBS)

# Unit tests link only the module objects they name in tests/deps.mk, so a
# module under construction elsewhere never breaks an unrelated test.
include tests/deps.mk
$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(addprefix $(BUILD)/obj/,$(addsuffix .o,$($*_DEPS))) $(LDLIBS)

# Each test binary depends on its module objects.
define test_deps
$(BUILD)/tests/$(1): $(addprefix $(BUILD)/obj/,$(addsuffix .o,$($(1)_DEPS)))
endef
$(foreach t,$(patsubst tests/%.c,%,$(TEST_SRCS)),$(eval $(call test_deps,$(t))))

unit: $(TEST_BINS)
	@failed=; for t in $(TEST_BINS); do $$t; rc=$$?; \
	  [ $$rc -eq 0 ] || [ $$rc -eq 77 ] || failed="$$failed $${t##*/}"; done; \
	  [ -z "$$failed" ] || { echo "unit tests failed:$$failed"; exit 1; }

test: all
	BUILD=$(BUILD) tests/run.sh

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" test

# The bash completion, from the binary's own --help texts, and the man page
# compressed as man-db and Debian want it (-n: no name or time stamp inside,
# so two builds give the same bytes).
$(BUILD)/esmeload.bash-completion: $(BUILD)/esmeload docs/gen-bash-completion.sh
	sh docs/gen-bash-completion.sh $(BUILD)/esmeload > $@.tmp
	mv $@.tmp $@

$(BUILD)/esmeload.1.gz: docs/esmeload.1
	@mkdir -p $(dir $@)
	gzip -9n < $< > $@.tmp
	mv $@.tmp $@

completion: $(BUILD)/esmeload.bash-completion
man: $(BUILD)/esmeload.1.gz

DOCDIR  = $(PREFIX)/share/doc/esmeload
COMPDIR = $(PREFIX)/share/bash-completion/completions
install: $(BUILD)/esmeload $(BUILD)/esmeload.bash-completion $(BUILD)/esmeload.1.gz
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(COMPDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BUILD)/esmeload $(DESTDIR)$(PREFIX)/bin/esmeload
	install -m 0644 $(BUILD)/esmeload.1.gz $(DESTDIR)$(PREFIX)/share/man/man1/esmeload.1.gz
	install -m 0644 $(BUILD)/esmeload.bash-completion $(DESTDIR)$(COMPDIR)/esmeload
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md

clean:
	rm -rf build build-asan

# ---------------------------------------------------------------------------
# Fuzzing: libFuzzer targets in tests/fuzz/ (see tests/fuzz/README.md).
# Needs clang and Debian's libclang-rt-14-dev (the libFuzzer runtime).
#   make fuzz-build                      build every target into build-fuzz/
#   make fuzz [FUZZ_SECONDS=60]          run each target that long on a copy
#                                        of its seed corpus; fails on a crash
#   make fuzz FUZZ_TARGETS="json url"    only these targets
# Each target links only the module objects tests/fuzz/deps.mk names,
# compiled here with the same sanitizer and coverage flags.
# ---------------------------------------------------------------------------
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_ALL     := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_CFLAGS  := $(CSTD) $(WARN) -O1 -g -fno-omit-frame-pointer \
		-fsanitize=address,undefined -fno-sanitize-recover=all
include tests/fuzz/deps.mk

.PHONY: fuzz fuzz-build fuzz-clean
fuzz-build: $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_ALL))

$(FUZZ_BUILD)/obj/%.o: src/%.c $(wildcard include/*.h) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h tests/*.h) tests/fuzz/deps.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	  $(addprefix $(FUZZ_BUILD)/obj/,$(addsuffix .o,$(fuzz_$*_DEPS))) \
	  $(fuzz_$*_LIBS) $(LDLIBS)

define fuzz_deps
$(FUZZ_BUILD)/fuzz_$(1): $(addprefix $(FUZZ_BUILD)/obj/,$(addsuffix .o,$(fuzz_$(1)_DEPS)))
endef
$(foreach t,$(FUZZ_ALL),$(eval $(call fuzz_deps,$(t))))

# Every target runs (a crash in one does not hide the others); make fails
# at the end if any crashed. Summary lines go to $(FUZZ_BUILD)/summary.txt.
fuzz: $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  tests/fuzz/run.sh $(FUZZ_BUILD)/fuzz_$$t $$t $(FUZZ_SECONDS) $(FUZZ_BUILD) || fail=1; \
	done; exit $$fail

fuzz-clean:
	rm -rf $(FUZZ_BUILD)
