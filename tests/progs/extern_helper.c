/* A host helper declared by name: resolved when the object is loaded. */
#include <pliant_bpf.h>

extern long pl_test_mix(long a, long b);

static __noinline long twice(long x)
{
    return pl_test_mix(x, x);
}

SEC("test/extern")
long call_extern(void *ctx)
{
    return pl_test_mix(3, 4) + twice(1);
}
