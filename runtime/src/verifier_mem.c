/*
 * The verifier's memory model: which bytes a pointer may reach and what a
 * load from them yields. The stack is tracked byte by byte per frame
 * (spilled registers keep their abstract value); the hook's context only
 * by its declared fields; map values and helper memory by their size.
 * Used by verifier_check.c for loads, stores, atomics and helper memory
 * arguments.
 */
#include "verifier.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ pointers */

const char *v_describe_kind(const struct vreg *r)
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
                v_mark_sized(out, size, true);
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
        v_mark_sized(out, size, sign_extend);
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
            v_mark_sized(out, size, sign_extend);
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
            v_mark_sized(out, size, sign_extend);
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
        v_mark_sized(out, size, sign_extend);
    return 0;
}

int v_mem_access(struct verifier *v, struct vstate *st, uint8_t regno, int16_t insn_off, uint32_t size,
                      bool write, bool atomic, bool sign_extend, const struct vreg *val, struct vreg *out)
{
    const struct vreg *p = &v_cur_frame(st)->regs[regno];
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

/* Checks that [r, r+size) is memory the program may pass to a helper. */
int v_helper_mem(struct verifier *v, struct vstate *st, int argno, const char *helper, uint8_t regno,
                      uint64_t size, bool exact_size, bool write)
{
    const struct vreg *p = &v_cur_frame(st)->regs[regno];
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
                      argno, helper, regno, v_describe_kind(p));
    }
}
