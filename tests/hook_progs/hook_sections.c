/* Programs for two hooks in one object, sharing a map: loaded with
 * PL_LOAD_HOOK_BY_SECTION, each is verified for the hook its section
 * names. hook/sec_wide reads ctx+8, which the 4-byte context of sec_narrow
 * does not have, so verifying it for the wrong hook fails. */
#include <pliant_bpf.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 1);
} shared SEC(".maps");

SEC("hook/sec_narrow")
long narrow(u32 *ctx)
{
    u32 k = 0;
    u64 v = *ctx;
    bpf_map_update_elem(&shared, &k, &v, BPF_ANY);
    return 1;
}

SEC("hook/sec_wide")
long wide(u64 *ctx)
{
    u32 k = 0;
    u64 *v = bpf_map_lookup_elem(&shared, &k);
    return v ? *v + ctx[1] : 0;
}
