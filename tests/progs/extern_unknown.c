/* Calls a helper no host registers: loading must fail with a clear error. */
#include <pliant_bpf.h>

extern long pl_no_such_helper(long a);

SEC("test/unknown")
long unknown(void *ctx)
{
    return pl_no_such_helper(1);
}
