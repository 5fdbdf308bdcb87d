/* Extension packages: what an admin pushes and pliantd stores. One file,
 * all integers little-endian:
 *
 *   offset      size  field
 *   0           8     magic "PLIANTPK"
 *   8           4     format version (1)
 *   12          4     manifest length M (1 .. PKG_MAX_MANIFEST)
 *   16          4     object length O (1 .. PKG_MAX_SIZE)
 *   20          4     reserved, 0
 *   24          M     manifest: a JSON object (below)
 *   24+M        O     the extension: an ELF object from clang -target bpf
 *   -- signed packages only --
 *   24+M+O      8     key id of the signer (see keys.h)
 *   32+M+O      64    Ed25519 signature of every byte before it
 *
 * The file is exactly 24+M+O bytes (unsigned) or 96+M+O (signed), at most
 * PKG_MAX_SIZE; anything else is refused. Manifest keys (no others):
 *   "hook"        required: the hook the program is verified for
 *   "version"     required: [A-Za-z0-9._-]{1,32}, not starting with '.';
 *                 a version names one object for good (same hook and
 *                 version, same sha256)
 *   "sha256"      required: hex SHA-256 of the object bytes (checked)
 *   "section"     optional: the program's section; default: the object's
 *                 only program, or the one in section "hook/<hook>"
 *   "description" optional: up to 255 bytes of text
 * The signature covers the header, the manifest and the object, so none of
 * them can change without invalidating it. */
#ifndef PL_MANAGER_PACKAGE_H
#define PL_MANAGER_PACKAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define PKG_MAGIC "PLIANTPK"
#define PKG_FORMAT 1
#define PKG_HEADER_SIZE 24
#define PKG_SIG_SIZE (KEY_ID_LEN + 64)
#define PKG_MAX_SIZE (4u << 20)
#define PKG_MAX_MANIFEST (64u << 10)

struct pkg_manifest {
    char hook[64];
    char version[33];
    char sha256[65];
    char section[128];      /* "" when not given */
    char description[256];
};

/* A parsed package: pointers into the caller's buffer. */
struct pkg {
    struct pkg_manifest m;
    const uint8_t *object;
    size_t object_len;
    bool is_signed;
    uint8_t key_id[KEY_ID_LEN];
    char key_id_hex[KEY_ID_HEX];
    const uint8_t *sig;
    size_t signed_len;      /* bytes the signature covers */
    size_t unsigned_len;    /* header + manifest + object */
};

/* Strict: sizes, magic, format, manifest keys and values, the object's
 * SHA-256. Does not check the signature (pkg_check_signature). */
int pkg_parse(const uint8_t *data, size_t len, struct pkg *out, char *err, size_t errlen);

/* Builds an unsigned package from m (its sha256 is computed here) and the
 * object. *out is malloc'ed. */
int pkg_build(const struct pkg_manifest *m, const uint8_t *obj, size_t objlen, uint8_t **out, size_t *outlen,
              char *err, size_t errlen);

/* Signs a package (replacing any signature it had) with a secret key. */
int pkg_sign(const uint8_t *data, size_t len, const struct pl_key *key, uint8_t **out, size_t *outlen, char *err,
             size_t errlen);

/* Checks that p is signed by a key in kr; *signer (optional) is that key. */
int pkg_check_signature(const uint8_t *data, const struct pkg *p, const struct keyring *kr,
                        const struct pl_key **signer, char *err, size_t errlen);

/* Validity of names that become file names in the store. */
bool pkg_version_valid(const char *v);
bool pkg_hook_name_valid(const char *h);

/* Hex SHA-256 of data into out[65]. */
void pkg_sha256_hex(const uint8_t *data, size_t len, char out[65]);

#endif
