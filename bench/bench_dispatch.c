/*
 * Dispatch cost: what a host pays per hook call.
 *
 *   detached  pl_hook_run on a hook with nothing attached (the inline check)
 *   attached  pl_hook_run on a hook running a JIT-compiled "return ctx->x + 1"
 *   native    the same function in C, called through a volatile function
 *             pointer (the cheapest thing a pluggable policy could be)
 *
 * All three run in the same loop shape, so loop overhead is in each figure.
 * Detached can beat native: it is a load and a predicted branch, no call.
 */
#include "pliant/pliant.h"
#include "bench_util.h"

struct dctx {
    uint64_t x;
};

/* r0 = *(u64 *)(r1 + 0); r0 += 1; exit. Opcodes spelled out because the
 * public API has no instruction-building macros. */
static const struct pl_insn plus_one[] = {
    {.code = 0x79, .dst = 0, .src = 1, .off = 0}, /* ldxdw */
    {.code = 0x07, .dst = 0, .imm = 1},           /* add64 imm */
    {.code = 0x95},                               /* exit */
};

__attribute__((noinline)) static uint64_t native_plus_one(const struct dctx *c)
{
    return c->x + 1;
}
static uint64_t (*volatile native_fp)(const struct dctx *) = native_plus_one;

static volatile uint64_t sink;

static void run_hook(void *arg, uint64_t iters)
{
    pl_hook *h = arg;
    struct dctx c;
    uint64_t sum = 0, r = 0;
    for (uint64_t i = 0; i < iters; i++) {
        c.x = i;
        if (pl_hook_run(h, &c, &r) == PL_HOOK_RAN)
            sum += r;
    }
    sink = sum;
}

static void run_native(void *arg, uint64_t iters)
{
    (void)arg;
    struct dctx c;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        c.x = i;
        sum += native_fp(&c);
    }
    sink = sum;
}

int main(void)
{
    pl_runtime *rt;
    pl_hook *on, *off;
    pl_prog *prog;
    pl_error err = {0};
    static const struct pl_hook_field fields[] = {{"x", 0, 8, PL_FIELD_READ, PL_FIELD_SCALAR}};
    struct pl_hook_spec spec = {.name = "bench_on", .ctx_size = sizeof(struct dctx), .fields = fields, .nfields = 1};
    if (pl_runtime_new(NULL, &rt, &err) || pl_hook_register(rt, &spec, &on, &err))
        goto fail;
    spec.name = "bench_off";
    if (pl_hook_register(rt, &spec, &off, &err))
        goto fail;
    struct pl_prog_opts popts = {.name = "plus_one", .hook = on};
    if (pl_prog_load(rt, plus_one, 3, &popts, &prog, &err) || pl_hook_attach(on, prog, &err))
        goto fail;
    if (!pl_prog_is_jitted(prog)) {
        fprintf(stderr, "bench_dispatch: the program was not JIT-compiled\n");
        return 1;
    }
    pl_thread_register(); /* keep first-use registration out of the timing */

    /* The result must be right before its speed means anything. */
    struct dctx c = {41};
    uint64_t r = 0;
    if (pl_hook_run(on, &c, &r) != PL_HOOK_RAN || r != 42 || native_fp(&c) != 42 ||
        pl_hook_run(off, &c, &r) != PL_HOOK_DEFAULT) {
        fprintf(stderr, "bench_dispatch: wrong results, aborting\n");
        return 1;
    }

    struct bench_variant v[] = {
        {.name = "pl_hook_run, detached hook", .run = run_hook, .arg = off},
        {.name = "pl_hook_run, attached JIT program", .run = run_hook, .arg = on},
        {.name = "native C through a volatile function pointer", .run = run_native},
    };
    const int rounds = 201;
    bench_interleave(v, 3, rounds, 0.25);
    double ratio = bench_ratio(&v[1], &v[2], rounds);

    printf("## 1. Dispatch\n\n");
    printf("Program: `r0 = ctx->x + 1` (3 instructions, JIT). Median of %d interleaved rounds, "
           "%llu+ calls per round; loop overhead included in every row.\n\n",
           rounds, (unsigned long long)v[2].iters);
    printf("| variant | ns/call |\n|---|---:|\n");
    for (int k = 0; k < 3; k++)
        printf("| %s | %.2f |\n", v[k].name, v[k].median_ns);
    printf("\nattached : native indirect call = **%.2fx** (median of per-round ratios)\n\n", ratio);
    char buf[64];
    snprintf(buf, sizeof(buf), "%.2fx (%.1f vs %.1f ns)", ratio, v[1].median_ns, v[2].median_ns);
    bench_target("dispatch: attached hook : native indirect call", buf, ratio, "<= 1.5x", 1.5);

    pl_prog_put(prog);
    pl_runtime_free(rt);
    return 0;
fail:
    fprintf(stderr, "bench_dispatch: %s: %s\n", pl_strerror(err.code), err.msg);
    return 1;
}
