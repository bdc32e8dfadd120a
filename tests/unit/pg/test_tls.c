/*
 * Unit tests for engine/tls (the TLS transform the pg gateway uses on both sides), entirely
 * in memory: a self-signed certificate for 127.0.0.1 and "db.test" is generated with the
 * OpenSSL API into a temp dir; a client and a server conn pump their records into each
 * other through rg_tls_xform; plain bytes queued before the handshake arrive after it; a
 * verify-full client refuses a wrong name and an untrusted certificate, with a reason in
 * the owner's error buffer.
 */
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

static char dir[64], cert_path[128], key_path[128];

static int make_cert(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rg-tls-test-XXXXXX");
	if (!mkdtemp(dir) || !k || !x)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/c.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/k.pem", dir);
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
	X509_sign(x, k, EVP_sha256());
	f = fopen(cert_path, "w");
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key_path, "w");
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
	return 0;
}

static int rm_cert(void **state)
{
	(void)state;
	unlink(cert_path);
	unlink(key_path);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tls_handshake_and_data_both_ways),
	    cmocka_unit_test(test_tls_verify_full_refuses_wrong_name),
	    cmocka_unit_test(test_tls_verify_full_accepts_ip_in_san),
	    cmocka_unit_test(test_tls_bad_files_are_reported),
	};

	return cmocka_run_group_tests(tests, make_cert, rm_cert);
}
