/* The verifier's reject corpus: one unsafe program per distinct violation,
 * each rejected with PL_EVERIFY at the offending instruction and with a
 * message naming the specific reason. Programs are raw instructions run
 * against a test hook ("vtest") whose context has read-only, read-write,
 * write-only and handle fields and a gap, a helper allowlist and the return
 * range [0, 10], plus the maps below.
 *
 * known_gaps lists unsafe programs the verifier currently ACCEPTS; they are
 * reported (not failed) until the verifier catches them, then they must
 * move into the main table. */
#include "testlib.h"
#include "insn.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the hook */

struct vctx {
    uint64_t ro;     /* 0: read-only scalar */
    uint64_t rw;     /* 8: read-write scalar */
    uint64_t handle; /* 16: read-only host handle */
    uint32_t small;  /* 24: read-only 4-byte scalar */
    uint32_t gap;    /* 28: not a field */
    uint64_t wo;     /* 32: write-only scalar */
};

static const struct pl_hook_field vctx_fields[] = {
    {"ro", 0, 8, PL_FIELD_READ, PL_FIELD_SCALAR},
    {"rw", 8, 8, PL_FIELD_READ | PL_FIELD_WRITE, PL_FIELD_SCALAR},
    {"handle", 16, 8, PL_FIELD_READ, PL_FIELD_HANDLE},
    {"small", 24, 4, PL_FIELD_READ, PL_FIELD_SCALAR},
    {"wo", 32, 8, PL_FIELD_WRITE, PL_FIELD_SCALAR},
};

/* Host helpers with one argument kind each, so every kind's check can be
 * hit on its own. */
enum { H_SCALAR = 900, H_CTX, H_HANDLE, H_FILL, H_STR, H_MEM, H_GET_HANDLE };

static uint64_t h_any(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)a, (void)b, (void)c, (void)d, (void)e;
    return 0;
}

static uint64_t h_fill(uint64_t p, uint64_t n, uint64_t c, uint64_t d, uint64_t e)
{
    (void)c, (void)d, (void)e;
    memset((void *)(uintptr_t)p, 0x5a, n);
    return 0;
}

static uint64_t helper_mem_buf[2];

static uint64_t h_mem(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)a, (void)b, (void)c, (void)d, (void)e;
    return (uint64_t)(uintptr_t)helper_mem_buf;
}

static const struct pl_helper_spec test_helpers[] = {
    {H_SCALAR, "t_scalar", h_any, {PL_ARG_SCALAR}, PL_RET_SCALAR, 0, 0},
    {H_CTX, "t_ctx", h_any, {PL_ARG_CTX}, PL_RET_SCALAR, 0, 0},
    {H_HANDLE, "t_handle", h_any, {PL_ARG_HANDLE}, PL_RET_SCALAR, 0, 0},
    {H_FILL, "t_fill", h_fill, {PL_ARG_MEM_UNINIT, PL_ARG_MEM_SIZE}, PL_RET_SCALAR, 0, 0},
    {H_STR, "t_str", h_any, {PL_ARG_STR}, PL_RET_SCALAR, 0, 0},
    {H_MEM, "t_mem", h_mem, {0}, PL_RET_MEM_OR_NULL, sizeof(helper_mem_buf), 0},
    {H_GET_HANDLE, "t_get_handle", h_any, {0}, PL_RET_HANDLE, 0, 0},
};

/* bpf_ktime_get_ns (5) is deliberately not on the list. */
static const uint32_t vtest_allowed[] = {
    PL_HELPER_MAP_LOOKUP_ELEM, PL_HELPER_MAP_UPDATE_ELEM, PL_HELPER_MAP_DELETE_ELEM, PL_HELPER_TRACE_PRINTK,
    PL_HELPER_RINGBUF_OUTPUT, H_SCALAR, H_CTX, H_HANDLE, H_FILL, H_STR, H_MEM, H_GET_HANDLE,
};

/* Maps, by index in pl_prog_opts.maps (the imm of LD_MAP / LD_MAP_VALUE). */
enum { M_ARR, M_HASH, M_RODATA, M_PT, M_DATA, M_RB, M_COUNT };

static const struct pl_map_spec map_specs[M_COUNT] = {
    {"arr", PL_MAP_ARRAY, 4, 16, 4, 0},
    {"hash", PL_MAP_HASH, 8, 16, 16, 0},
    {"rodata", PL_MAP_ARRAY, 4, 16, 1, 1u << 7 /* BPF_F_RDONLY_PROG */},
    {"pt", PL_MAP_PERTHREAD_ARRAY, 4, 8, 1, 0},
    {"data", PL_MAP_ARRAY, 4, 16, 1, 0},
    {"rb", PL_MAP_RINGBUF, 0, 0, 4096, 0},
};

struct env {
    pl_runtime *rt;
    pl_hook *hook;
    pl_map *maps[M_COUNT];
};

static bool env_open(struct env *e)
{
    pl_error err;
    memset(e, 0, sizeof(*e));
    if (pl_runtime_new(NULL, &e->rt, &err)) {
        fprintf(stderr, "  pl_runtime_new: %s\n", err.msg);
        return false;
    }
    for (size_t i = 0; i < sizeof(test_helpers) / sizeof(test_helpers[0]); i++)
        if (pl_helper_register(e->rt, &test_helpers[i], &err)) {
            fprintf(stderr, "  helper %s: %s\n", test_helpers[i].name, err.msg);
            return false;
        }
    struct pl_hook_spec hs = {
        .name = "vtest", .ctx_size = sizeof(struct vctx), .fields = vctx_fields,
        .nfields = N(vctx_fields), .helpers = vtest_allowed, .nhelpers = N(vtest_allowed),
        .has_ret_range = true, .ret_min = 0, .ret_max = 10,
    };
    if (pl_hook_register(e->rt, &hs, &e->hook, &err)) {
        fprintf(stderr, "  pl_hook_register: %s\n", err.msg);
        return false;
    }
    for (int i = 0; i < M_COUNT; i++)
        if (pl_map_create(e->rt, &map_specs[i], &e->maps[i], &err)) {
            fprintf(stderr, "  map %s: %s\n", map_specs[i].name, err.msg);
            return false;
        }
    return true;
}

static void env_close(struct env *e)
{
    for (int i = 0; i < M_COUNT; i++)
        if (e->maps[i])
            pl_map_put(e->maps[i]);
    if (e->rt)
        pl_runtime_free(e->rt);
}

/* ------------------------------------------------------------ cases */

struct reject_case {
    const char *name;
    struct pl_insn insns[32];
    uint32_t n;
    int insn;           /* expected instruction index in the error */
    const char *reason; /* expected substring of the message */
    uint32_t hookless;  /* 0: load for vtest; else ctx_size + 1 of a program without a hook */
};

#define CASE(name_, insn_, reason_, ...) \
    {name_, {__VA_ARGS__}, N(((struct pl_insn[]){__VA_ARGS__})), insn_, reason_, 0}
#define HOOKLESS(name_, ctx_size_, insn_, reason_, ...) \
    {name_, {__VA_ARGS__}, N(((struct pl_insn[]){__VA_ARGS__})), insn_, reason_, (ctx_size_) + 1}

/* r6 = ctx; r0 = bpf_map_lookup_elem(map, &(u32/u64)0 on the stack):
 * instructions 0-6, r0 possibly NULL at 7. */
#define LOOKUP(map, keysz)                                                            \
    MOV64_REG(6, 1), ST(keysz == 8 ? SZ_DW : SZ_W, 10, -8, 0), MOV64_REG(2, 10),     \
        ADD64_IMM(2, -8), LD_MAP(1, map), CALL(PL_HELPER_MAP_LOOKUP_ELEM)
/* LOOKUP then return 0 when NULL: r0 is a map value pointer at 10. */
#define LOOKUP_CHECKED(map, keysz) \
    LOOKUP(map, keysz), JMP_IMM(OP_JNE, 0, 0, 2), MOV64_IMM(0, 0), EXIT()
#define RET0 MOV64_IMM(0, 0), EXIT()
/* "%x" and its NUL, as an 8-byte immediate stored at fp-8. */
#define FMT_AT_FP8 ST(SZ_DW, 10, -8, 0x7825)

static bool check_case(struct env *e, const struct reject_case *c, bool known_gap)
{
    pl_prog *p = NULL;
    pl_error err;
    memset(&err, 0, sizeof(err));
    struct pl_prog_opts o = {
        .name = c->name, .flags = PL_LOAD_NO_JIT, .maps = e->maps, .nmaps = M_COUNT,
        .hook = c->hookless ? NULL : e->hook, .ctx_size = c->hookless ? c->hookless - 1 : 0,
    };
    int rc = pl_prog_load(e->rt, c->insns, c->n, &o, &p, &err);
    if (known_gap) {
        if (rc == PL_EVERIFY)
            fprintf(stderr, "  known gap '%s' is now rejected (insn %d: %s); move it to the main table\n",
                    c->name, err.insn, err.msg);
        else
            printf("  NOTE: known verifier gap, still accepted (rc %d): %s\n", rc, c->name);
        pl_prog_put(p);
        return true;
    }
    bool ok = rc == PL_EVERIFY && err.code == PL_EVERIFY && err.insn == c->insn && strstr(err.msg, c->reason);
    if (!ok)
        tl_failf(__FILE__, __LINE__, "case '%s': rc %d insn %d msg '%s' (expected PL_EVERIFY at insn %d with '%s')",
                 c->name, rc, err.insn, err.msg, c->insn, c->reason);
    else if (getenv("PLIANT_TEST_VERBOSE"))
        printf("  %-44s %s\n", c->name, err.msg);
    pl_prog_put(p);
    return ok;
}

TEST(verifier_reject_corpus)
{
    const struct reject_case cases[] = {
        /* -------- uninitialised registers */
        CASE("uninit alu src", 1, "reads r2 before it is initialised",
             MOV64_IMM(0, 0), ALU64_REG(OP_ADD, 0, 2), EXIT()),
        CASE("uninit alu dst", 0, "reads r3 before it is initialised",
             ALU64_IMM(OP_ADD, 3, 1), RET0),
        CASE("uninit store src", 0, "reads r2 before it is initialised",
             STX64(10, 2, -8), RET0),
        CASE("uninit load base", 0, "reads r3 before it is initialised",
             LDX64(0, 3, 0), EXIT()),
        CASE("uninit jump dst", 1, "reads r4 before it is initialised",
             MOV64_IMM(0, 0), JMP_IMM(OP_JEQ, 4, 0, 0), EXIT()),
        CASE("uninit jump src", 1, "reads r5 before it is initialised",
             MOV64_IMM(0, 0), JMP_REG(OP_JGT, 0, 5, 0), EXIT()),
        CASE("uninit r0 at exit", 0, "r0 is not initialised at exit", EXIT()),
        CASE("uninit helper arg", 2, "argument 2 of bpf_map_lookup_elem (r2) is not initialised",
             LD_MAP(1, M_ARR), CALL(PL_HELPER_MAP_LOOKUP_ELEM), EXIT()),
        /* The callee cannot see the caller's callee-saved registers. */
        CASE("callee reads caller's r6", 3, "reads r6 before it is initialised",
             MOV64_IMM(6, 1), CALL_LOCAL(1), EXIT(), MOV64_REG(0, 6), EXIT()),

        /* -------- uninitialised stack */
        CASE("stack read never written", 0, "reads 8 bytes at fp-8, but the byte at fp-8 holds no data",
             LDX64(0, 10, -8), EXIT()),
        CASE("stack read half written", 1, "reads 8 bytes at fp-8, but the byte at fp-4 holds no data",
             ST(SZ_W, 10, -8, 0), LDX64(0, 10, -8), EXIT()),
        CASE("stack written on one path only", 3, "the byte at fp-8 holds no data",
             LDX64(2, 1, 0), JEQ_IMM(2, 0, 1), ST(SZ_DW, 10, -8, 0), LDX64(0, 10, -8), EXIT()),
        CASE("atomic on unwritten stack", 1, "reads 8 bytes at fp-8, but the byte at fp-8 holds no data",
             MOV64_IMM(2, 1), ATOMIC(SZ_DW, 10, 2, -8, AT_ADD), RET0),

        /* -------- stack bounds */
        CASE("stack below the frame", 0, "accesses 8 bytes at fp-520, outside the 512-byte stack frame",
             ST(SZ_DW, 10, -520, 0), RET0),
        CASE("stack at fp", 0, "accesses 8 bytes at fp+0, outside the 512-byte stack frame",
             ST(SZ_DW, 10, 0, 0), RET0),
        CASE("stack variable offset out of range", 4, "accesses 8 bytes at fp-1024..fp-8, outside the 512-byte stack frame",
             LDX64(2, 1, 0), ALU64_IMM(OP_AND, 2, 0x3f8), MOV64_REG(3, 10), ALU64_REG(OP_SUB, 3, 2),
             ST(SZ_DW, 3, -8, 0), RET0),
        CASE("variable-offset write into unwritten stack", 5,
             "variable-offset write into stack bytes at fp-16 that were never initialised",
             LDX64(2, 1, 0), ALU64_IMM(OP_AND, 2, 7), MOV64_REG(3, 10), ADD64_IMM(3, -16),
             ALU64_REG(OP_ADD, 3, 2), ST(SZ_B, 3, 0, 1), RET0),
        CASE("pointer moved beyond the offset limit", 3, "moves the pointer by 1073741824 bytes",
             MOV64_REG(2, 10), LDDW(3, 0x40000000, 0), ALU64_REG(OP_ADD, 2, 3), RET0),

        /* -------- context */
        CASE("ctx read past the end", 0, "reads 8 bytes at ctx+40, past the 40-byte context of hook vtest",
             LDX64(0, 1, 40), EXIT()),
        CASE("ctx read before the start", 0, "reads 8 bytes at ctx-8, past the 40-byte context",
             LDX64(0, 1, -8), EXIT()),
        CASE("ctx read of a gap", 0, "reads 4 bytes at ctx+28, which is not a field of hook vtest's context",
             LDX32(0, 1, 28), EXIT()),
        CASE("ctx partial field read", 0, "field 'ro' of hook vtest is 8 bytes at ctx+0 (access it whole)",
             LDX32(0, 1, 4), EXIT()),
        CASE("ctx read wider than the field", 0, "reads 8 bytes at ctx+24; field 'small' of hook vtest is 4 bytes",
             LDX64(0, 1, 24), EXIT()),
        CASE("ctx write of a read-only field", 0, "writes field 'ro' of hook vtest, which is read-only",
             ST(SZ_DW, 1, 0, 5), RET0),
        CASE("ctx read of a write-only field", 0, "reads field 'wo' of hook vtest, which is write-only",
             LDX64(0, 1, 32), EXIT()),
        CASE("ctx write of a pointer", 0, "writes a pointer into the context",
             STX64(1, 10, 8), RET0),
        CASE("ctx variable offset", 2, "adds a variable offset to the context pointer",
             LDX64(2, 1, 0), ALU64_IMM(OP_AND, 2, 8), ALU64_REG(OP_ADD, 1, 2), RET0),
        CASE("ctx atomic", 1, "atomic operation on the context is not allowed",
             MOV64_IMM(2, 1), ATOMIC(SZ_DW, 1, 2, 8, AT_ADD), RET0),

        /* -------- dereferences */
        CASE("deref of a scalar", 1, "dereferences r2, which holds a scalar, not a pointer",
             MOV64_IMM(2, 0x1000), LDX64(0, 2, 0), EXIT()),
        CASE("deref of a map reference", 2, "dereferences r2, a map reference",
             LD_MAP(2, M_ARR), LDX64(0, 2, 0), EXIT()),
        CASE("deref of a handle", 1, "dereferences r2, an opaque host handle",
             LDX64(2, 1, 16), LDX64(0, 2, 0), EXIT()),
        CASE("deref of lookup without NULL check", 7, "dereferences r0, which may be NULL; compare it with 0 first",
             LOOKUP(M_ARR, 4), LDX64(0, 0, 0), EXIT()),

        /* -------- map values */
        CASE("map value read past the end", 10, "reads 8 bytes at offset 16 of the value of map 'arr', outside its 16 bytes",
             LOOKUP_CHECKED(M_ARR, 4), LDX64(0, 0, 16), EXIT()),
        CASE("map value variable offset past the end", 13,
             "reads 8 bytes at offset 0..15 of the value of map 'arr', outside its 16 bytes; bound the index first",
             LOOKUP_CHECKED(M_ARR, 4), LDX64(2, 6, 0), ALU64_IMM(OP_AND, 2, 15), ALU64_REG(OP_ADD, 0, 2),
             LDX64(0, 0, 0), EXIT()),
        CASE("map value unbounded u32 index", 12, "adds an unbounded scalar to a pointer",
             LOOKUP_CHECKED(M_ARR, 4), LDX32(2, 6, 24), ALU64_IMM(OP_LSH, 2, 3), ALU64_REG(OP_ADD, 0, 2),
             LDX64(0, 0, 0), EXIT()),
        /* Each addition is bounded, their sum is not. */
        CASE("map value offset grown past the limit", 15, "pointer has an unbounded variable offset (no upper bound)",
             LOOKUP_CHECKED(M_ARR, 4), LDX64(2, 6, 0), ALU64_IMM(OP_AND, 2, 0x0fffffff), ALU64_REG(OP_ADD, 0, 2),
             ALU64_REG(OP_ADD, 0, 2), ALU64_REG(OP_ADD, 0, 2), LDX(SZ_B, 0, 0, 0), EXIT()),
        CASE("write into a read-only map", 2, "writes into the value of map 'rodata', which is read-only",
             LD_MAP_VALUE(1, M_RODATA, 0), ST(SZ_DW, 1, 0, 1), RET0),
        CASE("helper writes into a read-only map", 3, "writes into the value of map 'rodata', which is read-only",
             LD_MAP_VALUE(1, M_RODATA, 0), MOV64_IMM(2, 8), CALL(H_FILL), RET0),
        CASE("store a ctx pointer into a map value", 10, "stores a pointer into the value of map 'arr'",
             LOOKUP_CHECKED(M_ARR, 4), STX64(0, 6, 0), RET0),
        CASE("store a stack pointer into global data", 2, "stores a pointer into the value of map 'data'",
             LD_MAP_VALUE(1, M_DATA, 0), STX64(1, 10, 8), RET0),
        CASE("misaligned atomic on a map value", 11, "atomic operation on the value of map 'arr' at a possibly misaligned offset",
             LOOKUP_CHECKED(M_ARR, 4), MOV64_IMM(2, 1), ATOMIC(SZ_DW, 0, 2, 4, AT_ADD), RET0),

        /* -------- spilled pointers */
        CASE("narrow store of a pointer", 0, "stores a pointer with a store of 4 bytes at fp-8",
             STX(SZ_W, 10, 1, -8), RET0),
        CASE("misaligned spill of a pointer", 0, "stores a pointer with a store of 8 bytes at fp-12",
             STX64(10, 1, -12), RET0),
        CASE("read part of a spilled pointer", 1, "reads part of a spilled pointer at fp-8",
             STX64(10, 1, -8), LDX32(0, 10, -8), EXIT()),
        /* A helper writing 1 byte over a spilled pointer: the other 7
         * bytes still hold the address and must not be readable. */
        CASE("read a spilled pointer a helper partly overwrote", 5, "reads 8 bytes at fp-8, but the byte at fp-7 holds no data",
             STX64(10, 1, -8), MOV64_REG(1, 10), ADD64_IMM(1, -8), MOV64_IMM(2, 1), CALL(H_FILL),
             LDX64(2, 10, -8), LD_MAP_VALUE(1, M_DATA, 0), STX64(1, 2, 0), RET0),
        CASE("helper reads a spilled pointer", 4, "argument 1 of bpf_trace_printk covers a spilled pointer at fp-8",
             STX64(10, 1, -8), MOV64_REG(1, 10), ADD64_IMM(1, -8), MOV64_IMM(2, 8), CALL(PL_HELPER_TRACE_PRINTK), RET0),

        /* -------- pointer arithmetic */
        CASE("multiply a pointer", 1, "arithmetic on a pointer other than adding or subtracting a scalar",
             MOV64_REG(2, 10), ALU64_IMM(OP_MUL, 2, 2), RET0),
        CASE("divide a pointer", 1, "arithmetic on a pointer other than adding or subtracting a scalar",
             MOV64_REG(2, 10), ALU64_IMM(OP_DIV, 2, 2), RET0),
        CASE("and a pointer", 1, "arithmetic on a pointer other than adding or subtracting a scalar",
             MOV64_REG(2, 10), ALU64_IMM(OP_AND, 2, -8), RET0),
        CASE("or a pointer", 1, "arithmetic on a pointer other than adding or subtracting a scalar",
             MOV64_REG(2, 10), ALU64_IMM(OP_OR, 2, 1), RET0),
        CASE("xor a pointer", 1, "arithmetic on a pointer other than adding or subtracting a scalar",
             MOV64_REG(2, 10), ALU64_IMM(OP_XOR, 2, 1), RET0),
        CASE("shift a pointer left", 1, "arithmetic on a pointer other than adding or subtracting a scalar",
             MOV64_REG(2, 10), ALU64_IMM(OP_LSH, 2, 1), RET0),
        CASE("shift a pointer right", 1, "arithmetic on a pointer other than adding or subtracting a scalar",
             MOV64_REG(2, 10), ALU64_IMM(OP_RSH, 2, 12), RET0),
        CASE("negate a pointer", 1, "arithmetic on a pointer other than adding or subtracting a scalar",
             MOV64_REG(2, 10), NEG64(2), RET0),
        CASE("add two pointers", 1, "combines two pointers (the result could reveal addresses)",
             MOV64_REG(2, 10), ALU64_REG(OP_ADD, 2, 1), RET0),
        CASE("scalar minus a pointer", 1, "arithmetic on a pointer other than adding or subtracting a scalar",
             MOV64_IMM(2, 5), ALU64_REG(OP_SUB, 2, 10), RET0),
        CASE("32-bit add on a pointer", 1, "32-bit arithmetic on a pointer would expose part of an address",
             MOV64_REG(2, 10), ALU32_IMM(OP_ADD, 2, 8), RET0),
        CASE("mov32 of a pointer", 0, "32-bit move of a pointer would expose part of an address",
             MOV32_REG(0, 10), EXIT()),
        CASE("movsx of a pointer", 0, "sign-extending move of a pointer would expose part of an address",
             MOVSX64(0, 10, 32), EXIT()),
        CASE("byte swap of a pointer", 1, "byte swap of a pointer would expose an address",
             MOV64_REG(0, 10), BSWAP64(0, 64), EXIT()),
        CASE("subtract pointers into different regions", 1, "subtracts two pointers (the result could reveal addresses)",
             MOV64_REG(2, 10), ALU64_REG(OP_SUB, 2, 1), RET0),
        CASE("arithmetic on a possibly NULL pointer", 7, "arithmetic on a possibly NULL pointer; compare it with 0 first",
             LOOKUP(M_ARR, 4), ADD64_IMM(0, 8), RET0),
        CASE("arithmetic on a map reference", 2, "arithmetic on a map reference (it is opaque",
             LD_MAP(2, M_ARR), ADD64_IMM(2, 8), RET0),
        CASE("arithmetic on a handle", 1, "arithmetic on an opaque handle",
             LDX64(2, 1, 16), ADD64_IMM(2, 8), RET0),
        CASE("unbounded scalar added to a pointer", 2, "adds an unbounded scalar to a pointer; check it against a limit first",
             LDX64(2, 1, 0), MOV64_REG(3, 10), ALU64_REG(OP_ADD, 3, 2), RET0),

        /* -------- comparisons */
        CASE("pointer compared with a scalar", 1, "compares a stack pointer (pointer comparisons would leak addresses",
             MOV64_IMM(0, 0), JMP_IMM(OP_JGT, 10, 5, 0), EXIT()),
        CASE("pointer compared with a pointer", 1, "compares a context pointer",
             MOV64_IMM(0, 0), JMP_REG(OP_JEQ, 1, 10, 0), EXIT()),
        CASE("32-bit NULL check", 7, "compares a possibly NULL map value pointer",
             LOOKUP(M_ARR, 4), JMP32_IMM(OP_JEQ, 0, 0, 0), RET0),

        /* -------- return value */
        CASE("return a pointer", 1, "returns a stack pointer in r0 (addresses must not leak to the host)",
             MOV64_REG(0, 10), EXIT()),
        CASE("return outside the hook's range", 1, "r0 at exit may be in [11, 11], outside hook vtest's return range [0, 10]",
             MOV64_IMM(0, 11), EXIT()),
        CASE("return an unbounded value", 1,
             "r0 at exit may be in [-9223372036854775808, 9223372036854775807], outside hook vtest's return range",
             LDX64(0, 1, 0), EXIT()),

        /* -------- helper calls */
        CASE("helper not on the allowlist", 0, "helper bpf_ktime_get_ns (id 5) is not allowed in hook vtest",
             CALL(PL_HELPER_KTIME_GET_NS), RET0),
        CASE("pointer as a scalar argument", 1, "argument 1 of t_scalar must be a scalar; r1 is a stack pointer",
             MOV64_REG(1, 10), CALL(H_SCALAR), RET0),
        CASE("pointer as a printk argument", 5, "argument 3 of bpf_trace_printk must be a scalar; r3 is a stack pointer",
             FMT_AT_FP8, MOV64_REG(1, 10), ADD64_IMM(1, -8), MOV64_IMM(2, 8), MOV64_REG(3, 10),
             CALL(PL_HELPER_TRACE_PRINTK), RET0),
        CASE("map argument not a map", 4, "argument 1 of bpf_map_lookup_elem must be a map; r1 is a stack pointer",
             ST(SZ_W, 10, -4, 0), MOV64_REG(2, 10), ADD64_IMM(2, -4), MOV64_REG(1, 10),
             CALL(PL_HELPER_MAP_LOOKUP_ELEM), RET0),
        CASE("key on unwritten stack", 4,
             "argument 2 of bpf_map_lookup_elem points to 4 bytes at fp-4, but the byte at fp-4 was not written",
             MOV64_REG(2, 10), ADD64_IMM(2, -4), LD_MAP(1, M_ARR), CALL(PL_HELPER_MAP_LOOKUP_ELEM), RET0),
        /* An 8-byte key at fp-4: only 4 bytes of stack remain. */
        CASE("key region too small", 5, "argument 2 of bpf_map_lookup_elem needs 8 bytes at fp-4, past the end of the stack frame",
             ST(SZ_W, 10, -4, 0), MOV64_REG(2, 10), ADD64_IMM(2, -4), LD_MAP(1, M_HASH),
             CALL(PL_HELPER_MAP_LOOKUP_ELEM), RET0),
        /* A 16-byte value taken from the 8-byte value of map 'pt'. */
        CASE("value argument out of bounds", 15, "reads 16 bytes at offset 0 of the value of map 'pt', outside its 8 bytes",
             ST(SZ_W, 10, -4, 0), MOV64_REG(2, 10), ADD64_IMM(2, -4), LD_MAP(1, M_PT), CALL(PL_HELPER_MAP_LOOKUP_ELEM),
             JMP_IMM(OP_JNE, 0, 0, 2), RET0, MOV64_REG(3, 0), MOV64_REG(2, 10), ADD64_IMM(2, -4), LD_MAP(1, M_ARR),
             MOV64_IMM(4, 0), CALL(PL_HELPER_MAP_UPDATE_ELEM), RET0),
        CASE("memory size may be negative", 4, "argument 2 of bpf_trace_printk (a size) may be negative",
             FMT_AT_FP8, LDX64(2, 1, 0), MOV64_REG(1, 10), ADD64_IMM(1, -8), CALL(PL_HELPER_TRACE_PRINTK), RET0),
        CASE("memory size unbounded", 4, "argument 2 of bpf_trace_printk (the size of argument 1) may be up to 4294967295 bytes",
             FMT_AT_FP8, LDX32(2, 1, 24), MOV64_REG(1, 10), ADD64_IMM(1, -8), CALL(PL_HELPER_TRACE_PRINTK), RET0),
        CASE("memory size is a pointer", 3, "argument 2 of bpf_trace_printk (a size) must be a scalar; r2 is a stack pointer",
             FMT_AT_FP8, MOV64_REG(1, 10), MOV64_REG(2, 10), CALL(PL_HELPER_TRACE_PRINTK), RET0),
        CASE("memory argument is a scalar", 2,
             "argument 1 of bpf_trace_printk must point to the stack, a map value or helper memory; r1 is a scalar",
             MOV64_IMM(1, 0x1000), MOV64_IMM(2, 8), CALL(PL_HELPER_TRACE_PRINTK), RET0),
        CASE("memory argument is the context", 1, "r1 is a context pointer",
             MOV64_IMM(2, 8), CALL(PL_HELPER_TRACE_PRINTK), RET0),
        CASE("memory argument possibly NULL", 9, "r1 is a possibly NULL map value pointer",
             LOOKUP(M_ARR, 4), MOV64_REG(1, 0), MOV64_IMM(2, 8), CALL(PL_HELPER_TRACE_PRINTK), RET0),
        CASE("context argument not the context", 1, "argument 1 of t_ctx must be the context pointer",
             MOV64_REG(1, 10), CALL(H_CTX), RET0),
        CASE("handle argument not a handle", 1, "argument 1 of t_handle must be a host handle; r1 is a scalar",
             MOV64_IMM(1, 0), CALL(H_HANDLE), RET0),
        CASE("string argument on the stack", 3, "argument 1 of t_str must be a constant string in read-only global data",
             FMT_AT_FP8, MOV64_REG(1, 10), ADD64_IMM(1, -8), CALL(H_STR), RET0),
        CASE("callx", 1, "callx cannot be verified",
             MOV64_IMM(2, 1), CALLX(2), RET0),

        /* -------- control flow */
        CASE("infinite loop", 1, "infinite loop: the program comes back to this instruction in the same state",
             MOV64_IMM(0, 0), JA(-1)),
        /* 10^7 iterations of 2 instructions: the 1,000,001st processed
         * instruction is the loop's branch (insn 0, then 1 and 2 alternately). */
        CASE("too complex", 2, "the program is too complex to verify: more than 1000000 instructions processed",
             MOV64_IMM(0, 0), ADD64_IMM(0, 1), JMP_IMM(OP_JLT, 0, 10000000, -2), EXIT()),
        CASE("unreachable instruction", 2, "unreachable instruction",
             MOV64_IMM(0, 0), EXIT(), MOV64_IMM(0, 1), EXIT()),
        CASE("branch never taken", 2, "unreachable instruction",
             MOV64_IMM(0, 0), JEQ_IMM(0, 0, 1), MOV64_IMM(0, 1), EXIT()),

        /* -------- local calls */
        CASE("return a pointer to the callee's stack", 5, "returns a pointer to the function's own stack",
             CALL_LOCAL(2), RET0, MOV64_REG(0, 10), ADD64_IMM(0, -8), EXIT()),
        CASE("callee stack pointer stored in the caller's stack", 5,
             "stores a pointer to a callee's stack into its caller's stack",
             MOV64_REG(1, 10), ADD64_IMM(1, -8), CALL_LOCAL(2), RET0, STX64(1, 10, 0), RET0),
        /* Five nested functions of 504 bytes (512 rounded) each. */
        CASE("combined stack too large", 0, "the deepest chain of local calls uses 2560 bytes of stack; the combined limit is 2048",
             ST(SZ_DW, 10, -504, 0), CALL_LOCAL(1), EXIT(),
             ST(SZ_DW, 10, -504, 0), CALL_LOCAL(1), EXIT(),
             ST(SZ_DW, 10, -504, 0), CALL_LOCAL(1), EXIT(),
             ST(SZ_DW, 10, -504, 0), CALL_LOCAL(1), EXIT(),
             ST(SZ_DW, 10, -504, 0), RET0),

        /* -------- atomics */
        CASE("cmpxchg with a pointer in r0", 3, "cmpxchg compares r0, which holds a pointer",
             ST(SZ_DW, 10, -8, 0), MOV64_REG(0, 10), MOV64_IMM(2, 0), ATOMIC(SZ_DW, 10, 2, -8, AT_CMPXCHG), RET0),
        CASE("atomic with a pointer operand", 2, "atomic operation with a pointer operand",
             ST(SZ_DW, 10, -8, 0), MOV64_REG(2, 10), ATOMIC(SZ_DW, 10, 2, -8, AT_ADD), RET0),
        CASE("misaligned atomic on the stack", 3, "atomic operation on the stack at a variable or misaligned offset",
             ST(SZ_DW, 10, -16, 0), ST(SZ_DW, 10, -8, 0), MOV64_IMM(2, 1), ATOMIC(SZ_DW, 10, 2, -12, AT_ADD), RET0),

        /* -------- found while writing this corpus (were accepted) */
        /* A handle may be NULL: `if (h == 0)` must explore both outcomes,
         * here the one returning fp. */
        CASE("NULL check of a handle is not assumed false", 4, "returns a stack pointer in r0",
             LDX64(6, 1, 16), MOV64_REG(0, 10), JEQ_IMM(6, 0, 1), MOV64_IMM(0, 0), EXIT()),
        /* An atomic fetch on a spilled pointer would hand the address back
         * as a scalar (here into global data the host can read). */
        CASE("atomic fetch-add on a spilled pointer", 2, "atomic operation on a spilled pointer at fp-8",
             STX64(10, 1, -8), MOV64_IMM(2, 0), ATOMIC(SZ_DW, 10, 2, -8, AT_ADD | AT_FETCH),
             LD_MAP_VALUE(1, M_DATA, 0), STX64(1, 2, 0), RET0),
        /* PL_RET_MEM_OR_NULL memory is readable only. */
        CASE("write into helper memory", 3, "writes into helper memory, which is read-only",
             CALL(H_MEM), JMP_IMM(OP_JNE, 0, 0, 1), EXIT(), ST(SZ_DW, 0, 0, 1), RET0),
        /* Two hash elements are separate allocations: their difference is
         * a heap distance. */
        CASE("difference of two hash elements", 19, "subtracts two pointers (the result could reveal addresses)",
             LOOKUP_CHECKED(M_HASH, 8), MOV64_REG(7, 0), ST(SZ_DW, 10, -8, 1), MOV64_REG(2, 10), ADD64_IMM(2, -8),
             LD_MAP(1, M_HASH), CALL(PL_HELPER_MAP_LOOKUP_ELEM), JMP_IMM(OP_JNE, 0, 0, 1), EXIT(),
             ALU64_REG(OP_SUB, 7, 0), LD_MAP_VALUE(1, M_DATA, 0), STX64(1, 7, 0), RET0),

        /* -------- programs without a hook */
        HOOKLESS("hookless program reads the context", 0, 0,
                 "reads the context, but the program was loaded without a hook or context size",
                 LDX64(0, 1, 0), EXIT()),
        HOOKLESS("hookless program reads past its context", 8, 0, "reads 8 bytes at ctx+8, outside the 8-byte context",
                 LDX64(0, 1, 8), EXIT()),
    };

    /* Unsafe programs the verifier accepts today (see the report to the
     * lead). Each comment says what leaks or breaks at run time. */
    /* Unsafe programs the verifier accepts today: none at the moment.
     * Each entry needs a comment on what leaks or breaks at run time. */
    const struct reject_case known_gaps[] = {
        {NULL, {{0}}, 0, 0, NULL, 0},
    };

    struct env e;
    if (!env_open(&e)) {
        env_close(&e);
        CHECK(false);
    }
    uint32_t nok = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        nok += check_case(&e, &cases[i], false);
    size_t ngaps = 0;
    for (size_t i = 0; known_gaps[i].name; i++, ngaps++)
        check_case(&e, &known_gaps[i], true);
    if (getenv("PLIANT_TEST_VERBOSE"))
        printf("  reject corpus: %u of %zu cases rejected as expected, %zu known gaps\n", nok,
               sizeof(cases) / sizeof(cases[0]), ngaps);
    env_close(&e);
}
