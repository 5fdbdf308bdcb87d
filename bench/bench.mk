# Benchmarks, run by `make bench` (after `make all`). Builds the benchmark
# binaries with -O2 against the static library, compiles the BPF kernels,
# then bench/run.sh runs everything and rewrites bench/RESULTS.md.

CC      ?= cc
CLANG   ?= clang
BUILD   ?= build
B       := $(BUILD)/bench

CFLAGS  := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
           -Iruntime/include -Isdk/include -Ibench
# Same link line as the runtime's own tools (see LIBS in the Makefile).
LIBS    := -lbpf -lelf -lz -lpthread
BPF_CFLAGS := -O2 -g -target bpf -Isdk/include -Wall -Werror

BENCHES := dispatch jit reload verify pcache pool
BINS    := $(patsubst %,$(B)/bench_%,$(BENCHES)) $(B)/bench_pool_nohooks
KERNELS := $(patsubst bench/kernels/%.bpf.c,$(B)/%.bpf.o,$(wildcard bench/kernels/*.bpf.c))

.PHONY: run nohooks
run: $(BINS) $(KERNELS) nohooks
	@BUILD=$(BUILD) bench/run.sh

# The baseline of bench/bench_pgbench.sh: pliantd with every hook compiled
# out, in its own build directory (the Makefile's PLIANT_HOOKS=0 build).
# Phony so that the Makefile, which knows its dependencies, decides.
nohooks:
	@$(MAKE) -s -f Makefile PLIANT_HOOKS=0 BUILD=$(BUILD)/nohooks $(BUILD)/nohooks/pliantd

$(B)/bench_%: bench/bench_%.c bench/bench_util.h bench/kernels.h runtime/include/pliant/pliant.h $(BUILD)/libpliant.a
	@mkdir -p $(B)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libpliant.a $(LIBS)

# bench_verify verifies every shipped extension for its own hook, so it
# links the code that registers pliantd's and the storage layer's hooks.
# The pool charges its frames to memory accounting (memacct.c).
PCACHE_SRC := $(wildcard engine/pcache*.c) engine/memacct.c
STORAGE_HOOK_SRC := $(PCACHE_SRC) engine/vfs.c engine/checkpoint.c
$(B)/bench_verify: bench/bench_verify.c bench/bench_util.h server/hooks.c server/log.c $(STORAGE_HOOK_SRC) \
                   manager/catalog.c runtime/include/pliant/pliant.h $(BUILD)/libpliant.a
	@mkdir -p $(B)
	$(CC) $(CFLAGS) -Iserver -Iengine -o $@ bench/bench_verify.c server/hooks.c server/log.c $(STORAGE_HOOK_SRC) \
		manager/catalog.c $(BUILD)/libpliant.a $(LIBS) -lsqlite3 -ljansson

# bench_pcache times the buffer pool itself, hooks detached and attached.
$(B)/bench_pcache: bench/bench_pcache.c bench/bench_util.h $(PCACHE_SRC) engine/pcache.h engine/pcache_pool.h \
                   runtime/include/pliant/pliant.h $(BUILD)/libpliant.a
	@mkdir -p $(B)
	$(CC) $(CFLAGS) -Iengine -o $@ bench/bench_pcache.c $(PCACHE_SRC) $(BUILD)/libpliant.a $(LIBS) -lsqlite3

# bench_pool runs SQLite on the storage layer (pool, memory accounting, VFS
# with direct I/O) under a hot set with scans; built a second time with
# every hookpoint compiled out, the overhead baseline it starts for its
# "hooks compiled out" runs.
POOL_SRC  := $(STORAGE_HOOK_SRC) engine/storage.c
$(B)/bench_pool $(B)/bench_pool_nohooks: bench/bench_pool.c bench/bench_util.h $(POOL_SRC) $(wildcard engine/*.h) \
                                         runtime/include/pliant/pliant.h $(BUILD)/libpliant.a
	@mkdir -p $(B)
	$(CC) $(CFLAGS) $(if $(findstring nohooks,$@),-DPLIANT_NO_HOOKS) -Iengine -o $@ bench/bench_pool.c \
		$(POOL_SRC) $(BUILD)/libpliant.a $(LIBS) -lsqlite3 -lm

$(B)/%.bpf.o: bench/kernels/%.bpf.c bench/kernels.h $(wildcard sdk/include/*.h)
	@mkdir -p $(B)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
