/* libFuzzer harness for the ELF loader: any byte string must either load
 * or fail with an error, without crashing, leaking or reading out of
 * bounds. Each input is opened twice, interpreter-only and with the JIT,
 * so relocated programs also reach the JIT compiler.
 *
 *   make fuzz-smoke      # 60 s, seeded with the objects in build/progs
 *   make fuzz            # until stopped; FUZZ_ARGS adds libFuzzer flags */
#include "pliant/pliant.h"

#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>

static pl_runtime *rt;

static void quiet(void *user, int level, const char *msg)
{
    (void)user, (void)level, (void)msg;
}

static uint64_t mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)c, (void)d, (void)e;
    return a * 31 + b;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    /* libbpf reports malformed BTF on stderr; the loader's error says it. */
    libbpf_set_print(NULL);
    struct pl_runtime_opts o = {.log = quiet};
    pl_error err;
    /* The helper the test objects call by name, so seeds load fully. */
    struct pl_helper_spec h = {
        .id = 900, .name = "pl_test_mix", .fn = mix,
        .args = {PL_ARG_SCALAR, PL_ARG_SCALAR}, .ret = PL_RET_SCALAR,
    };
    if (pl_runtime_new(&o, &rt, &err) || pl_helper_register(rt, &h, &err)) {
        fprintf(stderr, "fuzz_elf: %s\n", err.msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned flags[] = {PL_LOAD_NO_JIT, 0};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        struct pl_object_opts o = {.flags = flags[i]};
        pl_object *obj = NULL;
        pl_error err;
        int rc = pl_object_open_mem(rt, data, size, &o, &obj, &err);
        if (rc == 0) {
            /* Exercise the accessors on whatever loaded. */
            for (uint32_t p = 0; p < pl_object_prog_count(obj); p++)
                if (!pl_object_find_prog(obj, pl_prog_name(pl_object_prog(obj, p))))
                    abort();
            pl_object_close(obj);
        } else if (rc != err.code || !err.msg[0]) {
            abort(); /* every failure must explain itself */
        }
    }
    return 0;
}
