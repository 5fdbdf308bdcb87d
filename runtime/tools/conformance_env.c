#include "conformance_env.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static uint64_t gather_bytes(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    return (a & 0xff) << 32 | (b & 0xff) << 24 | (c & 0xff) << 16 | (d & 0xff) << 8 | (e & 0xff);
}

static uint64_t memfrob_helper(uint64_t ptr, uint64_t len, uint64_t c, uint64_t d, uint64_t e)
{
    (void)c, (void)d, (void)e;
    uint8_t *p = (uint8_t *)(uintptr_t)ptr;
    for (uint64_t i = 0; i < len; i++)
        p[i] ^= 42;
    return 0;
}

static uint64_t no_op(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)a, (void)b, (void)c, (void)d, (void)e;
    return 0;
}

static uint64_t sqrti(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)b, (void)c, (void)d, (void)e;
    uint64_t lo = 0, hi = a < 0xffffffffu ? a : 0xffffffffu; /* mid * mid cannot overflow */
    while (lo < hi) { /* largest r with r*r <= a */
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (mid * mid <= a)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static uint64_t strcmp_ext(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)c, (void)d, (void)e;
    return (uint64_t)(int64_t)strcmp((const char *)(uintptr_t)a, (const char *)(uintptr_t)b);
}

static uint64_t unwind(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    (void)b, (void)c, (void)d, (void)e;
    return a;
}

int pl_conformance_runtime(pl_runtime **out, pl_error *err)
{
    struct pl_runtime_opts opts = {.flags = PL_RUNTIME_NO_STD_HELPERS};
    static const struct pl_helper_spec helpers[] = {
        {0, "gather_bytes", gather_bytes, {PL_ARG_SCALAR, PL_ARG_SCALAR, PL_ARG_SCALAR, PL_ARG_SCALAR, PL_ARG_SCALAR}, PL_RET_SCALAR, 0, 0},
        {1, "memfrob", memfrob_helper, {PL_ARG_MEM_UNINIT, PL_ARG_MEM_SIZE}, PL_RET_SCALAR, 0, 0},
        {2, "no_op", no_op, {0}, PL_RET_SCALAR, 0, 0},
        {3, "sqrti", sqrti, {PL_ARG_SCALAR}, PL_RET_SCALAR, 0, 0},
        {4, "strcmp_ext", strcmp_ext, {PL_ARG_STR, PL_ARG_STR}, PL_RET_SCALAR, 0, 0},
        {5, "unwind", unwind, {PL_ARG_SCALAR}, PL_RET_SCALAR, 0, PL_HELPER_UNWIND_ON_ZERO},
    };
    pl_runtime *rt;
    int rc = pl_runtime_new(&opts, &rt, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
        rc = pl_helper_register(rt, &helpers[i], err);
        if (rc) {
            pl_runtime_free(rt);
            return rc;
        }
    }
    *out = rt;
    return 0;
}

long pl_parse_hex_bytes(const char *text, uint8_t **out)
{
    size_t cap = strlen(text) / 2 + 1, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -1;
    const char *p = text;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
            (p[2] && !isspace((unsigned char)p[2]))) {
            free(buf);
            return -1;
        }
        char byte[3] = {p[0], p[1], 0};
        buf[n++] = (uint8_t)strtoul(byte, NULL, 16);
        p += 2;
    }
    *out = buf;
    return (long)n;
}
