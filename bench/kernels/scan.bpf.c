/* Benchmark kernel: minimum scan over 16 eviction candidates (source in bench/kernels.h). */
#include <pliant_bpf.h>
#include "../kernels.h"

SEC("bench/scan")
long bench_scan(struct scan_ctx *ctx)
{
    return (long)kernel_scan(ctx);
}

char LICENSE[] SEC("license") = "GPL";
