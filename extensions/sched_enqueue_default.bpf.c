/* Default sched_enqueue: every statement in class 0, as the built-in
 * (with sched_pick_fifo, one FIFO queue). For overhead measurements. */
#include <pliant_bpf.h>
#include <pliant_hooks.h>

SEC("hook/sched_enqueue")
long sched_enqueue_default(struct pl_sched_enqueue_ctx *ctx)
{
    (void)ctx;
    return 0;
}
