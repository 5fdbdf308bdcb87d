/* The checking interpreter (see check_interp.h). Written for clarity, not
 * speed: a switch per instruction, shadow state next to every register and
 * stack byte, and a linear list of the memory regions the program may use.
 * ALU, jump and memory semantics mirror runtime/src/interp.c exactly, so a
 * program behaves here as it does in production. */
#include "check_interp.h"

#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CI_STACK (PL_MAX_CALL_DEPTH * PL_STACK_SIZE)
#define CI_MAX_REGIONS 512
#define MAP_RDONLY_PROG (1u << 7)

/* Taint of a value: does it carry address bits? A plain pointer (moved,
 * spilled whole, offset by a scalar) stays T_PTR; anything else computed
 * from a pointer, a map reference or a host handle is T_DERIVED. Both must
 * never reach the host or a map. */
enum { T_NONE = 0, T_PTR = 1, T_DERIVED = 2 };

enum { R_READ = 1, R_WRITE = 2 };
enum { K_MAP, K_MEM };

struct region {
    uintptr_t base;
    uint64_t size;
    uint8_t perm; /* R_READ | R_WRITE */
    uint8_t kind; /* K_MAP: map value (maybe global data); K_MEM: helper memory */
    const pl_map *map;
};

struct cframe {
    uint32_t ret_pc;
    uint64_t saved[5]; /* r6-r10 of the caller */
    bool init[5];
    uint8_t taint[5];
};

struct ci {
    const pl_prog *prog;
    const struct pl_hook_spec *hs;
    uint8_t *ctx;
    uint32_t ctx_size;
    uint64_t reg[PL_NREGS];
    bool init[PL_NREGS];
    uint8_t taint[PL_NREGS];
    _Alignas(16) uint8_t stack[CI_STACK];
    uint8_t sinit[CI_STACK];  /* byte written since its frame was entered */
    uint8_t staint[CI_STACK];
    struct cframe frames[PL_MAX_CALL_DEPTH];
    int depth;
    struct region regions[CI_MAX_REGIONS];
    uint32_t nregions;
    uint32_t pc; /* instruction being executed */
    struct ci_result *res;
};

__attribute__((format(printf, 2, 3))) static bool fail(struct ci *c, const char *fmt, ...)
{
    if (c->res->violation)
        return false;
    c->res->violation = true;
    c->res->insn = (int)c->pc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->res->msg, sizeof(c->res->msg), fmt, ap);
    va_end(ap);
    return false;
}

static void add_region(struct ci *c, uintptr_t base, uint64_t size, uint8_t perm, uint8_t kind, const pl_map *map)
{
    for (uint32_t i = 0; i < c->nregions; i++)
        if (c->regions[i].base == base && c->regions[i].size == size)
            return;
    if (c->nregions < CI_MAX_REGIONS)
        c->regions[c->nregions++] = (struct region){base, size, perm, kind, map};
}

static const struct region *region_of(const struct ci *c, uint64_t addr, uint64_t size)
{
    for (uint32_t i = 0; i < c->nregions; i++) {
        const struct region *r = &c->regions[i];
        if (addr >= r->base && addr - r->base <= r->size && size <= r->size - (addr - r->base))
            return r;
    }
    return NULL;
}

/* The stack window of the running frame and its callers. */
static uintptr_t stack_lo(const struct ci *c)
{
    return (uintptr_t)c->stack + CI_STACK - (uintptr_t)(c->depth + 1) * PL_STACK_SIZE;
}

static bool in_stack_array(const struct ci *c, uint64_t addr, uint64_t size)
{
    uintptr_t b = (uintptr_t)c->stack;
    return addr + size > b && addr < b + CI_STACK;
}

enum acc { A_LOAD, A_STORE, A_ATOMIC, A_HREAD, A_HWRITE };
static const char *acc_name[] = {"load", "store", "atomic", "helper read", "helper write"};

/* Checks an access of size bytes at addr. For loads, *taint receives the
 * taint of the bytes read; for stores, val_taint is the stored value's. */
static bool check_access(struct ci *c, uint64_t addr, uint64_t size, enum acc a, uint8_t val_taint, uint8_t *taint)
{
    if (taint)
        *taint = T_NONE;
    if (addr + size < addr)
        return fail(c, "%s of %llu bytes at 0x%llx wraps around", acc_name[a], (unsigned long long)size,
                    (unsigned long long)addr);
    /* Stack. */
    if (in_stack_array(c, addr, size)) {
        uintptr_t lo = stack_lo(c), hi = (uintptr_t)c->stack + CI_STACK;
        long long fpoff = (long long)(addr - (hi - (uintptr_t)c->depth * PL_STACK_SIZE));
        if (addr < lo || addr + size > hi)
            return fail(c, "%s of %llu bytes at fp%+lld (frame %d) leaves the live stack", acc_name[a],
                        (unsigned long long)size, fpoff, c->depth);
        size_t o = (size_t)(addr - (uintptr_t)c->stack);
        if (a == A_LOAD || a == A_ATOMIC || a == A_HREAD) {
            bool all_ptr = true;
            uint8_t t = T_NONE;
            for (size_t i = 0; i < size; i++) {
                if (!c->sinit[o + i])
                    return fail(c, "%s of %llu bytes at fp%+lld reads the uninitialised stack byte fp%+lld",
                                acc_name[a], (unsigned long long)size, fpoff, fpoff + (long long)i);
                if (c->staint[o + i] != T_PTR)
                    all_ptr = false;
                if (c->staint[o + i])
                    t = T_DERIVED;
            }
            if (t && a == A_HREAD)
                return fail(c, "helper reads %llu bytes at fp%+lld holding pointer bits (leak)",
                            (unsigned long long)size, fpoff);
            if (a == A_ATOMIC && addr % size)
                return fail(c, "misaligned atomic on the stack at fp%+lld", fpoff);
            /* Only an aligned 8-byte reload of an aligned 8-byte spill
             * gives the pointer back as such. */
            if (t && all_ptr && size == 8 && o % 8 == 0)
                t = T_PTR;
            if (taint)
                *taint = t;
        }
        if (a == A_STORE || a == A_HWRITE) {
            uint8_t t = a == A_HWRITE ? T_NONE
                      : val_taint == T_PTR && size == 8 && o % 8 == 0 ? T_PTR
                      : val_taint ? T_DERIVED : T_NONE;
            memset(&c->sinit[o], 1, size);
            memset(&c->staint[o], t, size);
        }
        if (a == A_ATOMIC) {
            /* The new value is old op operand: pointer bits survive. */
            bool tainted = false;
            for (size_t i = 0; i < size; i++)
                tainted |= c->staint[o + i] != 0;
            memset(&c->staint[o], tainted || val_taint ? T_DERIVED : T_NONE, size);
        }
        return true;
    }
    /* Context. */
    uintptr_t cb = (uintptr_t)c->ctx;
    if (c->ctx && addr < cb + c->ctx_size && addr + size > cb) {
        if (addr < cb || addr + size > cb + c->ctx_size)
            return fail(c, "%s of %llu bytes at ctx%+lld crosses the context's bounds", acc_name[a],
                        (unsigned long long)size, (long long)(addr - cb));
        uint64_t off = addr - cb;
        if (a == A_HREAD || a == A_HWRITE)
            return fail(c, "helper memory argument points into the context (ctx+%llu)", (unsigned long long)off);
        if (a == A_ATOMIC)
            return fail(c, "atomic operation on the context (ctx+%llu)", (unsigned long long)off);
        if (a == A_STORE && val_taint)
            return fail(c, "stores a pointer-derived value into the context (ctx+%llu)", (unsigned long long)off);
        if (c->hs) {
            const struct pl_hook_field *f = NULL;
            for (uint32_t i = 0; i < c->hs->nfields; i++)
                if (c->hs->fields[i].offset == off && c->hs->fields[i].size == size)
                    f = &c->hs->fields[i];
            if (!f)
                return fail(c, "%s of %llu bytes at ctx+%llu is not a whole declared field", acc_name[a],
                            (unsigned long long)size, (unsigned long long)off);
            if (a == A_STORE && !(f->access & PL_FIELD_WRITE))
                return fail(c, "stores into read-only field '%s'", f->name);
            if (a == A_LOAD && !(f->access & PL_FIELD_READ))
                return fail(c, "loads write-only field '%s'", f->name);
            if (a == A_LOAD && f->kind == PL_FIELD_HANDLE && taint)
                *taint = T_DERIVED;
        }
        return true;
    }
    /* Map values, global data, helper memory. */
    const struct region *r = region_of(c, addr, size);
    if (!r)
        return fail(c, "%s of %llu bytes at 0x%llx is outside every region the program may access", acc_name[a],
                    (unsigned long long)size, (unsigned long long)addr);
    const char *what = r->kind == K_MEM ? "helper memory" : "map value";
    if ((a == A_STORE || a == A_ATOMIC || a == A_HWRITE) && !(r->perm & R_WRITE))
        return fail(c, "%s writes read-only %s%s%s at offset %llu", acc_name[a], what, r->map ? " of " : "",
                    r->map ? pl_map_info(r->map)->name : "", (unsigned long long)(addr - r->base));
    if ((a == A_STORE || a == A_ATOMIC) && val_taint)
        return fail(c, "stores a pointer-derived value into a %s (leak)", what);
    if (a == A_ATOMIC && addr % size)
        return fail(c, "misaligned atomic on a %s", what);
    return true;
}

static bool need(struct ci *c, int r)
{
    if (!c->init[r])
        return fail(c, "reads uninitialised r%d", r);
    return true;
}

static void set_reg(struct ci *c, int r, uint64_t v, uint8_t taint)
{
    c->reg[r] = v;
    c->init[r] = true;
    c->taint[r] = taint;
}

static void clobber(struct ci *c, int r)
{
    c->init[r] = false;
    c->taint[r] = T_NONE;
}

/* ------------------------------------------------------------ semantics (interp.c) */

static uint64_t bswap(uint64_t v, int32_t width)
{
    switch (width) {
    case 16: return __builtin_bswap16((uint16_t)v);
    case 32: return __builtin_bswap32((uint32_t)v);
    default: return __builtin_bswap64(v);
    }
}

static uint64_t trunc_le(uint64_t v, int32_t width)
{
    switch (width) {
    case 16: return (uint16_t)v;
    case 32: return (uint32_t)v;
    default: return v;
    }
}

static uint64_t alu64(uint8_t op, int16_t off, uint64_t d, uint64_t s)
{
    switch (op) {
    case BPF_ADD: return d + s;
    case BPF_SUB: return d - s;
    case BPF_MUL: return d * s;
    case BPF_DIV:
        if (off) return !s ? 0 : s == UINT64_MAX ? 0 - d : (uint64_t)((int64_t)d / (int64_t)s);
        return s ? d / s : 0;
    case BPF_MOD:
        if (off) return !s ? d : s == UINT64_MAX ? 0 : (uint64_t)((int64_t)d % (int64_t)s);
        return s ? d % s : d;
    case BPF_OR: return d | s;
    case BPF_AND: return d & s;
    case BPF_XOR: return d ^ s;
    case BPF_LSH: return d << (s & 63);
    case BPF_RSH: return d >> (s & 63);
    case BPF_ARSH: return (uint64_t)((int64_t)d >> (s & 63));
    case BPF_NEG: return 0 - d;
    default: /* MOV */
        return off == 8 ? (uint64_t)(int64_t)(int8_t)s : off == 16 ? (uint64_t)(int64_t)(int16_t)s
               : off == 32 ? (uint64_t)(int64_t)(int32_t)s : s;
    }
}

static uint32_t alu32(uint8_t op, int16_t off, uint32_t a, uint32_t b)
{
    switch (op) {
    case BPF_ADD: return a + b;
    case BPF_SUB: return a - b;
    case BPF_MUL: return a * b;
    case BPF_DIV:
        if (off) return !b ? 0 : b == UINT32_MAX ? 0u - a : (uint32_t)((int32_t)a / (int32_t)b);
        return b ? a / b : 0;
    case BPF_MOD:
        if (off) return !b ? a : b == UINT32_MAX ? 0 : (uint32_t)((int32_t)a % (int32_t)b);
        return b ? a % b : a;
    case BPF_OR: return a | b;
    case BPF_AND: return a & b;
    case BPF_XOR: return a ^ b;
    case BPF_LSH: return a << (b & 31);
    case BPF_RSH: return a >> (b & 31);
    case BPF_ARSH: return (uint32_t)((int32_t)a >> (b & 31));
    case BPF_NEG: return 0u - a;
    default: /* MOV */
        return off == 8 ? (uint32_t)(int32_t)(int8_t)b : off == 16 ? (uint32_t)(int32_t)(int16_t)b : b;
    }
}

static bool jump_taken(uint8_t op, bool is32, uint64_t d, uint64_t s)
{
    if (is32) {
        d = (uint32_t)d, s = (uint32_t)s;
        int32_t sd = (int32_t)d, ss = (int32_t)s;
        switch (op) {
        case BPF_JSGT: return sd > ss;
        case BPF_JSGE: return sd >= ss;
        case BPF_JSLT: return sd < ss;
        case BPF_JSLE: return sd <= ss;
        default: break;
        }
    }
    switch (op) {
    case BPF_JEQ: return d == s;
    case BPF_JNE: return d != s;
    case BPF_JGT: return d > s;
    case BPF_JGE: return d >= s;
    case BPF_JLT: return d < s;
    case BPF_JLE: return d <= s;
    case BPF_JSET: return (d & s) != 0;
    case BPF_JSGT: return (int64_t)d > (int64_t)s;
    case BPF_JSGE: return (int64_t)d >= (int64_t)s;
    case BPF_JSLT: return (int64_t)d < (int64_t)s;
    default: return (int64_t)d <= (int64_t)s; /* JSLE */
    }
}

/* ------------------------------------------------------------ instructions */

static bool do_alu(struct ci *c, const struct pl_insn *in)
{
    bool is64 = BPF_CLASS(in->code) == BPF_ALU64;
    uint8_t op = BPF_OP(in->code);
    int d = in->dst;
    if (op == BPF_END) {
        if (!need(c, d))
            return false;
        uint64_t v = BPF_CLASS(in->code) == BPF_ALU && BPF_SRC(in->code) == BPF_TO_LE ? trunc_le(c->reg[d], in->imm)
                                                                                      : bswap(c->reg[d], in->imm);
        set_reg(c, d, v, c->taint[d] ? T_DERIVED : T_NONE);
        return true;
    }
    uint64_t s;
    uint8_t st = T_NONE;
    if (BPF_SRC(in->code) == BPF_X) {
        if (!need(c, in->src))
            return false;
        s = c->reg[in->src];
        st = c->taint[in->src];
    } else {
        s = (uint64_t)(int64_t)in->imm;
    }
    if (op == BPF_MOV) {
        uint64_t v = is64 ? alu64(op, in->off, 0, s) : alu32(op, in->off, 0, (uint32_t)s);
        set_reg(c, d, v, st && (!is64 || in->off) ? T_DERIVED : st);
        return true;
    }
    if (!need(c, d))
        return false;
    uint8_t dt = c->taint[d];
    uint64_t v = is64 ? alu64(op, in->off, c->reg[d], s) : alu32(op, in->off, (uint32_t)c->reg[d], (uint32_t)s);
    uint8_t t = T_NONE;
    if (dt || st) {
        t = T_DERIVED;
        if (is64 && op == BPF_ADD && ((dt == T_PTR && !st) || (st == T_PTR && !dt)))
            t = T_PTR;
        else if (is64 && op == BPF_SUB && dt == T_PTR && !st)
            t = T_PTR;
        else if (is64 && op == BPF_SUB && dt == T_PTR && st == T_PTR) {
            /* A distance inside one region is no address. */
            const struct region *a = region_of(c, c->reg[d], 0), *b = region_of(c, s, 0);
            bool both_stack = in_stack_array(c, c->reg[d], 1) && in_stack_array(c, s, 1);
            if ((a && a == b) || both_stack)
                t = T_NONE;
        }
    }
    set_reg(c, d, v, t);
    return true;
}

static bool do_jump(struct ci *c, const struct pl_insn *in, uint32_t *pc)
{
    uint8_t op = BPF_OP(in->code);
    bool is32 = BPF_CLASS(in->code) == BPF_JMP32;
    if (op == BPF_JA) {
        *pc += (uint32_t)(is32 ? in->imm : in->off);
        return true;
    }
    if (!need(c, in->dst))
        return false;
    uint64_t s = is32 ? (uint64_t)(uint32_t)in->imm : (uint64_t)(int64_t)in->imm;
    uint8_t st = T_NONE;
    if (BPF_SRC(in->code) == BPF_X) {
        if (!need(c, in->src))
            return false;
        s = c->reg[in->src];
        st = c->taint[in->src];
    }
    uint8_t dt = c->taint[in->dst];
    if (dt || st) {
        /* Only a NULL check may look at a pointer. */
        bool null_check = !is32 && (op == BPF_JEQ || op == BPF_JNE) && !st && s == 0;
        if (!null_check)
            return fail(c, "branches on a pointer-derived value (r%d) other than a NULL check", dt ? in->dst : in->src);
    }
    if (jump_taken(op, is32, c->reg[in->dst], s))
        *pc += (uint32_t)in->off;
    return true;
}

static bool check_ret(struct ci *c)
{
    if (!need(c, 0))
        return false;
    if (c->taint[0])
        return fail(c, "r0 at exit holds a pointer-derived value (leak)");
    if (c->hs && c->hs->has_ret_range &&
        ((int64_t)c->reg[0] < c->hs->ret_min || (int64_t)c->reg[0] > c->hs->ret_max))
        return fail(c, "r0 = %lld at exit is outside the hook's return range [%lld, %lld]", (long long)c->reg[0],
                    (long long)c->hs->ret_min, (long long)c->hs->ret_max);
    return true;
}

static bool do_helper(struct ci *c, int32_t id, bool *unwind)
{
    const pl_runtime *rt = c->prog->rt;
    const struct pl_helper_spec *h = id >= 0 && id < PL_HELPER_ID_MAX ? pl_helper_find(rt, (uint32_t)id) : NULL;
    if (!h || !rt->helper_fns[id])
        return fail(c, "calls unknown helper %d", id);
    if (c->hs) {
        bool allowed = false;
        for (uint32_t i = 0; i < c->hs->nhelpers; i++)
            allowed |= c->hs->helpers[i] == (uint32_t)id;
        if (!allowed)
            return fail(c, "calls helper %s, which hook %s does not allow", h->name, c->hs->name);
    }
    const pl_map *map = NULL;
    for (int i = 0; i < 5; i++) {
        int r = i + 1;
        uint8_t kind = h->args[i];
        if (kind == PL_ARG_NONE || kind == PL_ARG_MEM_SIZE)
            continue;
        if (!need(c, r))
            return false;
        uint64_t v = c->reg[r];
        switch (kind) {
        case PL_ARG_SCALAR:
            if (c->taint[r])
                return fail(c, "passes pointer-derived r%d to %s as a scalar (leak)", r, h->name);
            break;
        case PL_ARG_MAP:
            for (uint32_t m = 0; m < c->prog->nmaps && !map; m++)
                if ((uintptr_t)c->prog->maps[m] == v)
                    map = c->prog->maps[m];
            if (!map)
                return fail(c, "argument %d of %s is not a map of the program", r, h->name);
            break;
        case PL_ARG_MAP_KEY:
        case PL_ARG_MAP_VALUE:
            if (!map)
                return fail(c, "%s: key or value without a map", h->name);
            if (!check_access(c, v, kind == PL_ARG_MAP_KEY ? map->spec.key_size : map->spec.value_size, A_HREAD,
                              0, NULL))
                return false;
            break;
        case PL_ARG_MEM:
        case PL_ARG_MEM_UNINIT: {
            if (i == 4 || !need(c, r + 1))
                return false;
            if (c->taint[r + 1])
                return fail(c, "passes a pointer-derived size to %s", h->name);
            int64_t size = (int64_t)c->reg[r + 1];
            if (size < 0)
                return fail(c, "passes a negative size %lld to %s", (long long)size, h->name);
            if (size && !check_access(c, v, (uint64_t)size, kind == PL_ARG_MEM ? A_HREAD : A_HWRITE, 0, NULL))
                return false;
            break;
        }
        case PL_ARG_CTX:
            if (v != (uintptr_t)c->ctx || c->taint[r] != T_PTR)
                return fail(c, "argument %d of %s is not the context pointer", r, h->name);
            break;
        case PL_ARG_HANDLE:
            break;
        case PL_ARG_STR: {
            const struct region *reg = region_of(c, v, 1);
            if (!reg || !reg->map || !(reg->map->spec.flags & MAP_RDONLY_PROG) ||
                !memchr((const void *)(uintptr_t)v, 0, reg->size - (v - reg->base)))
                return fail(c, "argument %d of %s is not a string in read-only global data", r, h->name);
            break;
        }
        default:
            return fail(c, "helper %s has an unknown argument kind %u", h->name, kind);
        }
    }
    uint64_t r0 = rt->helper_fns[id](c->reg[1], c->reg[2], c->reg[3], c->reg[4], c->reg[5]);
    for (int r = 1; r <= 5; r++)
        clobber(c, r);
    switch (h->ret) {
    case PL_RET_VOID:
        clobber(c, 0);
        break;
    case PL_RET_MAP_VALUE_OR_NULL:
        set_reg(c, 0, r0, r0 ? T_PTR : T_NONE);
        if (r0 && map)
            add_region(c, (uintptr_t)r0, map->spec.value_size,
                       R_READ | ((map->spec.flags & MAP_RDONLY_PROG) ? 0 : R_WRITE), K_MAP, map);
        break;
    case PL_RET_MEM_OR_NULL:
        set_reg(c, 0, r0, r0 ? T_PTR : T_NONE);
        /* Declared as readable memory (pliant.h): writes are violations. */
        if (r0)
            add_region(c, (uintptr_t)r0, h->ret_size, R_READ, K_MEM, NULL);
        break;
    case PL_RET_HANDLE:
        set_reg(c, 0, r0, T_DERIVED);
        break;
    default:
        set_reg(c, 0, r0, T_NONE);
        break;
    }
    *unwind = (h->flags & PL_HELPER_UNWIND_ON_ZERO) && r0 == 0;
    return true;
}

static void setup_regions(struct ci *c)
{
    for (uint32_t m = 0; m < c->prog->nmaps; m++) {
        pl_map *map = c->prog->maps[m];
        uint32_t t = map->spec.type;
        if (t != PL_MAP_ARRAY && t != PL_MAP_PERTHREAD_ARRAY)
            continue;
        uint8_t perm = R_READ | ((map->spec.flags & MAP_RDONLY_PROG) ? 0 : R_WRITE);
        for (uint32_t k = 0; k < map->spec.max_entries && k < 4096; k++) {
            void *v = map->ops->lookup(map, &k);
            if (v)
                add_region(c, (uintptr_t)v, map->spec.value_size, perm, K_MAP, map);
        }
    }
}

static bool run(struct ci *c, uint64_t limit)
{
    const pl_prog *p = c->prog;
    uint32_t pc = 0;
    set_reg(c, 1, (uintptr_t)c->ctx, T_PTR);
    set_reg(c, 2, c->ctx_size, T_NONE);
    /* The verifier gives r2 no type: a read of it must be flagged too. */
    clobber(c, 2);
    set_reg(c, 10, (uintptr_t)c->stack + CI_STACK, T_PTR);
    for (;;) {
        if (++c->res->steps > limit)
            return fail(c, "no exit after %llu instructions (the verifier proves termination)",
                        (unsigned long long)limit);
        if (pc >= p->ninsns)
            return fail(c, "runs past the end of the program");
        c->pc = pc;
        const struct pl_insn *in = &p->insns[pc++];
        uint8_t cls = BPF_CLASS(in->code);
        uint32_t size = (uint32_t[]){4, 2, 1, 8}[BPF_SIZE(in->code) >> 3];
        switch (cls) {
        case BPF_ALU:
        case BPF_ALU64:
            if (!do_alu(c, in))
                return false;
            break;
        case BPF_LD: {
            uint64_t v = (uint32_t)in->imm | ((uint64_t)(uint32_t)p->insns[pc].imm << 32);
            uint8_t kind = p->aux[pc - 1].kind;
            set_reg(c, in->dst, v, kind == PL_INSN_LDDW_MAP ? T_DERIVED : kind == PL_INSN_LDDW_MAP_VALUE ? T_PTR : T_NONE);
            pc++;
            break;
        }
        case BPF_LDX: {
            if (!need(c, in->src))
                return false;
            uint64_t addr = c->reg[in->src] + (uint64_t)(int64_t)in->off;
            uint8_t t;
            if (!check_access(c, addr, size, A_LOAD, 0, &t))
                return false;
            uint64_t v = 0;
            bool sx = BPF_MODE(in->code) == BPF_MEMSX;
            switch (size) {
            case 1: { uint8_t x; memcpy(&x, (void *)(uintptr_t)addr, 1); v = sx ? (uint64_t)(int64_t)(int8_t)x : x; break; }
            case 2: { uint16_t x; memcpy(&x, (void *)(uintptr_t)addr, 2); v = sx ? (uint64_t)(int64_t)(int16_t)x : x; break; }
            case 4: { uint32_t x; memcpy(&x, (void *)(uintptr_t)addr, 4); v = sx ? (uint64_t)(int64_t)(int32_t)x : x; break; }
            default: memcpy(&v, (void *)(uintptr_t)addr, 8); break;
            }
            set_reg(c, in->dst, v, t);
            break;
        }
        case BPF_ST:
        case BPF_STX: {
            if (!need(c, in->dst))
                return false;
            uint64_t addr = c->reg[in->dst] + (uint64_t)(int64_t)in->off;
            uint64_t v = (uint64_t)(int64_t)in->imm;
            uint8_t t = T_NONE;
            if (cls == BPF_STX) {
                if (!need(c, in->src))
                    return false;
                v = c->reg[in->src];
                t = c->taint[in->src];
            }
            if (cls == BPF_STX && BPF_MODE(in->code) == BPF_ATOMIC) {
                if (t)
                    return fail(c, "atomic operation with pointer-derived operand r%d", in->src);
                if (in->imm == BPF_CMPXCHG && (!need(c, 0) || (c->taint[0] && fail(c, "cmpxchg compares pointer-derived r0"))))
                    return false;
                uint8_t old_t;
                if (!check_access(c, addr, size, A_ATOMIC, 0, &old_t))
                    return false;
                uint64_t old;
                if (size == 4) {
                    uint32_t *m = (uint32_t *)(uintptr_t)addr, o;
                    switch (in->imm & ~BPF_FETCH) {
                    case BPF_ADD: o = __atomic_fetch_add(m, (uint32_t)v, __ATOMIC_SEQ_CST); break;
                    case BPF_OR: o = __atomic_fetch_or(m, (uint32_t)v, __ATOMIC_SEQ_CST); break;
                    case BPF_AND: o = __atomic_fetch_and(m, (uint32_t)v, __ATOMIC_SEQ_CST); break;
                    case BPF_XOR: o = __atomic_fetch_xor(m, (uint32_t)v, __ATOMIC_SEQ_CST); break;
                    case BPF_XCHG & ~BPF_FETCH: o = __atomic_exchange_n(m, (uint32_t)v, __ATOMIC_SEQ_CST); break;
                    default:
                        o = (uint32_t)c->reg[0];
                        __atomic_compare_exchange_n(m, &o, (uint32_t)v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
                        break;
                    }
                    old = o;
                } else {
                    uint64_t *m = (uint64_t *)(uintptr_t)addr;
                    switch (in->imm & ~BPF_FETCH) {
                    case BPF_ADD: old = __atomic_fetch_add(m, v, __ATOMIC_SEQ_CST); break;
                    case BPF_OR: old = __atomic_fetch_or(m, v, __ATOMIC_SEQ_CST); break;
                    case BPF_AND: old = __atomic_fetch_and(m, v, __ATOMIC_SEQ_CST); break;
                    case BPF_XOR: old = __atomic_fetch_xor(m, v, __ATOMIC_SEQ_CST); break;
                    case BPF_XCHG & ~BPF_FETCH: old = __atomic_exchange_n(m, v, __ATOMIC_SEQ_CST); break;
                    default:
                        old = c->reg[0];
                        __atomic_compare_exchange_n(m, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
                        break;
                    }
                }
                uint8_t ot = old_t ? T_DERIVED : T_NONE;
                if (in->imm == BPF_CMPXCHG)
                    set_reg(c, 0, old, ot);
                else if (in->imm & BPF_FETCH)
                    set_reg(c, in->src, old, ot);
                break;
            }
            if (!check_access(c, addr, size, A_STORE, t, NULL))
                return false;
            memcpy((void *)(uintptr_t)addr, &v, size); /* little-endian: the low bytes */
            break;
        }
        default: { /* JMP, JMP32 */
            uint8_t op = BPF_OP(in->code);
            if (op == BPF_CALL) {
                if (BPF_SRC(in->code) == BPF_X)
                    return fail(c, "callx (the verifier cannot know its target)");
                if (in->src == BPF_PSEUDO_CALL) {
                    if (c->depth + 1 >= PL_MAX_CALL_DEPTH)
                        return fail(c, "local calls nest deeper than %d frames", PL_MAX_CALL_DEPTH);
                    struct cframe *f = &c->frames[c->depth++];
                    f->ret_pc = pc;
                    for (int i = 0; i < 5; i++) {
                        f->saved[i] = c->reg[6 + i];
                        f->init[i] = c->init[6 + i];
                        f->taint[i] = c->taint[6 + i];
                    }
                    /* The callee sees r1-r5 and its own frame pointer. */
                    clobber(c, 0);
                    for (int r = 6; r <= 9; r++)
                        clobber(c, r);
                    set_reg(c, 10, c->reg[10] - PL_STACK_SIZE, T_PTR);
                    size_t o = (size_t)(stack_lo(c) - (uintptr_t)c->stack);
                    memset(&c->sinit[o], 0, PL_STACK_SIZE);
                    memset(&c->staint[o], 0, PL_STACK_SIZE);
                    pc += (uint32_t)in->imm;
                    break;
                }
                bool unwind = false;
                if (!do_helper(c, in->imm, &unwind))
                    return false;
                if (unwind) {
                    c->res->r0 = 0;
                    set_reg(c, 0, 0, T_NONE);
                    return check_ret(c);
                }
                break;
            }
            if (op == BPF_EXIT) {
                if (c->depth == 0) {
                    if (!check_ret(c))
                        return false;
                    c->res->r0 = c->reg[0];
                    return true;
                }
                if (!need(c, 0))
                    return false;
                struct cframe *f = &c->frames[--c->depth];
                for (int i = 0; i < 5; i++) {
                    c->reg[6 + i] = f->saved[i];
                    c->init[6 + i] = f->init[i];
                    c->taint[6 + i] = f->taint[i];
                }
                for (int r = 1; r <= 5; r++)
                    clobber(c, r);
                pc = f->ret_pc;
                break;
            }
            if (!do_jump(c, in, &pc))
                return false;
            break;
        }
        }
    }
}

bool ci_run(const pl_prog *prog, void *ctx, uint32_t ctx_size, uint64_t step_limit, struct ci_result *res)
{
    memset(res, 0, sizeof(*res));
    res->insn = -1;
    struct ci *c = calloc(1, sizeof(*c));
    if (!c) {
        res->violation = true;
        snprintf(res->msg, sizeof(res->msg), "out of memory");
        return true;
    }
    c->prog = prog;
    c->hs = prog->hook ? pl_hook_info(prog->hook) : NULL;
    c->ctx = ctx;
    c->ctx_size = ctx_size;
    c->res = res;
    /* Hash values stay valid while we hold the read side (as in pl_prog_run). */
    pl_rcu_read_lock();
    setup_regions(c);
    run(c, step_limit ? step_limit : 10000000);
    pl_rcu_read_unlock();
    free(c);
    return res->violation;
}
