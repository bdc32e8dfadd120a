/*
 * The compact identity (rg_auth_identity_dup): a token verified into the fixed-size struct
 * rg_auth_identity, then kept at its real size. Checks every accessor against the source,
 * that the block is exactly as large as its strings need, that it does not depend on the
 * source after the copy, and the edge cases: no groups, no jti, the largest identity the
 * verifier can produce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "kit.h"

#define ISS "https://issuer.example"
#define AUD "ringgate"
#define NOW 1700000000LL

static EVP_PKEY *ec;
static struct rg_auth_keyset *ks;

static int setup(void **state)
{
	char err[256], *j, *doc;

	(void)state;
	ec = kit_key(KIT_EC);
	j = kit_jwk(ec, "ec1", "ES256", "sig");
	doc = kit_jwks(1, j);
	if (rg_auth_keyset_parse(doc, strlen(doc), &ks, err, sizeof(err)) != 0) {
		fprintf(stderr, "keyset: %s\n", err);
		return -1;
	}
	free(j);
	free(doc);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rg_auth_keyset_free(ks);
	EVP_PKEY_free(ec);
	return 0;
}

/* Verify payload into *id (heap: the struct is ~4.9 KB). */
static struct rg_auth_identity *verified(const char *payload)
{
	struct rg_auth_identity *id = malloc(sizeof(*id));
	struct rg_auth_config cfg;
	struct rg_auth_fail why;
	char *tok = kit_sign(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", payload);

	assert_non_null(id);
	rg_auth_config_init(&cfg);
	cfg.issuer = ISS;
	cfg.audience = AUD;
	assert_int_equal(rg_auth_verify_with(&cfg, ks, tok, strlen(tok), NOW, id, &why),
			 RG_AUTH_OK);
	free(tok);
	return id;
}

static size_t header_size(uint32_t n_groups)
{
	/* what a principal with no string bytes needs: fixed part and the group pointers */
	struct rg_auth_identity *empty = calloc(1, sizeof(*empty));
	struct rg_auth_principal *p;
	size_t sz;

	assert_non_null(empty);
	p = rg_auth_identity_dup(empty);
	assert_non_null(p);
	sz = rg_auth_principal_size(p) - 3; /* three empty strings */
	rg_auth_principal_free(p);
	free(empty);
	return sz + n_groups * sizeof(char *);
}

static void test_dup_keeps_every_field_of_a_verified_identity(void **state)
{
	char *pl = kit_claims(ISS, AUD, "agent-7", NOW, 300);
	struct rg_auth_identity *id = verified(pl);
	struct rg_auth_principal *p = rg_auth_identity_dup(id);
	const char *const *g;
	size_t n;

	(void)state;
	assert_non_null(p);
	assert_string_equal(rg_auth_principal_iss(p), ISS);
	assert_string_equal(rg_auth_principal_sub(p), "agent-7");
	assert_string_equal(rg_auth_principal_jti(p), id->jti);
	assert_int_equal(rg_auth_principal_exp(p), NOW + 300);
	assert_int_equal(rg_auth_principal_n_groups(p), 2);
	assert_string_equal(rg_auth_principal_group(p, 0), "dev");
	assert_string_equal(rg_auth_principal_group(p, 1), "oncall");
	assert_null(rg_auth_principal_group(p, 2));
	assert_null(rg_auth_principal_group(p, UINT32_MAX));
	g = rg_auth_principal_groups(p, &n);
	assert_int_equal(n, 2);
	assert_string_equal(g[0], "dev");
	assert_string_equal(g[1], "oncall");
	/* the copy stands alone: wipe and free the source */
	memset(id, 0x5a, sizeof(*id));
	free(id);
	assert_string_equal(rg_auth_principal_sub(p), "agent-7");
	assert_string_equal(rg_auth_principal_group(p, 1), "oncall");
	rg_auth_principal_free(p);
	free(pl);
}

static void test_dup_is_exactly_as_large_as_its_strings(void **state)
{
	char *pl = kit_claims(ISS, AUD, "agent-7", NOW, 300);
	struct rg_auth_identity *id = verified(pl);
	struct rg_auth_principal *p = rg_auth_identity_dup(id);
	size_t strings = sizeof(ISS) + sizeof("agent-7") + strlen(id->jti) + 1 + sizeof("dev") +
			 sizeof("oncall");

	(void)state;
	assert_int_equal(rg_auth_principal_size(p), header_size(2) + strings);
	/* the point of it: a small fraction of the fixed-size struct */
	assert_true(rg_auth_principal_size(p) < 200);
	assert_true(sizeof(struct rg_auth_identity) > 4000);
	rg_auth_principal_free(p);
	free(id);
	free(pl);
}

static void test_dup_without_groups_or_jti(void **state)
{
	char *pl = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"s\",\"exp\":%lld}", ISS, AUD,
			   NOW + 60);
	struct rg_auth_identity *id = verified(pl);
	struct rg_auth_principal *p = rg_auth_identity_dup(id);
	size_t n = 99;

	(void)state;
	assert_non_null(p);
	assert_string_equal(rg_auth_principal_sub(p), "s");
	assert_string_equal(rg_auth_principal_jti(p), "");
	assert_int_equal(rg_auth_principal_n_groups(p), 0);
	assert_null(rg_auth_principal_group(p, 0));
	assert_non_null(rg_auth_principal_groups(p, &n));
	assert_int_equal(n, 0);
	assert_int_equal(rg_auth_principal_size(p), header_size(0) + sizeof(ISS) + 2 + 1);
	rg_auth_principal_free(p);
	free(id);
	free(pl);
}

/* The largest identity the verifier accepts: 255-byte sub, 127-byte jti, 64 groups. */
static void test_dup_of_the_largest_identity(void **state)
{
	char sub[256], jti[128], grp[64][40], *groups, *pl;
	struct rg_auth_identity *id;
	struct rg_auth_principal *p;
	size_t n, off = 0, gbytes = 0;
	uint32_t i;

	(void)state;
	memset(sub, 's', 255);
	sub[255] = '\0';
	memset(jti, 'j', 127);
	jti[127] = '\0';
	groups = malloc(64 * 48);
	assert_non_null(groups);
	for (i = 0; i < 64; i++) {
		snprintf(grp[i], sizeof(grp[i]), "group-%02u-%030u", i, i);
		off += (size_t)sprintf(groups + off, "%s\"%s\"", i ? "," : "", grp[i]);
		gbytes += strlen(grp[i]) + 1;
	}
	pl = kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"jti\":\"%s\",\"exp\":%lld,"
		     "\"groups\":[%s]}",
		     ISS, AUD, sub, jti, NOW + 60, groups);
	id = verified(pl);
	p = rg_auth_identity_dup(id);
	assert_non_null(p);
	assert_string_equal(rg_auth_principal_sub(p), sub);
	assert_string_equal(rg_auth_principal_jti(p), jti);
	assert_int_equal(rg_auth_principal_n_groups(p), 64);
	for (i = 0; i < 64; i++)
		assert_string_equal(rg_auth_principal_group(p, i), grp[i]);
	assert_string_equal(rg_auth_principal_groups(p, &n)[63], grp[63]);
	assert_int_equal(rg_auth_principal_size(p),
			 header_size(64) + sizeof(ISS) + 256 + 128 + gbytes);
	rg_auth_principal_free(p);
	rg_auth_principal_free(NULL);
	free(id);
	free(pl);
	free(groups);
}

/* A hand-made struct with unterminated fields (not what the verifier makes) stays in bounds. */
static void test_dup_stays_in_bounds_of_a_corrupt_identity(void **state)
{
	struct rg_auth_identity *id = malloc(sizeof(*id));
	struct rg_auth_principal *p;

	(void)state;
	assert_non_null(id);
	memset(id, 'x', sizeof(*id));
	id->n_groups = 2;
	id->group_off[0] = 0;
	id->group_off[1] = RG_AUTH_GROUP_BUF - 1;
	p = rg_auth_identity_dup(id);
	assert_non_null(p);
	assert_int_equal(strlen(rg_auth_principal_iss(p)), RG_AUTH_MAX_ISS - 1);
	assert_int_equal(strlen(rg_auth_principal_sub(p)), RG_AUTH_MAX_SUB - 1);
	assert_int_equal(strlen(rg_auth_principal_jti(p)), RG_AUTH_MAX_JTI - 1);
	assert_int_equal(strlen(rg_auth_principal_group(p, 0)), RG_AUTH_GROUP_BUF - 1);
	assert_int_equal(strlen(rg_auth_principal_group(p, 1)), 0);
	rg_auth_principal_free(p);
	id->group_off[1] = RG_AUTH_GROUP_BUF; /* out of the buffer: refused */
	assert_null(rg_auth_identity_dup(id));
	free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dup_keeps_every_field_of_a_verified_identity),
		cmocka_unit_test(test_dup_is_exactly_as_large_as_its_strings),
		cmocka_unit_test(test_dup_without_groups_or_jti),
		cmocka_unit_test(test_dup_of_the_largest_identity),
		cmocka_unit_test(test_dup_stays_in_bounds_of_a_corrupt_identity),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
