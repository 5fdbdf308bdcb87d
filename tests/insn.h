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

#endif
