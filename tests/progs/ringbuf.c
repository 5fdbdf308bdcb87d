/* Ring buffer output of a fixed-size record. */
#include <pliant_bpf.h>

struct event {
    u32 seq;
    u32 magic;
    u64 value;
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

u32 seq;

SEC("test/ringbuf")
long ringbuf(void *ctx)
{
    struct event e = {.seq = seq++, .magic = 0xfeedu, .value = 1000};
    return bpf_ringbuf_output(&events, &e, sizeof(e), 0);
}
