/*
 * Unit tests for engine/tls (the TLS transform the pg gateway uses on both sides), entirely
 * in memory: a self-signed certificate for 127.0.0.1 and "db.test" is generated with the
 * OpenSSL API into a temp dir; a client and a server conn pump their records into each
 * other through rg_tls_xform; plain bytes queued before the handshake arrive after it; a
 * verify-full client refuses a wrong name and an untrusted certificate, with a reason in
 * the owner's error buffer. The tls-server-end-point hash (SCRAM channel binding) of
 * generated certificates is the digest of their DER with the signature's hash: SHA-256 for
 * ecdsa-with-SHA256, SHA-384 for sha384WithRSAEncryption, SHA-256 for SHA-1 (upgraded), none
 * for Ed25519; a client conn reports the certificate the server presented.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls.h"

static char dir[64], cert_path[128], key_path[128], rsa_cert_path[128], rsa_key_path[128];

/* A self-signed certificate for 127.0.0.1 and db.test with key k, signed with md (NULL for
 * Ed25519); written to cert/key when they are not NULL. */
static X509 *gen_cert(EVP_PKEY *k, const EVP_MD *md, const char *cert, const char *key)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	FILE *f;

	if (!k || !x)
		goto fail;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"db.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "IP:127.0.0.1,DNS:db.test");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!X509_sign(x, k, md))
		goto fail;
	if (cert) {
		f = fopen(cert, "w");
		if (!f)
			goto fail;
		PEM_write_X509(f, x);
		fclose(f);
		f = fopen(key, "w");
		if (!f)
			goto fail;
		PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
		fclose(f);
	}
	return x;
fail:
	X509_free(x);
	return NULL;
}

static int make_cert(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("P-256"), *rk = EVP_RSA_gen(2048);
	X509 *x = NULL, *rx = NULL;
	int ret = -1;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rg-tls-test-XXXXXX");
	if (!mkdtemp(dir))
		goto out;
	snprintf(cert_path, sizeof(cert_path), "%s/c.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/k.pem", dir);
	snprintf(rsa_cert_path, sizeof(rsa_cert_path), "%s/rsa.pem", dir);
	snprintf(rsa_key_path, sizeof(rsa_key_path), "%s/rsa-k.pem", dir);
	x = gen_cert(k, EVP_sha256(), cert_path, key_path);
	rx = gen_cert(rk, EVP_sha384(), rsa_cert_path, rsa_key_path);
	if (x && rx)
		ret = 0;
out:
	X509_free(x);
	X509_free(rx);
	EVP_PKEY_free(k);
	EVP_PKEY_free(rk);
	return ret;
}

static int rm_cert(void **state)
{
	(void)state;
	unlink(cert_path);
	unlink(key_path);
	unlink(rsa_cert_path);
	unlink(rsa_key_path);
	rmdir(dir);
	return 0;
}

/* Pump records between the two until neither has anything to say. Returns 0 or the rx
 * error of either side. */
static int pump(struct rg_tls_conn *c, struct rg_tls_conn *s, struct rg_acc *to_s,
		struct rg_acc *to_c, struct rg_acc *plain_c, struct rg_acc *plain_s)
{
	int rounds, r;

	for (rounds = 0; rounds < 20 && (to_s->len || to_c->len); rounds++) {
		struct rg_acc a = *to_s, b = *to_c;

		memset(to_s, 0, sizeof(*to_s));
		memset(to_c, 0, sizeof(*to_c));
		r = a.len ? rg_tls_xform.rx(s, a.p, a.len, plain_s, to_c) : 0;
		rg_acc_free(&a);
		if (r) {
			rg_acc_free(&b);
			return r;
		}
		r = b.len ? rg_tls_xform.rx(c, b.p, b.len, plain_c, to_s) : 0;
		rg_acc_free(&b);
		if (r)
			return r;
	}
	return 0;
}

static void test_tls_handshake_and_data_both_ways(void **state)
{
	struct rg_tls_ctx *sctx, *cctx;
	struct rg_tls_conn *s, *c;
	struct rg_acc to_s = {0}, to_c = {0}, pc = {0}, ps = {0};
	char err[256] = "";

	(void)state;
	assert_int_equal(rg_tls_server_ctx_new(cert_path, key_path, &sctx, err, sizeof(err)), 0);
	assert_int_equal(
	    rg_tls_client_ctx_new(RG_TLS_VERIFY_FULL, cert_path, &cctx, err, sizeof(err)), 0);
	s = rg_tls_conn_new(sctx, NULL);
	c = rg_tls_conn_new(cctx, "db.test");
	assert_non_null(s);
	assert_non_null(c);
	assert_int_equal(rg_tls_conn_start(c, &to_s), 0);
	assert_true(to_s.len > 0);
	/* queued before the handshake: must arrive after it, in order */
	assert_int_equal(rg_tls_xform.tx(c, (const uint8_t *)"early ", 6, &to_s), 0);
	assert_int_equal(rg_tls_xform.tx(c, (const uint8_t *)"bytes", 5, &to_s), 0);
	assert_int_equal(pump(c, s, &to_s, &to_c, &pc, &ps), 0);
	assert_true(rg_tls_conn_established(c));
	assert_true(rg_tls_conn_established(s));
	assert_int_equal(ps.len, 11);
	assert_memory_equal(ps.p, "early bytes", 11);
	assert_int_equal(rg_tls_xform.tx(s, (const uint8_t *)"reply", 5, &to_c), 0);
	assert_int_equal(pump(c, s, &to_s, &to_c, &pc, &ps), 0);
	assert_int_equal(pc.len, 5);
	assert_memory_equal(pc.p, "reply", 5);
	rg_tls_xform.free(s);
	rg_tls_xform.free(c);
	rg_acc_free(&to_s);
	rg_acc_free(&to_c);
	rg_acc_free(&pc);
	rg_acc_free(&ps);
	rg_tls_ctx_free(sctx);
	rg_tls_ctx_free(cctx);
}

static void refused(const char *name, const char *ca, const char *expect)
{
	struct rg_tls_ctx *sctx, *cctx;
	struct rg_tls_conn *s, *c;
	struct rg_acc to_s = {0}, to_c = {0}, pc = {0}, ps = {0};
	char err[256] = "", why[256] = "";

	assert_int_equal(rg_tls_server_ctx_new(cert_path, key_path, &sctx, err, sizeof(err)), 0);
	assert_int_equal(rg_tls_client_ctx_new(RG_TLS_VERIFY_FULL, ca, &cctx, err, sizeof(err)), 0);
	s = rg_tls_conn_new(sctx, NULL);
	c = rg_tls_conn_new(cctx, name);
	rg_tls_conn_set_errbuf(c, why, sizeof(why));
	assert_int_equal(rg_tls_conn_start(c, &to_s), 0);
	assert_true(pump(c, s, &to_s, &to_c, &pc, &ps) < 0);
	assert_false(rg_tls_conn_established(c));
	assert_non_null(strstr(why, expect));
	rg_tls_xform.free(s);
	rg_tls_xform.free(c);
	rg_acc_free(&to_s);
	rg_acc_free(&to_c);
	rg_acc_free(&pc);
	rg_acc_free(&ps);
	rg_tls_ctx_free(sctx);
	rg_tls_ctx_free(cctx);
}

static void test_tls_verify_full_refuses_wrong_name(void **state)
{
	(void)state;
	refused("other.test", cert_path, "certificate verify failed");
	refused("10.0.0.1", cert_path, "certificate verify failed");
}

static void test_tls_verify_full_accepts_ip_in_san(void **state)
{
	struct rg_tls_ctx *sctx, *cctx;
	struct rg_tls_conn *s, *c;
	struct rg_acc to_s = {0}, to_c = {0}, pc = {0}, ps = {0};
	char err[256];

	(void)state;
	assert_int_equal(rg_tls_server_ctx_new(cert_path, key_path, &sctx, err, sizeof(err)), 0);
	assert_int_equal(
	    rg_tls_client_ctx_new(RG_TLS_VERIFY_FULL, cert_path, &cctx, err, sizeof(err)), 0);
	s = rg_tls_conn_new(sctx, NULL);
	c = rg_tls_conn_new(cctx, "127.0.0.1");
	assert_int_equal(rg_tls_conn_start(c, &to_s), 0);
	assert_int_equal(pump(c, s, &to_s, &to_c, &pc, &ps), 0);
	assert_true(rg_tls_conn_established(c));
	rg_tls_xform.free(s);
	rg_tls_xform.free(c);
	rg_acc_free(&to_s);
	rg_acc_free(&to_c);
	rg_tls_ctx_free(sctx);
	rg_tls_ctx_free(cctx);
}

static void test_tls_bad_files_are_reported(void **state)
{
	struct rg_tls_ctx *ctx;
	char err[256] = "";

	(void)state;
	assert_int_not_equal(
	    rg_tls_server_ctx_new("/nonexistent.pem", key_path, &ctx, err, sizeof(err)), 0);
	assert_null(ctx);
	assert_non_null(strstr(err, "certificate"));
	assert_int_not_equal(rg_tls_server_ctx_new(cert_path, cert_path, &ctx, err, sizeof(err)),
			     0);
	assert_non_null(strstr(err, "private key"));
}

/* ---- tls-server-end-point ----------------------------------------------------------------- */

/* DER of x and its digest with md, computed here independently of engine/tls. */
static size_t der_digest(X509 *x, const EVP_MD *md, uint8_t **der, uint8_t out[64])
{
	unsigned int len = 0;
	int n;

	*der = NULL;
	n = i2d_X509(x, der);
	assert_true(n > 0);
	assert_int_equal(EVP_Digest(*der, (size_t)n, out, &len, md, NULL), 1);
	return (size_t)n;
}

static void expect_end_point(EVP_PKEY *k, const EVP_MD *sig_md, const EVP_MD *want_md)
{
	uint8_t *der, want[64], got[RG_TLS_END_POINT_MAX];
	X509 *x = gen_cert(k, sig_md, NULL, NULL);
	size_t n;

	assert_non_null(x);
	n = der_digest(x, want_md, &der, want);
	assert_int_equal(rg_tls_server_end_point(der, n, got, sizeof(got)),
			 EVP_MD_get_size(want_md));
	assert_memory_equal(got, want, (size_t)EVP_MD_get_size(want_md));
	assert_int_equal(rg_tls_server_end_point(der, n, got, (size_t)EVP_MD_get_size(want_md) - 1),
			 -ENOSPC);
	OPENSSL_free(der);
	X509_free(x);
}

static void test_end_point_uses_the_signature_hash(void **state)
{
	EVP_PKEY *ec = EVP_EC_gen("P-256"), *rsa = EVP_RSA_gen(2048);

	(void)state;
	assert_non_null(ec);
	assert_non_null(rsa);
	expect_end_point(ec, EVP_sha256(), EVP_sha256());  /* ecdsa-with-SHA256 */
	expect_end_point(ec, EVP_sha512(), EVP_sha512());  /* ecdsa-with-SHA512: 64 bytes */
	expect_end_point(rsa, EVP_sha384(), EVP_sha384()); /* sha384WithRSAEncryption */
	expect_end_point(rsa, EVP_sha1(), EVP_sha256());   /* SHA-1 is upgraded to SHA-256 */
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}

static void test_end_point_refuses_ed25519_and_bad_der(void **state)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	uint8_t *der, junk[64], got[RG_TLS_END_POINT_MAX];
	X509 *x;
	int n;

	(void)state;
	x = gen_cert(ed, NULL, NULL, NULL);
	assert_non_null(x);
	der = NULL;
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	/* RFC 5929 defines no hash for a signature algorithm without one. */
	assert_int_equal(rg_tls_server_end_point(der, (size_t)n, got, sizeof(got)), -ENOTSUP);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(ed);
	memset(junk, 0x30, sizeof(junk));
	assert_int_equal(rg_tls_server_end_point(junk, sizeof(junk), got, sizeof(got)), -EINVAL);
	assert_int_equal(rg_tls_server_end_point(junk, 0, got, sizeof(got)), -EINVAL);
}

/* Handshake against the server certificate in cert/key; the client conn's end-point hash
 * must be the digest (want_md) of that file's certificate. */
static void conn_end_point(const char *cert, const char *key, const EVP_MD *want_md)
{
	struct rg_tls_ctx *sctx, *cctx;
	struct rg_tls_conn *s, *c;
	struct rg_acc to_s = {0}, to_c = {0}, pc = {0}, ps = {0};
	uint8_t *der, want[64], got[RG_TLS_END_POINT_MAX];
	char err[256];
	FILE *f = fopen(cert, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	assert_non_null(x);
	der_digest(x, want_md, &der, want);
	assert_int_equal(rg_tls_server_ctx_new(cert, key, &sctx, err, sizeof(err)), 0);
	/* require mode: the hash is of what was received, verified or not */
	assert_int_equal(rg_tls_client_ctx_new(RG_TLS_NO_VERIFY, NULL, &cctx, err, sizeof(err)), 0);
	s = rg_tls_conn_new(sctx, NULL);
	c = rg_tls_conn_new(cctx, "db.test");
	assert_int_equal(rg_tls_conn_server_end_point(c, got, sizeof(got)), -ENOTCONN);
	assert_int_equal(rg_tls_conn_start(c, &to_s), 0);
	assert_int_equal(pump(c, s, &to_s, &to_c, &pc, &ps), 0);
	assert_true(rg_tls_conn_established(c));
	assert_int_equal(rg_tls_conn_server_end_point(c, got, sizeof(got)),
			 EVP_MD_get_size(want_md));
	assert_memory_equal(got, want, (size_t)EVP_MD_get_size(want_md));
	/* the server side: the client presented no certificate */
	assert_int_equal(rg_tls_conn_server_end_point(s, got, sizeof(got)), -ENOENT);
	rg_tls_xform.free(s);
	rg_tls_xform.free(c);
	rg_acc_free(&to_s);
	rg_acc_free(&to_c);
	rg_acc_free(&pc);
	rg_acc_free(&ps);
	rg_tls_ctx_free(sctx);
	rg_tls_ctx_free(cctx);
	OPENSSL_free(der);
	X509_free(x);
}

static void test_conn_end_point_is_the_servers_certificate(void **state)
{
	(void)state;
	conn_end_point(cert_path, key_path, EVP_sha256());	   /* P-256, ecdsa-with-SHA256 */
	conn_end_point(rsa_cert_path, rsa_key_path, EVP_sha384()); /* RSA, SHA-384 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tls_handshake_and_data_both_ways),
	    cmocka_unit_test(test_tls_verify_full_refuses_wrong_name),
	    cmocka_unit_test(test_tls_verify_full_accepts_ip_in_san),
	    cmocka_unit_test(test_tls_bad_files_are_reported),
	    cmocka_unit_test(test_end_point_uses_the_signature_hash),
	    cmocka_unit_test(test_end_point_refuses_ed25519_and_bad_der),
	    cmocka_unit_test(test_conn_end_point_is_the_servers_certificate),
	};

	return cmocka_run_group_tests(tests, make_cert, rm_cert);
}
