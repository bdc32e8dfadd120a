/*
 * auth internals shared by the files of engine/auth (and by the fuzz target): key records,
 * base64 variants, the claim checker and small string helpers. Not a public interface.
 * Invariant: a struct rg_auth_keyset is never modified after rg_auth_keyset_parse returns;
 * its EVP_PKEYs are only used read-only, which OpenSSL allows from many threads at once.
 */
#ifndef RG_AUTH_INT_H
#define RG_AUTH_INT_H

#include <jansson.h>
#include <openssl/evp.h>

#include "auth.h"

#define RG_AUTH_MAX_KEYS 64
#define RG_AUTH_MAX_KID 128
#define RG_AUTH_MAX_JWKS (1u << 20)

enum rg_auth_alg {
	RG_AUTH_ALG_RS256 = 0,
	RG_AUTH_ALG_ES256,
	RG_AUTH_ALG_EDDSA,
};

struct rg_auth_key {
	char kid[RG_AUTH_MAX_KID];
	bool has_kid;
	enum rg_auth_alg alg;		/* fixed by kty/crv; the JWK alg, if any, agreed */
	EVP_PKEY *pkey;
};

struct rg_auth_keyset {
	size_t n;
	size_t skipped;
	struct rg_auth_key keys[];
};

/* Standard alphabet with '=' padding (SCRAM); strict: canonical, padded to 4. */
ssize_t rg_auth_b64std_encode(const uint8_t *in, size_t n, char *out, size_t cap);
ssize_t rg_auth_b64std_decode(const char *in, size_t n, uint8_t *out, size_t cap);

/* Check the claims of an already signature-verified payload object. */
enum rg_auth_err rg_auth_check_claims(const struct rg_auth_config *cfg, json_t *claims,
				      int64_t now, struct rg_auth_identity *id,
				      struct rg_auth_fail *why);

/* Copy s into out as printable ASCII ('?' for anything else), truncated to fit. */
void rg_auth_sanitize(const char *s, size_t n, char *out, size_t cap);

/* Set why->err and a printf-style detail; returns e. */
enum rg_auth_err rg_auth_fail_set(struct rg_auth_fail *why, enum rg_auth_err e, const char *fmt,
				  ...) __attribute__((format(printf, 3, 4)));

/*
 * Parse and check a jwks_url (https://, or http:// to 127.0.0.1, [::1] or localhost; no
 * userinfo, no backslash or space) with libcurl's URL API. *out is the parsed handle
 * (CURLU) to fetch with CURLOPT_CURLU, freed with curl_url_cleanup. 0 or -EINVAL/-ENOMEM
 * with err filled; err never quotes a URL that carries userinfo.
 */
struct Curl_URL;
int rg_auth_url_parse(const char *url, struct Curl_URL **out, char *err, size_t errlen);

/*
 * Open path for reading only if it is a regular file (a symlink as the last component is
 * refused), owned by the effective uid, with none of the mode bits in forbidden (077 for a
 * secret, 022 for a file whose writer would be trusted). what names the file in messages
 * ("password file", "jwks_file"). 0 with *fd and *st set, or -EPERM/-ENOENT/... with err.
 */
struct stat;
int rg_auth_open_protected(const char *path, const char *what, unsigned forbidden, int *fd,
			   struct stat *st, char *err, size_t errlen);

/*
 * SCRAM salted-password cache of a credential, keyed by SHA-256(salt) and the iteration
 * count. get never locks (a seqlock read; a concurrent write reads as a miss) and may run on
 * any number of threads; put takes a writers-only mutex and replaces the oldest of
 * RG_AUTH_CRED_SALT_CACHE slots. Both cleanse their stack copies.
 */
bool rg_auth_cred_salted_get(const struct rg_auth_cred *c, const uint8_t key[32], uint32_t iter,
			     uint8_t out[32]);
void rg_auth_cred_salted_put(const struct rg_auth_cred *c, const uint8_t key[32], uint32_t iter,
			     const uint8_t val[32]);

/* Fill errbuf with a printf-style message; returns ret (a negative errno). */
int rg_auth_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif /* RG_AUTH_INT_H */
