/* Global data: a .rodata table, a .data counter with an initial value, a
 * .bss counter, and a string literal (in a .rodata.str section). */
#include <pliant_bpf.h>

const volatile u64 primes[8] = {2, 3, 5, 7, 11, 13, 17, 19};
u64 data_counter = 100;
u64 bss_counter;
u32 bss_pad[3];

static const char greeting[] = "pliant";

SEC("test/globals")
int globals(void *ctx)
{
    data_counter += 1;
    bss_counter += 2;
    bss_pad[1] = 9;
    /* primes[5] + greeting[2] ('i' = 105) */
    return (int)(primes[5] + greeting[2] + data_counter + bss_counter);
}

SEC("test/printk")
int printk(void *ctx)
{
    bpf_printk("globals: data=%llu bss=%llu", data_counter, bss_counter);
    /* A bare literal lands in a mergeable string section (.rodata.str1.1). */
    bpf_trace_printk("literal %d", sizeof("literal %d"), 7, 0, 0);
    return (int)primes[7];
}
