# esmeload: plain make. Objects go to build/.
#   make [all]      build/esmeload
#   make test       unit tests + integration tests (tests/run.sh)
#   make asan       the same tests with AddressSanitizer + UBSan (build-asan/)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean
CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
CSTD    := -std=gnu11
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
OPT     ?= -O2 -g
CPPFLAGS += -Iinclude -Isrc -I/usr/include/bearssl -D_GNU_SOURCE
CFLAGS  += $(CSTD) $(WARN) $(OPT) $(EXTRA_CFLAGS)
LDLIBS  += -luring -lbearssl -lm -lpthread
LDFLAGS += $(EXTRA_LDFLAGS)

# Every module in src/ and src/serve/ goes into one archive; main.c is the binary.
LIB_SRCS  := $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard src/serve/*.c) $(wildcard src/run/*.c)
LIB_OBJS  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

.PHONY: all test unit asan install clean
all: $(BUILD)/esmeload $(TEST_BINS)

$(BUILD)/obj/%.o: src/%.c $(wildcard include/*.h) $(wildcard src/serve/*.h) $(wildcard src/run/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libesmeload.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/esmeload: src/main.c $(BUILD)/libesmeload.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libesmeload.a $(LDLIBS)

# Unit tests link only the module objects they name in tests/deps.mk, so a
# module under construction elsewhere never breaks an unrelated test.
include tests/deps.mk
$(BUILD)/tests/%: tests/%.c tests/test.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(addprefix $(BUILD)/obj/,$(addsuffix .o,$($*_DEPS))) $(LDLIBS)

# Each test binary depends on its module objects.
define test_deps
$(BUILD)/tests/$(1): $(addprefix $(BUILD)/obj/,$(addsuffix .o,$($(1)_DEPS)))
endef
$(foreach t,$(patsubst tests/%.c,%,$(TEST_SRCS)),$(eval $(call test_deps,$(t))))

unit: $(TEST_BINS)
	@for t in $(TEST_BINS); do $$t || true; done

test: all
	BUILD=$(BUILD) tests/run.sh

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" test

install: $(BUILD)/esmeload
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/esmeload $(DESTDIR)$(PREFIX)/bin/esmeload

clean:
	rm -rf build build-asan
