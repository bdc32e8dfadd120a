/*
 * JWKS parsing and file-backed verifiers: well-formed keys of each type load, malformed
 * keys of a supported type fail the document with a message naming the key, unsupported
 * keys are skipped, a rotated file is picked up after an unknown kid, and verification
 * stays memory-safe while the refresher swaps key sets underneath many threads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "kit.h"

#define ISS "https://issuer.example"
#define AUD "ringgate"

static EVP_PKEY *rsa, *ec, *ed, *ec2;
static char dir[64];

static int setup(void **state)
{
	(void)state;
	rsa = kit_key(KIT_RSA);
	ec = kit_key(KIT_EC);
	ed = kit_key(KIT_ED25519);
	ec2 = kit_key(KIT_EC);
	strcpy(dir, "/tmp/rg-auth-jwks-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char *cmd = kit_fmt("rm -rf '%s'", dir);

	(void)state;
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	free(cmd);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ec2);
	return 0;
}

static int parse(const char *doc, struct rg_auth_keyset **ks, char *err, size_t errlen)
{
	return rg_auth_keyset_parse(doc, strlen(doc), ks, err, errlen);
}

static void expect_reject(const char *doc, const char *needle)
{
	struct rg_auth_keyset *ks = (void *)1;
	char err[256] = "";

	assert_int_equal(parse(doc, &ks, err, sizeof(err)), -EINVAL);
	assert_null(ks);
	if (!strstr(err, needle))
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, needle);
	assert_non_null(strstr(err, needle));
}

static void test_jwks_with_each_key_type_loads(void **state)
{
	char *a = kit_jwk(rsa, "r", "RS256", "sig"), *b = kit_jwk(ec, "e", NULL, NULL);
	char *c = kit_jwk(ed, "d", "EdDSA", "sig"), *doc = kit_jwks(3, a, b, c);
	struct rg_auth_keyset *ks;
	char err[256];

	(void)state;
	assert_int_equal(parse(doc, &ks, err, sizeof(err)), 0);
	assert_int_equal(rg_auth_keyset_count(ks), 3);
	assert_int_equal(rg_auth_keyset_skipped(ks), 0);
	assert_true(rg_auth_keyset_has_kid(ks, "r"));
	assert_true(rg_auth_keyset_has_kid(ks, "e"));
	assert_true(rg_auth_keyset_has_kid(ks, "d"));
	assert_false(rg_auth_keyset_has_kid(ks, "x"));
	rg_auth_keyset_free(ks);
	free(a);
	free(b);
	free(c);
	free(doc);
}

static void test_unsupported_keys_are_skipped(void **state)
{
	char *good = kit_jwk(ec, "e", "ES256", "sig"), *enc = kit_jwk(ec2, "enc", NULL, "enc");
	char *rs384 = kit_jwk(rsa, "r384", "RS384", NULL);
	char *doc = kit_jwks(5, good, enc, rs384, "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}",
			     "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"}");
	struct rg_auth_keyset *ks;
	char err[256];

	(void)state;
	/* An oct key publishes its secret in "k": a JWKS carrying one is refused outright. */
	assert_int_equal(parse(doc, &ks, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "private key member \"k\""));
	free(doc);
	doc = kit_jwks(4, good, enc, rs384, "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"}");
	assert_int_equal(parse(doc, &ks, err, sizeof(err)), 0);
	assert_int_equal(rg_auth_keyset_count(ks), 1);
	assert_int_equal(rg_auth_keyset_skipped(ks), 3);
	rg_auth_keyset_free(ks);
	free(good);
	free(enc);
	free(rs384);
	free(doc);
}

/* Symmetric keys are refused with or without their secret, whatever use they claim. */
static void test_oct_keys_are_refused_not_skipped(void **state)
{
	(void)state;
	expect_reject("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\"}]}",
		      "keys[0] (kid \"h\"): kty \"oct\" (a symmetric secret)");
	expect_reject("{\"keys\":[{\"kty\":\"oct\",\"use\":\"enc\"}]}", "kty \"oct\"");
	expect_reject("{\"keys\":[{\"kty\":\"oct\",\"key_ops\":[\"encrypt\"]}]}",
		      "kty \"oct\"");
}

/* Errors quote the document (jansson's parse errors, a bad alg): printable ASCII only. */
static void test_jwks_errors_do_not_echo_raw_bytes(void **state)
{
	static const char *const docs[] = {
		"{\"keys\" \"x\\\" forged=1\"}",
		"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"E\\\"S\\u0001\"}]}",
		"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"\xc3\xa9\\\"\"}]}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct rg_auth_keyset *ks = NULL;
		char err[256] = "";
		const char *q;

		assert_int_equal(parse(docs[i], &ks, err, sizeof(err)), -EINVAL);
		/* the messages' own quotes surround sanitised values: strip them, then check */
		for (const unsigned char *c = (const unsigned char *)err; *c; c++) {
			if (*c < 0x20 || *c >= 0x7f || *c == '\\')
				print_error("doc %zu: unsafe byte 0x%02x in \"%s\"\n", i, *c, err);
			assert_true(*c >= 0x20 && *c < 0x7f && *c != '\\');
		}
		q = strstr(err, "forged");
		assert_true(!q || q[-1] != '"');
	}
}

static void test_malformed_documents_are_rejected(void **state)
{
	(void)state;
	expect_reject("not json", "not JSON");
	expect_reject("{\"keys\":{}}", "no \"keys\" array");
	expect_reject("[]", "no \"keys\" array");
	expect_reject("{\"keys\":[1]}", "keys[0]: not an object");
	expect_reject("{\"keys\":[{\"kid\":\"a\"}]}", "missing \"kty\"");
	expect_reject("{\"keys\":[{\"kty\":\"EC\",\"kid\":7}]}", "\"kid\" is not a string");
	expect_reject("{\"keys\":[],\"keys\":[]}", "not JSON");
}

static void test_malformed_ec_keys_are_rejected(void **state)
{
	char *x32 = kit_b64("0123456789abcdef0123456789abcdef", 32);
	char *x31 = kit_b64("0123456789abcdef0123456789abcde", 31);
	char *doc;

	(void)state;
	doc = kit_fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\",\"x\":\"%s\","
		      "\"y\":\"%s\"}]}", x31, x32);
	expect_reject(doc, "keys[0] (kid \"k1\"): P-256 x and y must be 32 bytes");
	free(doc);
	doc = kit_fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\","
		      "\"y\":\"%s\"}]}", x32, x32);
	expect_reject(doc, "not on P-256");
	free(doc);
	doc = kit_fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s=\","
		      "\"y\":\"%s\"}]}", x32, x32);
	expect_reject(doc, "\"x\" is not strict base64url");
	free(doc);
	doc = kit_fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\"}]}", x32);
	expect_reject(doc, "missing \"y\"");
	free(doc);
	doc = kit_fmt("{\"keys\":[{\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}]}", x32, x32);
	expect_reject(doc, "missing \"crv\"");
	free(doc);
	free(x32);
	free(x31);
}

static void test_ec_jwk_with_private_part_is_rejected(void **state)
{
	char *j = kit_jwk(ec, "p", NULL, NULL);
	char *doc;

	(void)state;
	j[strlen(j) - 1] = '\0';
	doc = kit_fmt("{\"keys\":[%s,\"d\":\"AAAA\"}]}", j);
	expect_reject(doc, "private key member \"d\"");
	free(doc);
	free(j);
}

static void test_malformed_rsa_and_okp_keys_are_rejected(void **state)
{
	uint8_t small[128];
	char *n, *doc, *x31;

	(void)state;
	memset(small, 0xab, sizeof(small));
	n = kit_b64((char *)small, sizeof(small));
	doc = kit_fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}", n);
	expect_reject(doc, "RSA modulus is 1024 bits");
	free(doc);
	doc = kit_fmt("{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}");
	expect_reject(doc, "missing \"n\"");
	free(doc);
	free(n);
	x31 = kit_b64("0123456789abcdef0123456789abcde", 31);
	doc = kit_fmt("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]}", x31);
	expect_reject(doc, "Ed25519 x must be 32 bytes");
	free(doc);
	free(x31);
}

static void test_duplicate_kid_is_rejected(void **state)
{
	char *a = kit_jwk(ec, "same", NULL, NULL), *b = kit_jwk(ec2, "same", NULL, NULL);
	char *doc = kit_jwks(2, a, b);

	(void)state;
	expect_reject(doc, "keys[1]: duplicate kid \"same\"");
	free(a);
	free(b);
	free(doc);
}

static void test_ec_thumbprint_hashes_canonical_required_members(void **state)
{
	const char *canon = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"AAAA\",\"y\":\"BBBB\"}";
	uint8_t md[32];
	char tp[44], *want;

	(void)state;
	assert_int_equal(EVP_Digest(canon, strlen(canon), md, NULL, EVP_sha256(), NULL), 1);
	want = kit_b64((char *)md, 32);
	assert_int_equal(rg_auth_jwk_thumbprint_ec("AAAA", "BBBB", tp), 0);
	assert_string_equal(tp, want);
	free(want);
}

/* ---------------------------------------------------------------- file source */

static void write_file(const char *path, const char *s)
{
	char *tmp = kit_fmt("%s.tmp", path);
	FILE *f = fopen(tmp, "w");

	assert_non_null(f);
	fputs(s, f);
	fclose(f);
	assert_int_equal(chmod(tmp, 0644), 0);	/* whatever the umask: public, not writable */
	assert_int_equal(rename(tmp, path), 0);	/* atomic replace, as an operator would */
	free(tmp);
}

static char *token(EVP_PKEY *pk, const char *alg, const char *kid)
{
	char *h = kit_fmt("{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid);
	char *p = kit_claims(ISS, AUD, "agent", time(NULL), 300);
	char *t = kit_sign(pk, alg, h, p);

	free(h);
	free(p);
	return t;
}

static void test_jwks_file_rotation_is_picked_up_after_unknown_kid(void **state)
{
	char *path = kit_fmt("%s/jwks.json", dir);
	char *a = kit_jwk(ec, "k1", NULL, NULL), *b = kit_jwk(ec2, "k2", NULL, NULL);
	char *doc1 = kit_jwks(1, a), *doc2 = kit_jwks(1, b);
	char *t1 = token(ec, "ES256", "k1"), *t2 = token(ec2, "ES256", "k2");
	struct rg_auth_config cfg;
	struct rg_auth_verifier *v;
	struct rg_auth_fail why;
	char err[256];
	uint64_t gen;

	(void)state;
	write_file(path, doc1);
	rg_auth_config_init(&cfg);
	cfg.issuer = ISS;
	cfg.audience = AUD;
	cfg.jwks_file = path;
	cfg.unknown_kid_refresh_ms = 0;
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	assert_int_equal(rg_auth_verify(v, t1, strlen(t1), time(NULL), NULL, &why), RG_AUTH_OK);

	write_file(path, doc2);
	gen = rg_auth_verifier_generation(v);
	assert_int_equal(rg_auth_verify(v, t2, strlen(t2), time(NULL), NULL, &why),
			 RG_AUTH_E_UNKNOWN_KID);
	assert_true(why.refresh_pending);
	assert_int_equal(rg_auth_verifier_wait_refresh(v, gen, 5000), 0);
	assert_int_equal(rg_auth_verify(v, t2, strlen(t2), time(NULL), NULL, &why), RG_AUTH_OK);
	/* k1 is gone from the file, so it is gone from the key set. */
	assert_int_equal(rg_auth_verify(v, t1, strlen(t1), time(NULL), NULL, &why),
			 RG_AUTH_E_UNKNOWN_KID);

	/* A broken file on refresh keeps the previous keys. */
	write_file(path, "{broken");
	gen = rg_auth_verifier_generation(v);
	rg_auth_verifier_request_refresh(v);
	assert_int_equal(rg_auth_verifier_wait_refresh(v, gen, 5000), 0);
	assert_int_equal(rg_auth_verify(v, t2, strlen(t2), time(NULL), NULL, &why), RG_AUTH_OK);

	rg_auth_verifier_free(v);
	free(path);
	free(a);
	free(b);
	free(doc1);
	free(doc2);
	free(t1);
	free(t2);
}

static void expect_startup_refusal(const char *path, int rc, const char *needle)
{
	struct rg_auth_config cfg;
	struct rg_auth_verifier *v = (void *)1;
	char err[256] = "";

	rg_auth_config_init(&cfg);
	cfg.issuer = ISS;
	cfg.audience = AUD;
	cfg.jwks_file = path;
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), rc);
	assert_null(v);
	if (!strstr(err, needle))
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, needle);
	assert_non_null(strstr(err, needle));
}

/* Whoever can write the key file mints any identity: it gets the password file's checks
 * (regular file, no symlink, ours), with only group/other write bits refused. */
static void test_jwks_file_writable_by_others_or_not_ours_is_refused(void **state)
{
	char *path = kit_fmt("%s/guarded.json", dir), *link = kit_fmt("%s/link.json", dir);
	char *a = kit_jwk(ec, "k1", NULL, NULL), *doc = kit_jwks(1, a);
	struct rg_auth_config cfg;
	struct rg_auth_verifier *v;
	char err[256];

	(void)state;
	write_file(path, doc);
	rg_auth_config_init(&cfg);
	cfg.issuer = ISS;
	cfg.audience = AUD;
	cfg.jwks_file = path;
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0); /* 0644 */
	rg_auth_verifier_free(v);

	assert_int_equal(chmod(path, 0664), 0);
	expect_startup_refusal(path, -EPERM, "has mode 0664: group/other may write it");
	assert_int_equal(chmod(path, 0602), 0);
	expect_startup_refusal(path, -EPERM, "has mode 0602: group/other may write it");
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(symlink(path, link), 0);
	expect_startup_refusal(link, -EPERM, "is a symlink (refused)");
	expect_startup_refusal(dir, -EPERM, "is not a regular file");
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 12345, 12345), 0);
		expect_startup_refusal(path, -EPERM, "owned by uid 12345, not by us");
	} else {
		expect_startup_refusal("/etc/hostname", -EPERM, "owned by uid 0");
	}
	unlink(link);
	unlink(path);
	free(path);
	free(link);
	free(a);
	free(doc);
}

static char last_log[512];
static void keep_log(void *arg, bool error, const char *msg)
{
	(void)arg;
	if (error)
		snprintf(last_log, sizeof(last_log), "%s", msg);
}

/* The check is made on every refresh: a file that became writable is not reloaded. */
static void test_jwks_file_made_writable_is_not_reloaded(void **state)
{
	char *path = kit_fmt("%s/refresh.json", dir);
	char *a = kit_jwk(ec, "k1", NULL, NULL), *b = kit_jwk(ec2, "k2", NULL, NULL);
	char *doc1 = kit_jwks(1, a), *doc2 = kit_jwks(2, a, b);
	char *t2 = token(ec2, "ES256", "k2");
	struct rg_auth_config cfg;
	struct rg_auth_verifier *v;
	struct rg_auth_fail why;
	char err[256];
	uint64_t gen;

	(void)state;
	write_file(path, doc1);
	rg_auth_config_init(&cfg);
	cfg.issuer = ISS;
	cfg.audience = AUD;
	cfg.jwks_file = path;
	cfg.unknown_kid_refresh_ms = 0;
	cfg.log = keep_log;
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);

	write_file(path, doc2);
	assert_int_equal(chmod(path, 0666), 0);
	gen = rg_auth_verifier_generation(v);
	assert_int_equal(rg_auth_verify(v, t2, strlen(t2), time(NULL), NULL, &why),
			 RG_AUTH_E_UNKNOWN_KID);
	assert_int_equal(rg_auth_verifier_wait_refresh(v, gen, 5000), 0);
	assert_int_equal(rg_auth_verify(v, t2, strlen(t2), time(NULL), NULL, &why),
			 RG_AUTH_E_UNKNOWN_KID);
	assert_non_null(strstr(last_log, "group/other may write it"));

	assert_int_equal(chmod(path, 0644), 0);
	gen = rg_auth_verifier_generation(v);
	rg_auth_verifier_request_refresh(v);
	assert_int_equal(rg_auth_verifier_wait_refresh(v, gen, 5000), 0);
	assert_int_equal(rg_auth_verify(v, t2, strlen(t2), time(NULL), NULL, &why), RG_AUTH_OK);
	rg_auth_verifier_free(v);
	unlink(path);
	free(path);
	free(a);
	free(b);
	free(doc1);
	free(doc2);
	free(t2);
}

/* What a PostgreSQL session needs to end at its token's expiry: exp + skew (the same
 * rounding as verification), or no end when the issuer lets sessions outlive tokens. */
static void test_session_end_follows_token_exp_and_skew(void **state)
{
	char *path = kit_fmt("%s/session.json", dir);
	char *a = kit_jwk(ec, "k1", NULL, NULL), *doc = kit_jwks(1, a);
	int64_t now = time(NULL);
	char *h = kit_fmt("{\"alg\":\"ES256\",\"kid\":\"k1\"}");
	char *p = kit_claims(ISS, AUD, "agent", now, 300);
	char *t = kit_sign(ec, "ES256", h, p);
	struct rg_auth_identity id;
	struct rg_auth_principal *pr;
	struct rg_auth_config cfg;
	struct rg_auth_verifier *v;
	char err[256];

	(void)state;
	write_file(path, doc);
	rg_auth_config_init(&cfg);
	cfg.issuer = ISS;
	cfg.audience = AUD;
	cfg.jwks_file = path;
	cfg.clock_skew_ms = 1500;	/* verification rounds it up to 2 s */
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	assert_int_equal(rg_auth_verify(v, t, strlen(t), now, &id, NULL), RG_AUTH_OK);
	pr = rg_auth_identity_dup(&id);
	assert_non_null(pr);
	assert_int_equal(rg_auth_principal_exp(pr), now + 300);
	assert_false(rg_auth_verifier_session_outlives_token(v));
	assert_int_equal(rg_auth_verifier_clock_skew_ms(v), 1500);
	assert_int_equal(rg_auth_verifier_session_end_ms(v, pr), (now + 302) * 1000);
	/* the instant it names is the first one verification refuses */
	assert_int_equal(rg_auth_verify(v, t, strlen(t), now + 301, NULL, NULL), RG_AUTH_OK);
	assert_int_equal(rg_auth_verify(v, t, strlen(t), now + 302, NULL, NULL),
			 RG_AUTH_E_EXPIRED);
	rg_auth_verifier_free(v);

	cfg.session_outlives_token = true;
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	assert_true(rg_auth_verifier_session_outlives_token(v));
	assert_int_equal(rg_auth_verifier_session_end_ms(v, pr), 0);
	rg_auth_verifier_free(v);
	rg_auth_principal_free(pr);
	unlink(path);
	free(path);
	free(a);
	free(doc);
	free(h);
	free(p);
	free(t);
}

static void test_verifier_refuses_bad_configuration(void **state)
{
	struct rg_auth_config cfg;
	struct rg_auth_verifier *v;
	char err[256];

	(void)state;
	rg_auth_config_init(&cfg);
	cfg.issuer = ISS;
	cfg.audience = AUD;
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "exactly one of jwks_file and jwks_url"));
	cfg.jwks_file = "/nonexistent/jwks.json";
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/jwks.json"));
	cfg.jwks_file = NULL;
	cfg.jwks_url = "ftp://example/jwks";
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), -EINVAL);
}

struct hammer {
	struct rg_auth_verifier *v;
	const char *tok;
	int ok;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;

	for (int i = 0; i < 400; i++)
		if (rg_auth_verify(h->v, h->tok, strlen(h->tok), time(NULL), NULL, NULL) ==
		    RG_AUTH_OK)
			h->ok++;
	return NULL;
}

static void test_verification_is_safe_while_key_sets_are_swapped(void **state)
{
	char *path = kit_fmt("%s/hammer.json", dir);
	char *a = kit_jwk(ec, "k1", NULL, NULL), *b = kit_jwk(rsa, "r", NULL, NULL);
	char *doc = kit_jwks(2, a, b);
	char *t = token(ec, "ES256", "k1");
	struct rg_auth_config cfg;
	struct rg_auth_verifier *v;
	struct hammer h[4];
	pthread_t th[4];
	char err[256];
	uint64_t gen0;

	(void)state;
	write_file(path, doc);
	rg_auth_config_init(&cfg);
	cfg.issuer = ISS;
	cfg.audience = AUD;
	cfg.jwks_file = path;
	cfg.jwks_refresh_ms = 1;	/* swap as often as the refresher can */
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	gen0 = rg_auth_verifier_generation(v);
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ .v = v, .tok = t };
		assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(h[i].ok, 400);
	}
	assert_true(rg_auth_verifier_generation(v) > gen0);
	rg_auth_verifier_free(v);
	free(path);
	free(a);
	free(b);
	free(doc);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwks_with_each_key_type_loads),
		cmocka_unit_test(test_unsupported_keys_are_skipped),
		cmocka_unit_test(test_malformed_documents_are_rejected),
		cmocka_unit_test(test_oct_keys_are_refused_not_skipped),
		cmocka_unit_test(test_jwks_errors_do_not_echo_raw_bytes),
		cmocka_unit_test(test_malformed_ec_keys_are_rejected),
		cmocka_unit_test(test_ec_jwk_with_private_part_is_rejected),
		cmocka_unit_test(test_malformed_rsa_and_okp_keys_are_rejected),
		cmocka_unit_test(test_duplicate_kid_is_rejected),
		cmocka_unit_test(test_ec_thumbprint_hashes_canonical_required_members),
		cmocka_unit_test(test_jwks_file_rotation_is_picked_up_after_unknown_kid),
		cmocka_unit_test(test_verifier_refuses_bad_configuration),
		cmocka_unit_test(test_jwks_file_writable_by_others_or_not_ours_is_refused),
		cmocka_unit_test(test_jwks_file_made_writable_is_not_reloaded),
		cmocka_unit_test(test_session_end_follows_token_exp_and_skew),
		cmocka_unit_test(test_verification_is_safe_while_key_sets_are_swapped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
