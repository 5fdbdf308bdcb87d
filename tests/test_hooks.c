/* Hooks: registration contract, attach/replace/detach, return-value
 * validation, the circuit breaker, helper allowlists and statistics. */
#include "testlib.h"
#include "insn.h"

#include <pthread.h>
#include <string.h>

struct test_ctx {
    uint64_t in;
    uint64_t out;
};

static const struct pl_hook_field test_fields[] = {
    {"in", 0, 8, PL_FIELD_READ, PL_FIELD_SCALAR},
    {"out", 8, 8, PL_FIELD_READ | PL_FIELD_WRITE, PL_FIELD_SCALAR},
};

/* Answers are valid when at most *user (checked at run time). */
static bool at_most(uint64_t ret, const void *ctx, void *user)
{
    (void)ctx;
    return ret <= *(uint64_t *)user;
}

static uint64_t limit_ten = 10;

/* A hook whose programs must return [0, 1000]; with validate_limit, answers
 * above *validate_limit are invalid at run time. */
static pl_hook *make_hook(pl_runtime *rt, const char *name, uint64_t *validate_limit, uint32_t fault_limit)
{
    static const uint32_t allowed[] = {PL_HELPER_KTIME_GET_NS};
    struct pl_hook_spec spec = {
        .name = name, .ctx_size = sizeof(struct test_ctx), .fields = test_fields, .nfields = 2,
        .helpers = allowed, .nhelpers = 1, .has_ret_range = true, .ret_min = 0, .ret_max = 1000,
        .validate = validate_limit ? at_most : NULL, .validate_user = validate_limit, .fault_limit = fault_limit,
    };
    pl_hook *h = NULL;
    pl_error err;
    if (pl_hook_register(rt, &spec, &h, &err))
        tl_failf(__FILE__, __LINE__, "register: %s", err.msg);
    return h;
}

/* r0 = (ctx->in & 0xff) + k, verified for hook h */
static pl_prog *load_add(pl_runtime *rt, pl_hook *h, int32_t k)
{
    struct pl_insn code[] = {LDX64(0, 1, 0), I(0x57, 0, 0, 0, 0xff), ADD64_IMM(0, k), EXIT()};
    pl_prog *p = NULL;
    pl_error err;
    if (pl_prog_load(rt, code, N(code), &(struct pl_prog_opts){.hook = h}, &p, &err))
        tl_failf(__FILE__, __LINE__, "load: %s", err.msg);
    return p;
}

TEST(hook_detached_runs_default_and_attached_runs_program)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    pl_hook *h = make_hook(rt, "h", NULL, 0);
    CHECK(h && pl_hook_find(rt, "h") == h);
    struct test_ctx ctx = {.in = 5};
    uint64_t ret = 0;
    CHECK_EQ(pl_hook_run(h, &ctx, &ret), PL_HOOK_DEFAULT);
    CHECK(!pl_hook_is_attached(h));

    pl_prog *p1 = load_add(rt, h, 1), *p2 = load_add(rt, h, 2);
    CHECK(p1 && p2);
    CHECK_EQ(pl_hook_attach(h, p1, NULL), 0);
    CHECK(pl_hook_is_attached(h));
    CHECK_EQ(pl_hook_run(h, &ctx, &ret), PL_HOOK_RAN);
    CHECK_EQ(ret, 6);
    CHECK_EQ(pl_hook_attach(h, p2, NULL), 0); /* replace */
    CHECK_EQ(pl_hook_run(h, &ctx, &ret), PL_HOOK_RAN);
    CHECK_EQ(ret, 7);
    pl_prog *cur = pl_hook_current(h);
    CHECK(cur == p2);
    pl_prog_put(cur);

    CHECK_EQ(pl_hook_detach(h, NULL), 0);
    CHECK_EQ(pl_hook_run(h, &ctx, &ret), PL_HOOK_DEFAULT);
    pl_error err;
    CHECK_EQ(pl_hook_detach(h, &err), PL_ENOENT);
    CHECK(pl_hook_current(h) == NULL);

    struct pl_hook_stats st;
    pl_hook_stats(h, &st);
    CHECK_EQ(st.invocations, 2);
    CHECK_EQ(st.attaches, 2);
    CHECK(!st.attached);
    pl_prog_put(p1);
    pl_prog_put(p2);
    pl_runtime_free(rt);
}

TEST(hook_invalid_answers_fall_back_and_trip_the_breaker)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    pl_hook *h = make_hook(rt, "bounded", &limit_ten, 3);
    pl_prog *p = load_add(rt, h, 0); /* returns ctx->in: valid iff in <= 10 */
    CHECK_EQ(pl_hook_attach(h, p, NULL), 0);
    uint64_t ret = 0;
    struct test_ctx bad = {.in = 11}, good = {.in = 4};
    /* Two faults, a success resets the streak, then three faults detach. */
    CHECK_EQ(pl_hook_run(h, &bad, &ret), PL_HOOK_FAULT);
    CHECK_EQ(pl_hook_run(h, &bad, &ret), PL_HOOK_FAULT);
    CHECK_EQ(pl_hook_run(h, &good, &ret), PL_HOOK_RAN);
    CHECK_EQ(ret, 4);
    CHECK_EQ(pl_hook_run(h, &bad, &ret), PL_HOOK_FAULT);
    CHECK_EQ(pl_hook_run(h, &bad, &ret), PL_HOOK_FAULT);
    struct pl_hook_stats st;
    pl_hook_stats(h, &st);
    CHECK(st.attached);
    CHECK_EQ(pl_hook_run(h, &bad, &ret), PL_HOOK_FAULT);
    pl_hook_stats(h, &st);
    CHECK(!st.attached);
    CHECK_EQ(st.faults, 5);
    CHECK_EQ(st.detaches_by_breaker, 1);
    char reason[256];
    pl_hook_breaker_reason(h, reason, sizeof(reason));
    CHECK(strstr(reason, "3 consecutive faults") && strstr(reason, "invalid return value"));
    /* Until re-attached, the default runs. */
    CHECK_EQ(pl_hook_run(h, &good, &ret), PL_HOOK_DEFAULT);
    pl_prog_put(p);
    pl_runtime_free(rt);
}

static bool even_only(uint64_t ret, const void *ctx, void *user)
{
    (void)ctx;
    ++*(int *)user;
    return ret % 2 == 0;
}

TEST(hook_validator_callback_decides_validity)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    int calls = 0;
    struct pl_hook_spec spec = {.name = "even", .ctx_size = 16, .fields = test_fields, .nfields = 2,
                                .validate = even_only, .validate_user = &calls};
    pl_hook *h;
    CHECK_EQ(pl_hook_register(rt, &spec, &h, NULL), 0);
    pl_prog *p = load_add(rt, h, 0);
    CHECK_EQ(pl_hook_attach(h, p, NULL), 0);
    struct test_ctx c = {.in = 4};
    uint64_t ret;
    CHECK_EQ(pl_hook_run(h, &c, &ret), PL_HOOK_RAN);
    c.in = 5;
    CHECK_EQ(pl_hook_run(h, &c, &ret), PL_HOOK_FAULT);
    CHECK_EQ(calls, 2);
    pl_prog_put(p);
    pl_runtime_free(rt);
}

TEST(hook_rejects_helpers_outside_its_allowlist)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    pl_hook *h = make_hook(rt, "strict", NULL, 0);
    struct pl_insn uses_prandom[] = {CALL(PL_HELPER_GET_PRANDOM_U32), MOV64_IMM(0, 0), EXIT()};
    struct pl_insn uses_ktime[] = {CALL(PL_HELPER_KTIME_GET_NS), MOV64_IMM(0, 0), EXIT()};
    pl_prog *bad = NULL, *good;
    pl_error err;
    /* The verifier enforces the allowlist when the program is loaded for the hook. */
    CHECK_EQ(pl_prog_load(rt, uses_prandom, N(uses_prandom), &(struct pl_prog_opts){.hook = h}, &bad, &err),
             PL_EVERIFY);
    CHECK(strstr(err.msg, "bpf_get_prandom_u32") && strstr(err.msg, "not allowed in hook strict"));
    CHECK_EQ(err.insn, 0);
    CHECK_EQ(pl_prog_load(rt, uses_ktime, N(uses_ktime), &(struct pl_prog_opts){.hook = h}, &good, &err), 0);
    CHECK_EQ(pl_hook_attach(h, good, &err), 0);
    pl_prog_put(good);
    pl_runtime_free(rt);
}

TEST(hook_refuses_unverified_and_hookless_programs)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    pl_hook *h = make_hook(rt, "guarded", NULL, 0);
    struct pl_insn code[] = {MOV64_IMM(0, 0), EXIT()};
    pl_prog *unverified, *hookless;
    pl_error err;
    CHECK_EQ(pl_prog_load(rt, code, N(code), &(struct pl_prog_opts){.flags = PL_LOAD_NO_VERIFY}, &unverified, &err), 0);
    CHECK(!pl_prog_is_verified(unverified));
    CHECK_EQ(pl_hook_attach(h, unverified, &err), PL_EHOOK);
    CHECK(strstr(err.msg, "without verification"));
    CHECK_EQ(pl_prog_load(rt, code, N(code), NULL, &hookless, &err), 0);
    CHECK(pl_prog_is_verified(hookless));
    CHECK_EQ(pl_hook_attach(h, hookless, &err), PL_EHOOK);
    CHECK(strstr(err.msg, "verified without a hook"));
    pl_prog_put(unverified);
    pl_prog_put(hookless);
    pl_runtime_free(rt);
}

TEST(hook_rejects_program_loaded_for_another_hook)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    pl_hook *a = make_hook(rt, "a", NULL, 0), *b = make_hook(rt, "b", NULL, 0);
    struct pl_insn code[] = {MOV64_IMM(0, 0), EXIT()};
    pl_prog *p;
    pl_error err;
    CHECK_EQ(pl_prog_load(rt, code, N(code), &(struct pl_prog_opts){.name = "for_a", .hook = a}, &p, &err), 0);
    CHECK_EQ(pl_hook_attach(b, p, &err), PL_EHOOK);
    CHECK(strstr(err.msg, "verified for hook 'a', not for hook 'b'"));
    CHECK_EQ(pl_hook_attach(a, p, &err), 0);
    pl_prog_put(p);
    pl_runtime_free(rt);
}

TEST(hook_registration_checks_the_spec)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    pl_error err;
    pl_hook *h;
    struct pl_hook_field outside = {"x", 12, 8, PL_FIELD_READ, PL_FIELD_SCALAR};
    struct pl_hook_field odd = {"x", 0, 3, PL_FIELD_READ, PL_FIELD_SCALAR};
    struct pl_hook_field wr_handle = {"x", 0, 8, PL_FIELD_WRITE | PL_FIELD_READ, PL_FIELD_HANDLE};
    struct pl_hook_field overlap[] = {{"a", 0, 8, PL_FIELD_READ, 0}, {"b", 4, 4, PL_FIELD_READ, 0}};
    uint32_t unknown_helper = 777;
    struct {
        struct pl_hook_spec spec;
        int code;
        const char *msg;
    } bad[] = {
        {{.name = "", .ctx_size = 8}, PL_EINVAL, "needs a name"},
        {{.name = "big", .ctx_size = 1u << 20}, PL_EINVAL, "exceeds"},
        {{.name = "outside", .ctx_size = 16, .fields = &outside, .nfields = 1}, PL_EINVAL, "outside the 16-byte"},
        {{.name = "odd", .ctx_size = 16, .fields = &odd, .nfields = 1}, PL_EINVAL, "size 3"},
        {{.name = "wh", .ctx_size = 16, .fields = &wr_handle, .nfields = 1}, PL_EINVAL, "cannot be writable"},
        {{.name = "ov", .ctx_size = 16, .fields = overlap, .nfields = 2}, PL_EINVAL, "overlap"},
        {{.name = "hl", .ctx_size = 16, .helpers = &unknown_helper, .nhelpers = 1}, PL_ENOENT, "777"},
        {{.name = "rr", .ctx_size = 16, .has_ret_range = true, .ret_min = 5, .ret_max = 1}, PL_EINVAL, "empty"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = pl_hook_register(rt, &bad[i].spec, &h, &err);
        CHECK_MSG(rc == bad[i].code && strstr(err.msg, bad[i].msg), "case %zu: %d %s", i, rc, err.msg);
    }
    struct pl_hook_spec ok = {.name = "dup", .ctx_size = 8};
    CHECK_EQ(pl_hook_register(rt, &ok, &h, &err), 0);
    CHECK_EQ(pl_hook_register(rt, &ok, &h, &err), PL_EEXIST);
    CHECK(pl_hook_find(rt, "nope") == NULL);
    pl_runtime_free(rt);
}

TEST(hook_sampled_timing_times_one_call_in_two_to_the_shift)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    struct pl_hook_spec spec = {.name = "timed", .ctx_size = 16, .fields = test_fields, .nfields = 2, .sample_shift = 2};
    pl_hook *h;
    CHECK_EQ(pl_hook_register(rt, &spec, &h, NULL), 0);
    pl_prog *p = load_add(rt, h, 1);
    CHECK_EQ(pl_hook_attach(h, p, NULL), 0);
    struct test_ctx c = {0};
    uint64_t ret;
    for (int i = 0; i < 64; i++)
        CHECK_EQ(pl_hook_run(h, &c, &ret), PL_HOOK_RAN);
    struct pl_hook_stats st;
    pl_hook_stats(h, &st);
    CHECK_EQ(st.invocations, 64);
    CHECK_EQ(st.samples, 16);
    pl_prog_put(p);
    pl_runtime_free(rt);
}

struct counting_arg {
    pl_hook *hook;
    int calls;
};

static void *count_calls(void *arg)
{
    struct counting_arg *a = arg;
    struct test_ctx c = {0};
    uint64_t ret;
    for (int i = 0; i < a->calls; i++)
        pl_hook_run(a->hook, &c, &ret);
    return NULL;
}

TEST(hook_concurrent_per_thread_counters_sum_exactly)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    pl_hook *h = make_hook(rt, "count", NULL, 0);
    pl_prog *p = load_add(rt, h, 1);
    CHECK_EQ(pl_hook_attach(h, p, NULL), 0);
    pthread_t t[4];
    struct counting_arg a = {h, 5000};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, count_calls, &a);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct pl_hook_stats st;
    pl_hook_stats(h, &st);
    CHECK_EQ(st.invocations, 20000);
    pl_prog_put(p);
    pl_runtime_free(rt);
}

/* Regression: releasing an old program frees its maps from the reclaimer
 * thread, where pl_map_put defers again from inside a deferred callback
 * (with liburcu this made its worker register twice and abort). */
TEST(hook_swap_releases_last_map_reference_from_rcu_worker)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    pl_hook *h = make_hook(rt, "maps", NULL, 0);
    for (int round = 0; round < 3; round++) {
        pl_map *m;
        pl_error err;
        struct pl_map_spec spec = {.name = "m", .type = PL_MAP_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 4};
        CHECK_EQ(pl_map_create(rt, &spec, &m, &err), 0);
        /* r0 = 0; r1 = map; (the map reference is what matters) exit */
        struct pl_insn code[] = {I(0x18, 1, 1, 0, 0), I(0, 0, 0, 0, 0), MOV64_IMM(0, round), EXIT()};
        pl_prog *p;
        CHECK_EQ(pl_prog_load(rt, code, N(code), &(struct pl_prog_opts){.maps = &m, .nmaps = 1, .hook = h}, &p, &err),
                 0);
        pl_map_put(m); /* the program now holds the only reference */
        CHECK_EQ(pl_hook_attach(h, p, &err), 0);
        pl_prog_put(p);
    }
    pl_runtime_free(rt); /* frees the last program and its map on the worker */
}

/* Regression: freeing the runtime while an attached program holds the last
 * reference to a map frees the program, then (queued from the reclaimer)
 * the map, whose destructor returns its bytes to the runtime: the runtime
 * must outlive both. ASan reports a use after free otherwise. */
TEST(hook_runtime_free_waits_for_maps_freed_by_programs)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    pl_hook *h = make_hook(rt, "last_ref", NULL, 0);
    pl_map *m;
    pl_error err;
    struct pl_map_spec spec = {.name = "m", .type = PL_MAP_HASH, .key_size = 4, .value_size = 8, .max_entries = 8};
    CHECK_EQ(pl_map_create(rt, &spec, &m, &err), 0);
    struct pl_insn code[] = {I(0x18, 1, 1, 0, 0), I(0, 0, 0, 0, 0), MOV64_IMM(0, 0), EXIT()};
    pl_prog *p;
    CHECK_EQ(pl_prog_load(rt, code, N(code), &(struct pl_prog_opts){.maps = &m, .nmaps = 1, .hook = h}, &p, &err), 0);
    pl_map_put(m);
    CHECK_EQ(pl_hook_attach(h, p, &err), 0);
    pl_prog_put(p);
    pl_runtime_free(rt);
}
