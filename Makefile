# Pliant build. `make` builds the runtime library, tools and extensions;
# `make test` runs the whole test suite (ASan+UBSan build, plus the
# concurrency test under TSan); `make bench` runs the benchmarks.

CC      ?= cc
CLANG   ?= clang
# `make PLIANT_HOOKS=0` compiles every pliantd hookpoint out
# (-DPLIANT_NO_HOOKS), the baseline for overhead measurements; it builds
# into its own directory so that both builds coexist.
PLIANT_HOOKS ?= 1
ifeq ($(PLIANT_HOOKS),0)
BUILD     ?= build/nohooks
HOOK_DEFS := -DPLIANT_NO_HOOKS
endif
BUILD   ?= build
SHARED  ?= ../shared

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
CSTD    := -std=c11 -D_GNU_SOURCE
INC     := -Iruntime/include -Iruntime/src -Iruntime/tools -Isdk/include
OPT     ?= -O2 -g
CFLAGS_BASE := $(CSTD) $(WARN) $(INC) $(HOOK_DEFS) -fPIC -fno-strict-aliasing
LIBS    := -lbpf -lelf -lz -lpthread

SAN_ASAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_TSAN := -fsanitize=thread -DPL_TSAN

RUNTIME_SRC := $(wildcard runtime/src/*.c)
# Engine modules tested directly: the storage layer (buffer pool
# engine/pcache*.c, memacct.c, vfs.c, checkpoint.c; tests/test_pcache*.c,
# test_memacct.c, test_vfs.c, test_checkpoint.c, hence -lsqlite3) and the
# SQL rewriter (tests/test_sql_rewrite.c).
TEST_SRC    := $(wildcard tests/*.c) runtime/tools/conformance_env.c $(wildcard engine/pcache*.c) engine/memacct.c \
               engine/vfs.c engine/checkpoint.c engine/sql_lex.c engine/sql_rewrite.c engine/buf.c
TEST_PROGS  := $(patsubst tests/progs/%.c,$(BUILD)/progs/%.o,$(wildcard tests/progs/*.c))
# Test programs for hooks that only their test registers (the corpus in
# tests/progs is loaded without any).
HOOK_PROGS  := $(patsubst tests/hook_progs/%.c,$(BUILD)/hook_progs/%.o,$(wildcard tests/hook_progs/*.c))
EXT_SRC     := $(wildcard extensions/*.bpf.c)
EXT_OBJS    := $(patsubst extensions/%.bpf.c,$(BUILD)/extensions/%.bpf.o,$(EXT_SRC))
BPF_CFLAGS  := -O2 -g -target bpf -Isdk/include -Wall -Werror

rel_obj  = $(patsubst %.c,$(BUILD)/rel/%.o,$(1))
asan_obj = $(patsubst %.c,$(BUILD)/asan/%.o,$(1))
tsan_obj = $(patsubst %.c,$(BUILD)/tsan/%.o,$(1))

.PHONY: all test bench clean demo fuzz fuzz-smoke fuzz-verifier fuzz-verifier-smoke hook-catalog
all: $(BUILD)/libpliant.a $(BUILD)/libpliant.so $(BUILD)/pliant-run $(BUILD)/pliant-demo $(EXT_OBJS) $(TEST_PROGS) \
     $(BUILD)/pliantd $(BUILD)/pliantctl

$(BUILD)/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(OPT) $(LIB_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 -g $(SAN_ASAN) -MMD -MP -c $< -o $@
$(BUILD)/tsan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 -g $(SAN_TSAN) -MMD -MP -c $< -o $@

# The library exports only what pliant.h marks PL_API: a smaller dynamic
# symbol table, and direct calls between its own functions.
$(BUILD)/rel/runtime/src/%.o: LIB_CFLAGS := -fvisibility=hidden
# Code off every hot path is compiled for size, a fifth smaller: error
# reporting (messages, disassembly, source lines), the verification cache
# (once per load), map creation and the host's map API (programs call the
# per-type operations in map_*.c), registration. Not the ELF loader or the
# structural checks: at -Os they cost reloads a third more time.
COLD_SRC := runtime/src/error.c runtime/src/elf_lines.c runtime/src/verify_cache.c runtime/src/maps.c \
            runtime/src/runtime.c
$(call rel_obj,$(COLD_SRC)): LIB_CFLAGS += -Os

$(BUILD)/libpliant.a: $(call rel_obj,$(RUNTIME_SRC))
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/libpliant.so: $(call rel_obj,$(RUNTIME_SRC))
	$(CC) -shared -o $@ $^ $(LIBS)

$(BUILD)/pliant-run: $(call rel_obj,runtime/tools/pliant-run.c runtime/tools/conformance_env.c) $(BUILD)/libpliant.a
	$(CC) -o $@ $^ $(LIBS)
$(BUILD)/pliant-demo: $(call rel_obj,runtime/tools/pliant-demo.c) $(BUILD)/libpliant.a
	$(CC) -o $@ $^ $(LIBS)

$(BUILD)/progs/%.o: tests/progs/%.c $(wildcard sdk/include/*.h) $(wildcard tests/progs/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/hook_progs/%.o: tests/hook_progs/%.c $(wildcard sdk/include/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
# Programs only the server tests load (e.g. one pliantd must refuse).
$(BUILD)/server_progs/%.o: tests/server/progs/%.c $(wildcard sdk/include/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/extensions/%.bpf.o: extensions/%.bpf.c $(wildcard sdk/include/*.h) $(wildcard extensions/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# Test binaries: everything in tests/*.c except the TSan-only concurrency
# driver goes into the sanitizer build.
$(BUILD)/asan/run_tests: $(call asan_obj,$(RUNTIME_SRC) $(TEST_SRC))
	$(CC) $(SAN_ASAN) -o $@ $^ $(LIBS) -lsqlite3
$(BUILD)/tsan/run_tests: $(call tsan_obj,$(RUNTIME_SRC) $(TEST_SRC))
	$(CC) $(SAN_TSAN) -o $@ $^ $(LIBS) -lsqlite3

# pliantd, the PostgreSQL-wire server (server/, engine/), and its test
# binary: libpq clients, raw sockets, psql and pgbench against a live
# server (the ASan+UBSan build of pliantd).
# manager/: the extension package format, keys and hook catalog, shared by
# pliantd's store and admin API and by pliantctl (the Manager's CLI).
MANAGER_SHARED  := manager/fsutil.c manager/keys.c manager/package.c manager/catalog.c
SERVER_SRC      := $(wildcard server/*.c) $(wildcard engine/*.c) $(MANAGER_SHARED)
SERVER_LIBS     := -lsqlite3 -lcrypto -lmicrohttpd -ljansson -lsodium
SERVER_TEST_SRC := $(wildcard tests/server/*.c) tests/testlib.c
SERVER_PROGS    := $(patsubst tests/server/progs/%.c,$(BUILD)/server_progs/%.o,$(wildcard tests/server/progs/*.c))
$(BUILD)/pliantd: $(call rel_obj,$(SERVER_SRC)) $(BUILD)/libpliant.a
	$(CC) -o $@ $^ $(LIBS) $(SERVER_LIBS)

# pliantctl, the Manager's command line: offline verification against the
# hook catalog compiled in (sdk/hook-catalog.json), packages, keys, and the
# admin API's client (libcurl).
CTL_SRC  := manager/pliantctl.c manager/client.c manager/ctl_offline.c manager/catalog_embed.c $(MANAGER_SHARED)
CTL_LIBS := -lcurl -ljansson -lsodium
$(call rel_obj,manager/catalog_embed.c) $(call asan_obj,manager/catalog_embed.c): sdk/hook-catalog.json
$(BUILD)/pliantctl: $(call rel_obj,$(CTL_SRC)) $(BUILD)/libpliant.a
	$(CC) -o $@ $^ $(LIBS) $(CTL_LIBS)
# Regenerates the shipped catalog from the server's registration code
# (tests/server/test_manager.c fails while the two differ).
hook-catalog: $(BUILD)/pliantd
	$(BUILD)/pliantd --print-hook-catalog > sdk/hook-catalog.json
$(BUILD)/asan/pliantd: $(call asan_obj,$(SERVER_SRC) $(RUNTIME_SRC))
	$(CC) $(SAN_ASAN) -o $@ $^ $(LIBS) $(SERVER_LIBS)
$(call asan_obj,$(SERVER_TEST_SRC)): CFLAGS_BASE += -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
# The manager tests link the package code and the admin client to push
# in-process (a thousand pushes would otherwise be a thousand processes).
SERVER_TEST_LINK := $(SERVER_TEST_SRC) manager/client.c manager/fsutil.c manager/keys.c manager/package.c
$(BUILD)/asan/server_tests: $(call asan_obj,$(SERVER_TEST_LINK))
	$(CC) $(SAN_ASAN) -o $@ $^ -lpq -lsqlite3 -lpthread $(CTL_LIBS)
$(BUILD)/asan/pliantctl: $(call asan_obj,$(CTL_SRC) $(RUNTIME_SRC))
	$(CC) $(SAN_ASAN) -o $@ $^ $(LIBS) $(CTL_LIBS)

test: $(BUILD)/asan/pliantd $(BUILD)/asan/server_tests $(BUILD)/pliantd $(SERVER_PROGS) $(BUILD)/asan/pliantctl
test: $(BUILD)/asan/run_tests $(BUILD)/tsan/run_tests $(BUILD)/pliant-run $(TEST_PROGS) $(HOOK_PROGS) $(EXT_OBJS)
	@PLIANT_SHARED=$(SHARED) PLIANT_BUILD=$(BUILD) tests/run-all.sh

bench: all
	@$(MAKE) -s -f bench/bench.mk BUILD=$(BUILD)

# Two parts: the runtime on its own (live policy swaps in a cache
# simulation), then pliantd with psql and pgbench (scripts/demo.sh).
demo: all
	$(BUILD)/pliant-demo $(BUILD)/extensions
	scripts/demo.sh $(BUILD)

# libFuzzer harness for the ELF loader (not part of `make test`): the whole
# runtime built with clang's fuzzer and sanitizers, seeded with the test and
# extension objects; findings land in $(BUILD)/fuzz. `fuzz` runs until
# stopped, `fuzz-smoke` for a minute. Maps are capped at 16 MiB in this
# build: a mutated max_entries otherwise makes the runtime allocate (and
# zero) up to 4 GiB per map, which turns fuzzing into a memory benchmark.
FUZZ_SAN  := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_DEFS := '-DPL_MAP_MEM_MAX=(16ull << 20)'
FUZZ_RUN  := -artifact_prefix=$(BUILD)/fuzz/ -timeout=30
FUZZ_ARGS ?=
$(BUILD)/fuzz/fuzz_elf: tests/fuzz/fuzz_elf.c $(RUNTIME_SRC) $(wildcard runtime/src/*.h runtime/include/pliant/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(CSTD) $(WARN) $(INC) $(FUZZ_DEFS) -O1 -g $(FUZZ_SAN) -o $@ tests/fuzz/fuzz_elf.c $(RUNTIME_SRC) $(LIBS)
fuzz: $(BUILD)/fuzz/fuzz_elf $(TEST_PROGS) $(EXT_OBJS)
	@mkdir -p $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_elf $(FUZZ_RUN) $(FUZZ_ARGS) $(BUILD)/fuzz/corpus $(BUILD)/progs $(BUILD)/extensions
fuzz-smoke: $(BUILD)/fuzz/fuzz_elf $(TEST_PROGS) $(EXT_OBJS)
	@mkdir -p $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_elf $(FUZZ_RUN) -max_total_time=60 $(FUZZ_ARGS) $(BUILD)/fuzz/corpus $(BUILD)/progs $(BUILD)/extensions

# libFuzzer harness for the verifier: raw instructions against a test hook
# and maps (tests/fuzz/fuzz_verifier.c), seeded with the reproducers of past
# findings. A hang is an input slower than -timeout seconds.
$(BUILD)/fuzz/fuzz_verifier: tests/fuzz/fuzz_verifier.c $(RUNTIME_SRC) $(wildcard runtime/src/*.h runtime/include/pliant/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(CSTD) $(WARN) $(INC) $(FUZZ_DEFS) -O1 -g $(FUZZ_SAN) -o $@ tests/fuzz/fuzz_verifier.c $(RUNTIME_SRC) $(LIBS)
FUZZ_VRUN := -artifact_prefix=$(BUILD)/fuzz/verifier- -timeout=10 -max_len=4096
fuzz-verifier: $(BUILD)/fuzz/fuzz_verifier
	@mkdir -p $(BUILD)/fuzz/vcorpus
	$(BUILD)/fuzz/fuzz_verifier $(FUZZ_VRUN) $(FUZZ_ARGS) $(BUILD)/fuzz/vcorpus tests/fuzz/verifier_repro
fuzz-verifier-smoke: $(BUILD)/fuzz/fuzz_verifier
	@mkdir -p $(BUILD)/fuzz/vcorpus
	$(BUILD)/fuzz/fuzz_verifier $(FUZZ_VRUN) -max_total_time=60 $(FUZZ_ARGS) $(BUILD)/fuzz/vcorpus tests/fuzz/verifier_repro

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
