/* SCRAM-SHA-256 (RFC 5802 / RFC 7677) server side, as PostgreSQL speaks it
 * (no channel binding), and the verifier format PostgreSQL stores:
 * SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>. */
#ifndef PL_SERVER_AUTH_SCRAM_H
#define PL_SERVER_AUTH_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRAM_KEY_LEN 32
#define SCRAM_DEFAULT_ITERATIONS 4096

struct scram_verifier {
    int iterations;
    uint8_t salt[64];
    int salt_len;
    uint8_t stored_key[SCRAM_KEY_LEN];
    uint8_t server_key[SCRAM_KEY_LEN];
};

int scram_parse_verifier(const char *s, struct scram_verifier *v);
/* Builds a verifier for `password` with a fresh random salt. The password
 * is used as given (UTF-8 bytes; SASLprep normalisation is not applied,
 * which matches PostgreSQL for ASCII passwords). */
int scram_make_verifier(const char *password, int iterations, char *out, size_t outlen);

struct scram_state {
    struct scram_verifier v;
    bool mock; /* unknown user: run the exchange, always fail at the end */
    char client_first_bare[512];
    char server_first[512];
    char nonce[256];  /* client nonce + server nonce */
    char cbind_b64[16];
};

/* verifier NULL: mock exchange for a user that does not exist (or has no
 * password), so a client cannot probe which users exist. */
void scram_init(struct scram_state *st, const char *verifier, const char *username);
/* Consumes client-first-message, produces server-first-message. -1 on a
 * malformed message (err says why). */
int scram_handle_first(struct scram_state *st, const char *msg, size_t len, char *out, size_t outlen, char *err,
                       size_t errlen);
/* Consumes client-final-message; *ok says whether the proof matched; when
 * it did, out holds server-final-message. -1 on a malformed message. */
int scram_handle_final(struct scram_state *st, const char *msg, size_t len, bool *ok, char *out, size_t outlen,
                       char *err, size_t errlen);

#endif
