/* Live swap under load: 16 threads invoke a hook while another thread
 * replaces its program 10,000 times. Each version v writes v and 3v into the
 * context and returns v, so every answer must come from exactly one version,
 * and versions seen by one thread never go backwards. Under ASan a use of a
 * freed program (or its unmapped JIT code) would be caught; TSan runs this
 * test too (its name contains "concurrent"). */
#include "testlib.h"
#include "insn.h"

#include <pthread.h>
#include <stdatomic.h>

#define INVOKERS 16
#define VERSIONS 10000

struct swap_ctx {
    uint64_t a, b;
};

struct invoker {
    pl_hook *hook;
    atomic_bool *stop;
    uint64_t runs, defaults, errors, last;
};

static void *invoke_loop(void *arg)
{
    struct invoker *inv = arg;
    while (!atomic_load_explicit(inv->stop, memory_order_relaxed)) {
        struct swap_ctx c = {0, 0};
        uint64_t ret = 0;
        int rc = pl_hook_run(inv->hook, &c, &ret);
        if (rc == PL_HOOK_DEFAULT) {
            inv->defaults++;
            continue;
        }
        inv->runs++;
        if (rc != PL_HOOK_RAN || c.a != ret || c.b != 3 * ret || ret < 1 || ret > VERSIONS || ret < inv->last)
            inv->errors++;
        inv->last = ret;
    }
    pl_thread_unregister();
    return NULL;
}

static pl_prog *load_version(pl_runtime *rt, pl_hook *h, int32_t v, bool jit)
{
    struct pl_insn code[] = {
        MOV64_IMM(0, v), STX64(1, 0, 0), MOV64_REG(2, 0), MUL64_IMM(2, 3), STX64(1, 2, 8), EXIT(),
    };
    pl_prog *p = NULL;
    pl_error err;
    if (pl_prog_load(rt, code, N(code), &(struct pl_prog_opts){.flags = jit ? 0 : PL_LOAD_NO_JIT, .hook = h}, &p, &err))
        tl_failf(__FILE__, __LINE__, "load v%d: %s", v, err.msg);
    return p;
}

static void run_swap_test(bool jit)
{
    pl_runtime *rt;
    if (pl_runtime_new(NULL, &rt, NULL)) {
        tl_failf(__FILE__, __LINE__, "runtime");
        return;
    }
    struct pl_hook_field fields[] = {{"a", 0, 8, PL_FIELD_WRITE | PL_FIELD_READ, 0},
                                     {"b", 8, 8, PL_FIELD_WRITE | PL_FIELD_READ, 0}};
    struct pl_hook_spec spec = {.name = "swap", .ctx_size = sizeof(struct swap_ctx), .fields = fields, .nfields = 2};
    pl_hook *h;
    if (pl_hook_register(rt, &spec, &h, NULL)) {
        tl_failf(__FILE__, __LINE__, "register");
        pl_runtime_free(rt);
        return;
    }

    atomic_bool stop = false;
    struct invoker inv[INVOKERS];
    pthread_t threads[INVOKERS];
    for (int i = 0; i < INVOKERS; i++) {
        inv[i] = (struct invoker){.hook = h, .stop = &stop};
        pthread_create(&threads[i], NULL, invoke_loop, &inv[i]);
    }
    int load_failures = 0;
    for (int32_t v = 1; v <= VERSIONS; v++) {
        pl_prog *p = load_version(rt, h, v, jit);
        if (!p || pl_hook_attach(h, p, NULL))
            load_failures++;
        pl_prog_put(p); /* the hook holds its own reference */
    }
    atomic_store(&stop, true);
    uint64_t runs = 0, errors = 0;
    for (int i = 0; i < INVOKERS; i++) {
        pthread_join(threads[i], NULL);
        runs += inv[i].runs;
        errors += inv[i].errors;
    }
    struct pl_hook_stats st;
    pl_hook_stats(h, &st);
    pl_runtime_free(rt);
    if (load_failures || errors || st.attaches != VERSIONS || st.invocations != runs)
        tl_failf(__FILE__, __LINE__, "load failures %d, inconsistent answers %llu of %llu, attaches %llu, counted %llu",
                 load_failures, (unsigned long long)errors, (unsigned long long)runs,
                 (unsigned long long)st.attaches, (unsigned long long)st.invocations);
}

TEST(live_swap_concurrent_jit_10000_replacements)
{
    run_swap_test(true);
}

TEST(live_swap_concurrent_interp_10000_replacements)
{
    run_swap_test(false);
}
