/*
 * Differential soundness test of the verifier: generate many random
 * programs, load them (the verifier decides), and run every accepted one in
 * the checking interpreter (check_interp.c) on several random contexts and
 * map states. A violation there is a program the verifier accepted that
 * does something unsafe: a verifier bug.
 *
 * The generator is biased towards well-formed programs (it tracks a coarse
 * abstract state of its own: register kinds, written stack bytes, pointer
 * spills) so that a healthy fraction is accepted, and it injects mistakes
 * now and then (a missing NULL check, an off-by-one bound, a wrong field
 * size, a pointer store...) so that the verifier's rejections are exercised
 * too. The interesting part for soundness is the index expressions: a
 * value from the context or a map goes through random 32- and 64-bit
 * arithmetic, shifts, sign extensions and bounds checks before it offsets a
 * pointer, which is where range tracking goes wrong.
 *
 *   PLIANT_SOUNDNESS_SEED=n    reproduce a run (default fixed)
 *   PLIANT_SOUNDNESS_N=n       programs to generate
 *   PLIANT_SOUNDNESS_DUMP=1    print the first violating program
 *   PLIANT_SOUNDNESS_REPLAY=x  regenerate, dump and verify (with the verifier
 *                              log) the one program of a reported seed state
 *   PLIANT_SOUNDNESS_AVOID=m   skip constructs of known bugs (bits: AVOID_*)
 *   PLIANT_SOUNDNESS_CORPUS=d  write accepted programs as fuzz_verifier seeds
 */
#include "check_interp.h"
#include "insn.h"
#include "internal.h"
#include "testlib.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ environment */

#define CTX_SIZE 64
#define RET_MIN (-4)
#define RET_MAX 20
#define H_SUM 900     /* test_sum(mem, size): reads the memory */
#define H_FILL 901    /* test_fill(mem, size): writes the memory */
#define H_MEM 902     /* test_mem(): 48 bytes of helper memory or NULL */
#define H_HANDLE 903  /* test_handle(handle, scalar) */
#define MEM_SIZE 48

/* Fields with every access mix, sizes and a gap (27..31) between them. */
static const struct pl_hook_field sound_fields[] = {
    {"a", 0, 4, PL_FIELD_READ, PL_FIELD_SCALAR},
    {"b", 4, 4, PL_FIELD_READ | PL_FIELD_WRITE, PL_FIELD_SCALAR},
    {"c", 8, 8, PL_FIELD_READ, PL_FIELD_SCALAR},
    {"out", 16, 8, PL_FIELD_WRITE, PL_FIELD_SCALAR},
    {"s16", 24, 2, PL_FIELD_READ, PL_FIELD_SCALAR},
    {"u8", 26, 1, PL_FIELD_READ | PL_FIELD_WRITE, PL_FIELD_SCALAR},
    {"h", 32, 8, PL_FIELD_READ, PL_FIELD_HANDLE},
    {"d", 40, 8, PL_FIELD_READ | PL_FIELD_WRITE, PL_FIELD_SCALAR},
    {"e", 48, 4, PL_FIELD_READ, PL_FIELD_SCALAR},
};
#define NFIELDS N(sound_fields)

enum { M_ARR, M_HASH, M_RODATA, M_DATA, NMAPS };
static const struct pl_map_spec map_specs[NMAPS] = {
    {"arr", PL_MAP_ARRAY, 4, 48, 8, 0},
    {"hash", PL_MAP_HASH, 8, 24, 64, 0},
    {"rodata", PL_MAP_ARRAY, 4, 32, 1, 1u << 7},
    {"data", PL_MAP_ARRAY, 4, 40, 1, 0},
};

static _Alignas(16) uint8_t helper_mem[MEM_SIZE];
static uint64_t mem_calls;

static uint64_t h_sum(uint64_t p, uint64_t n, uint64_t a3, uint64_t a4, uint64_t a5)
{
    (void)a3, (void)a4, (void)a5;
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s = s * 31 + ((const uint8_t *)(uintptr_t)p)[i];
    return s;
}

static uint64_t h_fill(uint64_t p, uint64_t n, uint64_t a3, uint64_t a4, uint64_t a5)
{
    (void)a3, (void)a4, (void)a5;
    for (uint64_t i = 0; i < n; i++)
        ((uint8_t *)(uintptr_t)p)[i] = (uint8_t)(i * 7 + 1);
    return n;
}

static uint64_t h_mem(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    (void)a1, (void)a2, (void)a3, (void)a4, (void)a5;
    /* NULL every third call so both outcomes of the check run. */
    return ++mem_calls % 3 == 0 ? 0 : (uint64_t)(uintptr_t)helper_mem;
}

static uint64_t h_handle(uint64_t h, uint64_t k, uint64_t a3, uint64_t a4, uint64_t a5)
{
    (void)a3, (void)a4, (void)a5;
    return (h ^ k) & 0xffff;
}

struct env {
    pl_runtime *rt;
    pl_hook *hook;
    pl_map *maps[NMAPS];
};

static void quiet(void *user, int level, const char *msg)
{
    (void)user, (void)level, (void)msg;
}

static int env_init(struct env *e, pl_error *err)
{
    memset(e, 0, sizeof(*e));
    struct pl_runtime_opts ro = {.log = quiet};
    int rc = pl_runtime_new(&ro, &e->rt, err);
    static const struct pl_helper_spec hs[] = {
        {H_SUM, "test_sum", h_sum, {PL_ARG_MEM, PL_ARG_MEM_SIZE}, PL_RET_SCALAR, 0, 0},
        {H_FILL, "test_fill", h_fill, {PL_ARG_MEM_UNINIT, PL_ARG_MEM_SIZE}, PL_RET_SCALAR, 0, 0},
        {H_MEM, "test_mem", h_mem, {0}, PL_RET_MEM_OR_NULL, MEM_SIZE, 0},
        {H_HANDLE, "test_handle", h_handle, {PL_ARG_HANDLE, PL_ARG_SCALAR}, PL_RET_SCALAR, 0, 0},
    };
    for (uint32_t i = 0; !rc && i < N(hs); i++)
        rc = pl_helper_register(e->rt, &hs[i], err);
    static const uint32_t allowed[] = {PL_HELPER_MAP_LOOKUP_ELEM, PL_HELPER_MAP_UPDATE_ELEM, PL_HELPER_MAP_DELETE_ELEM,
                                       PL_HELPER_KTIME_GET_NS, PL_HELPER_GET_PRANDOM_U32, H_SUM, H_FILL, H_MEM, H_HANDLE};
    struct pl_hook_spec spec = {
        .name = "soundness", .ctx_size = CTX_SIZE, .fields = sound_fields, .nfields = NFIELDS,
        .helpers = allowed, .nhelpers = N(allowed), .has_ret_range = true, .ret_min = RET_MIN, .ret_max = RET_MAX,
    };
    if (!rc)
        rc = pl_hook_register(e->rt, &spec, &e->hook, err);
    for (int i = 0; !rc && i < NMAPS; i++)
        rc = pl_map_create(e->rt, &map_specs[i], &e->maps[i], err);
    return rc;
}

static void env_free(struct env *e)
{
    for (int i = 0; i < NMAPS; i++)
        if (e->maps[i])
            pl_map_put(e->maps[i]);
    if (e->rt)
        pl_runtime_free(e->rt);
}

/* ------------------------------------------------------------ randomness */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint32_t below(uint32_t n) { return n ? (uint32_t)(rnd() % n) : 0; }
static bool chance(uint32_t percent) { return below(100) < percent; }

/* Values that sit on the edges range tracking gets wrong. */
static uint64_t edgy(void)
{
    static const uint64_t edges[] = {0, 1, 2, 7, 8, 15, 16, 31, 32, 47, 48, 63, 64, 127, 128, 255, 256, 0x7fff,
                                     0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull,
                                     0x7fffffffffffffffull, 0x8000000000000000ull, UINT64_MAX, UINT64_MAX - 1,
                                     (uint64_t)-8, (uint64_t)-48, (uint64_t)-64};
    switch (below(4)) {
    case 0: return edges[below(N(edges))];
    case 1: return below(64);
    case 2: return edges[below(N(edges))] + (uint64_t)(int64_t)(int)(below(5) - 2);
    default: return rnd();
    }
}

/* ------------------------------------------------------------ generator */

enum gk {
    G_NONE, G_SCALAR, G_CONST, G_CTX, G_STACK, G_PTR, G_PTR_NULL, G_MAPREF, G_HANDLE,
};

/* Regions a G_PTR may point to: size and whether writes are allowed. */
struct greg {
    uint8_t k;
    uint8_t wr;     /* G_PTR: writable */
    uint32_t size;  /* G_PTR(_NULL): region bytes */
    int32_t off;    /* G_PTR, G_STACK, G_CTX: fixed offset */
    uint64_t umax;  /* G_SCALAR: upper bound the generator believes */
    uint64_t val;   /* G_CONST */
};

/* Stack bytes: 0 never written, 1 scalar data, 2 first byte of a spill. */
struct gstate {
    struct greg r[11];
    uint8_t sb[PL_STACK_SIZE]; /* index = -fp offset - 1 */
    struct greg spill[PL_STACK_SIZE / 8];
};

#define MAXSUB 3
struct gfunc {
    struct pl_insn insns[1024];
    uint32_t n;
    uint32_t calls[64]; /* positions of local calls */
    uint8_t callee[64];
    uint32_t ncalls;
};

struct gen {
    struct gfunc f[1 + MAXSUB];
    uint32_t nsub;      /* subprograms generated */
    uint8_t sub_arg[MAXSUB]; /* 0: (scalar), 1: (scalar, 16-byte buffer), 2: (scalar, ctx) */
    struct gfunc *cur;
    uint32_t cur_idx;
    struct gstate st;
    uint16_t reserved;  /* registers the current construct must not write */
    int depth;          /* nesting of blocks */
    bool in_loop;
    int mistakes;       /* percent chance of a deliberate mistake per construct */
};

static bool overflowed;
/* PLIANT_SOUNDNESS_AVOID: bit mask of constructs that hit known verifier
 * bugs, so that a run can look past them for new ones (default: none). */
static unsigned avoid;
enum {
    AVOID_VAR_STORE_INTO_SPILL = 1u << 0, /* pointer leak, see the report */
    AVOID_FILL_NON_STACK = 1u << 1,       /* verifier NULL dereference */
    AVOID_ATOMIC_ON_SPILL = 1u << 2,      /* pointer leak, see the report */
};

static void emit(struct gen *g, struct pl_insn in)
{
    if (g->cur->n < N(g->cur->insns) - 4)
        g->cur->insns[g->cur->n++] = in;
    else
        overflowed = true;
}

/* lddw: plain constant (src 0), map by index or map value by index + offset. */
static void emit_lddw(struct gen *g, int dst, int src, int32_t lo, int32_t hi)
{
    emit(g, I(BPF_LDDW, dst, src, 0, lo));
    emit(g, I(0, 0, 0, 0, hi));
}

static bool oops(struct gen *g) { return chance((uint32_t)g->mistakes); }

static void set_scalar(struct gen *g, int r, uint64_t umax)
{
    g->st.r[r] = (struct greg){.k = G_SCALAR, .umax = umax};
}

static void set_const(struct gen *g, int r, uint64_t v)
{
    g->st.r[r] = (struct greg){.k = G_CONST, .val = v, .umax = v};
}

static bool is_scalar(const struct greg *r) { return r->k == G_SCALAR || r->k == G_CONST; }
static bool is_ptr(const struct greg *r) { return r->k >= G_CTX; }

/* A register the construct may overwrite: not reserved, not r10, and (in
 * a loop) not holding a pointer the next iteration may still use. */
static int pick_dst(struct gen *g)
{
    for (int tries = 0; tries < 32; tries++) {
        int r = (int)below(10);
        if (g->reserved & (1u << r))
            continue;
        if (g->in_loop && (is_ptr(&g->st.r[r]) || r <= 5))
            continue;
        if (is_ptr(&g->st.r[r]) && tries < 16)
            continue;
        return r;
    }
    return -1;
}

static int find_kind(struct gen *g, uint8_t k)
{
    int found[11], n = 0;
    for (int r = 0; r < 10; r++)
        if (g->st.r[r].k == k)
            found[n++] = r;
    return n ? found[below((uint32_t)n)] : -1;
}

static int find_scalar(struct gen *g)
{
    int found[11], n = 0;
    for (int r = 0; r < 10; r++)
        if (is_scalar(&g->st.r[r]))
            found[n++] = r;
    return n ? found[below((uint32_t)n)] : -1;
}

static void clobber_call(struct gen *g)
{
    for (int r = 1; r <= 5; r++)
        g->st.r[r].k = G_NONE;
}

static bool stack_init(const struct gen *g, int off, int size)
{
    for (int i = 0; i < size; i++) {
        int b = -(off + i) - 1;
        if (b < 0 || b >= PL_STACK_SIZE || g->st.sb[b] == 0)
            return false;
    }
    /* Reading across a pointer spill gives address bytes: not data. */
    for (int i = 0; i < size; i++) {
        int b = -(off + i) - 1;
        int slot = b / 8;
        if (g->st.sb[slot * 8 + 7] == 2 && size < 8)
            return false;
    }
    return true;
}

static void stack_mark(struct gen *g, int off, int size, uint8_t v)
{
    for (int i = 0; i < size; i++) {
        int b = -(off + i) - 1;
        if (b < 0 || b >= PL_STACK_SIZE)
            continue;
        /* A partial write ends a spill: its other bytes stop being data. */
        int slot = b / 8;
        if (g->st.sb[slot * 8 + 7] == 2 && v != 2)
            for (int j = 0; j < 8; j++)
                g->st.sb[slot * 8 + j] = 0;
    }
    for (int i = 0; i < size; i++) {
        int b = -(off + i) - 1;
        if (b >= 0 && b < PL_STACK_SIZE)
            g->st.sb[b] = v == 2 ? 1 : v;
    }
    if (v == 2) /* slot of an aligned 8-byte spill, marked on its lowest byte */
        g->st.sb[-off - 1] = 2;
}

static const uint8_t size_code[] = {BPF_B, BPF_H, BPF_W, BPF_DW};
static const int size_bytes[] = {1, 2, 4, 8};

/* An unknown scalar in some register (from the context, a map value, the
 * stack or a helper), with the generator's idea of its bound. */
static int make_unknown(struct gen *g)
{
    int d = pick_dst(g);
    if (d < 0)
        return -1;
    int ctx = find_kind(g, G_CTX);
    switch (below(4)) {
    case 0:
        if (ctx >= 0 && g->st.r[ctx].off == 0) {
            static const int readable[] = {0, 1, 2, 4, 5, 7, 8};
            const struct pl_hook_field *f = &sound_fields[readable[below(N(readable))]];
            bool sx = chance(20) && f->size < 8;
            uint8_t sc = f->size == 1 ? BPF_B : f->size == 2 ? BPF_H : f->size == 4 ? BPF_W : BPF_DW;
            emit(g, I(BPF_LDX | (sx ? BPF_MEMSX : BPF_MEM) | sc, d, ctx, (int16_t)f->offset, 0));
            set_scalar(g, d, sx ? UINT64_MAX : f->size == 8 ? UINT64_MAX : (1ull << (f->size * 8)) - 1);
            return d;
        }
        break;
    case 1: {
        int p = find_kind(g, G_PTR);
        if (p >= 0 && g->st.r[p].size >= 8) {
            int sz = (int)below(4);
            int32_t off = (int32_t)below(g->st.r[p].size - (uint32_t)size_bytes[sz] + 1);
            emit(g, I(BPF_LDX | BPF_MEM | size_code[sz], d, p, (int16_t)off, 0));
            set_scalar(g, d, sz == 3 ? UINT64_MAX : (1ull << (size_bytes[sz] * 8)) - 1);
            return d;
        }
        break;
    }
    case 2:
        for (int tries = 0; tries < 4; tries++) {
            int sz = (int)below(4);
            int off = -(int)(below(64) + 1) * size_bytes[sz];
            if (off >= -PL_STACK_SIZE && stack_init(g, off, size_bytes[sz])) {
                bool sx = chance(20) && sz < 3;
                emit(g, I(BPF_LDX | (sx ? BPF_MEMSX : BPF_MEM) | size_code[sz], d, 10, (int16_t)off, 0));
                set_scalar(g, d, sx || sz == 3 ? UINT64_MAX : (1ull << (size_bytes[sz] * 8)) - 1);
                return d;
            }
        }
        break;
    default:
        if (!g->in_loop && !(g->reserved & 0x3f)) {
            emit(g, CALL(chance(70) ? PL_HELPER_GET_PRANDOM_U32 : PL_HELPER_KTIME_GET_NS));
            clobber_call(g);
            set_scalar(g, 0, UINT64_MAX);
            if (d != 0) {
                emit(g, MOV64_REG(d, 0));
                set_scalar(g, d, UINT64_MAX);
            }
            return d;
        }
        break;
    }
    emit(g, MOV64_IMM(d, (int32_t)edgy()));
    set_const(g, d, (uint64_t)(int64_t)g->cur->insns[g->cur->n - 1].imm);
    return d;
}

/* Random arithmetic on a scalar register, 32 or 64 bits. */
static void random_alu(struct gen *g, int d)
{
    static const uint8_t ops[] = {BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH,
                                  BPF_NEG, BPF_MOD, BPF_XOR, BPF_ARSH, BPF_MOV, BPF_END};
    uint8_t op = ops[below(N(ops))];
    bool is64 = chance(60);
    uint8_t cls = is64 ? BPF_ALU64 : BPF_ALU;
    int16_t off = 0;
    if ((op == BPF_DIV || op == BPF_MOD) && chance(30))
        off = 1;
    if (op == BPF_END) {
        static const int32_t w[] = {16, 32, 64};
        bool be = chance(50);
        emit(g, I((is64 ? BPF_ALU64 : BPF_ALU) | BPF_END | (is64 ? 0 : be ? BPF_TO_BE : BPF_TO_LE), d, 0, 0,
                  w[below(3)]));
        set_scalar(g, d, UINT64_MAX);
        return;
    }
    if (op == BPF_NEG) {
        emit(g, I(cls | BPF_NEG, d, 0, 0, 0));
        set_scalar(g, d, is64 ? UINT64_MAX : UINT32_MAX);
        return;
    }
    if (op == BPF_MOV) { /* sign-extending move onto itself */
        static const int16_t w[] = {8, 16, 32};
        off = w[below(is64 ? 3 : 2)];
        emit(g, I(cls | BPF_X | BPF_MOV, d, d, off, 0));
        set_scalar(g, d, is64 ? UINT64_MAX : UINT32_MAX);
        return;
    }
    int s = find_scalar(g);
    uint64_t umax = g->st.r[d].umax;
    if (s >= 0 && s != d && chance(30)) {
        emit(g, I(cls | BPF_X | op, d, s, off, 0));
        umax = UINT64_MAX;
    } else {
        int32_t imm;
        switch (op) {
        case BPF_LSH: case BPF_RSH: case BPF_ARSH: imm = (int32_t)below(is64 ? 64 : 32); break;
        case BPF_AND: imm = chance(70) ? (int32_t)((1u << below(12)) - 1) : (int32_t)edgy(); break;
        case BPF_DIV: case BPF_MOD: imm = (int32_t)(below(40) + (chance(90) ? 1 : 0)); break;
        default: imm = (int32_t)edgy(); break;
        }
        emit(g, I(cls | BPF_K | op, d, 0, off, imm));
        if (op == BPF_AND && imm >= 0)
            umax = (uint64_t)imm;
        else if (op == BPF_RSH && umax != UINT64_MAX)
            umax >>= imm;
        else if (op == BPF_RSH && is64 && imm)
            umax = UINT64_MAX >> imm;
        else if (op == BPF_MOD && !off && imm > 0)
            umax = (uint64_t)imm - 1;
        else
            umax = UINT64_MAX;
    }
    if (!is64 && umax > UINT32_MAX)
        umax = UINT32_MAX;
    set_scalar(g, d, umax);
}

static uint32_t jump_here(struct gen *g, uint8_t code, int dst, int src, int32_t imm)
{
    emit(g, I(code, dst, src, 0, imm));
    return g->cur->n - 1;
}

static void patch_jump(struct gen *g, uint32_t at)
{
    g->cur->insns[at].off = (int16_t)(g->cur->n - at - 1);
}

/* After a block that ran on some paths only: what holds on both. */
static void merge(struct gstate *a, const struct gstate *b)
{
    for (int r = 0; r < 11; r++) {
        struct greg *x = &a->r[r];
        const struct greg *y = &b->r[r];
        if (memcmp(x, y, sizeof(*x)) == 0)
            continue;
        if (is_scalar(x) && is_scalar(y)) {
            uint64_t m = x->umax > y->umax ? x->umax : y->umax;
            *x = (struct greg){.k = G_SCALAR, .umax = m};
        } else {
            x->k = G_NONE;
        }
    }
    for (int i = 0; i < PL_STACK_SIZE; i++)
        if (a->sb[i] != b->sb[i])
            a->sb[i] = a->sb[i] && b->sb[i] && a->sb[i] != 2 && b->sb[i] != 2 ? 1 : 0;
    for (int s = 0; s < PL_STACK_SIZE / 8; s++)
        if (a->sb[s * 8 + 7] == 2 && memcmp(&a->spill[s], &b->spill[s], sizeof(a->spill[s])))
            memset(&a->sb[s * 8], 0, 8);
}

static void gen_block(struct gen *g, int n);

/* A bounds check that branches over a body; `if cond goto skip`. */
static void cond_skip(struct gen *g, int r, uint64_t k, uint8_t op, bool is32)
{
    uint8_t code = (uint8_t)((is32 ? BPF_JMP32 : BPF_JMP) | BPF_K | op);
    uint32_t j = jump_here(g, code, r, 0, (int32_t)k);
    (void)j;
}

/* The soundness core: scalar -> random arithmetic -> bounds checks ->
 * pointer + scalar -> access. */
static void gen_index_access(struct gen *g)
{
    /* Choose the region first. */
    int base = -1;
    uint32_t size = 0;
    bool wr = true, stack = false;
    int p = find_kind(g, G_PTR);
    if (p >= 0 && chance(60)) {
        base = p;
        size = g->st.r[p].size - (uint32_t)g->st.r[p].off;
        wr = g->st.r[p].wr;
    } else if (stack_init(g, -64, 64)) {
        stack = true;
        size = 64;
    } else {
        return;
    }
    if (size == 0 || size > 4096)
        return;
    int idx = make_unknown(g);
    if (idx < 0)
        return;
    uint16_t saved_res = g->reserved;
    g->reserved |= (uint16_t)(1u << idx);
    if (base >= 0)
        g->reserved |= (uint16_t)(1u << base);
    int nops = (int)below(4);
    for (int i = 0; i < nops; i++)
        random_alu(g, idx);
    int sz = (int)below(4);
    int asz = size_bytes[sz];
    if ((uint32_t)asz > size)
        asz = 1, sz = 0;
    uint32_t coff = below(size - (uint32_t)asz + 1);
    uint64_t limit = size - (uint32_t)asz - coff; /* largest safe index */
    if (oops(g))
        limit++;
    uint32_t jumps[3];
    int nj = 0;
    bool is32 = chance(25);
    switch (below(5)) {
    case 0: /* if idx > limit goto skip */
        jumps[nj++] = jump_here(g, (uint8_t)((is32 ? BPF_JMP32 : BPF_JMP) | BPF_K | BPF_JGT), idx, 0, (int32_t)limit);
        break;
    case 1: /* if idx >= limit + 1 goto skip */
        jumps[nj++] = jump_here(g, (uint8_t)((is32 ? BPF_JMP32 : BPF_JMP) | BPF_K | BPF_JGE), idx, 0, (int32_t)(limit + 1));
        break;
    case 2: /* signed: both ends */
        jumps[nj++] = jump_here(g, (uint8_t)((is32 ? BPF_JMP32 : BPF_JMP) | BPF_K | BPF_JSLT), idx, 0, 0);
        jumps[nj++] = jump_here(g, (uint8_t)((is32 ? BPF_JMP32 : BPF_JMP) | BPF_K | BPF_JSGT), idx, 0, (int32_t)limit);
        break;
    case 3: { /* mask */
        uint64_t m = 1;
        while (m * 2 - 1 <= limit)
            m *= 2;
        emit(g, I((is32 ? BPF_ALU : BPF_ALU64) | BPF_K | BPF_AND, idx, 0, 0, (int32_t)(m - 1)));
        break;
    }
    default: { /* whatever: random comparison against a random bound */
        static const uint8_t ops[] = {BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE, BPF_JSLT,
                                      BPF_JSLE, BPF_JEQ, BPF_JNE, BPF_JSET};
        int n = 1 + (int)below(2);
        for (int i = 0; i < n; i++) {
            int32_t k = chance(50) ? (int32_t)below((uint32_t)limit + 3) : (int32_t)edgy();
            if (chance(20)) {
                int s2 = find_scalar(g);
                if (s2 >= 0 && s2 != idx) {
                    jumps[nj++] = jump_here(g, (uint8_t)((is32 ? BPF_JMP32 : BPF_JMP) | BPF_X | ops[below(N(ops))]),
                                            idx, s2, 0);
                    continue;
                }
            }
            jumps[nj++] = jump_here(g, (uint8_t)((is32 ? BPF_JMP32 : BPF_JMP) | BPF_K | ops[below(N(ops))]), idx, 0, k);
        }
        break;
    }
    }
    (void)cond_skip;
    struct gstate before = g->st;
    int ptr = pick_dst(g);
    if (ptr < 0 || ptr == idx) {
        ptr = idx; /* add the pointer to the index register instead */
    }
    if (stack) {
        if (ptr == idx) {
            emit(g, I(BPF_ALU64 | BPF_X | BPF_ADD, idx, 10, 0, 0));
            emit(g, ADD64_IMM(idx, -64));
        } else {
            emit(g, MOV64_REG(ptr, 10));
            emit(g, ADD64_IMM(ptr, -64));
            emit(g, I(BPF_ALU64 | BPF_X | BPF_ADD, ptr, idx, 0, 0));
        }
    } else if (ptr == idx) {
        emit(g, I(BPF_ALU64 | BPF_X | BPF_ADD, idx, base, 0, 0));
    } else {
        emit(g, MOV64_REG(ptr, base));
        emit(g, I(BPF_ALU64 | BPF_X | BPF_ADD, ptr, idx, 0, 0));
    }
    int16_t aoff = (int16_t)(coff + (stack ? 0 : 0));
    if (chance(50) || !wr || chance(10)) {
        int d = pick_dst(g);
        if (d < 0)
            d = ptr;
        bool sx = chance(15) && sz < 3;
        emit(g, I(BPF_LDX | (sx ? BPF_MEMSX : BPF_MEM) | size_code[sz], d, ptr, aoff, 0));
        set_scalar(g, d, UINT64_MAX);
    } else if (chance(20) && (sz == 2 || sz == 3) && (coff % (uint32_t)asz) == 0) {
        int s = find_scalar(g);
        if (s >= 0 && s != ptr)
            emit(g, I(BPF_STX | BPF_ATOMIC | size_code[sz], ptr, s, aoff, chance(50) ? BPF_ADD : (BPF_ADD | BPF_FETCH)));
        if (s >= 0)
            set_scalar(g, s, UINT64_MAX);
    } else {
        emit(g, I(BPF_ST | BPF_MEM | size_code[sz], ptr, 0, aoff, (int32_t)edgy()));
    }
    if (ptr != idx)
        g->st.r[ptr].k = G_NONE;
    g->st.r[idx].k = G_NONE;
    if (chance(30) && g->depth < 2)
        gen_block(g, 1 + (int)below(2));
    for (int i = 0; i < nj; i++)
        patch_jump(g, jumps[i]);
    merge(&g->st, &before);
    g->reserved = saved_res;
}

/* A plain conditional block on an unknown value. */
static void gen_branch(struct gen *g)
{
    int r = find_scalar(g);
    if (r < 0 || g->st.r[r].k == G_CONST || chance(30))
        r = make_unknown(g);
    if (r < 0 || g->st.r[r].k == G_CONST)
        return;
    static const uint8_t ops[] = {BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE, BPF_JSLT,
                                  BPF_JSLE, BPF_JEQ, BPF_JNE, BPF_JSET};
    uint8_t op = ops[below(N(ops))];
    uint64_t um = g->st.r[r].umax;
    int32_t k = um && um < 0x7fffffff ? (int32_t)below((uint32_t)um) : (int32_t)edgy();
    bool is32 = chance(30);
    uint32_t j = jump_here(g, (uint8_t)((is32 ? BPF_JMP32 : BPF_JMP) | BPF_K | op), r, 0, k);
    struct gstate before = g->st;
    uint16_t saved = g->reserved;
    g->reserved |= (uint16_t)(1u << r);
    g->depth++;
    gen_block(g, 1 + (int)below(3));
    g->depth--;
    g->reserved = saved;
    patch_jump(g, j);
    merge(&g->st, &before);
}

static void gen_return_value(struct gen *g)
{
    switch (below(5)) {
    case 0:
        emit(g, MOV64_IMM(0, RET_MIN - 1 + (int32_t)below(RET_MAX - RET_MIN + 3)));
        break;
    case 1:
        if (oops(g)) {
            emit(g, I(BPF_ALU | BPF_K | BPF_MOV, 0, 0, 0, -1));
            break;
        }
        emit(g, MOV64_IMM(0, (int32_t)below(RET_MAX + 1)));
        break;
    default: {
        int r = make_unknown(g);
        if (r < 0) {
            emit(g, MOV64_IMM(0, 1));
            break;
        }
        if (r != 0)
            emit(g, MOV64_REG(0, r));
        switch (below(4)) {
        case 0: emit(g, I(BPF_ALU64 | BPF_K | BPF_AND, 0, 0, 0, oops(g) ? 31 : 15)); break;
        case 1: emit(g, I(BPF_ALU64 | BPF_K | BPF_MOD, 0, 0, 0, RET_MAX + (oops(g) ? 2 : 1))); break;
        case 2: /* [-4, 11]: signed result */
            emit(g, I(BPF_ALU64 | BPF_K | BPF_AND, 0, 0, 0, 15));
            emit(g, I(BPF_ALU64 | BPF_K | BPF_SUB, 0, 0, 0, 4));
            break;
        default:
            emit(g, I(BPF_ALU | BPF_K | BPF_RSH, 0, 0, 0, oops(g) ? 26 : 28));
            break;
        }
    }
    }
    set_scalar(g, 0, RET_MAX);
}

/* Map lookup with the key on the stack; NULL-checked (usually). */
static void gen_lookup(struct gen *g)
{
    if (g->in_loop || (g->reserved & 0x3f))
        return;
    int m = chance(50) ? M_ARR : M_HASH;
    uint32_t ksz = map_specs[m].key_size;
    int koff = -200;
    if (!oops(g)) { /* the mistake: a key that may never have been written */
        if (m == M_ARR)
            emit(g, I(BPF_ST | BPF_MEM | BPF_W, 10, 0, (int16_t)koff, chance(80) ? (int32_t)below(8) : (int32_t)edgy()));
        else
            emit(g, I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, (int16_t)koff, (int32_t)below(8)));
        stack_mark(g, koff, (int)ksz, 1);
    }
    emit_lddw(g, 1, BPF_PSEUDO_MAP_IDX, m, 0);
    emit(g, MOV64_REG(2, 10));
    emit(g, ADD64_IMM(2, koff));
    emit(g, CALL(PL_HELPER_MAP_LOOKUP_ELEM));
    clobber_call(g);
    g->st.r[0] = (struct greg){.k = G_PTR_NULL, .size = map_specs[m].value_size, .wr = 1};
    if (oops(g))
        g->st.r[0].k = G_PTR; /* forgets the NULL check */
    else if (chance(50)) {
        /* if r0 != 0 goto +2; r0 = 0; exit */
        emit(g, I(BPF_JMP | BPF_K | BPF_JNE, 0, 0, 2, 0));
        emit(g, MOV64_IMM(0, 0));
        emit(g, EXIT());
        g->st.r[0].k = G_PTR;
    } else {
        uint32_t j = jump_here(g, BPF_JMP | BPF_K | BPF_JEQ, 0, 0, 0);
        struct gstate before = g->st;
        before.r[0].k = G_NONE;
        g->st.r[0].k = G_PTR;
        g->depth++;
        gen_block(g, 1 + (int)below(3));
        g->depth--;
        patch_jump(g, j);
        merge(&g->st, &before);
        return;
    }
    if (chance(60)) {
        int keep = 6 + (int)below(4);
        if (!(g->reserved & (1u << keep)) && !(g->st.r[keep].k == G_CTX)) {
            emit(g, MOV64_REG(keep, 0));
            g->st.r[keep] = g->st.r[0];
        }
    }
}

static void gen_update_delete(struct gen *g)
{
    if (g->in_loop || (g->reserved & 0x3f))
        return;
    int m = chance(50) ? M_ARR : M_HASH;
    int koff = -200, voff = -256;
    if (m == M_ARR)
        emit(g, I(BPF_ST | BPF_MEM | BPF_W, 10, 0, (int16_t)koff, (int32_t)below(10)));
    else
        emit(g, I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, (int16_t)koff, (int32_t)below(8)));
    stack_mark(g, koff, (int)map_specs[m].key_size, 1);
    bool del = chance(30);
    if (!del) {
        uint32_t vs = map_specs[m].value_size;
        if (!stack_init(g, voff, (int)vs) || chance(30)) {
            for (uint32_t o = 0; o < vs; o += 8) {
                if (oops(g))
                    continue;
                int s = find_scalar(g);
                if (s >= 0 && chance(50))
                    emit(g, STX64(10, s, (int16_t)(voff + (int)o)));
                else
                    emit(g, I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, (int16_t)(voff + (int)o), (int32_t)edgy()));
                stack_mark(g, voff + (int)o, 8, 1);
            }
        }
        if (oops(g)) { /* a pointer in the value: leaks */
            int p = find_kind(g, G_CTX);
            if (p >= 0)
                emit(g, STX64(10, p, (int16_t)voff));
        }
    }
    emit_lddw(g, 1, BPF_PSEUDO_MAP_IDX, m, 0);
    emit(g, MOV64_REG(2, 10));
    emit(g, ADD64_IMM(2, koff));
    if (del) {
        emit(g, CALL(PL_HELPER_MAP_DELETE_ELEM));
    } else {
        emit(g, MOV64_REG(3, 10));
        emit(g, ADD64_IMM(3, voff));
        emit(g, MOV64_IMM(4, 0));
        emit(g, CALL(PL_HELPER_MAP_UPDATE_ELEM));
    }
    clobber_call(g);
    set_scalar(g, 0, UINT64_MAX);
}

static void gen_stack_store(struct gen *g)
{
    int sz = (int)below(4);
    int off = chance(20) ? -(int)below(PL_STACK_SIZE + 1) : -(int)(below(32) + 1) * size_bytes[sz];
    if (off + size_bytes[sz] > 0 || off < -PL_STACK_SIZE) {
        if (!oops(g))
            return;
    }
    int s = find_scalar(g);
    if (s >= 0 && chance(60))
        emit(g, I(BPF_STX | BPF_MEM | size_code[sz], 10, s, (int16_t)off, 0));
    else
        emit(g, I(BPF_ST | BPF_MEM | size_code[sz], 10, 0, (int16_t)off, (int32_t)edgy()));
    stack_mark(g, off, size_bytes[sz], 1);
}

/* Spill a pointer to an aligned slot and fill it back, maybe partially
 * overwritten in between (mistakes), maybe operated on atomically. */
static void gen_spill_fill(struct gen *g)
{
    int p = -1;
    for (int tries = 0; tries < 8 && p < 0; tries++) {
        int r = (int)below(10);
        if (is_ptr(&g->st.r[r]) && g->st.r[r].k != G_PTR_NULL)
            p = r;
    }
    if (p < 0)
        return;
    int slot = 9 + (int)below(8); /* fp-80 .. fp-136 */
    int off = -slot * 8;
    emit(g, STX64(10, p, (int16_t)off));
    stack_mark(g, off, 8, 2);
    g->st.spill[slot - 1] = g->st.r[p];
    switch (below(6)) {
    case 0: { /* partial overwrite of the spill */
        int b = (int)below(8);
        emit(g, I(BPF_ST | BPF_MEM | BPF_B, 10, 0, (int16_t)(off + b), 0));
        stack_mark(g, off + b, 1, 1);
        break;
    }
    case 1: { /* atomic on the spilled pointer */
        if (avoid & AVOID_ATOMIC_ON_SPILL)
            break;
        int s = find_scalar(g);
        if (s >= 0) {
            emit(g, I(BPF_STX | BPF_ATOMIC | BPF_DW, 10, s, (int16_t)off, chance(50) ? BPF_ADD : (BPF_ADD | BPF_FETCH)));
            set_scalar(g, s, UINT64_MAX);
            memset(&g->st.sb[slot * 8 - 8], 1, 8);
        }
        break;
    }
    case 2: { /* variable-offset byte store into the slot region */
        if (avoid & AVOID_VAR_STORE_INTO_SPILL)
            break;
        int idx = make_unknown(g);
        if (idx >= 0 && idx != p) {
            emit(g, I(BPF_ALU64 | BPF_K | BPF_AND, idx, 0, 0, 7));
            int t = pick_dst(g);
            if (t >= 0 && t != idx) {
                emit(g, MOV64_REG(t, 10));
                emit(g, ADD64_IMM(t, off));
                emit(g, I(BPF_ALU64 | BPF_X | BPF_ADD, t, idx, 0, 0));
                emit(g, I(BPF_ST | BPF_MEM | BPF_B, t, 0, 0, 1));
                g->st.r[t].k = G_NONE;
            }
            g->st.r[idx].k = G_NONE;
        }
        break;
    }
    default:
        break;
    }
    int d = pick_dst(g);
    if (d < 0)
        return;
    int sz = chance(80) ? 3 : (int)below(3);
    emit(g, I(BPF_LDX | BPF_MEM | size_code[sz], d, 10, (int16_t)off, 0));
    if (g->st.sb[slot * 8 - 1] == 2 && sz == 3)
        g->st.r[d] = g->st.spill[slot - 1];
    else
        set_scalar(g, d, UINT64_MAX);
}

static void gen_ctx_access(struct gen *g)
{
    int ctx = find_kind(g, G_CTX);
    if (ctx < 0)
        return;
    const struct pl_hook_field *f = &sound_fields[below(NFIELDS)];
    uint32_t off = f->offset, size = f->size;
    if (oops(g)) {
        if (chance(50))
            off = below(CTX_SIZE + 4);
        else
            size = (uint32_t)size_bytes[below(4)];
    }
    uint8_t sc = size == 1 ? BPF_B : size == 2 ? BPF_H : size == 4 ? BPF_W : BPF_DW;
    bool write = (f->access & PL_FIELD_WRITE) && (!(f->access & PL_FIELD_READ) || chance(50));
    if (oops(g))
        write = !write;
    if (write) {
        int s = find_scalar(g);
        if (oops(g)) {
            int p = find_kind(g, G_PTR);
            if (p >= 0)
                s = p;
        }
        if (s >= 0 && chance(70))
            emit(g, I(BPF_STX | BPF_MEM | sc, ctx, s, (int16_t)off, 0));
        else
            emit(g, I(BPF_ST | BPF_MEM | sc, ctx, 0, (int16_t)off, (int32_t)edgy()));
        return;
    }
    int d = pick_dst(g);
    if (d < 0)
        return;
    emit(g, I(BPF_LDX | BPF_MEM | sc, d, ctx, (int16_t)off, 0));
    if (f->kind == PL_FIELD_HANDLE && off == f->offset)
        g->st.r[d] = (struct greg){.k = G_HANDLE};
    else
        set_scalar(g, d, size >= 8 ? UINT64_MAX : (1ull << (size * 8)) - 1);
}

static void gen_helper(struct gen *g)
{
    if (g->in_loop || (g->reserved & 0x3f))
        return;
    switch (below(4)) {
    case 0: { /* test_sum / test_fill on the stack or a region */
        bool fill = chance(40) && !(avoid & AVOID_FILL_NON_STACK);
        int p = find_kind(g, G_PTR);
        uint32_t n = 1 + below(16);
        if (p >= 0 && chance(50) && (!fill || g->st.r[p].wr) && !(fill && (avoid & AVOID_FILL_NON_STACK))) {
            uint32_t room = g->st.r[p].size - (uint32_t)g->st.r[p].off;
            n = room ? 1 + below(room) : 1;
            if (oops(g))
                n = room + 1;
            emit(g, MOV64_REG(1, p));
        } else {
            int off = -(int)(n + below(32));
            if (!fill && !stack_init(g, off, (int)n) && !oops(g))
                return;
            emit(g, MOV64_REG(1, 10));
            emit(g, ADD64_IMM(1, off));
            if (fill)
                stack_mark(g, off, (int)n, 1);
        }
        if (chance(30)) { /* a bounded variable size */
            int r = make_unknown(g);
            if (r >= 0 && r != 1) {
                emit(g, MOV64_REG(2, r));
                emit(g, I(BPF_ALU64 | BPF_K | BPF_AND, 2, 0, 0, 0));
                emit(g, I(BPF_ALU64 | BPF_K | BPF_ADD, 2, 0, 0, (int32_t)n));
            } else {
                emit(g, MOV64_IMM(2, (int32_t)n));
            }
        } else {
            emit(g, MOV64_IMM(2, (int32_t)n));
        }
        emit(g, CALL(fill ? H_FILL : H_SUM));
        clobber_call(g);
        set_scalar(g, 0, UINT64_MAX);
        break;
    }
    case 1: { /* helper memory */
        emit(g, CALL(H_MEM));
        clobber_call(g);
        if (oops(g)) {
            g->st.r[0] = (struct greg){.k = G_PTR, .size = MEM_SIZE};
            return;
        }
        emit(g, I(BPF_JMP | BPF_K | BPF_JNE, 0, 0, 2, 0));
        emit(g, MOV64_IMM(0, 1));
        emit(g, EXIT());
        g->st.r[0] = (struct greg){.k = G_PTR, .size = MEM_SIZE, .wr = 0};
        break;
    }
    case 2: { /* handle */
        int ctx = find_kind(g, G_CTX);
        if (ctx < 0 || ctx == 1)
            return;
        emit(g, I(BPF_LDX | BPF_MEM | BPF_DW, 1, ctx, 32, 0));
        emit(g, MOV64_IMM(2, (int32_t)edgy()));
        emit(g, CALL(H_HANDLE));
        clobber_call(g);
        set_scalar(g, 0, 0xffff);
        break;
    }
    default: { /* global data */
        bool ro = chance(50);
        int d = pick_dst(g);
        if (d < 0)
            return;
        uint32_t vs = map_specs[ro ? M_RODATA : M_DATA].value_size;
        uint32_t off = below(vs);
        emit_lddw(g, d, BPF_PSEUDO_MAP_IDX_VALUE, ro ? M_RODATA : M_DATA, (int32_t)off);
        g->st.r[d] = (struct greg){.k = G_PTR, .size = vs, .off = (int32_t)off, .wr = !ro};
        break;
    }
    }
}

/* A loop with a constant trip count; the counter indexes a stack array. */
static void gen_loop(struct gen *g)
{
    if (g->in_loop || g->depth > 1)
        return;
    int c = -1;
    for (int r = 9; r >= 6; r--)
        if (!(g->reserved & (1u << r)) && !is_ptr(&g->st.r[r])) {
            c = r;
            break;
        }
    if (c < 0)
        return;
    uint32_t trips = 1 + below(8);
    emit(g, MOV64_IMM(c, 0));
    set_const(g, c, 0);
    uint32_t head = g->cur->n;
    struct gstate before = g->st;
    uint16_t saved = g->reserved;
    g->reserved |= (uint16_t)(1u << c);
    g->in_loop = true;
    set_scalar(g, c, trips);
    if (stack_init(g, -64, 64) && chance(70)) {
        int t = pick_dst(g);
        if (t >= 0) {
            emit(g, MOV64_REG(t, c));
            emit(g, I(BPF_ALU64 | BPF_K | BPF_LSH, t, 0, 0, 3));
            emit(g, I(BPF_ALU64 | BPF_X | BPF_ADD, t, 10, 0, 0));
            emit(g, I(BPF_LDX | BPF_MEM | BPF_DW, t, t, -64, 0));
            set_scalar(g, t, UINT64_MAX);
        }
    }
    gen_block(g, 1 + (int)below(2));
    emit(g, ADD64_IMM(c, 1));
    int32_t back = (int32_t)head - (int32_t)g->cur->n - 1;
    emit(g, I(BPF_JMP | BPF_K | (chance(50) ? BPF_JLT : BPF_JNE), c, 0, (int16_t)back, (int32_t)trips));
    g->in_loop = false;
    g->reserved = saved;
    merge(&g->st, &before);
    set_scalar(g, c, trips);
}

static void gen_call(struct gen *g)
{
    if (g->in_loop || (g->reserved & 0x3f) || g->cur->ncalls >= N(g->cur->callee))
        return;
    /* Main calls any subprogram; subprogram i only later ones (no cycles). */
    uint32_t first = g->cur_idx; /* subprogram k is function k + 1 */
    if (first >= g->nsub)
        return;
    uint32_t k = first + below(g->nsub - first);
    int s = find_scalar(g);
    if (s >= 0)
        emit(g, MOV64_REG(1, s));
    else
        emit(g, MOV64_IMM(1, (int32_t)edgy()));
    if (g->sub_arg[k] == 1) {
        if (!stack_init(g, -272, 16)) {
            emit(g, I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -272, (int32_t)edgy()));
            emit(g, I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -264, (int32_t)edgy()));
            stack_mark(g, -272, 16, 1);
        }
        emit(g, MOV64_REG(2, 10));
        emit(g, ADD64_IMM(2, -272));
    } else if (g->sub_arg[k] == 2) {
        int ctx = find_kind(g, G_CTX);
        if (ctx < 0)
            return;
        emit(g, MOV64_REG(2, ctx));
    }
    g->cur->calls[g->cur->ncalls] = g->cur->n;
    g->cur->callee[g->cur->ncalls++] = (uint8_t)(k + 1);
    emit(g, CALL_LOCAL(0));
    clobber_call(g);
    set_scalar(g, 0, UINT64_MAX);
    /* The callee may have written the buffer: still initialised data. */
}

static void gen_alu_stmt(struct gen *g)
{
    int d = find_scalar(g);
    if (d < 0 || (g->reserved & (1u << d)) || chance(30)) {
        d = make_unknown(g);
        if (d < 0)
            return;
    }
    int n = 1 + (int)below(3);
    for (int i = 0; i < n; i++)
        random_alu(g, d);
}

static void gen_early_exit(struct gen *g)
{
    int r = find_scalar(g);
    if (r < 0 || g->st.r[r].k == G_CONST)
        return;
    uint32_t j = jump_here(g, BPF_JMP | BPF_K | BPF_JLE, r, 0, (int32_t)below(64));
    struct gstate before = g->st;
    if (oops(g)) { /* leaks a pointer as the result */
        int p = find_kind(g, G_CTX);
        emit(g, p >= 0 ? MOV64_REG(0, p) : MOV64_IMM(0, 0));
    } else {
        gen_return_value(g);
    }
    emit(g, EXIT());
    patch_jump(g, j);
    g->st = before;
}

static void gen_stmt(struct gen *g)
{
    switch (below(g->in_loop ? 4 : 13)) {
    case 0: gen_alu_stmt(g); break;
    case 1: gen_index_access(g); break;
    case 2: gen_ctx_access(g); break;
    case 3: gen_stack_store(g); break;
    case 4: gen_branch(g); break;
    case 5: gen_lookup(g); break;
    case 6: gen_index_access(g); break;
    case 7: gen_spill_fill(g); break;
    case 8: gen_helper(g); break;
    case 9: gen_loop(g); break;
    case 10: gen_call(g); break;
    case 11: gen_update_delete(g); break;
    default: gen_early_exit(g); break;
    }
}

static void gen_block(struct gen *g, int n)
{
    if (g->depth > 3)
        n = 1;
    for (int i = 0; i < n && !overflowed; i++)
        gen_stmt(g);
    /* An occasional uninitialised read: r2 at entry, or any dead register. */
    if (oops(g)) {
        int d = pick_dst(g);
        if (d >= 0) {
            int s = (int)below(10);
            emit(g, I(BPF_ALU64 | BPF_X | BPF_ADD, d, s, 0, 0));
            if (g->st.r[d].k != G_NONE)
                set_scalar(g, d, UINT64_MAX);
        }
    }
}

static void gen_function(struct gen *g, uint32_t idx, int nstmts)
{
    g->cur = &g->f[idx];
    g->cur_idx = idx;
    memset(g->cur, 0, sizeof(*g->cur));
    memset(&g->st, 0, sizeof(g->st));
    g->reserved = 0;
    g->depth = 0;
    g->in_loop = false;
    g->st.r[10] = (struct greg){.k = G_STACK};
    if (idx == 0) {
        g->st.r[1] = (struct greg){.k = G_CTX};
        if (chance(90)) {
            emit(g, MOV64_REG(6, 1));
            g->st.r[6] = g->st.r[1];
        }
        if (chance(85)) { /* the 64-byte array index accesses use */
            for (int o = -64; o < 0; o += 8)
                emit(g, I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, (int16_t)o, (int32_t)edgy()));
            stack_mark(g, -64, 64, 1);
        }
    } else {
        set_scalar(g, 1, UINT64_MAX);
        uint8_t a = g->sub_arg[idx - 1];
        if (a == 1)
            g->st.r[2] = (struct greg){.k = G_PTR, .size = 16, .wr = 1};
        else if (a == 2)
            g->st.r[2] = (struct greg){.k = G_CTX};
        if (chance(50)) {
            for (int o = -64; o < 0; o += 8)
                emit(g, I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, (int16_t)o, (int32_t)edgy()));
            stack_mark(g, -64, 64, 1);
        }
    }
    gen_block(g, nstmts);
    gen_return_value(g);
    emit(g, EXIT());
}

/* Builds one program into out; returns its length (0: generation overflow). */
static uint32_t generate(struct gen *g, struct pl_insn *out, uint32_t cap)
{
    overflowed = false;
    g->nsub = below(MAXSUB + 1);
    if (chance(50))
        g->nsub = 0;
    for (uint32_t k = 0; k < g->nsub; k++)
        g->sub_arg[k] = (uint8_t)below(3);
    /* Subprograms first (they do not depend on main), then main. */
    for (uint32_t k = g->nsub; k-- > 0;)
        gen_function(g, k + 1, 1 + (int)below(4));
    gen_function(g, 0, 2 + (int)below(10));
    uint32_t start[1 + MAXSUB], n = 0;
    for (uint32_t f = 0; f <= g->nsub; f++) {
        start[f] = n;
        n += g->f[f].n;
    }
    if (overflowed || n > cap)
        return 0;
    for (uint32_t f = 0; f <= g->nsub; f++) {
        memcpy(out + start[f], g->f[f].insns, g->f[f].n * sizeof(struct pl_insn));
        for (uint32_t c = 0; c < g->f[f].ncalls; c++) {
            uint32_t at = start[f] + g->f[f].calls[c];
            out[at].imm = (int32_t)start[g->f[f].callee[c]] - (int32_t)at - 1;
        }
    }
    return n;
}

/* ------------------------------------------------------------ running */

static void random_ctx(uint8_t *ctx)
{
    for (int i = 0; i < CTX_SIZE; i += 8) {
        uint64_t v = chance(30) ? rnd() : edgy();
        memcpy(ctx + i, &v, 8);
    }
    /* Small values in the small fields are the common case for indexes. */
    if (chance(50)) {
        uint32_t a = below(64);
        memcpy(ctx, &a, 4);
    }
}

static void random_maps(struct env *e)
{
    for (uint32_t k = 0; k < map_specs[M_ARR].max_entries; k++) {
        uint8_t v[48];
        for (int i = 0; i < 48; i += 8) {
            uint64_t x = edgy();
            memcpy(v + i, &x, 8);
        }
        pl_map_update(e->maps[M_ARR], &k, v, PL_MAP_ANY);
    }
    for (uint64_t k = 0; k < 8; k++) {
        if (chance(50)) {
            uint8_t v[24];
            for (int i = 0; i < 24; i += 8) {
                uint64_t x = edgy();
                memcpy(v + i, &x, 8);
            }
            pl_map_update(e->maps[M_HASH], &k, v, PL_MAP_ANY);
        } else {
            pl_map_delete(e->maps[M_HASH], &k);
        }
    }
    uint32_t zero = 0;
    uint8_t ro[32], rw[40];
    for (size_t i = 0; i < sizeof(ro); i++)
        ro[i] = (uint8_t)edgy();
    for (size_t i = 0; i < sizeof(rw); i++)
        rw[i] = (uint8_t)edgy();
    pl_map_update(e->maps[M_RODATA], &zero, ro, PL_MAP_ANY);
    pl_map_update(e->maps[M_DATA], &zero, rw, PL_MAP_ANY);
}

static void dump_prog(const struct pl_insn *insns, uint32_t n)
{
    char buf[96];
    for (uint32_t i = 0; i < n; i++)
        fprintf(stderr, "    %4u: %s\n", i, pl_disasm(&insns[i], buf, sizeof(buf)));
}

/* Seeds for tests/fuzz/fuzz_verifier.c: header (hook 0, every map) + code. */
static void write_seed(const char *dir, uint64_t i, const struct pl_insn *insns, uint32_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/gen_%06llu", dir, (unsigned long long)i);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    static const uint8_t header[2] = {0, 0};
    fwrite(header, 1, 2, f);
    fwrite(insns, sizeof(*insns), n, f);
    fclose(f);
}

static void vlog(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "    | %s\n", line);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 0) : def;
}

TEST(verifier_soundness_random)
{
    struct env e;
    pl_error err;
    CHECK_MSG(env_init(&e, &err) == 0, "env: %s", err.msg);
    uint64_t seed = env_u64("PLIANT_SOUNDNESS_SEED", 20241122);
    uint64_t nprogs = env_u64("PLIANT_SOUNDNESS_N", 100000);
    bool dump = getenv("PLIANT_SOUNDNESS_DUMP") != NULL;
    avoid = (unsigned)env_u64("PLIANT_SOUNDNESS_AVOID", 0);
    const char *corpus = getenv("PLIANT_SOUNDNESS_CORPUS");
    rng_state = seed;
    uint64_t replay = env_u64("PLIANT_SOUNDNESS_REPLAY", 0);
    if (replay) { /* one program from a reported seed state, dumped */
        rng_state = replay;
        nprogs = 1;
        dump = true;
    }
    static struct gen g;
    static struct pl_insn insns[4096];
    uint64_t accepted = 0, runs = 0, violations = 0, gen_failed = 0, steps = 0;
    uint64_t rejected_by[16] = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < nprogs; i++) {
        uint64_t prog_seed = rng_state;
        g.mistakes = (int)below(4);
        uint32_t n = generate(&g, insns, N(insns));
        if (!n) {
            gen_failed++;
            continue;
        }
        struct pl_prog_opts o = {.name = "rand", .flags = PL_LOAD_NO_JIT, .maps = e.maps, .nmaps = NMAPS,
                                 .hook = e.hook};
        if (replay)
            o.verifier_log = vlog;
        pl_prog *p = NULL;
        int rc = pl_prog_load(e.rt, insns, n, &o, &p, &err);
        if (rc) {
            rejected_by[-rc & 15]++;
            continue;
        }
        accepted++;
        if (corpus && accepted <= 2000)
            write_seed(corpus, accepted, insns, n);
        for (int run = 0; run < 3; run++) {
            if (run == 0 || chance(50))
                random_maps(&e);
            _Alignas(16) uint8_t ctx[CTX_SIZE];
            random_ctx(ctx);
            struct ci_result res;
            ci_run(p, ctx, CTX_SIZE, 0, &res);
            runs++;
            steps += res.steps;
            if (res.violation) {
                violations++;
                if (violations <= 5) {
                    fprintf(stderr, "  VIOLATION in program %llu (seed state 0x%llx), insn %d: %s\n",
                            (unsigned long long)i, (unsigned long long)prog_seed, res.insn, res.msg);
                    if (dump && violations == 1)
                        dump_prog(p->insns, p->ninsns);
                }
                break;
            }
        }
        pl_prog_put(p);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    uint64_t generated = nprogs - gen_failed;
    fprintf(stderr, "  soundness: seed %llu, %llu programs, %llu accepted (%.1f%%), %llu checked runs "
                    "(%llu insns), %llu violations, %.1f s; rejections: %llu EVERIFY, %llu EPROG\n",
            (unsigned long long)seed, (unsigned long long)generated, (unsigned long long)accepted,
            generated ? 100.0 * (double)accepted / (double)generated : 0.0, (unsigned long long)runs,
            (unsigned long long)steps, (unsigned long long)violations, secs,
            (unsigned long long)rejected_by[-PL_EVERIFY & 15], (unsigned long long)rejected_by[-PL_EPROG & 15]);
    env_free(&e);
    CHECK_MSG(violations == 0, "%llu accepted programs violated safety at run time (verifier bugs)",
              (unsigned long long)violations);
    CHECK_MSG(accepted * 10 > generated, "only %llu of %llu programs accepted: the generator proves little",
              (unsigned long long)accepted, (unsigned long long)generated);
}

/* The checker must catch what the verifier would have rejected: each of
 * these unverified programs does one unsafe thing. */
TEST(verifier_soundness_checker_selftest)
{
    struct env e;
    pl_error err;
    CHECK_MSG(env_init(&e, &err) == 0, "env: %s", err.msg);
    static const struct {
        const char *what;
        struct pl_insn insns[8];
        uint32_t n;
    } bad[] = {
        {"ctx read past the end", {LDX64(0, 1, CTX_SIZE), EXIT()}, 2},
        {"ctx read of a gap", {I(BPF_LDX | BPF_MEM | BPF_B, 0, 1, 28, 0), MOV64_IMM(0, 0), EXIT()}, 3},
        {"ctx field read with the wrong size", {LDX32(0, 1, 8), MOV64_IMM(0, 0), EXIT()}, 3},
        {"write to a read-only field", {I(BPF_ST | BPF_MEM | BPF_W, 1, 0, 0, 1), MOV64_IMM(0, 0), EXIT()}, 3},
        {"stack read before write", {LDX64(0, 10, -8), MOV64_IMM(0, 0), EXIT()}, 3},
        {"stack access below the frame", {I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -520, 1), MOV64_IMM(0, 0), EXIT()}, 3},
        {"uninitialised register", {MOV64_REG(0, 3), EXIT()}, 2},
        {"r2 at entry", {MOV64_REG(0, 2), MOV64_IMM(0, 0), EXIT()}, 3},
        {"pointer returned", {MOV64_REG(0, 10), EXIT()}, 2},
        {"return value out of range", {MOV64_IMM(0, RET_MAX + 1), EXIT()}, 2},
        {"pointer stored into the context", {STX64(1, 10, 40), MOV64_IMM(0, 0), EXIT()}, 3},
        {"pointer compared", {JEQ_IMM(10, 5, 0), MOV64_IMM(0, 0), EXIT()}, 3},
    };
    for (uint32_t i = 0; i < N(bad); i++) {
        struct pl_prog_opts o = {.flags = PL_LOAD_NO_JIT | PL_LOAD_NO_VERIFY, .maps = e.maps, .nmaps = NMAPS,
                                 .hook = e.hook};
        pl_prog *p = NULL;
        CHECK_MSG(pl_prog_load(e.rt, bad[i].insns, bad[i].n, &o, &p, &err) == 0, "%s: %s", bad[i].what, err.msg);
        _Alignas(16) uint8_t ctx[CTX_SIZE] = {0};
        struct ci_result res;
        bool flagged = ci_run(p, ctx, CTX_SIZE, 0, &res);
        pl_prog_put(p);
        CHECK_MSG(flagged, "the checker missed: %s", bad[i].what);
        /* The verifier rejects every one of them too. */
        o.flags = PL_LOAD_NO_JIT;
        CHECK_MSG(pl_prog_load(e.rt, bad[i].insns, bad[i].n, &o, &p, &err) != 0, "the verifier accepted: %s",
                  bad[i].what);
    }
    /* A map value read one byte past its end (the last element of "arr":
     * earlier elements are followed by the next one, a valid region). */
    struct pl_insn oob[] = {
        I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 7),
        I(BPF_LDDW, 1, BPF_PSEUDO_MAP_IDX, 0, M_ARR), I(0, 0, 0, 0, 0),
        MOV64_REG(2, 10), ADD64_IMM(2, -4), CALL(PL_HELPER_MAP_LOOKUP_ELEM),
        JEQ_IMM(0, 0, 1), I(BPF_LDX | BPF_MEM | BPF_B, 0, 0, 48, 0),
        MOV64_IMM(0, 0), EXIT(),
    };
    struct pl_prog_opts o = {.flags = PL_LOAD_NO_JIT | PL_LOAD_NO_VERIFY, .maps = e.maps, .nmaps = NMAPS, .hook = e.hook};
    pl_prog *p = NULL;
    CHECK(pl_prog_load(e.rt, oob, N(oob), &o, &p, &err) == 0);
    _Alignas(16) uint8_t ctx[CTX_SIZE] = {0};
    struct ci_result res;
    bool flagged = ci_run(p, ctx, CTX_SIZE, 0, &res);
    pl_prog_put(p);
    CHECK_MSG(flagged && res.insn == 7, "the checker missed a map value overrun (insn %d: %s)", res.insn, res.msg);
    /* And a correct program passes. */
    oob[7].off = 47;
    CHECK(pl_prog_load(e.rt, oob, N(oob), &o, &p, &err) == 0);
    flagged = ci_run(p, ctx, CTX_SIZE, 0, &res);
    pl_prog_put(p);
    CHECK_MSG(!flagged, "false positive: %s", res.msg);
    env_free(&e);
}

/* Minimal reproducers of the verifier bugs the random test found. Each must
 * be rejected by the verifier, or run clean in the checker on contexts that
 * trigger it. */
TEST(verifier_soundness_repros)
{
    struct env e;
    pl_error err;
    CHECK_MSG(env_init(&e, &err) == 0, "env: %s", err.msg);
    static const struct {
        const char *what;
        struct pl_insn insns[16];
        uint32_t n;
    } repro[] = {
        {"variable-offset byte store into a spilled pointer leaves 7 pointer bytes readable as data",
         {MOV64_REG(6, 1), STX64(10, 1, -8), LDX32(2, 6, 4), I(BPF_ALU64 | BPF_K | BPF_AND, 2, 0, 0, 7),
          MOV64_REG(3, 10), ADD64_IMM(3, -8), I(BPF_ALU64 | BPF_X | BPF_ADD, 3, 2, 0, 0),
          I(BPF_ST | BPF_MEM | BPF_B, 3, 0, 0, 1), LDX64(0, 10, -8), STX64(6, 0, 40), MOV64_IMM(0, 0), EXIT()},
         12},
        {"atomic fetch-add on a spilled pointer returns the pointer as a scalar",
         {STX64(10, 1, -8), MOV64_IMM(2, 0), I(BPF_STX | BPF_ATOMIC | BPF_DW, 10, 2, -8, BPF_ADD | BPF_FETCH),
          STX64(1, 2, 40), MOV64_IMM(0, 0), EXIT()},
         6},
        {"neg of a strictly positive range gives an empty signed range [0, -1] (sync_bounds)",
         {LDX32(0, 1, 0), ADD64_IMM(0, 1), I(BPF_ALU64 | BPF_NEG, 0, 0, 0, 0),
          I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -8, 0), MOV64_REG(3, 10), ADD64_IMM(3, -8),
          I(BPF_ALU64 | BPF_X | BPF_ADD, 3, 0, 0, 0), I(BPF_ST | BPF_MEM | BPF_B, 3, 0, 0, 1), MOV64_IMM(0, 0), EXIT()},
         10},
    };
    int bugs = 0;
    for (uint32_t i = 0; i < N(repro); i++) {
        struct pl_prog_opts o = {.flags = PL_LOAD_NO_JIT, .maps = e.maps, .nmaps = NMAPS, .hook = e.hook};
        pl_prog *p = NULL;
        if (pl_prog_load(e.rt, repro[i].insns, repro[i].n, &o, &p, &err) != 0) {
            if (getenv("PLIANT_TEST_VERBOSE"))
                fprintf(stderr, "  rejected (fixed): %s: %s\n", repro[i].what, err.msg);
            continue;
        }
        _Alignas(16) uint8_t ctx[CTX_SIZE] = {0};
        uint32_t a = 1000; /* repro 3: r0 = -1001 puts the store below the frame */
        memcpy(ctx, &a, 4);
        struct ci_result res;
        if (ci_run(p, ctx, CTX_SIZE, 0, &res)) {
            fprintf(stderr, "  verifier bug: %s (insn %d: %s)\n", repro[i].what, res.insn, res.msg);
            bugs++;
        }
        pl_prog_put(p);
    }
    env_free(&e);
    CHECK_MSG(bugs == 0, "%d reproducers of verifier bugs still accepted", bugs);
}
