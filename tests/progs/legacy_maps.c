/* A map defined the pre-BTF way, in SEC("maps"). */
#include <pliant_bpf.h>

struct bpf_map_def SEC("maps") legacy_hash = {
    .type = BPF_MAP_TYPE_HASH,
    .key_size = sizeof(u32),
    .value_size = sizeof(u64),
    .max_entries = 16,
};

struct bpf_map_def SEC("maps") legacy_array = {
    .type = BPF_MAP_TYPE_ARRAY,
    .key_size = sizeof(u32),
    .value_size = sizeof(u32),
    .max_entries = 2,
};

SEC("test/legacy")
int legacy(void *ctx)
{
    u32 k = 5;
    u64 v = 77;
    bpf_map_update_elem(&legacy_hash, &k, &v, BPF_ANY);
    u32 i = 1;
    u32 *a = bpf_map_lookup_elem(&legacy_array, &i);
    if (!a)
        return -1;
    *a += 3;
    return (int)*a;
}
