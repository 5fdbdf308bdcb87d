/*
 * The standard helpers, with the kernel's ids and calling conventions so
 * programs written against bpf_helpers.h work unchanged. Map helpers get the
 * map as the pl_map pointer the loader patched into the lddw, and call its
 * ops directly: no reference counting and no locks on the hot path (the
 * caller's RCU read-side section keeps the map alive). Results for programs
 * are the kernel's negative errno values, not pl_status codes.
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MAP(r) ((pl_map *)(uintptr_t)(r))
#define PTR(r) ((void *)(uintptr_t)(r))
#define UNUSED __attribute__((unused))

static uint64_t errno_of(int status)
{
    int e;
    switch (status) {
    case PL_OK: return 0;
    case PL_ENOENT: e = ENOENT; break;
    case PL_EEXIST: e = EEXIST; break;
    case PL_E2BIG: e = E2BIG; break;
    case PL_ENOMEM: e = ENOMEM; break;
    default: e = EINVAL; break;
    }
    return (uint64_t)(int64_t)-e;
}

static uint64_t h_map_lookup_elem(uint64_t map, uint64_t key, UNUSED uint64_t r3, UNUSED uint64_t r4,
                                  UNUSED uint64_t r5)
{
    return (uint64_t)(uintptr_t)MAP(map)->ops->lookup(MAP(map), PTR(key));
}

static uint64_t h_map_update_elem(uint64_t map, uint64_t key, uint64_t value, uint64_t flags,
                                  UNUSED uint64_t r5)
{
    return errno_of(MAP(map)->ops->update(MAP(map), PTR(key), PTR(value), flags));
}

static uint64_t h_map_delete_elem(uint64_t map, uint64_t key, UNUSED uint64_t r3, UNUSED uint64_t r4,
                                  UNUSED uint64_t r5)
{
    return errno_of(MAP(map)->ops->del(MAP(map), PTR(key)));
}

static uint64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t h_ktime_get_ns(UNUSED uint64_t r1, UNUSED uint64_t r2, UNUSED uint64_t r3,
                               UNUSED uint64_t r4, UNUSED uint64_t r5)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t h_ktime_get_coarse_ns(UNUSED uint64_t r1, UNUSED uint64_t r2, UNUSED uint64_t r3,
                                      UNUSED uint64_t r4, UNUSED uint64_t r5)
{
    return clock_ns(CLOCK_MONOTONIC_COARSE);
}

/* bpf_trace_printk(fmt, fmt_size, a, b, c). Only integer conversions are
 * supported — %d %i %u %x %X with an optional l or ll, flags "-+ 0#" and a
 * width below 100, %p, %% — because the arguments are raw registers: a %s
 * or %n would let a program make the host dereference arbitrary memory.
 * Anything else fails the call with -EINVAL and logs nothing. The line
 * goes to the process-wide log (the helper gets no runtime pointer); a
 * trailing newline is dropped since the log is line based. Returns the
 * length of the line, like the kernel. */
#define PRINTK_MAX 512

static int format_one(char *out, size_t room, const char **fmtp, uint64_t arg)
{
    const char *f = *fmtp; /* just past the '%' */
    char spec[16] = "%";
    size_t n = 1;
    bool alt = false;
    while (strchr("-+ 0#", *f) && *f && n < 7) {
        alt |= *f == '#';
        spec[n++] = *f++;
    }
    if (*f >= '0' && *f <= '9') {
        spec[n++] = *f++;
        if (*f >= '0' && *f <= '9')
            spec[n++] = *f++;
    }
    int longs = 0;
    while (*f == 'l' && longs < 2) {
        longs++;
        f++;
    }
    char conv = *f++;
    *fmtp = f;
    if (conv == 'p') {
        if (n > 1 || longs)
            return -1;
        return snprintf(out, room, "0x%llx", (unsigned long long)arg);
    }
    bool is_signed = conv == 'd' || conv == 'i';
    if (!is_signed && conv != 'u' && conv != 'x' && conv != 'X')
        return -1;
    if (alt && conv != 'x' && conv != 'X')
        return -1; /* '#' with d, i, u is undefined in C */
    spec[n++] = 'l';
    spec[n++] = 'l';
    spec[n++] = conv;
    spec[n] = 0;
    /* Without a length modifier the argument is an int, as in C. */
    if (is_signed) {
        long long v = longs ? (long long)(int64_t)arg : (long long)(int32_t)arg;
        return snprintf(out, room, spec, v);
    }
    unsigned long long v = longs ? (unsigned long long)arg : (unsigned long long)(uint32_t)arg;
    return snprintf(out, room, spec, v);
}

static uint64_t h_trace_printk(uint64_t fmt_ptr, uint64_t fmt_size, uint64_t a1, uint64_t a2,
                               uint64_t a3)
{
    const char *fmt = PTR(fmt_ptr);
    if (!fmt || fmt_size == 0 || !memchr(fmt, 0, fmt_size))
        return (uint64_t)(int64_t)-EINVAL;
    const uint64_t args[3] = {a1, a2, a3};
    unsigned nargs = 0;
    char line[PRINTK_MAX];
    size_t len = 0;
    for (const char *f = fmt; *f;) {
        size_t room = sizeof(line) - len;
        if (*f != '%' || f[1] == '%') {
            if (room > 1)
                line[len++] = *f;
            f += *f == '%' ? 2 : 1;
            continue;
        }
        if (nargs == 3)
            return (uint64_t)(int64_t)-EINVAL;
        f++;
        int w = format_one(line + len, room, &f, args[nargs++]);
        if (w < 0)
            return (uint64_t)(int64_t)-EINVAL;
        len += (size_t)w < room ? (size_t)w : room - 1;
    }
    if (len && line[len - 1] == '\n')
        len--;
    line[len] = 0;
    pl_log_global(PL_LOG_INFO, "%s", line);
    return len;
}

/* xorshift64*: a few instructions per call, state per thread so callers
 * never share a cache line. Not for anything security-related. */
static __thread uint64_t prandom_state;

static uint64_t h_get_prandom_u32(UNUSED uint64_t r1, UNUSED uint64_t r2, UNUSED uint64_t r3,
                                  UNUSED uint64_t r4, UNUSED uint64_t r5)
{
    uint64_t x = prandom_state;
    if (__builtin_expect(x == 0, 0))
        x = pl_random_u64() | 1;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    prandom_state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

static uint64_t h_get_smp_processor_id(UNUSED uint64_t r1, UNUSED uint64_t r2, UNUSED uint64_t r3,
                                       UNUSED uint64_t r4, UNUSED uint64_t r5)
{
    int cpu = sched_getcpu();
    return cpu < 0 ? 0 : (uint64_t)cpu;
}

static uint64_t h_ringbuf_output(uint64_t map, uint64_t data, uint64_t size, uint64_t flags,
                                 UNUSED uint64_t r5)
{
    return (uint64_t)pl_ringbuf_output(MAP(map), PTR(data), size, flags);
}

uint64_t pl_random_u64(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
        return v;
    /* No entropy yet (early boot): distinct per call and per thread is
     * all the callers need. */
    static _Atomic uint64_t counter;
    v = clock_ns(CLOCK_MONOTONIC) ^ (uint64_t)(uintptr_t)&v ^
        atomic_fetch_add_explicit(&counter, 0x9e3779b97f4a7c15ull, memory_order_relaxed);
    v ^= v >> 31;
    v *= 0xbf58476d1ce4e5b9ull;
    return v ^ (v >> 29);
}

static const struct pl_helper_spec std_helpers[] = {
    {PL_HELPER_MAP_LOOKUP_ELEM, "bpf_map_lookup_elem", h_map_lookup_elem,
     {PL_ARG_MAP, PL_ARG_MAP_KEY}, PL_RET_MAP_VALUE_OR_NULL, 0, 0},
    {PL_HELPER_MAP_UPDATE_ELEM, "bpf_map_update_elem", h_map_update_elem,
     {PL_ARG_MAP, PL_ARG_MAP_KEY, PL_ARG_MAP_VALUE, PL_ARG_SCALAR}, PL_RET_SCALAR, 0, 0},
    {PL_HELPER_MAP_DELETE_ELEM, "bpf_map_delete_elem", h_map_delete_elem,
     {PL_ARG_MAP, PL_ARG_MAP_KEY}, PL_RET_SCALAR, 0, 0},
    {PL_HELPER_KTIME_GET_NS, "bpf_ktime_get_ns", h_ktime_get_ns, {0}, PL_RET_SCALAR, 0, 0},
    {PL_HELPER_TRACE_PRINTK, "bpf_trace_printk", h_trace_printk,
     {PL_ARG_MEM, PL_ARG_MEM_SIZE, PL_ARG_SCALAR, PL_ARG_SCALAR, PL_ARG_SCALAR}, PL_RET_SCALAR, 0, 0},
    {PL_HELPER_GET_PRANDOM_U32, "bpf_get_prandom_u32", h_get_prandom_u32, {0}, PL_RET_SCALAR, 0, 0},
    {PL_HELPER_GET_SMP_PROCESSOR_ID, "bpf_get_smp_processor_id", h_get_smp_processor_id, {0},
     PL_RET_SCALAR, 0, 0},
    {PL_HELPER_RINGBUF_OUTPUT, "bpf_ringbuf_output", h_ringbuf_output,
     {PL_ARG_MAP, PL_ARG_MEM, PL_ARG_MEM_SIZE, PL_ARG_SCALAR}, PL_RET_SCALAR, 0, 0},
    {PL_HELPER_KTIME_GET_COARSE_NS, "bpf_ktime_get_coarse_ns", h_ktime_get_coarse_ns, {0},
     PL_RET_SCALAR, 0, 0},
};

int pl_register_std_helpers(pl_runtime *rt, pl_error *err)
{
    for (size_t i = 0; i < sizeof(std_helpers) / sizeof(std_helpers[0]); i++) {
        int rc = pl_helper_register(rt, &std_helpers[i], err);
        if (rc)
            return rc;
    }
    return 0;
}
