/* io_read default: no read-ahead, as SQLite's own VFS. */
#include <pliant_bpf.h>
#include <pliant_storage.h>

SEC("hook/io_read")
long io_read_default(struct pl_io_read_ctx *ctx)
{
    (void)ctx;
    return 0;
}
