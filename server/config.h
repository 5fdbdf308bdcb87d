/* pliantd configuration: defaults, the config file, command-line flags.
 *
 * File format (one setting per line, '#' starts a comment):
 *
 *   [server]
 *   listen = 127.0.0.1          # address to bind
 *   port = 5432                 # 0: pick a free port (see port_file)
 *   port_file = /run/pliant.port   # written with the bound port once listening
 *   data_dir = /var/lib/pliant  # one SQLite file per database: <data_dir>/<name>.db
 *   auth = scram-sha-256        # or trust (no password check; development only)
 *   workers = 0                 # worker threads; 0 = number of cores
 *   max_connections = 100
 *   max_message = 1048576       # largest client message accepted, bytes
 *   synchronous = full          # off | normal | full | extra (default for databases)
 *   busy_timeout_ms = 5000      # how long a statement waits for a lock before 40001
 *   shutdown_grace_ms = 5000    # SIGTERM: running statements get this long, then are canceled
 *   log_level = info            # debug | info | warn | error
 *   attach = HOOK=FILE.o[:SECTION]  # attach a policy at start-up (repeatable; see server/hooks.h)
 *   admin_socket = /run/pliant/admin.sock  # the admin API's Unix socket (default <data_dir>/admin.sock; off: none)
 *   admin_listen = 127.0.0.1:7433  # also serve the admin API on TCP (default: not)
 *   admin_allow_remote = false  # admin_listen may bind a non-loopback address only when true
 *   admin_token_file = FILE     # bearer token (default <data_dir>/admin.token, made 0600 on first start)
 *   trusted_keys_dir = DIR      # *.pub keys whose signed packages may run (default <data_dir>/trusted_keys)
 *   watch_dir = DIR             # attach signed packages written here, detach them when removed
 *   buffer_pool_mb = 64         # the buffer pool shared by every database (engine/pcache.h)
 *   mem_quota_mb = 0            # SQLite memory per database; 0 = no quota (engine/memacct.h)
 *   mem_limit_mb = 0            # SQLite memory of all databases together; 0 = no limit
 *   direct_io = off             # on: O_DIRECT for database files where supported (engine/vfs.h)
 *   wal_autocheckpoint = 1000   # WAL frames that make a checkpoint due; 0 = none (engine/checkpoint.h)
 *
 *   [database shop]             # a tenant; its file is created at start-up
 *   synchronous = full          # per-database override
 *   mem_quota_mb = 16           # per-database override
 *
 *   [user alice]
 *   password = SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>   # from pliantd --add-user
 *   databases = shop, analytics # databases alice may open; * = all
 *
 * With no [user] section at all and auth = trust, any user name may open
 * any database (a warning is logged): the zero-configuration development
 * mode. Otherwise a user must be listed and may open only its databases. */
#ifndef PL_SERVER_CONFIG_H
#define PL_SERVER_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "log.h"

enum auth_mode { AUTH_SCRAM, AUTH_TRUST };

struct cfg_user {
    char name[64];
    char *verifier; /* NULL: no password set (only usable with trust) */
    char **dbs;
    int ndbs;
    bool all_dbs;
};

struct cfg_database {
    char name[64];
    int synchronous; /* enum eng_sync */
    int mem_quota_mb; /* -1: [server] mem_quota_mb */
};

struct config {
    char listen[64];
    int port;
    char port_file[PATH_MAX];
    char data_dir[PATH_MAX];
    enum auth_mode auth;
    int workers;
    int max_connections;
    size_t max_message;
    int synchronous;
    int busy_timeout_ms;
    int shutdown_grace_ms;
    enum log_level log_level;
    struct cfg_user *users;
    int nusers;
    struct cfg_database *dbs;
    int ndbs;
    char **attach;   /* "HOOK=FILE.o[:SECTION]", in order */
    int nattach;
    char admin_socket[PATH_MAX];     /* "": <data_dir>/admin.sock; "off": none */
    char admin_listen[128];          /* "": no TCP listener */
    bool admin_allow_remote;
    char admin_token_file[PATH_MAX]; /* "": <data_dir>/admin.token */
    char trusted_keys_dir[PATH_MAX]; /* "": <data_dir>/trusted_keys */
    char watch_dir[PATH_MAX];        /* "": none */
    /* Storage (engine/storage.h). */
    int buffer_pool_mb;
    int mem_quota_mb;
    int mem_limit_mb;
    bool direct_io;
    int wal_autocheckpoint;
};

void config_defaults(struct config *c);
/* Errors name the file and line. */
int config_load(const char *path, struct config *c, char *err, size_t errlen);
/* Sets one [server] key (also used for command-line flags). */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);
/* Declares a database (from --database or a [database] section). */
int config_add_database(struct config *c, const char *name, char *err, size_t errlen);
void config_free(struct config *c);

const struct cfg_user *config_user(const struct config *c, const char *name);
const struct cfg_database *config_database(const struct config *c, const char *name);
bool config_user_may_open(const struct cfg_user *u, const char *db);

#endif
