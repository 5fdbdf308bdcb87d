/*
 * Contexts of pliantd's query-level hookpoints, shared by the server
 * (server/hooks.c, which registers them) and the extensions that attach to
 * them (the extensions/ programs, in sections SEC("hook/<name>")).
 *
 * Every field is a read-only scalar of 1, 2, 4 or 8 bytes: the runtime's
 * field tables admit only such fields, a program reads each one whole, and
 * no host pointer ever reaches a program. Names (tables, columns) arrive as
 * hashes (pl_name_hash below), which a program compares with constants.
 *
 * Return values are checked against each hook's range by the verifier (for
 * constants) and at run time; an answer out of range, or a fault, makes the
 * server use its built-in behaviour for that call.
 */
#ifndef PLIANT_HOOKS_H
#define PLIANT_HOOKS_H

#ifndef __bpf__
#include <stdint.h>
#endif

/* Statement kinds (the server's enum tr_kind, frozen here as ABI). */
enum pl_stmt_kind {
    PL_KIND_EMPTY = 0,
    PL_KIND_QUERY = 1, /* may return rows */
    PL_KIND_INSERT = 2,
    PL_KIND_UPDATE = 3,
    PL_KIND_DELETE = 4,
    PL_KIND_BEGIN = 5,
    PL_KIND_COMMIT = 6,
    PL_KIND_ROLLBACK = 7,
    PL_KIND_ROLLBACK_TO = 8,
    PL_KIND_SAVEPOINT = 9,
    PL_KIND_RELEASE = 10,
    PL_KIND_UTILITY = 11, /* DDL and the like; also internal statements */
    PL_KIND_NOOP = 12,
    PL_KIND_SET = 13,
    PL_KIND_SHOW = 14,
    PL_KIND_COPY_IN = 15,
};

/* Scheduling classes: sched_enqueue answers one, sched_pick chooses one. */
#define PL_SCHED_CLASSES 4

/* sched_enqueue: classify a statement at submission.
 * Returns its class, 0..PL_SCHED_CLASSES-1. Built-in: 0 for everything. */
struct pl_sched_enqueue_ctx {
    uint32_t tenant;         /* database index, in config order from 0 */
    uint32_t kind;           /* enum pl_stmt_kind */
    uint64_t fingerprint;    /* statement shape (literals blanked); 0: internal */
    uint32_t queue_depth;    /* jobs queued (all classes), this one excluded */
    uint32_t running;        /* jobs on workers now */
    uint64_t recent_cost_ns; /* run time of this fingerprint's last execution; 0: unknown */
};

/* sched_pick: a free worker chooses the class it serves next. Called only
 * when at least two classes have a runnable job. Returns a class; one with
 * no runnable job makes the server use the built-in choice. Built-in: the
 * class whose oldest runnable job has waited longest (global FIFO). */
struct pl_sched_pick_ctx {
    uint32_t nclasses;       /* PL_SCHED_CLASSES */
    uint32_t runnable_total;
    uint64_t now_ns;         /* monotonic clock, as bpf_ktime_get_ns */
    uint32_t runnable[PL_SCHED_CLASSES];        /* jobs ready to run, per class */
    uint64_t oldest_wait_ns[PL_SCHED_CLASSES];  /* wait of the oldest runnable job; 0: none */
};

/* admit: accept, hold or reject a statement before it is queued. */
enum pl_admit {
    PL_ADMIT_ACCEPT = 0,
    PL_ADMIT_QUEUE = 1,  /* hold it at the door and ask again shortly (until busy_timeout_ms: then 53000) */
    PL_ADMIT_REJECT = 2, /* the client gets SQLSTATE 53000 */
};
struct pl_admit_ctx {
    uint32_t tenant;
    uint32_t kind;
    uint64_t fingerprint;
    uint32_t queue_depth;
    uint32_t running;
    uint32_t workers;
    uint32_t attempts;       /* 0 on the first ask; +1 each time it was held */
    uint64_t waited_ns;      /* how long it has been held at the door */
};

/* query_progress: called every PL_PROGRESS_STEPS SQLite VM steps while a
 * statement runs. Returns 0 to continue, 1 to cancel (client: 57014).
 * Built-in: continue (a client's cancel request or shutdown always wins,
 * before the hook is asked). */
#define PL_PROGRESS_STEPS 1000
enum pl_progress { PL_PROGRESS_CONTINUE = 0, PL_PROGRESS_CANCEL = 1 };
struct pl_query_progress_ctx {
    uint32_t tenant;
    uint32_t kind;
    uint64_t fingerprint;
    uint64_t elapsed_ns;     /* since this execution started on its worker */
    uint64_t vm_steps;       /* SQLite VM steps so far (multiple of PL_PROGRESS_STEPS) */
};

/* query_end: a statement finished. The answer is ignored: this hook is for
 * observability (counters, histograms in maps). */
enum pl_query_status {
    PL_QUERY_OK = 0,
    PL_QUERY_ERROR = 1,
    PL_QUERY_CANCELED = 2, /* 57014: user cancel or query_progress */
    PL_QUERY_REJECTED = 3, /* by admit */
};
struct pl_query_end_ctx {
    uint32_t tenant;
    uint32_t kind;
    uint64_t fingerprint;
    uint64_t rows;           /* rows returned or changed */
    uint64_t queue_ns;       /* time queued before a worker took it */
    uint64_t elapsed_ns;     /* run time on the worker, measured by the server */
    uint32_t status;         /* enum pl_query_status */
    uint32_t attempts;       /* executions (more than 1: retried on a busy lock) */
};

/* authorize: SQLite's authorizer, consulted when a statement is prepared,
 * for every action it would take. Only actions the server's own rules
 * allow reach the hook (ATTACH, DETACH and writing PRAGMAs are always
 * denied: tenant isolation and durability are not negotiable). Returns
 * SQLite's answer: 0 allow, 1 deny (client: 42501), 2 ignore (reads NULL
 * for a column, skips a DELETE's row). Built-in: allow. */
enum pl_authorize { PL_AUTH_ALLOW = 0, PL_AUTH_DENY = 1, PL_AUTH_IGNORE = 2 };

/* SQLite's action codes (sqlite3.h, stable since 3.x). */
enum pl_sqlite_action {
    PL_SQL_CREATE_INDEX = 1, PL_SQL_CREATE_TABLE = 2, PL_SQL_CREATE_TEMP_INDEX = 3,
    PL_SQL_CREATE_TEMP_TABLE = 4, PL_SQL_CREATE_TEMP_TRIGGER = 5, PL_SQL_CREATE_TEMP_VIEW = 6,
    PL_SQL_CREATE_TRIGGER = 7, PL_SQL_CREATE_VIEW = 8, PL_SQL_DELETE = 9, PL_SQL_DROP_INDEX = 10,
    PL_SQL_DROP_TABLE = 11, PL_SQL_DROP_TEMP_INDEX = 12, PL_SQL_DROP_TEMP_TABLE = 13,
    PL_SQL_DROP_TEMP_TRIGGER = 14, PL_SQL_DROP_TEMP_VIEW = 15, PL_SQL_DROP_TRIGGER = 16,
    PL_SQL_DROP_VIEW = 17, PL_SQL_INSERT = 18, PL_SQL_PRAGMA = 19, PL_SQL_READ = 20, PL_SQL_SELECT = 21,
    PL_SQL_TRANSACTION = 22, PL_SQL_UPDATE = 23, PL_SQL_ATTACH = 24, PL_SQL_DETACH = 25,
    PL_SQL_ALTER_TABLE = 26, PL_SQL_REINDEX = 27, PL_SQL_ANALYZE = 28, PL_SQL_CREATE_VTABLE = 29,
    PL_SQL_DROP_VTABLE = 30, PL_SQL_FUNCTION = 31, PL_SQL_SAVEPOINT = 32, PL_SQL_RECURSIVE = 33,
};

struct pl_authorize_ctx {
    uint32_t tenant;
    uint32_t action;         /* enum pl_sqlite_action */
    /* pl_name_hash of SQLite's first and second argument (for READ/UPDATE:
     * table and column; INSERT/DELETE: table; FUNCTION: -, name; ...);
     * 0 when SQLite passes none. */
    uint64_t arg1_hash;
    uint64_t arg2_hash;
    uint64_t db_hash;        /* "main", "temp" */
    uint64_t trigger_hash;   /* innermost trigger or view, 0 if none */
};

/* FNV-1a (64-bit) of a name, ASCII letters folded to lower case because
 * SQL identifiers are case-insensitive. Inline so that a program comparing
 * ctx->arg1_hash with pl_name_hash("accounts") gets a constant at -O2. */
static inline __attribute__((always_inline)) uint64_t pl_name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        h = (h ^ c) * 0x100000001b3ull;
    }
    return h;
}

#endif
