#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../manager/catalog.h"
#include "../manager/fsutil.h"
#include "../manager/package.h"
#include "hooks.h"
#include "log.h"

#define HISTORY_KEEP 64 /* entries per hook kept in state.json */

/* One stored package version (its file is packages/<hook>/<version>.pkg). */
struct stored {
    char hook[64], version[33], sha256[65], key_id[KEY_ID_HEX];
    char description[256];
    size_t size;
    int64_t stored_ms, loaded_ms; /* wall clock; loaded: last attached, 0 never (this run) */
};

struct store {
    pthread_mutex_t mu;
    pl_runtime *rt;
    char dir[3072];           /* <data_dir>/extensions (short enough for every path below it) */
    char keys_dir[PATH_MAX];
    json_t *state;            /* {"format", "active", "history"} as persisted */
    struct stored *pkgs;
    size_t npkgs;
    /* Hooks whose program came from the configuration (--attach). */
    char config_hooks[16][64];
    int nconfig;
    /* Hooks running a companion program of another hook's package (see
     * catalog_load): hook -> the package's hook. */
    json_t *companion_of;
    int audit_fd;
    uint64_t accepted, rejected;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void iso_time(int64_t ms, char out[48])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void pkg_path(const struct store *st, const char *hook, const char *version, char *out, size_t len)
{
    snprintf(out, len, "%s/packages/%s/%s.pkg", st->dir, hook, version);
}

static struct stored *find_stored(struct store *st, const char *hook, const char *version)
{
    for (size_t i = 0; i < st->npkgs; i++)
        if (strcmp(st->pkgs[i].hook, hook) == 0 && strcmp(st->pkgs[i].version, version) == 0)
            return &st->pkgs[i];
    return NULL;
}

static const char *active_version(struct store *st, const char *hook)
{
    return json_string_value(json_object_get(json_object_get(st->state, "active"), hook));
}

static bool from_config(const struct store *st, const char *hook)
{
    for (int i = 0; i < st->nconfig; i++)
        if (strcmp(st->config_hooks[i], hook) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------ audit log */

static void audit_write(struct store *st, json_t *entry)
{
    char ts[48];
    iso_time(wall_ms(), ts);
    json_object_set_new(entry, "time", json_string(ts));
    char *line = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(entry);
    if (!line || st->audit_fd < 0) {
        free(line);
        return;
    }
    size_t n = strlen(line);
    line[n] = '\n'; /* json_dumps's terminator becomes the line's end */
    /* One write per line (O_APPEND): concurrent lines never interleave. */
    if (write(st->audit_fd, line, n + 1) != (ssize_t)(n + 1) || fdatasync(st->audit_fd) != 0)
        log_event(LOG_ERROR, "audit_write_failed", "msg=%s", log_q(strerror(errno)));
    free(line);
}

static void audit_result(struct store *st, const char *action, const char *who, const struct store_result *r)
{
    json_t *e = json_pack("{s:s, s:s, s:s, s:i}", "action", action, "who", who, "result",
                          r->status == 200 ? (r->unchanged ? "unchanged" : "ok") : "rejected", "status", r->status);
    if (r->hook[0])
        json_object_set_new(e, "hook", json_string(r->hook));
    if (r->version[0])
        json_object_set_new(e, "version", json_string(r->version));
    if (r->sha256[0])
        json_object_set_new(e, "sha256", json_string(r->sha256));
    if (r->key_id[0])
        json_object_set_new(e, "key_id", json_string(r->key_id));
    if (r->previous[0])
        json_object_set_new(e, "previous", json_string(r->previous));
    if (r->status == 200)
        json_object_set_new(e, "reload_ns", json_integer((json_int_t)r->total_ns));
    else
        json_object_set_new(e, "error", json_string(r->error));
    audit_write(st, e);
    if (r->status == 200)
        st->accepted++;
    else
        st->rejected++;
    log_event(r->status == 200 ? LOG_INFO : LOG_WARN, r->status == 200 ? "extension_change" : "extension_refused",
              "action=%s who=%s hook=%s version=%s status=%d total_us=%llu msg=%s", action, log_q(who),
              r->hook[0] ? r->hook : "-", r->version[0] ? r->version : "-", r->status,
              (unsigned long long)(r->total_ns / 1000), log_q(r->status == 200 ? "" : r->error));
}

void store_audit_refusal(struct store *st, const char *action, const char *who, int status, const char *error)
{
    struct store_result r = {.status = status};
    snprintf(r.error, sizeof r.error, "%s", error);
    pthread_mutex_lock(&st->mu);
    audit_result(st, action, who, &r);
    pthread_mutex_unlock(&st->mu);
}

static int fail(struct store_result *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct store_result *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    r->status = status;
    return -1;
}

/* ---------------------------------------------------------------- state */

static int write_state(struct store *st, json_t *state, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/state.json", st->dir);
    char *text = json_dumps(state, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = fs_write_atomic(path, text, strlen(text), 0600, err, errlen);
    free(text);
    return rc;
}

/* A copy of the state with hook's active version set (NULL: removed) and
 * a history entry appended (the oldest dropped past HISTORY_KEEP). */
static json_t *next_state(struct store *st, const char *hook, const char *version, json_t *entry)
{
    json_t *s = json_deep_copy(st->state);
    json_t *active = json_object_get(s, "active"), *hist = json_object_get(s, "history");
    if (version)
        json_object_set_new(active, hook, json_string(version));
    else
        json_object_del(active, hook);
    json_t *h = json_object_get(hist, hook);
    if (!h) {
        h = json_array();
        json_object_set_new(hist, hook, h);
    }
    char ts[48];
    iso_time(wall_ms(), ts);
    json_object_set_new(entry, "time", json_string(ts));
    json_array_append_new(h, entry);
    while (json_array_size(h) > HISTORY_KEEP)
        json_array_remove(h, 0);
    return s;
}

static void load_state(struct store *st)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/state.json", st->dir);
    json_error_t je;
    json_t *s = NULL;
    if (access(path, F_OK) == 0) {
        s = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!s || !json_is_object(json_object_get(s, "active")) || !json_is_object(json_object_get(s, "history"))) {
            /* Kept aside for a person to look at; the server starts with
             * no active set rather than not at all. */
            char aside[PATH_MAX + 16];
            snprintf(aside, sizeof aside, "%s.corrupt", path);
            rename(path, aside);
            log_event(LOG_ERROR, "store_state_corrupt", "file=%s moved_to=%s msg=%s", log_q(path), log_q(aside),
                      log_q(s ? "missing active or history" : je.text));
            json_decref(s);
            s = NULL;
        }
    }
    if (!s)
        s = json_pack("{s:i, s:{}, s:{}}", "format", 1, "active", "history");
    st->state = s;
}

/* Indexes packages/<hook>/<version>.pkg; files that do not parse, or whose
 * manifest does not match their place, are skipped with an error. */
static void scan_packages(struct store *st)
{
    char root[sizeof st->dir + 16];
    snprintf(root, sizeof root, "%s/packages", st->dir);
    DIR *d = opendir(root);
    if (!d)
        return;
    struct dirent *he;
    while ((he = readdir(d))) {
        if (!pkg_hook_name_valid(he->d_name))
            continue;
        char hdir[sizeof root + 80];
        snprintf(hdir, sizeof hdir, "%s/%.64s", root, he->d_name);
        DIR *hd = opendir(hdir);
        if (!hd)
            continue;
        struct dirent *ve;
        while ((ve = readdir(hd))) {
            size_t n = strlen(ve->d_name);
            if (n < 5 || strcmp(ve->d_name + n - 4, ".pkg") != 0)
                continue;
            char path[PATH_MAX], err[512];
            snprintf(path, sizeof path, "%s/%s", hdir, ve->d_name);
            uint8_t *data;
            size_t len;
            struct pkg p;
            if (fs_read_file(path, PKG_MAX_SIZE, &data, &len, err, sizeof err)) {
                log_event(LOG_ERROR, "store_package_unreadable", "file=%s msg=%s", log_q(path), log_q(err));
                continue;
            }
            int bad = pkg_parse(data, len, &p, err, sizeof err);
            if (!bad && (strcmp(p.m.hook, he->d_name) != 0 || strncmp(p.m.version, ve->d_name, n - 4) != 0 ||
                         strlen(p.m.version) != n - 4)) {
                snprintf(err, sizeof err, "manifest says hook %s version %s", p.m.hook, p.m.version);
                bad = 1;
            }
            if (bad) {
                log_event(LOG_ERROR, "store_package_corrupt", "file=%s msg=%s", log_q(path), log_q(err));
                free(data);
                continue;
            }
            struct stat sb;
            struct stored *g = realloc(st->pkgs, sizeof *g * (st->npkgs + 1));
            if (g) {
                st->pkgs = g;
                struct stored *s = &st->pkgs[st->npkgs++];
                memset(s, 0, sizeof *s);
                snprintf(s->hook, sizeof s->hook, "%s", p.m.hook);
                snprintf(s->version, sizeof s->version, "%s", p.m.version);
                snprintf(s->sha256, sizeof s->sha256, "%s", p.m.sha256);
                snprintf(s->key_id, sizeof s->key_id, "%s", p.is_signed ? p.key_id_hex : "");
                snprintf(s->description, sizeof s->description, "%s", p.m.description);
                s->size = len;
                s->stored_ms = stat(path, &sb) == 0 ? (int64_t)sb.st_mtime * 1000 : 0;
            }
            free(data);
        }
        closedir(hd);
    }
    closedir(d);
}

int store_open(const struct store_opts *o, struct store **out, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&st->mu, NULL);
    st->rt = o->rt;
    st->audit_fd = -1;
    if (!(st->companion_of = json_object())) {
        free(st);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (strlen(o->data_dir) > sizeof st->dir - 16) {
        snprintf(err, errlen, "data directory path is longer than %zu bytes", sizeof st->dir - 16);
        goto fail;
    }
    snprintf(st->dir, sizeof st->dir, "%s/extensions", o->data_dir);
    if (o->trusted_keys_dir && *o->trusted_keys_dir)
        snprintf(st->keys_dir, sizeof st->keys_dir, "%s", o->trusted_keys_dir);
    else
        snprintf(st->keys_dir, sizeof st->keys_dir, "%s/trusted_keys", o->data_dir);
    char pkgdir[PATH_MAX + 16], audit[PATH_MAX + 16];
    snprintf(pkgdir, sizeof pkgdir, "%s/packages", st->dir);
    snprintf(audit, sizeof audit, "%s/audit.log", st->dir);
    if (keys_init()) {
        snprintf(err, errlen, "libsodium failed to initialise");
        goto fail;
    }
    if (fs_mkdirs(pkgdir, 0700, err, errlen))
        goto fail;
    st->audit_fd = open(audit, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (st->audit_fd < 0) {
        snprintf(err, errlen, "audit log %s: %s", audit, strerror(errno));
        goto fail;
    }
    load_state(st);
    scan_packages(st);
    *out = st;
    return 0;
fail:
    store_close(st);
    return -1;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    if (st->audit_fd >= 0)
        close(st->audit_fd);
    json_decref(st->state);
    json_decref(st->companion_of);
    free(st->pkgs);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* ------------------------------------------------------------- changes */

static void warn_key(const char *msg) { log_event(LOG_WARN, "trusted_key_skipped", "msg=%s", log_q(msg)); }

/* Parses data and checks its signature against the trusted keys now in
 * the keys directory. 403 for anything about signatures. */
static int check_package(struct store *st, const uint8_t *data, size_t len, struct pkg *p, struct store_result *r)
{
    char err[600];
    if (pkg_parse(data, len, p, err, sizeof err))
        return fail(r, 400, "%s", err);
    snprintf(r->hook, sizeof r->hook, "%s", p->m.hook);
    snprintf(r->version, sizeof r->version, "%s", p->m.version);
    snprintf(r->sha256, sizeof r->sha256, "%s", p->m.sha256);
    if (p->is_signed)
        snprintf(r->key_id, sizeof r->key_id, "%s", p->key_id_hex);
    struct keyring kr;
    if (keyring_load(st->keys_dir, &kr, warn_key, err, sizeof err))
        return fail(r, 403, "%s; put the Manager's public key (pliantctl keygen) there", err);
    int rc = pkg_check_signature(data, p, &kr, NULL, err, sizeof err);
    if (rc && kr.n == 0)
        snprintf(err, sizeof err, "no trusted keys in %.300s: put the Manager's public key (pliantctl keygen) there",
                 st->keys_dir);
    keyring_free(&kr);
    return rc ? fail(r, 403, "%s", err) : 0;
}

/* Loads p's object for its hook (verifier, JIT), inheriting maps from the
 * program attached now: the program for the hook and any companions. */
static int load_program(struct store *st, const struct pkg *p, pl_hook *h, struct catalog_load *l,
                        struct store_result *r)
{
    uint64_t t0 = mono_ns();
    pl_prog *cur = pl_hook_current(h);
    char err[600];
    int rc = catalog_load(st->rt, h,
                          &(struct catalog_load_opts){.data = p->object, .len = p->object_len,
                                                      .section = p->m.section, .inherit_maps_from = cur},
                          l, err, sizeof err);
    if (cur)
        pl_prog_put(cur);
    if (rc)
        return fail(r, 422, "%s version %s does not load for hook %s: %s", p->m.hook, p->m.version, p->m.hook, err);
    struct pl_verifier_stats vs;
    pl_prog_verifier_stats(l->main, &vs);
    r->verify_cached = vs.cached;
    r->load_ns = mono_ns() - t0;
    return 0;
}

/* After hook's package changed (l: what it runs now, NULL: detached):
 * detaches the companions its previous version had and this one has not,
 * and records the new ones. */
static void settle_companions(struct store *st, const char *hook, const struct catalog_load *l)
{
    const char *k;
    json_t *v, *tmp;
    json_object_foreach_safe(st->companion_of, tmp, k, v)
    {
        if (strcmp(json_string_value(v), hook) != 0)
            continue;
        bool kept = false;
        for (uint32_t i = 0; l && i < l->ncompanions; i++)
            kept |= strcmp(pl_hook_info(l->companion_hook[i])->name, k) == 0;
        if (!kept) {
            pl_hook *h = pl_hook_find(st->rt, k);
            if (h)
                pl_hook_detach(h, NULL);
            hooks_changed(k);
            json_object_del(st->companion_of, k);
        }
    }
    for (uint32_t i = 0; l && i < l->ncompanions; i++) {
        const char *name = pl_hook_info(l->companion_hook[i])->name;
        json_object_set_new(st->companion_of, name, json_string(hook));
        hooks_changed(name);
    }
}

/* The shared tail of push, rollback: persist (the package file when new,
 * then the state), attach, remember. data/p: a checked package. */
static int activate(struct store *st, const uint8_t *data, size_t len, const struct pkg *p, const char *action,
                    const char *who, struct store_result *r)
{
    pl_hook *h = pl_hook_find(st->rt, p->m.hook);
    if (!h)
        return fail(r, 404, "this server has no hook \"%s\"", p->m.hook);
    const char *cur = active_version(st, p->m.hook);
    snprintf(r->previous, sizeof r->previous, "%s", cur ? cur : "");
    if (cur && strcmp(cur, p->m.version) == 0 && pl_hook_is_attached(h)) {
        r->unchanged = true;
        r->status = 200;
        return 0;
    }
    const char *owner_of_hook = json_string_value(json_object_get(st->companion_of, p->m.hook));
    if (owner_of_hook)
        return fail(r, 409, "hook %s runs a program of hook %s's package (attached with it); detach %s first",
                    p->m.hook, owner_of_hook, owner_of_hook);
    struct catalog_load l;
    if (load_program(st, p, h, &l, r))
        return -1;
    pl_object *obj = l.obj;
    for (uint32_t i = 0; i < l.ncompanions; i++) {
        const char *c = pl_hook_info(l.companion_hook[i])->name;
        const char *owner = json_string_value(json_object_get(st->companion_of, c));
        if (active_version(st, c) || (owner && strcmp(owner, p->m.hook) != 0) || from_config(st, c)) {
            pl_object_close(obj);
            return fail(r, 409, "the package also carries a program for hook %s, which runs %s; detach it first", c,
                        owner ? "another package's companion" : "a program of its own");
        }
    }

    uint64_t t1 = mono_ns();
    char path[PATH_MAX], err[600];
    pkg_path(st, p->m.hook, p->m.version, path, sizeof path);
    struct stored *known = find_stored(st, p->m.hook, p->m.version);
    bool wrote_pkg = false;
    if (!known) {
        char hdir[PATH_MAX];
        snprintf(hdir, sizeof hdir, "%s/packages/%s", st->dir, p->m.hook);
        if (fs_mkdirs(hdir, 0700, err, sizeof err) || fs_write_atomic(path, data, len, 0600, err, sizeof err)) {
            pl_object_close(obj);
            return fail(r, 500, "cannot store the package: %s", err);
        }
        wrote_pkg = true;
    }
    json_t *entry = json_pack("{s:s, s:s, s:s, s:s, s:s}", "action", action, "version", p->m.version, "sha256",
                              p->m.sha256, "key_id", p->key_id_hex, "who", who);
    json_t *next = next_state(st, p->m.hook, p->m.version, entry);
    if (write_state(st, next, err, sizeof err)) {
        json_decref(next);
        if (wrote_pkg)
            unlink(path);
        pl_object_close(obj);
        return fail(r, 500, "cannot persist the active set: %s", err);
    }
    r->persist_ns = mono_ns() - t1;

    uint64_t t2 = mono_ns();
    int rc = catalog_attach(h, &l, err, sizeof err);
    r->attach_ns = mono_ns() - t2;
    if (rc == 0)
        settle_companions(st, p->m.hook, &l);
    pl_object_close(obj); /* the hooks hold the programs, the programs their maps */
    if (rc) {
        /* Put the persisted state back as it was: nothing changed. */
        if (write_state(st, st->state, err, sizeof err))
            log_event(LOG_ERROR, "store_state_revert_failed", "msg=%s", log_q(err));
        json_decref(next);
        if (wrote_pkg)
            unlink(path);
        return fail(r, 500, "%s", err);
    }
    json_decref(st->state);
    st->state = next;
    if (!known) {
        struct stored *g = realloc(st->pkgs, sizeof *g * (st->npkgs + 1));
        if (g) {
            st->pkgs = g;
            known = &st->pkgs[st->npkgs++];
            memset(known, 0, sizeof *known);
            snprintf(known->hook, sizeof known->hook, "%s", p->m.hook);
            snprintf(known->version, sizeof known->version, "%s", p->m.version);
            snprintf(known->sha256, sizeof known->sha256, "%s", p->m.sha256);
            snprintf(known->key_id, sizeof known->key_id, "%s", p->key_id_hex);
            snprintf(known->description, sizeof known->description, "%s", p->m.description);
            known->size = len;
            known->stored_ms = wall_ms();
        }
    }
    if (known)
        known->loaded_ms = wall_ms();
    for (int i = 0; i < st->nconfig; i++)
        if (strcmp(st->config_hooks[i], p->m.hook) == 0)
            st->config_hooks[i][0] = 0; /* the store's program replaced the configured one */
    hooks_changed(p->m.hook);
    r->status = 200;
    return 0;
}

int store_push(struct store *st, const uint8_t *data, size_t len, const char *who, struct store_result *r)
{
    uint64_t t0 = mono_ns();
    memset(r, 0, sizeof *r);
    struct pkg p;
    pthread_mutex_lock(&st->mu);
    if (check_package(st, data, len, &p, r) == 0) {
        struct stored *known = find_stored(st, p.m.hook, p.m.version);
        if (known && strcmp(known->sha256, p.m.sha256) != 0)
            fail(r, 409, "version %s of hook %s is already stored with another object (sha256 %.16s...); give the "
                         "new one a new version", p.m.version, p.m.hook, known->sha256);
        else
            activate(st, data, len, &p, "push", who, r);
    }
    r->total_ns = mono_ns() - t0;
    audit_result(st, "push", who, r);
    pthread_mutex_unlock(&st->mu);
    return r->status == 200 ? 0 : -1;
}

static int rollback_locked(struct store *st, const char *hook, const char *version, const char *who,
                           struct store_result *r)
{
    const char *cur = active_version(st, hook);
    char target[33] = "";
    if (version) {
        snprintf(target, sizeof target, "%s", version);
    } else {
        /* The newest history entry that made another version active. */
        json_t *h = json_object_get(json_object_get(st->state, "history"), hook);
        for (size_t i = json_array_size(h); i-- > 0;) {
            json_t *e = json_array_get(h, i);
            const char *a = json_string_value(json_object_get(e, "action"));
            const char *v = json_string_value(json_object_get(e, "version"));
            if (a && v && strcmp(a, "detach") != 0 && (!cur || strcmp(v, cur) != 0)) {
                snprintf(target, sizeof target, "%s", v);
                break;
            }
        }
        if (!target[0])
            return fail(r, 404, "hook %s has no earlier version to roll back to", hook);
    }
    snprintf(r->version, sizeof r->version, "%s", target);
    if (!pkg_version_valid(target) || !find_stored(st, hook, target))
        return fail(r, 404, "hook %s has no stored version \"%s\" (pliantctl ls lists them)", hook, target);
    char path[PATH_MAX], err[600];
    pkg_path(st, hook, target, path, sizeof path);
    uint8_t *data;
    size_t len;
    if (fs_read_file(path, PKG_MAX_SIZE, &data, &len, err, sizeof err))
        return fail(r, 500, "stored package unreadable: %s", err);
    struct pkg p;
    int rc = check_package(st, data, len, &p, r);
    if (rc == 0)
        rc = activate(st, data, len, &p, "rollback", who, r);
    free(data);
    return rc;
}

int store_rollback(struct store *st, const char *hook, const char *version, const char *who,
                   struct store_result *r)
{
    uint64_t t0 = mono_ns();
    memset(r, 0, sizeof *r);
    snprintf(r->hook, sizeof r->hook, "%s", hook);
    pthread_mutex_lock(&st->mu);
    if (!pl_hook_find(st->rt, hook))
        fail(r, 404, "this server has no hook \"%.64s\"", hook);
    else
        rollback_locked(st, hook, version, who, r);
    r->total_ns = mono_ns() - t0;
    audit_result(st, "rollback", who, r);
    pthread_mutex_unlock(&st->mu);
    return r->status == 200 ? 0 : -1;
}

int store_detach(struct store *st, const char *hook, const char *who, struct store_result *r)
{
    uint64_t t0 = mono_ns();
    memset(r, 0, sizeof *r);
    snprintf(r->hook, sizeof r->hook, "%s", hook);
    pthread_mutex_lock(&st->mu);
    pl_hook *h = pl_hook_find(st->rt, hook);
    const char *cur = h ? active_version(st, hook) : NULL;
    if (!h) {
        fail(r, 404, "this server has no hook \"%.64s\"", hook);
    } else if (!cur && !pl_hook_is_attached(h)) {
        fail(r, 404, "hook %s has no program attached", hook);
    } else {
        snprintf(r->previous, sizeof r->previous, "%s", cur ? cur : "");
        snprintf(r->version, sizeof r->version, "%s", cur ? cur : ""); /* what was detached */
        char err[600];
        uint64_t t1 = mono_ns();
        json_t *entry = json_pack("{s:s, s:s, s:s}", "action", "detach", "version", cur ? cur : "", "who", who);
        json_t *next = next_state(st, hook, NULL, entry);
        if (write_state(st, next, err, sizeof err)) {
            json_decref(next);
            fail(r, 500, "cannot persist the active set: %s", err);
        } else {
            r->persist_ns = mono_ns() - t1;
            uint64_t t2 = mono_ns();
            pl_hook_detach(h, NULL); /* ENOENT: the circuit breaker got there first */
            settle_companions(st, hook, NULL);
            r->attach_ns = mono_ns() - t2;
            json_decref(st->state);
            st->state = next;
            hooks_changed(hook);
            r->status = 200;
        }
    }
    r->total_ns = mono_ns() - t0;
    audit_result(st, "detach", who, r);
    pthread_mutex_unlock(&st->mu);
    return r->status == 200 ? 0 : -1;
}

void store_restore(struct store *st)
{
    pthread_mutex_lock(&st->mu);
    json_t *active = json_deep_copy(json_object_get(st->state, "active"));
    const char *hook;
    json_t *v;
    json_object_foreach(active, hook, v)
    {
        pl_hook *h = pl_hook_find(st->rt, hook);
        if (h && pl_hook_is_attached(h)) {
            if (st->nconfig < (int)(sizeof st->config_hooks / sizeof st->config_hooks[0]))
                snprintf(st->config_hooks[st->nconfig++], sizeof st->config_hooks[0], "%s", hook);
            log_event(LOG_WARN, "store_restore_skipped", "hook=%s version=%s msg=%s", hook,
                      log_q(json_string_value(v)), log_q("the configuration attaches a program to this hook"));
            continue;
        }
        struct store_result r = {0};
        const char *version = json_string_value(v);
        uint64_t t0 = mono_ns();
        int rc;
        if (!h)
            rc = fail(&r, 404, "this server has no hook \"%s\"", hook);
        else if (!version || !pkg_version_valid(version) || !find_stored(st, hook, version))
            rc = fail(&r, 404, "version %s is not in the store (missing or corrupt file)", version ? version : "?");
        else {
            char path[PATH_MAX], err[600];
            pkg_path(st, hook, version, path, sizeof path);
            uint8_t *data;
            size_t len;
            struct pkg p;
            rc = fs_read_file(path, PKG_MAX_SIZE, &data, &len, err, sizeof err);
            if (rc) {
                fail(&r, 500, "%s", err);
            } else {
                struct catalog_load l;
                rc = check_package(st, data, len, &p, &r);
                if (rc == 0)
                    rc = load_program(st, &p, h, &l, &r);
                if (rc == 0) {
                    rc = catalog_attach(h, &l, err, sizeof err) ? fail(&r, 500, "%s", err) : 0;
                    if (rc == 0)
                        settle_companions(st, hook, &l);
                    pl_object_close(l.obj);
                }
                free(data);
            }
        }
        if (rc) {
            /* The hook keeps the built-in behaviour; state.json keeps the
             * entry (a key restored later brings it back on the next
             * start), the in-memory active set does not claim it. */
            log_event(LOG_ERROR, "store_restore_failed", "hook=%s version=%s msg=%s", hook,
                      log_q(version ? version : "?"), log_q(r.error));
            json_object_del(json_object_get(st->state, "active"), hook);
            continue;
        }
        struct stored *s = find_stored(st, hook, version);
        s->loaded_ms = wall_ms();
        hooks_changed(hook);
        log_event(LOG_INFO, "store_restored", "hook=%s version=%s sha256=%s load_us=%llu", hook, log_q(version),
                  s->sha256, (unsigned long long)((mono_ns() - t0) / 1000));
    }
    json_decref(active);
    /* Hooks the configuration attached that the store never named. */
    for (size_t i = 0; i < hooks_all_count; i++) {
        const char *name = hooks_all_names[i];
        pl_hook *h = pl_hook_find(st->rt, name);
        if (h && pl_hook_is_attached(h) && !active_version(st, name) && !from_config(st, name) &&
            !json_object_get(st->companion_of, name) &&
            st->nconfig < (int)(sizeof st->config_hooks / sizeof st->config_hooks[0]))
            snprintf(st->config_hooks[st->nconfig++], sizeof st->config_hooks[0], "%s", name);
    }
    pthread_mutex_unlock(&st->mu);
}

/* --------------------------------------------------------------- views */

void store_active(struct store *st, const char *hook, struct store_active *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&st->mu);
    const char *v = active_version(st, hook);
    struct stored *s = v ? find_stored(st, hook, v) : NULL;
    if (s) {
        snprintf(out->version, sizeof out->version, "%s", s->version);
        snprintf(out->sha256, sizeof out->sha256, "%s", s->sha256);
        snprintf(out->key_id, sizeof out->key_id, "%s", s->key_id);
        snprintf(out->origin, sizeof out->origin, "store");
        out->since_ms = s->loaded_ms;
    } else if (from_config(st, hook)) {
        snprintf(out->origin, sizeof out->origin, "config");
    } else if ((v = json_string_value(json_object_get(st->companion_of, hook)))) {
        snprintf(out->origin, sizeof out->origin, "with %.40s", v);
    }
    pthread_mutex_unlock(&st->mu);
}

json_t *store_extensions_json(struct store *st)
{
    json_t *a = json_array();
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->npkgs; i++) {
        const struct stored *s = &st->pkgs[i];
        const char *v = active_version(st, s->hook);
        char stored[48], loaded[48];
        iso_time(s->stored_ms, stored);
        iso_time(s->loaded_ms, loaded);
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:b}", "hook", s->hook, "version", s->version,
                         "sha256", s->sha256, "key_id", s->key_id, "description", s->description, "size",
                         (json_int_t)s->size, "stored_at", stored, "loaded_at",
                         s->loaded_ms ? json_string(loaded) : json_null(), "active", v && !strcmp(v, s->version)));
    }
    pthread_mutex_unlock(&st->mu);
    return a;
}

json_t *store_history_json(struct store *st, const char *hook)
{
    pthread_mutex_lock(&st->mu);
    json_t *h = json_object_get(json_object_get(st->state, "history"), hook);
    json_t *copy = h ? json_deep_copy(h) : json_array();
    pthread_mutex_unlock(&st->mu);
    return copy;
}

json_t *store_audit_json(struct store *st, size_t limit)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/audit.log", st->dir);
    json_t *a = json_array();
    FILE *f = fopen(path, "r");
    if (!f)
        return a;
    /* Keeps the last `limit` lines in a ring while reading. */
    char **ring = calloc(limit ? limit : 1, sizeof *ring);
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (ring && limit && getline(&line, &cap, f) > 0) {
        free(ring[n % limit]);
        ring[n % limit] = strdup(line);
        n++;
    }
    free(line);
    fclose(f);
    size_t first = n > limit ? n - limit : 0;
    for (size_t i = first; ring && i < n; i++) {
        json_t *e = ring[i % limit] ? json_loads(ring[i % limit], 0, NULL) : NULL;
        if (e)
            json_array_append_new(a, e);
    }
    for (size_t i = 0; ring && i < limit; i++)
        free(ring[i]);
    free(ring);
    return a;
}

void store_counts(struct store *st, uint64_t *accepted, uint64_t *rejected)
{
    pthread_mutex_lock(&st->mu);
    *accepted = st->accepted;
    *rejected = st->rejected;
    pthread_mutex_unlock(&st->mu);
}
