/*
 * The verifier's transfer function: what each instruction does to the
 * abstract state, and the safety rules it must satisfy on the way.
 *
 * Regions a pointer may reach: the hook's context (declared fields only,
 * exact sizes, writes only to writable fields), the 512-byte stack of each
 * frame, map values (after a NULL check), and memory a helper returns with
 * a size. Map references and host handles are opaque: they can only be
 * passed to helpers. Pointers never become scalars (no leaks through
 * arithmetic, comparisons, stores to maps or the context, helper scalar
 * arguments or r0).
 */
#include "verifier.h"

#include <stdio.h>
#include <string.h>

#define MAP_RDONLY_PROG (1u << 7) /* BPF_F_RDONLY_PROG: global .rodata */

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
static void mark_sized(struct vreg *r, unsigned bytes, bool sign_extend)
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

/* ------------------------------------------------------------ helpers */

static struct vframe *cur_frame(struct vstate *st)
{
    return st->frames[st->curframe];
}

static int need_init(struct verifier *v, struct vstate *st, uint8_t regno)
{
    if (cur_frame(st)->regs[regno].type == V_NOT_INIT)
        return v_fail(v, st->insn, "reads r%u before it is initialised", regno);
    return 0;
}

static const char *describe_kind(const struct vreg *r)
{
    switch (r->type) {
    case V_NOT_INIT: return "an uninitialised register";
    case V_SCALAR: return "a scalar";
    case V_PTR_CTX: return "a context pointer";
    case V_PTR_STACK: return "a stack pointer";
    case V_PTR_MAP_VALUE: return "a map value pointer";
    case V_PTR_MAP_VALUE_OR_NULL: return "a possibly NULL map value pointer";
    case V_CONST_MAP: return "a map reference";
    case V_PTR_MEM: return "a helper memory pointer";
    case V_PTR_MEM_OR_NULL: return "a possibly NULL helper memory pointer";
    default: return "an opaque handle";
    }
}

/* Bounds of the byte range [lo, hi) a pointer access may touch. */
static int access_range(struct verifier *v, struct vstate *st, const struct vreg *p, int16_t insn_off,
                        uint32_t size, int64_t *lo, int64_t *hi)
{
    if (p->smin < -V_MAX_VAR_OFF || p->smax > V_MAX_VAR_OFF)
        return v_fail(v, st->insn, "pointer has an unbounded variable offset (%s); check the index against "
                                   "a limit before using it", p->smax > V_MAX_VAR_OFF ? "no upper bound" : "no lower bound");
    *lo = (int64_t)p->off + p->smin + insn_off;
    *hi = (int64_t)p->off + p->smax + insn_off + size;
    return 0;
}

/* ------------------------------------------------------------ stack */

static void ensure_slots(struct vframe *f, uint16_t n)
{
    while (f->nslots < n) {
        memset(&f->slots[f->nslots], 0, sizeof(f->slots[0]));
        f->nslots++;
    }
}

static struct vslot *slot_of(struct vframe *f, int64_t addr, int *byte)
{
    uint16_t s = (uint16_t)((-addr - 1) / 8);
    *byte = (int)(addr + (int64_t)(s + 1) * 8);
    ensure_slots(f, (uint16_t)(s + 1));
    return &f->slots[s];
}

static uint8_t slot_byte_type(const struct vframe *f, int64_t addr)
{
    uint16_t s = (uint16_t)((-addr - 1) / 8);
    if (s >= f->nslots)
        return SB_INVALID;
    return f->slots[s].type[addr + (int64_t)(s + 1) * 8];
}

/* A write of part of a slot ends a spill: bytes of a spilled pointer that
 * are not overwritten must never be read as data (they hold address bits). */
static void break_spill(struct vslot *sl)
{
    if (!sl->spill_size)
        return;
    uint8_t rest = v_is_pointer(&sl->spill) ? SB_INVALID : SB_MISC;
    for (int b = sl->spill_off; b < sl->spill_off + sl->spill_size; b++)
        sl->type[b] = rest;
    sl->spill_size = 0;
}

/* Bytes [lo, hi) may or may not have been written (variable offset or
 * size): data stays data, but bytes that held a spilled pointer (address
 * bits) or nothing must never be read afterwards. */
static void stack_maybe_written(struct vframe *f, int64_t lo, int64_t hi)
{
    for (int64_t a = lo; a < hi; a++) {
        int b;
        struct vslot *sl = slot_of(f, a, &b);
        uint8_t before = sl->type[b];
        break_spill(sl);
        sl->type[b] = before == SB_INVALID || sl->type[b] == SB_INVALID ? SB_INVALID : SB_MISC;
    }
}

/* Bytes [lo, hi) were all written with data. */
static void stack_written(struct vframe *f, int64_t lo, int64_t hi)
{
    for (int64_t a = lo; a < hi; a++) {
        int b;
        struct vslot *sl = slot_of(f, a, &b);
        break_spill(sl);
        sl->type[b] = SB_MISC;
    }
}

static void note_depth(struct verifier *v, struct vframe *f, int64_t lo)
{
    if ((uint64_t)-lo > v->subprog_stack[f->subprog])
        v->subprog_stack[f->subprog] = (uint32_t)-lo;
}

static int stack_check_bounds(struct verifier *v, struct vstate *st, int64_t lo, int64_t hi, uint32_t size)
{
    if (lo >= -PL_STACK_SIZE && hi <= 0)
        return 0;
    if (hi - lo == size)
        return v_fail(v, st->insn, "accesses %u bytes at fp%+lld, outside the %d-byte stack frame", size,
                      (long long)lo, PL_STACK_SIZE);
    return v_fail(v, st->insn, "accesses %u bytes at fp%+lld..fp%+lld, outside the %d-byte stack frame; bound "
                               "the offset first", size, (long long)lo, (long long)(hi - size), PL_STACK_SIZE);
}

static int stack_write(struct verifier *v, struct vstate *st, const struct vreg *p, int16_t insn_off,
                       uint32_t size, const struct vreg *val)
{
    struct vframe *f = st->frames[p->frameno];
    int64_t lo = 0, hi = 0;
    int rc = access_range(v, st, p, insn_off, size, &lo, &hi);
    if (rc || (rc = stack_check_bounds(v, st, lo, hi, size)))
        return rc;
    note_depth(v, f, lo);
    if (v_is_pointer(val)) {
        if (val->type == V_PTR_STACK && val->frameno > p->frameno)
            return v_fail(v, st->insn, "stores a pointer to a callee's stack into its caller's stack (it would dangle)");
        if (!tnum_is_const(p->var) || size != 8 || lo % 8)
            return v_fail(v, st->insn, "stores a pointer with a store of %u bytes at fp%+lld; pointers are "
                                       "spilled whole, with 8-byte stores to 8-byte aligned slots", size, (long long)lo);
    }
    if (!tnum_is_const(p->var)) {
        /* Variable offset: any byte in range may be written. */
        for (int64_t a = lo; a < hi; a++)
            if (slot_byte_type(f, a) == SB_INVALID)
                return v_fail(v, st->insn, "variable-offset write into stack bytes at fp%+lld that were never "
                                           "initialised; initialise the buffer first", (long long)a);
        stack_maybe_written(f, lo, hi);
        return 0;
    }
    /* A whole register, or a scalar that fits the store, is kept as a spill. */
    bool fits = size == 8 || (val->type == V_SCALAR && val->umax < ((uint64_t)1 << (size * 8)));
    if (fits && lo % size == 0) {
        int b;
        struct vslot *sl = slot_of(f, lo, &b);
        break_spill(sl);
        memset(sl->type + b, SB_SPILL, size);
        sl->spill = *val;
        sl->spill_off = (uint8_t)b;
        sl->spill_size = (uint8_t)size;
        return 0;
    }
    bool zero = val->type == V_SCALAR && tnum_is_const(val->var) && val->var.value == 0;
    for (int64_t a = lo; a < hi; a++) {
        int b;
        struct vslot *sl = slot_of(f, a, &b);
        break_spill(sl);
        sl->type[b] = zero ? SB_ZERO : SB_MISC;
    }
    return 0;
}

static int stack_read(struct verifier *v, struct vstate *st, const struct vreg *p, int16_t insn_off,
                      uint32_t size, bool sign_extend, struct vreg *out)
{
    struct vframe *f = st->frames[p->frameno];
    int64_t lo = 0, hi = 0;
    int rc = access_range(v, st, p, insn_off, size, &lo, &hi);
    if (rc || (rc = stack_check_bounds(v, st, lo, hi, size)))
        return rc;
    note_depth(v, f, lo);
    if (tnum_is_const(p->var)) {
        uint16_t s = (uint16_t)((-lo - 1) / 8);
        const struct vslot *sl = s < f->nslots ? &f->slots[s] : NULL;
        int b = (int)(lo + (int64_t)(s + 1) * 8);
        if (sl && sl->spill_size == size && sl->spill_off == b) {
            *out = sl->spill;
            /* A narrow scalar spill fits its bytes; sign extension keeps it
             * only when it is non-negative in that width. */
            if (sign_extend && size < 8 && out->umax >= ((uint64_t)1 << (size * 8 - 1)))
                mark_sized(out, size, true);
            return 0;
        }
    }
    bool all_zero = true;
    for (int64_t a = lo; a < hi; a++) {
        uint8_t t = slot_byte_type(f, a);
        if (t == SB_INVALID)
            return v_fail(v, st->insn, "reads %u bytes at fp%+lld, but the byte at fp%+lld holds no data (not "
                                       "written on every path, or left over from a pointer)", size, (long long)lo,
                          (long long)a);
        if (t == SB_SPILL) {
            const struct vslot *sl = &f->slots[(-a - 1) / 8];
            if (v_is_pointer(&sl->spill))
                return v_fail(v, st->insn, "reads part of a spilled pointer at fp%+lld", (long long)a);
            if (!(tnum_is_const(sl->spill.var) && sl->spill.var.value == 0))
                all_zero = false;
        } else if (t != SB_ZERO) {
            all_zero = false;
        }
    }
    if (all_zero)
        v_mark_const(out, 0);
    else
        mark_sized(out, size, sign_extend);
    return 0;
}

/* ------------------------------------------------------------ context */

static int ctx_access(struct verifier *v, struct vstate *st, const struct vreg *p, int16_t insn_off, uint32_t size,
                      bool write, bool atomic, bool sign_extend, const struct vreg *val, struct vreg *out)
{
    const char *verb = write ? "writes" : "reads";
    if (!tnum_is_const(p->var))
        return v_fail(v, st->insn, "accesses the context at a variable offset; context fields must be "
                                   "accessed at constant offsets");
    int64_t at = (int64_t)p->off + (int64_t)p->var.value + insn_off;
    if (atomic)
        return v_fail(v, st->insn, "atomic operation on the context is not allowed");
    if (write && v_is_pointer(val))
        return v_fail(v, st->insn, "writes a pointer into the context (addresses must not leak to the host)");
    if (!v->hs) {
        if (!v->ctx_size)
            return v_fail(v, st->insn, "%s the context, but the program was loaded without a hook or context size",
                          verb);
        if (at < 0 || at + size > v->ctx_size)
            return v_fail(v, st->insn, "%s %u bytes at ctx%+lld, outside the %u-byte context", verb, size,
                          (long long)at, v->ctx_size);
        if (!write)
            mark_sized(out, size, sign_extend);
        return 0;
    }
    const struct pl_hook_spec *hs = v->hs;
    if (at < 0 || at + size > hs->ctx_size)
        return v_fail(v, st->insn, "%s %u bytes at ctx%+lld, past the %u-byte context of hook %s", verb, size,
                      (long long)at, hs->ctx_size, hs->name);
    const struct pl_hook_field *field = NULL;
    for (uint32_t i = 0; i < hs->nfields && !field; i++)
        if (at >= hs->fields[i].offset && at < hs->fields[i].offset + hs->fields[i].size)
            field = &hs->fields[i];
    if (!field)
        return v_fail(v, st->insn, "%s %u bytes at ctx%+lld, which is not a field of hook %s's context", verb,
                      size, (long long)at, hs->name);
    if (at != field->offset || size != field->size)
        return v_fail(v, st->insn, "%s %u bytes at ctx%+lld; field '%s' of hook %s is %u bytes at ctx+%u "
                                   "(access it whole)", verb, size, (long long)at, field->name, hs->name,
                      field->size, field->offset);
    if (write && !(field->access & PL_FIELD_WRITE))
        return v_fail(v, st->insn, "writes field '%s' of hook %s, which is read-only", field->name, hs->name);
    if (!write && !(field->access & PL_FIELD_READ))
        return v_fail(v, st->insn, "reads field '%s' of hook %s, which is write-only", field->name, hs->name);
    if (!write) {
        if (field->kind == PL_FIELD_HANDLE) {
            if (sign_extend)
                return v_fail(v, st->insn, "sign-extending load of handle field '%s'", field->name);
            v_mark_not_init(out);
            out->type = V_HANDLE;
        } else {
            mark_sized(out, size, sign_extend);
        }
    }
    return 0;
}

/* ------------------------------------------------------------ memory */

/* Map values and helper memory: a byte range of known size. */
static int sized_access(struct verifier *v, struct vstate *st, const struct vreg *p, int16_t insn_off,
                        uint32_t size, bool write, bool atomic, bool sign_extend, const struct vreg *val,
                        struct vreg *out)
{
    uint32_t region;
    char what[96];
    bool rdonly = false;
    if (p->type == V_PTR_MAP_VALUE) {
        const struct pl_map_spec *ms = pl_map_info(v->prog->maps[p->aux]);
        region = ms->value_size;
        rdonly = ms->flags & MAP_RDONLY_PROG;
        snprintf(what, sizeof(what), "the value of map '%s'", ms->name);
    } else {
        region = p->aux;
        snprintf(what, sizeof(what), "helper memory");
    }
    int64_t lo = 0, hi = 0;
    int rc = access_range(v, st, p, insn_off, size, &lo, &hi);
    if (rc)
        return rc;
    if (lo < 0 || hi > region) {
        if (lo == hi - size)
            return v_fail(v, st->insn, "%s %u bytes at offset %lld of %s, outside its %u bytes",
                          write ? "writes" : "reads", size, (long long)lo, what, region);
        return v_fail(v, st->insn, "%s %u bytes at offset %lld..%lld of %s, outside its %u bytes; bound the "
                                   "index first", write ? "writes" : "reads", size, (long long)lo,
                      (long long)(hi - size), what, region);
    }
    if (write && (rdonly || p->type == V_PTR_MEM))
        return v_fail(v, st->insn, "writes into %s, which is read-only", what);
    if (write && val && v_is_pointer(val))
        return v_fail(v, st->insn, "stores a pointer into %s (addresses must not leak)", what);
    if (atomic && !tnum_is_aligned(tnum_add(tnum_const((uint64_t)(p->off + insn_off)), p->var), size))
        return v_fail(v, st->insn, "atomic operation on %s at a possibly misaligned offset", what);
    if (!write)
        mark_sized(out, size, sign_extend);
    return 0;
}

static int mem_access(struct verifier *v, struct vstate *st, uint8_t regno, int16_t insn_off, uint32_t size,
                      bool write, bool atomic, bool sign_extend, const struct vreg *val, struct vreg *out)
{
    const struct vreg *p = &cur_frame(st)->regs[regno];
    switch (p->type) {
    case V_NOT_INIT:
        return v_fail(v, st->insn, "reads r%u before it is initialised", regno);
    case V_SCALAR:
        return v_fail(v, st->insn, "dereferences r%u, which holds a scalar, not a pointer", regno);
    case V_CONST_MAP:
        return v_fail(v, st->insn, "dereferences r%u, a map reference; pass it to a map helper instead", regno);
    case V_HANDLE:
        return v_fail(v, st->insn, "dereferences r%u, an opaque host handle; handles can only be passed to helpers",
                      regno);
    case V_PTR_MAP_VALUE_OR_NULL:
    case V_PTR_MEM_OR_NULL:
        return v_fail(v, st->insn, "dereferences r%u, which may be NULL; compare it with 0 first", regno);
    case V_PTR_CTX:
        return ctx_access(v, st, p, insn_off, size, write, atomic, sign_extend, val, out);
    case V_PTR_STACK:
        if (write) {
            if (atomic) {
                struct vreg tmp;
                int rc = stack_read(v, st, p, insn_off, size, false, &tmp);
                if (rc)
                    return rc;
                if (v_is_pointer(&tmp))
                    return v_fail(v, st->insn, "atomic operation on a spilled pointer at fp%+lld",
                                  (long long)(p->off + (int64_t)p->var.value + insn_off));
                if (!tnum_is_const(p->var) || (p->off + insn_off) % (int)size)
                    return v_fail(v, st->insn, "atomic operation on the stack at a variable or misaligned offset");
                struct vreg unknown;
                v_mark_unknown(&unknown);
                return stack_write(v, st, p, insn_off, size, &unknown);
            }
            return stack_write(v, st, p, insn_off, size, val);
        }
        return stack_read(v, st, p, insn_off, size, sign_extend, out);
    default:
        return sized_access(v, st, p, insn_off, size, write, atomic, sign_extend, val, out);
    }
}

/* ------------------------------------------------------------ ALU */

static int alu(struct verifier *v, struct vstate *st, const struct pl_insn *in)
{
    struct vframe *f = cur_frame(st);
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
                mark_sized(&r, bytes, true);
            if (!is64) {
                if (r.smin < 0)
                    mark_sized(&r, 4, false);
            }
        } else if (!is64 && r.umax > UINT32_MAX) {
            mark_sized(&r, 4, false);
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
                mark_sized(&r, (unsigned)in->imm / 8, false);
            *d = r;
        } else {
            mark_sized(d, (unsigned)in->imm / 8, false);
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
                          describe_kind(&ptr));
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
    struct vframe *f = cur_frame(st);
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
                                       "against 0 is allowed)", describe_kind(v_is_pointer(a) ? a : b));
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

/* Checks that [r, r+size) is memory the program may pass to a helper. */
static int helper_mem(struct verifier *v, struct vstate *st, int argno, const char *helper, uint8_t regno,
                      uint64_t size, bool exact_size, bool write)
{
    const struct vreg *p = &cur_frame(st)->regs[regno];
    if (size == 0)
        return 0;
    if (size > PL_STACK_SIZE * 16u)
        return v_fail(v, st->insn, "argument %d of %s (the size of argument %d) may be up to %llu bytes; bound it "
                                   "first", argno + 1, helper, argno, (unsigned long long)size);
    switch (p->type) {
    case V_PTR_STACK: {
        struct vframe *f = st->frames[p->frameno];
        int64_t lo = 0, hi = 0;
        int rc = access_range(v, st, p, 0, (uint32_t)size, &lo, &hi);
        if (rc)
            return rc;
        if (lo < -PL_STACK_SIZE || hi > 0)
            return v_fail(v, st->insn, "argument %d of %s needs %llu bytes at fp%+lld, past the end of the stack "
                                       "frame", argno, helper, (unsigned long long)size, (long long)lo);
        note_depth(v, f, lo);
        for (int64_t a = lo; a < hi; a++) {
            uint8_t t = slot_byte_type(f, a);
            if (!write && t == SB_INVALID)
                return v_fail(v, st->insn, "argument %d of %s points to %llu bytes at fp%+lld, but the byte at "
                                           "fp%+lld was not written on every path", argno, helper,
                              (unsigned long long)size, (long long)lo, (long long)a);
            if (!write && t == SB_SPILL && v_is_pointer(&f->slots[(-a - 1) / 8].spill))
                return v_fail(v, st->insn, "argument %d of %s covers a spilled pointer at fp%+lld (it would leak)",
                              argno, helper, (long long)a);
        }
        if (write) {
            /* The helper writes exactly these bytes only when both the
             * offset and the size are known. */
            if (tnum_is_const(p->var) && exact_size)
                stack_written(f, lo, hi);
            else
                stack_maybe_written(f, lo, hi);
        }
        return 0;
    }
    case V_PTR_MAP_VALUE:
    case V_PTR_MEM: {
        struct vreg tmp;
        int rc = sized_access(v, st, p, 0, (uint32_t)size, write, false, false, NULL, &tmp);
        return rc;
    }
    default:
        return v_fail(v, st->insn, "argument %d of %s must point to the stack, a map value or helper memory; r%u is %s",
                      argno, helper, regno, describe_kind(p));
    }
}

static int helper_call(struct verifier *v, struct vstate *st, const struct pl_insn *in)
{
    struct vframe *f = cur_frame(st);
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
                                           "leak to helpers)", i + 1, hs->name, regno, describe_kind(r));
            break;
        case PL_ARG_MAP:
            if (r->type != V_CONST_MAP)
                return v_fail(v, st->insn, "argument %d of %s must be a map; r%u is %s", i + 1, hs->name, regno,
                              describe_kind(r));
            map_idx = (int)r->aux;
            break;
        case PL_ARG_MAP_KEY:
        case PL_ARG_MAP_VALUE: {
            if (map_idx < 0)
                return v_fail(v, st->insn, "helper %s takes a map key or value but no map", hs->name);
            const struct pl_map_spec *ms = pl_map_info(v->prog->maps[map_idx]);
            uint32_t size = kind == PL_ARG_MAP_KEY ? ms->key_size : ms->value_size;
            if ((rc = helper_mem(v, st, i + 1, hs->name, regno, size, true, false)))
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
                              regno + 1, describe_kind(sz));
            if (sz->smin < 0)
                return v_fail(v, st->insn, "argument %d of %s (a size) may be negative", i + 2, hs->name);
            if ((rc = helper_mem(v, st, i + 1, hs->name, regno, sz->umax, sz->umin == sz->umax,
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
                              regno, describe_kind(r));
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
    struct vframe *caller = cur_frame(st), *callee = v_frame_alloc(v);
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
    struct vframe *f = cur_frame(st);
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
        return v_fail(v, st->insn, "returns %s in r0 (addresses must not leak to the host)", describe_kind(r0));
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
    struct vframe *f = cur_frame(st);
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
        if ((rc = mem_access(v, st, in->src, in->off, size, false, false, BPF_MODE(in->code) == BPF_MEMSX, NULL, &out)))
            return rc;
        f->regs[in->dst] = out;
        st->insn++;
        return 0;
    }
    case BPF_ST: {
        struct vreg val;
        v_mark_const(&val, (uint64_t)(int64_t)in->imm);
        if ((rc = mem_access(v, st, in->dst, in->off, size, true, false, false, &val, NULL)))
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
        if ((rc = mem_access(v, st, in->dst, in->off, size, true, atomic, false, &val, NULL)))
            return rc;
        if (atomic && in->imm == BPF_CMPXCHG)
            mark_sized(&f->regs[0], size, false);
        else if (atomic && (in->imm & BPF_FETCH))
            mark_sized(&f->regs[in->src], size, false);
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
