/*
 * libpliant — an embeddable eBPF runtime for replaceable in-process policies.
 *
 * A host (a DBMS, or anything else) creates a runtime, registers the helper
 * functions and hookpoints it offers, loads extension programs (raw
 * instructions or clang-compiled ELF objects), and attaches them to hooks.
 * Attach, replace and detach are atomic while other threads invoke the hook:
 * a caller sees the old or the new program, never a freed one.
 *
 * Error convention: every function that can fail returns 0 on success or a
 * negative pl_status, and fills an optional pl_error with a message a person
 * can act on (for program errors: the instruction index).
 *
 * Threads that invoke hooks or run programs are registered with the
 * runtime's read-side protocol automatically on first use and unregistered
 * when they exit; pl_thread_register() may be called up front to keep that
 * first-use cost out of a latency-sensitive path.
 *
 * This header is the runtime's whole public API; it includes nothing from
 * any DBMS.
 */
#ifndef PLIANT_H
#define PLIANT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the library's exported symbols: it is built with
 * -fvisibility=hidden, so only these reach the dynamic symbol table, and
 * calls between its own functions bind directly instead of through the
 * PLT. */
#define PL_API __attribute__((visibility("default")))

/* ---------------------------------------------------------------- errors */

typedef enum pl_status {
    PL_OK = 0,
    PL_EINVAL = -1,   /* a bad argument from the host */
    PL_ENOMEM = -2,   /* out of memory */
    PL_EPROG = -3,    /* the program is malformed (decoding, structure) */
    PL_EELF = -4,     /* the object file is malformed or unsupported */
    PL_EVERIFY = -5,  /* the program was rejected as unsafe */
    PL_ENOENT = -6,   /* no such hook, helper, map, section or key */
    PL_EEXIST = -7,   /* already exists */
    PL_EHOOK = -8,    /* the program does not fit the hook's contract */
    PL_EMAP = -9,     /* map definition invalid or incompatible */
    PL_EJIT = -10,    /* JIT compilation failed */
    PL_EFAULT = -11,  /* the program faulted while running */
    PL_E2BIG = -12,   /* a size limit was exceeded (map full, program too large) */
    PL_EIO = -13,     /* reading a file failed */
} pl_status;

#define PL_ERROR_MSG_MAX 512

typedef struct pl_error {
    int code;                    /* a pl_status */
    int insn;                    /* offending instruction index, or -1 */
    char msg[PL_ERROR_MSG_MAX];  /* what went wrong and, where known, how to fix it */
} pl_error;

/* A short name for a status code ("invalid program", ...). */
PL_API const char *pl_strerror(int code);

/* ----------------------------------------------------------- instructions */

/* One eBPF instruction, RFC 9669 layout (lddw occupies two). */
struct pl_insn {
    uint8_t code;
    uint8_t dst : 4;
    uint8_t src : 4;
    int16_t off;
    int32_t imm;
};

/* ---------------------------------------------------------------- runtime */

typedef struct pl_runtime pl_runtime;
typedef struct pl_prog pl_prog;
typedef struct pl_map pl_map;
typedef struct pl_object pl_object;
typedef struct pl_hook pl_hook;

enum pl_log_level { PL_LOG_DEBUG, PL_LOG_INFO, PL_LOG_WARN, PL_LOG_ERROR };
typedef void (*pl_log_fn)(void *user, int level, const char *msg);

/* Runtime creation flags. */
enum {
    /* Do not register the standard helpers (map access, time, trace_printk,
     * ...). Used by hosts that define their own helper id space, such as the
     * conformance runner. */
    PL_RUNTIME_NO_STD_HELPERS = 1u << 0,
    /* Verify every load, even of a program verified before with identical
     * inputs (see pl_verifier_stats.cached). For measuring the verifier. */
    PL_RUNTIME_NO_VERIFY_CACHE = 1u << 1,
};

struct pl_runtime_opts {
    unsigned flags;
    pl_log_fn log;   /* receives trace_printk output and runtime events; NULL: stderr */
    void *log_user;
    /* Bytes that all maps of the runtime together may reserve (their
     * worst-case size, counted when created); an object declaring more is
     * refused with PL_E2BIG. 0: 1 GiB. */
    uint64_t map_memory_limit;
};

PL_API int pl_runtime_new(const struct pl_runtime_opts *opts, pl_runtime **out, pl_error *err);
/* Frees the runtime. Every hook is detached and every program and map it
 * owns is released once no thread can still be running it. */
PL_API void pl_runtime_free(pl_runtime *rt);

/* Explicit thread registration (optional, see top of file). */
PL_API void pl_thread_register(void);
PL_API void pl_thread_unregister(void);

/* ---------------------------------------------------------------- helpers */

/* Argument kinds, used by the verifier to check helper calls. */
enum pl_arg_kind {
    PL_ARG_NONE = 0,      /* argument unused */
    PL_ARG_SCALAR,        /* any initialised scalar */
    PL_ARG_MAP,           /* a map reference (lddw of a map) */
    PL_ARG_MAP_KEY,       /* pointer to initialised memory of the map's key size */
    PL_ARG_MAP_VALUE,     /* pointer to initialised memory of the map's value size */
    PL_ARG_MEM,           /* pointer to initialised memory; next argument is its size */
    PL_ARG_MEM_UNINIT,    /* pointer to writable memory; next argument is its size */
    PL_ARG_MEM_SIZE,      /* constant size of the preceding memory argument */
    PL_ARG_CTX,           /* the hook's context pointer */
    PL_ARG_HANDLE,        /* an opaque host handle from a context field or helper */
    PL_ARG_STR,           /* pointer to a NUL-terminated string in read-only global data */
};

enum pl_ret_kind {
    PL_RET_SCALAR = 0,
    PL_RET_VOID,
    PL_RET_MAP_VALUE_OR_NULL, /* pointer into the value of the PL_ARG_MAP argument */
    PL_RET_MEM_OR_NULL,       /* pointer to ret_size bytes of readable memory */
    PL_RET_HANDLE,            /* opaque host handle */
};

enum {
    /* When the helper returns 0 the program stops at once with r0 = 0. */
    PL_HELPER_UNWIND_ON_ZERO = 1u << 0,
};

typedef uint64_t (*pl_helper_fn)(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5);

#define PL_HELPER_ID_MAX 1024 /* helper ids are in [0, PL_HELPER_ID_MAX) */

struct pl_helper_spec {
    uint32_t id;         /* id used by `call imm` (kernel ids where the kernel has one) */
    const char *name;    /* name used by `extern` declarations in ELF objects */
    pl_helper_fn fn;
    uint8_t args[5];     /* enum pl_arg_kind for r1..r5 */
    uint8_t ret;         /* enum pl_ret_kind */
    uint32_t ret_size;   /* for PL_RET_MEM_OR_NULL */
    uint32_t flags;      /* PL_HELPER_* */
};

/* Registers a helper. Fails with PL_EEXIST when the id or name is taken. */
PL_API int pl_helper_register(pl_runtime *rt, const struct pl_helper_spec *spec, pl_error *err);
PL_API const struct pl_helper_spec *pl_helper_find(const pl_runtime *rt, uint32_t id);
PL_API const struct pl_helper_spec *pl_helper_find_by_name(const pl_runtime *rt, const char *name);

/* Ids of the standard helpers (kernel ids). */
enum pl_std_helper {
    PL_HELPER_MAP_LOOKUP_ELEM = 1,
    PL_HELPER_MAP_UPDATE_ELEM = 2,
    PL_HELPER_MAP_DELETE_ELEM = 3,
    PL_HELPER_KTIME_GET_NS = 5,
    PL_HELPER_TRACE_PRINTK = 6,
    PL_HELPER_GET_PRANDOM_U32 = 7,
    PL_HELPER_GET_SMP_PROCESSOR_ID = 8,
    PL_HELPER_KTIME_GET_COARSE_NS = 160,
    PL_HELPER_RINGBUF_OUTPUT = 130,
};

/* ------------------------------------------------------------------- maps */

/* Map types use the kernel's numbering so BTF map definitions work as is. */
enum pl_map_type {
    PL_MAP_HASH = 1,
    PL_MAP_ARRAY = 2,
    PL_MAP_PERTHREAD_ARRAY = 6, /* BPF_MAP_TYPE_PERCPU_ARRAY: one slot per thread */
    PL_MAP_LRU_HASH = 9,
    PL_MAP_RINGBUF = 27,
};

struct pl_map_spec {
    const char *name;
    uint32_t type;         /* enum pl_map_type */
    uint32_t key_size;     /* 4 for arrays, 0 for ring buffers */
    uint32_t value_size;   /* 0 for ring buffers */
    uint32_t max_entries;  /* ring buffers: byte size, a power of two multiple of 4096 */
    uint32_t flags;
};

/* Update flags (kernel values). */
enum { PL_MAP_ANY = 0, PL_MAP_NOEXIST = 1, PL_MAP_EXIST = 2 };

#define PL_MAX_THREADS 256 /* threads that can hold a per-thread map slot at once */

PL_API int pl_map_create(pl_runtime *rt, const struct pl_map_spec *spec, pl_map **out, pl_error *err);
PL_API void pl_map_get(pl_map *map);  /* take a reference */
PL_API void pl_map_put(pl_map *map);  /* drop a reference; freed after a grace period */
PL_API const struct pl_map_spec *pl_map_info(const pl_map *map);
/* Copies the value for key into value. Per-thread arrays copy PL_MAX_THREADS
 * values, one per thread slot. Returns PL_ENOENT when absent. */
PL_API int pl_map_lookup(pl_map *map, const void *key, void *value);
PL_API int pl_map_update(pl_map *map, const void *key, const void *value, uint64_t flags);
PL_API int pl_map_delete(pl_map *map, const void *key);
/* Iteration in the kernel's style: key NULL gives the first key; PL_ENOENT
 * after the last. Concurrent updates may be missed or seen, never crash. */
PL_API int pl_map_next_key(pl_map *map, const void *key, void *next_key);
/* Number of live entries (arrays: max_entries). */
PL_API uint32_t pl_map_count(pl_map *map);
/* Ring buffers: calls fn for each committed record, oldest first, and
 * returns how many were consumed (or a negative pl_status). */
typedef int (*pl_ringbuf_fn)(void *user, const void *data, uint32_t size);
PL_API int pl_ringbuf_consume(pl_map *map, pl_ringbuf_fn fn, void *user);

/* --------------------------------------------------------------- programs */

/* Program load flags. */
enum {
    PL_LOAD_NO_JIT = 1u << 0,        /* run in the interpreter only */
    PL_LOAD_BLIND_CONSTANTS = 1u << 1, /* JIT: blind immediates against JIT spraying */
    /* Skip the verifier (structural checks still run). Only for tools that
     * test execution rather than safety, such as the conformance runner:
     * hooks refuse to attach unverified programs. */
    PL_LOAD_NO_VERIFY = 1u << 2,
    /* ELF objects: verify each program for the hook its section names,
     * "hook/NAME" (as libbpf derives a program's type from SEC()), instead
     * of for opts.hook, which must then be NULL. A program in any other
     * section fails the load. For a policy whose programs serve several
     * hooks and share maps (a buffer pool's unpin and evict programs). */
    PL_LOAD_HOOK_BY_SECTION = 1u << 3,
};

/* Receives the verifier's per-instruction trace (verbose mode), one line at
 * a time, and the final error. */
typedef void (*pl_verifier_log_fn)(void *user, const char *line);

struct pl_prog_opts {
    const char *name;
    unsigned flags;             /* PL_LOAD_* */
    /* Maps that `lddw` pseudo instructions (src 1/2/5/6) refer to by index. */
    pl_map *const *maps;
    uint32_t nmaps;
    /* The hook the program is verified for: its context layout, helper
     * allowlist and return range. Only such programs can attach to it. */
    const pl_hook *hook;
    /* Without a hook: the size of the plain, readable and writable context
     * that r1 points to (0: the program may not touch r1's memory). */
    uint32_t ctx_size;
    pl_verifier_log_fn verifier_log;  /* NULL: no trace */
    void *verifier_log_user;
};

/* Loads raw instructions: decodes them strictly, checks the structure
 * (jump and call targets, lddw pairs, no fall-through past the end, no
 * recursion), resolves map references, verifies the program (unless
 * PL_LOAD_NO_VERIFY) and JIT-compiles it (unless PL_LOAD_NO_JIT). A
 * program the verifier rejects fails with PL_EVERIFY and a message naming
 * the instruction, the reason and, for objects built with clang -g, the
 * source line. */
PL_API int pl_prog_load(pl_runtime *rt, const struct pl_insn *insns, uint32_t ninsns,
                        const struct pl_prog_opts *opts, pl_prog **out, pl_error *err);
PL_API void pl_prog_get(pl_prog *prog);
PL_API void pl_prog_put(pl_prog *prog);
PL_API const char *pl_prog_name(const pl_prog *prog);
PL_API uint32_t pl_prog_insn_count(const pl_prog *prog);
PL_API bool pl_prog_is_jitted(const pl_prog *prog);
PL_API bool pl_prog_is_verified(const pl_prog *prog);

struct pl_verifier_stats {
    uint32_t insns_processed; /* abstract instructions executed, all paths */
    uint32_t states_stored;   /* checkpoints kept for pruning */
    uint32_t joins;           /* states widened to cover a finished checkpoint */
    uint64_t ns;              /* time spent verifying */
    /* The runtime had verified this exact program, for the same hook and
     * maps, before: the figures are that verification's. */
    bool cached;
};
PL_API void pl_prog_verifier_stats(const pl_prog *prog, struct pl_verifier_stats *out);
/* The maps the program references (borrowed). */
PL_API uint32_t pl_prog_map_count(const pl_prog *prog);
PL_API pl_map *pl_prog_map(const pl_prog *prog, uint32_t i);
PL_API pl_map *pl_prog_map_by_name(const pl_prog *prog, const char *name);

/* Runs the program once with r1 = ctx, r2 = ctx_len. jit selects the
 * engine (falls back to the interpreter when the program has no JIT code).
 * Returns 0 with *ret = r0, or PL_EFAULT when the program faulted. */
PL_API int pl_prog_run(pl_prog *prog, void *ctx, uint64_t ctx_len, bool jit, uint64_t *ret);

/* ----------------------------------------------------------- ELF objects */

struct pl_object_opts {
    unsigned flags;              /* PL_LOAD_* applied to every program */
    /* Maps of this program are reused instead of created when the new
     * object declares a compatible map (same name, type, key and value size,
     * max_entries) — policy state survives an upgrade. Global data maps
     * (.data, .rodata, .bss) always start fresh from the new object. */
    const pl_prog *inherit_maps_from;
    const pl_hook *hook;         /* hook the programs are verified for (see pl_prog_opts) */
    uint32_t ctx_size;           /* without a hook (see pl_prog_opts) */
    pl_verifier_log_fn verifier_log;
    void *verifier_log_user;
};

/* Opens a clang -target bpf object: creates its maps, relocates and loads
 * every program in an executable section other than .text. */
PL_API int pl_object_open_mem(pl_runtime *rt, const void *data, size_t size,
                              const struct pl_object_opts *opts, pl_object **out, pl_error *err);
PL_API int pl_object_open_file(pl_runtime *rt, const char *path,
                               const struct pl_object_opts *opts, pl_object **out, pl_error *err);
PL_API void pl_object_close(pl_object *obj);  /* programs taken with pl_prog_get stay valid */
PL_API uint32_t pl_object_prog_count(const pl_object *obj);
PL_API pl_prog *pl_object_prog(const pl_object *obj, uint32_t i);                /* borrowed */
PL_API pl_prog *pl_object_find_prog(const pl_object *obj, const char *name); /* borrowed; by section name (first program there), else by function name */

/* ------------------------------------------------------------------ hooks */

enum pl_field_access { PL_FIELD_READ = 1, PL_FIELD_WRITE = 2 };
enum pl_field_kind {
    PL_FIELD_SCALAR = 0,
    PL_FIELD_HANDLE,   /* opaque host handle: may only be passed to helpers */
};

struct pl_hook_field {
    const char *name;
    uint32_t offset, size;
    uint8_t access;  /* PL_FIELD_READ | PL_FIELD_WRITE */
    uint8_t kind;    /* enum pl_field_kind */
};

/* Return-value validator; true when ret is a valid answer for ctx. */
typedef bool (*pl_ret_validator)(uint64_t ret, const void *ctx, void *user);

struct pl_hook_spec {
    const char *name;
    uint32_t ctx_size;
    const struct pl_hook_field *fields;
    uint32_t nfields;
    const uint32_t *helpers;  /* allowlist of helper ids */
    uint32_t nhelpers;
    /* Return contract: r0 must lie in [ret_min, ret_max] (signed) when
     * has_ret_range, and satisfy validate when set. */
    bool has_ret_range;
    int64_t ret_min, ret_max;
    pl_ret_validator validate;
    void *validate_user;
    /* Consecutive faults that detach the program; 0 means 16. */
    uint32_t fault_limit;
    /* Time one call in 2^sample_shift with the monotonic clock (0: never). */
    uint8_t sample_shift;
};

/* Internal: per-thread invocation counters of a hook, one cache line each so
 * that no two threads write the same line. Read them with pl_hook_stats(). */
struct pl__hook_tstats {
    uint64_t invocations, faults, samples, sampled_ns;
} __attribute__((aligned(64)));

/* Internal: what a program run returns. A 16-byte struct comes back in
 * rax:rdx on x86-64 (System V), so JIT code reports a fault in a register
 * instead of through a pointer the caller must zero, pass and read back:
 * that memory round trip was a tenth of the cost of a hook call. */
typedef struct pl__jit_result {
    uint64_t r0;
    uint64_t fault;  /* 0, or one of the PL__JIT_* codes below */
} pl__jit_result;

enum {
    /* r0 lies outside the return range of the hook the program was loaded
     * for. JIT code checks the range itself (against constants), so the
     * inline path tests one register instead of loading the range. */
    PL__JIT_BAD_ANSWER = 1,
    PL__JIT_ABORTED = 2,  /* the program aborted (e.g. callx to an unknown helper); r0 is 0 */
};

/* Internal: JIT code's signature; a JIT-compiled program keeps it first. */
typedef pl__jit_result (*pl__jit_fn)(void *ctx, uint64_t ctx_len);

/* Internal: public only so that pl_hook_run() can inline the whole call.
 * Read only through pl_hook_run(); never touched by the host; the layout
 * may change with any release. */
struct pl_hook_head {
    _Atomic(pl_prog *) active;
    /* The attached program's JIT code when pl_hook_run may call it itself
     * (no validator, no sampling, no fault since its last good answer);
     * NULL otherwise. Published together with active and retired by the
     * same grace period. */
    _Atomic(pl__jit_fn) fast_fn;
    uint32_t ctx_size;
    struct pl__hook_tstats tstats[PL_MAX_THREADS];
};

PL_API int pl_hook_register(pl_runtime *rt, const struct pl_hook_spec *spec, pl_hook **out, pl_error *err);
PL_API pl_hook *pl_hook_find(const pl_runtime *rt, const char *name);
PL_API const struct pl_hook_spec *pl_hook_info(const pl_hook *hook);

/* Atomically attaches prog (replacing any program attached before). The
 * hook takes its own reference; the old program is released after a grace
 * period. Fails with PL_EHOOK unless prog was verified for this hook
 * (loaded with .hook = hook and without PL_LOAD_NO_VERIFY). */
PL_API int pl_hook_attach(pl_hook *hook, pl_prog *prog, pl_error *err);
/* Detaches; returns PL_ENOENT when nothing was attached. */
PL_API int pl_hook_detach(pl_hook *hook, pl_error *err);
/* The attached program with a new reference (NULL when detached). */
PL_API pl_prog *pl_hook_current(pl_hook *hook);

/* Invocation results. */
enum {
    PL_HOOK_RAN = 0,      /* *ret holds a valid answer from the program */
    PL_HOOK_DEFAULT = 1,  /* nothing attached: use the built-in behaviour */
    PL_HOOK_FAULT = 2,    /* program faulted or answered invalidly: use the default */
};

/* Runs the attached program, if any: the out-of-line form of pl_hook_run(). */
PL_API int pl_hook_invoke(pl_hook *hook, void *ctx, uint64_t *ret);

/* Internal: the calling thread's runtime state, read by the inline
 * pl_hook_run(). Never touched by the host; may change with any release. */
struct pl__thread {
    /* Read-side state (see rcu.c): 0 outside a read-side section; inside,
     * the (odd) grace-period counter pl__rcu_gp as the outermost section's
     * entry read it. */
    _Atomic uint64_t rcu_seq;
    uint32_t slot;      /* dense thread slot + 1; 0: not registered yet */
    uint32_t rcu_nest;  /* pl_rcu_read_lock() sections nested in the outermost */
    /* Byte offset of this thread's counters in a struct pl_hook_head, or 0
     * when pl_hook_run must take the out-of-line path (not registered yet,
     * or no membarrier(2): entering a section then needs a fence). */
    uint32_t hook_stats;
    bool fast;          /* registered, and grace periods use membarrier(2) */
};
PL_API extern __thread struct pl__thread pl__tls __attribute__((tls_model("initial-exec")));
/* Internal: the grace-period counter (rcu.c), odd, read on section entry. */
PL_API extern _Atomic uint64_t pl__rcu_gp;

/* Internal: counts a fault or invalid answer (fault: a PL__JIT_* code) of
 * the program whose code is fn (the caller is still inside the read-side
 * section that called it) and trips the circuit breaker if that program is
 * still attached. Returns PL_HOOK_FAULT. */
PL_API int pl__hook_fault(pl_hook *hook, pl__jit_fn fn, uint64_t r0, uint32_t fault);

/* Internal: pl_hook_run() with a program attached. Enters a read-side
 * section (one store to a line only this thread writes), calls the JIT
 * code, which checks its answer against the hook's return range, counts
 * the call and leaves (one store). Anything less common — an unregistered
 * thread, a membarrier-less kernel, a call nested in a read-side section, a
 * validator or sampling, an interpreted program, a fault streak in
 * progress, a detach in between — takes pl_hook_invoke(). */
__attribute__((always_inline)) static inline int pl__hook_run_attached(pl_hook *hook, void *ctx, uint64_t *ret)
{
    struct pl_hook_head *head = (struct pl_hook_head *)hook;
    uint32_t stats = pl__tls.hook_stats;
    if (__builtin_expect(!stats || atomic_load_explicit(&pl__tls.rcu_seq, memory_order_relaxed) != 0, 0))
        return pl_hook_invoke(hook, ctx, ret);
    atomic_store_explicit(&pl__tls.rcu_seq, atomic_load_explicit(&pl__rcu_gp, memory_order_acquire),
                          memory_order_relaxed);
    /* The grace period's membarrier(2) orders the store before the load
     * below on the hardware; the compiler must not reorder them either. */
    atomic_signal_fence(memory_order_seq_cst);
    pl__jit_fn fn = atomic_load_explicit(&head->fast_fn, memory_order_acquire);
    if (__builtin_expect(fn == NULL, 0)) {
        atomic_store_explicit(&pl__tls.rcu_seq, 0, memory_order_release);
        return pl_hook_invoke(hook, ctx, ret);
    }
    /* Counted before the call: nothing but fn and the result then lives
     * across it, which leaves the host's registers to the host. */
    uint64_t *calls = (uint64_t *)(void *)((char *)head + stats);
    __atomic_store_n(calls, __atomic_load_n(calls, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
    pl__jit_result res = fn(ctx, head->ctx_size);
    int rc = PL_HOOK_RAN;
    if (__builtin_expect(res.fault != 0, 0))
        rc = pl__hook_fault(hook, fn, res.r0, (uint32_t)res.fault);
    else
        *ret = res.r0;
    atomic_store_explicit(&pl__tls.rcu_seq, 0, memory_order_release);
    return rc;
}

/* True when a program is attached: lets a host skip building a context
 * that nothing will read (pl_hook_run makes the same test). */
static inline bool pl_hook_is_attached(const pl_hook *hook)
{
    return atomic_load_explicit(&((const struct pl_hook_head *)hook)->active, memory_order_relaxed) != NULL;
}

/* The hot path: one load and one predictable branch when detached. Forced
 * inline: compilers otherwise split the attached part back out of line. */
__attribute__((always_inline)) static inline int pl_hook_run(pl_hook *hook, void *ctx, uint64_t *ret)
{
    const struct pl_hook_head *head = (const struct pl_hook_head *)hook;
    if (__builtin_expect(atomic_load_explicit(&head->active, memory_order_relaxed) == NULL, 1))
        return PL_HOOK_DEFAULT;
    return pl__hook_run_attached(hook, ctx, ret);
}

struct pl_hook_stats {
    uint64_t invocations;   /* calls that ran a program */
    uint64_t faults;        /* invalid answers and runtime faults */
    uint64_t samples;       /* timed calls */
    uint64_t sampled_ns;    /* total time of the timed calls */
    uint64_t attaches;      /* successful attach/replace operations */
    uint64_t detaches_by_breaker;
    bool attached;
};

/* Sums the per-thread counters. */
PL_API void pl_hook_stats(pl_hook *hook, struct pl_hook_stats *out);
/* Why the circuit breaker last detached the program ("" if it never did). */
PL_API const char *pl_hook_breaker_reason(pl_hook *hook, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* PLIANT_H */
