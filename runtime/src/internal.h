/* Internal structures shared by the runtime's translation units. */
#ifndef PL_INTERNAL_H
#define PL_INTERNAL_H

#include "pliant/pliant.h"
#include "isa.h"

#include <pthread.h>
#include <stdarg.h>

#define PL_CACHELINE 64

/* ------------------------------------------------------------ error.c */

/* Fills err (if any) and returns code. insn < 0 means no instruction. */
int pl_fail(pl_error *err, int code, int insn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void pl_log(const pl_runtime *rt, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Disassembles one instruction (for error messages) into buf. */
const char *pl_disasm(const struct pl_insn *insn, char *buf, size_t len);
/* Logs through the process-wide sink: the log function of the most recently
 * created runtime that set one (stderr otherwise). Helpers such as
 * trace_printk use it because they receive no runtime pointer. */
void pl_set_global_log(pl_log_fn fn, void *user);
void pl_log_global(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ runtime.c */

struct pl_helper {
    struct pl_helper_spec spec; /* spec.fn == NULL: id unused */
    char name[64];
};

struct pl_runtime {
    struct pl_runtime_opts opts;
    pthread_mutex_t lock;            /* registries; never taken on a hot path */
    /* Helper table indexed by id: the JIT emits direct calls to fn, callx
     * indexes helper_fns (kept separate so it is compact). */
    pl_helper_fn helper_fns[PL_HELPER_ID_MAX];
    uint32_t helper_flags[PL_HELPER_ID_MAX];
    struct pl_helper *helpers[PL_HELPER_ID_MAX];
    struct pl_hook **hooks;
    uint32_t nhooks, cap_hooks;
    _Atomic uint64_t map_bytes; /* reserved by live maps */
    uint64_t map_limit;
    pthread_mutex_t vcache_lock;
    struct pl_verify_cache_entry *vcache; /* verify_cache.c */
};

/* ------------------------------------------------------------ thread.c */

/* Registers the calling thread: assigns its slot and adds it to the RCU
 * read side (pl__tls, declared in pliant.h, is its state). Undone at exit. */
void pl_thread_register_slow(void);
static inline struct pl__thread *pl_thread_self(void)
{
    struct pl__thread *t = &pl__tls;
    if (__builtin_expect(t->slot == 0, 0))
        pl_thread_register_slow();
    return t;
}
/* Small dense index of the calling thread in [0, PL_MAX_THREADS), assigned on
 * first use and recycled at thread exit. */
static inline int pl_thread_slot(void)
{
    return (int)pl_thread_self()->slot - 1;
}

/* ------------------------------------------------------------ program */

/* Per-instruction facts the loader records for later passes (verifier). */
enum pl_insn_kind {
    PL_INSN_PLAIN = 0,
    PL_INSN_LDDW_MAP,       /* lddw resolved to a pl_map * */
    PL_INSN_LDDW_MAP_VALUE, /* lddw resolved to a pointer into a map value */
};

struct pl_insn_aux {
    uint8_t kind;     /* enum pl_insn_kind */
    uint32_t map;     /* index into prog->maps for the lddw kinds */
    uint32_t offset;  /* PL_INSN_LDDW_MAP_VALUE: offset into the value */
};

/* Signature of JIT code (pliant.h): r1 = ctx, r2 = ctx_len; the result's
 * fault is non-zero when the program aborted (e.g. callx to an unknown
 * helper). The interpreter returns the same. */
typedef pl__jit_result pl_jit_result;
typedef pl__jit_fn pl_jit_fn;

/* Source position of an instruction, from the object's BTF line info. */
struct pl_line {
    uint32_t insn;
    uint32_t line;
    const char *file;
    const char *text; /* the source line itself, or NULL */
};

struct pl_prog {
    _Atomic uint32_t refs;
    pl_runtime *rt;
    char name[64];
    unsigned flags;            /* PL_LOAD_* */
    const pl_hook *hook;
    struct pl_insn *insns;     /* lddw pseudo forms already patched to constants */
    struct pl_insn_aux *aux;   /* one per instruction */
    uint32_t ninsns;
    pl_map **maps;             /* references held */
    uint32_t nmaps;
    /* Subprogram entry points (index 0 is the main program), sorted. */
    uint32_t *subprogs;
    uint32_t nsubprogs;
    bool verified;
    struct pl_verifier_stats vstats;
    /* JIT output. */
    pl_jit_fn jit_fn;
    void *jit_mem;
    size_t jit_size;
};

/* Finds the source line of an instruction of a program being loaded; asked
 * only when a message needs one, so it costs nothing on success. */
struct pl_line_resolver {
    bool (*resolve)(void *ctx, uint32_t insn, struct pl_line *out);
    void *ctx;
};

/* Takes ownership of insns/aux only on success. Decodes and
 * checks structure, verifies (unless PL_LOAD_NO_VERIFY), then JIT-compiles
 * (unless PL_LOAD_NO_JIT). Map references are expected to already be
 * resolved in insns + aux (the loader does that). */
int pl_prog_create(pl_runtime *rt, struct pl_insn *insns, struct pl_insn_aux *aux,
                   uint32_t ninsns, pl_map **maps, uint32_t nmaps, const struct pl_line_resolver *lines,
                   const struct pl_prog_opts *opts, pl_prog **out, pl_error *err);

/* ------------------------------------------------------------ validate.c */

/* Strict decoding and structural validation; fills prog->subprogs. */
int pl_validate(pl_prog *prog, pl_error *err);
/* Index of the subprogram (function) holding instruction insn. */
uint32_t pl_subprog_of(const pl_prog *p, uint32_t insn);

/* ------------------------------------------------------------ verifier.c */

struct pl_verify_opts {
    const pl_hook *hook;
    const struct pl_line_resolver *lines; /* NULL: no source lines */
    uint32_t ctx_size;
    pl_verifier_log_fn log;
    void *log_user;
};

/* Proves the program safe (see verifier.c); PL_EVERIFY with the reason. */
int pl_verify(pl_prog *prog, const struct pl_verify_opts *opts, pl_error *err);
/* pl_verify, unless the runtime verified identical inputs before
 * (verify_cache.c). */
int pl_verify_cached(pl_prog *prog, const struct pl_verify_opts *opts, pl_error *err);
void pl_verify_cache_free(pl_runtime *rt);

/* ------------------------------------------------------------ interp.c */

pl_jit_result pl_interp_run(const pl_prog *prog, void *ctx, uint64_t ctx_len);

/* ------------------------------------------------------------ jit_x86.c */

/* Compiles prog; on success sets prog->jit_fn/jit_mem/jit_size. The code is
 * mapped read+execute only and is never writable through any mapping. */
int pl_jit_compile(pl_prog *prog, pl_error *err);
void pl_jit_free(pl_prog *prog);

/* ------------------------------------------------------------ jit_mem.c */

/* Copies len bytes of code into executable memory shared with other
 * programs; NULL when out of memory. */
void *pl_jit_mem_install(const uint8_t *code, size_t len);
/* Releases what pl_jit_mem_install returned, once no thread can run it. */
void pl_jit_mem_free(void *code, size_t len);

/* ------------------------------------------------------------ maps.c */

struct pl_map {
    _Atomic uint32_t refs;
    pl_runtime *rt;
    struct pl_map_spec spec;
    char name[64];
    const struct pl_map_ops *ops;
    uint64_t footprint; /* worst-case bytes, charged to the runtime's map limit */
};

/* Operations invoked by helpers on behalf of programs. lookup returns a
 * pointer to the value in place (valid until the grace period after a
 * delete); NULL when absent. */
struct pl_map_ops {
    void *(*lookup)(pl_map *map, const void *key);
    int (*update)(pl_map *map, const void *key, const void *value, uint64_t flags);
    int (*del)(pl_map *map, const void *key);
    int (*next_key)(pl_map *map, const void *key, void *next_key);
    uint32_t (*count)(pl_map *map);
    void (*destroy)(pl_map *map);
    /* Host access where it differs from the program's view (per-thread
     * arrays: all slots; ring buffers: no keyed access). NULL: copy
     * value_size bytes from lookup() / call update(). */
    int (*host_lookup)(pl_map *map, const void *key, void *value);
    int (*host_update)(pl_map *map, const void *key, const void *value, uint64_t flags);
};

/* Pointer to the single value of a one-entry array (global data). */
void *pl_map_value_base(pl_map *map);
/* True when two specs describe compatible maps (state can be inherited). */
bool pl_map_compatible(const struct pl_map_spec *a, const struct pl_map_spec *b);

#define PL_MAP_KEY_MAX 512            /* keys live on the program's stack */
#define PL_MAP_VALUE_MAX (1u << 20)
/* Worst-case bytes of one map. Overridable so the fuzz build can keep
 * maps small (an object may ask for 64 maps of the full size). */
#ifndef PL_MAP_MEM_MAX
#define PL_MAP_MEM_MAX (1ull << 32)
#endif

/* Fails with PL_E2BIG when a map would need more than PL_MAP_MEM_MAX bytes. */
int pl_map_check_mem(const char *name, uint64_t bytes, pl_error *err);

/* Family constructors (map_array.c, map_hash.c, map_ringbuf.c). spec has
 * passed the common checks; each checks its own rules and returns a map
 * with ops set, the rest of the head is filled by pl_map_create. */
int pl_array_map_new(const struct pl_map_spec *spec, const char *name, pl_map **out, pl_error *err);
int pl_hash_map_new(const struct pl_map_spec *spec, const char *name, pl_map **out, pl_error *err);
int pl_ringbuf_map_new(const struct pl_map_spec *spec, const char *name, pl_map **out, pl_error *err);

/* bpf_ringbuf_output: 0, or a negative errno (-EAGAIN when the record does
 * not fit, -EINVAL for a bad map or flags). */
int64_t pl_ringbuf_output(pl_map *map, const void *data, uint64_t size, uint64_t flags);
/* Records lost because the ring buffer was full. */
uint64_t pl_ringbuf_drops(pl_map *map);

/* A spinlock for critical sections of a few dozen instructions (hash
 * bucket updates, ring buffer reservation). */
typedef struct {
    _Atomic int locked;
} pl_spinlock;
void pl_spin_lock_slow(pl_spinlock *l);
static inline void pl_spin_lock(pl_spinlock *l)
{
    if (__builtin_expect(!atomic_exchange_explicit(&l->locked, 1, memory_order_acquire), 1))
        return;
    pl_spin_lock_slow(l);
}
static inline void pl_spin_unlock(pl_spinlock *l)
{
    atomic_store_explicit(&l->locked, 0, memory_order_release);
}

/* ------------------------------------------------------------ hooks.c */

/* Detaches and frees every hook of a runtime (pl_runtime_free). */
void pl_hooks_destroy(pl_runtime *rt);

/* ------------------------------------------------------------ helpers.c */

int pl_register_std_helpers(pl_runtime *rt, pl_error *err);
/* 64 random bits from the kernel (seeds; not for a hot path). */
uint64_t pl_random_u64(void);

/* ------------------------------------------------------------ rcu.c */

/* A full fence, for the grace-period handshake where membarrier(2) is
 * missing. GCC rejects atomic_thread_fence under ThreadSanitizer, which
 * models no fences (nor needs this one: see rcu.c); there a seq_cst
 * read-modify-write of a private word stands in, a full barrier on x86. */
static inline void pl_full_fence(void)
{
#ifdef PL_TSAN
    static __thread _Atomic int word;
    atomic_fetch_add_explicit(&word, 0, memory_order_seq_cst);
#else
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* Read-side protocol (an epoch scheme; see rcu.c). Sections nest; the lock
 * registers the calling thread on first use. */
static inline void pl_rcu_read_lock(void)
{
    struct pl__thread *t = pl_thread_self();
    if (atomic_load_explicit(&t->rcu_seq, memory_order_relaxed) != 0) {
        t->rcu_nest++;
        return;
    }
    atomic_store_explicit(&t->rcu_seq, atomic_load_explicit(&pl__rcu_gp, memory_order_acquire),
                          memory_order_relaxed);
    /* Without membarrier(2) the reader orders its store before its loads. */
    if (__builtin_expect(!t->fast, 0))
        pl_full_fence();
    atomic_signal_fence(memory_order_seq_cst);
}
static inline void pl_rcu_read_unlock(void)
{
    struct pl__thread *t = &pl__tls;
    if (t->rcu_nest) {
        t->rcu_nest--;
        return;
    }
    atomic_store_explicit(&t->rcu_seq, 0, memory_order_release);
}
/* Used by thread.c when a thread registers and when it exits. */
void pl_rcu_register_thread(void);
void pl_rcu_unregister_thread(void);
/* True when grace periods use membarrier(2) (decided once, before any
 * thread registers). */
bool pl_rcu_membarrier(void);
/* Runs fn(arg) after every reader that could see the object has finished.
 * Never waits for a grace period: the reclaimer thread runs fn. */
void pl_rcu_defer(void (*fn)(void *arg), void *arg);
/* Waits until every deferred function queued so far has run. Not from
 * inside a read-side section or a deferred function. */
void pl_rcu_barrier(void);

#endif
