/* Benchmark kernel: 1,000-round arithmetic loop (source in bench/kernels.h). */
#include <pliant_bpf.h>
#include "../kernels.h"

SEC("bench/loop")
long bench_loop(struct loop_ctx *ctx)
{
    return (long)kernel_loop(ctx);
}

char LICENSE[] SEC("license") = "GPL";
