#include "package.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

bool pkg_version_valid(const char *v)
{
    size_t n = strlen(v);
    if (n < 1 || n > 32 || v[0] == '.')
        return false;
    for (const char *c = v; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
              *c == '_' || *c == '-'))
            return false;
    return true;
}

bool pkg_hook_name_valid(const char *h)
{
    size_t n = strlen(h);
    if (n < 1 || n > 63)
        return false;
    for (const char *c = h; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

void pkg_sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    fs_hex(h, sizeof h, out);
}

static bool text_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* One manifest string: required or not, at most cap - 1 bytes of text. */
static int take_string(json_t *obj, const char *key, bool required, char *dst, size_t cap, char *err,
                       size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            snprintf(err, errlen, "manifest: \"%s\" is missing", key);
        return required ? -1 : 0;
    }
    if (!json_is_string(v)) {
        snprintf(err, errlen, "manifest: \"%s\" must be a string", key);
        return -1;
    }
    const char *s = json_string_value(v);
    if (json_string_length(v) >= cap || strlen(s) != json_string_length(v) || !text_ok(s)) {
        snprintf(err, errlen, "manifest: \"%s\" must be at most %zu bytes of text", key, cap - 1);
        return -1;
    }
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int parse_manifest(const uint8_t *text, size_t len, struct pkg_manifest *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    json_error_t je;
    json_t *root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "manifest is not valid JSON: %s (at byte %d)", je.text, je.position);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "manifest must be a JSON object");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "hook") && strcmp(key, "version") && strcmp(key, "sha256") && strcmp(key, "section") &&
            strcmp(key, "description")) {
            snprintf(err, errlen, "manifest: unknown key \"%.64s\" (expected hook, version, sha256, section, "
                                  "description)", key);
            goto out;
        }
    }
    if (take_string(root, "hook", true, m->hook, sizeof m->hook, err, errlen) ||
        take_string(root, "version", true, m->version, sizeof m->version, err, errlen) ||
        take_string(root, "sha256", true, m->sha256, sizeof m->sha256, err, errlen) ||
        take_string(root, "section", false, m->section, sizeof m->section, err, errlen) ||
        take_string(root, "description", false, m->description, sizeof m->description, err, errlen))
        goto out;
    if (!pkg_hook_name_valid(m->hook)) {
        snprintf(err, errlen, "manifest: invalid hook name \"%s\"", m->hook);
        goto out;
    }
    if (!pkg_version_valid(m->version)) {
        snprintf(err, errlen, "manifest: invalid version \"%s\" (1-32 of A-Z a-z 0-9 . _ -, not starting with .)",
                 m->version);
        goto out;
    }
    uint8_t dummy[32];
    if (strlen(m->sha256) != 64 || fs_unhex(m->sha256, dummy, sizeof dummy)) {
        snprintf(err, errlen, "manifest: sha256 must be 64 hex digits");
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int pkg_parse(const uint8_t *data, size_t len, struct pkg *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (len > PKG_MAX_SIZE) {
        snprintf(err, errlen, "package is %zu bytes, more than the limit of %u", len, PKG_MAX_SIZE);
        return -1;
    }
    if (len < PKG_HEADER_SIZE || memcmp(data, PKG_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not a Pliant package (no \"" PKG_MAGIC "\" header)");
        return -1;
    }
    uint32_t format = get_le32(data + 8), mlen = get_le32(data + 12), olen = get_le32(data + 16);
    if (format != PKG_FORMAT) {
        snprintf(err, errlen, "package format %u is not supported (this build reads format %u)", format, PKG_FORMAT);
        return -1;
    }
    if (get_le32(data + 20) != 0 || mlen == 0 || mlen > PKG_MAX_MANIFEST || olen == 0 || olen > PKG_MAX_SIZE) {
        snprintf(err, errlen, "package header is corrupt (manifest %u bytes, object %u bytes)", mlen, olen);
        return -1;
    }
    size_t body = (size_t)PKG_HEADER_SIZE + mlen + olen;
    if (len != body && len != body + PKG_SIG_SIZE) {
        snprintf(err, errlen, "package is %zu bytes but its header says %zu (unsigned) or %zu (signed): truncated "
                              "or corrupt", len, body, body + PKG_SIG_SIZE);
        return -1;
    }
    if (parse_manifest(data + PKG_HEADER_SIZE, mlen, &p->m, err, errlen))
        return -1;
    p->object = data + PKG_HEADER_SIZE + mlen;
    p->object_len = olen;
    p->unsigned_len = body;
    char sha[65];
    pkg_sha256_hex(p->object, olen, sha);
    if (strcmp(sha, p->m.sha256) != 0) {
        snprintf(err, errlen, "object's sha256 %s does not match the manifest's %s: the package was altered", sha,
                 p->m.sha256);
        return -1;
    }
    if (len == body + PKG_SIG_SIZE) {
        p->is_signed = true;
        memcpy(p->key_id, data + body, KEY_ID_LEN);
        fs_hex(p->key_id, KEY_ID_LEN, p->key_id_hex);
        p->sig = data + body + KEY_ID_LEN;
        p->signed_len = body + KEY_ID_LEN;
    }
    return 0;
}

int pkg_build(const struct pkg_manifest *m, const uint8_t *obj, size_t objlen, uint8_t **out, size_t *outlen,
              char *err, size_t errlen)
{
    if (!pkg_hook_name_valid(m->hook) || !pkg_version_valid(m->version)) {
        snprintf(err, errlen, "invalid hook name \"%s\" or version \"%s\" (version: 1-32 of A-Z a-z 0-9 . _ -)",
                 m->hook, m->version);
        return -1;
    }
    if (!text_ok(m->section) || !text_ok(m->description)) {
        snprintf(err, errlen, "section and description must be plain text");
        return -1;
    }
    char sha[65];
    pkg_sha256_hex(obj, objlen, sha);
    json_t *j = json_pack("{s:s, s:s, s:s}", "hook", m->hook, "version", m->version, "sha256", sha);
    if (j && m->section[0])
        json_object_set_new(j, "section", json_string(m->section));
    if (j && m->description[0])
        json_object_set_new(j, "description", json_string(m->description));
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t mlen = strlen(text), total = PKG_HEADER_SIZE + mlen + objlen;
    if (total + PKG_SIG_SIZE > PKG_MAX_SIZE) {
        snprintf(err, errlen, "the object is %zu bytes: a package may be at most %u bytes", objlen, PKG_MAX_SIZE);
        free(text);
        return -1;
    }
    uint8_t *b = malloc(total);
    if (!b) {
        free(text);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(b, PKG_MAGIC, 8);
    put_le32(b + 8, PKG_FORMAT);
    put_le32(b + 12, (uint32_t)mlen);
    put_le32(b + 16, (uint32_t)objlen);
    put_le32(b + 20, 0);
    memcpy(b + PKG_HEADER_SIZE, text, mlen);
    memcpy(b + PKG_HEADER_SIZE + mlen, obj, objlen);
    free(text);
    *out = b;
    *outlen = total;
    return 0;
}

int pkg_sign(const uint8_t *data, size_t len, const struct pl_key *key, uint8_t **out, size_t *outlen, char *err,
             size_t errlen)
{
    struct pkg p;
    if (pkg_parse(data, len, &p, err, errlen))
        return -1;
    if (!key->has_secret || keys_init()) {
        snprintf(err, errlen, "signing needs a secret key");
        return -1;
    }
    size_t total = p.unsigned_len + PKG_SIG_SIZE;
    uint8_t *b = malloc(total);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(b, data, p.unsigned_len);
    memcpy(b + p.unsigned_len, key->id, KEY_ID_LEN);
    crypto_sign_detached(b + p.unsigned_len + KEY_ID_LEN, NULL, b, p.unsigned_len + KEY_ID_LEN, key->sk);
    *out = b;
    *outlen = total;
    return 0;
}

int pkg_check_signature(const uint8_t *data, const struct pkg *p, const struct keyring *kr,
                        const struct pl_key **signer, char *err, size_t errlen)
{
    if (!p->is_signed) {
        snprintf(err, errlen, "package is not signed (sign it with pliantctl sign --key KEY)");
        return -1;
    }
    const struct pl_key *k = keyring_find(kr, p->key_id);
    if (!k) {
        snprintf(err, errlen, "package is signed by key %s, which is not among the server's trusted keys",
                 p->key_id_hex);
        return -1;
    }
    if (keys_init() || crypto_sign_verify_detached(p->sig, data, p->signed_len, k->pk) != 0) {
        snprintf(err, errlen, "signature by key %s does not verify: the package was altered or signed with "
                              "another key", p->key_id_hex);
        return -1;
    }
    if (signer)
        *signer = k;
    return 0;
}
