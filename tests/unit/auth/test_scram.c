/*
 * Upstream exchanges: the SCRAM-SHA-256 client reproduces the RFC 7677 section 3 example
 * byte for byte (nonce injected), refuses a server whose signature does not verify, a
 * nonce that does not extend ours, too few iterations, mandatory extensions and calls out
 * of order; md5 and cleartext responses match independently computed values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
		cmocka_unit_test(test_md5_response_matches_postgres_formula),
		cmocka_unit_test(test_cleartext_response_is_the_password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
