/* Benchmark kernel: FNV-1a over a 64-byte key (source in bench/kernels.h). */
#include <pliant_bpf.h>
#include "../kernels.h"

SEC("bench/fnv1a")
long bench_fnv1a(struct fnv_ctx *ctx)
{
    return (long)kernel_fnv1a(ctx);
}

char LICENSE[] SEC("license") = "GPL";
