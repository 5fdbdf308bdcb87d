/* io_read sequential read-ahead: once a file has been read forward
 * MIN_RUN times in a row (a table or index scan), ask for the next WINDOW
 * blocks, doubling the window as the run goes on up to MAX_WINDOW;
 * random reads (point lookups) ask for nothing. The engine advises the
 * kernel only about blocks not requested before, so a long scan costs one
 * posix_fadvise per WINDOW blocks, not one per read. */
#include <pliant_bpf.h>
#include <pliant_storage.h>

#define MIN_RUN 4
#define WINDOW 16
#define MAX_WINDOW 128

SEC("hook/io_read")
long io_readahead_seq(struct pl_io_read_ctx *ctx)
{
    u32 run = ctx->seq_reads;
    if (run < MIN_RUN)
        return 0;
    u32 w = WINDOW;
    if (run >= 4 * MIN_RUN)
        w = 4 * WINDOW;
    if (run >= 16 * MIN_RUN)
        w = MAX_WINDOW;
    return w;
}
