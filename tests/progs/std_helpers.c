/* Every standard helper the SDK declares, called by its kernel id. */
#include <pliant_bpf.h>

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __type(key, u64);
    __type(value, u64);
    __uint(max_entries, 8);
} scratch SEC(".maps");

SEC("test/std_helpers")
long std_helpers(void *ctx)
{
    u64 t1 = bpf_ktime_get_ns(), t2 = bpf_ktime_get_coarse_ns();
    u64 key = bpf_get_prandom_u32(), val = bpf_get_smp_processor_id();
    long fails = 0;
    if (t1 == 0 || t2 == 0)
        fails |= 1;
    if (bpf_map_update_elem(&scratch, &key, &val, BPF_NOEXIST))
        fails |= 2;
    u64 *v = bpf_map_lookup_elem(&scratch, &key);
    if (!v || *v != val)
        fails |= 4;
    if (bpf_map_delete_elem(&scratch, &key))
        fails |= 8;
    if (bpf_map_lookup_elem(&scratch, &key))
        fails |= 16;
    return fails;
}
