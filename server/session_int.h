/* Internals shared by session.c (protocol state machine, on the session's
 * thread) and exec.c (statement execution, on worker threads). */
#ifndef PL_SERVER_SESSION_INT_H
#define PL_SERVER_SESSION_INT_H

#include <sqlite3.h>
#include <stdatomic.h>

#include "../engine/copy.h"
#include "../engine/db.h"
#include "../engine/sql_translate.h"
#include "pgwire.h"
#include "server.h"

/* CANCEL_POLICY: the query_progress hook canceled the running statement. */
enum { CANCEL_NONE = 0, CANCEL_QUERY = 1, CANCEL_SHUTDOWN = 2, CANCEL_POLICY = 3 };

struct pstmt {               /* a prepared statement (Parse) */
    char *name;
    struct tr_result tr;
    sqlite3_stmt *st;        /* NULL for statements SQLite does not run (SET, SHOW, empty) */
    struct portal *st_owner; /* the portal currently using st, if any */
    int nparams;
    uint32_t *ptypes;        /* types given in Parse (0 = unspecified) */
    int nptypes;
    struct pstmt *next;
};

struct portal {              /* a bound statement (Bind) */
    char *name;
    struct pstmt *ps;
    sqlite3_stmt *st;
    bool own_st;             /* st was prepared for this portal (ps->st was in use) */
    bool started, done;
    uint64_t rows;
    uint32_t *oids;          /* result column types, fixed at Bind */
    int ncols;
    struct portal *next;
};

struct param {
    char *name, *value;
};

enum exec_op { EX_SIMPLE, EX_PREPARE, EX_PORTAL, EX_SQL, EX_COPY_OPEN, EX_COPY_LINES };

/* One job's worth of work and its outcome. */
struct exec {
    struct session *s;
    enum exec_op op;
    const struct tr_result *tr; /* EX_SIMPLE, EX_PREPARE */
    const char *sql;            /* EX_SQL */
    size_t sql_off;             /* EX_SIMPLE: sub-statements already done (a retry resumes here) */
    struct pstmt *ps;           /* EX_PREPARE */
    struct portal *po;          /* EX_PORTAL */
    int max_rows;
    /* EX_COPY_* */
    const char *data;
    size_t len, consumed;
    bool final, end_marker;
    /* outcome */
    uint64_t rows, changes;
    bool suspended;
    bool failed;
    struct eng_err err;
};

struct session {
    struct server *srv;
    struct session *reg_next;
    int fd;
    struct pw_conn pw;
    int32_t pid, secret;
    char user[64], dbname[64];
    int tenant;
    sqlite3 *db;
    struct param *params;
    int nparams;
    bool txn_failed;  /* an error inside a transaction block: only ROLLBACK until it ends */
    bool ext_error;   /* extended protocol: discard messages until Sync */
    bool close_after; /* protocol broken: reply, then close the connection */
    struct pstmt *stmts;
    struct portal *portals;
    struct eng_copy *copy;
    atomic_int cancel;     /* CANCEL_*: read by the progress handler */
    atomic_bool in_job;    /* a job is queued or running */
    atomic_bool running;   /* a worker is inside SQLite for this session */
    uint64_t progress_calls; /* progress handler calls in the current job (worker only) */
    struct eng_authorizer authz; /* the authorize hook's seam (outlives db) */
    uint64_t authz_gen;          /* hooks_authorize_generation() db's statements were prepared under */
    struct sched_job job;
};

/* exec.c */
void exec_job(struct sched_job *job);
int exec_progress(void *arg);
void send_row_description(struct session *s, sqlite3_stmt *st, const uint32_t *oids, int ncols);

#endif
