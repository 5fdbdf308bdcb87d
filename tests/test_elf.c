/* ELF loader: clang-compiled objects from tests/progs (built into
 * $PLIANT_BUILD/progs) load, link and run on both engines; malformed objects,
 * made by patching a valid one in memory, fail with a specific error. */
#include "testlib.h"

#include "pliant/pliant.h"

#include <gelf.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- support */

struct obj_file {
    uint8_t *data;
    size_t size;
};

/* name: a program of tests/progs, or "DIR/NAME" for another directory of
 * the build (hook_progs/...). */
static bool read_obj(const char *name, struct obj_file *f)
{
    char path[512];
    snprintf(path, sizeof(path), strchr(name, '/') ? "%s/%s.o" : "%s/progs/%s.o", tl_build_dir(), name);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "  cannot open %s (run `make` to build the test programs)\n", path);
        return false;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->data = malloc(n > 0 ? (size_t)n : 1);
    f->size = n > 0 ? (size_t)n : 0;
    bool ok = f->data && fread(f->data, 1, f->size, fp) == f->size;
    fclose(fp);
    if (!ok) {
        free(f->data);
        f->data = NULL;
    }
    return ok;
}

static char log_buf[4096];

static void capture_log(void *user, int level, const char *msg)
{
    (void)user;
    (void)level;
    size_t len = strlen(log_buf);
    snprintf(log_buf + len, sizeof(log_buf) - len, "%s\n", msg);
}

static uint64_t test_mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)c, (void)d, (void)e;
    return a * 31 + b;
}

#define TEST_MIX_ID 900

static pl_runtime *new_runtime(void)
{
    struct pl_runtime_opts o = {.log = capture_log};
    pl_runtime *rt = NULL;
    pl_error err;
    if (pl_runtime_new(&o, &rt, &err)) {
        fprintf(stderr, "  pl_runtime_new: %s\n", err.msg);
        return NULL;
    }
    struct pl_helper_spec h = {
        .id = TEST_MIX_ID, .name = "pl_test_mix", .fn = test_mix,
        .args = {PL_ARG_SCALAR, PL_ARG_SCALAR}, .ret = PL_RET_SCALAR,
    };
    if (pl_helper_register(rt, &h, &err)) {
        fprintf(stderr, "  pl_helper_register: %s\n", err.msg);
        pl_runtime_free(rt);
        return NULL;
    }
    return rt;
}

/* Opens build/progs/<name>.o; prints the loader's message on failure. */
static pl_object *open_obj(pl_runtime *rt, const char *name, const struct pl_object_opts *opts)
{
    struct obj_file f;
    if (!read_obj(name, &f))
        return NULL;
    pl_object *obj = NULL;
    pl_error err;
    if (pl_object_open_mem(rt, f.data, f.size, opts, &obj, &err)) {
        fprintf(stderr, "  %s.o: %s (%s)\n", name, err.msg, pl_strerror(err.code));
        obj = NULL;
    }
    free(f.data);
    return obj;
}

static int run(pl_prog *prog, bool jit, uint64_t *ret)
{
    return pl_prog_run(prog, NULL, 0, jit, ret);
}

/* Opens a patched image and expects failure with code and a message
 * containing want. */
static bool expect_fail(const struct obj_file *f, int code, const char *want)
{
    pl_runtime *rt = new_runtime();
    if (!rt)
        return false;
    pl_object *obj = NULL;
    pl_error err = {0};
    int rc = pl_object_open_mem(rt, f->data, f->size, NULL, &obj, &err);
    bool ok = rc == code && err.code == code && strstr(err.msg, want);
    if (!ok)
        fprintf(stderr, "  expected %d containing \"%s\", got %d: %s\n", code, want, rc, err.msg);
    if (!rc)
        pl_object_close(obj);
    pl_runtime_free(rt);
    return ok;
}

/* File offset of section `name`'s header and the header itself. */
static bool find_section(const struct obj_file *f, const char *name, GElf_Shdr *sh, size_t *hdr_off)
{
    elf_version(EV_CURRENT);
    Elf *elf = elf_memory((char *)f->data, f->size);
    GElf_Ehdr eh;
    size_t shstrndx, n;
    bool found = false;
    if (!elf || !gelf_getehdr(elf, &eh) || elf_getshdrstrndx(elf, &shstrndx) || elf_getshdrnum(elf, &n)) {
        if (elf)
            elf_end(elf);
        return false;
    }
    for (size_t i = 1; i < n && !found; i++) {
        Elf_Scn *scn = elf_getscn(elf, i);
        const char *s = scn && gelf_getshdr(scn, sh) ? elf_strptr(elf, shstrndx, sh->sh_name) : NULL;
        if (s && !strcmp(s, name)) {
            found = true;
            *hdr_off = (size_t)eh.e_shoff + i * eh.e_shentsize;
        }
    }
    elf_end(elf);
    return found;
}

static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/* --------------------------------------------------------- good objects */

TEST(elf_maps_counter)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    pl_object *obj = open_obj(rt, "maps_counter", NULL);
    CHECK(obj);
    CHECK_EQ(pl_object_prog_count(obj), 1);
    pl_prog *p = pl_object_find_prog(obj, "test/count");
    CHECK(p);
    CHECK(!strcmp(pl_prog_name(p), "test/count"));
    CHECK(pl_prog_is_jitted(p));
    uint64_t ret;
    for (int i = 1; i <= 6; i++) {
        CHECK_EQ(run(p, i > 3, &ret), 0);
        CHECK_EQ(ret, i);
    }
    pl_map *counts = pl_prog_map_by_name(p, "counts"), *totals = pl_prog_map_by_name(p, "totals");
    CHECK(counts && totals);
    CHECK_EQ(pl_map_info(counts)->type, PL_MAP_HASH);
    CHECK_EQ(pl_map_info(counts)->key_size, 4);
    CHECK_EQ(pl_map_info(counts)->value_size, 8);
    CHECK_EQ(pl_map_info(counts)->max_entries, 64);
    CHECK_EQ(pl_map_info(totals)->type, PL_MAP_ARRAY);
    CHECK_EQ(pl_map_info(totals)->max_entries, 4);
    uint32_t key = 7;
    uint64_t v = 0;
    CHECK_EQ(pl_map_lookup(counts, &key, &v), 0);
    CHECK_EQ(v, 6);
    key = 2;
    CHECK_EQ(pl_map_lookup(totals, &key, &v), 0);
    CHECK_EQ(v, 60);
    pl_object_close(obj);
    pl_runtime_free(rt);
}

TEST(elf_global_data)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    pl_object *obj = open_obj(rt, "global_data", NULL);
    CHECK(obj);
    pl_prog *p = pl_object_find_prog(obj, "test/globals");
    CHECK(p);
    uint64_t ret;
    /* primes[5] + 'i' + data_counter + bss_counter after the updates */
    CHECK_EQ(run(p, false, &ret), 0);
    CHECK_EQ(ret, 13 + 105 + 101 + 2);
    CHECK_EQ(run(p, true, &ret), 0);
    CHECK_EQ(ret, 13 + 105 + 102 + 4);

    pl_map *data = pl_prog_map_by_name(p, ".data"), *bss = pl_prog_map_by_name(p, ".bss"),
           *ro = pl_prog_map_by_name(p, ".rodata");
    CHECK(data && bss && ro);
    CHECK_EQ(pl_map_info(data)->type, PL_MAP_ARRAY);
    CHECK_EQ(pl_map_info(data)->max_entries, 1);
    uint32_t zero = 0;
    uint64_t d;
    CHECK_EQ(pl_map_lookup(data, &zero, &d), 0);
    CHECK_EQ(d, 102);
    uint8_t b[32] = {0};
    CHECK(pl_map_info(bss)->value_size <= sizeof(b));
    CHECK_EQ(pl_map_lookup(bss, &zero, b), 0);
    uint64_t bss_counter;
    uint32_t pad1;
    memcpy(&bss_counter, b, 8);
    memcpy(&pad1, b + 12, 4); /* bss_pad[1] */
    CHECK_EQ(bss_counter, 4);
    CHECK_EQ(pad1, 9);
    uint64_t primes[8 + 4];
    CHECK(pl_map_info(ro)->value_size <= sizeof(primes));
    CHECK_EQ(pl_map_lookup(ro, &zero, primes), 0);
    CHECK_EQ(primes[0], 2);
    CHECK_EQ(primes[7], 19);
    pl_object_close(obj);
    pl_runtime_free(rt);
}

TEST(elf_printk_rodata_strings)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    pl_object *obj = open_obj(rt, "global_data", NULL);
    CHECK(obj);
    pl_prog *p = pl_object_find_prog(obj, "test/printk");
    CHECK(p);
    CHECK(pl_prog_map_by_name(p, ".rodata.str1.1"));
    for (int jit = 0; jit < 2; jit++) {
        log_buf[0] = 0;
        uint64_t ret;
        CHECK_EQ(run(p, jit, &ret), 0);
        CHECK_EQ(ret, 19);
        CHECK_MSG(strstr(log_buf, "globals: data=100 bss=0") && strstr(log_buf, "literal 7"), "log: %s", log_buf);
    }
    pl_object_close(obj);
    pl_runtime_free(rt);
}

TEST(elf_local_calls)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    pl_object *obj = open_obj(rt, "local_calls", NULL);
    CHECK(obj);
    pl_prog *p = pl_object_find_prog(obj, "test/calls"), *q = pl_object_find_prog(obj, "test/calls_again");
    CHECK(p && q);
    /* Callees from .text were appended (the sections alone are 9 and 3). */
    CHECK(pl_prog_insn_count(p) > 9);
    CHECK_EQ(pl_prog_insn_count(q), 3 + 3); /* only square() */
    CHECK(pl_prog_is_jitted(p) && pl_prog_is_jitted(q));
    for (int jit = 0; jit < 2; jit++) {
        uint64_t ret;
        CHECK_EQ(run(p, jit, &ret), 0);
        CHECK_EQ(ret, 36);
        CHECK_EQ(run(q, jit, &ret), 0);
        CHECK_EQ(ret, 81);
    }
    pl_object_close(obj);
    pl_runtime_free(rt);
}

TEST(elf_extern_helper)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    pl_object *obj = open_obj(rt, "extern_helper", NULL);
    CHECK(obj);
    pl_prog *p = pl_object_find_prog(obj, "test/extern");
    CHECK(p);
    for (int jit = 0; jit < 2; jit++) {
        uint64_t ret;
        CHECK_EQ(run(p, jit, &ret), 0);
        CHECK_EQ(ret, (3 * 31 + 4) + (1 * 31 + 1));
    }
    pl_object_close(obj);
    pl_runtime_free(rt);
}

TEST(elf_unknown_helper_name)
{
    struct obj_file f;
    CHECK(read_obj("extern_unknown", &f));
    bool ok = expect_fail(&f, PL_ENOENT, "calls unknown helper 'pl_no_such_helper' (not registered by the host)");
    free(f.data);
    CHECK(ok);
}

TEST(elf_std_helpers)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    pl_object *obj = open_obj(rt, "std_helpers", NULL);
    CHECK(obj);
    pl_prog *p = pl_object_find_prog(obj, "test/std_helpers");
    CHECK(p);
    CHECK_EQ(pl_map_info(pl_prog_map_by_name(p, "scratch"))->type, PL_MAP_LRU_HASH);
    for (int jit = 0; jit < 2; jit++) {
        uint64_t ret;
        CHECK_EQ(run(p, jit, &ret), 0);
        CHECK_EQ(ret, 0); /* a bit per failed helper check */
    }
    pl_object_close(obj);
    pl_runtime_free(rt);
}

TEST(elf_multi_prog)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    pl_object *obj = open_obj(rt, "multi_prog", NULL);
    CHECK(obj);
    CHECK_EQ(pl_object_prog_count(obj), 4);
    pl_prog *w = pl_object_find_prog(obj, "test/writer"), *r = pl_object_find_prog(obj, "test/reader");
    CHECK(w && r);
    CHECK(!pl_object_find_prog(obj, "test/none"));
    CHECK(!pl_object_prog(obj, 4));
    uint64_t ret;
    CHECK_EQ(run(r, false, &ret), 0);
    CHECK_EQ(ret, 0); /* array slots start zeroed */
    CHECK_EQ(run(w, true, &ret), 0);
    CHECK_EQ(ret, 1);
    CHECK_EQ(run(r, false, &ret), 0);
    CHECK_EQ(ret, 42);
    CHECK_EQ(run(r, true, &ret), 0);
    CHECK_EQ(ret, 42);
    CHECK(pl_prog_map_by_name(w, "shared") == pl_prog_map_by_name(r, "shared"));
    /* Two programs in one section: the section name gives the first, the
     * function name picks either. */
    pl_prog *first = pl_object_find_prog(obj, "test/pair"), *second = pl_object_find_prog(obj, "pair_second");
    CHECK(first && second && first != second);
    CHECK(pl_object_find_prog(obj, "pair_first") == first);
    CHECK(!strcmp(pl_prog_name(second), "test/pair"));
    CHECK_EQ(run(first, true, &ret), 0);
    CHECK_EQ(ret, 11);
    CHECK_EQ(run(second, false, &ret), 0);
    CHECK_EQ(ret, 22);
    /* Programs outlive the object when referenced. */
    pl_prog_get(r);
    pl_object_close(obj);
    CHECK_EQ(run(r, true, &ret), 0);
    CHECK_EQ(ret, 42);
    pl_prog_put(r);
    pl_runtime_free(rt);
}

/* PL_LOAD_HOOK_BY_SECTION: each program is verified for the hook its
 * section names, and attaches only there; the programs share the object's
 * maps. */
TEST(elf_hook_by_section)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    static const struct pl_hook_field narrow_f[] = {{"x", 0, 4, PL_FIELD_READ, PL_FIELD_SCALAR}};
    static const struct pl_hook_field wide_f[] = {{"a", 0, 8, PL_FIELD_READ, PL_FIELD_SCALAR},
                                                  {"b", 8, 8, PL_FIELD_READ, PL_FIELD_SCALAR}};
    static const uint32_t maps[] = {PL_HELPER_MAP_LOOKUP_ELEM, PL_HELPER_MAP_UPDATE_ELEM};
    pl_hook *narrow = NULL, *wide = NULL;
    pl_error err;
    CHECK_EQ(pl_hook_register(rt, &(struct pl_hook_spec){.name = "sec_narrow", .ctx_size = 4, .fields = narrow_f,
                                                         .nfields = 1, .helpers = maps, .nhelpers = 2},
                              &narrow, &err), 0);
    CHECK_EQ(pl_hook_register(rt, &(struct pl_hook_spec){.name = "sec_wide", .ctx_size = 16, .fields = wide_f,
                                                         .nfields = 2, .helpers = maps, .nhelpers = 2},
                              &wide, &err), 0);
    /* One hook for the whole object: the other program does not fit it. */
    CHECK(!open_obj(rt, "hook_progs/hook_sections", &(struct pl_object_opts){.hook = narrow}));
    pl_object *obj = open_obj(rt, "hook_progs/hook_sections", &(struct pl_object_opts){.flags = PL_LOAD_HOOK_BY_SECTION});
    CHECK(obj);
    pl_prog *n = pl_object_find_prog(obj, "hook/sec_narrow"), *w = pl_object_find_prog(obj, "hook/sec_wide");
    CHECK(n && w);
    CHECK_EQ(pl_hook_attach(wide, n, &err), PL_EHOOK);
    CHECK_EQ(pl_hook_attach(narrow, n, &err), 0);
    CHECK_EQ(pl_hook_attach(wide, w, &err), 0);
    pl_object_close(obj);
    uint32_t x = 40;
    uint64_t ab[2] = {0, 2}, ret = 0;
    CHECK_EQ(pl_hook_invoke(narrow, &x, &ret), PL_HOOK_RAN);
    CHECK_EQ(pl_hook_invoke(wide, ab, &ret), PL_HOOK_RAN);
    CHECK_EQ(ret, 42); /* the map written through one hook, read through the other */
    /* A section that names no hook, or a hook given as well, fails the load. */
    struct obj_file f;
    CHECK(read_obj("multi_prog", &f));
    int rc = pl_object_open_mem(rt, f.data, f.size, &(struct pl_object_opts){.flags = PL_LOAD_HOOK_BY_SECTION},
                                &obj, &err);
    free(f.data);
    CHECK_EQ(rc, PL_EHOOK);
    CHECK_MSG(strstr(err.msg, "'test/writer' names no registered hook"), "%s", err.msg);
    CHECK(read_obj("hook_progs/hook_sections", &f));
    rc = pl_object_open_mem(rt, f.data, f.size,
                            &(struct pl_object_opts){.flags = PL_LOAD_HOOK_BY_SECTION, .hook = wide}, &obj, &err);
    free(f.data);
    CHECK_EQ(rc, PL_EINVAL);
    pl_runtime_free(rt);
}

TEST(elf_legacy_maps)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    pl_object *obj = open_obj(rt, "legacy_maps", NULL);
    CHECK(obj);
    pl_prog *p = pl_object_find_prog(obj, "test/legacy");
    CHECK(p);
    uint64_t ret;
    CHECK_EQ(run(p, false, &ret), 0);
    CHECK_EQ(ret, 3);
    CHECK_EQ(run(p, true, &ret), 0);
    CHECK_EQ(ret, 6);
    pl_map *h = pl_prog_map_by_name(p, "legacy_hash"), *a = pl_prog_map_by_name(p, "legacy_array");
    CHECK(h && a);
    CHECK_EQ(pl_map_info(h)->max_entries, 16);
    CHECK_EQ(pl_map_info(a)->value_size, 4);
    uint32_t k = 5;
    uint64_t v;
    CHECK_EQ(pl_map_lookup(h, &k, &v), 0);
    CHECK_EQ(v, 77);
    pl_object_close(obj);
    pl_runtime_free(rt);
}

TEST(elf_perthread_array)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    pl_object *obj = open_obj(rt, "perthread", NULL);
    CHECK(obj);
    pl_prog *p = pl_object_find_prog(obj, "test/perthread");
    CHECK(p);
    uint64_t ret;
    for (int i = 1; i <= 8; i++) {
        CHECK_EQ(run(p, i % 2, &ret), 0);
        CHECK_EQ(ret, i);
    }
    pl_map *m = pl_prog_map_by_name(p, "hits");
    CHECK(m);
    CHECK_EQ(pl_map_info(m)->type, PL_MAP_PERTHREAD_ARRAY);
    uint64_t *slots = calloc(PL_MAX_THREADS, sizeof(uint64_t));
    CHECK(slots);
    uint32_t k = 0;
    uint64_t sum = 0;
    int rc = pl_map_lookup(m, &k, slots);
    for (int i = 0; i < PL_MAX_THREADS; i++)
        sum += slots[i];
    free(slots);
    CHECK_EQ(rc, 0);
    CHECK_EQ(sum, 8);
    pl_object_close(obj);
    pl_runtime_free(rt);
}

struct rb_seen {
    uint32_t n;
    uint32_t seq[8];
    bool ok;
};

static int on_event(void *user, const void *data, uint32_t size)
{
    struct rb_seen *s = user;
    uint32_t f[4];
    if (size != 16 || s->n == 8) {
        s->ok = false;
        return 0;
    }
    memcpy(f, data, sizeof(f));
    s->seq[s->n++] = f[0];
    if (f[1] != 0xfeed || f[2] != 1000 || f[3] != 0)
        s->ok = false;
    return 0;
}

TEST(elf_ringbuf_output)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    pl_object *obj = open_obj(rt, "ringbuf", NULL);
    CHECK(obj);
    pl_prog *p = pl_object_find_prog(obj, "test/ringbuf");
    CHECK(p);
    pl_map *m = pl_prog_map_by_name(p, "events");
    CHECK(m);
    CHECK_EQ(pl_map_info(m)->type, PL_MAP_RINGBUF);
    CHECK_EQ(pl_map_info(m)->max_entries, 4096);
    for (int i = 0; i < 3; i++) {
        uint64_t ret;
        CHECK_EQ(run(p, i == 1, &ret), 0);
        CHECK_EQ(ret, 0);
    }
    struct rb_seen s = {.ok = true};
    CHECK_EQ(pl_ringbuf_consume(m, on_event, &s), 3);
    CHECK(s.ok);
    CHECK_EQ(s.n, 3);
    CHECK_EQ(s.seq[0], 0);
    CHECK_EQ(s.seq[2], 2);
    pl_object_close(obj);
    pl_runtime_free(rt);
}

TEST(elf_state_survives_reload)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    pl_object *v1 = open_obj(rt, "state_v1", NULL);
    CHECK(v1);
    pl_prog *p1 = pl_object_find_prog(v1, "test/state");
    CHECK(p1);
    uint64_t ret;
    for (int i = 1; i <= 5; i++) {
        CHECK_EQ(run(p1, i % 2, &ret), 0);
        CHECK_EQ(ret, 1000 + i);
    }
    struct pl_object_opts o = {.inherit_maps_from = p1};
    pl_object *v2 = open_obj(rt, "state_v2", &o);
    CHECK(v2);
    pl_prog *p2 = pl_object_find_prog(v2, "test/state");
    CHECK(p2);
    CHECK(pl_prog_map_by_name(p2, "state") == pl_prog_map_by_name(p1, "state"));
    /* Global data is never inherited: v2 sees its own version = 2. */
    CHECK(pl_prog_map_by_name(p2, ".data") != pl_prog_map_by_name(p1, ".data"));
    CHECK(pl_prog_map_by_name(p2, "added"));
    CHECK_EQ(run(p2, true, &ret), 0);
    CHECK_EQ(ret, 2000 + 15);
    /* The old version goes away; the shared map stays with v2. */
    pl_object_close(v1);
    CHECK_EQ(run(p2, false, &ret), 0);
    CHECK_EQ(ret, 2000 + 25);

    /* An incompatible "state" starts empty. */
    struct pl_object_opts o3 = {.inherit_maps_from = p2};
    pl_object *v3 = open_obj(rt, "state_v3", &o3);
    CHECK(v3);
    pl_prog *p3 = pl_object_find_prog(v3, "test/state");
    CHECK(p3);
    CHECK(pl_prog_map_by_name(p3, "state") != pl_prog_map_by_name(p2, "state"));
    CHECK_EQ(run(p3, true, &ret), 0);
    CHECK_EQ(ret, 1);
    pl_object_close(v3);
    pl_object_close(v2);
    pl_runtime_free(rt);
}

TEST(elf_open_file)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    char path[512];
    snprintf(path, sizeof(path), "%s/progs/local_calls.o", tl_build_dir());
    pl_object *obj = NULL;
    pl_error err;
    CHECK_EQ(pl_object_open_file(rt, path, NULL, &obj, &err), 0);
    CHECK_EQ(pl_object_prog_count(obj), 2);
    pl_object_close(obj);
    snprintf(path, sizeof(path), "%s/progs/does_not_exist.o", tl_build_dir());
    CHECK_EQ(pl_object_open_file(rt, path, NULL, &obj, &err), PL_EIO);
    CHECK(strstr(err.msg, "does_not_exist.o: cannot open"));
    snprintf(path, sizeof(path), "%s/progs/extern_unknown.o", tl_build_dir());
    CHECK_EQ(pl_object_open_file(rt, path, NULL, &obj, &err), PL_ENOENT);
    CHECK_MSG(strstr(err.msg, "extern_unknown.o: program 'test/unknown' calls unknown helper"), "%s", err.msg);
    pl_runtime_free(rt);
}

TEST(elf_interpreter_only_flag)
{
    pl_runtime *rt = new_runtime();
    CHECK(rt);
    struct pl_object_opts o = {.flags = PL_LOAD_NO_JIT};
    pl_object *obj = open_obj(rt, "local_calls", &o);
    CHECK(obj);
    pl_prog *p = pl_object_find_prog(obj, "test/calls");
    CHECK(p);
    CHECK(!pl_prog_is_jitted(p));
    uint64_t ret;
    CHECK_EQ(run(p, true, &ret), 0); /* falls back to the interpreter */
    CHECK_EQ(ret, 36);
    pl_object_close(obj);
    pl_runtime_free(rt);
}

/* ------------------------------------------------------ malformed objects */

TEST(elf_bad_not_elf)
{
    static const char text[] = "this is not an ELF object, just some text";
    struct obj_file f = {(uint8_t *)text, sizeof(text)};
    CHECK(expect_fail(&f, PL_EELF, "not an ELF object"));
    struct obj_file tiny = {(uint8_t *)"\x7f" "ELF", 4};
    CHECK(expect_fail(&tiny, PL_EELF, "too short"));
}

TEST(elf_bad_empty_object)
{
    struct obj_file f;
    CHECK(read_obj("no_progs", &f));
    bool ok = expect_fail(&f, PL_EELF, "the object has no programs");
    free(f.data);
    CHECK(ok);
}

TEST(elf_bad_truncated)
{
    struct obj_file f;
    CHECK(read_obj("maps_counter", &f));
    /* Cutting anywhere must fail cleanly (the section headers are last). */
    size_t full = f.size;
    bool ok = true;
    for (size_t cut = 0; cut < full && ok; cut += 7) {
        f.size = cut;
        pl_runtime *rt = new_runtime();
        pl_object *obj = NULL;
        pl_error err = {0};
        int rc = rt ? pl_object_open_mem(rt, f.data, f.size, NULL, &obj, &err) : -1;
        ok = rc == PL_EELF && err.msg[0];
        if (!ok)
            fprintf(stderr, "  cut at %zu: rc %d: %s\n", cut, rc, err.msg);
        if (!rc)
            pl_object_close(obj);
        pl_runtime_free(rt);
    }
    f.size = full / 2;
    ok = ok && expect_fail(&f, PL_EELF, "section header table");
    free(f.data);
    CHECK(ok);
}

TEST(elf_bad_header_fields)
{
    struct obj_file f;
    CHECK(read_obj("maps_counter", &f));
    bool ok;
    put_u16(f.data + offsetof(Elf64_Ehdr, e_machine), EM_X86_64);
    ok = expect_fail(&f, PL_EELF, "wrong machine type 62");
    put_u16(f.data + offsetof(Elf64_Ehdr, e_machine), EM_BPF);
    f.data[EI_CLASS] = ELFCLASS32;
    ok = ok && expect_fail(&f, PL_EELF, "not a 64-bit ELF object");
    f.data[EI_CLASS] = ELFCLASS64;
    f.data[EI_DATA] = ELFDATA2MSB;
    ok = ok && expect_fail(&f, PL_EELF, "not a little-endian ELF object");
    f.data[EI_DATA] = ELFDATA2LSB;
    put_u16(f.data + offsetof(Elf64_Ehdr, e_type), ET_EXEC);
    ok = ok && expect_fail(&f, PL_EELF, "not a relocatable object");
    free(f.data);
    CHECK(ok);
}

TEST(elf_bad_relocation_offset)
{
    struct obj_file f;
    CHECK(read_obj("maps_counter", &f));
    GElf_Shdr sh;
    size_t hdr;
    bool ok = find_section(&f, ".reltest/count", &sh, &hdr) && sh.sh_size >= sizeof(Elf64_Rel);
    uint8_t *rel = f.data + sh.sh_offset;
    put_u64(rel, 0x10000);
    ok = ok && expect_fail(&f, PL_EELF, "has offset 65536, which is not an instruction in section 'test/count'");
    put_u64(rel, 3);
    ok = ok && expect_fail(&f, PL_EELF, "has offset 3, which is not an instruction");
    /* Instruction 0 is `r1 = 7`, neither a call nor an lddw. */
    put_u64(rel, 0);
    ok = ok && expect_fail(&f, PL_EELF, "neither a call nor an lddw");
    free(f.data);
    CHECK(ok);
}

TEST(elf_bad_symbol_index)
{
    struct obj_file f;
    CHECK(read_obj("maps_counter", &f));
    GElf_Shdr sh;
    size_t hdr;
    bool ok = find_section(&f, ".reltest/count", &sh, &hdr) && sh.sh_size >= sizeof(Elf64_Rel);
    uint8_t *info = f.data + sh.sh_offset + offsetof(Elf64_Rel, r_info);
    put_u64(info, ELF64_R_INFO(9999, R_BPF_64_64));
    ok = ok && expect_fail(&f, PL_EELF, "refers to symbol 9999; the symbol table has");
    free(f.data);
    CHECK(ok);
}

TEST(elf_bad_odd_sized_code)
{
    struct obj_file f;
    CHECK(read_obj("maps_counter", &f));
    GElf_Shdr sh;
    size_t hdr;
    bool ok = find_section(&f, "test/count", &sh, &hdr);
    put_u64(f.data + hdr + offsetof(Elf64_Shdr, sh_size), sh.sh_size - 4);
    ok = ok && expect_fail(&f, PL_EELF, "section 'test/count' is");
    ok = ok && expect_fail(&f, PL_EELF, "not a whole number of 8-byte instructions");
    free(f.data);
    CHECK(ok);
}

/* Replaces the first occurrence of from (same length as to) inside the
 * bytes of section sec. */
static bool patch_in_section(struct obj_file *f, const char *sec, const char *from, const char *to)
{
    GElf_Shdr sh;
    size_t hdr, n = strlen(from);
    if (!find_section(f, sec, &sh, &hdr))
        return false;
    uint8_t *p = f->data + sh.sh_offset, *end = p + sh.sh_size;
    for (; p + n <= end; p++)
        if (!memcmp(p, from, n)) {
            memcpy(p, to, n);
            return true;
        }
    return false;
}

TEST(elf_bad_btf_map_definition)
{
    struct obj_file f;
    CHECK(read_obj("maps_counter", &f));
    bool ok = patch_in_section(&f, ".BTF", "max_entries", "max_entriez");
    ok = ok && expect_fail(&f, PL_EELF, "map 'counts': field 'max_entriez' is not supported");
    free(f.data);
    CHECK(ok);

    CHECK(read_obj("maps_counter", &f));
    GElf_Shdr sh;
    size_t hdr;
    ok = find_section(&f, ".BTF", &sh, &hdr);
    f.data[sh.sh_offset] ^= 0xff; /* BTF magic */
    ok = ok && expect_fail(&f, PL_EELF, "the .BTF section is malformed");
    free(f.data);
    CHECK(ok);

    /* The DATASEC is named after the section; renaming it loses the maps. */
    CHECK(read_obj("maps_counter", &f));
    ok = patch_in_section(&f, ".BTF", ".maps", ".mapz");
    ok = ok && expect_fail(&f, PL_EELF, "BTF has no description of the '.maps' section");
    free(f.data);
    CHECK(ok);
}

TEST(elf_bad_map_rejected_by_runtime)
{
    /* A map type the runtime lacks (3, prog array) is refused by the map
     * layer; the error names the map. */
    struct obj_file f;
    CHECK(read_obj("legacy_maps", &f));
    GElf_Shdr sh;
    size_t hdr;
    bool ok = find_section(&f, "maps", &sh, &hdr);
    uint32_t type = 3;
    memcpy(f.data + sh.sh_offset, &type, 4);
    ok = ok && expect_fail(&f, PL_EMAP, "map 'legacy_hash'") && expect_fail(&f, PL_EMAP, "unsupported type 3");
    free(f.data);
    CHECK(ok);
}
