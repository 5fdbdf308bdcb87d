/*
 * Strict decoding and structural validation (RFC 9669).
 *
 * Every instruction is decoded strictly: reserved opcodes, registers above
 * r10, writes to r10 and non-zero fields an opcode does not use are
 * rejected, naming the instruction. The structure is then checked: jump
 * targets stay inside their subprogram and never land on the second half of
 * an lddw, no instruction falls through past the end of its subprogram,
 * local calls target instructions in the program, and the call graph has no
 * cycle and no chain deeper than PL_MAX_CALL_DEPTH frames. This is what both
 * execution engines rely on; safety of memory accesses is the verifier's job.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct vctx {
    const pl_prog *prog;
    pl_error *err;
};

static int bad(struct vctx *v, uint32_t i, const char *why)
{
    char dis[96];
    return pl_fail(v->err, PL_EPROG, (int)i, "instruction %u (%s): %s", i,
                   pl_disasm(&v->prog->insns[i], dis, sizeof(dis)), why);
}

static bool is_atomic_op(int32_t imm)
{
    switch (imm) {
    case BPF_ADD: case BPF_OR: case BPF_AND: case BPF_XOR:
    case BPF_ADD | BPF_FETCH: case BPF_OR | BPF_FETCH:
    case BPF_AND | BPF_FETCH: case BPF_XOR | BPF_FETCH:
    case BPF_XCHG: case BPF_CMPXCHG:
        return true;
    default:
        return false;
    }
}

static int check_alu(struct vctx *v, uint32_t i)
{
    const struct pl_insn *in = &v->prog->insns[i];
    bool is64 = BPF_CLASS(in->code) == BPF_ALU64;
    uint8_t op = BPF_OP(in->code);
    bool reg = BPF_SRC(in->code) == BPF_X;

    if (op > BPF_END)
        return bad(v, i, "reserved ALU operation");
    if (in->dst == 10)
        return bad(v, i, "r10 is the read-only frame pointer");
    if (op == BPF_NEG) {
        if (reg || in->src || in->imm || in->off)
            return bad(v, i, "neg takes no source, immediate or offset (must be zero)");
        return 0;
    }
    if (op == BPF_END) {
        if (is64 && reg)
            return bad(v, i, "reserved opcode: 64-bit byte swap has no big-endian form");
        if (in->src || in->off)
            return bad(v, i, "byte swap uses no source register or offset (must be zero)");
        if (in->imm != 16 && in->imm != 32 && in->imm != 64)
            return bad(v, i, "byte swap width must be 16, 32 or 64");
        return 0;
    }
    bool signed_ok = op == BPF_DIV || op == BPF_MOD;
    if (reg) {
        if (in->imm)
            return bad(v, i, "register form has a non-zero immediate");
        if (op == BPF_MOV) {
            bool sx = in->off == 8 || in->off == 16 || (is64 && in->off == 32);
            if (in->off && !sx)
                return bad(v, i, "movsx offset must be 8, 16 or (64-bit only) 32");
        } else if (in->off && !(signed_ok && in->off == 1)) {
            return bad(v, i, "offset must be 0 (or 1 for signed div/mod)");
        }
    } else {
        if (in->src)
            return bad(v, i, "immediate form has a non-zero source register");
        if (in->off && !(signed_ok && in->off == 1))
            return bad(v, i, "offset must be 0 (or 1 for signed div/mod)");
    }
    return 0;
}

static int check_jmp(struct vctx *v, uint32_t i, uint32_t *target)
{
    const struct pl_insn *in = &v->prog->insns[i];
    bool is32 = BPF_CLASS(in->code) == BPF_JMP32;
    uint8_t op = BPF_OP(in->code);
    bool reg = BPF_SRC(in->code) == BPF_X;
    int64_t t;

    *target = UINT32_MAX;
    if (op > BPF_JSLE)
        return bad(v, i, "reserved jump operation");
    switch (op) {
    case BPF_EXIT:
        if (is32 || reg || in->dst || in->src || in->off || in->imm)
            return bad(v, i, "exit takes no operands (all fields must be zero)");
        return 0;
    case BPF_CALL:
        if (is32)
            return bad(v, i, "reserved opcode: call has no 32-bit jump form");
        if (reg) {
            if (in->src || in->off || in->imm)
                return bad(v, i, "callx takes only a destination register");
            return 0;
        }
        if (in->dst || in->off)
            return bad(v, i, "call has a non-zero register or offset field");
        if (in->src == 0) {
            if ((uint32_t)in->imm >= PL_HELPER_ID_MAX || !v->prog->rt->helper_fns[in->imm])
                return bad(v, i, "calls a helper id the host has not registered");
            return 0;
        }
        if (in->src != BPF_PSEUDO_CALL)
            return bad(v, i, "unsupported call kind (only helper and local calls)");
        t = (int64_t)i + in->imm + 1;
        break;
    case BPF_JA:
        if (reg || in->dst || in->src)
            return bad(v, i, "ja takes no registers");
        if (is32 ? in->off != 0 : in->imm != 0)
            return bad(v, i, is32 ? "ja32 takes its target in imm; offset must be zero"
                                  : "ja takes its target in offset; immediate must be zero");
        t = (int64_t)i + (is32 ? in->imm : in->off) + 1;
        break;
    default:
        if (reg ? in->imm != 0 : in->src != 0)
            return bad(v, i, reg ? "register compare has a non-zero immediate"
                                 : "immediate compare has a non-zero source register");
        t = (int64_t)i + in->off + 1;
        break;
    }
    if (t < 0 || t >= v->prog->ninsns)
        return bad(v, i, "jump or call target is outside the program");
    *target = (uint32_t)t;
    return 0;
}

static int check_mem(struct vctx *v, uint32_t i)
{
    const struct pl_insn *in = &v->prog->insns[i];
    uint8_t mode = BPF_MODE(in->code), size = BPF_SIZE(in->code);

    switch (BPF_CLASS(in->code)) {
    case BPF_LD:
        if (mode == BPF_ABS || mode == BPF_IND)
            return bad(v, i, "legacy packet access (ld abs/ind) is not supported");
        if (in->code != BPF_LDDW)
            return bad(v, i, "reserved load opcode");
        if (in->dst == 10)
            return bad(v, i, "r10 is the read-only frame pointer");
        if (in->src || in->off)
            return bad(v, i, in->src ? "lddw pseudo source not resolved (unknown kind or map index)"
                                     : "lddw has a non-zero offset");
        if (i + 1 >= v->prog->ninsns)
            return bad(v, i, "lddw is missing its second half");
        const struct pl_insn *hi = &v->prog->insns[i + 1];
        if (hi->code || hi->dst || hi->src || hi->off)
            return bad(v, i, "second half of lddw must have only an immediate");
        return 0;
    case BPF_LDX:
        if (mode != BPF_MEM && !(mode == BPF_MEMSX && size != BPF_DW))
            return bad(v, i, "reserved load mode");
        if (in->dst == 10)
            return bad(v, i, "r10 is the read-only frame pointer");
        if (in->imm)
            return bad(v, i, "load has a non-zero immediate");
        return 0;
    case BPF_ST:
        if (mode != BPF_MEM)
            return bad(v, i, "reserved store mode");
        if (in->src)
            return bad(v, i, "store of an immediate has a non-zero source register");
        return 0;
    default: /* BPF_STX */
        if (mode == BPF_ATOMIC) {
            if (size != BPF_W && size != BPF_DW)
                return bad(v, i, "atomic operations are 32 or 64 bits wide");
            if (!is_atomic_op(in->imm))
                return bad(v, i, "unknown atomic operation");
            return 0;
        }
        if (mode != BPF_MEM)
            return bad(v, i, "reserved store mode");
        if (in->imm)
            return bad(v, i, "register store has a non-zero immediate");
        return 0;
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

uint32_t pl_subprog_of(const pl_prog *p, uint32_t insn)
{
    uint32_t lo = 0, hi = p->nsubprogs;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (p->subprogs[mid] <= insn)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Longest call chain from subprogram s in frames; -1 on a cycle. */
static int call_depth(const pl_prog *p, uint32_t s, uint8_t *state, int *memo)
{
    if (state[s] == 2)
        return memo[s];
    if (state[s] == 1)
        return -1;
    state[s] = 1;
    uint32_t end = s + 1 < p->nsubprogs ? p->subprogs[s + 1] : p->ninsns;
    int deepest = 0;
    for (uint32_t i = p->subprogs[s]; i < end; i++) {
        const struct pl_insn *in = &p->insns[i];
        if (in->code == (BPF_JMP | BPF_CALL) && in->src == BPF_PSEUDO_CALL) {
            int d = call_depth(p, pl_subprog_of(p, i + in->imm + 1), state, memo);
            if (d < 0)
                return -1;
            if (d > deepest)
                deepest = d;
        }
    }
    state[s] = 2;
    memo[s] = deepest + 1;
    return memo[s];
}

int pl_validate(pl_prog *prog, pl_error *err)
{
    struct vctx v = {prog, err};
    uint32_t n = prog->ninsns;
    if (n == 0)
        return pl_fail(err, PL_EPROG, -1, "the program is empty");
    if (n > PL_MAX_INSNS)
        return pl_fail(err, PL_EPROG, -1, "the program has %u instructions; the limit is %u", n, PL_MAX_INSNS);

    /* Pass 1: decode every instruction, mark lddw second halves and collect
     * local call targets (subprogram entries). */
    uint8_t *is_hi = calloc(n, 1);
    uint32_t *entries = malloc(sizeof(uint32_t) * (n + 1));
    uint8_t *state = NULL;
    int *memo = NULL;
    int rc = 0;
    if (!is_hi || !entries) {
        rc = pl_fail(err, PL_ENOMEM, -1, "out of memory validating the program");
        goto out;
    }
    uint32_t nentries = 0;
    entries[nentries++] = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        const struct pl_insn *in = &prog->insns[i];
        if (is_hi[i])
            continue;
        if (in->dst > 10 || (in->src > 10 && BPF_CLASS(in->code) != BPF_LD &&
                             in->code != (BPF_JMP | BPF_CALL))) {
            rc = bad(&v, i, "register number above r10");
            break;
        }
        uint32_t target;
        switch (BPF_CLASS(in->code)) {
        case BPF_ALU:
        case BPF_ALU64:
            rc = check_alu(&v, i);
            break;
        case BPF_JMP:
        case BPF_JMP32:
            rc = check_jmp(&v, i, &target);
            if (!rc && in->code == (BPF_JMP | BPF_CALL) && in->src == BPF_PSEUDO_CALL)
                entries[nentries++] = target;
            break;
        default:
            rc = check_mem(&v, i);
            if (!rc && in->code == BPF_LDDW)
                is_hi[i + 1] = 1;
            break;
        }
    }
    if (rc)
        goto out;

    qsort(entries, nentries, sizeof(uint32_t), cmp_u32);
    uint32_t uniq = 0;
    for (uint32_t k = 0; k < nentries; k++)
        if (uniq == 0 || entries[uniq - 1] != entries[k])
            entries[uniq++] = entries[k];
    free(prog->subprogs);
    prog->subprogs = entries;
    prog->nsubprogs = uniq;
    entries = NULL;

    /* Pass 2: targets and fall-through, relative to subprogram bounds. */
    uint32_t sub = 0, end = prog->nsubprogs > 1 ? prog->subprogs[1] : n;
    for (uint32_t i = 0; i < n && !rc; i++) {
        const struct pl_insn *in = &prog->insns[i];
        if (i == end) {
            sub++;
            end = sub + 1 < prog->nsubprogs ? prog->subprogs[sub + 1] : n;
        }
        if (is_hi[i])
            continue;
        if (in->code == BPF_LDDW && i + 1 >= end) {
            rc = bad(&v, i, "lddw straddles the end of its function");
            break;
        }
        uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);
        bool jmp = cls == BPF_JMP || cls == BPF_JMP32;
        if (jmp && op != BPF_CALL && op != BPF_EXIT) {
            uint32_t t = (uint32_t)((int64_t)i + (cls == BPF_JMP32 && op == BPF_JA ? in->imm : in->off) + 1);
            if (is_hi[t]) {
                rc = bad(&v, i, "jumps into the middle of an lddw");
                break;
            }
            if (t < prog->subprogs[sub] || t >= end) {
                rc = bad(&v, i, "jumps outside its own function");
                break;
            }
        }
        if (jmp && op == BPF_CALL && in->src == BPF_PSEUDO_CALL && BPF_SRC(in->code) == BPF_K &&
            is_hi[i + in->imm + 1]) {
            rc = bad(&v, i, "calls into the middle of an lddw");
            break;
        }
        bool falls_through = !(jmp && (op == BPF_EXIT || op == BPF_JA));
        uint32_t next = i + (in->code == BPF_LDDW ? 2 : 1);
        if (falls_through && next >= end) {
            rc = bad(&v, i, next >= n ? "execution can fall off the end of the program (no exit)"
                                      : "execution can fall through into the next function (no exit)");
            break;
        }
    }
    if (rc)
        goto out;

    /* Pass 3: the call graph is acyclic and shallow enough. Without local
     * calls (entries holds only the main program) there is nothing to walk. */
    if (nentries == 1)
        goto out;
    state = calloc(prog->nsubprogs, 1);
    memo = calloc(prog->nsubprogs, sizeof(int));
    if (!state || !memo) {
        rc = pl_fail(err, PL_ENOMEM, -1, "out of memory validating the program");
        goto out;
    }
    for (uint32_t s = 0; s < prog->nsubprogs && !rc; s++) {
        int d = call_depth(prog, s, state, memo);
        if (d < 0)
            rc = pl_fail(err, PL_EPROG, (int)prog->subprogs[s],
                         "recursive local calls (the function at instruction %u is part of a call cycle)",
                         prog->subprogs[s]);
        else if (d > PL_MAX_CALL_DEPTH)
            rc = pl_fail(err, PL_EPROG, (int)prog->subprogs[s],
                         "local calls nest %d frames deep; the limit is %d", d, PL_MAX_CALL_DEPTH);
    }
out:
    free(is_hi);
    free(entries);
    free(state);
    free(memo);
    return rc;
}
