#include "keys.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"

#define SECRET_TAG "pliant-ed25519-secret-v1 "
#define PUBLIC_TAG "pliant-ed25519-public-v1 "

int keys_init(void) { return sodium_init() < 0 ? -1 : 0; }

static void key_set_id(struct pl_key *k)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, k->pk, sizeof k->pk);
    memcpy(k->id, h, KEY_ID_LEN);
    fs_hex(k->id, KEY_ID_LEN, k->id_hex);
}

static void set_comment(struct pl_key *k, const char *comment)
{
    size_t n = 0;
    /* One line of printable text: the comment ends the .pub line. */
    for (const char *c = comment ? comment : ""; *c && n < sizeof k->comment - 1; c++)
        k->comment[n++] = (*c >= 0x20 && *c != 0x7f) ? *c : '_';
    k->comment[n] = 0;
}

int key_generate(struct pl_key *k, const char *comment)
{
    memset(k, 0, sizeof *k);
    if (keys_init() || crypto_sign_keypair(k->pk, k->sk) != 0)
        return -1;
    k->has_secret = true;
    key_set_id(k);
    set_comment(k, comment);
    return 0;
}

void key_wipe(struct pl_key *k) { sodium_memzero(k, sizeof *k); }

int key_write(const struct pl_key *k, const char *base, char *err, size_t errlen)
{
    char path[PATH_MAX], line[512];
    struct stat st;
    snprintf(path, sizeof path, "%s.key", base);
    if (stat(path, &st) == 0) {
        snprintf(err, errlen, "%s exists: refusing to overwrite a secret key", path);
        return -1;
    }
    char hex[129];
    fs_hex(k->sk, sizeof k->sk, hex);
    int n = snprintf(line, sizeof line, SECRET_TAG "%s\n", hex);
    sodium_memzero(hex, sizeof hex);
    int rc = fs_write_atomic(path, line, (size_t)n, 0600, err, errlen);
    sodium_memzero(line, sizeof line);
    if (rc)
        return -1;
    fs_hex(k->pk, sizeof k->pk, hex);
    n = snprintf(line, sizeof line, PUBLIC_TAG "%s%s%s\n", hex, k->comment[0] ? " " : "", k->comment);
    snprintf(path, sizeof path, "%s.pub", base);
    return fs_write_atomic(path, line, (size_t)n, 0644, err, errlen);
}

/* Reads a key file's one line and checks its tag; *rest points after it. */
static int read_key_line(const char *path, const char *tag, char *line, size_t cap, char **rest, char *err,
                         size_t errlen)
{
    uint8_t *buf;
    size_t len;
    if (fs_read_file(path, cap - 1, &buf, &len, err, errlen))
        return -1;
    memcpy(line, buf, len + 1);
    sodium_memzero(buf, len);
    free(buf);
    if (strncmp(line, tag, strlen(tag)) != 0) {
        snprintf(err, errlen, "%s: not a Pliant %s key file (expected it to start with \"%.24s\")", path,
                 strstr(tag, "secret") ? "secret" : "public", tag);
        sodium_memzero(line, cap);
        return -1;
    }
    *rest = line + strlen(tag);
    return 0;
}

int key_load_secret(const char *path, struct pl_key *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "%s: permissions %04o let others read the secret key; chmod 600 it", path,
                 (unsigned)(st.st_mode & 07777));
        return -1;
    }
    char line[512], *hex;
    if (keys_init() || read_key_line(path, SECRET_TAG, line, sizeof line, &hex, err, errlen))
        return -1;
    int rc = 0;
    if (strcspn(hex, "\r\n") != 128 || fs_unhex(hex, k->sk, sizeof k->sk)) {
        snprintf(err, errlen, "%s: malformed secret key (expected 128 hex digits)", path);
        rc = -1;
    } else if (crypto_sign_ed25519_sk_to_pk(k->pk, k->sk) != 0) {
        snprintf(err, errlen, "%s: invalid secret key", path);
        rc = -1;
    }
    sodium_memzero(line, sizeof line);
    if (rc) {
        key_wipe(k);
        return -1;
    }
    k->has_secret = true;
    key_set_id(k);
    return 0;
}

int key_load_public(const char *path, struct pl_key *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    char line[512], *hex;
    if (keys_init() || read_key_line(path, PUBLIC_TAG, line, sizeof line, &hex, err, errlen))
        return -1;
    size_t n = strcspn(hex, " \r\n");
    if (n != 64 || fs_unhex(hex, k->pk, sizeof k->pk)) {
        snprintf(err, errlen, "%s: malformed public key (expected 64 hex digits)", path);
        return -1;
    }
    char *comment = hex + n;
    while (*comment == ' ')
        comment++;
    comment[strcspn(comment, "\r\n")] = 0;
    set_comment(k, comment);
    key_set_id(k);
    return 0;
}

int keyring_load(const char *dir, struct keyring *kr, void (*warn)(const char *msg), char *err, size_t errlen)
{
    memset(kr, 0, sizeof *kr);
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "trusted keys directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".pub") != 0)
            continue;
        char path[PATH_MAX], msg[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct pl_key k;
        if (key_load_public(path, &k, msg, sizeof msg)) {
            if (warn)
                warn(msg);
            continue;
        }
        struct pl_key *g = realloc(kr->keys, sizeof *g * (size_t)(kr->n + 1));
        if (!g) {
            closedir(d);
            keyring_free(kr);
            snprintf(err, errlen, "out of memory loading trusted keys");
            return -1;
        }
        kr->keys = g;
        kr->keys[kr->n++] = k;
    }
    closedir(d);
    return 0;
}

const struct pl_key *keyring_find(const struct keyring *kr, const uint8_t id[KEY_ID_LEN])
{
    for (int i = 0; i < kr->n; i++)
        if (memcmp(kr->keys[i].id, id, KEY_ID_LEN) == 0)
            return &kr->keys[i];
    return NULL;
}

void keyring_free(struct keyring *kr)
{
    free(kr->keys);
    kr->keys = NULL;
    kr->n = 0;
}
