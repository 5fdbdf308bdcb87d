/*
 * Reload latency: how long a policy upgrade takes, end to end.
 *
 * One reload = pl_hook_current (the program to inherit maps from) +
 * pl_object_open_mem of the policy object (ELF parse, map inheritance,
 * relocation, structural validation, verification against the hook, JIT)
 * + pl_hook_attach (atomic swap).
 * The object is read into memory once, so no disk I/O is timed. Closing the
 * object handle and dropping the old program's reference happen after the
 * clock stops (the old program itself is freed by the RCU worker).
 *
 * The breakdown opens the same object without the JIT and with it, and
 * times attach alone, interleaved in one loop; the verifier's own time comes
 * from pl_prog_verifier_stats. Differences are taken per sample, then the
 * median, so one noisy open does not make a step negative.
 */
#include "pliant/pliant.h"
#include "bench_util.h"
#include "reload_hook.h"

#define RELOADS 1000
#define WARMUP 20
#define BREAKDOWN 300
#define SECTION "hook/reload_policy"

static pl_hook *hook;

static int register_hook(pl_runtime *rt, pl_error *err)
{
    return reload_hook_register(rt, &hook, err);
}

static void *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    *size = (size_t)n;
    return buf;
}

static void die(const char *what, const pl_error *err)
{
    fprintf(stderr, "bench_reload: %s: %s: %s\n", what, pl_strerror(err->code), err->msg);
    exit(1);
}

/* Opens the object; returns its program (borrowed from *obj). */
static pl_prog *open_policy(pl_runtime *rt, const void *elf, size_t size, unsigned flags, pl_object **obj)
{
    pl_error err = {0};
    pl_prog *old = pl_hook_current(hook);
    struct pl_object_opts opts = {.flags = flags, .inherit_maps_from = old, .hook = hook};
    if (pl_object_open_mem(rt, elf, size, &opts, obj, &err))
        die("open", &err);
    pl_prog_put(old);
    pl_prog *p = pl_object_find_prog(*obj, SECTION);
    if (!p)
        die("no program in section " SECTION, &err);
    return p;
}

/* One full reload as a host does it; returns its duration in ns. */
static double reload(pl_runtime *rt, const void *elf, size_t size)
{
    pl_error err = {0};
    pl_object *obj;
    uint64_t t0 = bench_now_ns();
    pl_prog *old = pl_hook_current(hook);
    struct pl_object_opts opts = {.inherit_maps_from = old, .hook = hook};
    if (pl_object_open_mem(rt, elf, size, &opts, &obj, &err))
        die("open", &err);
    pl_prog *p = pl_object_find_prog(obj, SECTION);
    if (!p || pl_hook_attach(hook, p, &err))
        die("attach", &err);
    uint64_t t1 = bench_now_ns();
    pl_object_close(obj);
    pl_prog_put(old);
    return (double)(t1 - t0);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "build/bench/reload_policy.bpf.o";
    pl_runtime *rt;
    pl_error err = {0};
    size_t size;
    void *elf = read_file(path, &size);
    if (!elf) {
        fprintf(stderr, "bench_reload: cannot read %s\n", path);
        return 1;
    }
    /* The headline runtime verifies every load: a policy change is a new
     * program. A second one below measures re-pushes of a known program. */
    if (pl_runtime_new(&(struct pl_runtime_opts){.flags = PL_RUNTIME_NO_VERIFY_CACHE}, &rt, &err) ||
        register_hook(rt, &err))
        die("setup", &err);
    pl_thread_register();

    for (int i = 0; i < WARMUP; i++)
        reload(rt, elf, size);
    /* The policy must actually run before its reload time means anything. */
    struct reload_ctx ctx = {.ncand = RELOAD_NCAND, .now = 1000};
    for (int i = 0; i < RELOAD_NCAND; i++)
        ctx.cand[i] = (struct scan_cand){.key = (uint64_t)i, .last_access = (uint64_t)(i == 5 ? 1 : 900)};
    uint64_t r = 0;
    pl_prog *cur = pl_hook_current(hook);
    if (pl_hook_run(hook, &ctx, &r) != PL_HOOK_RAN || r != 5 || !pl_prog_is_jitted(cur)) {
        fprintf(stderr, "bench_reload: the reloaded policy gave %llu, expected 5; aborting\n", (unsigned long long)r);
        return 1;
    }
    uint32_t ninsns = pl_prog_insn_count(cur);
    pl_prog_put(cur);

    static double t[RELOADS];
    for (int i = 0; i < RELOADS; i++)
        t[i] = reload(rt, elf, size) / 1e3;
    double p50 = bench_percentile(t, RELOADS, 50), p99 = bench_percentile(t, RELOADS, 99), max = t[RELOADS - 1];

    /* Breakdown, interleaved: open without JIT, open with JIT, attach. */
    static double load[BREAKDOWN], verify[BREAKDOWN], jit[BREAKDOWN], attach[BREAKDOWN];
    struct pl_verifier_stats vs = {0};
    for (int i = 0; i < BREAKDOWN; i++) {
        pl_object *a, *b;
        uint64_t t0 = bench_now_ns();
        pl_prog *pa = open_policy(rt, elf, size, PL_LOAD_NO_JIT, &a);
        uint64_t t1 = bench_now_ns();
        pl_prog_verifier_stats(pa, &vs);
        pl_object_close(a);
        uint64_t t2 = bench_now_ns();
        pl_prog *p = open_policy(rt, elf, size, 0, &b);
        uint64_t t3 = bench_now_ns();
        if (pl_hook_attach(hook, p, &err))
            die("attach", &err);
        uint64_t t4 = bench_now_ns();
        struct pl_verifier_stats vb;
        pl_prog_verifier_stats(p, &vb);
        pl_object_close(b);
        verify[i] = (double)vs.ns / 1e3;
        load[i] = (double)(t1 - t0 - vs.ns) / 1e3;
        jit[i] = ((double)(t3 - t2 - vb.ns) - (double)(t1 - t0 - vs.ns)) / 1e3;
        attach[i] = (double)(t4 - t3) / 1e3;
    }
    double m_load = bench_percentile(load, BREAKDOWN, 50), m_verify = bench_percentile(verify, BREAKDOWN, 50);
    double m_jit = bench_percentile(jit, BREAKDOWN, 50), m_attach = bench_percentile(attach, BREAKDOWN, 50);

    /* Re-pushes of a program this runtime verified before (a rollback, two
     * versions alternating): the verification cache answers. */
    pl_runtime_free(rt);
    if (pl_runtime_new(NULL, &rt, &err) || register_hook(rt, &err))
        die("setup", &err);
    for (int i = 0; i < WARMUP; i++)
        reload(rt, elf, size);
    static double tc[RELOADS];
    for (int i = 0; i < RELOADS; i++)
        tc[i] = reload(rt, elf, size) / 1e3;
    double c50 = bench_percentile(tc, RELOADS, 50), c99 = bench_percentile(tc, RELOADS, 99);
    double cmax = tc[RELOADS - 1];

    printf("## 3. Reload\n\n");
    printf("Object: `%s`, %zu bytes (%u instructions, 3 maps; most of the file is BTF and DWARF), read into "
           "memory once. %d reloads after %d warm-up reloads; each timed from pl_hook_current through "
           "pl_object_open_mem (maps inherited from the attached program) to pl_hook_attach.\n\n",
           path, size, ninsns, RELOADS, WARMUP);
    printf("Every load verifies the program against the hook (%u abstract instructions processed for this "
           "policy's 8-iteration loop).\n\n", vs.insns_processed);
    printf("| reload | p50 | p99 | max |\n|---|---:|---:|---:|\n");
    printf("| open + verify + JIT + attach (every load verified) | %.1f us | %.1f us | %.1f us |\n", p50, p99,
           max);
    printf("| the same, program verified before by this runtime (verification cache) | %.1f us | %.1f us | "
           "%.1f us |\n\n", c50, c99, cmax);
    printf("Breakdown (median of %d interleaved samples, differences taken per sample):\n\n", BREAKDOWN);
    printf("| step | us |\n|---|---:|\n");
    printf("| ELF parse, maps, relocation, structural checks | %.1f |\n", m_load);
    printf("| verification (pl_prog_verifier_stats) | %.1f |\n", m_verify);
    printf("| JIT compilation | %.1f |\n", m_jit);
    printf("| pl_hook_attach (swap) | %.2f |\n\n", m_attach);
    char buf[64];
    snprintf(buf, sizeof(buf), "%.1f us (p99 %.1f, max %.1f)", p50, p99, max);
    bench_target("reload p50 incl. verification", buf, p50, "<= 10 us", 10);

    pl_runtime_free(rt);
    free(elf);
    return 0;
}
