/*
 * The interpreter: a reference implementation of RFC 9669 semantics and the
 * fallback when a program is loaded without the JIT.
 *
 * It trusts the structural validation done at load time (valid opcodes,
 * registers, targets, acyclic call graph of bounded depth) and performs no
 * memory checks: safety comes from verification. Dispatch is a computed
 * goto over the full 8-bit opcode, which keeps the per-instruction cost to
 * one indirect branch with its own predictor entry.
 */
#include "internal.h"

#include <string.h>

struct frame {
    uint32_t ret_pc;
    uint64_t saved[5]; /* r6-r9 and r10 of the caller */
};

#define LOAD(type, addr) ({ type v_; memcpy(&v_, (const void *)(uintptr_t)(addr), sizeof(v_)); v_; })
#define STORE(type, addr, val) do { type v_ = (type)(val); memcpy((void *)(uintptr_t)(addr), &v_, sizeof(v_)); } while (0)

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

static uint64_t sdiv64(int64_t a, int64_t b)
{
    if (b == 0) return 0;
    if (b == -1) return (uint64_t)0 - (uint64_t)a; /* INT64_MIN / -1 wraps */
    return (uint64_t)(a / b);
}

static uint64_t smod64(int64_t a, int64_t b)
{
    if (b == 0) return (uint64_t)a;
    if (b == -1) return 0;
    return (uint64_t)(a % b);
}

static uint32_t sdiv32(int32_t a, int32_t b)
{
    if (b == 0) return 0;
    if (b == -1) return (uint32_t)0 - (uint32_t)a;
    return (uint32_t)(a / b);
}

static uint32_t smod32(int32_t a, int32_t b)
{
    if (b == 0) return (uint32_t)a;
    if (b == -1) return 0;
    return (uint32_t)(a % b);
}

static uint64_t atomic32(uint32_t *p, int32_t op, uint64_t src, uint64_t *r0)
{
    uint32_t v = (uint32_t)src, old;
    switch (op & ~BPF_FETCH) {
    case BPF_ADD: old = __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); break;
    case BPF_OR: old = __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); break;
    case BPF_AND: old = __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); break;
    case BPF_XOR: old = __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); break;
    case BPF_XCHG & ~BPF_FETCH: old = __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); break;
    default: /* cmpxchg */
        old = (uint32_t)*r0;
        __atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *r0 = old;
        return src;
    }
    return (op & BPF_FETCH) ? old : src;
}

static uint64_t atomic64(uint64_t *p, int32_t op, uint64_t v, uint64_t *r0)
{
    uint64_t old;
    switch (op & ~BPF_FETCH) {
    case BPF_ADD: old = __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); break;
    case BPF_OR: old = __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); break;
    case BPF_AND: old = __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); break;
    case BPF_XOR: old = __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); break;
    case BPF_XCHG & ~BPF_FETCH: old = __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); break;
    default: /* cmpxchg */
        old = *r0;
        __atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *r0 = old;
        return v;
    }
    return (op & BPF_FETCH) ? old : v;
}

pl_jit_result pl_interp_run(const pl_prog *prog, void *ctx, uint64_t ctx_len)
{
    const struct pl_insn *insns = prog->insns;
    const pl_runtime *rt = prog->rt;
    uint64_t reg[PL_NREGS] = {0};
    _Alignas(16) uint8_t stack[PL_MAX_CALL_DEPTH * PL_STACK_SIZE];
    struct frame frames[PL_MAX_CALL_DEPTH];
    int depth = 0;
    uint32_t pc = 0;
    const struct pl_insn *in;

    reg[1] = (uint64_t)(uintptr_t)ctx;
    reg[2] = ctx_len;
    reg[10] = (uint64_t)(uintptr_t)(stack + sizeof(stack));

    /* Every opcode defaults to op_invalid and valid ones override it. The
     * table holds offsets from op_invalid rather than addresses: addresses
     * would need 256 load-time relocations (6 KB in the shared library) and
     * a writable page; the offsets cost one add per dispatch. */
#define OFF(label) (int32_t)(&&label - &&op_invalid)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
    static const int32_t dispatch[256] = {
        [0 ... 255] = OFF(op_invalid),
#define ALU_OPS(cls, suffix)                                                                            \
    [cls | BPF_K | BPF_ADD] = OFF(add##suffix##_k), [cls | BPF_X | BPF_ADD] = OFF(add##suffix##_x),     \
    [cls | BPF_K | BPF_SUB] = OFF(sub##suffix##_k), [cls | BPF_X | BPF_SUB] = OFF(sub##suffix##_x),     \
    [cls | BPF_K | BPF_MUL] = OFF(mul##suffix##_k), [cls | BPF_X | BPF_MUL] = OFF(mul##suffix##_x),     \
    [cls | BPF_K | BPF_DIV] = OFF(div##suffix##_k), [cls | BPF_X | BPF_DIV] = OFF(div##suffix##_x),     \
    [cls | BPF_K | BPF_OR] = OFF(or##suffix##_k), [cls | BPF_X | BPF_OR] = OFF(or##suffix##_x),         \
    [cls | BPF_K | BPF_AND] = OFF(and##suffix##_k), [cls | BPF_X | BPF_AND] = OFF(and##suffix##_x),     \
    [cls | BPF_K | BPF_LSH] = OFF(lsh##suffix##_k), [cls | BPF_X | BPF_LSH] = OFF(lsh##suffix##_x),     \
    [cls | BPF_K | BPF_RSH] = OFF(rsh##suffix##_k), [cls | BPF_X | BPF_RSH] = OFF(rsh##suffix##_x),     \
    [cls | BPF_K | BPF_NEG] = OFF(neg##suffix),                                                         \
    [cls | BPF_K | BPF_MOD] = OFF(mod##suffix##_k), [cls | BPF_X | BPF_MOD] = OFF(mod##suffix##_x),     \
    [cls | BPF_K | BPF_XOR] = OFF(xor##suffix##_k), [cls | BPF_X | BPF_XOR] = OFF(xor##suffix##_x),     \
    [cls | BPF_K | BPF_MOV] = OFF(mov##suffix##_k), [cls | BPF_X | BPF_MOV] = OFF(mov##suffix##_x),     \
    [cls | BPF_K | BPF_ARSH] = OFF(arsh##suffix##_k), [cls | BPF_X | BPF_ARSH] = OFF(arsh##suffix##_x)
        ALU_OPS(BPF_ALU64, 64),
        ALU_OPS(BPF_ALU, 32),
        [BPF_ALU | BPF_END | BPF_TO_LE] = OFF(end_le),
        [BPF_ALU | BPF_END | BPF_TO_BE] = OFF(end_be),
        [BPF_ALU64 | BPF_END] = OFF(end_be),
#define JMP_OPS(cls, suffix)                                                                            \
    [cls | BPF_K | BPF_JEQ] = OFF(jeq##suffix##_k), [cls | BPF_X | BPF_JEQ] = OFF(jeq##suffix##_x),     \
    [cls | BPF_K | BPF_JGT] = OFF(jgt##suffix##_k), [cls | BPF_X | BPF_JGT] = OFF(jgt##suffix##_x),     \
    [cls | BPF_K | BPF_JGE] = OFF(jge##suffix##_k), [cls | BPF_X | BPF_JGE] = OFF(jge##suffix##_x),     \
    [cls | BPF_K | BPF_JSET] = OFF(jset##suffix##_k), [cls | BPF_X | BPF_JSET] = OFF(jset##suffix##_x), \
    [cls | BPF_K | BPF_JNE] = OFF(jne##suffix##_k), [cls | BPF_X | BPF_JNE] = OFF(jne##suffix##_x),     \
    [cls | BPF_K | BPF_JSGT] = OFF(jsgt##suffix##_k), [cls | BPF_X | BPF_JSGT] = OFF(jsgt##suffix##_x), \
    [cls | BPF_K | BPF_JSGE] = OFF(jsge##suffix##_k), [cls | BPF_X | BPF_JSGE] = OFF(jsge##suffix##_x), \
    [cls | BPF_K | BPF_JLT] = OFF(jlt##suffix##_k), [cls | BPF_X | BPF_JLT] = OFF(jlt##suffix##_x),     \
    [cls | BPF_K | BPF_JLE] = OFF(jle##suffix##_k), [cls | BPF_X | BPF_JLE] = OFF(jle##suffix##_x),     \
    [cls | BPF_K | BPF_JSLT] = OFF(jslt##suffix##_k), [cls | BPF_X | BPF_JSLT] = OFF(jslt##suffix##_x), \
    [cls | BPF_K | BPF_JSLE] = OFF(jsle##suffix##_k), [cls | BPF_X | BPF_JSLE] = OFF(jsle##suffix##_x)
        JMP_OPS(BPF_JMP, 64),
        JMP_OPS(BPF_JMP32, 32),
        [BPF_JMP | BPF_JA] = OFF(ja),
        [BPF_JMP32 | BPF_JA] = OFF(ja32),
        [BPF_JMP | BPF_CALL] = OFF(call),
        [BPF_JMP | BPF_CALL | BPF_X] = OFF(callx),
        [BPF_JMP | BPF_EXIT] = OFF(exit),
        [BPF_LDDW] = OFF(lddw),
#define MEM_OPS(sz, type)                                                                               \
    [BPF_LDX | BPF_MEM | sz] = OFF(ldx_##type), [BPF_ST | BPF_MEM | sz] = OFF(st_##type),               \
    [BPF_STX | BPF_MEM | sz] = OFF(stx_##type)
        MEM_OPS(BPF_B, u8), MEM_OPS(BPF_H, u16), MEM_OPS(BPF_W, u32), MEM_OPS(BPF_DW, u64),
        [BPF_LDX | BPF_MEMSX | BPF_B] = OFF(ldxs_i8),
        [BPF_LDX | BPF_MEMSX | BPF_H] = OFF(ldxs_i16),
        [BPF_LDX | BPF_MEMSX | BPF_W] = OFF(ldxs_i32),
        [BPF_STX | BPF_ATOMIC | BPF_W] = OFF(atomic_w),
        [BPF_STX | BPF_ATOMIC | BPF_DW] = OFF(atomic_dw),
    };
#pragma GCC diagnostic pop

#define NEXT() do { in = &insns[pc++]; goto *(&&op_invalid + dispatch[in->code]); } while (0)
#define DST reg[in->dst]
#define SRC reg[in->src]
#define IMM ((uint64_t)(int64_t)in->imm)
#define JUMP_IF(cond) do { if (cond) pc += in->off; NEXT(); } while (0)

    NEXT();

#define ALU64(name, expr_k, expr_x)                                                                \
    name##64_k: { uint64_t s = IMM; (void)s; DST = (expr_k); NEXT(); }                             \
    name##64_x: { uint64_t s = SRC; (void)s; DST = (expr_x); NEXT(); }
#define ALU32(name, expr_k, expr_x)                                                                \
    name##32_k: { uint32_t s = (uint32_t)in->imm, d = (uint32_t)DST; (void)s; (void)d;             \
                  DST = (uint32_t)(expr_k); NEXT(); }                                              \
    name##32_x: { uint32_t s = (uint32_t)SRC, d = (uint32_t)DST; (void)s; (void)d;                 \
                  DST = (uint32_t)(expr_x); NEXT(); }

    ALU64(add, DST + s, DST + s)
    ALU64(sub, DST - s, DST - s)
    ALU64(mul, DST * s, DST * s)
    ALU64(div, in->off ? sdiv64((int64_t)DST, (int64_t)s) : s ? DST / s : 0,
          in->off ? sdiv64((int64_t)DST, (int64_t)s) : s ? DST / s : 0)
    ALU64(mod, in->off ? smod64((int64_t)DST, (int64_t)s) : s ? DST % s : DST,
          in->off ? smod64((int64_t)DST, (int64_t)s) : s ? DST % s : DST)
    ALU64(or, DST | s, DST | s)
    ALU64(and, DST & s, DST & s)
    ALU64(xor, DST ^ s, DST ^ s)
    ALU64(lsh, DST << (s & 63), DST << (s & 63))
    ALU64(rsh, DST >> (s & 63), DST >> (s & 63))
    ALU64(arsh, (uint64_t)((int64_t)DST >> (s & 63)), (uint64_t)((int64_t)DST >> (s & 63)))
    ALU64(mov, s,
          in->off == 8 ? (uint64_t)(int64_t)(int8_t)s
          : in->off == 16 ? (uint64_t)(int64_t)(int16_t)s
          : in->off == 32 ? (uint64_t)(int64_t)(int32_t)s : s)
    neg64: DST = (uint64_t)0 - DST; NEXT();

    ALU32(add, d + s, d + s)
    ALU32(sub, d - s, d - s)
    ALU32(mul, d * s, d * s)
    ALU32(div, in->off ? sdiv32((int32_t)d, (int32_t)s) : s ? d / s : 0,
          in->off ? sdiv32((int32_t)d, (int32_t)s) : s ? d / s : 0)
    ALU32(mod, in->off ? smod32((int32_t)d, (int32_t)s) : s ? d % s : d,
          in->off ? smod32((int32_t)d, (int32_t)s) : s ? d % s : d)
    ALU32(or, d | s, d | s)
    ALU32(and, d & s, d & s)
    ALU32(xor, d ^ s, d ^ s)
    ALU32(lsh, d << (s & 31), d << (s & 31))
    ALU32(rsh, d >> (s & 31), d >> (s & 31))
    ALU32(arsh, (uint32_t)((int32_t)d >> (s & 31)), (uint32_t)((int32_t)d >> (s & 31)))
    ALU32(mov, s,
          in->off == 8 ? (uint32_t)(int32_t)(int8_t)s : in->off == 16 ? (uint32_t)(int32_t)(int16_t)s : s)
    neg32: DST = (uint32_t)0 - (uint32_t)DST; NEXT();

    end_le: DST = trunc_le(DST, in->imm); NEXT();
    end_be: DST = bswap(DST, in->imm); NEXT();

#define JMP64(name, op, type)                                                                      \
    name##64_k: JUMP_IF((type)DST op (type)IMM);                                                   \
    name##64_x: JUMP_IF((type)DST op (type)SRC);
#define JMP32(name, op, type)                                                                      \
    name##32_k: JUMP_IF((type)(uint32_t)DST op (type)(uint32_t)in->imm);                           \
    name##32_x: JUMP_IF((type)(uint32_t)DST op (type)(uint32_t)SRC);
#define JMPS(name, op, sign) JMP64(name, op, sign##64_t) JMP32(name, op, sign##32_t)
    JMPS(jeq, ==, uint)
    JMPS(jne, !=, uint)
    JMPS(jgt, >, uint)
    JMPS(jge, >=, uint)
    JMPS(jlt, <, uint)
    JMPS(jle, <=, uint)
    JMPS(jsgt, >, int)
    JMPS(jsge, >=, int)
    JMPS(jslt, <, int)
    JMPS(jsle, <=, int)
    jset64_k: JUMP_IF(DST & IMM);
    jset64_x: JUMP_IF(DST & SRC);
    jset32_k: JUMP_IF((uint32_t)DST & (uint32_t)in->imm);
    jset32_x: JUMP_IF((uint32_t)DST & (uint32_t)SRC);
    ja: pc += in->off; NEXT();
    ja32: pc += in->imm; NEXT();

    lddw:
        DST = (uint32_t)in->imm | ((uint64_t)(uint32_t)insns[pc].imm << 32);
        pc++;
        NEXT();

#define MEM(name, ctype)                                                                           \
    ldx_##name: DST = LOAD(ctype, SRC + in->off); NEXT();                                          \
    st_##name: STORE(ctype, DST + in->off, in->imm); NEXT();                                       \
    stx_##name: STORE(ctype, DST + in->off, SRC); NEXT();
    MEM(u8, uint8_t)
    MEM(u16, uint16_t)
    MEM(u32, uint32_t)
    MEM(u64, uint64_t)
    ldxs_i8: DST = (uint64_t)(int64_t)LOAD(int8_t, SRC + in->off); NEXT();
    ldxs_i16: DST = (uint64_t)(int64_t)LOAD(int16_t, SRC + in->off); NEXT();
    ldxs_i32: DST = (uint64_t)(int64_t)LOAD(int32_t, SRC + in->off); NEXT();

    atomic_w: {
        uint64_t r = atomic32((uint32_t *)(uintptr_t)(DST + in->off), in->imm, SRC, &reg[0]);
        if (in->imm & BPF_FETCH && in->imm != BPF_CMPXCHG)
            SRC = (uint32_t)r;
        NEXT();
    }
    atomic_dw: {
        uint64_t r = atomic64((uint64_t *)(uintptr_t)(DST + in->off), in->imm, SRC, &reg[0]);
        if (in->imm & BPF_FETCH && in->imm != BPF_CMPXCHG)
            SRC = r;
        NEXT();
    }

    call:
        if (in->src == BPF_PSEUDO_CALL) {
            struct frame *f = &frames[depth++];
            f->ret_pc = pc;
            memcpy(f->saved, &reg[6], sizeof(f->saved));
            reg[10] -= PL_STACK_SIZE;
            pc += in->imm;
            NEXT();
        }
        reg[0] = rt->helper_fns[in->imm](reg[1], reg[2], reg[3], reg[4], reg[5]);
        if ((rt->helper_flags[in->imm] & PL_HELPER_UNWIND_ON_ZERO) && reg[0] == 0)
            return (pl_jit_result){0, 0};
        NEXT();
    callx: {
        uint64_t id = DST;
        pl_helper_fn fn = id < PL_HELPER_ID_MAX ? __atomic_load_n(&rt->helper_fns[id], __ATOMIC_ACQUIRE) : NULL;
        if (!fn) {
            return (pl_jit_result){0, 1};
        }
        reg[0] = fn(reg[1], reg[2], reg[3], reg[4], reg[5]);
        if ((rt->helper_flags[id] & PL_HELPER_UNWIND_ON_ZERO) && reg[0] == 0)
            return (pl_jit_result){0, 0};
        NEXT();
    }
    exit:
        if (depth == 0)
            return (pl_jit_result){reg[0], 0};
        {
            struct frame *f = &frames[--depth];
            memcpy(&reg[6], f->saved, sizeof(f->saved));
            pc = f->ret_pc;
        }
        NEXT();

    op_invalid:
        /* Unreachable after validation; kept so corrupted code stops cleanly. */
        return (pl_jit_result){0, 1};
}
