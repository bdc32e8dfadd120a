/*
 * Upstream exchanges: the SCRAM-SHA-256 client reproduces the RFC 7677 section 3 example
 * byte for byte (nonce injected), refuses a server whose signature does not verify, a
 * nonce that does not extend ours, too few iterations, mandatory extensions and calls out
 * of order; md5 and cleartext responses match independently computed values. With channel
 * binding (SCRAM-SHA-256-PLUS, tls-server-end-point) client-first and client-final match
 * values computed independently (Python hashlib from the RFC 5802 formulas), a server-side
 * check written here from the same formulas accepts them, and refuses them when the server's
 * certificate hash differs from the one the client bound to: the relay case.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

#define CNONCE "rOprNGfwEbeRWgbNEkqO"
#define SFIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define CFINAL "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
	       "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void start(struct rg_auth_scram *s)
{
	char out[512];
	size_t n;

	assert_int_equal(rg_auth_scram_init(s, "user", "pencil", 6, CNONCE), RG_AUTH_SCRAM_OK);
	assert_int_equal(rg_auth_scram_client_first(s, out, sizeof(out), &n), RG_AUTH_SCRAM_OK);
	assert_string_equal(out, "n,,n=user,r=" CNONCE);
	assert_int_equal(n, strlen(out));
	assert_int_equal(s->state, RG_AUTH_SCRAM_AWAIT_SERVER_FIRST);
}

static void test_scram_matches_rfc7677_example(void **state)
{
	struct rg_auth_scram s;
	char out[512];
	size_t n;

	(void)state;
	start(&s);
	assert_int_equal(rg_auth_scram_client_final(&s, SFIRST, strlen(SFIRST), out, sizeof(out),
						    &n),
			 RG_AUTH_SCRAM_OK);
	assert_string_equal(out, CFINAL);
	assert_int_equal(n, strlen(CFINAL));
	assert_null(s.password);	/* not kept once salted */
	assert_int_equal(rg_auth_scram_verify_server_final(&s, SFINAL, strlen(SFINAL)),
			 RG_AUTH_SCRAM_OK);
	assert_int_equal(s.state, RG_AUTH_SCRAM_DONE);
	rg_auth_scram_clear(&s);
}

static void test_scram_refuses_bad_server_signature(void **state)
{
	const char *bad = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=";
	const char *bad2 = "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	struct rg_auth_scram s;
	char out[512];
	size_t n;

	(void)state;
	start(&s);
	assert_int_equal(rg_auth_scram_client_final(&s, SFIRST, strlen(SFIRST), out, sizeof(out),
						    &n),
			 RG_AUTH_SCRAM_OK);
	/* 5= is not canonical base64 for the last byte, so it fails to decode: refused. */
	assert_int_equal(rg_auth_scram_verify_server_final(&s, bad, strlen(bad)),
			 RG_AUTH_SCRAM_E_SIGNATURE);
	assert_int_equal(s.state, RG_AUTH_SCRAM_FAILED);
	start(&s);
	assert_int_equal(rg_auth_scram_client_final(&s, SFIRST, strlen(SFIRST), out, sizeof(out),
						    &n),
			 RG_AUTH_SCRAM_OK);
	assert_int_equal(rg_auth_scram_verify_server_final(&s, bad2, strlen(bad2)),
			 RG_AUTH_SCRAM_E_SIGNATURE);
	rg_auth_scram_clear(&s);
}

static void test_scram_refuses_server_error_and_garbage_final(void **state)
{
	struct rg_auth_scram s;
	char out[512];
	size_t n;

	(void)state;
	start(&s);
	assert_int_equal(rg_auth_scram_client_final(&s, SFIRST, strlen(SFIRST), out, sizeof(out),
						    &n),
			 RG_AUTH_SCRAM_OK);
	assert_int_equal(rg_auth_scram_verify_server_final(&s, "e=invalid-proof", 15),
			 RG_AUTH_SCRAM_E_SERVER_ERROR);
	start(&s);
	assert_int_equal(rg_auth_scram_client_final(&s, SFIRST, strlen(SFIRST), out, sizeof(out),
						    &n),
			 RG_AUTH_SCRAM_OK);
	assert_int_equal(rg_auth_scram_verify_server_final(&s, "x", 1), RG_AUTH_SCRAM_E_MALFORMED);
	rg_auth_scram_clear(&s);
}

static void expect_first_refused(const char *sfirst, enum rg_auth_scram_err want)
{
	struct rg_auth_scram s;
	char out[512];
	size_t n;

	start(&s);
	assert_int_equal(rg_auth_scram_client_final(&s, sfirst, strlen(sfirst), out, sizeof(out),
						    &n),
			 want);
	assert_int_equal(s.state, RG_AUTH_SCRAM_FAILED);
	assert_null(s.password);
	rg_auth_scram_clear(&s);
}

static void test_scram_refuses_bad_server_first(void **state)
{
	(void)state;
	expect_first_refused("r=someoneElsesNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			     RG_AUTH_SCRAM_E_NONCE);
	expect_first_refused("r=" CNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			     RG_AUTH_SCRAM_E_NONCE);	/* no server part */
	expect_first_refused("r=" CNONCE "xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
			     RG_AUTH_SCRAM_E_ITERATIONS);
	expect_first_refused("r=" CNONCE "xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
			     RG_AUTH_SCRAM_E_ITERATIONS);
	expect_first_refused("r=" CNONCE "xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
			     RG_AUTH_SCRAM_E_ITERATIONS);
	expect_first_refused("m=ext,r=" CNONCE "xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			     RG_AUTH_SCRAM_E_EXTENSION);
	expect_first_refused("r=" CNONCE "xyz,s=not base64!,i=4096", RG_AUTH_SCRAM_E_MALFORMED);
	expect_first_refused("r=" CNONCE "xyz,s=,i=4096", RG_AUTH_SCRAM_E_MALFORMED);
	expect_first_refused("r=" CNONCE "xyz,i=4096", RG_AUTH_SCRAM_E_MALFORMED);
	expect_first_refused("r=" CNONCE "xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4x96",
			     RG_AUTH_SCRAM_E_MALFORMED);
	expect_first_refused("", RG_AUTH_SCRAM_E_MALFORMED);
}

static void test_scram_calls_out_of_order_fail(void **state)
{
	struct rg_auth_scram s;
	char out[512];
	size_t n;

	(void)state;
	assert_int_equal(rg_auth_scram_init(&s, "", "pw", 2, NULL), RG_AUTH_SCRAM_OK);
	assert_int_equal(rg_auth_scram_client_final(&s, SFIRST, strlen(SFIRST), out, sizeof(out),
						    &n),
			 RG_AUTH_SCRAM_E_STATE);
	assert_int_equal(s.state, RG_AUTH_SCRAM_FAILED);
	rg_auth_scram_clear(&s);
}

static void test_scram_random_nonce_and_escaped_user(void **state)
{
	struct rg_auth_scram a, b;
	char out[512];
	size_t n;

	(void)state;
	assert_int_equal(rg_auth_scram_init(&a, "a,b=c", "pw", 2, NULL), RG_AUTH_SCRAM_OK);
	assert_int_equal(rg_auth_scram_init(&b, "", "pw", 2, NULL), RG_AUTH_SCRAM_OK);
	assert_int_equal(strlen(a.cnonce), RG_AUTH_SCRAM_NONCE_LEN);
	assert_string_not_equal(a.cnonce, b.cnonce);
	assert_null(strchr(a.cnonce, ','));
	assert_int_equal(rg_auth_scram_client_first(&a, out, sizeof(out), &n), RG_AUTH_SCRAM_OK);
	assert_true(strncmp(out, "n,,n=a=2Cb=3Dc,r=", 17) == 0);
	assert_int_equal(rg_auth_scram_client_first(&b, out, sizeof(out), &n), RG_AUTH_SCRAM_OK);
	assert_true(strncmp(out, "n,,n=,r=", 8) == 0);
	rg_auth_scram_clear(&a);
	rg_auth_scram_clear(&b);
}

/* ---- channel binding -------------------------------------------------------------------- */

#define GS2_PLUS "p=tls-server-end-point,,"
/* c= for GS2_PLUS + bytes 0..31 (a SHA-256 end-point hash) and 0..47 (SHA-384). */
#define CB32_C "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define CB48_C                                                                                     \
	"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"           \
	"ISIjJCUmJygpKissLS4v"
#define SNONCE "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define CFINAL_CB32 CB32_C "," SNONCE ",p=nY1Wus9a+gM2DrbQ1msXFgyhW6KM5ktOxWiU+/P/EGY="
#define SFINAL_CB32 "v=RwppMGddhz/J0lFYaRReBjXcQeNUFP5Qc76Lo5Exrig="
#define CFINAL_CB48 CB48_C "," SNONCE ",p=1ht2qQmRrdPQlcTqKFub99DhWWmiWO2f8Fra5qHa5bk="
#define SFINAL_CB48 "v=x5IxXONrzxiCfk1KvSYVDZV1ghsvS5BQA2qZ87P1xls="
#define CFINAL_Y "c=eSws," SNONCE ",p=FoqiHTtQEDE8lz1CdaEe3tK4mS+iMDTl77SPyDS53DY="
#define SFINAL_Y "v=dI4KpiQJwBr1+V+K6U1dA6l6I4I9DUNXWND4pcpRU3U="

static void bytes_upto(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)i;
}

/*
 * What a SCRAM-SHA-256-PLUS server does with client-final (RFC 5802 section 3 and 6, as
 * PostgreSQL's read_client_final_message / verify_client_proof): c= must be base64 of the
 * gs2 header it saw and ITS OWN certificate hash, and the proof must verify against
 * StoredKey over AuthMessage, which includes c=. cb NULL: the "n,," / "y,," checks instead.
 */
static bool server_accepts(const char *gs2, const uint8_t *cb, size_t cb_len,
			   const char *client_final)
{
	uint8_t salt[16], salted[32], ck[32], sk[32], sig[32], proof[48], key[32], want_sk[32];
	uint8_t cbind[128];
	char c64[200], am[1024], bare[128];
	const char *p_at = strstr(client_final, ",p=");
	unsigned int len;
	size_t gl = strlen(gs2);

	if (!p_at ||
	    EVP_DecodeBlock(salt, (const unsigned char *)"W22ZaJ0SNY7soEsUEjb6gQ==", 24) != 18)
		return false;
	memcpy(cbind, gs2, gl);
	if (cb_len)
		memcpy(cbind + gl, cb, cb_len);
	EVP_EncodeBlock((unsigned char *)c64, cbind, (int)(gl + cb_len));
	if (strncmp(client_final, "c=", 2) != 0 ||
	    strlen(c64) != (size_t)(strchr(client_final, ',') - client_final - 2) ||
	    memcmp(client_final + 2, c64, strlen(c64)) != 0)
		return false; /* "SCRAM channel binding check failed" */
	/* The server's side of the exchange: verifier from the password, then the proof. */
	if (PKCS5_PBKDF2_HMAC("pencil", 6, salt, 16, 4096, EVP_sha256(), 32, salted) != 1 ||
	    !HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Client Key", 10, ck, &len) ||
	    !EVP_Digest(ck, 32, want_sk, NULL, EVP_sha256(), NULL))
		return false;
	snprintf(bare, sizeof(bare), "n=user,r=%s", CNONCE);
	snprintf(am, sizeof(am), "%s,%s,%.*s", bare, SFIRST, (int)(p_at - client_final),
		 client_final);
	if (EVP_DecodeBlock(proof, (const unsigned char *)p_at + 3, (int)strlen(p_at + 3)) != 33 ||
	    !HMAC(EVP_sha256(), want_sk, 32, (const uint8_t *)am, strlen(am), sig, &len))
		return false;
	for (int i = 0; i < 32; i++)
		key[i] = proof[i] ^ sig[i];
	if (!EVP_Digest(key, 32, sk, NULL, EVP_sha256(), NULL))
		return false;
	return CRYPTO_memcmp(sk, want_sk, 32) == 0;
}

static void start_cb(struct rg_auth_scram *s, enum rg_auth_scram_cb cb, const uint8_t *data,
		     size_t len, const char *want_first)
{
	struct rg_auth_scram_opts o = {.cb = cb, .cb_data = data, .cb_len = len};
	char out[512];
	size_t n;

	assert_int_equal(rg_auth_scram_init_opts(s, "user", "pencil", 6, CNONCE, &o),
			 RG_AUTH_SCRAM_OK);
	assert_int_equal(rg_auth_scram_client_first(s, out, sizeof(out), &n), RG_AUTH_SCRAM_OK);
	assert_string_equal(out, want_first);
	assert_int_equal(n, strlen(want_first));
}

static void plus_exchange(size_t cb_len, const char *want_final, const char *sfinal)
{
	struct rg_auth_scram s;
	uint8_t cb[64];
	char out[768];
	size_t n;

	bytes_upto(cb, cb_len);
	start_cb(&s, RG_AUTH_SCRAM_CB_SERVER_END_POINT, cb, cb_len, GS2_PLUS "n=user,r=" CNONCE);
	assert_string_equal(rg_auth_scram_mechanism(&s), "SCRAM-SHA-256-PLUS");
	assert_int_equal(
	    rg_auth_scram_client_final(&s, SFIRST, strlen(SFIRST), out, sizeof(out), &n),
	    RG_AUTH_SCRAM_OK);
	assert_string_equal(out, want_final);
	assert_int_equal(n, strlen(want_final));
	assert_true(server_accepts(GS2_PLUS, cb, cb_len, out));
	/* Server-signature verification stays mandatory with channel binding. */
	assert_int_equal(rg_auth_scram_verify_server_final(&s, SFINAL, strlen(SFINAL)),
			 RG_AUTH_SCRAM_E_SIGNATURE);
	start_cb(&s, RG_AUTH_SCRAM_CB_SERVER_END_POINT, cb, cb_len, GS2_PLUS "n=user,r=" CNONCE);
	assert_int_equal(
	    rg_auth_scram_client_final(&s, SFIRST, strlen(SFIRST), out, sizeof(out), &n),
	    RG_AUTH_SCRAM_OK);
	assert_int_equal(rg_auth_scram_verify_server_final(&s, sfinal, strlen(sfinal)),
			 RG_AUTH_SCRAM_OK);
	assert_int_equal(s.state, RG_AUTH_SCRAM_DONE);
	rg_auth_scram_clear(&s);
}

static void test_scram_plus_matches_independent_computation(void **state)
{
	(void)state;
	plus_exchange(32, CFINAL_CB32, SFINAL_CB32); /* SHA-256 end-point hash */
	plus_exchange(48, CFINAL_CB48, SFINAL_CB48); /* SHA-384 */
}

static void test_scram_plus_other_certificate_fails_server_check(void **state)
{
	struct rg_auth_scram s;
	uint8_t ours[32], theirs[32];
	char out[768], forged[768];
	size_t n;

	(void)state;
	bytes_upto(ours, 32);
	memcpy(theirs, ours, 32);
	theirs[31] ^= 0x80; /* the certificate the real server holds differs from the relay's */
	start_cb(&s, RG_AUTH_SCRAM_CB_SERVER_END_POINT, ours, 32, GS2_PLUS "n=user,r=" CNONCE);
	assert_int_equal(
	    rg_auth_scram_client_final(&s, SFIRST, strlen(SFIRST), out, sizeof(out), &n),
	    RG_AUTH_SCRAM_OK);
	assert_true(server_accepts(GS2_PLUS, ours, 32, out));
	assert_false(server_accepts(GS2_PLUS, theirs, 32, out));
	/* A relay rewriting c= to the real server's hash breaks the proof, which covers c=. */
	{
		uint8_t cbind[24 + 32];
		char c64[100];

		memcpy(cbind, GS2_PLUS, 24);
		memcpy(cbind + 24, theirs, 32);
		EVP_EncodeBlock((unsigned char *)c64, cbind, sizeof(cbind));
		snprintf(forged, sizeof(forged), "c=%s%s", c64, strchr(out, ','));
		assert_false(server_accepts(GS2_PLUS, theirs, 32, forged));
	}
	/* An unbound client-final is refused by a server that saw a -PLUS gs2 header. */
	assert_false(server_accepts(GS2_PLUS, ours, 32, CFINAL));
	rg_auth_scram_clear(&s);
}

static void test_scram_gs2_y_when_plus_not_offered(void **state)
{
	struct rg_auth_scram s;
	char out[768];
	size_t n;

	(void)state;
	start_cb(&s, RG_AUTH_SCRAM_CB_NOT_OFFERED, NULL, 0, "y,,n=user,r=" CNONCE);
	assert_string_equal(rg_auth_scram_mechanism(&s), "SCRAM-SHA-256");
	assert_int_equal(
	    rg_auth_scram_client_final(&s, SFIRST, strlen(SFIRST), out, sizeof(out), &n),
	    RG_AUTH_SCRAM_OK);
	assert_string_equal(out, CFINAL_Y);
	assert_true(server_accepts("y,,", NULL, 0, out));
	assert_int_equal(rg_auth_scram_verify_server_final(&s, SFINAL_Y, strlen(SFINAL_Y)),
			 RG_AUTH_SCRAM_OK);
	rg_auth_scram_clear(&s);
	/* CB_NONE through the options is today's "n,,": the RFC 7677 example again. */
	start_cb(&s, RG_AUTH_SCRAM_CB_NONE, NULL, 0, "n,,n=user,r=" CNONCE);
	assert_string_equal(rg_auth_scram_mechanism(&s), "SCRAM-SHA-256");
	assert_int_equal(
	    rg_auth_scram_client_final(&s, SFIRST, strlen(SFIRST), out, sizeof(out), &n),
	    RG_AUTH_SCRAM_OK);
	assert_string_equal(out, CFINAL);
	assert_true(server_accepts("n,,", NULL, 0, out));
	rg_auth_scram_clear(&s);
}

static void test_scram_plus_refuses_missing_cb_data(void **state)
{
	uint8_t cb[65] = {0};
	struct rg_auth_scram_opts o[] = {
	    {.cb = RG_AUTH_SCRAM_CB_SERVER_END_POINT, .cb_data = NULL, .cb_len = 32},
	    {.cb = RG_AUTH_SCRAM_CB_SERVER_END_POINT, .cb_data = cb, .cb_len = 0},
	    {.cb = RG_AUTH_SCRAM_CB_SERVER_END_POINT, .cb_data = cb, .cb_len = 65},
	    {.cb = (enum rg_auth_scram_cb)7},
	};
	struct rg_auth_scram s;

	(void)state;
	for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
		assert_int_equal(rg_auth_scram_init_opts(&s, "", "pw", 2, NULL, &o[i]),
				 RG_AUTH_SCRAM_E_INTERNAL);
		assert_int_equal(s.state, RG_AUTH_SCRAM_FAILED);
		rg_auth_scram_clear(&s);
	}
}

/* Client-final for server-first sfirst with opts o, or the refusal. */
static enum rg_auth_scram_err final_with(const struct rg_auth_scram_opts *o, const char *pw,
					 const char *sfirst, char *out, size_t cap,
					 struct rg_auth_scram *s)
{
	char first[512];
	size_t n;

	assert_int_equal(rg_auth_scram_init_opts(s, "user", pw, strlen(pw), CNONCE, o),
			 RG_AUTH_SCRAM_OK);
	assert_int_equal(rg_auth_scram_client_first(s, first, sizeof(first), &n),
			 RG_AUTH_SCRAM_OK);
	return rg_auth_scram_client_final(s, sfirst, strlen(sfirst), out, cap, &n);
}

#define SF_ITER(i) "r=" CNONCE "xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=" #i

/* PBKDF2 runs on the worker: the iteration count a target may demand is capped, by default
 * at RG_AUTH_SCRAM_DEFAULT_MAX_ITERATIONS, and per caller (targets[].scram_max_iterations). */
static void test_scram_iteration_cap_defaults_and_is_per_caller(void **state)
{
	struct rg_auth_scram_opts o = {.cb = RG_AUTH_SCRAM_CB_NONE};
	struct rg_auth_scram s;
	char out[512];

	(void)state;
	assert_int_equal(RG_AUTH_SCRAM_DEFAULT_MAX_ITERATIONS, 100000);
	assert_int_equal(final_with(NULL, "pencil", SF_ITER(100001), out, sizeof(out), &s),
			 RG_AUTH_SCRAM_E_ITERATIONS);
	assert_int_equal(final_with(&o, "pencil", SF_ITER(10000000), out, sizeof(out), &s),
			 RG_AUTH_SCRAM_E_ITERATIONS);	/* once accepted: ~2 s of PBKDF2 */
	assert_int_equal(final_with(&o, "pencil", SF_ITER(100000), out, sizeof(out), &s),
			 RG_AUTH_SCRAM_OK);
	rg_auth_scram_clear(&s);
	o.max_iterations = 8192;
	assert_int_equal(final_with(&o, "pencil", SF_ITER(8193), out, sizeof(out), &s),
			 RG_AUTH_SCRAM_E_ITERATIONS);
	assert_int_equal(final_with(&o, "pencil", SF_ITER(8192), out, sizeof(out), &s),
			 RG_AUTH_SCRAM_OK);
	rg_auth_scram_clear(&s);
	o.max_iterations = 200000;
	assert_int_equal(final_with(&o, "pencil", SF_ITER(150000), out, sizeof(out), &s),
			 RG_AUTH_SCRAM_OK);
	rg_auth_scram_clear(&s);
	/* a cap outside MIN..MAX is the caller's bug */
	o.max_iterations = RG_AUTH_SCRAM_MAX_ITERATIONS + 1;
	assert_int_equal(rg_auth_scram_init_opts(&s, "", "pencil", 6, CNONCE, &o),
			 RG_AUTH_SCRAM_E_INTERNAL);
	o.max_iterations = 4095;
	assert_int_equal(rg_auth_scram_init_opts(&s, "", "pencil", 6, CNONCE, &o),
			 RG_AUTH_SCRAM_E_INTERNAL);
}

static char *sfirst_salt(int k)
{
	uint8_t salt[16];
	char b64[32], *sf = malloc(160);

	memset(salt, k, sizeof(salt));
	EVP_EncodeBlock((unsigned char *)b64, salt, sizeof(salt));
	snprintf(sf, 160, "r=" CNONCE "xyz,s=%s,i=4096", b64);
	return sf;
}

/* Repeated logins to one target reuse the salted password: same bytes on the wire, no
 * PBKDF2; another salt, count or credential is a miss; the cache holds a bounded number. */
static void test_scram_salted_password_is_cached_per_credential(void **state)
{
	struct rg_auth_cred *cred, *other;
	struct rg_auth_scram_opts o = {.cb = RG_AUTH_SCRAM_CB_NONE};
	struct rg_auth_scram s;
	char out[512], want[512];
	char *sf[RG_AUTH_CRED_SALT_CACHE + 1];

	(void)state;
	assert_int_equal(rg_auth_cred_from_mem("pencil", 6, &cred), 0);
	assert_int_equal(rg_auth_cred_from_mem("pencil", 6, &other), 0);
	o.cred = cred;
	/* the RFC 7677 exchange, twice: a miss, then a hit with the same proof */
	assert_int_equal(final_with(&o, "pencil", SFIRST, out, sizeof(out), &s),
			 RG_AUTH_SCRAM_OK);
	assert_false(s.cache_hit);
	rg_auth_scram_clear(&s);
	assert_int_equal(final_with(&o, "pencil", SFIRST, out, sizeof(out), &s),
			 RG_AUTH_SCRAM_OK);
	assert_true(s.cache_hit);
	assert_string_equal(out, CFINAL);
	assert_int_equal(rg_auth_scram_verify_server_final(&s, SFINAL, strlen(SFINAL)),
			 RG_AUTH_SCRAM_OK);
	rg_auth_scram_clear(&s);
	/* another credential does not see it; no credential, no cache */
	o.cred = other;
	assert_int_equal(final_with(&o, "pencil", SFIRST, out, sizeof(out), &s),
			 RG_AUTH_SCRAM_OK);
	assert_false(s.cache_hit);
	rg_auth_scram_clear(&s);
	assert_int_equal(final_with(NULL, "pencil", SFIRST, out, sizeof(out), &s),
			 RG_AUTH_SCRAM_OK);
	assert_false(s.cache_hit);
	rg_auth_scram_clear(&s);
	/* the same salt with another count is another key */
	o.cred = cred;
	assert_int_equal(final_with(&o, "pencil", SF_ITER(4097), out, sizeof(out), &s),
			 RG_AUTH_SCRAM_OK);
	assert_false(s.cache_hit);
	rg_auth_scram_clear(&s);
	/* bounded: after CACHE + 1 new salts the oldest is gone, the newest still there */
	for (int k = 0; k <= RG_AUTH_CRED_SALT_CACHE; k++) {
		sf[k] = sfirst_salt(k + 1);
		assert_int_equal(final_with(&o, "pencil", sf[k], out, sizeof(out), &s),
				 RG_AUTH_SCRAM_OK);
		assert_false(s.cache_hit);
		rg_auth_scram_clear(&s);
	}
	assert_int_equal(final_with(&o, "pencil", sf[RG_AUTH_CRED_SALT_CACHE], out, sizeof(out),
				    &s),
			 RG_AUTH_SCRAM_OK);
	assert_true(s.cache_hit);
	rg_auth_scram_clear(&s);
	assert_int_equal(final_with(&o, "pencil", sf[0], want, sizeof(want), &s),
			 RG_AUTH_SCRAM_OK);
	assert_false(s.cache_hit);
	rg_auth_scram_clear(&s);
	for (int k = 0; k <= RG_AUTH_CRED_SALT_CACHE; k++)
		free(sf[k]);
	rg_auth_cred_free(cred);
	rg_auth_cred_free(other);
}

struct racer {
	struct rg_auth_cred *cred;
	char *const *sf;
	char (*want)[512];
	int n_salts, bad, hits;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct rg_auth_scram_opts o = {.cb = RG_AUTH_SCRAM_CB_NONE, .cred = r->cred};

	for (int i = 0; i < 120; i++) {
		struct rg_auth_scram s;
		char first[512], out[512];
		int k = i % r->n_salts;
		size_t n;

		if (rg_auth_scram_init_opts(&s, "user", "pencil", 6, CNONCE, &o) ||
		    rg_auth_scram_client_first(&s, first, sizeof(first), &n) ||
		    rg_auth_scram_client_final(&s, r->sf[k], strlen(r->sf[k]), out, sizeof(out),
					       &n) ||
		    strcmp(out, r->want[k]) != 0)
			r->bad++;
		r->hits += s.cache_hit;
		rg_auth_scram_clear(&s);
	}
	return NULL;
}

/* Workers share a target's credential: concurrent hits and replacements (more salts than
 * slots) never yield a wrong salted password, and most logins are hits. */
static void test_scram_cache_is_safe_across_threads(void **state)
{
	enum { SALTS = RG_AUTH_CRED_SALT_CACHE + 2, THREADS = 4 };
	char *sf[SALTS], want[SALTS][512];
	struct racer r[THREADS];
	pthread_t t[THREADS];
	struct rg_auth_cred *cred;
	struct rg_auth_scram s;

	(void)state;
	assert_int_equal(rg_auth_cred_from_mem("pencil", 6, &cred), 0);
	for (int k = 0; k < SALTS; k++) {
		sf[k] = sfirst_salt(0x40 + k);
		assert_int_equal(final_with(NULL, "pencil", sf[k], want[k], sizeof(want[k]), &s),
				 RG_AUTH_SCRAM_OK);
		rg_auth_scram_clear(&s);
	}
	for (int i = 0; i < THREADS; i++) {
		/* two threads over all salts (churn), two over the first two (hits) */
		r[i] = (struct racer){.cred = cred, .sf = sf, .want = want,
				      .n_salts = i < 2 ? SALTS : 2};
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].bad, 0);
	}
	assert_true(r[2].hits + r[3].hits > 0);
	for (int k = 0; k < SALTS; k++)
		free(sf[k]);
	rg_auth_cred_free(cred);
}

static void test_md5_response_matches_postgres_formula(void **state)
{
	static const uint8_t salt[4] = { 1, 2, 3, 4 };
	char out[RG_AUTH_MD5_RESPONSE_LEN];

	(void)state;
	/* "md5" + md5(hex(md5("s3cret" "alice")) + salt), computed independently. */
	assert_int_equal(rg_auth_md5_response("alice", "s3cret", 6, salt, out), 0);
	assert_string_equal(out, "md5b79948bbeb35dee03ab8fe15a839030b");
}

static void test_cleartext_response_is_the_password(void **state)
{
	struct rg_auth_cred *c;
	char out[16];

	(void)state;
	assert_int_equal(rg_auth_cred_from_mem("hunter2", 7, &c), 0);
	assert_int_equal(rg_auth_cleartext_response(c, out, sizeof(out)), 7);
	assert_string_equal(out, "hunter2");
	assert_int_equal(rg_auth_cleartext_response(c, out, 7), -ENOSPC);
	rg_auth_cred_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scram_matches_rfc7677_example),
		cmocka_unit_test(test_scram_refuses_bad_server_signature),
		cmocka_unit_test(test_scram_refuses_server_error_and_garbage_final),
		cmocka_unit_test(test_scram_refuses_bad_server_first),
		cmocka_unit_test(test_scram_calls_out_of_order_fail),
		cmocka_unit_test(test_scram_random_nonce_and_escaped_user),
		cmocka_unit_test(test_scram_plus_matches_independent_computation),
		cmocka_unit_test(test_scram_plus_other_certificate_fails_server_check),
		cmocka_unit_test(test_scram_gs2_y_when_plus_not_offered),
		cmocka_unit_test(test_scram_plus_refuses_missing_cb_data),
		cmocka_unit_test(test_scram_iteration_cap_defaults_and_is_per_caller),
		cmocka_unit_test(test_scram_salted_password_is_cached_per_credential),
		cmocka_unit_test(test_scram_cache_is_safe_across_threads),
		cmocka_unit_test(test_md5_response_matches_postgres_formula),
		cmocka_unit_test(test_cleartext_response_is_the_password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
