/* The verification cache: identical inputs are not verified twice, and any
 * difference in what the verifier reads — an instruction, a map's shape,
 * read-only data, the hook — means a fresh verification. */
#include "testlib.h"
#include "insn.h"

#include <string.h>

struct cache_env {
    pl_runtime *rt;
    pl_hook *a, *b;
};

static const struct pl_hook_field field = {"x", 0, 8, PL_FIELD_READ, PL_FIELD_SCALAR};

static int env_init(struct cache_env *e, unsigned flags)
{
    pl_error err;
    if (pl_runtime_new(&(struct pl_runtime_opts){.flags = flags}, &e->rt, &err))
        return -1;
    static const uint32_t helpers[] = {PL_HELPER_MAP_LOOKUP_ELEM};
    struct pl_hook_spec spec = {.name = "a", .ctx_size = 8, .fields = &field, .nfields = 1,
                                .helpers = helpers, .nhelpers = 1};
    if (pl_hook_register(e->rt, &spec, &e->a, &err))
        return -1;
    spec.name = "b";
    return pl_hook_register(e->rt, &spec, &e->b, &err);
}

/* r0 = *(u64 *)(lookup(map, key=0) + off) or 0 */
static int load(struct cache_env *e, pl_hook *h, pl_map *map, int16_t off, pl_prog **out, pl_error *err)
{
    struct pl_insn code[] = {
        I(0x62, 10, 0, -4, 0),         /* *(u32 *)(fp-4) = 0 */
        I(0x18, 1, 1, 0, 0), I(0, 0, 0, 0, 0), /* r1 = map 0 */
        MOV64_REG(2, 10), ADD64_IMM(2, -4),
        CALL(PL_HELPER_MAP_LOOKUP_ELEM),
        JEQ_IMM(0, 0, 2),
        LDX64(0, 0, off),
        EXIT(),
        MOV64_IMM(0, 0),
        EXIT(),
    };
    return pl_prog_load(e->rt, code, N(code), &(struct pl_prog_opts){.hook = h, .maps = &map, .nmaps = 1}, out, err);
}

static pl_map *array(struct cache_env *e, uint32_t value_size)
{
    pl_map *m = NULL;
    struct pl_map_spec spec = {.name = "m", .type = PL_MAP_ARRAY, .key_size = 4, .value_size = value_size,
                               .max_entries = 1};
    pl_map_create(e->rt, &spec, &m, NULL);
    return m;
}

static bool cached(const pl_prog *p)
{
    struct pl_verifier_stats st;
    pl_prog_verifier_stats(p, &st);
    return st.cached;
}

TEST(verify_cache_skips_identical_inputs_only)
{
    struct cache_env e;
    CHECK_EQ(env_init(&e, 0), 0);
    pl_map *m16 = array(&e, 16), *m16b = array(&e, 16), *m8 = array(&e, 8);
    pl_prog *p1, *p2, *p3, *p4, *p5;
    pl_error err;
    CHECK_EQ(load(&e, e.a, m16, 8, &p1, &err), 0);
    CHECK(!cached(p1));
    /* Same program, another map of the same shape: cached. */
    CHECK_EQ(load(&e, e.a, m16b, 8, &p2, &err), 0);
    CHECK(cached(p2));
    /* One instruction differs: verified again. */
    CHECK_EQ(load(&e, e.a, m16, 0, &p3, &err), 0);
    CHECK(!cached(p3));
    /* Same instructions for another hook: verified again. */
    CHECK_EQ(load(&e, e.b, m16, 8, &p4, &err), 0);
    CHECK(!cached(p4));
    /* Same instructions, a smaller map: verified again — and rejected,
     * since offset 8 of an 8-byte value is out of bounds. */
    CHECK_EQ(load(&e, e.a, m8, 8, &p5, &err), PL_EVERIFY);
    CHECK(strstr(err.msg, "outside its 8 bytes"));
    pl_prog_put(p1);
    pl_prog_put(p2);
    pl_prog_put(p3);
    pl_prog_put(p4);
    pl_map_put(m16);
    pl_map_put(m16b);
    pl_map_put(m8);
    pl_runtime_free(e.rt);
}

TEST(verify_cache_can_be_disabled)
{
    struct cache_env e;
    CHECK_EQ(env_init(&e, PL_RUNTIME_NO_VERIFY_CACHE), 0);
    pl_map *m = array(&e, 16);
    pl_prog *p1, *p2;
    pl_error err;
    CHECK_EQ(load(&e, e.a, m, 8, &p1, &err), 0);
    CHECK_EQ(load(&e, e.a, m, 8, &p2, &err), 0);
    CHECK(!cached(p1) && !cached(p2));
    pl_prog_put(p1);
    pl_prog_put(p2);
    pl_map_put(m);
    pl_runtime_free(e.rt);
}

/* Read-only data is part of the key: string arguments are checked against
 * its contents. */
TEST(verify_cache_keys_on_read_only_data)
{
    struct cache_env e;
    CHECK_EQ(env_init(&e, 0), 0);
    struct pl_map_spec spec = {.name = ".rodata", .type = PL_MAP_ARRAY, .key_size = 4, .value_size = 16,
                               .max_entries = 1, .flags = 1u << 7};
    pl_map *r1, *r2;
    CHECK_EQ(pl_map_create(e.rt, &spec, &r1, NULL), 0);
    CHECK_EQ(pl_map_create(e.rt, &spec, &r2, NULL), 0);
    uint32_t key = 0;
    char a[16] = "first", b[16] = "second";
    CHECK_EQ(pl_map_update(r1, &key, a, PL_MAP_ANY), 0);
    CHECK_EQ(pl_map_update(r2, &key, b, PL_MAP_ANY), 0);
    pl_prog *p1, *p2, *p3;
    pl_error err;
    CHECK_EQ(load(&e, e.a, r1, 8, &p1, &err), 0);
    CHECK_EQ(load(&e, e.a, r2, 8, &p2, &err), 0);
    CHECK(!cached(p2));
    CHECK_EQ(load(&e, e.a, r1, 8, &p3, &err), 0);
    CHECK(cached(p3));
    pl_prog_put(p1);
    pl_prog_put(p2);
    pl_prog_put(p3);
    pl_map_put(r1);
    pl_map_put(r2);
    pl_runtime_free(e.rt);
}
