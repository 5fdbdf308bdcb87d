/* x86-64 instruction encoder used by the JIT (jit_x86.c).
 *
 * Each function appends one native instruction to a buffer. The JIT reserves
 * room before translating each eBPF instruction, so the encoders never check
 * bounds: keeping them branch-free on capacity keeps compilation fast. */
#ifndef PL_JIT_X86_EMIT_H
#define PL_JIT_X86_EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum x86_reg {
    X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
    X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15,
};

/* Condition codes (low nibble of Jcc). */
enum x86_cc {
    X86_CC_B = 0x2, X86_CC_AE = 0x3, X86_CC_E = 0x4, X86_CC_NE = 0x5,
    X86_CC_BE = 0x6, X86_CC_A = 0x7, X86_CC_L = 0xc, X86_CC_GE = 0xd,
    X86_CC_LE = 0xe, X86_CC_G = 0xf,
};

/* ModRM.reg opcode extensions ("/n") of the instruction groups used. */
enum x86_grp1 { X86_ADD = 0, X86_OR = 1, X86_AND = 4, X86_SUB = 5, X86_XOR = 6, X86_CMP = 7 };
enum x86_shift { X86_ROL = 0, X86_SHL = 4, X86_SHR = 5, X86_SAR = 7 };
enum x86_grp3 { X86_TEST = 0, X86_NEG = 3, X86_DIV = 6, X86_IDIV = 7 };

/* Opcodes as written in the manual; values above 0xff carry the 0x0f escape. */
enum {
    X86_OP_ADD_RM_R = 0x01, X86_OP_OR_RM_R = 0x09, X86_OP_AND_RM_R = 0x21,
    X86_OP_SUB_RM_R = 0x29, X86_OP_XOR_RM_R = 0x31, X86_OP_CMP_RM_R = 0x39,
    X86_OP_MOVSXD = 0x63, X86_OP_TEST_RM_R = 0x85, X86_OP_XCHG_RM_R = 0x87,
    X86_OP_MOV_RM8_R8 = 0x88, X86_OP_MOV_RM_R = 0x89, X86_OP_MOV_R_RM = 0x8b,
    X86_OP_LEA = 0x8d, X86_OP_MOV_RM8_IMM = 0xc6, X86_OP_MOV_RM_IMM = 0xc7,
    X86_OP_IMUL_R_RM = 0x0faf, X86_OP_CMPXCHG = 0x0fb1, X86_OP_MOVZX8 = 0x0fb6,
    X86_OP_MOVZX16 = 0x0fb7, X86_OP_MOVSX8 = 0x0fbe, X86_OP_MOVSX16 = 0x0fbf,
    X86_OP_XADD = 0x0fc1, X86_OP_CMOVCC = 0x0f40, X86_OP_TEST_RM8_IMM = 0xf6,
};

#define X86_PREFIX_OPSIZE16 0x66
#define X86_PREFIX_LOCK 0xf0

struct x86_buf {
    uint8_t *code;
    size_t len;
};

static inline bool x86_fits_i8(int64_t v) { return v >= -128 && v <= 127; }
static inline bool x86_fits_i32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

static inline void x86_byte(struct x86_buf *b, uint8_t v) { b->code[b->len++] = v; }

static inline void x86_imm16(struct x86_buf *b, uint16_t v)
{
    memcpy(b->code + b->len, &v, sizeof(v));
    b->len += sizeof(v);
}

static inline void x86_imm32(struct x86_buf *b, uint32_t v)
{
    memcpy(b->code + b->len, &v, sizeof(v));
    b->len += sizeof(v);
}

static inline void x86_imm64(struct x86_buf *b, uint64_t v)
{
    memcpy(b->code + b->len, &v, sizeof(v));
    b->len += sizeof(v);
}

/* An 8-bit operand numbered 4-7 means spl/bpl/sil/dil only with a REX
 * prefix (without one it means ah/ch/dh/bh). */
static inline bool x86_byte_reg_needs_rex(int reg) { return reg >= 4 && reg <= 7; }

static inline void x86_rex(struct x86_buf *b, bool w, int reg, int index, int base, bool force)
{
    uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) >> 1) | ((index & 8) >> 2) | ((base & 8) >> 3));
    if (rex != 0x40 || force)
        x86_byte(b, rex);
}

static inline void x86_opcode(struct x86_buf *b, unsigned op)
{
    if (op > 0xff)
        x86_byte(b, (uint8_t)(op >> 8));
    x86_byte(b, (uint8_t)op);
}

/* ModRM (+SIB, +displacement) for [base + index * 2^scale + disp]; index < 0
 * means none. rsp/r12 as base need a SIB byte and rbp/r13 cannot use the
 * no-displacement form. */
static inline void x86_modrm_mem(struct x86_buf *b, int reg, int base, int index, int scale, int32_t disp)
{
    int mod = (disp == 0 && (base & 7) != X86_RBP) ? 0 : x86_fits_i8(disp) ? 1 : 2;
    if (index >= 0) {
        x86_byte(b, (uint8_t)(mod << 6 | (reg & 7) << 3 | 4));
        x86_byte(b, (uint8_t)(scale << 6 | (index & 7) << 3 | (base & 7)));
    } else {
        x86_byte(b, (uint8_t)(mod << 6 | (reg & 7) << 3 | (base & 7)));
        if ((base & 7) == X86_RSP)
            x86_byte(b, 0x24);
    }
    if (mod == 1)
        x86_byte(b, (uint8_t)disp);
    else if (mod == 2)
        x86_imm32(b, (uint32_t)disp);
}

/* op reg, rm (register direct). */
static inline void x86_rr(struct x86_buf *b, bool w, unsigned op, int reg, int rm)
{
    x86_rex(b, w, reg, 0, rm, false);
    x86_opcode(b, op);
    x86_byte(b, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

/* Same, where rm is read as an 8-bit register (movzx/movsx). */
static inline void x86_rr_byte_src(struct x86_buf *b, bool w, unsigned op, int reg, int rm)
{
    x86_rex(b, w, reg, 0, rm, x86_byte_reg_needs_rex(rm));
    x86_opcode(b, op);
    x86_byte(b, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

/* op reg, [base + disp]; byte_reg: reg is an 8-bit register. */
static inline void x86_mem(struct x86_buf *b, bool w, unsigned op, int reg, int base, int32_t disp, bool byte_reg)
{
    x86_rex(b, w, reg, 0, base, byte_reg && x86_byte_reg_needs_rex(reg));
    x86_opcode(b, op);
    x86_modrm_mem(b, reg, base, -1, 0, disp);
}

/* op reg, [base + index * 2^scale + disp] */
static inline void x86_mem_sib(struct x86_buf *b, bool w, unsigned op, int reg, int base, int index,
                               int scale, int32_t disp)
{
    x86_rex(b, w, reg, index, base, false);
    x86_opcode(b, op);
    x86_modrm_mem(b, reg, base, index, scale, disp);
}

static inline void x86_mov_rr(struct x86_buf *b, bool w, int dst, int src)
{
    x86_rr(b, w, X86_OP_MOV_RM_R, src, dst);
}

/* Group 1 ALU op with an immediate (sign-extended to 64 bits when w). */
static inline void x86_alu_ri(struct x86_buf *b, bool w, enum x86_grp1 ext, int rm, int32_t imm)
{
    x86_rex(b, w, 0, 0, rm, false);
    if (x86_fits_i8(imm)) {
        x86_byte(b, 0x83);
        x86_byte(b, (uint8_t)(0xc0 | ext << 3 | (rm & 7)));
        x86_byte(b, (uint8_t)imm);
    } else {
        x86_byte(b, 0x81);
        x86_byte(b, (uint8_t)(0xc0 | ext << 3 | (rm & 7)));
        x86_imm32(b, (uint32_t)imm);
    }
}

/* Group 1 op with a full imm32 regardless of value: constant blinding needs
 * sizes that do not depend on the random value. */
static inline void x86_alu_ri32(struct x86_buf *b, bool w, enum x86_grp1 ext, int rm, int32_t imm)
{
    x86_rex(b, w, 0, 0, rm, false);
    x86_byte(b, 0x81);
    x86_byte(b, (uint8_t)(0xc0 | ext << 3 | (rm & 7)));
    x86_imm32(b, (uint32_t)imm);
}

/* Group 3 unary op (test imm / neg / div / idiv) on a register. */
static inline void x86_grp3_r(struct x86_buf *b, bool w, enum x86_grp3 ext, int rm)
{
    x86_rex(b, w, 0, 0, rm, false);
    x86_byte(b, 0xf7);
    x86_byte(b, (uint8_t)(0xc0 | ext << 3 | (rm & 7)));
}

static inline void x86_test_ri(struct x86_buf *b, bool w, int rm, int32_t imm)
{
    x86_grp3_r(b, w, X86_TEST, rm);
    x86_imm32(b, (uint32_t)imm);
}

static inline void x86_shift_ri(struct x86_buf *b, bool w, enum x86_shift ext, int rm, uint8_t count)
{
    x86_rex(b, w, 0, 0, rm, false);
    if (count == 1) {
        x86_byte(b, 0xd1);
        x86_byte(b, (uint8_t)(0xc0 | ext << 3 | (rm & 7)));
    } else {
        x86_byte(b, 0xc1);
        x86_byte(b, (uint8_t)(0xc0 | ext << 3 | (rm & 7)));
        x86_byte(b, count);
    }
}

static inline void x86_shift_cl(struct x86_buf *b, bool w, enum x86_shift ext, int rm)
{
    x86_rex(b, w, 0, 0, rm, false);
    x86_byte(b, 0xd3);
    x86_byte(b, (uint8_t)(0xc0 | ext << 3 | (rm & 7)));
}

/* imul dst, src, imm */
static inline void x86_imul_ri(struct x86_buf *b, bool w, int dst, int src, int32_t imm)
{
    x86_rex(b, w, dst, 0, src, false);
    if (x86_fits_i8(imm)) {
        x86_byte(b, 0x6b);
        x86_byte(b, (uint8_t)(0xc0 | (dst & 7) << 3 | (src & 7)));
        x86_byte(b, (uint8_t)imm);
    } else {
        x86_byte(b, 0x69);
        x86_byte(b, (uint8_t)(0xc0 | (dst & 7) << 3 | (src & 7)));
        x86_imm32(b, (uint32_t)imm);
    }
}

/* mov r32, imm32 (zero-extends into the full register). */
static inline void x86_mov_ri32(struct x86_buf *b, int reg, uint32_t imm)
{
    x86_rex(b, false, 0, 0, reg, false);
    x86_byte(b, (uint8_t)(0xb8 | (reg & 7)));
    x86_imm32(b, imm);
}

/* mov r64, simm32 (sign-extends). */
static inline void x86_mov_ri_sext(struct x86_buf *b, int reg, int32_t imm)
{
    x86_rex(b, true, 0, 0, reg, false);
    x86_byte(b, 0xc7);
    x86_byte(b, (uint8_t)(0xc0 | (reg & 7)));
    x86_imm32(b, (uint32_t)imm);
}

static inline void x86_movabs(struct x86_buf *b, int reg, uint64_t imm)
{
    x86_rex(b, true, 0, 0, reg, false);
    x86_byte(b, (uint8_t)(0xb8 | (reg & 7)));
    x86_imm64(b, imm);
}

static inline void x86_zero(struct x86_buf *b, int reg)
{
    x86_rr(b, false, X86_OP_XOR_RM_R, reg, reg);
}

static inline void x86_bswap(struct x86_buf *b, bool w, int reg)
{
    x86_rex(b, w, 0, 0, reg, false);
    x86_byte(b, 0x0f);
    x86_byte(b, (uint8_t)(0xc8 | (reg & 7)));
}

static inline void x86_push(struct x86_buf *b, int reg)
{
    x86_rex(b, false, 0, 0, reg, false);
    x86_byte(b, (uint8_t)(0x50 | (reg & 7)));
}

static inline void x86_pop(struct x86_buf *b, int reg)
{
    x86_rex(b, false, 0, 0, reg, false);
    x86_byte(b, (uint8_t)(0x58 | (reg & 7)));
}

static inline void x86_call_reg(struct x86_buf *b, int reg)
{
    x86_rex(b, false, 0, 0, reg, false);
    x86_byte(b, 0xff);
    x86_byte(b, (uint8_t)(0xc0 | 2 << 3 | (reg & 7)));
}

static inline void x86_ret(struct x86_buf *b) { x86_byte(b, 0xc3); }

/* Branches: the rel8 forms take the displacement from the end of the
 * instruction; sizes are 2 (rel8), 5 (jmp/call rel32) and 6 (jcc rel32). */
enum { X86_JMP8_LEN = 2, X86_JMP32_LEN = 5, X86_JCC32_LEN = 6, X86_CALL32_LEN = 5 };

static inline void x86_jcc8(struct x86_buf *b, enum x86_cc cc, int8_t disp)
{
    x86_byte(b, (uint8_t)(0x70 | cc));
    x86_byte(b, (uint8_t)disp);
}

static inline void x86_jcc32(struct x86_buf *b, enum x86_cc cc, int32_t disp)
{
    x86_byte(b, 0x0f);
    x86_byte(b, (uint8_t)(0x80 | cc));
    x86_imm32(b, (uint32_t)disp);
}

static inline void x86_jmp8(struct x86_buf *b, int8_t disp)
{
    x86_byte(b, 0xeb);
    x86_byte(b, (uint8_t)disp);
}

static inline void x86_jmp32(struct x86_buf *b, int32_t disp)
{
    x86_byte(b, 0xe9);
    x86_imm32(b, (uint32_t)disp);
}

static inline void x86_call32(struct x86_buf *b, int32_t disp)
{
    x86_byte(b, 0xe8);
    x86_imm32(b, (uint32_t)disp);
}

#endif
