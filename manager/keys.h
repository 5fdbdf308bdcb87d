/* Ed25519 keys of the Manager (libsodium). An admin signs packages with a
 * secret key; pliantd runs only packages signed by a key in its trusted
 * keys directory.
 *
 * Files (one line of text each):
 *   NAME.key  "pliant-ed25519-secret-v1 <128 hex digits>\n", mode 0600
 *             (libsodium's 64-byte secret key: seed and public key)
 *   NAME.pub  "pliant-ed25519-public-v1 <64 hex digits> [comment]\n"
 * A key id is the first 8 bytes of the SHA-256 of the public key, written
 * as 16 hex digits: short enough for logs, long enough not to collide by
 * accident (it is a name, not a proof: the signature is checked with the
 * full key). */
#ifndef PL_MANAGER_KEYS_H
#define PL_MANAGER_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEY_ID_LEN 8
#define KEY_ID_HEX (2 * KEY_ID_LEN + 1)

struct pl_key {
    uint8_t pk[32];
    uint8_t sk[64];   /* zero unless has_secret */
    bool has_secret;
    uint8_t id[KEY_ID_LEN];
    char id_hex[KEY_ID_HEX];
    char comment[64];
};

/* sodium_init(); 0 on success. Every function below calls it. */
int keys_init(void);
int key_generate(struct pl_key *k, const char *comment);
/* Writes BASE.key (0600; refuses to overwrite) and BASE.pub. */
int key_write(const struct pl_key *k, const char *base, char *err, size_t errlen);
/* A secret key file: refused when group or others may read it. */
int key_load_secret(const char *path, struct pl_key *k, char *err, size_t errlen);
int key_load_public(const char *path, struct pl_key *k, char *err, size_t errlen);
void key_wipe(struct pl_key *k);

/* The trusted keys: every *.pub file of a directory. */
struct keyring {
    struct pl_key *keys;
    int n;
};
/* Files that do not parse are skipped with a message in warn (may be
 * NULL); a missing directory is an error. */
int keyring_load(const char *dir, struct keyring *kr, void (*warn)(const char *msg), char *err, size_t errlen);
const struct pl_key *keyring_find(const struct keyring *kr, const uint8_t id[KEY_ID_LEN]);
void keyring_free(struct keyring *kr);

#endif
