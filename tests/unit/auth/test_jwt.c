/*
 * JWT verification: one valid token per accepted algorithm (RS256, ES256, EdDSA) built
 * with keys generated here, then every refusal the verifier promises: alg none/HS256/
 * mismatch, unknown kid, bad signatures, time claims with skew, issuer, audience, required
 * claims, size and encoding limits. Also checks that what clients see leaks nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "kit.h"

#define ISS "https://issuer.example"
#define AUD "ringgate"
#define NOW 1700000000LL

static EVP_PKEY *rsa, *ec, *ed, *ec_other;
static struct rg_auth_keyset *ks;
static struct rg_auth_config cfg;

static int setup(void **state)
{
	char err[256];
	char *j1, *j2, *j3, *doc;

	(void)state;
	rsa = kit_key(KIT_RSA);
	ec = kit_key(KIT_EC);
	ed = kit_key(KIT_ED25519);
	ec_other = kit_key(KIT_EC);
	j1 = kit_jwk(rsa, "rsa1", "RS256", "sig");
	j2 = kit_jwk(ec, "ec1", "ES256", "sig");
	j3 = kit_jwk(ed, "ed1", NULL, NULL);
	doc = kit_jwks(3, j1, j2, j3);
	if (rg_auth_keyset_parse(doc, strlen(doc), &ks, err, sizeof(err)) != 0) {
		fprintf(stderr, "keyset: %s\n", err);
		return -1;
	}
	free(j1);
	free(j2);
	free(j3);
	free(doc);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rg_auth_keyset_free(ks);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ec_other);
	return 0;
}

static int reset_cfg(void **state)
{
	(void)state;
	rg_auth_config_init(&cfg);
	cfg.issuer = ISS;
	cfg.audience = AUD;
	return 0;
}

static char *hdr(const char *alg, const char *kid)
{
	if (!kid)
		return kit_fmt("{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
	return kit_fmt("{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
}

/* Sign payload with key/alg under header (alg hdr_alg, kid), verify, return result. */
static enum rg_auth_err run(EVP_PKEY *pk, const char *sign_alg, const char *hdr_alg,
			    const char *kid, const char *payload, struct rg_auth_identity *id,
			    struct rg_auth_fail *why)
{
	char *h = hdr(hdr_alg, kid);
	char *tok = kit_sign(pk, sign_alg, h, payload);
	enum rg_auth_err e = rg_auth_verify_with(&cfg, ks, tok, strlen(tok), NOW, id, why);

	free(h);
	free(tok);
	return e;
}

static enum rg_auth_err run_claims(const char *payload, struct rg_auth_fail *why)
{
	return run(ec, "ES256", "ES256", "ec1", payload, NULL, why);
}

static void check_valid(EVP_PKEY *pk, const char *alg, const char *kid)
{
	struct rg_auth_identity id;
	struct rg_auth_fail why;
	char *p = kit_claims(ISS, AUD, "agent-7", NOW, 300);

	assert_int_equal(run(pk, alg, alg, kid, p, &id, &why), RG_AUTH_OK);
	assert_string_equal(id.iss, ISS);
	assert_string_equal(id.sub, "agent-7");
	assert_string_equal(id.jti, "j-1");
	assert_int_equal(id.exp, NOW + 300);
	assert_int_equal(id.n_groups, 2);
	assert_string_equal(rg_auth_identity_group(&id, 0), "dev");
	assert_string_equal(rg_auth_identity_group(&id, 1), "oncall");
	assert_null(rg_auth_identity_group(&id, 2));
	free(p);
}

static void test_rs256_valid_token_verifies(void **state)
{
	(void)state;
	check_valid(rsa, "RS256", "rsa1");
}

static void test_es256_valid_token_verifies(void **state)
{
	(void)state;
	check_valid(ec, "ES256", "ec1");
}

static void test_eddsa_valid_token_verifies(void **state)
{
	(void)state;
	check_valid(ed, "EdDSA", "ed1");
}

static void test_token_without_kid_verifies_when_one_key_fits(void **state)
{
	(void)state;
	check_valid(ed, "EdDSA", NULL);
}

static void expect_err(EVP_PKEY *pk, const char *sign_alg, const char *hdr_alg,
		       const char *kid, const char *payload, enum rg_auth_err want)
{
	struct rg_auth_fail why;
	enum rg_auth_err e = run(pk, sign_alg, hdr_alg, kid, payload, NULL, &why);

	if (e != want)
		fprintf(stderr, "got %s (%s), want %s\n", rg_auth_err_name(e), why.detail,
			rg_auth_err_name(want));
	assert_int_equal(e, want);
	assert_int_equal(why.err, want);
	assert_true(why.detail[0] != '\0');
}

static void test_alg_none_is_refused(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);
	char *h = kit_b64("{\"alg\":\"none\"}", 14), *b = kit_b64(p, strlen(p));
	char *tok = kit_fmt("%s.%s.", h, b);
	struct rg_auth_fail why;

	(void)state;
	assert_int_equal(rg_auth_verify_with(&cfg, ks, tok, strlen(tok), NOW, NULL, &why),
			 RG_AUTH_E_ALG_NOT_ALLOWED);
	free(tok);
	free(h);
	free(b);
	free(p);
}

static void test_hs256_is_refused(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);

	(void)state;
	/* The header claims HS256; whatever the signature, the alg alone must refuse it. */
	expect_err(ec, "ES256", "HS256", "ec1", p, RG_AUTH_E_ALG_NOT_ALLOWED);
	expect_err(ec, "ES256", "RS512", "ec1", p, RG_AUTH_E_ALG_NOT_ALLOWED);
	free(p);
}

static void test_alg_not_matching_key_type_is_refused(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);

	(void)state;
	expect_err(ec, "ES256", "ES256", "rsa1", p, RG_AUTH_E_ALG_NOT_ALLOWED);
	expect_err(ed, "EdDSA", "EdDSA", "ec1", p, RG_AUTH_E_ALG_NOT_ALLOWED);
	free(p);
}

static void test_unknown_kid_is_refused(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);

	(void)state;
	expect_err(ec, "ES256", "ES256", "nope", p, RG_AUTH_E_UNKNOWN_KID);
	free(p);
}

static void test_signature_by_another_key_is_refused(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);

	(void)state;
	expect_err(ec_other, "ES256", "ES256", "ec1", p, RG_AUTH_E_BAD_SIGNATURE);
	free(p);
}

static void test_tampered_payload_is_refused(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);
	char *h = hdr("RS256", "rsa1");
	char *tok = kit_sign(rsa, "RS256", h, p);
	char *evil = kit_claims(ISS, AUD, "admin", NOW, 300);
	char *eb = kit_b64(evil, strlen(evil));
	char *dot1 = strchr(tok, '.'), *dot2 = strchr(dot1 + 1, '.');
	char *forged = kit_fmt("%.*s.%s%s", (int)(dot1 - tok), tok, eb, dot2);
	struct rg_auth_fail why;

	(void)state;
	assert_int_equal(rg_auth_verify_with(&cfg, ks, forged, strlen(forged), NOW, NULL, &why),
			 RG_AUTH_E_BAD_SIGNATURE);
	free(p);
	free(h);
	free(tok);
	free(evil);
	free(eb);
	free(forged);
}

static void test_es256_der_signature_is_refused(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);
	char *h = kit_b64("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", 27), *b = kit_b64(p, strlen(p));
	char *input = kit_fmt("%s.%s", h, b);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t der[80];
	size_t dlen = sizeof(der);
	struct rg_auth_fail why;

	(void)state;
	assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, ec), 1);
	assert_int_equal(EVP_DigestSign(m, der, &dlen, (uint8_t *)input, strlen(input)), 1);
	char *sb = kit_b64((char *)der, dlen);
	char *tok = kit_fmt("%s.%s", input, sb);

	assert_int_equal(rg_auth_verify_with(&cfg, ks, tok, strlen(tok), NOW, NULL, &why),
			 RG_AUTH_E_BAD_SIGNATURE);
	EVP_MD_CTX_free(m);
	free(p);
	free(h);
	free(b);
	free(input);
	free(sb);
	free(tok);
}

static void test_expired_token_is_refused(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW - 600, 300);	/* expired 300 s ago */

	(void)state;
	expect_err(ec, "ES256", "ES256", "ec1", p, RG_AUTH_E_EXPIRED);
	free(p);
}

static void test_expired_within_skew_verifies(void **state)
{
	char *p = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"a\",\"exp\":%lld}", ISS, AUD,
			  NOW - 30);
	struct rg_auth_fail why;

	(void)state;
	assert_int_equal(run_claims(p, &why), RG_AUTH_OK);
	cfg.clock_skew_ms = 0;	/* configurable: with no skew it is expired */
	assert_int_equal(run_claims(p, &why), RG_AUTH_E_EXPIRED);
	free(p);
}

static void test_missing_exp_is_refused(void **state)
{
	char *p = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"a\"}", ISS, AUD);

	(void)state;
	expect_err(ec, "ES256", "ES256", "ec1", p, RG_AUTH_E_MISSING_CLAIM);
	free(p);
}

static void test_nbf_in_future_is_refused(void **state)
{
	char *p = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"a\",\"exp\":%lld,"
			  "\"nbf\":%lld}",
			  ISS, AUD, NOW + 600, NOW + 120);

	(void)state;
	expect_err(ec, "ES256", "ES256", "ec1", p, RG_AUTH_E_NOT_YET_VALID);
	free(p);
}

static void test_iat_in_future_is_refused(void **state)
{
	char *p = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"a\",\"exp\":%lld,"
			  "\"iat\":%lld}",
			  ISS, AUD, NOW + 600, NOW + 120);
	char *ok = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"a\",\"exp\":%lld,"
			   "\"iat\":%lld}",
			   ISS, AUD, NOW + 600, NOW + 50);
	struct rg_auth_fail why;

	(void)state;
	expect_err(ec, "ES256", "ES256", "ec1", p, RG_AUTH_E_IAT_IN_FUTURE);
	assert_int_equal(run_claims(ok, &why), RG_AUTH_OK);	/* within the 60 s skew */
	free(p);
	free(ok);
}

static char *dated(long long iat, long long exp)
{
	return kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"a\",\"iat\":%lld,\"exp\":%lld}", ISS,
		       AUD, iat, exp);
}

/* max_token_lifetime: a long-lived token is refused however fresh, and so is one whose
 * exp is further from now than the limit; without iat the lifetime is unknown: refused. */
static void test_token_lifetime_beyond_max_is_refused(void **state)
{
	char *day = kit_claims(ISS, AUD, "a", NOW, 86400);	/* iat now, exp in 24 h */
	char *ten = kit_claims(ISS, AUD, "a", NOW - 60, 600);	/* a 10 min token, 1 min old */
	char *early = dated(NOW + 30, NOW + 630);	/* 10 min, iat 30 s ahead (in skew) */
	char *no_iat = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"a\",\"exp\":%lld}", ISS,
				AUD, NOW + 60);
	struct rg_auth_fail why;

	(void)state;
	/* no limit configured: all verify */
	assert_int_equal(run_claims(day, &why), RG_AUTH_OK);
	assert_int_equal(run_claims(early, &why), RG_AUTH_OK);
	assert_int_equal(run_claims(no_iat, &why), RG_AUTH_OK);

	cfg.max_token_lifetime_ms = 600000;
	assert_int_equal(run_claims(day, &why), RG_AUTH_E_LIFETIME_TOO_LONG);
	assert_string_equal(rg_auth_err_name(why.err), "lifetime_too_long");
	assert_string_equal(rg_auth_sqlstate(why.err), "28P01");
	assert_non_null(strstr(why.detail, "exp - iat is 86400 s, max_token_lifetime 600 s"));
	assert_int_equal(run_claims(ten, &why), RG_AUTH_OK);	/* exactly the limit */
	/* exp - iat is 600 s, but exp is 630 s from now */
	assert_int_equal(run_claims(early, &why), RG_AUTH_E_LIFETIME_TOO_LONG);
	assert_non_null(strstr(why.detail, "exp is 630 s ahead"));
	assert_int_equal(run_claims(no_iat, &why), RG_AUTH_E_MISSING_CLAIM);
	assert_non_null(strstr(why.detail, "missing claim iat"));
	cfg.max_token_lifetime_ms = 599999;	/* sub-second limits are exact */
	assert_int_equal(run_claims(ten, &why), RG_AUTH_E_LIFETIME_TOO_LONG);
	free(day);
	free(ten);
	free(early);
	free(no_iat);
}

static void test_non_numeric_exp_is_refused(void **state)
{
	char *p = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"a\",\"exp\":\"%lld\"}", ISS,
			  AUD, NOW + 600);

	(void)state;
	expect_err(ec, "ES256", "ES256", "ec1", p, RG_AUTH_E_BAD_CLAIM);
	free(p);
}

static void test_wrong_issuer_is_refused(void **state)
{
	char *p = kit_claims("https://evil.example", AUD, "a", NOW, 300);
	char *q = kit_claims(ISS "/", AUD, "a", NOW, 300);	/* byte for byte */

	(void)state;
	expect_err(ec, "ES256", "ES256", "ec1", p, RG_AUTH_E_BAD_ISSUER);
	expect_err(ec, "ES256", "ES256", "ec1", q, RG_AUTH_E_BAD_ISSUER);
	free(p);
	free(q);
}

static void test_wrong_audience_is_refused(void **state)
{
	char *p = kit_claims(ISS, "someone-else", "a", NOW, 300);
	char *arr = kit_fmt("{\"iss\":\"%s\",\"aud\":[\"x\",\"y\"],\"sub\":\"a\",\"exp\":%lld}",
			    ISS, NOW + 300);
	char *none = kit_fmt("{\"iss\":\"%s\",\"sub\":\"a\",\"exp\":%lld}", ISS, NOW + 300);

	(void)state;
	expect_err(ec, "ES256", "ES256", "ec1", p, RG_AUTH_E_BAD_AUDIENCE);
	expect_err(ec, "ES256", "ES256", "ec1", arr, RG_AUTH_E_BAD_AUDIENCE);
	expect_err(ec, "ES256", "ES256", "ec1", none, RG_AUTH_E_MISSING_CLAIM);
	free(p);
	free(arr);
	free(none);
}

static void test_audience_array_containing_ours_verifies(void **state)
{
	char *p = kit_fmt("{\"iss\":\"%s\",\"aud\":[\"x\",\"%s\"],\"sub\":\"a\",\"exp\":%lld}",
			  ISS, AUD, NOW + 300);
	struct rg_auth_fail why;

	(void)state;
	assert_int_equal(run_claims(p, &why), RG_AUTH_OK);
	free(p);
}

static void test_missing_sub_is_refused(void **state)
{
	char *p = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld}", ISS, AUD, NOW + 300);

	(void)state;
	expect_err(ec, "ES256", "ES256", "ec1", p, RG_AUTH_E_MISSING_CLAIM);
	free(p);
}

static void test_configured_required_claim_missing_is_refused(void **state)
{
	static const char *const req[] = { "jti", "tenant" };
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);
	struct rg_auth_fail why;

	(void)state;
	cfg.required_claims = req;
	cfg.n_required_claims = 1;
	assert_int_equal(run_claims(p, &why), RG_AUTH_OK);
	cfg.n_required_claims = 2;
	expect_err(ec, "ES256", "ES256", "ec1", p, RG_AUTH_E_MISSING_CLAIM);
	free(p);
}

static void test_groups_as_single_string_and_custom_claim(void **state)
{
	char *p = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"a\",\"exp\":%lld,"
			  "\"roles\":\"dba\",\"groups\":[\"ignored\"]}",
			  ISS, AUD, NOW + 300);
	struct rg_auth_identity id;
	struct rg_auth_fail why;

	(void)state;
	cfg.groups_claim = "roles";
	assert_int_equal(run(ec, "ES256", "ES256", "ec1", p, &id, &why), RG_AUTH_OK);
	assert_int_equal(id.n_groups, 1);
	assert_string_equal(rg_auth_identity_group(&id, 0), "dba");
	free(p);
}

static void test_groups_of_wrong_type_are_refused(void **state)
{
	char *p = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"a\",\"exp\":%lld,"
			  "\"groups\":[\"ok\",7]}",
			  ISS, AUD, NOW + 300);

	(void)state;
	expect_err(ec, "ES256", "ES256", "ec1", p, RG_AUTH_E_BAD_CLAIM);
	free(p);
}

static void test_duplicate_claim_names_are_malformed(void **state)
{
	char *p = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"a\",\"sub\":\"admin\","
			  "\"exp\":%lld}",
			  ISS, AUD, NOW + 300);

	(void)state;
	expect_err(ec, "ES256", "ES256", "ec1", p, RG_AUTH_E_MALFORMED);
	free(p);
}

static void test_oversized_token_is_refused(void **state)
{
	size_t n = 16385;
	char *big = malloc(n);
	struct rg_auth_fail why;

	(void)state;
	memset(big, 'A', n);
	assert_int_equal(rg_auth_verify_with(&cfg, ks, big, n, NOW, NULL, &why),
			 RG_AUTH_E_TOO_LARGE);
	free(big);
}

static void test_malformed_encodings_are_refused(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);
	char *h = hdr("ES256", "ec1");
	char *tok = kit_sign(ec, "ES256", h, p);
	struct rg_auth_fail why;
	char *t;

	(void)state;
	/* Sanity: the unmodified token verifies. */
	assert_int_equal(rg_auth_verify_with(&cfg, ks, tok, strlen(tok), NOW, NULL, &why),
			 RG_AUTH_OK);
	/* Padding is not base64url. */
	t = kit_fmt("%s=", tok);
	assert_int_equal(rg_auth_verify_with(&cfg, ks, t, strlen(t), NOW, NULL, &why),
			 RG_AUTH_E_MALFORMED);
	free(t);
	/* Standard-alphabet characters are not base64url. */
	t = kit_fmt("%s", tok);
	t[1] = '+';
	assert_int_equal(rg_auth_verify_with(&cfg, ks, t, strlen(t), NOW, NULL, &why),
			 RG_AUTH_E_MALFORMED);
	free(t);
	/* Two parts, four parts, empty parts. */
	t = kit_fmt("%.*s", (int)(strrchr(tok, '.') - tok), tok);
	assert_int_equal(rg_auth_verify_with(&cfg, ks, t, strlen(t), NOW, NULL, &why),
			 RG_AUTH_E_MALFORMED);
	free(t);
	t = kit_fmt("%s.x", tok);
	assert_int_equal(rg_auth_verify_with(&cfg, ks, t, strlen(t), NOW, NULL, &why),
			 RG_AUTH_E_MALFORMED);
	free(t);
	assert_int_equal(rg_auth_verify_with(&cfg, ks, "..", 2, NOW, NULL, &why),
			 RG_AUTH_E_MALFORMED);
	/* Non-canonical last character of the signature (unused bits set). */
	t = kit_fmt("%s", tok);
	size_t L = strlen(t);
	t[L - 1] = t[L - 1] == 'A' ? 'B' : 'A';	/* 64 bytes: last char holds 4 spare bits */
	assert_int_not_equal(rg_auth_verify_with(&cfg, ks, t, strlen(t), NOW, NULL, &why),
			     RG_AUTH_OK);
	free(t);
	free(p);
	free(h);
	free(tok);
}

/* Only printable ASCII, no '"' or '\\': a detail always fits inside detail="..." on a log line. */
static void assert_log_safe(const char *d)
{
	for (const unsigned char *c = (const unsigned char *)d; *c; c++) {
		if (*c < 0x20 || *c >= 0x7f || *c == '"' || *c == '\\')
			print_error("unsafe byte 0x%02x in detail \"%s\"\n", *c, d);
		assert_true(*c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\');
	}
}

/* jansson's parse errors quote the offending token's raw bytes: quotes, backslashes and
 * UTF-8 from the token must not reach the detail as they are. */
static void test_json_parse_error_detail_is_sanitised(void **state)
{
	static const char bad_hdr[] = "{\"alg\" \"x\\\" event=forged\"}";
	char *h = kit_b64(bad_hdr, strlen(bad_hdr));
	char *t = kit_fmt("%s.eyJhIjoxfQ.AAAA", h);
	struct rg_auth_fail why;

	(void)state;
	assert_int_equal(rg_auth_verify_with(&cfg, ks, t, strlen(t), NOW, NULL, &why),
			 RG_AUTH_E_MALFORMED);
	assert_non_null(strstr(why.detail, "header is not JSON"));
	assert_non_null(strstr(why.detail, "event=forged")); /* jansson quoted it... */
	assert_log_safe(why.detail);				/* ...defused */
	free(h);
	free(t);
}

static void test_crit_header_is_refused(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);
	char *tok = kit_sign(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"ec1\",\"crit\":[\"exp\"]}",
			     p);
	struct rg_auth_fail why;

	(void)state;
	assert_int_equal(rg_auth_verify_with(&cfg, ks, tok, strlen(tok), NOW, NULL, &why),
			 RG_AUTH_E_MALFORMED);
	free(p);
	free(tok);
}

static void test_client_message_leaks_nothing(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW - 1000, 300);
	char *h = hdr("ES256", "ec1");
	char *tok = kit_sign(ec, "ES256", h, p);
	struct rg_auth_fail why;
	enum rg_auth_err e;
	char *sig = strrchr(tok, '.') + 1;

	(void)state;
	e = rg_auth_verify_with(&cfg, ks, tok, strlen(tok), NOW, NULL, &why);
	assert_int_equal(e, RG_AUTH_E_EXPIRED);
	assert_string_equal(rg_auth_err_name(e), "expired");
	assert_null(strstr(why.detail, sig));
	assert_null(strstr(why.detail, tok));
	for (int i = 0; i < RG_AUTH_E__COUNT; i++) {
		assert_string_equal(rg_auth_client_message(i), "authentication failed");
		assert_true(strcmp(rg_auth_sqlstate(i), "28P01") == 0 ||
			    strcmp(rg_auth_sqlstate(i), "28000") == 0);
		assert_string_not_equal(rg_auth_err_name(i), "unknown");
	}
	assert_string_equal(rg_auth_sqlstate(RG_AUTH_E_BAD_SIGNATURE), "28P01");
	assert_string_equal(rg_auth_sqlstate(RG_AUTH_E_NO_KEYS), "28000");
	free(p);
	free(h);
	free(tok);
}

static void test_kid_in_log_detail_is_sanitised(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);
	char *tok = kit_sign(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"a\\nb\\u0007\\\"c\"}", p);
	struct rg_auth_fail why;

	(void)state;
	assert_int_equal(rg_auth_verify_with(&cfg, ks, tok, strlen(tok), NOW, NULL, &why),
			 RG_AUTH_E_UNKNOWN_KID);
	assert_null(strchr(why.detail, '\n'));
	assert_null(strchr(why.detail, '\a'));
	assert_non_null(strstr(why.detail, "a?b??c"));
	free(p);
	free(tok);
}

static void test_peek_issuer_reads_unverified_iss(void **state)
{
	char *p = kit_claims(ISS, AUD, "a", NOW, 300);
	char *tok = kit_sign(ec, "ES256", "{\"alg\":\"ES256\"}", p);
	char iss[64];

	(void)state;
	assert_int_equal(rg_auth_peek_issuer(tok, strlen(tok), iss, sizeof(iss)), 0);
	assert_string_equal(iss, ISS);
	assert_int_equal(rg_auth_peek_issuer(tok, strlen(tok), iss, 4), -EINVAL);
	assert_int_equal(rg_auth_peek_issuer("a.b", 3, iss, sizeof(iss)), -EINVAL);
	free(p);
	free(tok);
}

#define T(f) cmocka_unit_test_setup(f, reset_cfg)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rs256_valid_token_verifies),
		T(test_es256_valid_token_verifies),
		T(test_eddsa_valid_token_verifies),
		T(test_token_without_kid_verifies_when_one_key_fits),
		T(test_alg_none_is_refused),
		T(test_hs256_is_refused),
		T(test_alg_not_matching_key_type_is_refused),
		T(test_unknown_kid_is_refused),
		T(test_signature_by_another_key_is_refused),
		T(test_tampered_payload_is_refused),
		T(test_es256_der_signature_is_refused),
		T(test_expired_token_is_refused),
		T(test_expired_within_skew_verifies),
		T(test_missing_exp_is_refused),
		T(test_nbf_in_future_is_refused),
		T(test_iat_in_future_is_refused),
		T(test_non_numeric_exp_is_refused),
		T(test_wrong_issuer_is_refused),
		T(test_wrong_audience_is_refused),
		T(test_audience_array_containing_ours_verifies),
		T(test_missing_sub_is_refused),
		T(test_configured_required_claim_missing_is_refused),
		T(test_groups_as_single_string_and_custom_claim),
		T(test_groups_of_wrong_type_are_refused),
		T(test_duplicate_claim_names_are_malformed),
		T(test_oversized_token_is_refused),
		T(test_malformed_encodings_are_refused),
		T(test_crit_header_is_refused),
		T(test_json_parse_error_detail_is_sanitised),
		T(test_token_lifetime_beyond_max_is_refused),
		T(test_client_message_leaks_nothing),
		T(test_kid_in_log_detail_is_sanitised),
		T(test_peek_issuer_reads_unverified_iss),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
