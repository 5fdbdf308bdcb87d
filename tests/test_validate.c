/* Strict decoding and structural validation: each malformed program is
 * rejected with PL_EPROG, the right instruction index and a specific reason. */
#include "testlib.h"
#include "insn.h"

#include <string.h>

struct bad_case {
    const char *name;
    struct pl_insn insns[12];
    uint32_t n;
    int insn;           /* expected instruction index in the error */
    const char *reason; /* expected substring of the message */
};

#define CASE(name_, insn_, reason_, ...)                                                  \
    {name_, {__VA_ARGS__}, N(((struct pl_insn[]){__VA_ARGS__})), insn_, reason_}


static uint64_t one(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)a, (void)b, (void)c, (void)d, (void)e;
    return 1;
}

TEST(validate_rejects_each_malformed_program)
{
    /* Local: the element counts come from compound literals. */
    const struct bad_case cases[] = {
        CASE("reserved alu op", 0, "reserved ALU operation", I(0xe7, 0, 0, 0, 0), EXIT()),
        CASE("reserved jmp op", 0, "reserved jump operation", I(0xe5, 0, 0, 0, 0), EXIT()),
        CASE("register above r10", 0, "register number above r10", MOV64_IMM(11, 0), EXIT()),
        CASE("write to r10", 0, "read-only frame pointer", MOV64_IMM(10, 0), EXIT()),
        CASE("load into r10", 0, "read-only frame pointer", LDX64(10, 1, 0), EXIT()),
        CASE("imm set in register form", 0, "non-zero immediate", I(0x0f, 0, 1, 0, 5), EXIT()),
        CASE("src set in immediate form", 0, "non-zero source register", I(0x07, 0, 1, 0, 5), EXIT()),
        CASE("offset on add", 0, "offset must be 0", I(0x07, 0, 0, 1, 5), EXIT()),
        CASE("bad movsx width", 0, "movsx offset", I(0xbf, 0, 1, 7, 0), EXIT()),
        CASE("movsx32 from 32 bits", 0, "movsx offset", I(0xbc, 0, 1, 32, 0), EXIT()),
        CASE("neg with source", 0, "neg takes no source", I(0x87, 0, 1, 0, 0), EXIT()),
        CASE("byte swap width", 0, "width must be 16, 32 or 64", I(0xd4, 0, 0, 0, 8), EXIT()),
        CASE("bswap big-endian form", 0, "no big-endian form", I(0xdf, 0, 0, 0, 16), EXIT()),
        CASE("jump past end", 0, "outside the program", I(0x05, 0, 0, 5, 0), EXIT()),
        CASE("jump before start", 0, "outside the program", I(0x05, 0, 0, -2, 0), EXIT()),
        CASE("jump into lddw", 0, "middle of an lddw", JA(1), LDDW(0, 1, 2), EXIT()),
        CASE("fall off the end", 0, "fall off the end", MOV64_IMM(0, 0)),
        CASE("conditional at end", 1, "fall off the end", MOV64_IMM(0, 0), JEQ_IMM(0, 0, -2)),
        CASE("lddw truncated", 0, "missing its second half", I(0x18, 0, 0, 0, 1)),
        CASE("lddw bad second half", 0, "second half of lddw", I(0x18, 0, 0, 0, 1), I(0x07, 0, 0, 0, 0), EXIT()),
        CASE("lddw unresolved pseudo", 0, "refers to map 0 but 0 maps", I(0x18, 0, 1, 0, 0), I(0, 0, 0, 0, 0), EXIT()),
        CASE("lddw unknown pseudo", 0, "unsupported lddw pseudo source", I(0x18, 0, 3, 0, 0), I(0, 0, 0, 0, 0), EXIT()),
        CASE("legacy ld abs", 0, "legacy packet access", I(0x20, 0, 0, 0, 0), EXIT()),
        CASE("reserved ld", 0, "reserved load opcode", I(0x00, 0, 0, 0, 0), EXIT()),
        CASE("ldx memsx dw", 0, "reserved load mode", I(0x99, 0, 1, 0, 0), EXIT()),
        CASE("ldx with imm", 0, "non-zero immediate", I(0x61, 0, 1, 0, 3), EXIT()),
        CASE("st with src", 0, "non-zero source register", I(0x62, 10, 1, -4, 3), EXIT()),
        CASE("stx with imm", 0, "non-zero immediate", I(0x63, 10, 1, -4, 3), EXIT()),
        CASE("atomic byte", 0, "32 or 64 bits", I(0xd3, 10, 1, -4, 0), EXIT()),
        CASE("atomic unknown op", 0, "unknown atomic", I(0xdb, 10, 1, -8, 0x10), EXIT()),
        CASE("exit with fields", 0, "exit takes no operands", I(0x95, 1, 0, 0, 0)),
        CASE("exit32", 0, "exit takes no operands", I(0x96, 0, 0, 0, 0)),
        CASE("unknown helper", 0, "not registered", CALL(999), EXIT()),
        CASE("kfunc call", 0, "unsupported call kind", I(0x85, 0, 2, 0, 1), EXIT()),
        CASE("call32", 0, "no 32-bit jump form", I(0x86, 0, 0, 0, 1), EXIT()),
        CASE("callx with imm", 0, "only a destination register", I(0x8d, 1, 0, 0, 1), EXIT()),
        CASE("ja with register", 0, "ja takes no registers", I(0x05, 1, 0, 0, 0), EXIT()),
        CASE("ja32 with offset", 0, "ja32 takes its target in imm", I(0x06, 0, 0, 1, 0), EXIT()),
        CASE("jeq imm with src", 0, "non-zero source register", I(0x15, 0, 1, 0, 0), EXIT()),
        CASE("jeq reg with imm", 0, "non-zero immediate", I(0x1d, 0, 1, 0, 7), EXIT()),
        CASE("recursion", 0, "recursive local calls", CALL_LOCAL(1), EXIT(), CALL_LOCAL(-1), EXIT()),
        CASE("jump into next function", 0, "outside its own function", JA(2), CALL_LOCAL(1), EXIT(), MOV64_IMM(0, 0), EXIT()),
        CASE("fall into next function", 1, "fall through into the next function",
             CALL_LOCAL(1), MOV64_IMM(0, 1), MOV64_IMM(0, 0), EXIT()),
        CASE("call outside program", 0, "outside the program", CALL_LOCAL(5), EXIT()),
    };
    pl_runtime *rt;
    pl_error err;
    CHECK_EQ(pl_runtime_new(&(struct pl_runtime_opts){.flags = PL_RUNTIME_NO_STD_HELPERS}, &rt, &err), 0);
    struct pl_helper_spec h = {.id = 1, .name = "one", .fn = one};
    CHECK_EQ(pl_helper_register(rt, &h, &err), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_case *c = &cases[i];
        pl_prog *p = NULL;
        memset(&err, 0, sizeof(err));
        int rc = pl_prog_load(rt, c->insns, c->n, &(struct pl_prog_opts){.flags = PL_LOAD_NO_JIT}, &p, &err);
        if (rc != PL_EPROG || err.insn != c->insn || !strstr(err.msg, c->reason)) {
            tl_failf(__FILE__, __LINE__, "case '%s': rc %d insn %d msg '%s' (expected insn %d, '%s')", c->name,
                     rc, err.insn, err.msg, c->insn, c->reason);
            pl_prog_put(p);
        }
    }
    pl_runtime_free(rt);
}

TEST(validate_rejects_call_chains_deeper_than_eight_frames)
{
    pl_runtime *rt;
    pl_error err;
    CHECK_EQ(pl_runtime_new(&(struct pl_runtime_opts){.flags = PL_RUNTIME_NO_STD_HELPERS}, &rt, &err), 0);
    /* Function k calls function k+1 (two instructions each); depth = nfuncs. */
    struct pl_insn prog[2 * 10];
    for (uint32_t depth = 8; depth <= 9; depth++) {
        uint32_t n = 0;
        for (uint32_t f = 0; f + 1 < depth; f++) {
            prog[n++] = CALL_LOCAL(1);
            prog[n++] = EXIT();
        }
        prog[n++] = MOV64_IMM(0, 7);
        prog[n++] = EXIT();
        pl_prog *p = NULL;
        int rc = pl_prog_load(rt, prog, n, &(struct pl_prog_opts){.flags = PL_LOAD_NO_JIT}, &p, &err);
        if (depth == 8) {
            CHECK_MSG(rc == 0, "depth 8 should load: %s", err.msg);
            uint64_t r0 = 0;
            CHECK_EQ(pl_prog_run(p, NULL, 0, false, &r0), 0);
            CHECK_EQ(r0, 7);
            pl_prog_put(p);
        } else {
            CHECK_EQ(rc, PL_EPROG);
            CHECK(strstr(err.msg, "9 frames deep") != NULL);
        }
    }
    pl_runtime_free(rt);
}

TEST(validate_accepts_exit_not_last_and_rejects_empty)
{
    pl_runtime *rt;
    pl_error err;
    CHECK_EQ(pl_runtime_new(NULL, &rt, &err), 0);
    struct pl_insn ok[] = {JA(2), MOV64_IMM(0, 3), EXIT(), MOV64_IMM(0, 0), JA(-4)};
    pl_prog *p = NULL;
    CHECK_EQ(pl_prog_load(rt, ok, N(ok), NULL, &p, &err), 0);
    uint64_t r0;
    CHECK_EQ(pl_prog_run(p, NULL, 0, true, &r0), 0);
    CHECK_EQ(r0, 3);
    pl_prog_put(p);
    CHECK_EQ(pl_prog_load(rt, ok, 0, NULL, &p, &err), PL_EPROG);
    pl_runtime_free(rt);
}
