/* A hash map and an array map updated on every run. */
#include <pliant_bpf.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 4);
} totals SEC(".maps");

SEC("test/count")
int count(void *ctx)
{
    u32 key = 7;
    u64 one = 1, *v = bpf_map_lookup_elem(&counts, &key);
    u64 n;
    if (v) {
        n = *v + 1;
        *v = n;
    } else {
        n = 1;
        bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
    }
    u32 slot = 2;
    u64 *t = bpf_map_lookup_elem(&totals, &slot);
    if (t)
        *t += 10;
    return (int)n;
}

char LICENSE[] SEC("license") = "GPL";
