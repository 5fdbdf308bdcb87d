/*
 * The verifier's transfer function: what each instruction does to the
 * abstract state, and the safety rules it must satisfy on the way.
 *
 * Regions a pointer may reach are checked in verifier_mem.c: the hook's
 * context (declared fields only), the stack of each frame, map values
 * (after a NULL check) and helper memory. This file handles scalars,
 * pointer arithmetic, branches, calls and exits. Map references and host
 * handles are opaque: they can only be passed to helpers. Pointers never
 * become scalars (no leaks through arithmetic, comparisons, stores to maps
 * or the context, helper scalar arguments or r0).
 */
#include "verifier.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ scalars */

void v_mark_not_init(struct vreg *r)
{
    memset(r, 0, sizeof(*r));
}

void v_mark_unknown(struct vreg *r)
{
    *r = (struct vreg){.type = V_SCALAR, .var = TNUM_UNKNOWN, .smin = INT64_MIN, .smax = INT64_MAX,
                       .umin = 0, .umax = UINT64_MAX};
}

void v_mark_const(struct vreg *r, uint64_t value)
{
    *r = (struct vreg){.type = V_SCALAR, .var = tnum_const(value), .smin = (int64_t)value,
                       .smax = (int64_t)value, .umin = value, .umax = value};
}

bool v_is_pointer(const struct vreg *r)
{
    return r->type >= V_PTR_CTX;
}

static bool is_or_null(const struct vreg *r)
{
    return r->type == V_PTR_MAP_VALUE_OR_NULL || r->type == V_PTR_MEM_OR_NULL;
}

static int64_t smax64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t smin64(int64_t a, int64_t b) { return a < b ? a : b; }
static uint64_t umax64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t umin64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Tightens the three descriptions of a value against each other. */
static void sync_bounds(struct vreg *r)
{
    const uint64_t sign = (uint64_t)1 << 63;
    r->smin = smax64(r->smin, (int64_t)(r->var.value | (r->var.mask & sign)));
    r->smax = smin64(r->smax, (int64_t)(r->var.value | (r->var.mask & ~sign)));
    r->umin = umax64(r->umin, r->var.value);
    r->umax = umin64(r->umax, r->var.value | r->var.mask);
    /* Where every value has the same sign, signed and unsigned order agree
     * and each range bounds the other. */
    const uint64_t top = (uint64_t)1 << 63;
    if (r->smin >= 0 || r->umax < top) {
        uint64_t lo = umax64(r->umin, r->smin > 0 ? (uint64_t)r->smin : 0);
        uint64_t hi = umin64(r->umax, top - 1);
        if (r->smax < 0)
            hi = 0, lo = 1; /* contradiction: left empty */
        else
            hi = umin64(hi, (uint64_t)r->smax);
        r->umin = lo, r->umax = hi;
        r->smin = (int64_t)lo, r->smax = (int64_t)hi;
    } else if (r->smax < 0 || r->umin >= top) {
        uint64_t lo = umax64(r->umin, top), hi = r->umax;
        int64_t slo = smax64(r->smin, (int64_t)lo), shi = smin64(r->smax, (int64_t)hi);
        if (hi < top || slo > shi) {
            r->umin = 1, r->umax = 0; /* contradiction: left empty */
        } else {
            r->smin = slo, r->smax = shi;
            r->umin = (uint64_t)slo, r->umax = (uint64_t)shi;
        }
    }
    if (r->umin <= r->umax)
        r->var = tnum_intersect(r->var, tnum_range(r->umin, r->umax));
}

static bool bounds_empty(const struct vreg *r)
{
    return r->umin > r->umax || r->smin > r->smax || (r->var.value & r->var.mask);
}

/* An unknown scalar known to fit in `bytes` bytes (sign-extended if asked). */
void v_mark_sized(struct vreg *r, unsigned bytes, bool sign_extend)
{
    v_mark_unknown(r);
    if (bytes >= 8)
        return;
    unsigned bits = bytes * 8;
    if (sign_extend) {
        r->smin = -((int64_t)1 << (bits - 1));
        r->smax = ((int64_t)1 << (bits - 1)) - 1;
    } else {
        r->umax = ((uint64_t)1 << bits) - 1;
        r->var = tnum_range(0, r->umax);
    }
    sync_bounds(r);
}

/* Exact semantics for constants (mirrors the interpreter). */
static uint64_t alu_const(uint8_t op, bool is64, int16_t off, uint64_t d, uint64_t s)
{
    if (!is64) {
        uint32_t a = (uint32_t)d, b = (uint32_t)s;
        switch (op) {
        case BPF_ADD: return (uint32_t)(a + b);
        case BPF_SUB: return (uint32_t)(a - b);
        case BPF_MUL: return (uint32_t)(a * b);
        case BPF_DIV:
            if (off) return !b ? 0 : b == UINT32_MAX ? (uint32_t)(0u - a) : (uint32_t)((int32_t)a / (int32_t)b);
            return b ? a / b : 0;
        case BPF_MOD:
            if (off) return !b ? a : b == UINT32_MAX ? 0 : (uint32_t)((int32_t)a % (int32_t)b);
            return b ? a % b : a;
        case BPF_OR: return a | b;
        case BPF_AND: return a & b;
        case BPF_XOR: return a ^ b;
        case BPF_LSH: return (uint32_t)(a << (b & 31));
        case BPF_RSH: return a >> (b & 31);
        case BPF_ARSH: return (uint32_t)((int32_t)a >> (b & 31));
        case BPF_NEG: return (uint32_t)(0u - a);
        case BPF_MOV:
            return off == 8 ? (uint32_t)(int32_t)(int8_t)b : off == 16 ? (uint32_t)(int32_t)(int16_t)b : b;
        default: /* not reached: byte swaps are handled by the caller */
            return 0;
        }
    }
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

static bool add_overflows(int64_t a, int64_t b, int64_t *out) { return __builtin_add_overflow(a, b, out); }
static bool sub_overflows(int64_t a, int64_t b, int64_t *out) { return __builtin_sub_overflow(a, b, out); }

/* dst = dst op src on 64-bit scalars; ranges for the operations policies
 * use, known bits for the rest. */
static void scalar_alu64(struct vreg *d, const struct vreg *s, uint8_t op, int16_t off)
{
    struct vreg r;
    v_mark_unknown(&r);
    bool s_const = tnum_is_const(s->var);
    unsigned sh = (unsigned)(s->var.value & 63);
    switch (op) {
    case BPF_ADD:
        r.var = tnum_add(d->var, s->var);
        if (add_overflows(d->smin, s->smin, &r.smin) || add_overflows(d->smax, s->smax, &r.smax))
            r.smin = INT64_MIN, r.smax = INT64_MAX;
        if (d->umax + s->umax >= d->umax && d->umin + s->umin >= d->umin)
            r.umin = d->umin + s->umin, r.umax = d->umax + s->umax;
        break;
    case BPF_SUB:
        r.var = tnum_sub(d->var, s->var);
        if (sub_overflows(d->smin, s->smax, &r.smin) || sub_overflows(d->smax, s->smin, &r.smax))
            r.smin = INT64_MIN, r.smax = INT64_MAX;
        if (d->umin >= s->umax)
            r.umin = d->umin - s->umax, r.umax = d->umax - s->umin;
        break;
    case BPF_MUL:
        r.var = tnum_mul(d->var, s->var);
        if (d->umax <= UINT32_MAX && s->umax <= UINT32_MAX)
            r.umin = d->umin * s->umin, r.umax = d->umax * s->umax;
        break;
    case BPF_DIV:
        if (!off) {
            r.umax = s->umin ? d->umax / s->umin : d->umax;
            r.umin = s->umin && s->umax ? d->umin / s->umax : 0;
        }
        break;
    case BPF_MOD:
        if (!off)
            r.umax = s->umin ? umin64(d->umax, s->umax - 1) : d->umax;
        break;
    case BPF_AND:
        r.var = tnum_and(d->var, s->var);
        r.umax = umin64(d->umax, s->umax);
        break;
    case BPF_OR:
        r.var = tnum_or(d->var, s->var);
        r.umin = umax64(d->umin, s->umin);
        break;
    case BPF_XOR:
        r.var = tnum_xor(d->var, s->var);
        break;
    case BPF_LSH:
        if (!s_const)
            break;
        r.var = tnum_lshift(d->var, sh);
        if (d->umax <= (UINT64_MAX >> sh))
            r.umin = d->umin << sh, r.umax = d->umax << sh;
        break;
    case BPF_RSH:
        if (!s_const) {
            r.umax = d->umax;
            break;
        }
        r.var = tnum_rshift(d->var, sh);
        r.umin = d->umin >> sh, r.umax = d->umax >> sh;
        break;
    case BPF_ARSH:
        if (!s_const)
            break;
        r.var = tnum_arshift(d->var, sh, 64);
        r.smin = d->smin >> sh, r.smax = d->smax >> sh;
        break;
    case BPF_NEG: {
        struct vreg zero;
        v_mark_const(&zero, 0);
        scalar_alu64(&zero, d, BPF_SUB, 0);
        r = zero;
        break;
    }
    }
    r.id = 0;
    sync_bounds(&r);
    *d = r;
}

/* 32-bit operations: exact when the operands' values fit in 32 bits and
 * the 64-bit result does too; otherwise any 32-bit value. */
static void scalar_alu32(struct vreg *d, const struct vreg *s, uint8_t op, int16_t off)
{
    bool fits = d->umax <= UINT32_MAX && s->umax <= UINT32_MAX;
    bool signed_op = op == BPF_ARSH || ((op == BPF_DIV || op == BPF_MOD) && off);
    if (fits && !signed_op && op != BPF_NEG && op != BPF_SUB && (op != BPF_LSH || tnum_is_const(s->var))) {
        struct vreg sm = *s;
        if (op == BPF_LSH || op == BPF_RSH) {
            sm.var = tnum_const(s->var.value & 31);
            sm.umin = sm.umax = s->var.value & 31;
            sm.smin = sm.smax = (int64_t)sm.umin;
        }
        scalar_alu64(d, &sm, op, off);
        if (d->umax <= UINT32_MAX)
            return;
    }
    v_mark_unknown(d);
    d->umax = UINT32_MAX;
    d->var = tnum_range(0, UINT32_MAX);
    sync_bounds(d);
}

/* ------------------------------------------------------------ ALU */

static int need_init(struct verifier *v, struct vstate *st, uint8_t regno)
{
    if (v_cur_frame(st)->regs[regno].type == V_NOT_INIT)
        return v_fail(v, st->insn, "reads r%u before it is initialised", regno);
    return 0;
}


static int alu(struct verifier *v, struct vstate *st, const struct pl_insn *in)
{
    struct vframe *f = v_cur_frame(st);
    bool is64 = BPF_CLASS(in->code) == BPF_ALU64;
    uint8_t op = BPF_OP(in->code);
    struct vreg *d = &f->regs[in->dst];
    struct vreg srcv;
    int rc;

    if (BPF_SRC(in->code) == BPF_X) {
        if ((rc = need_init(v, st, in->src)))
            return rc;
        srcv = f->regs[in->src];
    } else {
        v_mark_const(&srcv, is64 ? (uint64_t)(int64_t)in->imm : (uint32_t)in->imm);
    }
    if (op != BPF_MOV && (rc = need_init(v, st, in->dst)))
        return rc;

    if (op == BPF_MOV) {
        if (v_is_pointer(&srcv)) {
            if (!is64 || in->off)
                return v_fail(v, st->insn, "%s of a pointer would expose part of an address",
                              in->off ? "sign-extending move" : "32-bit move");
            *d = srcv;
            return 0;
        }
        if (BPF_SRC(in->code) == BPF_X && is64 && !in->off) {
            /* A copy: link both so a bounds check on one refines the other. */
            if (!f->regs[in->src].id)
                f->regs[in->src].id = ++v->id_gen;
            *d = f->regs[in->src];
            return 0;
        }
        if (tnum_is_const(srcv.var)) {
            v_mark_const(d, alu_const(BPF_MOV, is64, in->off, 0, srcv.var.value));
            return 0;
        }
        struct vreg r = srcv;
        r.id = 0;
        if (in->off) {
            unsigned bytes = (unsigned)in->off / 8;
            int64_t lo = -((int64_t)1 << (bytes * 8 - 1)), hi = ((int64_t)1 << (bytes * 8 - 1)) - 1;
            if (!(r.smin >= lo && r.smax <= hi))
                v_mark_sized(&r, bytes, true);
            if (!is64) {
                if (r.smin < 0)
                    v_mark_sized(&r, 4, false);
            }
        } else if (!is64 && r.umax > UINT32_MAX) {
            v_mark_sized(&r, 4, false);
        }
        *d = r;
        return 0;
    }

    if (op == BPF_END) {
        if (v_is_pointer(d))
            return v_fail(v, st->insn, "byte swap of a pointer would expose an address");
        if (tnum_is_const(d->var)) {
            uint64_t x = d->var.value;
            bool swap = is64 || BPF_SRC(in->code) == BPF_TO_BE;
            uint64_t r = in->imm == 16 ? (swap ? __builtin_bswap16((uint16_t)x) : (uint16_t)x)
                       : in->imm == 32 ? (swap ? __builtin_bswap32((uint32_t)x) : (uint32_t)x)
                       : (swap ? __builtin_bswap64(x) : x);
            v_mark_const(d, r);
        } else if (!is64 && BPF_SRC(in->code) == BPF_TO_LE) {
            struct vreg r = *d;
            r.id = 0;
            if (in->imm < 64 && r.umax >= ((uint64_t)1 << in->imm))
                v_mark_sized(&r, (unsigned)in->imm / 8, false);
            *d = r;
        } else {
            v_mark_sized(d, (unsigned)in->imm / 8, false);
        }
        return 0;
    }

    bool dptr = v_is_pointer(d), sptr = v_is_pointer(&srcv);
    if (dptr || sptr) {
        if (!is64)
            return v_fail(v, st->insn, "32-bit arithmetic on a pointer would expose part of an address");
        /* Two hash-map values, say, differ by heap layout: a difference of
         * pointers can reveal addresses, so it is not allowed at all. */
        if (dptr && sptr)
            return v_fail(v, st->insn, "%s two pointers (the result could reveal addresses)",
                          op == BPF_SUB ? "subtracts" : "combines");
        if (!(op == BPF_ADD || (op == BPF_SUB && dptr)))
            return v_fail(v, st->insn, "arithmetic on a pointer other than adding or subtracting a scalar");
        struct vreg ptr = dptr ? *d : srcv, sc = dptr ? srcv : *d;
        if (is_or_null(&ptr))
            return v_fail(v, st->insn, "arithmetic on a possibly NULL pointer; compare it with 0 first");
        if (ptr.type == V_CONST_MAP || ptr.type == V_HANDLE)
            return v_fail(v, st->insn, "arithmetic on %s (it is opaque: it can only be passed to helpers)",
                          v_describe_kind(&ptr));
        if (ptr.type == V_PTR_CTX && !tnum_is_const(sc.var))
            return v_fail(v, st->insn, "adds a variable offset to the context pointer; context fields must be "
                                       "accessed at constant offsets");
        if (tnum_is_const(sc.var)) {
            int64_t k = (int64_t)sc.var.value, off;
            if (op == BPF_SUB)
                k = -k;
            if (add_overflows(ptr.off, k, &off) || off < -V_MAX_VAR_OFF || off > V_MAX_VAR_OFF)
                return v_fail(v, st->insn, "pointer arithmetic moves the pointer by %lld bytes, beyond the %d-byte limit",
                              (long long)k, V_MAX_VAR_OFF);
            ptr.off = (int32_t)off;
        } else {
            if (sc.smin < -V_MAX_VAR_OFF || sc.smax > V_MAX_VAR_OFF)
                return v_fail(v, st->insn, "adds an unbounded scalar to a pointer; check it against a limit first");
            struct vreg var = ptr;
            var.type = V_SCALAR;
            scalar_alu64(&var, &sc, op, 0);
            ptr.var = var.var;
            ptr.smin = var.smin;
            ptr.smax = var.smax;
            ptr.umin = var.umin;
            ptr.umax = var.umax;
        }
        ptr.id = 0;
        *d = ptr;
        return 0;
    }

    if (tnum_is_const(d->var) && tnum_is_const(srcv.var)) {
        v_mark_const(d, alu_const(op, is64, in->off, d->var.value, srcv.var.value));
        return 0;
    }
    if (is64)
        scalar_alu64(d, &srcv, op, in->off);
    else
        scalar_alu32(d, &srcv, op, in->off);
    return 0;
}

/* ------------------------------------------------------------ branches */

static uint8_t negate(uint8_t op)
{
    switch (op) {
    case BPF_JEQ: return BPF_JNE;
    case BPF_JNE: return BPF_JEQ;
    case BPF_JGT: return BPF_JLE;
    case BPF_JLE: return BPF_JGT;
    case BPF_JGE: return BPF_JLT;
    case BPF_JLT: return BPF_JGE;
    case BPF_JSGT: return BPF_JSLE;
    case BPF_JSLE: return BPF_JSGT;
    case BPF_JSGE: return BPF_JSLT;
    case BPF_JSLT: return BPF_JSGE;
    default: return 0xff; /* JSET's negation: no bit in common */
    }
}

/* Narrows a and b so that `a op b` holds. Returns false when it cannot. */
static bool refine(struct vreg *a, struct vreg *b, uint8_t op)
{
    switch (op) {
    case BPF_JEQ: {
        struct vreg m = *a;
        m.smin = smax64(a->smin, b->smin), m.smax = smin64(a->smax, b->smax);
        m.umin = umax64(a->umin, b->umin), m.umax = umin64(a->umax, b->umax);
        if ((a->var.value ^ b->var.value) & ~a->var.mask & ~b->var.mask)
            return false;
        m.var = tnum_intersect(a->var, b->var);
        uint32_t aid = a->id, bid = b->id;
        *a = m, *b = m;
        a->id = aid, b->id = bid;
        break;
    }
    case BPF_JNE:
        if (tnum_is_const(b->var)) {
            uint64_t k = b->var.value;
            if (tnum_is_const(a->var) && a->var.value == k)
                return false;
            if (a->umin == k) a->umin++;
            if (a->umax == k) a->umax--;
            if (a->smin == (int64_t)k) a->smin++;
            if (a->smax == (int64_t)k) a->smax--;
        } else if (tnum_is_const(a->var)) {
            return refine(b, a, BPF_JNE);
        }
        break;
    case BPF_JGT:
        if (b->umin == UINT64_MAX || a->umax == 0)
            return false;
        a->umin = umax64(a->umin, b->umin + 1);
        b->umax = umin64(b->umax, a->umax - 1);
        break;
    case BPF_JGE:
        a->umin = umax64(a->umin, b->umin);
        b->umax = umin64(b->umax, a->umax);
        break;
    case BPF_JLT:
        return refine(b, a, BPF_JGT);
    case BPF_JLE:
        return refine(b, a, BPF_JGE);
    case BPF_JSGT:
        if (b->smin == INT64_MAX || a->smax == INT64_MIN)
            return false;
        a->smin = smax64(a->smin, b->smin + 1);
        b->smax = smin64(b->smax, a->smax - 1);
        break;
    case BPF_JSGE:
        a->smin = smax64(a->smin, b->smin);
        b->smax = smin64(b->smax, a->smax);
        break;
    case BPF_JSLT:
        return refine(b, a, BPF_JSGT);
    case BPF_JSLE:
        return refine(b, a, BPF_JSGE);
    case BPF_JSET:
        if (tnum_is_const(a->var) && tnum_is_const(b->var) && !(a->var.value & b->var.value))
            return false;
        if (!((a->var.value | a->var.mask) & (b->var.value | b->var.mask)))
            return false;
        break;
    default: /* a & b == 0 */
        if ((a->var.value & b->var.value) != 0)
            return false;
        if (tnum_is_const(b->var)) {
            a->var.mask &= ~b->var.value;
        } else if (tnum_is_const(a->var)) {
            b->var.mask &= ~a->var.value;
        }
        break;
    }
    sync_bounds(a);
    sync_bounds(b);
    return !bounds_empty(a) && !bounds_empty(b);
}

/* Calls fn on every register and spilled register of the state that holds
 * the value with this id: copies of one value are refined together. */
static void for_each_copy(struct vstate *st, uint32_t id, void (*fn)(struct vreg *r, const void *arg),
                          const void *arg)
{
    for (uint32_t fi = 0; fi <= st->curframe; fi++) {
        struct vframe *f = st->frames[fi];
        for (int i = 0; i < PL_NREGS; i++)
            if (f->regs[i].id == id)
                fn(&f->regs[i], arg);
        for (uint16_t s = 0; s < f->nslots; s++)
            if (f->slots[s].spill_size && f->slots[s].spill.id == id)
                fn(&f->slots[s].spill, arg);
    }
}

static void copy_refined(struct vreg *r, const void *refined)
{
    const struct vreg *src = refined;
    if (r->type == src->type)
        *r = *src;
}

/* Gives every copy of r's value the refined bounds. */
static void propagate_id(struct vstate *st, const struct vreg *r)
{
    if (r->id)
        for_each_copy(st, r->id, copy_refined, r);
}

static void null_checked(struct vreg *r, const void *is_null)
{
    if (!is_or_null(r))
        return;
    if (*(const bool *)is_null)
        v_mark_const(r, 0);
    else
        r->type = r->type == V_PTR_MAP_VALUE_OR_NULL ? V_PTR_MAP_VALUE : V_PTR_MEM;
}

/* NULL check outcome for every copy of a possibly NULL pointer. */
static void mark_null_checked(struct vstate *st, uint32_t id, bool is_null)
{
    for_each_copy(st, id, null_checked, &is_null);
}

/* For jumps on 32-bit subregisters, the 64-bit analysis applies when both
 * values fit in 31 bits (same order signed and unsigned, same value). */
static bool fits31(const struct vreg *r)
{
    return r->umax <= INT32_MAX;
}

static int cond_jump(struct verifier *v, struct vstate *st, const struct pl_insn *in)
{
    struct vframe *f = v_cur_frame(st);
    uint8_t op = BPF_OP(in->code);
    bool is32 = BPF_CLASS(in->code) == BPF_JMP32;
    uint32_t target = st->insn + (uint32_t)in->off + 1;
    int rc;
    if ((rc = need_init(v, st, in->dst)))
        return rc;
    struct vreg *a = &f->regs[in->dst];
    struct vreg bconst, *b;
    if (BPF_SRC(in->code) == BPF_X) {
        if ((rc = need_init(v, st, in->src)))
            return rc;
        b = &f->regs[in->src];
    } else {
        v_mark_const(&bconst, is32 ? (uint32_t)in->imm : (uint64_t)(int64_t)in->imm);
        b = &bconst;
    }

    if (v_is_pointer(a) || v_is_pointer(b)) {
        bool null_check = !is32 && (op == BPF_JEQ || op == BPF_JNE) && !v_is_pointer(b) &&
                          tnum_is_const(b->var) && b->var.value == 0;
        if (!null_check)
            return v_fail(v, st->insn, "compares %s (pointer comparisons would leak addresses; only a NULL check "
                                       "against 0 is allowed)", v_describe_kind(v_is_pointer(a) ? a : b));
        bool jump_if_null = op == BPF_JEQ;
        if (a->type == V_HANDLE) {
            /* A host handle may be 0: both outcomes are possible, and the
             * handle stays opaque on both. */
            struct vstate *other;
            if ((rc = v_fork(v, st, target, &other)))
                return rc;
            st->insn++;
            return 0;
        }
        if (!is_or_null(a)) {
            /* Context, stack and checked map pointers are never NULL. */
            st->insn = jump_if_null ? st->insn + 1 : target;
            return 0;
        }
        uint32_t id = a->id;
        struct vstate *other;
        if ((rc = v_fork(v, st, target, &other)))
            return rc;
        mark_null_checked(other, id, jump_if_null);
        mark_null_checked(st, id, !jump_if_null);
        st->insn++;
        return 0;
    }

    bool exact = !is32 || (fits31(a) && fits31(b));
    struct vreg ta = *a, tb = *b, fa = *a, fb = *b;
    bool can_take = true, can_fall = true;
    if (exact) {
        can_take = refine(&ta, &tb, op);
        can_fall = refine(&fa, &fb, negate(op));
    } else if (tnum_is_const(a->var) && tnum_is_const(b->var)) {
        struct vreg ca, cb;
        v_mark_const(&ca, (uint32_t)a->var.value);
        v_mark_const(&cb, (uint32_t)b->var.value);
        /* Signed 32-bit compares: sign-extend both sides first. */
        if (op == BPF_JSGT || op == BPF_JSGE || op == BPF_JSLT || op == BPF_JSLE) {
            v_mark_const(&ca, (uint64_t)(int64_t)(int32_t)a->var.value);
            v_mark_const(&cb, (uint64_t)(int64_t)(int32_t)b->var.value);
        }
        struct vreg ca2 = ca, cb2 = cb;
        can_take = refine(&ca, &cb, op);
        can_fall = refine(&ca2, &cb2, negate(op));
        ta = *a, tb = *b, fa = *a, fb = *b;
    }
    if (can_take && !can_fall) {
        st->insn = target;
        return 0;
    }
    if (!can_take) {
        st->insn++;
        return 0;
    }
    struct vstate *other;
    if ((rc = v_fork(v, st, target, &other)))
        return rc;
    struct vframe *of = other->frames[other->curframe];
    of->regs[in->dst] = ta;
    propagate_id(other, &ta);
    if (BPF_SRC(in->code) == BPF_X) {
        of->regs[in->src] = tb;
        propagate_id(other, &tb);
    }
    *a = fa;
    propagate_id(st, &fa);
    if (BPF_SRC(in->code) == BPF_X) {
        f->regs[in->src] = fb;
        propagate_id(st, &fb);
    }
    st->insn++;
    return 0;
}

/* ------------------------------------------------------------ calls */

static int helper_call(struct verifier *v, struct vstate *st, const struct pl_insn *in)
{
    struct vframe *f = v_cur_frame(st);
    const struct pl_helper_spec *hs = pl_helper_find(v->prog->rt, (uint32_t)in->imm);
    int rc;
    if (v->hs) {
        bool allowed = false;
        for (uint32_t i = 0; i < v->hs->nhelpers && !allowed; i++)
            allowed = v->hs->helpers[i] == (uint32_t)in->imm;
        if (!allowed)
            return v_fail(v, st->insn, "helper %s (id %d) is not allowed in hook %s", hs->name, in->imm,
                          v->hs->name);
        if ((hs->flags & PL_HELPER_UNWIND_ON_ZERO) && v->hs->has_ret_range &&
            (v->hs->ret_min > 0 || v->hs->ret_max < 0))
            return v_fail(v, st->insn, "helper %s may stop the program with r0 = 0, outside hook %s's return range",
                          hs->name, v->hs->name);
    }
    int map_idx = -1;
    for (int i = 0; i < 5; i++) {
        uint8_t kind = hs->args[i], regno = (uint8_t)(i + 1);
        struct vreg *r = &f->regs[regno];
        if (kind == PL_ARG_NONE || kind == PL_ARG_MEM_SIZE)
            continue;
        if (r->type == V_NOT_INIT)
            return v_fail(v, st->insn, "argument %d of %s (r%u) is not initialised", i + 1, hs->name, regno);
        switch (kind) {
        case PL_ARG_SCALAR:
            if (r->type != V_SCALAR)
                return v_fail(v, st->insn, "argument %d of %s must be a scalar; r%u is %s (addresses must not "
                                           "leak to helpers)", i + 1, hs->name, regno, v_describe_kind(r));
            break;
        case PL_ARG_MAP:
            if (r->type != V_CONST_MAP)
                return v_fail(v, st->insn, "argument %d of %s must be a map; r%u is %s", i + 1, hs->name, regno,
                              v_describe_kind(r));
            map_idx = (int)r->aux;
            break;
        case PL_ARG_MAP_KEY:
        case PL_ARG_MAP_VALUE: {
            if (map_idx < 0)
                return v_fail(v, st->insn, "helper %s takes a map key or value but no map", hs->name);
            const struct pl_map_spec *ms = pl_map_info(v->prog->maps[map_idx]);
            uint32_t size = kind == PL_ARG_MAP_KEY ? ms->key_size : ms->value_size;
            if ((rc = v_helper_mem(v, st, i + 1, hs->name, regno, size, true, false)))
                return rc;
            break;
        }
        case PL_ARG_MEM:
        case PL_ARG_MEM_UNINIT: {
            const struct vreg *sz = i < 4 ? &f->regs[regno + 1] : NULL;
            if (!sz || hs->args[i + 1] != PL_ARG_MEM_SIZE)
                return v_fail(v, st->insn, "helper %s declares a memory argument without a size", hs->name);
            if (sz->type != V_SCALAR)
                return v_fail(v, st->insn, "argument %d of %s (a size) must be a scalar; r%u is %s", i + 2, hs->name,
                              regno + 1, v_describe_kind(sz));
            if (sz->smin < 0)
                return v_fail(v, st->insn, "argument %d of %s (a size) may be negative", i + 2, hs->name);
            if ((rc = v_helper_mem(v, st, i + 1, hs->name, regno, sz->umax, sz->umin == sz->umax,
                                 kind == PL_ARG_MEM_UNINIT)))
                return rc;
            break;
        }
        case PL_ARG_CTX:
            if (r->type != V_PTR_CTX || r->off || !tnum_is_const(r->var) || r->var.value)
                return v_fail(v, st->insn, "argument %d of %s must be the context pointer (r1 at entry)", i + 1,
                              hs->name);
            break;
        case PL_ARG_HANDLE:
            if (r->type != V_HANDLE)
                return v_fail(v, st->insn, "argument %d of %s must be a host handle; r%u is %s", i + 1, hs->name,
                              regno, v_describe_kind(r));
            break;
        case PL_ARG_STR: {
            const struct pl_map_spec *ms = r->type == V_PTR_MAP_VALUE ? pl_map_info(v->prog->maps[r->aux]) : NULL;
            if (!ms || !(ms->flags & MAP_RDONLY_PROG) || !tnum_is_const(r->var) ||
                r->off + (int64_t)r->var.value < 0 || r->off + (int64_t)r->var.value >= ms->value_size ||
                !memchr((const char *)pl_map_value_base(v->prog->maps[r->aux]) + r->off + r->var.value, 0,
                        ms->value_size - (uint32_t)(r->off + (int64_t)r->var.value)))
                return v_fail(v, st->insn, "argument %d of %s must be a constant string in read-only global data",
                              i + 1, hs->name);
            break;
        }
        }
    }
    for (int i = 1; i <= 5; i++)
        v_mark_not_init(&f->regs[i]);
    struct vreg *r0 = &f->regs[0];
    switch (hs->ret) {
    case PL_RET_SCALAR:
        v_mark_unknown(r0);
        break;
    case PL_RET_VOID:
        v_mark_not_init(r0);
        break;
    case PL_RET_MAP_VALUE_OR_NULL:
        if (map_idx < 0)
            return v_fail(v, st->insn, "helper %s returns a map value but takes no map", hs->name);
        v_mark_const(r0, 0);
        r0->type = V_PTR_MAP_VALUE_OR_NULL;
        r0->aux = (uint32_t)map_idx;
        r0->id = ++v->id_gen;
        break;
    case PL_RET_MEM_OR_NULL:
        v_mark_const(r0, 0);
        r0->type = V_PTR_MEM_OR_NULL;
        r0->aux = hs->ret_size;
        r0->id = ++v->id_gen;
        break;
    default:
        v_mark_not_init(r0);
        r0->type = V_HANDLE;
        break;
    }
    st->insn++;
    return 0;
}

static int local_call(struct verifier *v, struct vstate *st, const struct pl_insn *in)
{
    if (st->curframe + 1 >= PL_MAX_CALL_DEPTH)
        return v_fail(v, st->insn, "local calls nest deeper than %d frames", PL_MAX_CALL_DEPTH);
    struct vframe *caller = v_cur_frame(st), *callee = v_frame_alloc(v);
    if (!callee)
        return pl_fail(v->err, PL_ENOMEM, -1, "out of memory verifying the program");
    uint32_t target = st->insn + (uint32_t)in->imm + 1;
    memset(callee->regs, 0, sizeof(callee->regs));
    for (int i = 1; i <= 5; i++)
        callee->regs[i] = caller->regs[i];
    v_mark_const(&callee->regs[10], 0);
    callee->regs[10].type = V_PTR_STACK;
    callee->regs[10].frameno = (uint8_t)(st->curframe + 1);
    callee->nslots = 0;
    callee->callsite = st->insn;
    callee->subprog = pl_subprog_of(v->prog, target);
    st->frames[++st->curframe] = callee;
    st->insn = target;
    return 0;
}

static int do_exit(struct verifier *v, struct vstate *st)
{
    struct vframe *f = v_cur_frame(st);
    struct vreg *r0 = &f->regs[0];
    /* A function may return nothing (void); its caller then cannot read r0. */
    if (r0->type == V_NOT_INIT && !st->curframe)
        return v_fail(v, st->insn, "r0 is not initialised at exit (the program returns nothing)");
    if (st->curframe) {
        if (r0->type == V_PTR_STACK && r0->frameno == st->curframe)
            return v_fail(v, st->insn, "returns a pointer to the function's own stack (it would dangle)");
        struct vframe *caller = st->frames[st->curframe - 1];
        caller->regs[0] = *r0;
        for (int i = 1; i <= 5; i++)
            v_mark_not_init(&caller->regs[i]);
        st->insn = f->callsite + 1;
        *(struct vframe **)f = v->free_frames;
        v->free_frames = f;
        st->frames[st->curframe--] = NULL;
        return 0;
    }
    if (r0->type != V_SCALAR)
        return v_fail(v, st->insn, "returns %s in r0 (addresses must not leak to the host)", v_describe_kind(r0));
    if (v->hs && v->hs->has_ret_range && (r0->smin < v->hs->ret_min || r0->smax > v->hs->ret_max))
        return v_fail(v, st->insn, "r0 at exit may be in [%lld, %lld], outside hook %s's return range [%lld, %lld]",
                      (long long)r0->smin, (long long)r0->smax, v->hs->name, (long long)v->hs->ret_min,
                      (long long)v->hs->ret_max);
    return 1;
}

/* ------------------------------------------------------------ step */

int v_step(struct verifier *v, struct vstate *st)
{
    const struct pl_insn *in = &v->prog->insns[st->insn];
    struct vframe *f = v_cur_frame(st);
    uint8_t cls = BPF_CLASS(in->code);
    uint32_t size = (uint32_t[]){4, 2, 1, 8}[BPF_SIZE(in->code) >> 3];
    int rc;

    switch (cls) {
    case BPF_ALU:
    case BPF_ALU64:
        if ((rc = alu(v, st, in)))
            return rc;
        st->insn++;
        return 0;
    case BPF_LD: { /* lddw, resolved by the loader */
        const struct pl_insn_aux *aux = &v->prog->aux[st->insn];
        struct vreg *d = &f->regs[in->dst];
        uint64_t value = (uint32_t)in->imm | ((uint64_t)(uint32_t)in[1].imm << 32);
        v_mark_const(d, 0);
        if (aux->kind == PL_INSN_LDDW_MAP) {
            d->type = V_CONST_MAP;
            d->aux = aux->map;
        } else if (aux->kind == PL_INSN_LDDW_MAP_VALUE) {
            d->type = V_PTR_MAP_VALUE;
            d->aux = aux->map;
            d->off = (int32_t)aux->offset;
        } else {
            v_mark_const(d, value);
        }
        st->insn += 2;
        return 0;
    }
    case BPF_LDX: {
        struct vreg out;
        if ((rc = v_mem_access(v, st, in->src, in->off, size, false, false, BPF_MODE(in->code) == BPF_MEMSX, NULL, &out)))
            return rc;
        f->regs[in->dst] = out;
        st->insn++;
        return 0;
    }
    case BPF_ST: {
        struct vreg val;
        v_mark_const(&val, (uint64_t)(int64_t)in->imm);
        if ((rc = v_mem_access(v, st, in->dst, in->off, size, true, false, false, &val, NULL)))
            return rc;
        st->insn++;
        return 0;
    }
    case BPF_STX: {
        if ((rc = need_init(v, st, in->src)))
            return rc;
        struct vreg val = f->regs[in->src];
        bool atomic = BPF_MODE(in->code) == BPF_ATOMIC;
        if (atomic) {
            if (v_is_pointer(&val))
                return v_fail(v, st->insn, "atomic operation with a pointer operand (addresses must not leak)");
            if (in->imm == BPF_CMPXCHG) {
                if ((rc = need_init(v, st, 0)))
                    return rc;
                if (v_is_pointer(&f->regs[0]))
                    return v_fail(v, st->insn, "cmpxchg compares r0, which holds a pointer");
            }
        }
        if ((rc = v_mem_access(v, st, in->dst, in->off, size, true, atomic, false, &val, NULL)))
            return rc;
        if (atomic && in->imm == BPF_CMPXCHG)
            v_mark_sized(&f->regs[0], size, false);
        else if (atomic && (in->imm & BPF_FETCH))
            v_mark_sized(&f->regs[in->src], size, false);
        st->insn++;
        return 0;
    }
    default: { /* BPF_JMP, BPF_JMP32 */
        uint8_t op = BPF_OP(in->code);
        if (op == BPF_EXIT)
            return do_exit(v, st);
        if (op == BPF_CALL) {
            if (BPF_SRC(in->code) == BPF_X)
                return v_fail(v, st->insn, "callx cannot be verified (its target helper is not known before it runs)");
            if (in->src == BPF_PSEUDO_CALL)
                return local_call(v, st, in);
            return helper_call(v, st, in);
        }
        if (op == BPF_JA) {
            st->insn += (uint32_t)(cls == BPF_JMP32 ? in->imm : in->off) + 1;
            return 0;
        }
        return cond_jump(v, st, in);
    }
    }
}
