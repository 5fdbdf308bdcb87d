/* x86-64 JIT compiler.
 *
 * Layout of the generated code: the subprograms in instruction order (the
 * main program first, so its prologue is the entry point), then, when the
 * program can abort, a fault stub followed by an unwind stub.
 *
 * Every subprogram is an ordinary native function: local calls are `call`,
 * and each prologue saves only the callee-saved registers its own body
 * writes, so eBPF r6-r9 (which live in callee-saved registers) are preserved
 * across local calls by the native convention itself. A subprogram that
 * references r10 gets its own 512-byte frame below its saved registers.
 *
 * Aborting (callx to an unknown helper, or a helper with
 * PL_HELPER_UNWIND_ON_ZERO returning 0) must leave the whole program from any
 * call depth. The main prologue then keeps its stack pointer in r12 (the
 * "anchor"), and saves every callee-saved register any subprogram touches,
 * so the unwind stub can reset rsp to the anchor and run the main epilogue:
 * the skipped subprogram epilogues restore nothing the main one does not.
 *
 * The program is translated once. Every branch between instructions,
 * subprograms and stubs is emitted in its rel32 form and recorded as a
 * fixup; branch relaxation then runs on the fixup list alone, and one
 * compaction sweep moves the code between fixups into place and encodes
 * each branch in its final form. Translating once instead of re-emitting
 * until the sizes converge divides the JIT's cost by the number of passes
 * (three for typical programs).
 *
 * Relaxation starts from all-rel32 and shrinks a branch to rel8 when its
 * displacement fits; shrinking only ever shortens distances, so a short
 * branch stays valid and the iteration converges on the fixup list, without
 * touching the code. Short branches inside one instruction's expansion
 * (division checks, callx, cmpxchg loops) are final when emitted: the only
 * fixups they may span are stub branches, which keep their rel32 form. */
#include "internal.h"
#include "jit_x86_emit.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* r1-r5 sit in System V argument registers so a helper call needs one move
 * (r4: r9 -> rcx; rcx itself stays free for shift counts). r6-r10 sit in
 * callee-saved registers so they survive helper calls at no cost. */
static const uint8_t reg_map[PL_NREGS] = {
    X86_RAX, X86_RDI, X86_RSI, X86_RDX, X86_R9, X86_R8,
    X86_RBX, X86_R13, X86_R14, X86_R15, X86_RBP,
};

/* Scratch registers besides rcx; neither holds an eBPF register. */
#define TMP X86_R11
#define TMP2 X86_R10
/* Main frame's stack pointer while the program runs (see top of file). */
#define ANCHOR X86_R12

/* More than the longest native sequence one eBPF instruction, prologue or
 * stub expands to; reserved before emitting each of them. */
#define MAX_INSN_BYTES 256

/* Fixups one eBPF instruction can emit at most (callx: three stub
 * branches). */
#define MAX_FIXUPS_PER_INSN 3

/* Relaxation rounds; stopping early only leaves some branches rel32, so
 * this bounds the work on pathological programs without risk. */
#define MAX_RELAX_ROUNDS 16

enum { STUB_FAULT, STUB_UNWIND, NSTUBS };

/* What a fixup's rel32 refers to, and whether it may become rel8. */
enum fix_kind { FIX_JMP, FIX_JCC, FIX_STUB_JMP, FIX_STUB_JCC, FIX_CALL };

struct fixup {
    uint32_t pos;      /* start of the branch as emitted */
    uint32_t target;   /* insn index, subprogram index or stub until resolved, then its offset */
    uint32_t tgt_fix;  /* first fixup at or after the target */
    uint8_t kind;      /* enum fix_kind */
    uint8_t cc;        /* FIX_JCC, FIX_STUB_JCC */
    bool short_form;   /* relaxed to rel8 */
};

struct frame {
    uint8_t saved[7];     /* callee-saved registers in push order */
    uint8_t nsaved;
    bool uses_stack;      /* r10 is referenced: own 512-byte stack */
    bool has_call;        /* calls something: keep rsp 16-byte aligned */
    uint16_t regs;        /* eBPF registers the body references */
    uint32_t frame_bytes; /* rsp adjustment below the saved registers */
    uint32_t first, end;  /* instruction range */
};

struct jit {
    pl_prog *prog;
    pl_error *err;
    struct x86_buf b;
    size_t cap;
    /* Native offset (before compaction) of each instruction's body (after
     * any prologue), of each subprogram's prologue and of the stubs. */
    uint32_t *off;
    uint32_t *fn_off;
    uint32_t stub_off[NSTUBS];
    struct fixup *fix;
    uint32_t nfix;
    uint32_t *shrink;      /* bytes saved by relaxation before each fixup */
    uint8_t *is_target;    /* bitmap: instructions some branch jumps to */
    bool fused_next;       /* the last instruction also translated the next */
    struct frame *frames;
    bool can_fault;        /* callx: the fault stub is reachable */
    /* The return range of the hook the program is loaded for, as in
     * hooks.c: r0 is a good answer when r0 - ret_min <= ret_span. */
    bool check_ret;
    uint64_t ret_min, ret_span;
    bool needs_anchor;
    bool blind;
    uint64_t rng;
};

static bool is_lddw(const struct pl_insn *in) { return in->code == BPF_LDDW; }

static bool is_branch_target(const struct jit *j, uint32_t insn)
{
    return j->is_target[insn / 8] & (1u << (insn % 8));
}

/* splitmix64: cheap per-instruction blinding values from one getrandom()
 * seed. */
static uint64_t next_rand(struct jit *j)
{
    uint64_t z = (j->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool reserve(struct jit *j)
{
    if (j->cap - j->b.len >= MAX_INSN_BYTES)
        return true;
    size_t cap = j->cap * 2 + MAX_INSN_BYTES;
    uint8_t *code = realloc(j->b.code, cap);
    if (!code)
        return false;
    j->b.code = code;
    j->cap = cap;
    return true;
}

static void add_fixup(struct jit *j, enum fix_kind kind, int cc, uint32_t target)
{
    j->fix[j->nfix++] = (struct fixup){.pos = (uint32_t)j->b.len, .target = target, .kind = (uint8_t)kind,
                                       .cc = (uint8_t)cc};
    switch (kind) {
    case FIX_JMP:
    case FIX_STUB_JMP:
        x86_jmp32(&j->b, 0);
        break;
    case FIX_JCC:
    case FIX_STUB_JCC:
        x86_jcc32(&j->b, (enum x86_cc)cc, 0);
        break;
    case FIX_CALL:
        x86_call32(&j->b, 0);
        break;
    }
}

/* Branch (cc < 0: jmp) to the body of instruction target. */
static void emit_branch(struct jit *j, int cc, uint32_t target)
{
    add_fixup(j, cc < 0 ? FIX_JMP : FIX_JCC, cc, target);
}

/* Stubs are only reached on abort paths, so their branches stay rel32. */
static void emit_stub_branch(struct jit *j, int cc, int stub)
{
    add_fixup(j, cc < 0 ? FIX_STUB_JMP : FIX_STUB_JCC, cc, (uint32_t)stub);
}

/* Short forward branches inside one instruction's expansion: emit with a
 * zero displacement, patch once the destination is reached. */
static size_t jcc8_forward(struct jit *j, enum x86_cc cc)
{
    x86_jcc8(&j->b, cc, 0);
    return j->b.len;
}

static size_t jmp8_forward(struct jit *j)
{
    x86_jmp8(&j->b, 0);
    return j->b.len;
}

static void patch8_here(struct jit *j, size_t branch_end)
{
    j->b.code[branch_end - 1] = (uint8_t)(j->b.len - branch_end);
}

/* reg = imm (sign-extended when w) without imm appearing in the code. */
static void emit_blinded_imm(struct jit *j, bool w, int reg, int32_t imm)
{
    int32_t mask = (int32_t)next_rand(j);
    if (w)
        x86_mov_ri_sext(&j->b, reg, imm ^ mask);
    else
        x86_mov_ri32(&j->b, reg, (uint32_t)(imm ^ mask));
    x86_alu_ri32(&j->b, w, X86_XOR, reg, mask);
}

static void emit_mov_imm(struct jit *j, bool w, int dst, int32_t imm)
{
    if (j->blind)
        emit_blinded_imm(j, w, dst, imm);
    else if (imm == 0)
        x86_zero(&j->b, dst);
    else if (!w || imm > 0)
        x86_mov_ri32(&j->b, dst, (uint32_t)imm);
    else
        x86_mov_ri_sext(&j->b, dst, imm);
}

static void emit_lddw(struct jit *j, const struct pl_insn *in)
{
    int dst = reg_map[in->dst];
    uint64_t v = (uint32_t)in[0].imm | (uint64_t)(uint32_t)in[1].imm << 32;
    if (j->blind) {
        uint64_t mask = next_rand(j);
        x86_movabs(&j->b, dst, v ^ mask);
        x86_movabs(&j->b, TMP, mask);
        x86_rr(&j->b, true, X86_OP_XOR_RM_R, TMP, dst);
    } else if (v == 0) {
        x86_zero(&j->b, dst);
    } else if (v <= UINT32_MAX) {
        x86_mov_ri32(&j->b, dst, (uint32_t)v);
    } else if (x86_fits_i32((int64_t)v)) {
        x86_mov_ri_sext(&j->b, dst, (int32_t)v);
    } else {
        x86_movabs(&j->b, dst, v);
    }
}

/* A 32-bit result must clear the upper half even when the operation is a
 * no-op on the low half. */
static void emit_zero_extend(struct jit *j, bool w, int dst)
{
    if (!w)
        x86_mov_rr(&j->b, false, dst, dst);
}

static void emit_shift_imm(struct jit *j, bool w, enum x86_shift ext, int dst, int32_t imm)
{
    uint8_t count = (uint8_t)(imm & (w ? 63 : 31));
    if (count == 0)
        emit_zero_extend(j, w, dst);
    else
        x86_shift_ri(&j->b, w, ext, dst, count);
}

static void emit_divisor_zero(struct jit *j, bool w, bool is_mod, int dst)
{
    if (!is_mod)
        x86_zero(&j->b, dst);
    else
        emit_zero_extend(j, w, dst);
}

/* Signed division by -1 is negation; x86 idiv would fault on INT_MIN. */
static void emit_divisor_minus_one(struct jit *j, bool w, bool is_mod, int dst)
{
    if (!is_mod)
        x86_grp3_r(&j->b, w, X86_NEG, dst);
    else
        x86_zero(&j->b, dst);
}

/* dst = dst / rcx or dst % rcx, with rcx neither 0 nor (signed) -1. div
 * uses rdx:rax, which hold r3 and r0: keep them in TMP2/TMP meanwhile. */
static void emit_div_core(struct jit *j, bool w, bool is_signed, bool is_mod, int dst)
{
    struct x86_buf *b = &j->b;
    int result = is_mod ? X86_RDX : X86_RAX;
    if (dst != X86_RAX)
        x86_mov_rr(b, true, TMP2, X86_RAX);
    if (dst != X86_RDX)
        x86_mov_rr(b, true, TMP, X86_RDX);
    if (dst != X86_RAX)
        x86_mov_rr(b, w, X86_RAX, dst);
    if (is_signed) {
        if (w)
            x86_byte(b, 0x48); /* REX.W: cqo instead of cdq */
        x86_byte(b, 0x99);
    } else {
        x86_zero(b, X86_RDX);
    }
    x86_grp3_r(b, w, is_signed ? X86_IDIV : X86_DIV, X86_RCX);
    if (dst != result)
        x86_mov_rr(b, w, dst, result);
    if (dst != X86_RAX)
        x86_mov_rr(b, true, X86_RAX, TMP2);
    if (dst != X86_RDX)
        x86_mov_rr(b, true, X86_RDX, TMP);
}

/* src < 0: divide by imm, whose special values are resolved at compile
 * time; otherwise the divisor register is checked at run time. */
static void emit_divmod(struct jit *j, bool w, bool is_signed, bool is_mod, int dst, int src, int32_t imm)
{
    struct x86_buf *b = &j->b;
    if (src < 0) {
        uint64_t divisor = w ? (uint64_t)(int64_t)imm : (uint32_t)imm;
        if (divisor == 0) {
            emit_divisor_zero(j, w, is_mod, dst);
        } else if (is_signed && imm == -1) {
            emit_divisor_minus_one(j, w, is_mod, dst);
        } else if (!is_signed && !j->blind && (divisor & (divisor - 1)) == 0) {
            if (is_mod)
                x86_alu_ri(b, w, X86_AND, dst, (int32_t)(divisor - 1));
            else
                emit_shift_imm(j, w, X86_SHR, dst, __builtin_ctzll(divisor));
        } else {
            if (j->blind)
                emit_blinded_imm(j, w, X86_RCX, imm);
            else if (w && imm < 0)
                x86_mov_ri_sext(b, X86_RCX, imm);
            else
                x86_mov_ri32(b, X86_RCX, (uint32_t)imm);
            emit_div_core(j, w, is_signed, is_mod, dst);
        }
        return;
    }
    x86_mov_rr(b, w, X86_RCX, src);
    x86_rr(b, w, X86_OP_TEST_RM_R, X86_RCX, X86_RCX);
    size_t to_zero = jcc8_forward(j, X86_CC_E);
    size_t to_minus_one = 0;
    if (is_signed) {
        x86_alu_ri(b, w, X86_CMP, X86_RCX, -1);
        to_minus_one = jcc8_forward(j, X86_CC_E);
    }
    emit_div_core(j, w, is_signed, is_mod, dst);
    size_t done_div = jmp8_forward(j);
    patch8_here(j, to_zero);
    emit_divisor_zero(j, w, is_mod, dst);
    if (is_signed) {
        size_t done_zero = jmp8_forward(j);
        patch8_here(j, to_minus_one);
        emit_divisor_minus_one(j, w, is_mod, dst);
        patch8_here(j, done_zero);
    }
    patch8_here(j, done_div);
}

static void emit_mov_reg(struct jit *j, bool w, int dst, int src, int16_t sign_extend_bits)
{
    struct x86_buf *b = &j->b;
    switch (sign_extend_bits) {
    case 8:
        x86_rr_byte_src(b, w, X86_OP_MOVSX8, dst, src);
        return;
    case 16:
        x86_rr(b, w, X86_OP_MOVSX16, dst, src);
        return;
    case 32:
        if (w) {
            x86_rr(b, true, X86_OP_MOVSXD, dst, src);
            return;
        }
        break;
    }
    if (dst != src || !w)
        x86_mov_rr(b, w, dst, src);
}

static int emit_byteswap(struct jit *j, const struct pl_insn *in, uint32_t i)
{
    struct x86_buf *b = &j->b;
    int dst = reg_map[in->dst];
    /* Little-endian host: to-le only truncates; to-be and bswap swap. */
    bool swap = BPF_CLASS(in->code) == BPF_ALU64 || BPF_SRC(in->code) == BPF_TO_BE;
    switch (in->imm) {
    case 16:
        if (swap) {
            x86_bswap(b, false, dst);
            x86_shift_ri(b, false, X86_SHR, dst, 16);
        } else {
            x86_rr(b, false, X86_OP_MOVZX16, dst, dst);
        }
        return 0;
    case 32:
        if (swap)
            x86_bswap(b, false, dst);
        else
            x86_mov_rr(b, false, dst, dst);
        return 0;
    case 64:
        if (swap)
            x86_bswap(b, true, dst);
        return 0;
    }
    return pl_fail(j->err, PL_EJIT, (int)i, "byte swap width %d is not 16, 32 or 64", in->imm);
}

static int emit_alu(struct jit *j, const struct pl_insn *in, uint32_t i)
{
    struct x86_buf *b = &j->b;
    bool w = BPF_CLASS(in->code) == BPF_ALU64;
    uint8_t op = BPF_OP(in->code);
    int dst = reg_map[in->dst];
    bool by_imm = BPF_SRC(in->code) == BPF_K;
    int src = by_imm ? -1 : reg_map[in->src];
    int32_t imm = in->imm;

    switch (op) {
    case BPF_END:
        return emit_byteswap(j, in, i);
    case BPF_NEG:
        x86_grp3_r(b, w, X86_NEG, dst);
        return 0;
    case BPF_DIV:
    case BPF_MOD:
        emit_divmod(j, w, in->off == 1, op == BPF_MOD, dst, src, imm);
        return 0;
    case BPF_MOV:
        if (by_imm)
            emit_mov_imm(j, w, dst, imm);
        else
            emit_mov_reg(j, w, dst, src, in->off);
        return 0;
    }

    bool is_shift = op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH;
    if (by_imm && j->blind) {
        /* x86 masks shift counts in cl exactly as eBPF does. */
        src = is_shift ? X86_RCX : TMP;
        emit_blinded_imm(j, w, src, imm);
        by_imm = false;
    }

    enum x86_grp1 grp1;
    unsigned op_rm_r;
    switch (op) {
    case BPF_ADD: grp1 = X86_ADD; op_rm_r = X86_OP_ADD_RM_R; break;
    case BPF_SUB: grp1 = X86_SUB; op_rm_r = X86_OP_SUB_RM_R; break;
    case BPF_OR: grp1 = X86_OR; op_rm_r = X86_OP_OR_RM_R; break;
    case BPF_AND: grp1 = X86_AND; op_rm_r = X86_OP_AND_RM_R; break;
    case BPF_XOR: grp1 = X86_XOR; op_rm_r = X86_OP_XOR_RM_R; break;
    case BPF_MUL:
        if (by_imm)
            x86_imul_ri(b, w, dst, dst, imm);
        else
            x86_rr(b, w, X86_OP_IMUL_R_RM, dst, src);
        return 0;
    case BPF_LSH:
    case BPF_RSH:
    case BPF_ARSH: {
        enum x86_shift ext = op == BPF_LSH ? X86_SHL : op == BPF_RSH ? X86_SHR : X86_SAR;
        if (by_imm) {
            emit_shift_imm(j, w, ext, dst, imm);
        } else {
            if (src != X86_RCX)
                x86_mov_rr(b, false, X86_RCX, src);
            x86_shift_cl(b, w, ext, dst);
        }
        return 0;
    }
    default:
        return pl_fail(j->err, PL_EJIT, (int)i, "unsupported ALU operation 0x%02x", in->code);
    }
    if (by_imm)
        x86_alu_ri(b, w, grp1, dst, imm);
    else
        x86_rr(b, w, op_rm_r, src, dst);
    return 0;
}

static int emit_load(struct jit *j, const struct pl_insn *in, uint32_t i)
{
    struct x86_buf *b = &j->b;
    int dst = reg_map[in->dst], base = reg_map[in->src];
    bool sign_extend = BPF_MODE(in->code) == BPF_MEMSX;
    if (BPF_MODE(in->code) != BPF_MEM && !sign_extend)
        return pl_fail(j->err, PL_EJIT, (int)i, "unsupported load mode 0x%02x", in->code);
    switch (BPF_SIZE(in->code)) {
    case BPF_B:
        x86_mem(b, sign_extend, sign_extend ? X86_OP_MOVSX8 : X86_OP_MOVZX8, dst, base, in->off, false);
        return 0;
    case BPF_H:
        x86_mem(b, sign_extend, sign_extend ? X86_OP_MOVSX16 : X86_OP_MOVZX16, dst, base, in->off, false);
        return 0;
    case BPF_W:
        x86_mem(b, sign_extend, sign_extend ? X86_OP_MOVSXD : X86_OP_MOV_R_RM, dst, base, in->off, false);
        return 0;
    default:
        if (sign_extend)
            return pl_fail(j->err, PL_EJIT, (int)i, "sign-extending 64-bit load");
        x86_mem(b, true, X86_OP_MOV_R_RM, dst, base, in->off, false);
        return 0;
    }
}

static void emit_store_reg(struct jit *j, uint8_t size, int base, int16_t off, int src)
{
    struct x86_buf *b = &j->b;
    switch (size) {
    case BPF_B:
        x86_mem(b, false, X86_OP_MOV_RM8_R8, src, base, off, true);
        break;
    case BPF_H:
        x86_byte(b, X86_PREFIX_OPSIZE16);
        x86_mem(b, false, X86_OP_MOV_RM_R, src, base, off, false);
        break;
    default:
        x86_mem(b, size == BPF_DW, X86_OP_MOV_RM_R, src, base, off, false);
        break;
    }
}

static void emit_store_imm(struct jit *j, uint8_t size, int base, int16_t off, int32_t imm)
{
    struct x86_buf *b = &j->b;
    if (j->blind) {
        emit_blinded_imm(j, size == BPF_DW, TMP, imm);
        emit_store_reg(j, size, base, off, TMP);
        return;
    }
    switch (size) {
    case BPF_B:
        x86_mem(b, false, X86_OP_MOV_RM8_IMM, 0, base, off, false);
        x86_byte(b, (uint8_t)imm);
        break;
    case BPF_H:
        x86_byte(b, X86_PREFIX_OPSIZE16);
        x86_mem(b, false, X86_OP_MOV_RM_IMM, 0, base, off, false);
        x86_imm16(b, (uint16_t)imm);
        break;
    default:
        x86_mem(b, size == BPF_DW, X86_OP_MOV_RM_IMM, 0, base, off, false);
        x86_imm32(b, (uint32_t)imm);
        break;
    }
}

/* Fetching and/or/xor have no x86 instruction: a cmpxchg loop, which needs
 * rax (r0), so r0 is parked in TMP2 and stands in for it as an operand. */
static void emit_atomic_fetch_logic(struct jit *j, bool w, unsigned op_rm_r, int base, int16_t off, int val)
{
    struct x86_buf *b = &j->b;
    int mem_base = base == X86_RAX ? TMP2 : base;
    int operand = val == X86_RAX ? TMP2 : val;
    x86_mov_rr(b, true, TMP2, X86_RAX);
    x86_mem(b, w, X86_OP_MOV_R_RM, X86_RAX, mem_base, off, false);
    size_t loop = b->len;
    x86_mov_rr(b, w, TMP, X86_RAX);
    x86_rr(b, w, op_rm_r, operand, TMP);
    x86_byte(b, X86_PREFIX_LOCK);
    x86_mem(b, w, X86_OP_CMPXCHG, TMP, mem_base, off, false);
    x86_jcc8(b, X86_CC_NE, (int8_t)((int64_t)loop - (int64_t)(b->len + X86_JMP8_LEN)));
    if (val != X86_RAX) {
        x86_mov_rr(b, w, val, X86_RAX);
        x86_mov_rr(b, true, X86_RAX, TMP2);
    } else {
        emit_zero_extend(j, w, X86_RAX);
    }
}

static int emit_atomic(struct jit *j, const struct pl_insn *in, uint32_t i)
{
    struct x86_buf *b = &j->b;
    uint8_t size = BPF_SIZE(in->code);
    bool w = size == BPF_DW;
    int base = reg_map[in->dst], val = reg_map[in->src];
    if (size != BPF_W && size != BPF_DW)
        return pl_fail(j->err, PL_EJIT, (int)i, "atomic operations are 32 or 64 bits wide");

    unsigned op_rm_r;
    switch (in->imm & ~BPF_FETCH) {
    case BPF_ADD:
        x86_byte(b, X86_PREFIX_LOCK);
        x86_mem(b, w, in->imm & BPF_FETCH ? X86_OP_XADD : X86_OP_ADD_RM_R, val, base, in->off, false);
        return 0;
    case BPF_OR: op_rm_r = X86_OP_OR_RM_R; break;
    case BPF_AND: op_rm_r = X86_OP_AND_RM_R; break;
    case BPF_XOR: op_rm_r = X86_OP_XOR_RM_R; break;
    case BPF_XCHG & ~BPF_FETCH:
        if (!(in->imm & BPF_FETCH))
            goto unsupported;
        /* xchg with memory is implicitly locked. */
        x86_mem(b, w, X86_OP_XCHG_RM_R, val, base, in->off, false);
        return 0;
    case BPF_CMPXCHG & ~BPF_FETCH:
        if (!(in->imm & BPF_FETCH))
            goto unsupported;
        x86_byte(b, X86_PREFIX_LOCK);
        x86_mem(b, w, X86_OP_CMPXCHG, val, base, in->off, false);
        /* A successful 32-bit cmpxchg leaves rax's upper half alone. */
        emit_zero_extend(j, w, X86_RAX);
        return 0;
    default:
        goto unsupported;
    }
    if (in->imm & BPF_FETCH) {
        emit_atomic_fetch_logic(j, w, op_rm_r, base, in->off, val);
    } else {
        x86_byte(b, X86_PREFIX_LOCK);
        x86_mem(b, w, op_rm_r, val, base, in->off, false);
    }
    return 0;
unsupported:
    return pl_fail(j->err, PL_EJIT, (int)i, "unsupported atomic operation 0x%x", (unsigned)in->imm);
}

static int emit_store(struct jit *j, const struct pl_insn *in, uint32_t i)
{
    int base = reg_map[in->dst];
    switch (BPF_MODE(in->code)) {
    case BPF_MEM:
        if (BPF_CLASS(in->code) == BPF_ST)
            emit_store_imm(j, BPF_SIZE(in->code), base, in->off, in->imm);
        else
            emit_store_reg(j, BPF_SIZE(in->code), base, in->off, reg_map[in->src]);
        return 0;
    case BPF_ATOMIC:
        if (BPF_CLASS(in->code) == BPF_STX)
            return emit_atomic(j, in, i);
        break;
    }
    return pl_fail(j->err, PL_EJIT, (int)i, "unsupported store mode 0x%02x", in->code);
}

/* rdx = 0, or PL__JIT_BAD_ANSWER when r0 is outside the hook's return
 * range: the second half of the pl_jit_result. The verifier proves the
 * range already; this keeps a host that indexes with the answer safe from
 * a verifier bug, at three or four instructions without a branch. */
static void emit_result_word(struct jit *j)
{
    struct x86_buf *b = &j->b;
    if (!j->check_ret) {
        x86_zero(b, X86_RDX);
        return;
    }
    x86_mov_rr(b, true, TMP, X86_RAX);
    if (x86_fits_i32((int64_t)j->ret_min)) {
        if (j->ret_min)
            x86_alu_ri(b, true, X86_SUB, TMP, (int32_t)j->ret_min);
    } else {
        x86_movabs(b, TMP2, j->ret_min);
        x86_rr(b, true, X86_OP_SUB_RM_R, TMP2, TMP);
    }
    x86_zero(b, X86_RDX); /* before the compare: xor clobbers the flags */
    if (j->ret_span <= INT32_MAX) {
        x86_alu_ri(b, true, X86_CMP, TMP, (int32_t)j->ret_span);
    } else {
        x86_movabs(b, TMP2, j->ret_span);
        x86_rr(b, true, X86_OP_CMP_RM_R, TMP2, TMP);
    }
    _Static_assert(PL__JIT_BAD_ANSWER == 1, "seta produces 1");
    x86_byte(b, 0x0f); /* seta dl */
    x86_byte(b, 0x97);
    x86_byte(b, 0xc2);
}

/* The main program's exit also fills rdx, the second half of the
 * pl_jit_result the host receives; a subprogram's exit returns to JIT code,
 * for which rdx (r3) is clobbered by the call anyway. */
static void emit_epilogue(struct jit *j, const struct frame *f, bool result_word)
{
    if (result_word)
        emit_result_word(j);
    if (f->frame_bytes)
        x86_alu_ri(&j->b, true, X86_ADD, X86_RSP, (int32_t)f->frame_bytes);
    for (int s = f->nsaved - 1; s >= 0; s--)
        x86_pop(&j->b, f->saved[s]);
    x86_ret(&j->b);
}

static void emit_prologue(struct jit *j, const struct frame *f, bool is_main)
{
    struct x86_buf *b = &j->b;
    for (int s = 0; s < f->nsaved; s++)
        x86_push(b, f->saved[s]);
    if (f->frame_bytes)
        x86_alu_ri(b, true, X86_SUB, X86_RSP, (int32_t)f->frame_bytes);
    if (f->uses_stack)
        x86_mem(b, true, X86_OP_LEA, X86_RBP, X86_RSP, PL_STACK_SIZE, false);
    if (is_main && j->needs_anchor)
        x86_mov_rr(b, true, ANCHOR, X86_RSP);
}

/* Both stubs leave the whole program with r0 = 0 from any call depth; the
 * fault stub also sets the result's fault word (rdx). */
static void emit_stubs(struct jit *j)
{
    struct x86_buf *b = &j->b;
    size_t to_exit = 0;
    if (j->can_fault) {
        j->stub_off[STUB_FAULT] = (uint32_t)b->len;
        x86_mov_ri32(b, X86_RDX, PL__JIT_ABORTED);
        to_exit = jmp8_forward(j);
    }
    /* Unwinding answers 0, whose validity is known now. */
    j->stub_off[STUB_UNWIND] = (uint32_t)b->len;
    if (j->check_ret && 0 - j->ret_min > j->ret_span)
        x86_mov_ri32(b, X86_RDX, PL__JIT_BAD_ANSWER);
    else
        x86_zero(b, X86_RDX);
    if (j->can_fault)
        patch8_here(j, to_exit);
    x86_mov_rr(b, true, X86_RSP, ANCHOR);
    x86_zero(b, X86_RAX);
    emit_epilogue(j, &j->frames[0], false);
}

static const uint8_t jump_cc[16] = {
    [BPF_JEQ >> 4] = X86_CC_E,   [BPF_JGT >> 4] = X86_CC_A,   [BPF_JGE >> 4] = X86_CC_AE,
    [BPF_JSET >> 4] = X86_CC_NE, [BPF_JNE >> 4] = X86_CC_NE,  [BPF_JSGT >> 4] = X86_CC_G,
    [BPF_JSGE >> 4] = X86_CC_GE, [BPF_JLT >> 4] = X86_CC_B,   [BPF_JLE >> 4] = X86_CC_BE,
    [BPF_JSLT >> 4] = X86_CC_L,  [BPF_JSLE >> 4] = X86_CC_LE,
};

static void emit_helper_call(struct jit *j, pl_helper_fn fn, bool unwind_on_zero)
{
    struct x86_buf *b = &j->b;
    x86_mov_rr(b, true, X86_RCX, reg_map[4]);
    x86_movabs(b, X86_RAX, (uint64_t)(uintptr_t)fn);
    x86_call_reg(b, X86_RAX);
    if (unwind_on_zero) {
        x86_rr(b, true, X86_OP_TEST_RM_R, X86_RAX, X86_RAX);
        emit_stub_branch(j, X86_CC_E, STUB_UNWIND);
    }
}

_Static_assert(PL_HELPER_UNWIND_ON_ZERO <= 0xff, "callx tests the unwind flag with a byte test");

/* The helper id is only known at run time: look it up in the runtime's
 * table, fault on an unknown id, and honour the unwind flag. */
static void emit_callx(struct jit *j, int id_reg)
{
    struct x86_buf *b = &j->b;
    const int32_t flags_from_fns =
        (int32_t)(offsetof(struct pl_runtime, helper_flags) - offsetof(struct pl_runtime, helper_fns));
    x86_mov_rr(b, true, TMP, id_reg);
    x86_alu_ri(b, true, X86_CMP, TMP, PL_HELPER_ID_MAX);
    emit_stub_branch(j, X86_CC_AE, STUB_FAULT);
    /* rax (r0) is free: the call overwrites it anyway. */
    x86_movabs(b, X86_RAX, (uint64_t)(uintptr_t)j->prog->rt->helper_fns);
    x86_mem_sib(b, true, X86_OP_MOV_R_RM, TMP2, X86_RAX, TMP, 3, 0);
    x86_rr(b, true, X86_OP_TEST_RM_R, TMP2, TMP2);
    emit_stub_branch(j, X86_CC_E, STUB_FAULT);
    x86_mov_rr(b, true, X86_RCX, reg_map[4]);
    /* test byte [rax + TMP*4 + flags_from_fns], PL_HELPER_UNWIND_ON_ZERO */
    x86_mem_sib(b, false, X86_OP_TEST_RM8_IMM, X86_TEST, X86_RAX, TMP, 2, flags_from_fns);
    x86_byte(b, PL_HELPER_UNWIND_ON_ZERO);
    size_t to_unwinding_call = jcc8_forward(j, X86_CC_NE);
    x86_call_reg(b, TMP2);
    size_t done = jmp8_forward(j);
    patch8_here(j, to_unwinding_call);
    x86_call_reg(b, TMP2);
    x86_rr(b, true, X86_OP_TEST_RM_R, X86_RAX, X86_RAX);
    emit_stub_branch(j, X86_CC_E, STUB_UNWIND);
    patch8_here(j, done);
}

static int subprog_at(const pl_prog *prog, uint32_t insn)
{
    uint32_t lo = 0, hi = prog->nsubprogs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (prog->subprogs[mid] < insn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < prog->nsubprogs && prog->subprogs[lo] == insn ? (int)lo : -1;
}

static int emit_call(struct jit *j, const struct pl_insn *in, uint32_t i)
{
    const pl_runtime *rt = j->prog->rt;
    if (BPF_SRC(in->code) == BPF_X) {
        emit_callx(j, reg_map[in->dst]);
        return 0;
    }
    if (in->src == BPF_PSEUDO_CALL) {
        int k = subprog_at(j->prog, (uint32_t)((int64_t)i + in->imm + 1));
        if (k < 0)
            return pl_fail(j->err, PL_EJIT, (int)i, "local call target is not a subprogram entry");
        add_fixup(j, FIX_CALL, -1, (uint32_t)k);
        return 0;
    }
    uint32_t id = (uint32_t)in->imm;
    if (in->src != 0 || id >= PL_HELPER_ID_MAX || !rt->helper_fns[id])
        return pl_fail(j->err, PL_EJIT, (int)i, "call to an unregistered helper %u", id);
    emit_helper_call(j, rt->helper_fns[id], rt->helper_flags[id] & PL_HELPER_UNWIND_ON_ZERO);
    return 0;
}

static int emit_jump(struct jit *j, const struct frame *f, const struct pl_insn *in, uint32_t i)
{
    struct x86_buf *b = &j->b;
    bool w = BPF_CLASS(in->code) == BPF_JMP;
    uint8_t op = BPF_OP(in->code);
    switch (op) {
    case BPF_CALL:
        return emit_call(j, in, i);
    case BPF_EXIT:
        emit_epilogue(j, f, f == &j->frames[0]);
        return 0;
    case BPF_JA: {
        uint32_t target = (uint32_t)((int64_t)i + 1 + (w ? in->off : in->imm));
        if (target != i + 1)
            emit_branch(j, -1, target);
        return 0;
    }
    }
    if (op > BPF_JSLE || !jump_cc[op >> 4])
        return pl_fail(j->err, PL_EJIT, (int)i, "unsupported jump operation 0x%02x", in->code);
    uint32_t target = (uint32_t)((int64_t)i + 1 + in->off);
    if (target == i + 1)
        return 0;
    int dst = reg_map[in->dst];
    unsigned op_rm_r = op == BPF_JSET ? X86_OP_TEST_RM_R : X86_OP_CMP_RM_R;
    /* "if (cond) skip; dst = src" is a conditional move: no branch to
     * mispredict in min/max style code. */
    const struct pl_insn *next = &in[1];
    bool to_cmov = in->off == 1 && i + 1 < f->end && next->code == (BPF_ALU64 | BPF_X | BPF_MOV) &&
                   next->off == 0 && !is_branch_target(j, i + 1);
    if (BPF_SRC(in->code) == BPF_X) {
        x86_rr(b, w, op_rm_r, reg_map[in->src], dst);
    } else if (j->blind) {
        emit_blinded_imm(j, w, TMP, in->imm);
        x86_rr(b, w, op_rm_r, TMP, dst);
    } else if (op == BPF_JSET) {
        x86_test_ri(b, w, dst, in->imm);
    } else if (in->imm == 0) {
        /* Same flags as cmp dst, 0 for every condition, one byte shorter. */
        x86_rr(b, w, X86_OP_TEST_RM_R, dst, dst);
    } else {
        x86_alu_ri(b, w, X86_CMP, dst, in->imm);
    }
    if (to_cmov) {
        /* The move happens when the branch is not taken. */
        x86_rr(b, true, X86_OP_CMOVCC | (jump_cc[op >> 4] ^ 1), reg_map[next->dst], reg_map[next->src]);
        j->fused_next = true;
        return 0;
    }
    emit_branch(j, jump_cc[op >> 4], target);
    return 0;
}

static int emit_insn(struct jit *j, const struct frame *f, uint32_t i)
{
    const struct pl_insn *in = &j->prog->insns[i];
    switch (BPF_CLASS(in->code)) {
    case BPF_ALU:
    case BPF_ALU64:
        return emit_alu(j, in, i);
    case BPF_LDX:
        return emit_load(j, in, i);
    case BPF_ST:
    case BPF_STX:
        return emit_store(j, in, i);
    case BPF_JMP:
    case BPF_JMP32:
        return emit_jump(j, f, in, i);
    default:
        if (is_lddw(in) && i + 1 < j->prog->ninsns) {
            emit_lddw(j, in);
            return 0;
        }
        return pl_fail(j->err, PL_EJIT, (int)i, "unsupported instruction 0x%02x", in->code);
    }
}

static int emit_program(struct jit *j)
{
    const pl_prog *prog = j->prog;
    for (uint32_t k = 0; k < prog->nsubprogs; k++) {
        const struct frame *f = &j->frames[k];
        if (!reserve(j))
            return pl_fail(j->err, PL_ENOMEM, -1, "out of memory for JIT code");
        j->fn_off[k] = (uint32_t)j->b.len;
        emit_prologue(j, f, k == 0);
        for (uint32_t i = f->first; i < f->end; i++) {
            if (!reserve(j))
                return pl_fail(j->err, PL_ENOMEM, -1, "out of memory for JIT code");
            j->off[i] = (uint32_t)j->b.len;
            int rc = emit_insn(j, f, i);
            if (rc)
                return rc;
            if (is_lddw(&prog->insns[i]) || j->fused_next)
                j->off[++i] = (uint32_t)j->b.len;
            j->fused_next = false;
        }
    }
    if (j->needs_anchor) {
        if (!reserve(j))
            return pl_fail(j->err, PL_ENOMEM, -1, "out of memory for JIT code");
        emit_stubs(j);
    }
    return 0;
}

/* Registers each subprogram references and whether it calls anything;
 * whether the program can abort (and so needs the anchor). */
static void scan_subprogs(struct jit *j)
{
    const pl_prog *prog = j->prog;
    const pl_runtime *rt = prog->rt;
    for (uint32_t k = 0; k < prog->nsubprogs; k++) {
        struct frame *f = &j->frames[k];
        f->first = prog->subprogs[k];
        f->end = k + 1 < prog->nsubprogs ? prog->subprogs[k + 1] : prog->ninsns;
        for (uint32_t i = f->first; i < f->end; i++) {
            const struct pl_insn *in = &prog->insns[i];
            uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);
            if (is_lddw(in)) {
                f->regs |= (uint16_t)(1u << in->dst);
                i++;
                continue;
            }
            if ((cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_CALL && op != BPF_EXIT) {
                int64_t target = (int64_t)i + 1 + (cls == BPF_JMP32 && op == BPF_JA ? in->imm : in->off);
                if (target >= 0 && target < prog->ninsns)
                    j->is_target[target / 8] |= (uint8_t)(1u << (target % 8));
            }
            if (cls == BPF_JMP && op == BPF_CALL) {
                f->has_call = true;
                if (BPF_SRC(in->code) == BPF_X) {
                    f->regs |= (uint16_t)(1u << in->dst);
                    j->can_fault = true;
                } else if (in->src == 0 && (uint32_t)in->imm < PL_HELPER_ID_MAX &&
                           (rt->helper_flags[in->imm] & PL_HELPER_UNWIND_ON_ZERO)) {
                    j->needs_anchor = true;
                }
            } else {
                f->regs |= (uint16_t)(1u << in->dst | 1u << in->src);
            }
        }
    }
    j->needs_anchor |= j->can_fault;
}

/* Saved registers and frame size of each subprogram. */
static void plan_frames(struct jit *j)
{
    const pl_prog *prog = j->prog;
    uint16_t all_regs = 0;
    for (uint32_t k = 0; k < prog->nsubprogs; k++)
        all_regs |= j->frames[k].regs;
    for (uint32_t k = 0; k < prog->nsubprogs; k++) {
        struct frame *f = &j->frames[k];
        bool anchor = k == 0 && j->needs_anchor;
        uint16_t saved = anchor ? all_regs : f->regs;
        f->nsaved = 0;
        if (saved & 1u << 6)
            f->saved[f->nsaved++] = reg_map[6];
        if (saved & 1u << 10)
            f->saved[f->nsaved++] = reg_map[10];
        if (anchor)
            f->saved[f->nsaved++] = ANCHOR;
        for (int r = 7; r <= 9; r++)
            if (saved & 1u << r)
                f->saved[f->nsaved++] = reg_map[r];
        f->uses_stack = f->regs & 1u << 10;
        f->frame_bytes = f->uses_stack ? PL_STACK_SIZE : 0;
        /* Entry rsp is 8 mod 16 (return address); calls need 0 mod 16. */
        if (f->has_call && (8 + 8 * f->nsaved + f->frame_bytes) % 16)
            f->frame_bytes += 8;
    }
}

static int install(pl_prog *prog, const struct x86_buf *b, pl_error *err)
{
    void *mem = pl_jit_mem_install(b->code, b->len);
    if (!mem)
        return pl_fail(err, PL_ENOMEM, -1, "cannot map memory for JIT code");
    prog->jit_mem = mem;
    prog->jit_size = b->len;
    prog->jit_fn = (pl_jit_fn)(uintptr_t)mem;
    return 0;
}

/* Bytes a fixup's rel8 form saves. */
static uint32_t fix_saving(const struct fixup *x)
{
    return x->kind == FIX_JMP ? X86_JMP32_LEN - X86_JMP8_LEN : x->kind == FIX_JCC ? X86_JCC32_LEN - X86_JMP8_LEN : 0;
}

static uint32_t fix_long_len(const struct fixup *x)
{
    return x->kind == FIX_JCC || x->kind == FIX_STUB_JCC ? X86_JCC32_LEN : X86_JMP32_LEN;
}

/* shrink[k]: bytes saved before fixup k with the current choices. */
static void sum_savings(struct jit *j)
{
    uint32_t saved = 0;
    for (uint32_t k = 0; k < j->nfix; k++) {
        j->shrink[k] = saved;
        if (j->fix[k].short_form)
            saved += fix_saving(&j->fix[k]);
    }
    j->shrink[j->nfix] = saved;
}

/* Resolves fixup targets to offsets and picks rel8 wherever it fits (see
 * top of file). */
static void relax(struct jit *j)
{
    struct fixup *fx = j->fix;
    uint32_t nfix = j->nfix;
    for (uint32_t k = 0; k < nfix; k++) {
        struct fixup *x = &fx[k];
        x->target = x->kind == FIX_JMP || x->kind == FIX_JCC ? j->off[x->target]
                    : x->kind == FIX_CALL                    ? j->fn_off[x->target]
                                                             : j->stub_off[x->target];
        uint32_t lo = 0, hi = nfix;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (fx[mid].pos < x->target)
                lo = mid + 1;
            else
                hi = mid;
        }
        x->tgt_fix = lo;
    }
    for (unsigned round = 0;; round++) {
        sum_savings(j);
        bool changed = false;
        for (uint32_t k = 0; round < MAX_RELAX_ROUNDS && k < nfix; k++) {
            struct fixup *x = &fx[k];
            if (x->short_form || !fix_saving(x))
                continue;
            /* Savings marked in this round are not in shrink yet: the
             * distances used are upper bounds, so a rel8 chosen is safe. A
             * forward branch's own saving shortens its distance. */
            int64_t own = x->tgt_fix > k ? fix_saving(x) : 0;
            int64_t dest = (int64_t)x->target - j->shrink[x->tgt_fix] - own;
            int64_t end = (int64_t)x->pos - j->shrink[k] + X86_JMP8_LEN;
            if (x86_fits_i8(dest - end))
                changed = x->short_form = true;
        }
        if (!changed)
            return;
    }
}

/* Moves the code between fixups into its final place and encodes every
 * fixup. Code only moves down and a branch never grows, so one in-place
 * sweep suffices. */
static void compact(struct jit *j)
{
    uint8_t *code = j->b.code;
    size_t from = 0, to = 0;
    for (uint32_t k = 0; k < j->nfix; k++) {
        const struct fixup *x = &j->fix[k];
        memmove(code + to, code + from, x->pos - from);
        struct x86_buf out = {code, to + (x->pos - from)};
        int64_t dest = (int64_t)x->target - j->shrink[x->tgt_fix];
        int64_t here = (int64_t)out.len;
        if (x->short_form && x->kind == FIX_JMP)
            x86_jmp8(&out, (int8_t)(dest - (here + X86_JMP8_LEN)));
        else if (x->short_form)
            x86_jcc8(&out, (enum x86_cc)x->cc, (int8_t)(dest - (here + X86_JMP8_LEN)));
        else if (x->kind == FIX_JMP || x->kind == FIX_STUB_JMP)
            x86_jmp32(&out, (int32_t)(dest - (here + X86_JMP32_LEN)));
        else if (x->kind == FIX_CALL)
            x86_call32(&out, (int32_t)(dest - (here + X86_CALL32_LEN)));
        else
            x86_jcc32(&out, (enum x86_cc)x->cc, (int32_t)(dest - (here + X86_JCC32_LEN)));
        to = out.len;
        from = x->pos + fix_long_len(x);
    }
    memmove(code + to, code + from, j->b.len - from);
    j->b.len = to + (j->b.len - from);
}

int pl_jit_compile(pl_prog *prog, pl_error *err)
{
    uint32_t n = prog->ninsns, nsub = prog->nsubprogs;
    if (n == 0 || nsub == 0 || prog->subprogs[0] != 0)
        return pl_fail(err, PL_EJIT, -1, "program has no entry subprogram");

    struct jit j = {.prog = prog, .err = err, .blind = prog->flags & PL_LOAD_BLIND_CONSTANTS};
    /* One block for the offset tables, fixups, frames and branch-target
     * bitmap; only the last two, which are small, need zeroing. */
    size_t max_fix = (size_t)n * MAX_FIXUPS_PER_INSN;
    size_t offs_bytes = ((size_t)n + nsub + max_fix + 1) * sizeof(uint32_t);
    size_t fix_at = (offs_bytes + _Alignof(struct fixup) - 1) & ~(_Alignof(struct fixup) - 1);
    size_t frames_at = fix_at + max_fix * sizeof(struct fixup);
    frames_at = (frames_at + _Alignof(struct frame) - 1) & ~(_Alignof(struct frame) - 1);
    size_t targets_at = frames_at + nsub * sizeof(struct frame);
    size_t targets_bytes = n / 8 + 1;
    uint8_t *block = malloc(targets_at + targets_bytes);
    if (!block)
        return pl_fail(err, PL_ENOMEM, -1, "out of memory for JIT tables");
    j.off = (uint32_t *)block;
    j.fn_off = j.off + n;
    j.shrink = j.fn_off + nsub;
    j.fix = (struct fixup *)(block + fix_at);
    j.frames = (struct frame *)(block + frames_at);
    memset(j.frames, 0, nsub * sizeof(struct frame));
    j.is_target = block + targets_at;
    memset(j.is_target, 0, targets_bytes);

    int rc = 0;
    if (j.blind && getrandom(&j.rng, sizeof(j.rng), 0) != sizeof(j.rng)) {
        rc = pl_fail(err, PL_EJIT, -1, "no randomness for constant blinding");
        goto out;
    }
    const struct pl_hook_spec *hs = prog->hook ? pl_hook_info(prog->hook) : NULL;
    if (hs && hs->has_ret_range) {
        j.ret_min = (uint64_t)hs->ret_min;
        j.ret_span = (uint64_t)hs->ret_max - (uint64_t)hs->ret_min;
        j.check_ret = j.ret_span != UINT64_MAX;
    }
    scan_subprogs(&j);
    plan_frames(&j);

    /* Typical expansion is 10-30 bytes per instruction; reserve() grows
     * the buffer for the rest. */
    j.cap = (size_t)n * 16 + MAX_INSN_BYTES;
    j.b.code = malloc(j.cap);
    if (!j.b.code) {
        rc = pl_fail(err, PL_ENOMEM, -1, "out of memory for JIT code");
        goto out;
    }
    rc = emit_program(&j);
    if (rc)
        goto out;
    relax(&j);
    compact(&j);
    rc = install(prog, &j.b, err);
out:
    free(j.b.code);
    free(block);
    return rc;
}

void pl_jit_free(pl_prog *prog)
{
    if (prog->jit_mem)
        pl_jit_mem_free(prog->jit_mem, prog->jit_size);
    prog->jit_mem = NULL;
    prog->jit_size = 0;
    prog->jit_fn = NULL;
}
