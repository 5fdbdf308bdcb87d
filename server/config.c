#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../engine/db.h"
#include "auth_scram.h"

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1");
    c->port = 5432;
    snprintf(c->data_dir, sizeof c->data_dir, "data");
    c->auth = AUTH_SCRAM;
    c->workers = 0;
    c->max_connections = 100;
    c->max_message = 1u << 20;
    c->synchronous = ENG_SYNC_FULL;
    c->busy_timeout_ms = 5000;
    c->shutdown_grace_ms = 5000;
    c->log_level = LOG_INFO;
    c->buffer_pool_mb = 64;
    c->wal_autocheckpoint = 1000;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static int parse_int(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static int parse_bool(const char *v)
{
    if (strcasecmp(v, "on") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
        return 1;
    if (strcasecmp(v, "off") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
        return 0;
    return -1;
}

/* Memory sizes in MiB; 1 TiB is far beyond any sensible setting. */
static int parse_mb(const char *v, long lo, int *out)
{
    long x;
    if (parse_int(v, lo, 1L << 20, &x))
        return -1;
    *out = (int)x;
    return 0;
}

static int parse_sync(const char *v)
{
    static const char *const names[] = {"off", "normal", "full", "extra"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(v, names[i]) == 0)
            return i;
    return -1;
}

/* The settings that hold a path, or NULL. */
static char *path_setting(struct config *c, const char *key)
{
    if (strcmp(key, "admin_socket") == 0)
        return c->admin_socket;
    if (strcmp(key, "admin_token_file") == 0)
        return c->admin_token_file;
    if (strcmp(key, "trusted_keys_dir") == 0)
        return c->trusted_keys_dir;
    if (strcmp(key, "watch_dir") == 0)
        return c->watch_dir;
    return NULL;
}

int config_set(struct config *c, const char *key, const char *v, char *err, size_t errlen)
{
    long x;
    char *dst;
    if (strcmp(key, "listen") == 0) {
        if (strlen(v) >= sizeof c->listen || !*v)
            goto bad;
        snprintf(c->listen, sizeof c->listen, "%s", v);
    } else if (strcmp(key, "port") == 0) {
        if (parse_int(v, 0, 65535, &x))
            goto bad;
        c->port = (int)x;
    } else if (strcmp(key, "port_file") == 0) {
        if (strlen(v) >= sizeof c->port_file)
            goto bad;
        snprintf(c->port_file, sizeof c->port_file, "%s", v);
    } else if (strcmp(key, "data_dir") == 0) {
        if (strlen(v) >= sizeof c->data_dir - 80 || !*v)
            goto bad;
        snprintf(c->data_dir, sizeof c->data_dir, "%s", v);
    } else if (strcmp(key, "auth") == 0) {
        if (strcmp(v, "scram-sha-256") == 0)
            c->auth = AUTH_SCRAM;
        else if (strcmp(v, "trust") == 0)
            c->auth = AUTH_TRUST;
        else
            goto bad;
    } else if (strcmp(key, "workers") == 0) {
        if (parse_int(v, 0, 1024, &x))
            goto bad;
        c->workers = (int)x;
    } else if (strcmp(key, "max_connections") == 0) {
        if (parse_int(v, 1, 100000, &x))
            goto bad;
        c->max_connections = (int)x;
    } else if (strcmp(key, "max_message") == 0) {
        /* At least 8 KiB: libpq sends COPY data in chunks of that size. */
        if (parse_int(v, 8192, 1L << 30, &x))
            goto bad;
        c->max_message = (size_t)x;
    } else if (strcmp(key, "synchronous") == 0) {
        if ((c->synchronous = parse_sync(v)) < 0)
            goto bad;
    } else if (strcmp(key, "busy_timeout_ms") == 0) {
        if (parse_int(v, 0, 3600000, &x))
            goto bad;
        c->busy_timeout_ms = (int)x;
    } else if (strcmp(key, "shutdown_grace_ms") == 0) {
        if (parse_int(v, 0, 3600000, &x))
            goto bad;
        c->shutdown_grace_ms = (int)x;
    } else if (strcmp(key, "log_level") == 0) {
        if (log_parse_level(v, &c->log_level))
            goto bad;
    } else if (strcmp(key, "buffer_pool_mb") == 0) {
        if (parse_mb(v, 1, &c->buffer_pool_mb))
            goto bad;
    } else if (strcmp(key, "mem_quota_mb") == 0) {
        if (parse_mb(v, 0, &c->mem_quota_mb))
            goto bad;
    } else if (strcmp(key, "mem_limit_mb") == 0) {
        if (parse_mb(v, 0, &c->mem_limit_mb))
            goto bad;
    } else if (strcmp(key, "direct_io") == 0) {
        int b = parse_bool(v);
        if (b < 0)
            goto bad;
        c->direct_io = b;
    } else if (strcmp(key, "wal_autocheckpoint") == 0) {
        if (parse_int(v, 0, 1L << 30, &x))
            goto bad;
        c->wal_autocheckpoint = (int)x;
    } else if (strcmp(key, "attach") == 0) {
        /* Checked when the runtime exists (main.c); here only kept. */
        if (!strchr(v, '='))
            goto bad;
        char **n = realloc(c->attach, sizeof *n * (size_t)(c->nattach + 1));
        char *dup = strdup(v);
        if (!n || !dup) {
            free(dup);
            if (n)
                c->attach = n;
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        c->attach = n;
        c->attach[c->nattach++] = dup;
    } else if ((dst = path_setting(c, key))) {
        if (strlen(v) >= PATH_MAX - 80)
            goto bad;
        snprintf(dst, PATH_MAX, "%s", v);
    } else if (strcmp(key, "admin_listen") == 0) {
        if (strlen(v) >= sizeof c->admin_listen || (*v && !strrchr(v, ':')))
            goto bad;
        snprintf(c->admin_listen, sizeof c->admin_listen, "%s", v);
    } else if (strcmp(key, "admin_allow_remote") == 0) {
        if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0)
            c->admin_allow_remote = true;
        else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0)
            c->admin_allow_remote = false;
        else
            goto bad;
    } else {
        snprintf(err, errlen, "unknown setting \"%s\"", key);
        return -1;
    }
    return 0;
bad:
    snprintf(err, errlen, "invalid value \"%s\" for %s", v, key);
    return -1;
}

int config_add_database(struct config *c, const char *name, char *err, size_t errlen)
{
    if (!eng_dbname_valid(name)) {
        snprintf(err, errlen, "invalid database name \"%s\" (use 1-63 of A-Z a-z 0-9 _)", name);
        return -1;
    }
    if (config_database(c, name))
        return 0;
    struct cfg_database *d = realloc(c->dbs, (size_t)(c->ndbs + 1) * sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->dbs = d;
    memset(&d[c->ndbs], 0, sizeof *d);
    snprintf(d[c->ndbs].name, sizeof d[c->ndbs].name, "%s", name);
    d[c->ndbs].synchronous = -1; /* inherit [server] synchronous */
    d[c->ndbs].mem_quota_mb = -1;
    c->ndbs++;
    return 0;
}

static struct cfg_user *add_user(struct config *c, const char *name, char *err, size_t errlen)
{
    if (!*name || strlen(name) >= 64) {
        snprintf(err, errlen, "invalid user name \"%s\" (1-63 bytes)", name);
        return NULL;
    }
    if (config_user(c, name)) {
        snprintf(err, errlen, "user \"%s\" is defined twice", name);
        return NULL;
    }
    struct cfg_user *u = realloc(c->users, (size_t)(c->nusers + 1) * sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->users = u;
    u = &c->users[c->nusers++];
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", name);
    return u;
}

static int user_set(struct cfg_user *u, const char *key, char *v, char *err, size_t errlen)
{
    if (strcmp(key, "password") == 0) {
        struct scram_verifier sv;
        if (scram_parse_verifier(v, &sv) != 0) {
            snprintf(err, errlen,
                     "password must be a SCRAM verifier (SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>), "
                     "made by pliantd --add-user; plain-text passwords are not accepted");
            return -1;
        }
        free(u->verifier);
        u->verifier = strdup(v);
        return u->verifier ? 0 : -1;
    }
    if (strcmp(key, "databases") == 0) {
        for (char *tok = strtok(v, ","); tok; tok = strtok(NULL, ",")) {
            char *name = trim(tok);
            if (strcmp(name, "*") == 0) {
                u->all_dbs = true;
                continue;
            }
            if (!eng_dbname_valid(name)) {
                snprintf(err, errlen, "invalid database name \"%s\"", name);
                return -1;
            }
            char **d = realloc(u->dbs, (size_t)(u->ndbs + 1) * sizeof *d);
            if (!d)
                return -1;
            u->dbs = d;
            if (!(u->dbs[u->ndbs] = strdup(name)))
                return -1;
            u->ndbs++;
        }
        return 0;
    }
    snprintf(err, errlen, "unknown user setting \"%s\" (expected password or databases)", key);
    return -1;
}

int config_load(const char *path, struct config *c, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open config file: %s", path, strerror(errno));
        return -1;
    }
    char line[4096], msg[512];
    int lineno = 0;
    enum { SEC_NONE, SEC_SERVER, SEC_DB, SEC_USER } sec = SEC_NONE;
    struct cfg_user *user = NULL;
    char dbname[64] = "";
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        msg[0] = 0;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || end[1]) {
                snprintf(err, errlen, "%s:%d: malformed section header", path, lineno);
                rc = -1;
                break;
            }
            *end = 0;
            char *name = trim(s + 1);
            char *arg = name;
            while (*arg && !isspace((unsigned char)*arg))
                arg++;
            if (*arg)
                *arg++ = 0;
            arg = trim(arg);
            if (strcmp(name, "server") == 0 && !*arg) {
                sec = SEC_SERVER;
            } else if (strcmp(name, "database") == 0 && *arg) {
                if (config_add_database(c, arg, msg, sizeof msg))
                    goto fail_msg;
                snprintf(dbname, sizeof dbname, "%s", arg);
                sec = SEC_DB;
            } else if (strcmp(name, "user") == 0 && *arg) {
                if (!(user = add_user(c, arg, msg, sizeof msg)))
                    goto fail_msg;
                sec = SEC_USER;
            } else {
                snprintf(err, errlen, "%s:%d: unknown section [%s%s%s] (expected [server], [database NAME] "
                                      "or [user NAME])",
                         path, lineno, name, *arg ? " " : "", arg);
                rc = -1;
                break;
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
            rc = -1;
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        int r = 0;
        switch (sec) {
        case SEC_NONE:
        case SEC_SERVER:
            r = config_set(c, key, val, msg, sizeof msg);
            break;
        case SEC_DB: {
            struct cfg_database *d = (struct cfg_database *)config_database(c, dbname);
            if (strcmp(key, "synchronous") == 0 && (d->synchronous = parse_sync(val)) >= 0)
                break;
            if (strcmp(key, "mem_quota_mb") == 0 && parse_mb(val, 0, &d->mem_quota_mb) == 0)
                break;
            snprintf(msg, sizeof msg, "unknown or invalid database setting %s = %s", key, val);
            r = -1;
            break;
        }
        case SEC_USER:
            r = user_set(user, key, val, msg, sizeof msg);
            break;
        }
        if (r)
            goto fail_msg;
        continue;
    fail_msg:
        snprintf(err, errlen, "%s:%d: %s", path, lineno, msg[0] ? msg : "out of memory");
        rc = -1;
        break;
    }
    fclose(f);
    return rc;
}

void config_free(struct config *c)
{
    for (int i = 0; i < c->nusers; i++) {
        free(c->users[i].verifier);
        for (int j = 0; j < c->users[i].ndbs; j++)
            free(c->users[i].dbs[j]);
        free(c->users[i].dbs);
    }
    free(c->users);
    free(c->dbs);
    for (int i = 0; i < c->nattach; i++)
        free(c->attach[i]);
    free(c->attach);
    c->users = NULL;
    c->dbs = NULL;
    c->attach = NULL;
    c->nusers = c->ndbs = c->nattach = 0;
}

const struct cfg_user *config_user(const struct config *c, const char *name)
{
    for (int i = 0; i < c->nusers; i++)
        if (strcmp(c->users[i].name, name) == 0)
            return &c->users[i];
    return NULL;
}

const struct cfg_database *config_database(const struct config *c, const char *name)
{
    for (int i = 0; i < c->ndbs; i++)
        if (strcmp(c->dbs[i].name, name) == 0)
            return &c->dbs[i];
    return NULL;
}

bool config_user_may_open(const struct cfg_user *u, const char *db)
{
    if (u->all_dbs)
        return true;
    for (int i = 0; i < u->ndbs; i++)
        if (strcmp(u->dbs[i], db) == 0)
            return true;
    return false;
}
