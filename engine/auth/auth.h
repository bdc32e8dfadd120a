/*
 * auth: who an agent is, and how ringgate proves who it is to the target.
 *
 * Front side: agents log in with a short-lived OIDC JWT as their password. A verifier holds
 * one issuer's configuration and its current JWKS key set; rg_auth_verify checks the compact
 * JWS (RS256, ES256, EdDSA only), then the claims, and yields an identity. Key sets are
 * immutable and swapped by a background refresher thread; verification never fetches, never
 * blocks on I/O and never takes a lock (see docs/auth.md, "Key set swap").
 * Back side: pure, I/O-free builders for the target's password exchanges (SCRAM-SHA-256
 * client, md5, cleartext) and a credential store that holds the real password wiped on free.
 * Nothing here ever logs or returns the token or a secret: errors come as an enum with a
 * fixed client message and a separate, sanitised log detail.
 */
#ifndef RG_AUTH_H
#define RG_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---------------------------------------------------------------- errors */

enum rg_auth_err {
	RG_AUTH_OK = 0,
	RG_AUTH_E_MALFORMED,		/* not a compact JWS, bad base64url/JSON, wrong types */
	RG_AUTH_E_TOO_LARGE,		/* token longer than max_token_len */
	RG_AUTH_E_ALG_NOT_ALLOWED,	/* none, HS*, unknown, or not the key's type/alg */
	RG_AUTH_E_UNKNOWN_KID,		/* no key with this kid (a refresh may be pending) */
	RG_AUTH_E_BAD_SIGNATURE,
	RG_AUTH_E_EXPIRED,		/* now >= exp + skew */
	RG_AUTH_E_NOT_YET_VALID,	/* now + skew < nbf */
	RG_AUTH_E_IAT_IN_FUTURE,	/* iat > now + skew */
	RG_AUTH_E_BAD_ISSUER,
	RG_AUTH_E_BAD_AUDIENCE,
	RG_AUTH_E_MISSING_CLAIM,	/* exp, iss, aud, sub or a configured required claim */
	RG_AUTH_E_BAD_CLAIM,		/* a claim of the wrong type or beyond identity limits */
	RG_AUTH_E_LIFETIME_TOO_LONG,	/* exp - iat or exp - now beyond max_token_lifetime_ms */
	RG_AUTH_E_NO_KEYS,		/* no key set loaded yet */
	RG_AUTH_E_INTERNAL,		/* out of memory, OpenSSL failure */
	RG_AUTH_E__COUNT
};

/* Stable snake_case name for the audit line ("expired", "bad_signature", ...). */
const char *rg_auth_err_name(enum rg_auth_err e);
/* What the client is told: always "authentication failed", whatever the cause. */
const char *rg_auth_client_message(enum rg_auth_err e);
/* SQLSTATE for the client's ErrorResponse: 28P01 for any credential refusal, 28000 when
 * the gateway could not judge the credential (no keys, internal error). */
const char *rg_auth_sqlstate(enum rg_auth_err e);

/* Why a verification failed, for the audit log only. detail never contains the token, a
 * signature or a secret; values taken from the token (kid, iss, aud, and the bytes jansson
 * quotes in a parse error) are truncated and reduced to printable ASCII without '"' or
 * '\\', so detail="..." on a log line cannot be broken out of. */
struct rg_auth_fail {
	enum rg_auth_err err;
	bool refresh_pending;		/* UNKNOWN_KID: a key set refresh was requested */
	char detail[192];
};

/* ---------------------------------------------------------------- identity */

#define RG_AUTH_MAX_ISS 256
#define RG_AUTH_MAX_SUB 256
#define RG_AUTH_MAX_JTI 128
#define RG_AUTH_MAX_GROUPS 64
#define RG_AUTH_GROUP_BUF 4096

/* A verified identity. Self-contained (no pointers), so it may be copied with memcpy. */
struct rg_auth_identity {
	char iss[RG_AUTH_MAX_ISS];
	char sub[RG_AUTH_MAX_SUB];
	char jti[RG_AUTH_MAX_JTI];	/* "" when absent */
	int64_t exp;			/* seconds since the epoch */
	uint32_t n_groups;
	uint16_t group_off[RG_AUTH_MAX_GROUPS];	/* offsets of NUL-terminated names in buf */
	char group_buf[RG_AUTH_GROUP_BUF];
};

static inline const char *rg_auth_identity_group(const struct rg_auth_identity *id, uint32_t i)
{
	return i < id->n_groups ? id->group_buf + id->group_off[i] : NULL;
}

/*
 * The same identity at its real size, for holders that keep one for a long time (a session
 * keeps its agent's identity until logout; struct rg_auth_identity is ~4.9 KB by value):
 * rg_auth_identity_dup() copies iss, sub, jti, exp and the groups into ONE heap block of
 * exactly the bytes they need (about 100-300 B for a typical token). Immutable once made; it
 * holds pointers into itself, so share the pointer and never copy the struct: dup again.
 * Returns NULL when out of memory. Free with rg_auth_principal_free (NULL is fine).
 */
struct rg_auth_principal;

struct rg_auth_principal *rg_auth_identity_dup(const struct rg_auth_identity *id);
void rg_auth_principal_free(struct rg_auth_principal *p);
const char *rg_auth_principal_iss(const struct rg_auth_principal *p);
const char *rg_auth_principal_sub(const struct rg_auth_principal *p);
const char *rg_auth_principal_jti(const struct rg_auth_principal *p);	/* "" when absent */
/* The token's exp, seconds since the epoch (see rg_auth_verifier_session_end_ms). */
int64_t rg_auth_principal_exp(const struct rg_auth_principal *p);
uint32_t rg_auth_principal_n_groups(const struct rg_auth_principal *p);
/* Group i, or NULL when i >= n_groups. */
const char *rg_auth_principal_group(const struct rg_auth_principal *p, uint32_t i);
/* All groups as an array of n strings (the shape policy's struct rg_identity takes). */
const char *const *rg_auth_principal_groups(const struct rg_auth_principal *p, size_t *n);
/* Bytes of the block (what the holder really keeps, before allocator overhead). */
size_t rg_auth_principal_size(const struct rg_auth_principal *p);

/* ---------------------------------------------------------------- key sets (JWKS) */

/* An immutable set of verification keys parsed from one JWKS document. */
struct rg_auth_keyset;

/*
 * Parse a JWKS document. Keys of a supported kind (RSA >= 2048 bits, EC P-256, OKP
 * Ed25519) that are malformed make the whole document fail, with the key's index and kid
 * in err, and so does any oct (symmetric) key or private member (d, p, q, k, ...): a
 * document that publishes a secret is refused, never skipped. Keys of kinds ringgate does
 * not verify with (X25519, Ed448, P-384, use "enc", alg RS384, ...) are skipped and
 * counted. err is sanitised (printable ASCII, no quotes from the document). Returns 0 or
 * -EINVAL / -ENOMEM.
 */
int rg_auth_keyset_parse(const char *json, size_t len, struct rg_auth_keyset **out,
			 char *err, size_t errlen);
void rg_auth_keyset_free(struct rg_auth_keyset *ks);
size_t rg_auth_keyset_count(const struct rg_auth_keyset *ks);
size_t rg_auth_keyset_skipped(const struct rg_auth_keyset *ks);
bool rg_auth_keyset_has_kid(const struct rg_auth_keyset *ks, const char *kid);

/* ---------------------------------------------------------------- verification */

struct rg_auth_config {
	const char *issuer;		/* required; compared byte for byte with iss */
	const char *audience;		/* required; must be aud or one of aud[] */
	const char *jwks_file;		/* exactly one of jwks_file / jwks_url */
	const char *jwks_url;		/* see rg_auth_jwks_url_check */
	uint64_t jwks_refresh_ms;	/* periodic refresh; default 300000 */
	uint64_t unknown_kid_refresh_ms;/* at most one kid-triggered refresh per; default 30000 */
	uint64_t fetch_timeout_ms;	/* per URL fetch; default 5000 */
	uint64_t clock_skew_ms;		/* tolerance on exp/nbf/iat; default 60000 */
	const char *groups_claim;	/* default "groups" */
	const char *const *required_claims;	/* claims that must be present, may be NULL */
	size_t n_required_claims;
	size_t max_token_len;		/* default 16384 */
	/* 0: no limit. Else a token is refused (LIFETIME_TOO_LONG) when exp - iat or exp - now
	 * exceeds it, and (MISSING_CLAIM) when it has no iat. */
	uint64_t max_token_lifetime_ms;
	/* false (default): a session must end when its token expires, at exp + clock skew
	 * (rg_auth_verifier_session_end_ms); true: it may outlive the token. Not used by
	 * verification itself, carried for the session that keeps the identity. */
	bool session_outlives_token;
	/* Optional sink for the refresher's messages (never contain secrets). */
	void (*log)(void *arg, bool error, const char *msg);
	void *log_arg;
};

/*
 * The rule for jwks_url, shared with the config loader: https:// anywhere, plain http://
 * only to 127.0.0.1, [::1] or localhost, judged on the host libcurl's URL parser (the one
 * that fetches) sees; any userinfo (user, password, ";options" before '@'), backslashes,
 * spaces and non-ASCII bytes are refused. 0, or -EINVAL with a message in err that never
 * quotes a URL carrying userinfo (it may hold a password). Pure: no DNS, no I/O.
 */
int rg_auth_jwks_url_check(const char *url, char *err, size_t errlen);

/* Fill c with the defaults above (issuer, audience and the JWKS source left NULL). */
void rg_auth_config_init(struct rg_auth_config *c);

/*
 * Pure verification against a given key set: no I/O, no locks, no refresh. now is seconds
 * since the epoch. On success fills id (if not NULL) and returns RG_AUTH_OK; otherwise
 * returns the error, also stored in why (if not NULL) with a log detail.
 */
enum rg_auth_err rg_auth_verify_with(const struct rg_auth_config *cfg,
				     const struct rg_auth_keyset *ks, const char *token,
				     size_t len, int64_t now, struct rg_auth_identity *id,
				     struct rg_auth_fail *why);

/* One issuer: configuration copy, current key set, background refresher thread. */
struct rg_auth_verifier;

/*
 * Copy cfg, load the key set once synchronously (file or URL: a failure here is an error,
 * so a misconfiguration shows at startup), then start the refresher thread, which reloads
 * every jwks_refresh_ms and on request after an unknown kid (rate-limited). A failed
 * refresh keeps the previous key set. Returns 0 or a negative errno with err filled.
 */
int rg_auth_verifier_new(const struct rg_auth_config *cfg, struct rg_auth_verifier **out,
			 char *err, size_t errlen);
/* Stop and join the refresher, free everything. No rg_auth_verify may be running. */
void rg_auth_verifier_free(struct rg_auth_verifier *v);

/*
 * Verify a token with the current key set; callable from any number of threads at once.
 * Never fetches: an unknown kid asks the refresher for a refresh (rate-limited) and fails
 * with RG_AUTH_E_UNKNOWN_KID and why->refresh_pending; a caller that may wait can call
 * rg_auth_verifier_wait_refresh and verify once more.
 */
enum rg_auth_err rg_auth_verify(struct rg_auth_verifier *v, const char *token, size_t len,
				int64_t now, struct rg_auth_identity *id, struct rg_auth_fail *why);

/* Counts completed refresh attempts (successful or not); a new key set is published before
 * its attempt is counted. Never blocks (one atomic load): a worker thread that must not wait
 * reads it from a timer to learn that a refresh it asked for has finished. */
uint64_t rg_auth_verifier_generation(struct rg_auth_verifier *v);
/* The configured per-fetch timeout (fetch_timeout_ms after defaults), for bounding waits. */
uint64_t rg_auth_verifier_fetch_timeout_ms(const struct rg_auth_verifier *v);
/* Block until the generation exceeds gen or timeout_ms passes: 0 or -ETIMEDOUT.
 * Not for the data path: for control threads and tests. */
int rg_auth_verifier_wait_refresh(struct rg_auth_verifier *v, uint64_t gen, uint64_t timeout_ms);
/* Ask for a refresh now (subject to the unknown-kid rate limit). Never blocks. */
void rg_auth_verifier_request_refresh(struct rg_auth_verifier *v);

/*
 * Token expiry for sessions. A token is accepted while now < exp + skew (skew is
 * clock_skew_ms rounded up to whole seconds), so a session that must not outlive its token
 * ends at that same instant:
 *   rg_auth_verifier_session_end_ms(v, p): milliseconds since the epoch at which the session
 *     of principal p (verified by v) must end, (exp + skew) * 1000; 0 when the issuer has
 *     session_outlives_token set (no end). Never blocks, reads only immutable data.
 *   rg_auth_verifier_session_outlives_token(v), rg_auth_verifier_clock_skew_ms(v): the two
 *     inputs, for callers that compute it themselves (with rg_auth_principal_exp).
 */
int64_t rg_auth_verifier_session_end_ms(const struct rg_auth_verifier *v,
					const struct rg_auth_principal *p);
bool rg_auth_verifier_session_outlives_token(const struct rg_auth_verifier *v);
uint64_t rg_auth_verifier_clock_skew_ms(const struct rg_auth_verifier *v);

/*
 * Read the iss claim of a token WITHOUT verifying anything, to choose among several
 * issuers' verifiers. The result is attacker-controlled: use it only as a lookup key.
 * Returns 0, or -EINVAL when there is no readable string iss.
 */
int rg_auth_peek_issuer(const char *token, size_t len, char *iss, size_t cap);

/* ---------------------------------------------------------------- target credentials */

/* The target's password, held in memory that is cleansed when freed. Never printed. */
struct rg_auth_cred;

#define RG_AUTH_CRED_MAX 1024	  /* bytes of the longest password a credential holds */
#define RG_AUTH_CRED_SALT_CACHE 4 /* SCRAM salted passwords remembered per credential */

/*
 * Read the password from a file: it must be a regular file (symlinks are refused), owned by
 * the effective uid, with no group/other permission bits (0600 or stricter), non-empty and
 * at most 1024 bytes; one trailing newline is dropped. -EPERM, -EINVAL, -ENOENT, ... with
 * a precise message in err (which never contains the password).
 */
int rg_auth_cred_from_file(const char *path, struct rg_auth_cred **out, char *err, size_t errlen);
/* Read the password from an environment variable (non-empty). */
int rg_auth_cred_from_env(const char *name, struct rg_auth_cred **out, char *err, size_t errlen);
/*
 * Once every credential that reads name has been built: overwrite the value bytes of every
 * name= entry of environ in place (so /proc/PID/environ no longer shows it, even for a
 * variable inherited at exec), then unsetenv(name) (so no child inherits it). Not thread
 * safe, like setenv: call before starting threads that may read the environment.
 */
void rg_auth_env_scrub(const char *name);
/* From a buffer (tests, and secrets obtained elsewhere). */
int rg_auth_cred_from_mem(const char *secret, size_t len, struct rg_auth_cred **out);
const char *rg_auth_cred_secret(const struct rg_auth_cred *c, size_t *len);
void rg_auth_cred_free(struct rg_auth_cred *c);

/* ---------------------------------------------------------------- upstream exchanges */

/* md5 response: "md5" + hex(md5(hex(md5(password || user)) || salt)), 35 chars + NUL. */
#define RG_AUTH_MD5_RESPONSE_LEN 36
int rg_auth_md5_response(const char *user, const char *password, size_t pwlen,
			 const uint8_t salt[4], char out[RG_AUTH_MD5_RESPONSE_LEN]);

/* Cleartext response: the password, NUL-terminated. Returns bytes written (without NUL)
 * or -ENOSPC. */
ssize_t rg_auth_cleartext_response(const struct rg_auth_cred *c, char *out, size_t cap);

/*
 * Iteration counts a SCRAM server may ask for. Below MIN is refused (RFC 7677). Above the
 * caller's max_iterations (rg_auth_scram_opts; DEFAULT when 0; never above MAX) is refused
 * too: PBKDF2 runs on the calling (worker) thread, ~0.9 ms per 4096 iterations here, so the
 * cap bounds how long a target can stall a worker per login (docs/auth.md).
 */
#define RG_AUTH_SCRAM_MIN_ITERATIONS 4096
#define RG_AUTH_SCRAM_DEFAULT_MAX_ITERATIONS 100000
#define RG_AUTH_SCRAM_MAX_ITERATIONS 10000000

enum rg_auth_scram_state {
	RG_AUTH_SCRAM_INIT = 0,		/* nothing sent yet; build client-first */
	RG_AUTH_SCRAM_AWAIT_SERVER_FIRST,	/* client-first sent: awaiting salt, nonce, i */
	RG_AUTH_SCRAM_AWAIT_SERVER_FINAL,	/* client-final sent: awaiting v= signature */
	RG_AUTH_SCRAM_DONE,		/* server signature verified */
	RG_AUTH_SCRAM_FAILED,		/* refused; the connection must be dropped */
};

enum rg_auth_scram_err {
	RG_AUTH_SCRAM_OK = 0,
	RG_AUTH_SCRAM_E_STATE,		/* call not valid in the current state */
	RG_AUTH_SCRAM_E_MALFORMED,	/* server message does not parse */
	RG_AUTH_SCRAM_E_EXTENSION,	/* mandatory extension m= we do not support */
	RG_AUTH_SCRAM_E_NONCE,		/* server nonce does not extend ours */
	RG_AUTH_SCRAM_E_ITERATIONS,	/* below 4096 or above the sanity cap */
	RG_AUTH_SCRAM_E_SERVER_ERROR,	/* server-final carried e=... */
	RG_AUTH_SCRAM_E_SIGNATURE,	/* server signature does not verify: not the real server */
	RG_AUTH_SCRAM_E_NOSPC,		/* output buffer too small */
	RG_AUTH_SCRAM_E_INTERNAL,
};

const char *rg_auth_scram_strerror(enum rg_auth_scram_err e);

#define RG_AUTH_SCRAM_NONCE_LEN 24	/* base64 characters of 18 random bytes */

/* Channel binding (RFC 5802 section 6), as the gs2 header states it. */
enum rg_auth_scram_cb {
	RG_AUTH_SCRAM_CB_NONE = 0,	   /* "n,,": no TLS, nothing to bind to */
	RG_AUTH_SCRAM_CB_NOT_OFFERED,	   /* "y,,": TLS, but the server did not offer -PLUS */
	RG_AUTH_SCRAM_CB_SERVER_END_POINT, /* "p=tls-server-end-point,,": SCRAM-SHA-256-PLUS */
};

#define RG_AUTH_SCRAM_CB_MAX 64 /* cb data bytes: the largest digest (SHA-512) */

struct rg_auth_scram_opts {
	enum rg_auth_scram_cb cb;
	/* CB_SERVER_END_POINT only: the RFC 5929 tls-server-end-point hash of the target's
	 * certificate as this connection received it (rg_tls_conn_server_end_point). */
	const uint8_t *cb_data;
	size_t cb_len; /* 1..RG_AUTH_SCRAM_CB_MAX */
	/* Refuse a server asking for more iterations; 0: RG_AUTH_SCRAM_DEFAULT_MAX_ITERATIONS.
	 * Above RG_AUTH_SCRAM_MAX_ITERATIONS is an init error. */
	uint32_t max_iterations;
	/* The credential the password came from, or NULL. When set, its salted-password cache
	 * is consulted and filled: one PBKDF2 per (credential, salt, iterations), lock-free
	 * reads, safe from any number of threads. The credential must outlive the exchange. */
	const struct rg_auth_cred *cred;
};

/* SCRAM-SHA-256 client, with tls-server-end-point channel binding (SCRAM-SHA-256-PLUS) when
 * initialised with it. Secrets inside are cleansed by rg_auth_scram_clear and on failure. */
struct rg_auth_scram {
	enum rg_auth_scram_state state;
	enum rg_auth_scram_cb cb;
	uint8_t cb_data[RG_AUTH_SCRAM_CB_MAX];
	size_t cb_len;
	char cnonce[64];
	char client_first_bare[384];
	size_t client_first_bare_len;
	char server_first[512];
	size_t server_first_len;
	char client_final_wo_proof[640];
	size_t client_final_wo_proof_len;
	uint8_t salted_password[32];
	uint8_t server_signature[32];
	uint32_t max_iterations;
	const struct rg_auth_cred *cred;
	bool cache_hit;			/* client_final reused a cached salted password */
	char *password;			/* owned copy, cleansed */
	size_t password_len;
};

/*
 * Start an exchange. user is sent in n= (PostgreSQL ignores it and uses the startup
 * user, so pass ""); nonce NULL draws 18 bytes from RAND_bytes (tests inject one).
 * The password is copied. Non-ASCII passwords are used as given (no SASLprep).
 */
enum rg_auth_scram_err rg_auth_scram_init(struct rg_auth_scram *s, const char *user,
					  const char *password, size_t pwlen, const char *nonce);
/*
 * The same with channel binding chosen by o (NULL: as rg_auth_scram_init, "n,,"). The gs2
 * header goes first in client-first and, with the cb data, into c= of client-final, which
 * the server's signature covers: a relay that terminates TLS with another certificate
 * cannot complete the exchange. cb_data is copied.
 */
enum rg_auth_scram_err rg_auth_scram_init_opts(struct rg_auth_scram *s, const char *user,
					       const char *password, size_t pwlen,
					       const char *nonce,
					       const struct rg_auth_scram_opts *o);
/* The SASL mechanism name to send with client-first: "SCRAM-SHA-256-PLUS" with channel
 * binding, else "SCRAM-SHA-256". */
const char *rg_auth_scram_mechanism(const struct rg_auth_scram *s);
/* client-first-message (gs2 header, then "n=user,r=nonce") into out; *outlen set. */
enum rg_auth_scram_err rg_auth_scram_client_first(struct rg_auth_scram *s, char *out, size_t cap,
						  size_t *outlen);
/* Consume server-first-message, produce client-final-message with the proof. */
enum rg_auth_scram_err rg_auth_scram_client_final(struct rg_auth_scram *s, const char *server_first,
						  size_t n, char *out, size_t cap, size_t *outlen);
/* Consume server-final-message; RG_AUTH_SCRAM_OK only if the server signature verifies. */
enum rg_auth_scram_err rg_auth_scram_verify_server_final(struct rg_auth_scram *s,
							 const char *server_final, size_t n);
void rg_auth_scram_clear(struct rg_auth_scram *s);

/* ---------------------------------------------------------------- helpers (ctl, tests) */

/* base64url without padding. Returns chars written (NUL added) or -ENOSPC. */
ssize_t rg_auth_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Strict base64url decode (no padding, canonical trailing bits). Bytes or -EINVAL/-ENOSPC. */
ssize_t rg_auth_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap);
/* RFC 7638 thumbprint of an EC P-256 public JWK given its base64url x and y: 43 chars. */
int rg_auth_jwk_thumbprint_ec(const char *x, const char *y, char out[44]);

#endif /* RG_AUTH_H */
