/* Targeted tests of the x86-64 JIT: what the conformance vectors do not
 * reach (constant blinding, W^X, deep local calls, aborting from nested
 * frames, branch-size selection) and differential runs against the
 * interpreter over register combinations that stress fixed x86 registers. */
#include "testlib.h"
#include "insn.h"
#include "conformance_env.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define HELPER_UNWIND 5 /* conformance environment: returns r1, unwinds on 0 */

/* Calls fn(ctx, len) with sentinels in every callee-saved register and
 * stores in *clobbered the registers that came back different (as xor
 * differences or-ed together): an abort that skips a subprogram's epilogue
 * must still hand the host its registers back. The result (rax:rdx) passes
 * through untouched. */
pl_jit_result jit_call_checking_callee_saved(pl_jit_fn fn, void *ctx, uint64_t len, uint64_t *clobbered);
__asm__(".text\n"
        ".globl jit_call_checking_callee_saved\n"
        ".type jit_call_checking_callee_saved, @function\n"
        "jit_call_checking_callee_saved:\n"
        "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  push %rcx\n" /* 7 pushes: rsp is 16-byte aligned at the call */
        "  mov %rdi, %rax\n  mov %rsi, %rdi\n  mov %rdx, %rsi\n"
        "  movabs $0x1111111111111111, %rbx\n  movabs $0x2222222222222222, %rbp\n"
        "  movabs $0x3333333333333333, %r12\n  movabs $0x4444444444444444, %r13\n"
        "  movabs $0x5555555555555555, %r14\n  movabs $0x6666666666666666, %r15\n"
        "  mov $-1, %rdx\n" /* a fault word the program must overwrite on every exit */
        "  call *%rax\n"
        "  pop %r8\n"
        "  movabs $0x1111111111111111, %rcx\n  xor %rcx, %rbx\n"
        "  movabs $0x2222222222222222, %rcx\n  xor %rcx, %rbp\n  or %rbp, %rbx\n"
        "  movabs $0x3333333333333333, %rcx\n  xor %rcx, %r12\n  or %r12, %rbx\n"
        "  movabs $0x4444444444444444, %rcx\n  xor %rcx, %r13\n  or %r13, %rbx\n"
        "  movabs $0x5555555555555555, %rcx\n  xor %rcx, %r14\n  or %r14, %rbx\n"
        "  movabs $0x6666666666666666, %rcx\n  xor %rcx, %r15\n  or %r15, %rbx\n"
        "  mov %rbx, (%r8)\n"
        "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n"
        "  ret\n"
        ".size jit_call_checking_callee_saved, .-jit_call_checking_callee_saved\n");

/* Checks inside the test bodies below, which return false on failure so the
 * TEST wrapper can still free the runtime. */
#define EXPECT(cond, ...)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            tl_failf(__FILE__, __LINE__, __VA_ARGS__);                         \
            return false;                                                      \
        }                                                                      \
    } while (0)
#define EXPECT_EQ(a, b)                                                        \
    EXPECT((uint64_t)(a) == (uint64_t)(b), "%s == %s: 0x%" PRIx64 " != 0x%" PRIx64, #a, #b, \
           (uint64_t)(a), (uint64_t)(b))

/* Each test body gets a fresh runtime with the conformance helpers. */
#define JIT_TEST(name)                                                         \
    static bool name##_body(pl_runtime *rt);                                   \
    TEST(name)                                                                 \
    {                                                                          \
        pl_runtime *rt = test_runtime();                                       \
        CHECK(rt);                                                             \
        name##_body(rt);                                                       \
        pl_runtime_free(rt);                                                   \
    }                                                                          \
    static bool name##_body(pl_runtime *rt)

/* One runtime per test: freeing a runtime waits for a grace period, far
 * too slow to pay per program in the differential tests. */
static pl_runtime *test_runtime(void)
{
    pl_runtime *rt = NULL;
    pl_error err = {0};
    if (pl_conformance_runtime(&rt, &err))
        fprintf(stderr, "  runtime: %s\n", err.msg);
    return rt;
}

/* Loads with the structural checks only: these tests exercise code shapes
 * (r0 as a pointer, deliberately odd register choices) the verifier might
 * reasonably refuse. */
static pl_prog *load(pl_runtime *rt, const struct pl_insn *insns, uint32_t n, unsigned flags)
{
    pl_error err = {0};
    pl_prog *prog = NULL;
    if (pl_prog_load(rt, insns, n, &(struct pl_prog_opts){.flags = flags | PL_LOAD_NO_VERIFY}, &prog, &err))
        fprintf(stderr, "  load: %s\n", err.msg);
    return prog;
}

/* Runs the program on both engines (and the JIT blinded); returns false
 * and reports when they disagree or fail. */
static bool same_on_all_engines(pl_runtime *rt, const struct pl_insn *insns, uint32_t n, uint64_t ctx_len,
                                uint64_t *out)
{
    static const unsigned flags[] = {PL_LOAD_NO_JIT, 0, PL_LOAD_BLIND_CONSTANTS};
    uint64_t r[3];
    for (int e = 0; e < 3; e++) {
        pl_prog *prog = load(rt, insns, n, flags[e]);
        if (!prog)
            return false;
        int rc = pl_prog_run(prog, NULL, ctx_len, e != 0, &r[e]);
        bool jitted = pl_prog_is_jitted(prog);
        pl_prog_put(prog);
        if (rc || (e != 0 && !jitted)) {
            fprintf(stderr, "  engine %d: rc %d jitted %d\n", e, rc, jitted);
            return false;
        }
    }
    if (r[0] != r[1] || r[0] != r[2]) {
        fprintf(stderr, "  interp 0x%" PRIx64 " jit 0x%" PRIx64 " blinded 0x%" PRIx64 "\n", r[0], r[1], r[2]);
        return false;
    }
    if (out)
        *out = r[0];
    return true;
}

static bool code_contains(const pl_prog *prog, uint32_t value)
{
    const uint8_t *code = prog->jit_mem;
    for (size_t i = 0; i + sizeof(value) <= prog->jit_size; i++)
        if (!memcmp(code + i, &value, sizeof(value)))
            return true;
    return false;
}

JIT_TEST(jit_blinding_hides_immediates_and_keeps_results)
{
    static const uint32_t secrets[] = {
        0x3a5c7e91, 0x1b2d3f47, 0x24681357, 0x0badcafe, 0x89abcdef, 0x01234567,
        0x5eed1234, 0x13579bdf, 0x7531eca8, 0x6a4f2e13, 0x2bad1dea,
    };
    const struct pl_insn prog[] = {
        MOV64_IMM(0, 0x3a5c7e91),
        ALU64_IMM(BPF_ADD, 0, 0x1b2d3f47),
        ALU32_IMM(BPF_XOR, 0, 0x24681357),
        ALU64_IMM(BPF_MUL, 0, 0x0badcafe),
        LDDW(1, (int32_t)0x89abcdef, 0x01234567),
        ALU64_REG(BPF_XOR, 0, 1),
        I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -8, 0x5eed1234),
        LDX64(2, 10, -8),
        ALU64_REG(BPF_ADD, 0, 2),
        MOV64_REG(3, 0),
        ALU64_IMM(BPF_DIV, 3, 0x13579bdf),
        ALU64_REG(BPF_XOR, 0, 3),
        JEQ_IMM(0, 0x7531eca8, 1),
        ALU64_IMM(BPF_SUB, 0, 0x6a4f2e13),
        I(BPF_JMP32 | BPF_K | BPF_JGT, 0, 0, 1, 0x2bad1dea),
        ALU64_IMM(BPF_ADD, 0, 1),
        EXIT(),
    };
    EXPECT(same_on_all_engines(rt, prog, N(prog), 0, NULL), "engines disagree");

    pl_prog *plain = load(rt, prog, N(prog), 0);
    pl_prog *blinded = load(rt, prog, N(prog), PL_LOAD_BLIND_CONSTANTS);
    bool ok = plain && blinded;
    for (size_t i = 0; ok && i < N(secrets); i++) {
        /* Without blinding the constants are there: the scan can see them. */
        if (!code_contains(plain, secrets[i]) || code_contains(blinded, secrets[i])) {
            tl_failf(__FILE__, __LINE__, "0x%08x: in plain code %d, in blinded code %d", secrets[i],
                     code_contains(plain, secrets[i]), code_contains(blinded, secrets[i]));
            ok = false;
        }
    }
    pl_prog_put(plain);
    pl_prog_put(blinded);
    EXPECT(ok, "load failed");
    return true;
}

/* The code's mapping is read + execute, and no mapping of the process is
 * writable and executable at once: JIT code is written through the pool's
 * memfd, never through an alias mapping. */
JIT_TEST(jit_code_is_never_writable)
{
    const struct pl_insn prog[] = {MOV64_IMM(0, 7), EXIT()};
    pl_prog *p = load(rt, prog, N(prog), 0);
    EXPECT(p && p->jit_mem, "not compiled");
    uintptr_t code = (uintptr_t)p->jit_mem;
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512], perms[8] = "", wx[512] = "";
    bool found = false;
    while (maps && fgets(line, sizeof(line), maps)) {
        unsigned long lo, hi;
        char pm[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, pm) != 3)
            continue;
        if (code >= lo && code < hi) {
            found = true;
            memcpy(perms, pm, sizeof(perms));
        }
        if (pm[1] == 'w' && pm[2] == 'x' && !wx[0])
            snprintf(wx, sizeof(wx), "%s", line);
    }
    if (maps)
        fclose(maps);
    pl_prog_put(p);
    EXPECT(found, "JIT code not found in /proc/self/maps");
    EXPECT(perms[1] == '-' && perms[2] == 'x', "JIT mapping has permissions %s", perms);
    EXPECT(!wx[0], "a mapping is writable and executable: %s", wx);
    return true;
}

/* Eight frames: f0 (entry) calls f1 ... calls f7. Each keeps a value in
 * its own stack slot and in r6 across the call. */
JIT_TEST(jit_local_calls_nest_eight_deep_with_private_frames)
{
    enum { DEPTH = PL_MAX_CALL_DEPTH, LEN = 7 };
    struct pl_insn prog[DEPTH * LEN];
    uint64_t expect = 1;
    for (int k = DEPTH - 1; k >= 0; k--)
        expect += 100 + (uint64_t)k + 7 * (uint64_t)k;
    for (int k = 0; k < DEPTH; k++) {
        struct pl_insn *f = &prog[k * LEN];
        f[0] = I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -8, 100 + k);
        f[1] = MOV64_IMM(6, 7 * k);
        f[2] = k + 1 < DEPTH ? CALL_LOCAL(LEN - 3) : MOV64_IMM(0, 1);
        f[3] = LDX64(1, 10, -8);
        f[4] = ALU64_REG(BPF_ADD, 0, 1);
        f[5] = ALU64_REG(BPF_ADD, 0, 6);
        f[6] = EXIT();
    }
    uint64_t r0 = 0;
    EXPECT(same_on_all_engines(rt, prog, N(prog), 0, &r0), "engines disagree");
    EXPECT_EQ(r0, expect);
    return true;
}

JIT_TEST(jit_callx_to_unknown_helper_faults)
{
    static const int32_t bad_ids[] = {999, PL_HELPER_ID_MAX, -1};
    for (size_t i = 0; i < N(bad_ids); i++) {
        const struct pl_insn prog[] = {
            MOV64_IMM(6, 5),
            CALL_LOCAL(2),
            MOV64_IMM(0, 42),
            EXIT(),
            MOV64_IMM(7, bad_ids[i]), /* subprogram: callx from a nested frame */
            CALLX(7),
            MOV64_IMM(0, 1),
            EXIT(),
        };
        pl_prog *p = load(rt, prog, N(prog), 0);
        EXPECT(p, "load failed");
        uint64_t clobbered = 0;
        pl_jit_result res = jit_call_checking_callee_saved(p->jit_fn, NULL, 0, &clobbered);
        uint64_t r0 = res.r0, fault = res.fault;
        uint64_t ret = 0;
        int rc = pl_prog_run(p, NULL, 0, true, &ret);
        pl_prog_put(p);
        EXPECT(fault != 0, "callx %d did not fault", bad_ids[i]);
        EXPECT_EQ(r0, 0);
        EXPECT_EQ(clobbered, 0);
        EXPECT_EQ(rc, PL_EFAULT);
    }
    return true;
}

/* Every exit reports "no fault" in the result's second word, whatever the
 * caller left in rdx: from the main program, after local calls, and in
 * programs that can also fault (whose exits share code with the stubs). */
JIT_TEST(jit_normal_exit_reports_no_fault)
{
    const struct pl_insn plain[] = {MOV64_IMM(0, 7), EXIT()};
    const struct pl_insn nested[] = {
        MOV64_IMM(6, 5), CALL_LOCAL(2), ALU64_REG(BPF_ADD, 0, 6), EXIT(),
        MOV64_IMM(0, 2), EXIT(),
    };
    const struct pl_insn faultable[] = {
        MOV64_IMM(7, 999), JEQ_IMM(7, 999, 1), CALLX(7), MOV64_IMM(0, 9), EXIT(),
    };
    const struct { const struct pl_insn *insns; uint32_t n; uint64_t r0; } cases[] = {
        {plain, N(plain), 7}, {nested, N(nested), 7}, {faultable, N(faultable), 9},
    };
    for (size_t i = 0; i < N(cases); i++) {
        pl_prog *p = load(rt, cases[i].insns, cases[i].n, 0);
        EXPECT(p, "load failed");
        uint64_t clobbered = 0;
        pl_jit_result res = jit_call_checking_callee_saved(p->jit_fn, NULL, 0, &clobbered);
        pl_prog_put(p);
        EXPECT_EQ(res.r0, cases[i].r0);
        EXPECT_EQ(res.fault, 0);
        EXPECT_EQ(clobbered, 0);
    }
    return true;
}

/* JIT code checks its answer against the return range of the hook it was
 * loaded for (defence in depth behind the verifier, which proves the range):
 * both encodings of the bounds, the inline hook path's fault handling, the
 * streak reset by a good answer and the breaker. The program is loaded
 * unverified and marked verified by hand to stand for a verifier bug. */
JIT_TEST(jit_checks_the_hook_return_range)
{
    static const struct pl_hook_field fields[] = {{"in", 0, 8, PL_FIELD_READ, PL_FIELD_SCALAR}};
    const struct pl_insn prog[] = {LDX64(0, 1, 0), EXIT()};
    const struct {
        int64_t min, max;
        int64_t good[2], bad[2];
    } ranges[] = {
        {0, 1000, {0, 1000}, {1001, -1}},
        {-5000000000ll, 5000000000ll, {-5000000000ll, 5000000000ll}, {-5000000001ll, 5000000001ll}},
    };
    for (size_t r = 0; r < N(ranges); r++) {
        char name[16];
        snprintf(name, sizeof(name), "range%zu", r);
        struct pl_hook_spec spec = {.name = name, .ctx_size = 8, .fields = fields, .nfields = 1,
                                    .has_ret_range = true, .ret_min = ranges[r].min, .ret_max = ranges[r].max,
                                    .fault_limit = 3};
        pl_hook *h = NULL;
        pl_prog *p = NULL;
        pl_error err = {0};
        EXPECT(!pl_hook_register(rt, &spec, &h, &err), "register: %s", err.msg);
        EXPECT(!pl_prog_load(rt, prog, N(prog), &(struct pl_prog_opts){.hook = h, .flags = PL_LOAD_NO_VERIFY}, &p,
                             &err), "load: %s", err.msg);
        for (int k = 0; k < 2; k++) {
            uint64_t clobbered = 0, in = (uint64_t)ranges[r].good[k];
            pl_jit_result res = jit_call_checking_callee_saved(p->jit_fn, &in, 8, &clobbered);
            EXPECT_EQ(res.r0, in);
            EXPECT_EQ(res.fault, 0);
            in = (uint64_t)ranges[r].bad[k];
            res = jit_call_checking_callee_saved(p->jit_fn, &in, 8, &clobbered);
            EXPECT_EQ(res.r0, in);
            EXPECT_EQ(res.fault, PL__JIT_BAD_ANSWER);
            EXPECT_EQ(clobbered, 0);
            /* Running a program directly applies no hook contract. */
            uint64_t ret = 0;
            EXPECT_EQ(pl_prog_run(p, &in, 8, true, &ret), 0);
            EXPECT_EQ(ret, in);
        }
        p->verified = true;
        EXPECT(!pl_hook_attach(h, p, &err), "attach: %s", err.msg);
        const struct pl_hook_head *head = (const struct pl_hook_head *)h;
        uint64_t bad = (uint64_t)ranges[r].bad[0], good = (uint64_t)ranges[r].good[1], ret = 0;
        EXPECT(atomic_load(&head->fast_fn) != NULL, "no inline path");
        EXPECT_EQ(pl_hook_run(h, &bad, &ret), PL_HOOK_FAULT);
        EXPECT(atomic_load(&head->fast_fn) == NULL, "a fault streak must leave the inline path");
        EXPECT_EQ(pl_hook_run(h, &bad, &ret), PL_HOOK_FAULT);
        EXPECT_EQ(pl_hook_run(h, &good, &ret), PL_HOOK_RAN);
        EXPECT_EQ(ret, good);
        EXPECT(atomic_load(&head->fast_fn) == p->jit_fn, "a good answer must restore the inline path");
        for (int k = 0; k < 3; k++)
            EXPECT_EQ(pl_hook_run(h, &bad, &ret), PL_HOOK_FAULT);
        struct pl_hook_stats st;
        pl_hook_stats(h, &st);
        char reason[256];
        pl_hook_breaker_reason(h, reason, sizeof(reason));
        pl_prog_put(p);
        EXPECT(!st.attached, "the breaker did not detach");
        EXPECT_EQ(st.faults, 5);
        EXPECT_EQ(st.invocations, 6);
        EXPECT(strstr(reason, "invalid return value"), "reason: %s", reason);
        EXPECT_EQ(pl_hook_run(h, &good, &ret), PL_HOOK_DEFAULT);
    }
    return true;
}

JIT_TEST(jit_callx_reaches_registered_helpers)
{
    const struct pl_insn prog[] = {
        MOV64_IMM(1, 1), MOV64_IMM(2, 2), MOV64_IMM(3, 3), MOV64_IMM(4, 4), MOV64_IMM(5, 5),
        MOV64_IMM(0, 0), /* gather_bytes: the id in r0, the register the call overwrites */
        CALLX(0),
        EXIT(),
    };
    uint64_t r0 = 0;
    EXPECT(same_on_all_engines(rt, prog, N(prog), 0, &r0), "engines disagree");
    EXPECT_EQ(r0, 0x0102030405ull);
    return true;
}

/* unwind(0) two calls deep ends the program at once with r0 = 0; the host's
 * callee-saved registers survive although no subprogram epilogue ran. */
JIT_TEST(jit_unwind_helper_inside_local_calls)
{
    for (int via_callx = 0; via_callx <= 1; via_callx++) {
        for (int arg = 0; arg <= 1; arg++) {
            const struct pl_insn prog[] = {
                MOV64_IMM(6, 11),
                CALL_LOCAL(2),
                ALU64_REG(BPF_ADD, 0, 6),
                EXIT(),
                MOV64_IMM(7, 1), /* f1: uses r6-r9 and the stack */
                MOV64_IMM(8, 2),
                MOV64_IMM(9, 3),
                STX64(10, 9, -16),
                MOV64_IMM(6, 4),
                CALL_LOCAL(2),
                ALU64_IMM(BPF_ADD, 0, 100),
                EXIT(),
                MOV64_IMM(1, arg), /* f2 */
                MOV64_IMM(2, HELPER_UNWIND),
                via_callx ? CALLX(2) : CALL(HELPER_UNWIND),
                ALU64_IMM(BPF_ADD, 0, 1000),
                EXIT(),
            };
            uint64_t expect = arg ? 1 + 1000 + 100 + 11 : 0;
            uint64_t r0 = 0;
            EXPECT(same_on_all_engines(rt, prog, N(prog), 0, &r0), "callx %d arg %d", via_callx, arg);
            EXPECT_EQ(r0, expect);

            pl_prog *p = load(rt, prog, N(prog), 0);
            EXPECT(p, "load failed");
            uint64_t clobbered = 0;
            pl_jit_result res = jit_call_checking_callee_saved(p->jit_fn, NULL, 0, &clobbered);
            r0 = res.r0;
            uint64_t fault = res.fault;
            pl_prog_put(p);
            EXPECT_EQ(r0, expect);
            EXPECT_EQ(fault, 0);
            EXPECT_EQ(clobbered, 0);
        }
    }
    return true;
}

/* Forward and backward branches over growing bodies cross the rel8/rel32
 * boundary; relaxation must pick a form that reaches. The bodies mix 4-byte
 * adds with 3-byte moves so the distances step through every byte value
 * around the boundary. */
JIT_TEST(jit_branches_across_rel8_boundary)
{
    enum { MAX_FILL = 80 };
    struct pl_insn prog[2 * MAX_FILL + 16];
    for (uint32_t fill = 0; fill <= MAX_FILL; fill++) {
        uint32_t n = 0, adds = fill - fill / 4;
        prog[n++] = MOV64_IMM(0, 0);
        prog[n++] = MOV64_IMM(3, 3);
        uint32_t loop = n;
        for (uint32_t i = 0; i < fill; i++)
            prog[n++] = i % 4 == 3 ? MOV64_REG(4, 3) : ALU64_IMM(BPF_ADD, 0, 1);
        prog[n++] = ALU64_IMM(BPF_SUB, 3, 1);
        prog[n] = I(BPF_JMP | BPF_K | BPF_JNE, 3, 0, (int16_t)(loop - (n + 1)), 0);
        n++;
        prog[n++] = I(BPF_JMP | BPF_K | BPF_JEQ, 2, 0, (int16_t)(fill + 1), 0);
        for (uint32_t i = 0; i < fill; i++)
            prog[n++] = i % 4 == 3 ? MOV64_REG(4, 3) : ALU64_IMM(BPF_ADD, 0, 7);
        prog[n++] = JA(1);
        prog[n++] = ALU64_IMM(BPF_ADD, 0, 1000);
        prog[n++] = EXIT();
        for (uint64_t len = 0; len <= 1; len++) {
            uint64_t r0 = 0;
            EXPECT(same_on_all_engines(rt, prog, n, len, &r0), "fill %u len %u", fill, (unsigned)len);
            EXPECT_EQ(r0, 3 * adds + (len ? 7 * adds : 1000));
        }
    }
    return true;
}

/* Nested forward branches: each one's distance depends on whether the ones
 * it jumps over were shortened, so relaxation needs several rounds, and
 * the outermost only fits in rel8 once the inner ones have shrunk. */
JIT_TEST(jit_nested_branches_relax_together)
{
    enum { DEPTH = 12 };
    struct pl_insn prog[3 * DEPTH + 8];
    for (uint32_t pad = 0; pad <= 12; pad++) {
        uint32_t n = 0;
        prog[n++] = MOV64_IMM(0, 0);
        /* Branch k skips branches k+1.. and their adds when r2 == k. */
        for (uint32_t k = 0; k < DEPTH; k++) {
            uint32_t after = DEPTH - k - 1; /* inner branches and adds it skips */
            prog[n++] = I(BPF_JMP | BPF_K | BPF_JEQ, 2, 0, (int16_t)(2 * after + 1 + pad), (int32_t)k);
            prog[n++] = ALU64_IMM(BPF_ADD, 0, 1);
        }
        for (uint32_t i = 0; i < pad; i++)
            prog[n++] = ALU64_IMM(BPF_ADD, 0, 100);
        prog[n++] = EXIT();
        for (uint64_t len = 0; len <= DEPTH; len++) {
            uint64_t r0 = 0;
            EXPECT(same_on_all_engines(rt, prog, n, len, &r0), "pad %u len %u", pad, (unsigned)len);
        }
    }
    return true;
}

static const uint64_t operands[] = {
    0, 1, 7, UINT64_MAX, (uint64_t)-7, 0x80000000ull, 0x8000000000000000ull, 0xdeadbeefcafebabeull,
};

static void put_lddw(struct pl_insn *prog, uint32_t *n, uint8_t dst, uint64_t value)
{
    prog[(*n)++] = I(BPF_LDDW, dst, 0, 0, (int32_t)value);
    prog[(*n)++] = I(0, 0, 0, 0, (int32_t)(value >> 32));
}

/* dst op= src (src < 0: op= (int32_t)b), folding r0, r3 (rax, rdx: the
 * registers x86 division uses) and dst into the result. */
static bool divmod_case(pl_runtime *rt, uint8_t cls, uint8_t op, int16_t is_signed, uint8_t dst, int src,
                        uint64_t a, uint64_t b)
{
    struct pl_insn prog[16];
    uint32_t n = 0;
    prog[n++] = MOV64_IMM(0, 0x5a);
    prog[n++] = MOV64_IMM(3, 0x33);
    put_lddw(prog, &n, dst, a);
    if (src >= 0) {
        if (src != dst)
            put_lddw(prog, &n, (uint8_t)src, b);
        prog[n++] = I(cls | BPF_X | op, dst, (uint8_t)src, is_signed, 0);
    } else {
        prog[n++] = I(cls | BPF_K | op, dst, 0, is_signed, (int32_t)b);
    }
    prog[n++] = ALU64_IMM(BPF_MUL, 0, 3);
    prog[n++] = ALU64_REG(BPF_XOR, 0, dst);
    prog[n++] = ALU64_IMM(BPF_MUL, 3, 5);
    prog[n++] = ALU64_REG(BPF_ADD, 0, 3);
    prog[n++] = EXIT();
    return same_on_all_engines(rt, prog, n, 0, NULL);
}

JIT_TEST(jit_divmod_matches_interpreter_around_rax_rdx)
{
    static const uint8_t regs[] = {0, 3, 6};
    static const uint8_t ops[] = {BPF_DIV, BPF_MOD};
    static const uint8_t classes[] = {BPF_ALU, BPF_ALU64};
    for (size_t c = 0; c < N(classes); c++)
        for (size_t o = 0; o < N(ops); o++)
            for (int16_t sgn = 0; sgn <= 1; sgn++)
                for (size_t d = 0; d < N(regs); d++)
                    for (size_t ia = 0; ia < N(operands); ia++)
                        for (size_t ib = 0; ib < N(operands); ib++) {
                            uint64_t a = operands[ia], b = operands[ib];
                            EXPECT(divmod_case(rt, classes[c], ops[o], sgn, regs[d], -1, a, b),
                                   "cls %u op %u signed %d dst r%u imm 0x%x a 0x%" PRIx64, classes[c], ops[o],
                                   sgn, regs[d], (uint32_t)b, a);
                            for (size_t s = 0; s < N(regs); s++)
                                EXPECT(divmod_case(rt, classes[c], ops[o], sgn, regs[d], regs[s], a, b),
                                       "cls %u op %u signed %d r%u / r%u: 0x%" PRIx64 " 0x%" PRIx64, classes[c],
                                       ops[o], sgn, regs[d], regs[s], a, b);
                        }
    return true;
}

/* The fetching and/or/xor loops borrow rax: r0 as address or operand. */
JIT_TEST(jit_atomics_match_interpreter_with_r0_operands)
{
    static const int32_t atomic_ops[] = {
        BPF_ADD, BPF_OR, BPF_AND, BPF_XOR, BPF_ADD | BPF_FETCH, BPF_OR | BPF_FETCH,
        BPF_AND | BPF_FETCH, BPF_XOR | BPF_FETCH, BPF_XCHG, BPF_CMPXCHG,
    };
    static const uint8_t bases[] = {0, 1, 6};
    static const uint8_t vals[] = {0, 2, 6};
    for (int wide = 0; wide <= 1; wide++)
        for (size_t o = 0; o < N(atomic_ops); o++)
            for (size_t bi = 0; bi < N(bases); bi++)
                for (size_t vi = 0; vi < N(vals); vi++) {
                    uint8_t base = bases[bi], val = vals[vi];
                    if (base == val)
                        continue;
                    bool cmpxchg = atomic_ops[o] == BPF_CMPXCHG;
                    struct pl_insn prog[20];
                    uint32_t n = 0;
                    put_lddw(prog, &n, 4, 0x800000010ff00ff0ull);
                    prog[n++] = STX64(10, 4, -8);
                    /* r0 = the value cmpxchg expects, unless r0 is taken */
                    prog[n++] = base && val ? MOV64_IMM(0, 0x0ff00ff0) : MOV64_IMM(7, 0);
                    put_lddw(prog, &n, val, 0x9abcdef012345678ull);
                    prog[n++] = MOV64_REG(base, 10);
                    prog[n++] = ALU64_IMM(BPF_ADD, base, -8);
                    prog[n++] = I(BPF_STX | BPF_ATOMIC | (wide ? BPF_DW : BPF_W), base, val, 0, atomic_ops[o]);
                    prog[n++] = LDX64(5, 10, -8);
                    prog[n++] = ALU64_IMM(BPF_MUL, 5, 3);
                    prog[n++] = ALU64_REG(BPF_XOR, 5, val);
                    /* r0 still holding the stack address differs per engine */
                    prog[n++] = base == 0 && !cmpxchg ? MOV64_IMM(0, 0) : ALU64_IMM(BPF_MUL, 0, 7);
                    prog[n++] = ALU64_REG(BPF_ADD, 0, 5);
                    prog[n++] = EXIT();
                    EXPECT(same_on_all_engines(rt, prog, n, 0, NULL), "atomic 0x%x %s base r%u val r%u",
                           (unsigned)atomic_ops[o], wide ? "dw" : "w", base, val);
                }
    return true;
}

/* "if (cond) skip; r0 = r2" compiles to a conditional move, except when
 * another branch lands on the move. */
JIT_TEST(jit_conditional_move_matches_interpreter)
{
    static const uint8_t conds[] = {
        BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE,
    };
    static const int32_t values[] = {-2, 0, 3};
    for (int cls = 0; cls <= 1; cls++)
        for (size_t c = 0; c < N(conds); c++)
            for (size_t v = 0; v < N(values); v++)
                for (int landing = 0; landing <= 1; landing++) {
                    uint8_t jmp = cls ? BPF_JMP32 : BPF_JMP;
                    const struct pl_insn prog[] = {
                        MOV64_IMM(0, 100),
                        MOV64_IMM(1, values[v]),
                        /* ctx_len (r2 at entry) 1 takes the branch onto the move */
                        landing ? I(BPF_JMP | BPF_K | BPF_JEQ, 2, 0, 2, 1) : MOV64_IMM(3, 0),
                        MOV64_IMM(2, 200),
                        I(jmp | BPF_K | conds[c], 1, 0, 1, 0),
                        MOV64_REG(0, 2),
                        EXIT(),
                    };
                    for (uint64_t len = 0; len <= 1; len++)
                        EXPECT(same_on_all_engines(rt, prog, N(prog), len, NULL), "cond 0x%x%s value %d",
                               conds[c], cls ? " (32)" : "", values[v]);
                }
    return true;
}
