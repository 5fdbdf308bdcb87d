/*
 * Verification time per program: every shipped extension (each verified
 * for its own hook: pliantd's query hooks and the storage layer's
 * (page_*, mem_charge, io_read, wal_checkpoint) registered by their own
 * code, a bundle's programs (buffer-pool and scheduling policies) each
 * for the hook its section names, the runtime demo's hook as
 * runtime/tools/pliant-demo.c does) and the verifier's accept corpus (the objects in build/progs: accept_* for the "accept" hook of
 * tests/test_verifier_accept.c, the older test programs without a hook).
 * Each object is opened ROUNDS times; per program the table gives the
 * median and maximum of pl_prog_verifier_stats().ns, and the verifier's
 * work (instructions processed, checkpoints stored, joins), which does not
 * vary between rounds. Objects that must not load (demo_evict_unsafe, the
 * deliberately broken test objects) are skipped.
 *
 *   bench_verify <build dir>     # prints a Markdown section for RESULTS.md
 */
#include "pliant/pliant.h"
#include "../engine/checkpoint.h"
#include "../engine/memacct.h"
#include "../engine/pcache.h"
#include "../engine/vfs.h"
#include "../server/hooks.h"
#include "pliant_demo.h"
#include "../tests/accept_hook.h"
#include "bench_util.h"

#include <bpf/libbpf.h>
#include <dirent.h>
#include <stddef.h>

#define ROUNDS 200
#define TARGET_NS 1000000 /* 1 ms per shipped extension */

static void quiet(void *user, int level, const char *msg)
{
    (void)user, (void)level, (void)msg;
}

static uint64_t test_mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)c, (void)d, (void)e;
    return a * 31 + b;
}

/* Field tables outlive the hooks: static, filled once. */
static pl_hook *demo_hook(pl_runtime *rt)
{
    static struct pl_hook_field f[1 + 4 * DEMO_CANDIDATES];
    static char names[4 * DEMO_CANDIDATES][32];
    static const char *member[4] = {"key", "last_access", "hits", "pinned"};
    static const uint32_t moff[4] = {0, 8, 16, 20}, msize[4] = {8, 8, 4, 4};
    uint32_t n = 0;
    f[n++] = (struct pl_hook_field){"ncand", 0, 4, PL_FIELD_READ, PL_FIELD_SCALAR};
    for (uint32_t i = 0; i < DEMO_CANDIDATES; i++)
        for (int m = 0; m < 4; m++) {
            snprintf(names[i * 4 + m], sizeof(names[0]), "cand[%u].%s", i, member[m]);
            f[n++] = (struct pl_hook_field){names[i * 4 + m],
                                            (uint32_t)(offsetof(struct demo_evict_ctx, cand) +
                                                       i * sizeof(struct demo_candidate) + moff[m]),
                                            msize[m], PL_FIELD_READ, PL_FIELD_SCALAR};
        }
    static const uint32_t helpers[] = {PL_HELPER_MAP_LOOKUP_ELEM, PL_HELPER_KTIME_GET_NS};
    struct pl_hook_spec spec = {.name = "demo_evict", .ctx_size = sizeof(struct demo_evict_ctx), .fields = f,
                                .nfields = n, .helpers = helpers, .nhelpers = 2, .has_ret_range = true,
                                .ret_min = 0, .ret_max = DEMO_CANDIDATES - 1};
    pl_hook *h = NULL;
    pl_error err;
    if (pl_hook_register(rt, &spec, &h, &err))
        fprintf(stderr, "bench_verify: demo hook: %s\n", err.msg);
    return h;
}

static pl_hook *accept_hook(pl_runtime *rt)
{
    pl_error err;
    pl_hook *h = accept_hook_register(rt, &err);
    if (!h)
        fprintf(stderr, "bench_verify: accept hook: %s\n", err.msg);
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct row {
    char name[160];
    bool extension;
    uint32_t insns;
    struct pl_verifier_stats st;
    uint64_t p50, max;
};

static struct row rows[256];
static uint32_t nrows;
static char skipped[16][96];
static uint32_t nskipped;

/* Opens path ROUNDS times and adds one row per program. by_section:
 * each program is verified for the hook its section names. */
static void measure(pl_runtime *rt, const char *path, const char *file, const pl_hook *hook, bool by_section,
                    bool extension)
{
    static uint64_t ns[64][ROUNDS];
    uint32_t first = nrows, nprogs = 0;
    for (int r = 0; r < ROUNDS; r++) {
        struct pl_object_opts o = {.hook = hook, .flags = PL_LOAD_NO_JIT | (by_section ? PL_LOAD_HOOK_BY_SECTION : 0)};
        pl_object *obj = NULL;
        pl_error err;
        if (pl_object_open_file(rt, path, &o, &obj, &err)) {
            fprintf(stderr, "bench_verify: %s: %s (skipped)\n", path, err.msg);
            if (nskipped < 16)
                snprintf(skipped[nskipped++], sizeof(skipped[0]), "%s (%s)", file, pl_strerror(err.code));
            nrows = first;
            return;
        }
        nprogs = pl_object_prog_count(obj);
        for (uint32_t i = 0; i < nprogs && i < 64; i++) {
            const pl_prog *p = pl_object_prog(obj, i);
            struct pl_verifier_stats st;
            pl_prog_verifier_stats(p, &st);
            ns[i][r] = st.ns;
            if (r == 0 && nrows < 256) {
                struct row *w = &rows[nrows++];
                snprintf(w->name, sizeof(w->name), "%s %s", file, pl_prog_name(p));
                w->extension = extension;
                w->insns = pl_prog_insn_count(p);
                w->st = st;
            }
        }
        pl_object_close(obj);
    }
    for (uint32_t i = 0; i < nprogs && i < 64 && first + i < nrows; i++) {
        qsort(ns[i], ROUNDS, sizeof(uint64_t), cmp_u64);
        rows[first + i].p50 = ns[i][ROUNDS / 2];
        rows[first + i].max = ns[i][ROUNDS - 1];
    }
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted .o files of dir with the given suffix. */
static uint32_t list(const char *dir, const char *suffix, char names[][128], uint32_t cap)
{
    DIR *d = opendir(dir);
    uint32_t n = 0;
    if (!d)
        return 0;
    size_t sl = strlen(suffix);
    for (struct dirent *de; (de = readdir(d)) && n < cap;) {
        size_t l = strlen(de->d_name);
        if (l > sl && !strcmp(de->d_name + l - sl, suffix))
            snprintf(names[n++], 128, "%s", de->d_name);
    }
    closedir(d);
    char *ptrs[256];
    for (uint32_t i = 0; i < n; i++)
        ptrs[i] = names[i];
    qsort(ptrs, n, sizeof(char *), cmp_name);
    static char sorted[256][128];
    for (uint32_t i = 0; i < n; i++)
        memcpy(sorted[i], ptrs[i], 128);
    memcpy(names, sorted, (size_t)n * 128);
    return n;
}

int main(int argc, char **argv)
{
    const char *build = argc > 1 ? argv[1] : "build";
    libbpf_set_print(NULL);
    pl_runtime *rt = NULL;
    pl_error err;
    struct pl_helper_spec mix = {.id = 900, .name = "pl_test_mix", .fn = test_mix,
                                 .args = {PL_ARG_SCALAR, PL_ARG_SCALAR}, .ret = PL_RET_SCALAR};
    /* Every round must verify: the cache would answer all but the first. */
    if (pl_runtime_new(&(struct pl_runtime_opts){.flags = PL_RUNTIME_NO_VERIFY_CACHE, .log = quiet}, &rt, &err) ||
        pl_helper_register(rt, &mix, &err)) {
        fprintf(stderr, "bench_verify: %s\n", err.msg);
        return 1;
    }
    pl_hook *demo = demo_hook(rt), *accept = accept_hook(rt);
    char herr[256];
    if (hooks_register(rt, herr, sizeof(herr)) || pcache_register_hooks(rt, herr, sizeof(herr)) ||
        memacct_register_hooks(rt, herr, sizeof(herr)) || vfs_register_hooks(rt, herr, sizeof(herr)) ||
        ckpt_register_hooks(rt, herr, sizeof(herr))) {
        fprintf(stderr, "bench_verify: %s\n", herr);
        return 1;
    }
    /* Which hook each shipped extension is written for, by file name;
     * NULL: the buffer pool's policies, one program per hook they use. */
    static const struct {
        const char *prefix, *hook;
    } ext_hooks[] = {
        {"demo_evict", "demo_evict"}, {"evict_", NULL}, {"page_", NULL}, {"admit_", "admit"},
        {"authorize_", "authorize"}, {"progress_", "query_progress"}, {"query_end_", "query_end"},
        {"sched_enqueue_", "sched_enqueue"}, {"sched_pick_", "sched_pick"}, {"sched_fair_", NULL},
        {"mem_charge_", "mem_charge"},
        {"io_read", "io_read"}, {"wal_checkpoint_", "wal_checkpoint"},
    };
    static char names[256][128];
    char dir[512], path[1024 + 160];

    snprintf(dir, sizeof(dir), "%s/extensions", build);
    uint32_t n = list(dir, ".bpf.o", names, 256);
    for (uint32_t i = 0; i < n; i++) {
        if (!strcmp(names[i], "demo_evict_unsafe.bpf.o"))
            continue; /* must be rejected: tests/test_verifier_accept.c checks that */
        snprintf(path, sizeof(path), "%s/%.127s", dir, names[i]);
        const pl_hook *h = NULL;
        bool by_section = false;
        for (size_t k = 0; k < sizeof(ext_hooks) / sizeof(ext_hooks[0]) && !h && !by_section; k++)
            if (!strncmp(names[i], ext_hooks[k].prefix, strlen(ext_hooks[k].prefix))) {
                by_section = !ext_hooks[k].hook;
                h = by_section ? NULL
                    : !strcmp(ext_hooks[k].hook, "demo_evict") ? demo : pl_hook_find(rt, ext_hooks[k].hook);
            }
        measure(rt, path, names[i], h, by_section, true);
    }
    snprintf(dir, sizeof(dir), "%s/progs", build);
    n = list(dir, ".o", names, 256);
    for (uint32_t i = 0; i < n; i++) {
        /* Built to fail loading (unknown helper, no programs). */
        if (!strcmp(names[i], "extern_unknown.o") || !strcmp(names[i], "no_progs.o"))
            continue;
        snprintf(path, sizeof(path), "%s/%.127s", dir, names[i]);
        measure(rt, path, names[i], !strncmp(names[i], "accept_", 7) ? accept : NULL, false, false);
    }

    uint64_t ext_max = 0, all_max = 0;
    uint64_t p50s[256];
    for (uint32_t i = 0; i < nrows; i++) {
        p50s[i] = rows[i].p50;
        if (rows[i].extension && rows[i].max > ext_max)
            ext_max = rows[i].max;
        if (rows[i].max > all_max)
            all_max = rows[i].max;
    }
    qsort(p50s, nrows, sizeof(uint64_t), cmp_u64);
    printf("## 5. Verification time\n\n");
    printf("`bench/bench_verify.c`: each object opened %d times (interpreter only, so the figure is\n"
           "verification alone: `pl_prog_verifier_stats().ns`); per program the median and the maximum\n"
           "over the rounds, and the verifier's work, which is the same every round. Shipped extensions\n"
           "are verified for their own hooks (pliantd's query hooks, the storage hooks, a bundle's\n"
           "programs each for the hook its section names, the\n"
           "runtime demo's hook), `accept_*` for the accept\n"
           "corpus hook (`tests/progs/accept_ctx.h`), the older test programs without a hook;\n"
           "`demo_evict_unsafe` (must be rejected) and the objects built to fail are left out.\n\n",
           ROUNDS);
    printf("| program | kind | insns | processed | states | joins | p50 us | max us |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (uint32_t i = 0; i < nrows; i++) {
        const struct row *w = &rows[i];
        printf("| %s | %s | %u | %u | %u | %u | %.1f | %.1f |\n", w->name, w->extension ? "extension" : "corpus",
               w->insns, w->st.insns_processed, w->st.states_stored, w->st.joins, w->p50 / 1e3, w->max / 1e3);
    }
    printf("\nAll %u programs: median of the per-program medians %.1f us, largest maximum %.1f us.\n\n", nrows,
           nrows ? p50s[nrows / 2] / 1e3 : 0.0, all_max / 1e3);
    for (uint32_t i = 0; i < nskipped; i++)
        printf("%s%s%s", i ? ", " : "Rejected, so not in the table (known false positives of the corpus): ", skipped[i],
               i + 1 == nskipped ? ".\n\n" : "");
    printf("@target|verification time, worst shipped extension (max of %d)|%.3f ms|<= 1 ms per extension|%s\n",
           ROUNDS, ext_max / 1e6, ext_max <= TARGET_NS ? "met" : "**not met**");
    pl_runtime_free(rt);
    return 0;
}
