/* Error reporting, logging and a disassembler for error messages. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

const char *pl_strerror(int code)
{
    switch (code) {
    case PL_OK: return "success";
    case PL_EINVAL: return "invalid argument";
    case PL_ENOMEM: return "out of memory";
    case PL_EPROG: return "invalid program";
    case PL_EELF: return "invalid object file";
    case PL_EVERIFY: return "program rejected by the verifier";
    case PL_ENOENT: return "not found";
    case PL_EEXIST: return "already exists";
    case PL_EHOOK: return "program does not fit the hook";
    case PL_EMAP: return "invalid or incompatible map";
    case PL_EJIT: return "JIT compilation failed";
    case PL_EFAULT: return "program faulted";
    case PL_E2BIG: return "size limit exceeded";
    case PL_EIO: return "I/O error";
    default: return "unknown error";
    }
}

int pl_fail(pl_error *err, int code, int insn, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        err->insn = insn;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

static pl_log_fn global_log;
static void *global_log_user;

void pl_set_global_log(pl_log_fn fn, void *user)
{
    __atomic_store_n(&global_log_user, user, __ATOMIC_RELAXED);
    __atomic_store_n(&global_log, fn, __ATOMIC_RELEASE);
}

static const char *level_name(int level)
{
    static const char names[][6] = {"debug", "info", "warn", "error"};
    return level >= 0 && level <= PL_LOG_ERROR ? names[level] : "log";
}

static void emit(pl_log_fn fn, void *user, int level, const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    if (fn)
        fn(user, level, line);
    else
        fprintf(stderr, "pliant %s: %s\n", level_name(level), line);
}

void pl_log(const pl_runtime *rt, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(rt ? rt->opts.log : NULL, rt ? rt->opts.log_user : NULL, level, fmt, ap);
    va_end(ap);
}

void pl_log_global(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pl_log_fn fn = __atomic_load_n(&global_log, __ATOMIC_ACQUIRE);
    emit(fn, fn ? __atomic_load_n(&global_log_user, __ATOMIC_RELAXED) : NULL, level, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ disassembler */

/* Arrays of characters, not of pointers: a pointer table costs the shared
 * library a load-time relocation per entry. */
static const char alu_names[16][5] = {"add", "sub", "mul", "div", "or", "and", "lsh", "rsh",
                                      "neg", "mod", "xor", "mov", "arsh", "end", "", ""};
static const char jmp_names[16][5] = {"ja", "jeq", "jgt", "jge", "jset", "jne", "jsgt", "jsge",
                                      "call", "exit", "jlt", "jle", "jslt", "jsle", "", ""};
static const char size_names[4][3] = {"w", "h", "b", "dw"};
static const char *atomic_name(int32_t imm)
{
    switch (imm) {
    case BPF_ADD: return "add";
    case BPF_OR: return "or";
    case BPF_AND: return "and";
    case BPF_XOR: return "xor";
    case BPF_ADD | BPF_FETCH: return "fetch_add";
    case BPF_OR | BPF_FETCH: return "fetch_or";
    case BPF_AND | BPF_FETCH: return "fetch_and";
    case BPF_XOR | BPF_FETCH: return "fetch_xor";
    case BPF_XCHG: return "xchg";
    case BPF_CMPXCHG: return "cmpxchg";
    default: return "atomic?";
    }
}

const char *pl_disasm(const struct pl_insn *in, char *buf, size_t len)
{
    uint8_t cls = BPF_CLASS(in->code);
    const char *sz = size_names[BPF_SIZE(in->code) >> 3];
    switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
        const char *op = alu_names[BPF_OP(in->code) >> 4];
        const char *w = cls == BPF_ALU ? "32" : "";
        if (!op[0])
            break;
        if (BPF_OP(in->code) == BPF_END)
            snprintf(buf, len, "%s%d r%d", cls == BPF_ALU64 ? "bswap" : BPF_SRC(in->code) ? "be" : "le",
                     in->imm, in->dst);
        else if (BPF_OP(in->code) == BPF_NEG)
            snprintf(buf, len, "neg%s r%d", w, in->dst);
        else if (BPF_SRC(in->code) == BPF_X)
            snprintf(buf, len, "%s%s%s r%d, r%d", in->off && BPF_OP(in->code) == BPF_MOV ? "movsx" : op,
                     in->off && BPF_OP(in->code) != BPF_MOV ? "(signed)" : "", w, in->dst, in->src);
        else
            snprintf(buf, len, "%s%s r%d, %d", op, w, in->dst, in->imm);
        return buf;
    }
    case BPF_JMP:
    case BPF_JMP32: {
        const char *op = jmp_names[BPF_OP(in->code) >> 4];
        const char *w = cls == BPF_JMP32 ? "32" : "";
        if (!op[0])
            break;
        if (BPF_OP(in->code) == BPF_EXIT)
            snprintf(buf, len, "exit");
        else if (BPF_OP(in->code) == BPF_CALL)
            snprintf(buf, len, BPF_SRC(in->code) == BPF_X ? "callx r%d" : in->src == BPF_PSEUDO_CALL
                     ? "call local %+d" : "call %d", BPF_SRC(in->code) == BPF_X ? in->dst : in->imm);
        else if (BPF_OP(in->code) == BPF_JA)
            snprintf(buf, len, "ja%s %+d", w, cls == BPF_JMP32 ? in->imm : in->off);
        else if (BPF_SRC(in->code) == BPF_X)
            snprintf(buf, len, "%s%s r%d, r%d, %+d", op, w, in->dst, in->src, in->off);
        else
            snprintf(buf, len, "%s%s r%d, %d, %+d", op, w, in->dst, in->imm, in->off);
        return buf;
    }
    case BPF_LD:
        if (in->code == BPF_LDDW) {
            snprintf(buf, len, "lddw r%d, %d%s", in->dst, in->imm, in->src ? " (pseudo)" : "");
            return buf;
        }
        break;
    case BPF_LDX:
        snprintf(buf, len, "ldx%s%s r%d, [r%d%+d]", BPF_MODE(in->code) == BPF_MEMSX ? "s" : "", sz,
                 in->dst, in->src, in->off);
        return buf;
    case BPF_ST:
        snprintf(buf, len, "st%s [r%d%+d], %d", sz, in->dst, in->off, in->imm);
        return buf;
    case BPF_STX:
        if (BPF_MODE(in->code) == BPF_ATOMIC)
            snprintf(buf, len, "lock %s%s [r%d%+d], r%d", atomic_name(in->imm),
                     BPF_SIZE(in->code) == BPF_W ? "32" : "", in->dst, in->off, in->src);
        else
            snprintf(buf, len, "stx%s [r%d%+d], r%d", sz, in->dst, in->off, in->src);
        return buf;
    }
    snprintf(buf, len, "opcode 0x%02x", in->code);
    return buf;
}
