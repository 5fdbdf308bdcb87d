/* Instruction builders for tests that write programs by hand. */
#ifndef PL_TEST_INSN_H
#define PL_TEST_INSN_H

#include "pliant/pliant.h"

#define I(code_, dst_, src_, off_, imm_) \
    ((struct pl_insn){.code = (code_), .dst = (dst_), .src = (src_), .off = (off_), .imm = (imm_)})
#define MOV64_IMM(d, imm) I(0xb7, d, 0, 0, imm)
#define MOV64_REG(d, s) I(0xbf, d, s, 0, 0)
#define ADD64_IMM(d, imm) I(0x07, d, 0, 0, imm)
#define MUL64_IMM(d, imm) I(0x27, d, 0, 0, imm)
#define STX64(d, s, off) I(0x7b, d, s, off, 0)
#define LDX64(d, s, off) I(0x79, d, s, off, 0)
#define LDX32(d, s, off) I(0x61, d, s, off, 0)
#define JEQ_IMM(d, imm, off) I(0x15, d, 0, off, imm)
#define JA(off) I(0x05, 0, 0, off, 0)
#define CALL(id) I(0x85, 0, 0, 0, id)
#define CALL_LOCAL(rel) I(0x85, 0, 1, 0, rel)
#define LDDW(d, lo, hi) I(0x18, d, 0, 0, lo), I(0, 0, 0, 0, hi)
#define EXIT() I(0x95, 0, 0, 0, 0)
#define N(arr) ((uint32_t)(sizeof(arr) / sizeof((arr)[0])))

/* Opcode fields (RFC 9669), for the generic builders below. */
#define OP_ADD 0x00
#define OP_SUB 0x10
#define OP_MUL 0x20
#define OP_DIV 0x30
#define OP_OR 0x40
#define OP_AND 0x50
#define OP_LSH 0x60
#define OP_RSH 0x70
#define OP_NEG 0x80
#define OP_MOD 0x90
#define OP_XOR 0xa0
#define OP_MOV 0xb0
#define OP_ARSH 0xc0
#define OP_JEQ 0x10
#define OP_JGT 0x20
#define OP_JGE 0x30
#define OP_JSET 0x40
#define OP_JNE 0x50
#define OP_JSGT 0x60
#define OP_JSGE 0x70
#define OP_JLT 0xa0
#define OP_JLE 0xb0
#define OP_JSLT 0xc0
#define OP_JSLE 0xd0
#define SZ_W 0x00
#define SZ_H 0x08
#define SZ_B 0x10
#define SZ_DW 0x18
#define AT_ADD 0x00
#define AT_OR 0x40
#define AT_AND 0x50
#define AT_XOR 0xa0
#define AT_FETCH 0x01
#define AT_XCHG 0xe1
#define AT_CMPXCHG 0xf1

#define ALU64_IMM(op, d, imm) I(0x07 | (op), d, 0, 0, imm)
#define ALU64_REG(op, d, s) I(0x0f | (op), d, s, 0, 0)
#define ALU32_IMM(op, d, imm) I(0x04 | (op), d, 0, 0, imm)
#define ALU32_REG(op, d, s) I(0x0c | (op), d, s, 0, 0)
#define MOV32_REG(d, s) ALU32_REG(OP_MOV, d, s)
#define MOVSX64(d, s, bits) I(0xbf, d, s, bits, 0)
#define NEG64(d) I(0x87, d, 0, 0, 0)
#define BSWAP64(d, bits) I(0xd7, d, 0, 0, bits) /* ALU64 | END: unconditional swap */
#define JMP_IMM(op, d, imm, off) I(0x05 | (op), d, 0, off, imm)
#define JMP_REG(op, d, s, off) I(0x0d | (op), d, s, off, 0)
#define JMP32_IMM(op, d, imm, off) I(0x06 | (op), d, 0, off, imm)
#define LDX(sz, d, s, off) I(0x61 | (sz), d, s, off, 0)
#define LDXSX(sz, d, s, off) I(0x81 | (sz), d, s, off, 0) /* sz: SZ_W, SZ_H or SZ_B */
#define ST(sz, d, off, imm) I(0x62 | (sz), d, 0, off, imm)
#define STX(sz, d, s, off) I(0x63 | (sz), d, s, off, 0)
#define ATOMIC(sz, d, s, off, op) I(0xc3 | (sz), d, s, off, op)
#define CALLX(r) I(0x8d, r, 0, 0, 0)
/* lddw of map number idx of pl_prog_opts.maps, and of the address of byte
 * off of that (one-entry array) map's value. */
#define LD_MAP(d, idx) I(0x18, d, 1, 0, idx), I(0, 0, 0, 0, 0)
#define LD_MAP_VALUE(d, idx, off) I(0x18, d, 2, 0, idx), I(0, 0, 0, 0, off)

#endif
