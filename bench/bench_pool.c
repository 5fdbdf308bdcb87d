/*
 * Buffer pool policies under a hot set with periodic large scans (issue 5):
 * SQLite on the engine's storage layer as pliantd installs it (buffer pool,
 * memory accounting, VFS shim with direct I/O; engine/storage.h) and
 * libpliant, in one process (no pliantd, no network).
 *
 * Database, created once per invocation in a directory under the build
 * directory (a real disk, not tmpfs): page size 4096, WAL, a hot table of
 * HOT_ROWS rows (about 450 pages) and a cold table of COLD_ROWS rows (about
 * 8,300 pages); the pool's budget, POOL_BYTES, is about a quarter of that.
 *
 * One run, the same in every variant, each in a process of its own (a
 * fresh pool, fresh policy maps):
 *   - OPS point lookups `SELECT v FROM hot WHERE id = ?`, taken in order
 *     from one fixed sequence by two worker threads (one connection each,
 *     tenant 1); keys Zipf(0.99) over the hot rows, ranks shuffled over the
 *     rows, fixed seed. Every run does the same lookups; only which worker
 *     takes which one varies. SQLite gives each connection a cache of its
 *     own, so the hot set is held twice: about half the pool.
 *   - a scanner thread (own connection, tenant 2) runs the full scan
 *     `SELECT sum(length(v)) FROM cold`, the pattern LRU handles badly:
 *     scan k starts with lookup k * SCAN_EVERY, and lookups from
 *     (k + 1) * SCAN_EVERY on wait until it has finished, so every variant
 *     runs the same scans against the same stretches of lookups however
 *     fast its lookups or its scans are.
 *   - the first WARMUP lookups fill the pool and are not measured; the
 *     measured part ends with the last lookup and the last scan.
 * Measured: each lookup's latency (clock_gettime around bind, step and
 * reset), the pool's hits and misses of the lookups (tenant 1) and of the
 * scans (tenant 2) from pcache_tenant_stats deltas, wall time and process
 * CPU time (the CPU clocks of every thread of the run: workers, scanner,
 * cache dropper if any, main).
 *
 * I/O. Misses must cost real reads, so the pool is the only cache: the
 * database is read with O_DIRECT through the VFS shim. Where the file
 * system refuses O_DIRECT (tmpfs; the shim falls back to buffered reads)
 * the run instead drops the file from the OS page cache (posix_fadvise
 * DONTNEED) every DROP_MS, so that a page read again after the pool
 * evicted it usually comes from the disk too (not always: within DROP_MS
 * of its last read the OS may still hold it). Each run reports which.
 *
 *   bench_pool <build dir>               everything below; prints section 9 of RESULTS.md
 *   bench_pool --create DB               creates the database (as the above does)
 *   bench_pool --run SPEC DB EXT_DIR     one run (what the above starts per variant):
 *                                        one "seg NAME field=value ..." line per segment
 * SPEC: builtin (nothing attached), defaults (page_hash_default,
 * page_fetch_default, page_unpin_default, evict_lru), a policy object's
 * name (evict_s3fifo: EXT_DIR/evict_s3fifo.bpf.o), or swap:NAME (evict_lru,
 * then NAME attached live after half the measured lookups; one segment per
 * quarter of them).
 *
 * Built twice (bench/bench.mk): bench_pool, and bench_pool_nohooks with
 * -DPLIANT_NO_HOOKS (every hookpoint compiled out), the overhead baseline,
 * which the first starts for its "hooks compiled out" runs.
 */
#include "pliant/pliant.h"
#include "../engine/storage.h"
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#define POOL_BYTES (8ull << 20)
#define HOT_ROWS 8500    /* 200-byte values: about 19 rows a page */
#define COLD_ROWS 75000  /* 400-byte values: about 9 rows a page */
#define ZIPF_THETA 0.99
#define SEED 0x5eed5eedull

#define WORKERS 2
#define OPS 150000
#define SCAN_EVERY 25000
#define WARMUP (2 * SCAN_EVERY) /* the first scan is over when measuring starts */
#define SCANS ((OPS - 1) / SCAN_EVERY)
#define DROP_MS 10

#define ROUNDS 3      /* per policy, interleaved */
#define SWAP_ROUNDS 3 /* live swap runs */
#define QUARTERS 4    /* segments of a swap run; the swap starts the third */
#define OV_ROUNDS 8   /* pairs of runs side by side, hooks compiled out vs defaults attached */

static const char *const defaults[] = {"page_hash_default", "page_fetch_default", "page_unpin_default", "evict_lru"};
#define NDEFAULTS 4

/* ------------------------------------------------------------ results */

/* One measured segment of a run, as a child prints it and the parent
 * reads it back (one "name=value" per field, in this order). */
#define SEG_FIELDS(X)                                                                                            \
    X(ops) X(wall_ns) X(cpu_ns) X(lookup_hits) X(lookup_misses) X(scan_hits) X(scan_misses) X(scans)          \
        X(errors) X(p50_ns) X(p99_ns) X(swap_ns) X(direct_files)

struct seg {
    char name[8];
#define SEG_MEMBER(f) uint64_t f;
    SEG_FIELDS(SEG_MEMBER)
#undef SEG_MEMBER
};

static void seg_print(const struct seg *s)
{
    printf("seg %s", s->name);
#define SEG_PRINT(f) printf(" " #f "=%llu", (unsigned long long)s->f);
    SEG_FIELDS(SEG_PRINT)
#undef SEG_PRINT
    printf("\n");
}

/* Reads a line seg_print wrote; 0 if it is not one. */
static int seg_parse(const char *line, struct seg *s)
{
    int used;
    if (sscanf(line, "seg %7s%n", s->name, &used) != 1)
        return 0;
    const char *p = line + used;
#define SEG_PARSE(f)                                                                                             \
    {                                                                                                            \
        unsigned long long v;                                                                                    \
        if (sscanf(p, " " #f "=%llu%n", &v, &used) != 1)                                                        \
            return 0;                                                                                            \
        s->f = v;                                                                                                \
        p += used;                                                                                               \
    }
    SEG_FIELDS(SEG_PARSE)
#undef SEG_PARSE
    return 1;
}

static double hit_ratio(uint64_t hits, uint64_t misses)
{
    return hits + misses ? (double)hits / (double)(hits + misses) : 0;
}
static double seg_lookup_ratio(const struct seg *s) { return hit_ratio(s->lookup_hits, s->lookup_misses); }
static double seg_pool_ratio(const struct seg *s)
{
    return hit_ratio(s->lookup_hits + s->scan_hits, s->lookup_misses + s->scan_misses);
}
static double seg_rate(const struct seg *s) { return (double)s->ops * 1e9 / (double)s->wall_ns; }
static double seg_cpu_us(const struct seg *s) { return (double)s->cpu_ns / 1e3 / (double)s->ops; }

static _Noreturn void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "bench_pool: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

/* ------------------------------------------------------------ one run */

static const char *db_path;
static int64_t keys[OPS];
static double lat_ns[OPS];
static atomic_uint_fast64_t next_op, errors, scans_done;
static atomic_bool stop_dropper;
/* A worker wakes the main thread at lookups WARMUP + k * mark_step,
 * k < nmarks: where segments begin. */
static uint64_t mark_step;
static int nmarks;
static sem_t mark_reached;

static void wait_on(sem_t *sem)
{
    while (sem_wait(sem) != 0 && errno == EINTR)
        ;
}

/* Workers and the scanner say when their work is done, then stay until
 * released: a thread's CPU clock goes with it, and the last snapshot
 * needs them all. */
static sem_t work_done, may_exit;

static void finish_thread(void)
{
    sem_post(&work_done);
    wait_on(&may_exit);
}

static pthread_mutex_t scan_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t scan_finished = PTHREAD_COND_INITIALIZER;
static sem_t scan_due;

static uint64_t mark_at(int k) { return WARMUP + (uint64_t)k * mark_step; }

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The lookup sequence: Zipf(ZIPF_THETA) ranks mapped to shuffled rows. */
static void make_keys(void)
{
    static double cdf[HOT_ROWS];
    static int64_t row_of_rank[HOT_ROWS];
    uint64_t s = SEED;
    double sum = 0;
    for (int r = 0; r < HOT_ROWS; r++)
        cdf[r] = sum += pow(r + 1, -ZIPF_THETA);
    for (int r = 0; r < HOT_ROWS; r++) {
        cdf[r] /= sum;
        row_of_rank[r] = r + 1;
    }
    for (int i = HOT_ROWS - 1; i > 0; i--) {
        int j = (int)(splitmix(&s) % (uint64_t)(i + 1));
        int64_t t = row_of_rank[i];
        row_of_rank[i] = row_of_rank[j];
        row_of_rank[j] = t;
    }
    for (int i = 0; i < OPS; i++) {
        double u = (double)(splitmix(&s) >> 11) / 9007199254740992.0; /* [0, 1) */
        int lo = 0, hi = HOT_ROWS - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        keys[i] = row_of_rank[lo];
    }
}

static sqlite3 *open_db(uint32_t tenant)
{
    sqlite3 *db = NULL;
    storage_set_thread_tenant(tenant); /* the pager's cache is created by the open */
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        die("cannot open %s", db_path);
    storage_attach_connection(db, tenant);
    return db;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        die("prepare: %s", sqlite3_errmsg(db));
    return st;
}

static void wait_for_scans(uint64_t n)
{
    if (atomic_load(&scans_done) >= n)
        return;
    pthread_mutex_lock(&scan_mu);
    while (atomic_load(&scans_done) < n)
        pthread_cond_wait(&scan_finished, &scan_mu);
    pthread_mutex_unlock(&scan_mu);
}

static void *worker(void *arg)
{
    sqlite3_stmt *st = arg;
    int64_t sink = 0;
    pl_thread_register();
    for (;;) {
        uint64_t i = atomic_fetch_add(&next_op, 1);
        if (i >= OPS)
            break;
        if (i >= 2 * SCAN_EVERY)
            wait_for_scans(i / SCAN_EVERY - 1);
        if (i >= WARMUP && (i - WARMUP) % mark_step == 0 && (i - WARMUP) / mark_step < (uint64_t)nmarks)
            sem_post(&mark_reached);
        if (i > 0 && i % SCAN_EVERY == 0)
            sem_post(&scan_due);
        uint64_t t0 = bench_now_ns();
        sqlite3_bind_int64(st, 1, keys[i]);
        if (sqlite3_step(st) == SQLITE_ROW)
            sink += sqlite3_column_bytes(st, 0);
        else
            atomic_fetch_add(&errors, 1);
        sqlite3_reset(st);
        lat_ns[i] = (double)(bench_now_ns() - t0);
    }
    bench_clobber(&sink);
    finish_thread();
    return NULL;
}

static void *scanner(void *arg)
{
    sqlite3_stmt *st = arg;
    pl_thread_register();
    for (int k = 1; k <= SCANS; k++) {
        wait_on(&scan_due);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (rc != SQLITE_DONE)
            atomic_fetch_add(&errors, 1);
        sqlite3_reset(st);
        pthread_mutex_lock(&scan_mu);
        atomic_fetch_add(&scans_done, 1); /* a failed scan too, so that no lookup waits forever */
        pthread_cond_broadcast(&scan_finished);
        pthread_mutex_unlock(&scan_mu);
    }
    finish_thread();
    return NULL;
}

static void drop_os_cache(int fd)
{
    if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
        die("posix_fadvise(DONTNEED) on %s failed", db_path);
}

static void *dropper(void *arg)
{
    int fd = *(int *)arg;
    while (!atomic_load(&stop_dropper)) {
        nanosleep(&(struct timespec){.tv_nsec = DROP_MS * 1000000L}, NULL);
        drop_os_cache(fd);
    }
    return NULL;
}

/* Main database files the VFS reads with O_DIRECT (0: it fell back to
 * buffered reads). */
static uint64_t direct_files(void)
{
    struct vfs_stats st;
    vfs_stats(&st);
    return st.direct_fallbacks ? 0 : st.files_direct;
}

/* The CPU clocks of the run's threads (take_snap sums them). */
static clockid_t clocks[WORKERS + 3];
static int nclocks;

static void add_clock(pthread_t t)
{
    if (pthread_getcpuclockid(t, &clocks[nclocks]) != 0)
        die("%s", "no CPU clock for a thread");
    nclocks++;
}

struct snap {
    uint64_t t_ns, cpu_ns, scans;
    struct pcache_tenant_stats lookups, scan;
};

static void take_snap(struct snap *s)
{
    s->t_ns = bench_now_ns();
    s->cpu_ns = 0;
    for (int i = 0; i < nclocks; i++) {
        struct timespec ts;
        if (clock_gettime(clocks[i], &ts) == 0)
            s->cpu_ns += (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    }
    s->scans = atomic_load(&scans_done);
    pcache_tenant_stats(1, &s->lookups);
    pcache_tenant_stats(2, &s->scan);
}

static uint64_t run_direct_files; /* direct_files() of this run */

/* Prints the segment between snapshots a and b, lookups [from, to). */
static void print_seg(const char *name, const struct snap *a, const struct snap *b, uint64_t from, uint64_t to,
                      uint64_t swap_ns)
{
    size_t n = (size_t)(to - from);
    double *v = malloc(n * sizeof(*v));
    if (!v)
        die("%s", "out of memory");
    memcpy(v, &lat_ns[from], n * sizeof(*v));
    struct seg s = {
        .ops = n,
        .wall_ns = b->t_ns - a->t_ns,
        .cpu_ns = b->cpu_ns - a->cpu_ns,
        .lookup_hits = b->lookups.hits - a->lookups.hits,
        .lookup_misses = b->lookups.misses - a->lookups.misses,
        .scan_hits = b->scan.hits - a->scan.hits,
        .scan_misses = b->scan.misses - a->scan.misses,
        .scans = b->scans - a->scans,
        .errors = atomic_load(&errors), /* of the whole run */
        .p50_ns = (uint64_t)bench_percentile(v, n, 50),
        .p99_ns = (uint64_t)bench_percentile(v, n, 99),
        .swap_ns = swap_ns,
        .direct_files = run_direct_files,
    };
    snprintf(s.name, sizeof s.name, "%s", name);
    free(v);
    seg_print(&s);
}

static pl_object *open_ext(pl_runtime *rt, const char *ext_dir, const char *name)
{
    char path[1024];
    pl_object *obj = NULL;
    pl_error err = {0};
    snprintf(path, sizeof path, "%s/%s.bpf.o", ext_dir, name);
    if (pl_object_open_file(rt, path, &(struct pl_object_opts){.flags = PL_LOAD_HOOK_BY_SECTION}, &obj, &err))
        die("%s", err.msg);
    return obj;
}

static void attach(pl_object *const *objs, int n)
{
    char err[512];
    for (int i = 0; i < n; i++)
        if (pcache_attach_object(objs[i], err, sizeof err))
            die("%s", err);
}

static int run_variant(const char *spec, const char *path, const char *ext_dir)
{
    char err[512];
    pl_error perr = {0};
    pl_runtime *rt = NULL;
    db_path = path;
    struct storage_config cfg = {.buffer_pool_bytes = POOL_BYTES, .direct_io = true, .ntenants = 3};
    if (storage_install(&cfg, err, sizeof err))
        die("%s", err);
    if (pl_runtime_new(NULL, &rt, &perr))
        die("%s", perr.msg);
    if (storage_register_hooks(rt, err, sizeof err))
        die("%s", err);
    /* Objects are opened (verified, compiled) before the run; attaching
     * one during it is a few pointer swaps, except for the live swap, which
     * loads its policy from the file while the run goes on, as an operator
     * would. */
    pl_object *objs[NDEFAULTS] = {0};
    int nobjs = 0;
    const char *swap_to = strncmp(spec, "swap:", 5) == 0 ? spec + 5 : NULL;
    if (strcmp(spec, "defaults") == 0)
        for (; nobjs < NDEFAULTS; nobjs++)
            objs[nobjs] = open_ext(rt, ext_dir, defaults[nobjs]);
    else if (swap_to)
        objs[nobjs++] = open_ext(rt, ext_dir, "evict_lru");
    else if (strcmp(spec, "builtin") != 0)
        objs[nobjs++] = open_ext(rt, ext_dir, spec);
    attach(objs, nobjs);
    make_keys();

    sqlite3 *conns[WORKERS + 1];
    sqlite3_stmt *stmts[WORKERS + 1];
    for (int i = 0; i < WORKERS; i++) {
        conns[i] = open_db(1);
        stmts[i] = prepare(conns[i], "SELECT v FROM hot WHERE id = ?");
    }
    conns[WORKERS] = open_db(2);
    stmts[WORKERS] = prepare(conns[WORKERS], "SELECT sum(length(v)) FROM cold");

    mark_step = swap_to ? (OPS - WARMUP) / QUARTERS : OPS;
    nmarks = (int)((OPS - WARMUP + mark_step - 1) / mark_step);
    struct snap *snaps = calloc((size_t)nmarks + 1, sizeof(*snaps));
    if (!snaps)
        die("%s", "out of memory");
    sem_init(&mark_reached, 0, 0);
    sem_init(&scan_due, 0, 0);
    sem_init(&work_done, 0, 0);
    sem_init(&may_exit, 0, 0);

    /* Nothing of the file from its creation or an earlier run stays cached. */
    bool direct = (run_direct_files = direct_files()) > 0;
    int fd = open(db_path, O_RDONLY);
    if (fd < 0)
        die("cannot open %s", db_path);
    drop_os_cache(fd);
    pthread_t workers[WORKERS], scan_thread, drop_thread;
    clocks[nclocks++] = CLOCK_THREAD_CPUTIME_ID; /* this thread's */
    if (!direct) {
        pthread_create(&drop_thread, NULL, dropper, &fd);
        add_clock(drop_thread);
    }
    pthread_create(&scan_thread, NULL, scanner, stmts[WORKERS]);
    add_clock(scan_thread);
    for (int i = 0; i < WORKERS; i++) {
        pthread_create(&workers[i], NULL, worker, stmts[i]);
        add_clock(workers[i]);
    }

    uint64_t swap_ns = 0;
    for (int m = 0; m < nmarks; m++) {
        wait_on(&mark_reached);
        take_snap(&snaps[m]);
        if (swap_to && m == QUARTERS / 2) {
            uint64_t t0 = bench_now_ns();
            char swap_path[1024];
            snprintf(swap_path, sizeof swap_path, "%s/%s.bpf.o", ext_dir, swap_to);
            if (pcache_attach_file(rt, swap_path, err, sizeof err))
                die("%s", err);
            swap_ns = bench_now_ns() - t0;
        }
    }
    /* The run ends when the lookups and the last scan have. */
    for (int i = 0; i <= WORKERS; i++)
        wait_on(&work_done);
    take_snap(&snaps[nmarks]);
    for (int i = 0; i <= WORKERS; i++)
        sem_post(&may_exit);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(workers[i], NULL);
    pthread_join(scan_thread, NULL);
    if (!direct) {
        atomic_store(&stop_dropper, true);
        pthread_join(drop_thread, NULL);
    }
    close(fd);

    for (int m = 0; m < nmarks; m++) {
        char name[16] = "all";
        if (swap_to)
            snprintf(name, sizeof name, "q%d", m + 1);
        print_seg(name, &snaps[m], &snaps[m + 1], mark_at(m), m + 1 < nmarks ? mark_at(m + 1) : OPS, swap_ns);
    }
    fflush(stdout);

    for (int i = 0; i <= WORKERS; i++) {
        sqlite3_finalize(stmts[i]);
        sqlite3_close(conns[i]);
    }
    pcache_detach_all();
    for (int i = 0; i < nobjs; i++)
        pl_object_close(objs[i]);
    storage_unregister_hooks();
    pl_runtime_free(rt);
    if (storage_shutdown(err, sizeof err))
        die("%s", err);
    free(snaps);
    return 0;
}

/* ------------------------------------------------------------ orchestration */

static void create_db(const char *path)
{
    sqlite3 *db = NULL;
    char sql[1024], *msg = NULL;
    snprintf(sql, sizeof sql,
             "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL;"
             "CREATE TABLE hot(id INTEGER PRIMARY KEY, v BLOB);"
             "CREATE TABLE cold(id INTEGER PRIMARY KEY, v BLOB);"
             "BEGIN;"
             "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %d)"
             "  INSERT INTO hot SELECT x, zeroblob(200) FROM c;"
             "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %d)"
             "  INSERT INTO cold SELECT x, zeroblob(400) FROM c;"
             "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);",
             HOT_ROWS, COLD_ROWS);
    if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        die("cannot create the database: %s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_close(db);
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0)
        die("cannot sync %s", path);
    close(fd);
}

/* Pages of a table's B-tree (SQLite's dbstat). */
static long table_pages(const char *path, const char *table)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM dbstat WHERE name = ?", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* A run's segments, in order. */
struct run {
    int n;
    struct seg seg[QUARTERS];
};

struct paths {
    char self[1024], nohooks[1024], ext_dir[1024], dir[1024], db[1100];
};

/* Runs started, and those whose database file had O_DIRECT. */
static int runs_total, runs_direct;

/* A run in progress: a child process and its output. */
struct child {
    pid_t pid;
    FILE *out;
    const char *spec;
};

/* Starts `bin --run spec db ext_dir`. */
static struct child start_run(const struct paths *p, const char *bin, const char *spec)
{
    int fds[2];
    if (pipe(fds) != 0)
        die("%s", "pipe failed");
    pid_t pid = fork();
    if (pid < 0)
        die("%s", "fork failed");
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(bin, bin, "--run", spec, p->db, p->ext_dir, (char *)NULL);
        fprintf(stderr, "bench_pool: cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    struct child c = {.pid = pid, .out = fdopen(fds[0], "r"), .spec = spec};
    if (!c.out)
        die("%s", "fdopen failed");
    return c;
}

/* Reads a run's segments and waits for it to end. */
static void finish_run(struct child *c, struct run *r)
{
    char line[1024];
    r->n = 0;
    while (fgets(line, sizeof line, c->out))
        if (r->n < QUARTERS && seg_parse(line, &r->seg[r->n]))
            r->n++;
    fclose(c->out);
    int status;
    waitpid(c->pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || r->n == 0)
        die("run %s failed", c->spec);
    runs_total++;
    runs_direct += r->seg[0].direct_files > 0;
    fprintf(stderr, "bench_pool: %-20s %-4s lookup hit %.4f  p99 %6.1f us  %.0f lookups/s  %.2f us CPU\n", c->spec,
            r->seg[0].name, seg_lookup_ratio(&r->seg[0]), (double)r->seg[0].p99_ns / 1e3, seg_rate(&r->seg[0]),
            seg_cpu_us(&r->seg[0]));
}

static void spawn_run(const struct paths *p, const char *bin, const char *spec, struct run *r)
{
    struct child c = start_run(p, bin, spec);
    finish_run(&c, r);
}

static double median(double *v, int n) { return bench_percentile(v, (size_t)n, 50); }

#define MAX_ROUNDS 16
_Static_assert(ROUNDS <= MAX_ROUNDS && SWAP_ROUNDS <= MAX_ROUNDS && OV_ROUNDS <= MAX_ROUNDS, "rounds");

/* Medians over runs of one variant's figures (segment segi of each run). */
struct summary {
    double lookup_ratio, pool_ratio, rate, p50_us, p99_us, cpu_us, scans, swap_ms;
    uint64_t errors; /* the largest of a run */
};

static struct summary summarize(const struct run *runs, int n, int segi)
{
    double v[8][MAX_ROUNDS];
    struct summary out = {0};
    for (int i = 0; i < n; i++) {
        const struct seg *s = &runs[i].seg[segi];
        v[0][i] = seg_lookup_ratio(s);
        v[1][i] = seg_pool_ratio(s);
        v[2][i] = seg_rate(s);
        v[3][i] = (double)s->p50_ns / 1e3;
        v[4][i] = (double)s->p99_ns / 1e3;
        v[5][i] = seg_cpu_us(s);
        v[6][i] = (double)s->scans;
        v[7][i] = (double)s->swap_ns / 1e6;
        if (s->errors > out.errors)
            out.errors = s->errors;
    }
    out.lookup_ratio = median(v[0], n);
    out.pool_ratio = median(v[1], n);
    out.rate = median(v[2], n);
    out.p50_us = median(v[3], n);
    out.p99_us = median(v[4], n);
    out.cpu_us = median(v[5], n);
    out.scans = median(v[6], n);
    out.swap_ms = median(v[7], n);
    return out;
}

static const char *const policies[] = {"builtin",     "evict_lru", "evict_lfu",    "evict_clock",
                                       "evict_sieve", "evict_2q",  "evict_s3fifo", "evict_lruk"};
#define NPOL ((int)(sizeof(policies) / sizeof(policies[0])))

/* Every policy, ROUNDS rounds, the first variant rotating; returns the
 * index of the best (highest lookup hit ratio, p99 breaking a tie). */
static int run_policies(const struct paths *p, struct summary sum[NPOL])
{
    static struct run runs[NPOL][ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        for (int k = 0; k < NPOL; k++) {
            int i = (r + k) % NPOL;
            spawn_run(p, p->self, policies[i], &runs[i][r]);
        }
    for (int i = 0; i < NPOL; i++)
        sum[i] = summarize(runs[i], ROUNDS, 0);
    int best = 1;
    for (int i = 2; i < NPOL; i++)
        if (sum[i].lookup_ratio > sum[best].lookup_ratio ||
            (sum[i].lookup_ratio == sum[best].lookup_ratio && sum[i].p99_us < sum[best].p99_us))
            best = i;
    return best;
}

/* The live swap to policies[best]: medians of runs, per quarter. */
static void run_swaps(const struct paths *p, int best, struct summary q[QUARTERS])
{
    static struct run runs[SWAP_ROUNDS];
    char spec[128];
    snprintf(spec, sizeof spec, "swap:%s", policies[best]);
    for (int r = 0; r < SWAP_ROUNDS; r++) {
        spawn_run(p, p->self, spec, &runs[r]);
        if (runs[r].n != QUARTERS)
            die("run %s: wrong number of segments", spec);
    }
    for (int i = 0; i < QUARTERS; i++)
        q[i] = summarize(runs, SWAP_ROUNDS, i);
}

/* An overhead as a fraction: the median of per-pair figures with their
 * quartiles. */
struct spread {
    double median, q1, q3;
};

static struct spread spread_of(double *v, int n)
{
    struct spread s = {.median = median(v, n)};
    s.q1 = bench_percentile(v, (size_t)n, 25);
    s.q3 = bench_percentile(v, (size_t)n, 75);
    return s;
}

struct overhead {
    struct summary off, on;  /* hooks compiled out, defaults attached */
    struct spread rate, cpu; /* per-pair throughput loss and CPU increase */
};

/* Hooks compiled out vs defaults attached: OV_ROUNDS pairs of processes
 * running side by side, so that both see the same disk and the same
 * neighbours; which starts first alternates. */
static void run_overhead(const struct paths *p, struct overhead *o)
{
    static struct run off[OV_ROUNDS], on[OV_ROUNDS];
    double rate[OV_ROUNDS], cpu[OV_ROUNDS];
    for (int r = 0; r < OV_ROUNDS; r++) {
        struct child c_off, c_on;
        if (r % 2 == 0) {
            c_off = start_run(p, p->nohooks, "builtin");
            c_on = start_run(p, p->self, "defaults");
        } else {
            c_on = start_run(p, p->self, "defaults");
            c_off = start_run(p, p->nohooks, "builtin");
        }
        finish_run(&c_off, &off[r]);
        finish_run(&c_on, &on[r]);
        rate[r] = 1 - seg_rate(&on[r].seg[0]) / seg_rate(&off[r].seg[0]);
        cpu[r] = seg_cpu_us(&on[r].seg[0]) / seg_cpu_us(&off[r].seg[0]) - 1;
    }
    o->off = summarize(off, OV_ROUNDS, 0);
    o->on = summarize(on, OV_ROUNDS, 0);
    o->rate = spread_of(rate, OV_ROUNDS);
    o->cpu = spread_of(cpu, OV_ROUNDS);
}

static struct paths paths;

/* At exit, a failed run's too: the database is tens of MiB. */
static void remove_db(void)
{
    char side[1200];
    unlink(paths.db);
    snprintf(side, sizeof side, "%s-wal", paths.db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", paths.db);
    unlink(side);
    rmdir(paths.dir);
}

static void print_row(const char *name, const struct summary *s, const struct summary *lru)
{
    printf("| %s | %.4f | %.4f | %.0f | %.1f | %.1f | %.2fx | %.0f |\n", name, s->lookup_ratio, s->pool_ratio,
           s->rate, s->p50_us, s->p99_us, s->p99_us / lru->p99_us, s->scans);
}

/* A target on an overhead (lower is better), its spread in the figure. */
static void overhead_target(const char *figure, const struct spread *s, const char *detail)
{
    char m[256];
    snprintf(m, sizeof m, "%+.2f%% (quartiles %+.2f%%, %+.2f%%; %s)", s->median * 100, s->q1 * 100, s->q3 * 100,
             detail);
    bench_target(figure, m, s->median, "<= 2%", 0.02);
}

static void report(const struct paths *p, const double load[3], double total_s, const struct summary sum[NPOL],
                   int best, const struct summary q[QUARTERS], const struct overhead *o)
{
    long hot_pages = table_pages(p->db, "hot"), cold_pages = table_pages(p->db, "cold");
    printf("## 9. Buffer pool policies\n\n");
    printf("`bench/bench_pool.c`: SQLite on the engine's storage layer as pliantd installs it (`storage_install`:\n"
           "buffer pool, memory accounting, VFS shim), in process (no pliantd, no network). Pool budget\n"
           "%llu MiB; database %ld + %ld pages of 4 KiB (hot + cold table), %.1fx the pool, on disk under the\n"
           "build directory. Two worker threads (one connection each; SQLite gives each connection its own\n"
           "cache, so the hot table is held twice, about half the pool) run %d point lookups\n"
           "`SELECT v FROM hot WHERE id = ?` taken in order from one fixed sequence (Zipf %.2f over %d rows,\n"
           "fixed seed). A third thread runs the full scan `SELECT sum(length(v)) FROM cold` each time another\n"
           "%d lookups have started, and lookups wait at the next such point until it has finished, so every\n"
           "variant runs the same scans against the same stretches of lookups. The first %d lookups warm the\n"
           "pool and are not measured; the measured part ends with the last lookup and the last scan. Each run\n"
           "is a process of its own (fresh pool, fresh policy maps). Latency: clock_gettime around each\n"
           "lookup. Hit ratios: the pool's counters per tenant (lookups; lookups and scans together). CPU:\n"
           "the CPU clocks of all the run's threads (workers, scanner, cache dropper, main) per measured lookup.\n\n",
           (unsigned long long)(POOL_BYTES >> 20), hot_pages, cold_pages,
           (double)(hot_pages + cold_pages) * 4096 / (double)POOL_BYTES, OPS, ZIPF_THETA, HOT_ROWS, SCAN_EVERY,
           WARMUP);
    if (runs_direct == runs_total)
        printf("Direct I/O in every run: the database file is read with O_DIRECT through the engine's VFS\n"
               "shim, so the pool is the only cache and every miss is a read from the disk.\n\n");
    else
        printf("**Direct I/O in only %d of %d runs**: the file system refused O_DIRECT, and those runs dropped\n"
               "the file from the OS page cache (`posix_fadvise(POSIX_FADV_DONTNEED)`) every %d ms instead, so\n"
               "misses mostly cost real reads (a page read again within %d ms may still come from the OS cache,\n"
               "and scans get the kernel's read-ahead).\n\n",
               runs_direct, runs_total, DROP_MS, DROP_MS);
    printf("Command: `make -s -f bench/bench.mk BUILD=build build/bench/bench_pool build/bench/bench_pool_nohooks &&\n"
           "build/bench/bench_pool build`; one run of one variant: `build/bench/bench_pool --create /var/tmp/p.db &&\n"
           "build/bench/bench_pool --run evict_s3fifo /var/tmp/p.db build/extensions`. Load average at start:\n"
           "%.2f %.2f %.2f; the whole benchmark took %.0f s.\n\n",
           load[0], load[1], load[2], total_s);

    printf("### Per policy\n\nMedians of %d rounds (policies interleaved, the first rotating).\n\n", ROUNDS);
    printf("| policy | lookup hit ratio | pool hit ratio | lookups/s | p50 us | p99 us | p99 : LRU | scans |\n"
           "|---|---:|---:|---:|---:|---:|---:|---:|\n");
    uint64_t failed = 0;
    for (int i = 0; i < NPOL; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s%s", i == 0 ? "LRU, built-in (nothing attached)" : policies[i],
                 i == best ? " (best)" : "");
        print_row(name, &sum[i], &sum[0]);
        failed += sum[i].errors;
    }
    printf("\nFailed queries: %llu.\n\n", (unsigned long long)failed);

    printf("### Live swap\n\n`evict_lru` attached, then after half the measured lookups the main thread attaches "
           "`%s`\nwith `pcache_attach_file()` (load, verify, JIT, swap: %.2f ms) while the workers and the scanner "
           "keep\nrunning. Medians of %d runs, per quarter of the measured lookups (one scan starts with each). A\n"
           "new policy is handed every frame the pool holds (re-filed through its page_unpin program,\n"
           "oldest first: `engine/pcache_hooks.c`, adopt_frames), so it starts with the cache in reach.\n\n",
           policies[best], q[QUARTERS / 2].swap_ms, SWAP_ROUNDS);
    printf("| quarter | policy | lookup hit ratio | pool hit ratio | lookups/s | p50 us | p99 us | p99 : quarter %d | "
           "scans |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
           QUARTERS / 2);
    for (int i = 0; i < QUARTERS; i++) {
        char name[96];
        snprintf(name, sizeof name, "%d%s | %s", i + 1, i == QUARTERS / 2 ? " (swap at its start)" : "",
                 i < QUARTERS / 2 ? "evict_lru" : policies[best]);
        print_row(name, &q[i], &q[QUARTERS / 2 - 1]);
    }
    printf("\nFailed queries: %llu.\n\n", (unsigned long long)q[QUARTERS - 1].errors);

    printf("### Overhead of the hooks\n\nSame workload: `bench_pool_nohooks` (every hookpoint compiled out, "
           "`-DPLIANT_NO_HOOKS`) vs\n`bench_pool` with `page_hash_default`, `page_fetch_default`, `page_unpin_default` "
           "and `evict_lru`\nattached (the same decisions as the built-in). %d pairs of runs, the two of a pair side "
           "by side (at\nthe same time, on the same disk and CPUs, so that both meet the same I/O latencies and "
           "neighbours;\nwhich starts first alternates); figures are medians, overheads medians of per-pair "
           "ratios.\n\n",
           OV_ROUNDS);
    printf("| variant | lookup hit ratio | lookups/s | CPU us per lookup | p99 us |\n|---|---:|---:|---:|---:|\n");
    printf("| hooks compiled out | %.4f | %.0f | %.2f | %.1f |\n", o->off.lookup_ratio, o->off.rate, o->off.cpu_us,
           o->off.p99_us);
    printf("| default extensions attached | %.4f | %.0f | %.2f | %.1f |\n\n", o->on.lookup_ratio, o->on.rate,
           o->on.cpu_us, o->on.p99_us);
    printf("Throughput loss %+.2f%% (per-pair quartiles %+.2f%%, %+.2f%%), CPU time per lookup %+.2f%%\n"
           "(quartiles %+.2f%%, %+.2f%%).\n\n",
           o->rate.median * 100, o->rate.q1 * 100, o->rate.q3 * 100, o->cpu.median * 100, o->cpu.q1 * 100,
           o->cpu.q3 * 100);
    char m[256];
    snprintf(m, sizeof m, "%.4f vs %.4f (p99 %.1f vs %.1f us)", sum[best].lookup_ratio, sum[0].lookup_ratio,
             sum[best].p99_us, sum[0].p99_us);
    printf("@target|buffer pool, hot set + scans: lookup hit ratio, best policy (%s) vs LRU|%s|> LRU|%s\n",
           policies[best], m, sum[best].lookup_ratio > sum[0].lookup_ratio ? "met" : "**not met**");
    snprintf(m, sizeof m, "%llu failed; lookup hit ratio by quarter %.4f, %.4f, then %.4f, %.4f",
             (unsigned long long)q[QUARTERS - 1].errors, q[0].lookup_ratio, q[1].lookup_ratio, q[2].lookup_ratio,
             q[3].lookup_ratio);
    printf("@target|buffer pool, live swap evict_lru -> %s mid-run|%s|no failed query|%s\n", policies[best], m,
           q[QUARTERS - 1].errors == 0 ? "met" : "**not met**");
    snprintf(m, sizeof m, "%.0f vs %.0f lookups/s", o->on.rate, o->off.rate);
    overhead_target("buffer pool workload throughput loss, defaults attached vs hooks compiled out", &o->rate, m);
    snprintf(m, sizeof m, "%.2f vs %.2f us", o->on.cpu_us, o->off.cpu_us);
    overhead_target("buffer pool workload CPU per lookup, defaults attached vs hooks compiled out", &o->cpu, m);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--run") == 0)
        return run_variant(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "--create") == 0) {
        create_db(argv[2]);
        return 0;
    }
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: bench_pool [build dir]\n       bench_pool --create DB\n"
                        "       bench_pool --run SPEC DB EXT_DIR\n");
        return 2;
    }
    const char *build = argc > 1 ? argv[1] : "build";
    snprintf(paths.self, sizeof paths.self, "%s/bench/bench_pool", build);
    snprintf(paths.nohooks, sizeof paths.nohooks, "%s/bench/bench_pool_nohooks", build);
    snprintf(paths.ext_dir, sizeof paths.ext_dir, "%s/extensions", build);
    snprintf(paths.dir, sizeof paths.dir, "%s/bench/pool.XXXXXX", build);
    if (!mkdtemp(paths.dir))
        die("cannot create a directory under %s/bench", build);
    snprintf(paths.db, sizeof paths.db, "%s/bench.db", paths.dir);
    atexit(remove_db);
    double load[3] = {-1, -1, -1};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = load[1] = load[2] = -1;
        fclose(la);
    }

    uint64_t t0 = bench_now_ns();
    create_db(paths.db);
    static struct summary sum[NPOL], quarters[QUARTERS];
    static struct overhead o;
    int best = run_policies(&paths, sum);
    run_swaps(&paths, best, quarters);
    run_overhead(&paths, &o);
    report(&paths, load, (double)(bench_now_ns() - t0) / 1e9, sum, best, quarters, &o);
    return 0;
}
