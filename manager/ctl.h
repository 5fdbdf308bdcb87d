/* pliantctl internals shared by its command files. */
#ifndef PL_MANAGER_CTL_H
#define PL_MANAGER_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes (also in pliantctl --help). */
enum {
    CTL_OK = 0,
    CTL_REFUSED = 1,   /* understood and refused: verifier, signature, not found, conflict */
    CTL_USAGE = 2,     /* bad command line */
    CTL_UNREACHABLE = 3, /* no server, transport failure, server-side error (5xx) */
    CTL_AUTH = 4,      /* the admin token was refused */
};

/* The shipped catalog (sdk/hook-catalog.json), NUL-terminated. */
extern const char ctl_embedded_catalog[];

/* Parsed command line: positional arguments and --options. */
struct ctl_args {
    const char *pos[8];
    int npos;
    const char *hook, *section, *version, *description, *key, *out, *catalog, *comment;
    const char *server, *token_file, *data_dir, *limit;
    bool json, verbose;
};

/* Offline commands (ctl_offline.c); each returns an exit code. */
int ctl_keygen(const struct ctl_args *a);
int ctl_verify(const struct ctl_args *a);
int ctl_pack(const struct ctl_args *a);
int ctl_sign(const struct ctl_args *a);
int ctl_inspect(const struct ctl_args *a);

/* Loads the catalog to verify against: --catalog FILE, else the server's
 * (GET /v1/catalog) when --server or --data-dir is given, else the
 * shipped one. New reference, or NULL after printing why. */
json_t *ctl_catalog(const struct ctl_args *a);

/* Reads an input file (at most a package's size limit); prints why not. */
int ctl_read(const char *path, uint8_t **data, size_t *len);
/* A command's one file argument: the usage message when there is not
 * exactly one or args_ok (the command's other requirements) is false,
 * else ctl_read of it. */
int ctl_read_arg(const struct ctl_args *a, bool args_ok, const char *usage, uint8_t **data, size_t *len);

/* Prints a message to stderr: "pliantctl: ..." */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
