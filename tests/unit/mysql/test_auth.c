/*
 * Known-answer tests for engine/proto/mysql/auth.c. The vectors (vectors.h) come from
 * gen_vectors.py: Python's hashlib for mysql_native_password and caching_sha2_password,
 * an Ed25519 written from RFC 8032's equations for MariaDB's client_ed25519 (checked there
 * against the `cryptography` package). Independently of those, this file checks that for a
 * 32-byte password client_ed25519 equals OpenSSL's RFC 8032 signature with that password as
 * the seed, that every signature verifies with OpenSSL under the derived public key, and
 * that the RSA-OAEP ciphertext decrypts with OpenSSL to (password + NUL) XOR scramble.
 * caching_sha2_password has no server side in MariaDB: these known answers (and the two
 * vectors published by go-sql-driver/mysql, a third-party check of the formula itself) are
 * its only test until a scripted server exists (tests/integ covers native and ed25519 for
 * real).
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "kit.h"
#include "vectors.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_native_password_known_answers(void **state)
{
	uint8_t out[20];
	(void)state;

	for (size_t i = 0; i < N(kat_native); i++) {
		assert_int_equal(rg_my_native_password(kat_native[i].scramble, 20, kat_native[i].pw,
						       kat_native[i].pw_len, out),
				 20);
		assert_memory_equal(out, kat_native[i].out, 20);
		assert_int_equal(rg_my_native_password(kat_native_b[i].scramble, 21,
						       kat_native_b[i].pw, kat_native_b[i].pw_len,
						       out),
				 20);
		assert_memory_equal(out, kat_native_b[i].out, 20);
	}
	/* empty password: empty response; short scramble refused */
	assert_int_equal(rg_my_native_password(kat_native[0].scramble, 20, "", 0, out), 0);
	assert_int_equal(rg_my_native_password(kat_native[0].scramble, 8, "x", 1, out),
			 RG_MY_E_ARG);
}

static void test_caching_sha2_fast_path_known_answers(void **state)
{
	uint8_t out[32];
	(void)state;

	for (size_t i = 0; i < N(kat_sha2); i++) {
		assert_int_equal(rg_my_sha2_scramble(kat_sha2[i].scramble, 20, kat_sha2[i].pw,
						     kat_sha2[i].pw_len, out),
				 32);
		assert_memory_equal(out, kat_sha2[i].out, 32);
		assert_int_equal(rg_my_sha2_scramble(kat_sha2_b[i].scramble, 21, kat_sha2_b[i].pw,
						     kat_sha2_b[i].pw_len, out),
				 32);
		assert_memory_equal(out, kat_sha2_b[i].out, 32);
	}
	assert_int_equal(rg_my_sha2_scramble(kat_sha2[0].scramble, 20, "", 0, out), 0);
	assert_int_equal(rg_my_sha2_scramble(kat_sha2[0].scramble, 19, "x", 1, out), RG_MY_E_ARG);
}

/* A third-party cross-check of the formula (not of our Python): the two vectors published in
 * go-sql-driver/mysql's auth_test.go (TestSHA256Pass), which that driver's users log in to
 * MySQL 8 with. */
static void test_caching_sha2_matches_a_published_driver_vector(void **state)
{
	static const uint8_t scramble[20] = {10,  47, 74, 111, 75, 73, 34, 48, 88, 76,
					     114, 74, 37, 13,  3,  80, 82, 2,  23, 21};
	static const uint8_t secret[32] = {0xf4, 0x90, 0xe7, 0x6f, 0x66, 0xd9, 0xd8, 0x66,
					   0x65, 0xce, 0x54, 0xd9, 0x8c, 0x78, 0xd0, 0xac,
					   0xfe, 0x2f, 0xb0, 0xb0, 0x8b, 0x42, 0x3d, 0xa8,
					   0x07, 0x14, 0x48, 0x73, 0xd3, 0x0b, 0x31, 0x2c};
	static const uint8_t secret2[32] = {0xab, 0xc3, 0x93, 0x4a, 0x01, 0x2c, 0xf3, 0x42,
					    0xe8, 0x76, 0x07, 0x1c, 0x8e, 0xe2, 0x02, 0xde,
					    0x51, 0x78, 0x5b, 0x43, 0x02, 0x58, 0xa7, 0xa0,
					    0x13, 0x8b, 0xc7, 0x9c, 0x4d, 0x80, 0x0b, 0xc6};
	uint8_t out[32];
	(void)state;

	assert_int_equal(rg_my_sha2_scramble(scramble, 20, "secret", 6, out), 32);
	assert_memory_equal(out, secret, 32);
	assert_int_equal(rg_my_sha2_scramble(scramble, 20, "secret2", 7, out), 32);
	assert_memory_equal(out, secret2, 32);
}

static void test_caching_sha2_full_auth_cleartext_over_tls(void **state)
{
	uint8_t out[16];
	(void)state;

	assert_int_equal(rg_my_sha2_cleartext("secret", 6, out, sizeof(out)), 7);
	assert_memory_equal(out, "secret\0", 7);
	assert_int_equal(rg_my_sha2_cleartext("0123456789abcdef", 16, out, sizeof(out)),
			 RG_MY_E_ARG);
	assert_int_equal(rg_my_sha2_cleartext("a\0b", 3, out, sizeof(out)), RG_MY_E_ARG);
}

static void test_caching_sha2_rsa_oaep_decrypts_to_xored_password(void **state)
{
	uint8_t ct[512], pt[512];
	size_t ptlen = sizeof(pt);
	BIO *bio = BIO_new_mem_buf(rsa_priv_pem, -1);
	EVP_PKEY *priv = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(priv, NULL);
	int n;
	(void)state;

	assert_non_null(priv);
	n = rg_my_sha2_rsa(rsa_pub_pem, strlen(rsa_pub_pem), rsa_scramble, 20, rsa_pw,
			   strlen(rsa_pw), ct, sizeof(ct));
	assert_int_equal(n, 256);
	assert_non_null(ctx);
	assert_true(EVP_PKEY_decrypt_init(ctx) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) > 0);
	assert_true(EVP_PKEY_decrypt(ctx, pt, &ptlen, ct, (size_t)n) > 0);
	assert_int_equal(ptlen, sizeof(rsa_plain));
	assert_memory_equal(pt, rsa_plain, sizeof(rsa_plain));
	/* OAEP is randomized: two encryptions differ */
	{
		uint8_t ct2[512];

		assert_int_equal(rg_my_sha2_rsa(rsa_pub_pem, strlen(rsa_pub_pem), rsa_scramble, 20,
						rsa_pw, strlen(rsa_pw), ct2, sizeof(ct2)),
				 256);
		assert_memory_not_equal(ct, ct2, 256);
	}
	/* a private key or garbage is not a public key; too small an output; NUL in pw */
	assert_int_equal(rg_my_sha2_rsa(rsa_priv_pem, strlen(rsa_priv_pem), rsa_scramble, 20,
					rsa_pw, 3, ct, sizeof(ct)),
			 RG_MY_E_CRYPTO);
	assert_int_equal(rg_my_sha2_rsa("garbage", 7, rsa_scramble, 20, rsa_pw, 3, ct, sizeof(ct)),
			 RG_MY_E_CRYPTO);
	assert_int_equal(
	    rg_my_sha2_rsa(rsa_pub_pem, strlen(rsa_pub_pem), rsa_scramble, 20, rsa_pw, 3, ct, 100),
	    RG_MY_E_ARG);
	assert_int_equal(rg_my_sha2_rsa(rsa_pub_pem, strlen(rsa_pub_pem), rsa_scramble, 20, "a\0b",
					3, ct, sizeof(ct)),
			 RG_MY_E_ARG);
	/* a password too long for OAEP with a 2048-bit key (256 - 42 bytes of room) */
	{
		char longpw[300];

		memset(longpw, 'p', sizeof(longpw));
		assert_int_equal(rg_my_sha2_rsa(rsa_pub_pem, strlen(rsa_pub_pem), rsa_scramble, 20,
						longpw, sizeof(longpw), ct, sizeof(ct)),
				 RG_MY_E_CRYPTO);
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(priv);
	BIO_free(bio);
}

static void sha(const EVP_MD *md, const void *a, size_t alen, const void *b, size_t blen,
		uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_true(EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, a, alen) &&
		    EVP_DigestUpdate(ctx, b, blen) && EVP_DigestFinal_ex(ctx, out, NULL));
	EVP_MD_CTX_free(ctx);
}

/*
 * The servers' side of the two scrambles, written from their definition: the server keeps
 * only H(H(pw)); from a response r it recovers the candidate H(pw) = r XOR H(stored, scramble)
 * (native: SHA-1 of scramble then stored; caching_sha2: SHA-256 of stored then scramble) and
 * accepts when H(candidate) == stored. A wrong password or a scramble other than the one
 * sent must fail.
 */
static bool server_accepts(const EVP_MD *md, size_t len, bool stored_first, const char *pw,
			   const uint8_t *scramble, const uint8_t *resp)
{
	uint8_t h1[32], stored[32], mask[32], cand[32], check[32];

	sha(md, pw, strlen(pw), "", 0, h1);
	sha(md, h1, len, "", 0, stored);
	if (stored_first)
		sha(md, stored, len, scramble, 20, mask);
	else
		sha(md, scramble, 20, stored, len, mask);
	for (size_t i = 0; i < len; i++)
		cand[i] = resp[i] ^ mask[i];
	sha(md, cand, len, "", 0, check);
	return !memcmp(check, stored, len);
}

static void test_scrambles_verify_the_way_servers_verify_them(void **state)
{
	uint8_t scr[20], other[20], r[32];
	(void)state;

	for (int i = 0; i < 20; i++) {
		scr[i] = (uint8_t)(i * 13 + 1);
		other[i] = (uint8_t)(i * 13 + 2);
	}
	assert_int_equal(rg_my_native_password(scr, 20, "hunter2", 7, r), 20);
	assert_true(server_accepts(EVP_sha1(), 20, false, "hunter2", scr, r));
	assert_false(server_accepts(EVP_sha1(), 20, false, "hunter3", scr, r));
	assert_false(server_accepts(EVP_sha1(), 20, false, "hunter2", other, r));
	assert_int_equal(rg_my_sha2_scramble(scr, 20, "hunter2", 7, r), 32);
	assert_true(server_accepts(EVP_sha256(), 32, true, "hunter2", scr, r));
	assert_false(server_accepts(EVP_sha256(), 32, true, "hunter3", scr, r));
	assert_false(server_accepts(EVP_sha256(), 32, false, "hunter2", scr, r));
}

/* The caching_sha2 exchange after the scramble: what the client answers to AuthMoreData. */
static void test_caching_sha2_answer_to_more_data(void **state)
{
	uint8_t out[512];
	const uint8_t fast = RG_MY_SHA2_FAST_AUTH_OK, full = RG_MY_SHA2_FULL_AUTH;
	const char *pem = rsa_pub_pem;
	(void)state;

	assert_int_equal(rg_my_sha2_answer(&fast, 1, false, NULL, 0, rsa_scramble, 20, "pw", 2, out,
					   sizeof(out)),
			 0);
	assert_int_equal(
	    rg_my_sha2_answer(&full, 1, true, NULL, 0, rsa_scramble, 20, "pw", 2, out, sizeof(out)),
	    3);
	assert_memory_equal(out, "pw\0", 3);
	assert_int_equal(rg_my_sha2_answer(&full, 1, false, pem, strlen(pem), rsa_scramble, 20,
					   "pw", 2, out, sizeof(out)),
			 256);
	/* plaintext without a pinned key: refused, never "ask the server for its key" */
	assert_int_equal(rg_my_sha2_answer(&full, 1, false, NULL, 0, rsa_scramble, 20, "pw", 2, out,
					   sizeof(out)),
			 RG_MY_E_PROTOCOL);
	/* a key the server pushes, an unknown code, nothing */
	assert_int_equal(rg_my_sha2_answer((const uint8_t *)pem, strlen(pem), false, NULL, 0,
					   rsa_scramble, 20, "pw", 2, out, sizeof(out)),
			 RG_MY_E_VALUE);
	assert_int_equal(rg_my_sha2_answer(BYTES(2), 1, true, NULL, 0, rsa_scramble, 20, "pw", 2,
					   out, sizeof(out)),
			 RG_MY_E_VALUE);
	assert_int_equal(rg_my_sha2_answer(BYTES(0), 0, true, NULL, 0, rsa_scramble, 20, "pw", 2,
					   out, sizeof(out)),
			 RG_MY_E_VALUE);
}

static void test_clear_password_is_one_nul_terminated_string(void **state)
{
	struct rg_my_str pw;
	(void)state;

	assert_int_equal(rg_my_read_clear_password((const uint8_t *)"eyJ.a.b", 8, &pw), 0);
	assert_int_equal(pw.len, 7);
	assert_memory_equal(pw.p, "eyJ.a.b", 7);
	assert_int_equal(rg_my_read_clear_password(BYTES(0), 1, &pw), 0);
	assert_int_equal(pw.len, 0);
	assert_int_equal(rg_my_read_clear_password((const uint8_t *)"abc", 3, &pw), RG_MY_E_NO_NUL);
	assert_int_equal(rg_my_read_clear_password(BYTES(0), 0, &pw), RG_MY_E_NO_NUL);
	assert_int_equal(rg_my_read_clear_password((const uint8_t *)"a\0b", 4, &pw), RG_MY_E_VALUE);
}

static int ossl_verify(const uint8_t pk[32], const uint8_t *msg, size_t len, const uint8_t sig[64])
{
	EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = key && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
		 EVP_DigestVerify(ctx, sig, 64, msg, len) == 1;

	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok;
}

static void test_ed25519_known_answers_and_openssl_verifies(void **state)
{
	uint8_t sig[64], pk[32];
	(void)state;

	for (size_t i = 0; i < N(kat_ed25519); i++) {
		const struct kat *k = &kat_ed25519[i];

		assert_int_equal(rg_my_ed25519_sign(k->scramble, 32, k->pw, k->pw_len, sig), 64);
		assert_memory_equal(sig, k->out, 64);
		assert_int_equal(rg_my_ed25519_pubkey(k->pw, k->pw_len, pk), 0);
		assert_memory_equal(pk, k->pk, 32);
		assert_true(ossl_verify(pk, k->scramble, 32, sig));
		sig[5] ^= 1;
		assert_false(ossl_verify(pk, k->scramble, 32, sig));
	}
	assert_int_equal(rg_my_ed25519_sign(kat_ed25519[0].scramble, 31, "x", 1, sig), RG_MY_E_ARG);
}

static void test_ed25519_equals_rfc8032_for_a_32_byte_password(void **state)
{
	const char pw[33] = "0123456789abcdef0123456789abcdef";
	const uint8_t *msg = kat_ed25519[0].scramble;
	EVP_PKEY *key =
	    EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, (const uint8_t *)pw, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t want[64], got[64], pk[32], pk_want[32];
	size_t siglen = 64, pklen = 32;
	(void)state;

	assert_non_null(key);
	assert_true(EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1);
	assert_true(EVP_DigestSign(ctx, want, &siglen, msg, 32) == 1);
	assert_true(EVP_PKEY_get_raw_public_key(key, pk_want, &pklen) == 1);
	assert_int_equal(rg_my_ed25519_sign(msg, 32, pw, 32, got), 64);
	assert_memory_equal(got, want, 64);
	assert_int_equal(rg_my_ed25519_pubkey(pw, 32, pk), 0);
	assert_memory_equal(pk, pk_want, 32);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_native_password_known_answers),
	    cmocka_unit_test(test_caching_sha2_fast_path_known_answers),
	    cmocka_unit_test(test_caching_sha2_matches_a_published_driver_vector),
	    cmocka_unit_test(test_caching_sha2_full_auth_cleartext_over_tls),
	    cmocka_unit_test(test_caching_sha2_rsa_oaep_decrypts_to_xored_password),
	    cmocka_unit_test(test_scrambles_verify_the_way_servers_verify_them),
	    cmocka_unit_test(test_caching_sha2_answer_to_more_data),
	    cmocka_unit_test(test_clear_password_is_one_nul_terminated_string),
	    cmocka_unit_test(test_ed25519_known_answers_and_openssl_verifies),
	    cmocka_unit_test(test_ed25519_equals_rfc8032_for_a_32_byte_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
