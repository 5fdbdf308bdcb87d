/* Code only in .text and data, but no program section: loading must fail. */
#include <pliant_bpf.h>

u64 unused_counter = 1;

__noinline u64 bump(u64 x)
{
    unused_counter += x;
    return unused_counter;
}
