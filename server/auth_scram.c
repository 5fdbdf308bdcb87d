#include "auth_scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int b64_encode(const uint8_t *in, size_t n, char *out, size_t outlen)
{
    if (outlen < 4 * ((n + 2) / 3) + 1)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return 0;
}

/* Strict base64 decode; returns the decoded length or -1. */
static int b64_decode(const char *in, size_t n, uint8_t *out, size_t outlen)
{
    if (n == 0 || n % 4 || n / 4 * 3 > outlen)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                  c == '/' || (c == '=' && i >= n - 2);
        if (!ok)
            return -1;
    }
    int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (len < 0)
        return -1;
    if (in[n - 1] == '=')
        len--;
    if (in[n - 2] == '=')
        len--;
    return len;
}

static void hmac(const uint8_t *key, size_t klen, const void *msg, size_t mlen, uint8_t out[SCRAM_KEY_LEN])
{
    unsigned int olen = SCRAM_KEY_LEN;
    HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen);
}

static int derive_keys(const char *password, const uint8_t *salt, int salt_len, int iterations,
                       uint8_t stored[SCRAM_KEY_LEN], uint8_t server[SCRAM_KEY_LEN])
{
    uint8_t salted[SCRAM_KEY_LEN], client[SCRAM_KEY_LEN];
    if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, salt_len, iterations, EVP_sha256(),
                           SCRAM_KEY_LEN, salted))
        return -1;
    hmac(salted, sizeof salted, "Client Key", 10, client);
    SHA256(client, sizeof client, stored);
    hmac(salted, sizeof salted, "Server Key", 10, server);
    OPENSSL_cleanse(salted, sizeof salted);
    return 0;
}

int scram_parse_verifier(const char *s, struct scram_verifier *v)
{
    const char *pfx = "SCRAM-SHA-256$";
    if (strncmp(s, pfx, strlen(pfx)) != 0)
        return -1;
    s += strlen(pfx);
    char *end;
    long it = strtol(s, &end, 10);
    if (end == s || *end != ':' || it < 1 || it > 100000000)
        return -1;
    v->iterations = (int)it;
    const char *salt = end + 1;
    const char *dollar = strchr(salt, '$');
    if (!dollar)
        return -1;
    int n = b64_decode(salt, (size_t)(dollar - salt), v->salt, sizeof v->salt);
    if (n <= 0)
        return -1;
    v->salt_len = n;
    const char *sk = dollar + 1;
    const char *colon = strchr(sk, ':');
    if (!colon)
        return -1;
    if (b64_decode(sk, (size_t)(colon - sk), v->stored_key, sizeof v->stored_key + 2) != SCRAM_KEY_LEN)
        return -1;
    const char *svk = colon + 1;
    uint8_t tmp[SCRAM_KEY_LEN + 2];
    if (b64_decode(svk, strlen(svk), tmp, sizeof tmp) != SCRAM_KEY_LEN)
        return -1;
    memcpy(v->server_key, tmp, SCRAM_KEY_LEN);
    return 0;
}

int scram_make_verifier(const char *password, int iterations, char *out, size_t outlen)
{
    uint8_t salt[16], stored[SCRAM_KEY_LEN], server[SCRAM_KEY_LEN];
    char salt64[32], st64[64], sv64[64];
    if (RAND_bytes(salt, sizeof salt) != 1 || derive_keys(password, salt, sizeof salt, iterations, stored, server))
        return -1;
    b64_encode(salt, sizeof salt, salt64, sizeof salt64);
    b64_encode(stored, sizeof stored, st64, sizeof st64);
    b64_encode(server, sizeof server, sv64, sizeof sv64);
    int n = snprintf(out, outlen, "SCRAM-SHA-256$%d:%s$%s:%s", iterations, salt64, st64, sv64);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* Key for mock salts: per process, so a mock user's salt is stable while the
 * server runs (a real user's salt is too) yet reveals nothing. */
static uint8_t mock_secret[32];
static pthread_once_t mock_once = PTHREAD_ONCE_INIT;
static void mock_init(void)
{
    if (RAND_bytes(mock_secret, sizeof mock_secret) != 1)
        memset(mock_secret, 0x5a, sizeof mock_secret);
}

void scram_init(struct scram_state *st, const char *verifier, const char *username)
{
    memset(st, 0, sizeof *st);
    if (verifier && scram_parse_verifier(verifier, &st->v) == 0)
        return;
    st->mock = true;
    pthread_once(&mock_once, mock_init);
    uint8_t h[SCRAM_KEY_LEN];
    hmac(mock_secret, sizeof mock_secret, username, strlen(username), h);
    memcpy(st->v.salt, h, 16);
    st->v.salt_len = 16;
    st->v.iterations = SCRAM_DEFAULT_ITERATIONS;
}

/* Finds "k=" attribute at the start of s (up to the next ','). */
static const char *attr(const char *s, char k, size_t *len)
{
    if (s[0] != k || s[1] != '=')
        return NULL;
    const char *v = s + 2;
    const char *comma = strchr(v, ',');
    *len = comma ? (size_t)(comma - v) : strlen(v);
    return v;
}

int scram_handle_first(struct scram_state *st, const char *msg, size_t len, char *out, size_t outlen, char *err,
                       size_t errlen)
{
    char m[512];
    if (len == 0 || len >= sizeof m || memchr(msg, 0, len)) {
        snprintf(err, errlen, "malformed SCRAM client-first-message");
        return -1;
    }
    memcpy(m, msg, len);
    m[len] = 0;
    /* gs2-header: cbind flag, optional authzid. */
    if (m[0] == 'p') {
        snprintf(err, errlen, "channel binding is not supported; use channel_binding=disable or prefer");
        return -1;
    }
    if ((m[0] != 'n' && m[0] != 'y') || m[1] != ',') {
        snprintf(err, errlen, "malformed SCRAM gs2 header");
        return -1;
    }
    const char *p = m + 2;
    if (p[0] == 'a' && p[1] == '=') {
        snprintf(err, errlen, "SCRAM authorization identity is not supported");
        return -1;
    }
    if (*p != ',') {
        snprintf(err, errlen, "malformed SCRAM gs2 header");
        return -1;
    }
    p++;
    /* c= in the final message is base64 of the gs2 header. */
    b64_encode((const uint8_t *)m, (size_t)(p - m), st->cbind_b64, sizeof st->cbind_b64);
    snprintf(st->client_first_bare, sizeof st->client_first_bare, "%s", p);
    size_t ul, nl;
    if (p[0] == 'm' || !attr(p, 'n', &ul)) {
        snprintf(err, errlen, "malformed SCRAM client-first-message (expected n=)");
        return -1;
    }
    p += 2 + ul;
    const char *cnonce = *p == ',' ? attr(p + 1, 'r', &nl) : NULL;
    if (!cnonce || nl == 0 || nl > 128) {
        snprintf(err, errlen, "malformed SCRAM client-first-message (expected r=)");
        return -1;
    }
    for (size_t i = 0; i < nl; i++)
        if (cnonce[i] < 0x21 || cnonce[i] > 0x7e || cnonce[i] == ',') {
            snprintf(err, errlen, "invalid character in SCRAM nonce");
            return -1;
        }
    uint8_t rnd[18];
    char rnd64[32], salt64[96];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        snprintf(err, errlen, "could not generate a random nonce");
        return -1;
    }
    b64_encode(rnd, sizeof rnd, rnd64, sizeof rnd64);
    snprintf(st->nonce, sizeof st->nonce, "%.*s%s", (int)nl, cnonce, rnd64);
    b64_encode(st->v.salt, (size_t)st->v.salt_len, salt64, sizeof salt64);
    snprintf(st->server_first, sizeof st->server_first, "r=%s,s=%s,i=%d", st->nonce, salt64, st->v.iterations);
    snprintf(out, outlen, "%s", st->server_first);
    return 0;
}

int scram_handle_final(struct scram_state *st, const char *msg, size_t len, bool *ok, char *out, size_t outlen,
                       char *err, size_t errlen)
{
    char m[1024];
    *ok = false;
    if (len == 0 || len >= sizeof m || memchr(msg, 0, len)) {
        snprintf(err, errlen, "malformed SCRAM client-final-message");
        return -1;
    }
    memcpy(m, msg, len);
    m[len] = 0;
    size_t cl, rl, pl;
    const char *c = attr(m, 'c', &cl);
    if (!c || strlen(st->cbind_b64) != cl || memcmp(c, st->cbind_b64, cl) != 0) {
        snprintf(err, errlen, "SCRAM channel binding data does not match");
        return -1;
    }
    const char *r = attr(c + cl + 1, 'r', &rl);
    if (!r || rl != strlen(st->nonce) || memcmp(r, st->nonce, rl) != 0) {
        snprintf(err, errlen, "SCRAM nonce does not match");
        return -1;
    }
    const char *proof_attr = strstr(m, ",p=");
    if (!proof_attr) {
        snprintf(err, errlen, "malformed SCRAM client-final-message (expected p=)");
        return -1;
    }
    const char *proof64 = attr(proof_attr + 1, 'p', &pl);
    uint8_t proof[SCRAM_KEY_LEN + 2];
    if (!proof64 || proof64[pl] != 0 || b64_decode(proof64, pl, proof, sizeof proof) != SCRAM_KEY_LEN) {
        snprintf(err, errlen, "malformed SCRAM proof");
        return -1;
    }
    char authmsg[2048];
    int an = snprintf(authmsg, sizeof authmsg, "%s,%s,%.*s", st->client_first_bare, st->server_first,
                      (int)(proof_attr - m), m);
    if (an <= 0 || (size_t)an >= sizeof authmsg) {
        snprintf(err, errlen, "SCRAM message too long");
        return -1;
    }
    uint8_t sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN], check[SCRAM_KEY_LEN];
    hmac(st->v.stored_key, SCRAM_KEY_LEN, authmsg, (size_t)an, sig);
    for (int i = 0; i < SCRAM_KEY_LEN; i++)
        client_key[i] = proof[i] ^ sig[i];
    SHA256(client_key, SCRAM_KEY_LEN, check);
    if (st->mock || CRYPTO_memcmp(check, st->v.stored_key, SCRAM_KEY_LEN) != 0)
        return 0;
    uint8_t ssig[SCRAM_KEY_LEN];
    char ssig64[64];
    hmac(st->v.server_key, SCRAM_KEY_LEN, authmsg, (size_t)an, ssig);
    b64_encode(ssig, sizeof ssig, ssig64, sizeof ssig64);
    snprintf(out, outlen, "v=%s", ssig64);
    *ok = true;
    return 0;
}
