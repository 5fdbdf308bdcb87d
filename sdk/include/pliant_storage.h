/*
 * Contexts of pliantd's storage hookpoints (issue 5) other than the buffer
 * pool's page_evict (sdk/include/pliant_pcache.h), shared by the engine,
 * which registers them, and the extensions that attach to them:
 *
 *   mem_charge      engine/memacct.c     SEC("hook/mem_charge")
 *   io_read         engine/vfs.c         SEC("hook/io_read")
 *   wal_checkpoint  engine/checkpoint.c  SEC("hook/wal_checkpoint")
 *
 * Every field is a read-only scalar. Answers are range-checked (by the
 * verifier for constants, at run time otherwise); an answer out of range,
 * or a fault, makes the engine use its built-in behaviour for that call and
 * count a fallback.
 */
#ifndef PLIANT_STORAGE_H
#define PLIANT_STORAGE_H

#ifndef __bpf__
#include <stdint.h>
#endif

/* Tenant id of memory and I/O no tenant asked for (server start-up and
 * shutdown, the main thread). */
#define PL_TENANT_NONE 0xffffffffu

/* ------------------------------------------------------------ mem_charge */

/* What is being charged. */
enum pl_mem_kind {
    PL_MEM_HEAP = 0,   /* SQLite's own allocations (sqlite3_malloc) */
    PL_MEM_FRAMES = 1, /* buffer-pool page frames */
};

enum pl_mem_answer { PL_MEM_GRANT = 0, PL_MEM_REFUSE = 1 };

/* mem_charge: a tenant's memory grew by a batch (each thread charges in
 * batches of up to 64 KiB per tenant; one allocation of 64 KiB or more is
 * a batch of its own), and the engine asks whether the allocation that
 * completed the batch may proceed. Refused, it fails: SQLite sees
 * SQLITE_NOMEM and the client gets SQLSTATE 53200 with its session intact.
 * Counts are the shared counters after this batch, so they lag each
 * thread's unflushed remainder (under 64 KiB per thread and tenant).
 * Returns enum pl_mem_answer. Built-in: refuse when the tenant is over its
 * quota, or the server over its limit (each only where one is set):
 *   (tenant_quota && tenant_bytes > tenant_quota) ||
 *   (total_limit && total_bytes > total_limit)                         */
struct pl_mem_charge_ctx {
    uint32_t tenant;       /* database index, in config order from 0 */
    uint32_t kind;         /* enum pl_mem_kind */
    uint64_t request;      /* bytes of the allocation being decided */
    uint64_t tenant_bytes; /* the tenant's charged bytes, request included */
    uint64_t tenant_quota; /* the tenant's configured quota in bytes; 0: none */
    uint64_t total_bytes;  /* charged bytes of every tenant and the server, request included */
    uint64_t total_limit;  /* the server's configured limit in bytes; 0: none */
    uint32_t ntenants;     /* tenants configured */
    uint32_t reserved;
};

/* --------------------------------------------------------------- io_read */

/* Read-ahead requests are capped (in units of the read's size). */
#define PL_IO_READAHEAD_MAX 256

/* io_read: SQLite read `amount` bytes at `offset` of a main database file
 * (journal, WAL and temporary files do not pass here). The engine tracks
 * forward runs for the policy: a read continues the run when it starts at
 * or after the previous read's end and at most 4 * amount bytes past it
 * (a B-tree scan skips the odd interior page).
 * Returns how many further `amount`-sized blocks after this read to read
 * ahead, 0..PL_IO_READAHEAD_MAX. Buffered files get
 * posix_fadvise(WILLNEED) for the part not requested before; O_DIRECT
 * files count the request but skip it (the page cache they bypass is what
 * the advice would fill). Built-in: 0 (SQLite's VFS reads no further). */
struct pl_io_read_ctx {
    uint32_t tenant;      /* tenant that opened the file; PL_TENANT_NONE for the server */
    uint32_t file_id;     /* one per open main-database file (one per connection) */
    uint64_t offset;      /* byte offset of this read */
    uint32_t amount;      /* bytes read (a page, for the pager's reads) */
    uint32_t seq_reads;   /* reads in the current forward run, this one included (1: no run) */
    uint64_t prev_offset; /* offset of the previous read of this file; ~0: none */
    uint32_t direct;      /* 1: the file uses O_DIRECT */
    uint32_t reserved;
};

/* -------------------------------------------------------- wal_checkpoint */

/* Answers: checkpoint now, in SQLite's mode (sqlite3_wal_checkpoint_v2),
 * or not at all. FULL, RESTART and TRUNCATE do not wait for readers or
 * writers: busy, they do what PASSIVE would and count as busy. */
enum pl_checkpoint_mode {
    PL_CKPT_NONE = 0,
    PL_CKPT_PASSIVE = 1,
    PL_CKPT_FULL = 2,
    PL_CKPT_RESTART = 3,
    PL_CKPT_TRUNCATE = 4, /* also truncates the WAL file to zero bytes */
};

/* wal_checkpoint: a transaction committed to a database in WAL mode
 * (sqlite3_wal_hook, which replaces SQLite's own auto-checkpoint).
 * Returns enum pl_checkpoint_mode. Built-in: SQLite's auto-checkpoint,
 *   autocheckpoint && wal_frames >= autocheckpoint ? PL_CKPT_PASSIVE : PL_CKPT_NONE */
struct pl_wal_checkpoint_ctx {
    uint32_t tenant;
    uint32_t wal_frames;     /* frames in the WAL now, this commit's included */
    uint32_t autocheckpoint; /* configured threshold in frames (wal_autocheckpoint); 0: off */
    uint32_t workers;        /* worker threads (0: unknown, e.g. outside pliantd) */
    uint64_t since_ckpt_ns;  /* since this database's last checkpoint by the server (or its start) */
    uint32_t running;        /* statements on workers now, this one included */
    uint32_t queued;         /* statements waiting for a worker */
};

#endif
