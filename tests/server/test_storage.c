/* pliantd's storage hookpoints end to end (issue 5): the buffer pool,
 * memory quotas, the VFS and checkpointing inside a live server; the
 * default extensions indistinguishable from the built-ins; a quota refusal
 * is a clean 53200 with the session and the database intact; the
 * read-ahead and adaptive checkpoint policies change what the server does;
 * kill -9 under load with a tiny pool and frequent checkpoints loses no
 * acknowledged commit. Figures come from the stats pliantd logs at
 * shutdown (storage_log_stats). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../testlib.h"
#include "harness.h"

/* "OK <tag> <rows>" or "ERR <sqlstate>" for one statement, and the first
 * column of its first row. */
static const char *result(PGconn *c, const char *sql)
{
    static char buf[256];
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        snprintf(buf, sizeof buf, "OK %s %s", PQcmdStatus(r), PQntuples(r) ? PQgetvalue(r, 0, 0) : "-");
    else
        snprintf(buf, sizeof buf, "ERR %s", srv_sqlstate(r));
    PQclear(r);
    return buf;
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* A filled table bigger than a 1 MiB pool: 3000 rows of about 1000 bytes. */
#define FILL "create table t(id integer primary key, v text); " \
             "insert into t with recursive n(i) as (select 1 union all select i + 1 from n where i < 3000) " \
             "select i, printf('%d-%0990d', i, i) from n"

/* -------------------------------------- defaults reproduce the built-ins */

/* Reads, writes, commits, checkpoints, evictions and a quota refusal, on
 * one connection; the transcript of results (malloc'ed). */
static char *workload(const struct srv *s)
{
    PGconn *c = srv_connect(s, "u", "w", NULL);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    static const char *const stmts[] = {
        FILL,
        "select count(*), sum(length(v)) from t",
        "select length(randomblob(8000000))",
        "select v from t where id = 1234",
        "update t set v = upper(v) where id % 7 = 0",
        "create index t_v on t(v)",
        "select count(*) from t where v like '1%'",
        "delete from t where id > 2500",
        "pragma integrity_check",
    };
    size_t cap = 1 << 14, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s\n", result(c, stmts[i]));
    /* Single-row commits: checkpoints at 50 frames. */
    for (int i = 0; i < 120; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "update t set v = 'x%d' where id = %d", i, 1 + i * 17);
        len += (size_t)snprintf(out + len, cap - len, "%s\n", result(c, sql));
    }
    PQfinish(c);
    return out;
}

static const char *const same_stats[][2] = {
    {"checkpoints", "commits"}, {"checkpoints", "passive"}, {"checkpoints", "truncate"},
    {"memory", "refusals"},     {"io", "reads"},            {"io", "readahead_requests"},
    {"buffer_pool", "hits"},    {"buffer_pool", "misses"},  {"buffer_pool", "evictions"},
};

TEST(storage_default_extensions_match_builtin_behaviour)
{
    static const char base[] = "auth = trust\nworkers = 2\nbuffer_pool_mb = 1\nwal_autocheckpoint = 50\n"
                               "mem_quota_mb = 4\n";
    char extra[4096];
    struct srv a, b;
    snprintf(extra, sizeof extra, "%s[database w]\n", base);
    CHECK(srv_start(&a, "SD0", extra, false) == 0);
    /* The config form of --attach, for the engine's hooks. */
    snprintf(extra, sizeof extra,
             "%sattach = page_evict=%s\nattach = mem_charge=%s\nattach = io_read=%s\nattach = wal_checkpoint=%s\n"
             "[database w]\n",
             base, ext_path("evict_lru"), ext_path("mem_charge_default"), ext_path("io_read_default"), ext_path("wal_checkpoint_default"));
    if (srv_start(&b, "SD1", extra, false) != 0) {
        srv_stop(&a);
        srv_cleanup(&a);
        CHECK_MSG(false, "server with the default storage extensions did not start (see /tmp/pliantd-test-%d-SD1)",
                  (int)getpid());
    }
    char *ta = workload(&a), *tb = workload(&b);
    CHECK_EQ(srv_stop(&a), 0);
    CHECK_EQ(srv_stop(&b), 0);
    CHECK(ta && tb);
    CHECK_MSG(strcmp(ta, tb) == 0, "built-in:\n%s\ndefault extensions:\n%s", ta, tb);
    /* The workload did what it says (both sides agree anyway). */
    CHECK_MSG(strstr(ta, "OK SELECT 1 3000\n") && strstr(ta, "ERR 53200\n") && strstr(ta, "OK SELECT 1 ok\n"), "%s",
              ta);
    free(ta);
    free(tb);
    for (size_t i = 0; i < sizeof same_stats / sizeof same_stats[0]; i++) {
        long long va = srv_log_stat(&a, same_stats[i][0], NULL, same_stats[i][1]);
        long long vb = srv_log_stat(&b, same_stats[i][0], NULL, same_stats[i][1]);
        CHECK_MSG(va >= 0 && va == vb, "%s %s: built-in %lld, default extensions %lld", same_stats[i][0],
                  same_stats[i][1], va, vb);
    }
    CHECK(srv_log_stat(&a, "buffer_pool", NULL, "evictions") > 0);
    CHECK(srv_log_stat(&a, "checkpoints", NULL, "passive") >= 2);
    CHECK_EQ(srv_log_stat(&a, "io", NULL, "readahead_requests"), 0);
    /* Every extension ran, and every eviction was the program's choice. */
    static const char *const hooks[] = {"hook=page_evict", "hook=mem_charge", "hook=io_read", "hook=wal_checkpoint"};
    for (size_t i = 0; i < 4; i++) {
        CHECK_MSG(srv_log_stat(&b, "storage_hook", hooks[i], "invocations") > 0, "%s never ran", hooks[i]);
        CHECK_EQ(srv_log_stat(&a, "storage_hook", hooks[i], "invocations"), 0);
    }
    CHECK_EQ(srv_log_stat(&b, "buffer_pool", NULL, "hook_victims"), srv_log_stat(&b, "buffer_pool", NULL, "evictions"));
    srv_cleanup(&a);
    srv_cleanup(&b);
}

/* ------------------------------------------------------- memory quota */

TEST(storage_memory_quota_refusal_is_clean_and_session_goes_on)
{
    struct srv s;
    CHECK(srv_start(&s, "SQ", "auth = trust\nworkers = 2\n[database q]\nmem_quota_mb = 4\n[database free]\n", false) ==
          0);
    PGconn *q = srv_connect(&s, "u", "q", NULL), *f = srv_connect(&s, "u", "free", NULL);
    CHECK(PQstatus(q) == CONNECTION_OK && PQstatus(f) == CONNECTION_OK);
    CHECK(starts(result(q, FILL), "OK INSERT"));
    /* One large allocation over the quota: 53200, named as the quota. */
    PGresult *r = PQexec(q, "select length(randomblob(8000000))");
    CHECK_MSG(strcmp(srv_sqlstate(r), "53200") == 0 && strstr(PQresultErrorMessage(r), "mem_quota_mb"), "%s: %s",
              srv_sqlstate(r), PQresultErrorMessage(r));
    PQclear(r);
    CHECK_EQ(strcmp(result(q, "select 1"), "OK SELECT 1 1"), 0);
    /* Growth in steps (a string doubling): refused as well. */
    CHECK_EQ(strcmp(result(q, "select length(group_concat(v)) from t, (select 1 union all select 2)"), "ERR 53200"),
             0);
    /* Inside a transaction: the block fails as any error does; nothing of
     * it is committed. */
    CHECK(starts(result(q, "begin"), "OK BEGIN"));
    CHECK(starts(result(q, "insert into t values (5001, 'a')"), "OK INSERT"));
    CHECK_EQ(strcmp(result(q, "insert into t values (5002, randomblob(8000000))"), "ERR 53200"), 0);
    CHECK_EQ(strcmp(result(q, "select 1"), "ERR 25P02"), 0);
    CHECK(starts(result(q, "commit"), "OK ROLLBACK"));
    /* The extended protocol too. */
    const char *vals[1] = {"8000000"};
    r = PQexecParams(q, "select length(randomblob($1))", 1, NULL, vals, NULL, NULL, 0);
    CHECK_MSG(strcmp(srv_sqlstate(r), "53200") == 0, "%s", PQresultErrorMessage(r));
    PQclear(r);
    /* Database intact, session usable, within the quota all is well. */
    CHECK_EQ(strcmp(result(q, "select count(*) from t"), "OK SELECT 1 3000"), 0);
    CHECK_EQ(strcmp(result(q, "pragma integrity_check"), "OK SELECT 1 ok"), 0);
    CHECK_EQ(strcmp(result(q, "select length(randomblob(1000000))"), "OK SELECT 1 1000000"), 0);
    CHECK(starts(result(q, "insert into t values (5003, 'b')"), "OK INSERT"));
    /* The tenant without a quota is not affected. */
    CHECK_EQ(strcmp(result(f, "select length(randomblob(8000000))"), "OK SELECT 1 8000000"), 0);
    PQfinish(q);
    PQfinish(f);
    CHECK_EQ(srv_stop(&s), 0);
    CHECK(srv_log_stat(&s, "tenant_storage", "db=q ", "mem_refusals") >= 4);
    /* The tenant's cached pages count against its quota too, and gave way
     * to its statements' memory (pcache_reclaim) before anything was
     * refused. */
    CHECK(srv_log_stat(&s, "buffer_pool", NULL, "quota_drops") > 0);
    CHECK_EQ(srv_log_stat(&s, "tenant_storage", "db=free ", "mem_refusals"), 0);
    CHECK_EQ(srv_log_stat(&s, "tenant_storage", "db=q ", "mem_quota"), 4 << 20);
    srv_cleanup(&s);
}

/* ---------------------------------------------- non-default policies */

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* io_readahead_seq advises read-ahead for a scan through a pool smaller
 * than the table; wal_checkpoint_adaptive, with one client (idle by its
 * measure), truncates the WAL instead of letting it sit at its high-water
 * mark. The built-in does neither (the test above). */
TEST(storage_readahead_and_adaptive_checkpoint_take_effect)
{
    struct srv s;
    char extra[2048];
    snprintf(extra, sizeof extra,
             "auth = trust\nworkers = 2\nbuffer_pool_mb = 1\nwal_autocheckpoint = 100\n"
             "attach = io_read=%s\nattach = wal_checkpoint=%s\n[database p]\n",
             ext_path("io_readahead_seq"), ext_path("wal_checkpoint_adaptive"));
    CHECK(srv_start(&s, "SP", extra, false) == 0);
    PGconn *c = srv_connect(&s, "u", "p", NULL);
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(starts(result(c, FILL), "OK INSERT"));
    for (int i = 0; i < 60; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "update t set v = 'y' where id = %d", 1 + i * 41);
        CHECK(starts(result(c, sql), "OK UPDATE"));
    }
    char wal[400];
    snprintf(wal, sizeof wal, "%s/data/p.db-wal", s.dir);
    long wal_bytes = file_size(wal);
    CHECK_EQ(strcmp(result(c, "select count(*) from t where v <> ''"), "OK SELECT 1 3000"), 0);
    PQfinish(c);
    CHECK_EQ(srv_stop(&s), 0);
    /* Truncated every 25 frames: never near the 100-frame threshold. */
    CHECK_MSG(wal_bytes >= 0 && wal_bytes < 50 * 4120, "WAL %ld bytes", wal_bytes);
    CHECK(srv_log_stat(&s, "checkpoints", NULL, "truncate") > 0);
    CHECK_EQ(srv_log_stat(&s, "checkpoints", NULL, "passive"), 0);
    CHECK(srv_log_stat(&s, "io", NULL, "readahead_pages") > 100);
    srv_cleanup(&s);
}

/* ------------------------------------------------------------ kill -9 */

/* A 1 MiB pool under a 15 MB database evicts all the time; a checkpoint
 * is due every 20 frames; O_DIRECT where the file system takes it. */
TEST(storage_kill9_while_evicting_and_checkpointing_keeps_every_acknowledged_commit)
{
    struct srv K;
    CHECK(srv_start(&K, "SK",
                    "auth = trust\nworkers = 2\nsynchronous = full\nbuffer_pool_mb = 1\nwal_autocheckpoint = 20\n"
                    "direct_io = on\n[database k]\n",
                    false) == 0);
    PGconn *c = srv_connect(&K, "u", "k", NULL);
    CHECK(PQstatus(c) == CONNECTION_OK);
    CHECK(starts(result(c, "create table acked(id integer primary key)"), "OK CREATE"));
    PQfinish(c);
    const char *pb = pgbench_path();
    if (pb) {
        char cmd[1024], out[4096];
        snprintf(cmd, sizeof cmd, "%s -h 127.0.0.1 -p %d -U u -i -s 1 -q k", pb, K.port);
        CHECK(run_cmd(cmd, out, sizeof out, 120) == 0);
    }
    static const char *const writes[] = {"-N", "-c", "2", "-T", "20", NULL};
    static const char *const reads[] = {"-S", "-c", "1", "-T", "20", NULL};
    pid_t bench_w = pgbench_spawn(&K, "k", writes), bench_r = pgbench_spawn(&K, "k", reads);
    struct ack_load *load = ack_load_start(&K, "k", 2);
    CHECK(load);
    usleep(2000000);
    srv_kill9(&K);
    int total = ack_load_stop(load);
    for (int i = 0; i < 2; i++) {
        pid_t p = i ? bench_r : bench_w;
        if (p > 0) {
            kill(p, SIGTERM);
            waitpid(p, NULL, 0);
        }
    }
    CHECK_MSG(total > 10, "only %d commits acknowledged before the kill", total);
    CHECK(srv_restart(&K) == 0);
    int missing = ack_load_missing(load, &K, "k");
    ack_load_free(load);
    c = srv_connect(&K, "u", "k", NULL);
    char integrity[256], accounts[256];
    snprintf(integrity, sizeof integrity, "%s", result(c, "pragma integrity_check"));
    snprintf(accounts, sizeof accounts, "%s", result(c, pb ? "select count(*) from pgbench_accounts" : "select 100000"));
    PQfinish(c);
    CHECK_EQ(srv_stop(&K), 0);
    CHECK_MSG(missing == 0, "%d of %d acknowledged commits lost", missing, total);
    CHECK_MSG(strcmp(integrity, "OK SELECT 1 ok") == 0, "integrity_check: %s", integrity);
    CHECK_MSG(strcmp(accounts, "OK SELECT 1 100000") == 0, "pgbench_accounts: %s", accounts);
    /* The restarted server, same settings, evicted and checkpointed too. */
    CHECK(srv_log_stat(&K, "buffer_pool", NULL, "evictions") > 0);
    srv_cleanup(&K);
}

/* ------------------------------------------------------------ config */

TEST(storage_config_errors_are_clear)
{
    static const struct {
        const char *flags, *expect;
    } cases[] = {
        {"--buffer-pool-mb 0", "invalid value \"0\" for buffer_pool_mb"},
        {"--direct-io maybe", "invalid value \"maybe\" for direct_io"},
        {"--mem-quota-mb -1", "invalid value \"-1\" for mem_quota_mb"},
        {"--attach mem_charge=/nonexistent.o", "cannot load /nonexistent.o for hook mem_charge"},
        {"--attach io_read=BUILD/extensions/mem_charge_default.bpf.o", "hook io_read"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char flags[512], cmd[1024], out[8192];
        const char *b = strstr(cases[i].flags, "BUILD");
        if (b)
            snprintf(flags, sizeof flags, "%.*s%s%s", (int)(b - cases[i].flags), cases[i].flags, tl_build_dir(),
                     b + 5);
        else
            snprintf(flags, sizeof flags, "%s", cases[i].flags);
        snprintf(cmd, sizeof cmd, "%s --trust -D /tmp/pliantd-test-%d-cfg -d x -p 0 %s", pliantd_path(), (int)getpid(),
                 flags);
        int rc = run_cmd(cmd, out, sizeof out, 60);
        CHECK_MSG(rc == 1 && strstr(out, cases[i].expect), "%s: exit %d, expected \"%s\" in: %s", cases[i].flags, rc,
                  cases[i].expect, out);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf /tmp/pliantd-test-%d-cfg", (int)getpid());
    CHECK(system(cmd) == 0);
}
