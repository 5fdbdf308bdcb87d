/* libFuzzer harness for the verifier: the input is raw instructions behind
 * a 2-byte header that chooses the hook (a hook with mixed fields and a
 * return range, a plain 64-byte context, or no context) and which maps the
 * program gets. Any outcome is fine except a crash, a sanitizer report or
 * a hang (libFuzzer's -timeout): the verifier must bound its own work.
 *
 *   make fuzz-verifier-smoke   # 60 s
 *   make fuzz-verifier         # until stopped; FUZZ_ARGS adds libFuzzer flags */
#include "pliant/pliant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pl_runtime *rt;
static pl_hook *hook;
static pl_map *maps[5];

static void quiet(void *user, int level, const char *msg)
{
    (void)user, (void)level, (void)msg;
}

static uint8_t helper_mem[64];
static uint64_t h_sum(uint64_t p, uint64_t n, uint64_t a3, uint64_t a4, uint64_t a5)
{
    (void)p, (void)n, (void)a3, (void)a4, (void)a5;
    return 0;
}
static uint64_t h_mem(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    (void)a1, (void)a2, (void)a3, (void)a4, (void)a5;
    return (uint64_t)(uintptr_t)helper_mem;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    struct pl_runtime_opts o = {.log = quiet};
    pl_error err;
    static const struct pl_helper_spec hs[] = {
        {900, "test_sum", h_sum, {PL_ARG_MEM, PL_ARG_MEM_SIZE}, PL_RET_SCALAR, 0, 0},
        {901, "test_fill", h_sum, {PL_ARG_MEM_UNINIT, PL_ARG_MEM_SIZE}, PL_RET_SCALAR, 0, 0},
        {902, "test_mem", h_mem, {0}, PL_RET_MEM_OR_NULL, 48, 0},
        {903, "test_handle", h_sum, {PL_ARG_HANDLE, PL_ARG_SCALAR}, PL_RET_SCALAR, 0, 0},
        {904, "test_ctx", h_sum, {PL_ARG_CTX}, PL_RET_HANDLE, 0, 0},
    };
    static const struct pl_hook_field fields[] = {
        {"a", 0, 4, PL_FIELD_READ, PL_FIELD_SCALAR},
        {"b", 4, 4, PL_FIELD_READ | PL_FIELD_WRITE, PL_FIELD_SCALAR},
        {"c", 8, 8, PL_FIELD_READ, PL_FIELD_SCALAR},
        {"out", 16, 8, PL_FIELD_WRITE, PL_FIELD_SCALAR},
        {"s16", 24, 2, PL_FIELD_READ, PL_FIELD_SCALAR},
        {"u8", 26, 1, PL_FIELD_READ | PL_FIELD_WRITE, PL_FIELD_SCALAR},
        {"h", 32, 8, PL_FIELD_READ, PL_FIELD_HANDLE},
        {"d", 40, 8, PL_FIELD_READ | PL_FIELD_WRITE, PL_FIELD_SCALAR},
    };
    static const uint32_t allowed[] = {1, 2, 3, 5, 6, 7, 130, 900, 901, 902, 903, 904};
    struct pl_hook_spec spec = {
        .name = "fuzz", .ctx_size = 64, .fields = fields, .nfields = sizeof(fields) / sizeof(fields[0]),
        .helpers = allowed, .nhelpers = sizeof(allowed) / sizeof(allowed[0]),
        .has_ret_range = true, .ret_min = -4, .ret_max = 20,
    };
    static const struct pl_map_spec ms[] = {
        {"arr", PL_MAP_ARRAY, 4, 48, 8, 0},
        {"hash", PL_MAP_HASH, 8, 24, 64, 0},
        {"rodata", PL_MAP_ARRAY, 4, 32, 1, 1u << 7},
        {"data", PL_MAP_ARRAY, 4, 40, 1, 0},
        {"rb", PL_MAP_RINGBUF, 0, 0, 4096, 0},
    };
    int rc = pl_runtime_new(&o, &rt, &err);
    for (size_t i = 0; !rc && i < sizeof(hs) / sizeof(hs[0]); i++)
        rc = pl_helper_register(rt, &hs[i], &err);
    if (!rc)
        rc = pl_hook_register(rt, &spec, &hook, &err);
    for (size_t i = 0; !rc && i < 5; i++)
        rc = pl_map_create(rt, &ms[i], &maps[i], &err);
    if (rc) {
        fprintf(stderr, "fuzz_verifier: %s\n", err.msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 + sizeof(struct pl_insn))
        return 0;
    uint8_t mode = data[0] % 3, mapmask = data[1];
    size_t n = (size - 2) / sizeof(struct pl_insn);
    if (n > 4096)
        n = 4096; /* longer inputs only slow the fuzzer down */
    struct pl_insn *insns = malloc(n * sizeof(*insns));
    if (!insns)
        return 0;
    memcpy(insns, data + 2, n * sizeof(*insns));
    /* The header picks a subset of the maps, in order, so lddw indexes move. */
    pl_map *use[5];
    uint32_t nmaps = 0;
    for (int i = 0; i < 5; i++)
        if (!(mapmask & (1u << i)))
            use[nmaps++] = maps[i];
    struct pl_prog_opts o = {
        .name = "fuzz", .flags = PL_LOAD_NO_JIT, .maps = use, .nmaps = nmaps,
        .hook = mode == 0 ? hook : NULL, .ctx_size = mode == 1 ? 64 : 0,
    };
    pl_prog *p = NULL;
    pl_error err;
    if (pl_prog_load(rt, insns, (uint32_t)n, &o, &p, &err) == 0) {
        struct pl_verifier_stats st;
        pl_prog_verifier_stats(p, &st);
        pl_prog_put(p);
    } else if (err.code == 0 || err.msg[0] == 0) {
        abort(); /* a failure must say why */
    }
    free(insns);
    return 0;
}
