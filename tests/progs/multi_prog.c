/* Several programs in one object sharing a map, and a section holding two
 * programs. */
#include <pliant_bpf.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, u32);
    __type(value, u64);
    __uint(max_entries, 1);
} shared SEC(".maps");

SEC("test/writer")
int writer(void *ctx)
{
    u32 k = 0;
    u64 v = 42;
    bpf_map_update_elem(&shared, &k, &v, BPF_ANY);
    return 1;
}

SEC("test/reader")
int reader(void *ctx)
{
    u32 k = 0;
    u64 *v = bpf_map_lookup_elem(&shared, &k);
    return v ? (int)*v : -1;
}

SEC("test/pair")
int pair_first(void *ctx)
{
    return 11;
}

SEC("test/pair")
int pair_second(void *ctx)
{
    return 22;
}
