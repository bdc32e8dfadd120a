/*
 * JWKS parsing (RFC 7517, key types from RFC 7518 section 6 and RFC 8037): turns a JSON
 * document into an immutable rg_auth_keyset of OpenSSL public keys built with
 * EVP_PKEY_fromdata. Supported: RSA (2048..8192-bit modulus), EC P-256, OKP Ed25519.
 * A supported key that is malformed fails the whole document with a precise message (a
 * refresher then keeps the previous set); unsupported or non-signing keys are skipped.
 * Private key members (d, p, q, ...) are refused: a JWKS that leaks them is a mistake.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "auth_int.h"

#define SKIP 1	/* key_build result: not an error, not a key */

/* Decode a required base64url member into buf. Returns length or negative. */
static ssize_t member_b64(json_t *jwk, const char *name, uint8_t *buf, size_t cap, char *err,
			  size_t errlen, const char *where)
{
	json_t *v = json_object_get(jwk, name);
	ssize_t n;

	if (!v)
		return rg_auth_errf(err, errlen, -EINVAL, "%s: missing \"%s\"", where, name);
	if (!json_is_string(v))
		return rg_auth_errf(err, errlen, -EINVAL, "%s: \"%s\" is not a string", where,
				    name);
	n = rg_auth_b64url_decode(json_string_value(v), json_string_length(v), buf, cap);
	if (n == -ENOSPC)
		return rg_auth_errf(err, errlen, -EINVAL, "%s: \"%s\" is too long", where, name);
	if (n < 0)
		return rg_auth_errf(err, errlen, -EINVAL, "%s: \"%s\" is not strict base64url",
				    where, name);
	return n;
}

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pk = NULL;

	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pk;
}

static int build_rsa(json_t *jwk, EVP_PKEY **out, char *err, size_t errlen, const char *where)
{
	uint8_t nbuf[1025], ebuf[9];
	ssize_t nn, ne;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	int ret = -EINVAL;
	int bits;

	nn = member_b64(jwk, "n", nbuf, sizeof(nbuf), err, errlen, where);
	if (nn < 0)
		return (int)nn;
	ne = member_b64(jwk, "e", ebuf, sizeof(ebuf), err, errlen, where);
	if (ne < 0)
		return (int)ne;
	n = BN_bin2bn(nbuf, (int)nn, NULL);
	e = BN_bin2bn(ebuf, (int)ne, NULL);
	if (!n || !e) {
		ret = rg_auth_errf(err, errlen, -ENOMEM, "%s: out of memory", where);
		goto out;
	}
	bits = BN_num_bits(n);
	if (bits < 2048 || bits > 8192) {
		ret = rg_auth_errf(err, errlen, -EINVAL,
				   "%s: RSA modulus is %d bits (2048..8192 accepted)", where, bits);
		goto out;
	}
	if (!BN_is_odd(n)) {
		ret = rg_auth_errf(err, errlen, -EINVAL, "%s: RSA modulus is even", where);
		goto out;
	}
	if (!BN_is_odd(e) || BN_num_bits(e) < 2 || BN_num_bits(e) > 64) {
		ret = rg_auth_errf(err, errlen, -EINVAL,
				   "%s: RSA exponent must be odd, >= 3, at most 64 bits", where);
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
		ret = rg_auth_errf(err, errlen, -ENOMEM, "%s: out of memory", where);
		goto out;
	}
	*out = fromdata("RSA", bld);
	if (!*out) {
		ret = rg_auth_errf(err, errlen, -EINVAL, "%s: OpenSSL refused the RSA key", where);
		goto out;
	}
	ret = 0;
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return ret;
}

static int build_ec(json_t *jwk, EVP_PKEY **out, char *err, size_t errlen, const char *where)
{
	uint8_t pt[65], x[33], y[33];
	ssize_t nx, ny;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY_CTX *chk = NULL;
	int ret = -EINVAL;

	nx = member_b64(jwk, "x", x, sizeof(x), err, errlen, where);
	if (nx < 0)
		return (int)nx;
	ny = member_b64(jwk, "y", y, sizeof(y), err, errlen, where);
	if (ny < 0)
		return (int)ny;
	/* RFC 7518 6.2.1.2: coordinates are the full 32 octets, no more, no less. */
	if (nx != 32 || ny != 32)
		return rg_auth_errf(err, errlen, -EINVAL,
				    "%s: P-256 x and y must be 32 bytes (got %zd and %zd)", where,
				    nx, ny);
	pt[0] = 0x04;
	memcpy(pt + 1, x, 32);
	memcpy(pt + 33, y, 32);
	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt))) {
		ret = rg_auth_errf(err, errlen, -ENOMEM, "%s: out of memory", where);
		goto out;
	}
	*out = fromdata("EC", bld);
	if (!*out) {
		ret = rg_auth_errf(err, errlen, -EINVAL, "%s: EC point is not on P-256", where);
		goto out;
	}
	/* Belt and braces: a full public check (on curve, not infinity, right order). */
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
	if (!chk || EVP_PKEY_public_check(chk) != 1) {
		EVP_PKEY_free(*out);
		*out = NULL;
		ret = rg_auth_errf(err, errlen, -EINVAL, "%s: EC public key fails validation",
				   where);
		goto out;
	}
	ret = 0;
out:
	EVP_PKEY_CTX_free(chk);
	OSSL_PARAM_BLD_free(bld);
	return ret;
}

static int build_okp(json_t *jwk, EVP_PKEY **out, char *err, size_t errlen, const char *where)
{
	uint8_t x[33];
	ssize_t nx;
	OSSL_PARAM_BLD *bld;
	int ret = 0;

	nx = member_b64(jwk, "x", x, sizeof(x), err, errlen, where);
	if (nx < 0)
		return (int)nx;
	if (nx != 32)
		return rg_auth_errf(err, errlen, -EINVAL, "%s: Ed25519 x must be 32 bytes (got %zd)",
				    where, nx);
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, x, 32)) {
		OSSL_PARAM_BLD_free(bld);
		return rg_auth_errf(err, errlen, -ENOMEM, "%s: out of memory", where);
	}
	*out = fromdata("ED25519", bld);
	if (!*out)
		ret = rg_auth_errf(err, errlen, -EINVAL, "%s: OpenSSL refused the Ed25519 key",
				   where);
	OSSL_PARAM_BLD_free(bld);
	return ret;
}

static const char *opt_string(json_t *jwk, const char *name, bool *bad)
{
	json_t *v = json_object_get(jwk, name);

	if (!v)
		return NULL;
	if (!json_is_string(v)) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

/* Build one key: 0 (key filled), SKIP, or a negative errno with err filled. */
static int key_build(json_t *jwk, size_t idx, struct rg_auth_key *k, char *err, size_t errlen)
{
	static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "k" };
	char where[RG_AUTH_MAX_KID + 48], safe_alg[17];
	const char *kty, *kid, *alg, *use, *crv;
	json_t *ops;
	bool bad = false;

	if (!json_is_object(jwk))
		return rg_auth_errf(err, errlen, -EINVAL, "keys[%zu]: not an object", idx);
	kid = opt_string(jwk, "kid", &bad);
	if (bad)
		return rg_auth_errf(err, errlen, -EINVAL, "keys[%zu]: \"kid\" is not a string", idx);
	if (kid) {
		char safe[RG_AUTH_MAX_KID];

		rg_auth_sanitize(kid, strlen(kid), safe, sizeof(safe));
		snprintf(where, sizeof(where), "keys[%zu] (kid \"%s\")", idx, safe);
		if (strlen(kid) >= RG_AUTH_MAX_KID)
			return rg_auth_errf(err, errlen, -EINVAL, "%s: kid longer than %d bytes",
					    where, RG_AUTH_MAX_KID - 1);
	} else {
		snprintf(where, sizeof(where), "keys[%zu]", idx);
	}
	kty = opt_string(jwk, "kty", &bad);
	alg = opt_string(jwk, "alg", &bad);
	use = opt_string(jwk, "use", &bad);
	crv = opt_string(jwk, "crv", &bad);
	if (bad)
		return rg_auth_errf(err, errlen, -EINVAL,
				    "%s: kty, alg, use and crv must be strings", where);
	if (!kty)
		return rg_auth_errf(err, errlen, -EINVAL, "%s: missing \"kty\"", where);
	for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
		if (json_object_get(jwk, private_members[i]))
			return rg_auth_errf(err, errlen, -EINVAL,
					    "%s: contains private key member \"%s\"", where,
					    private_members[i]);
	/* A symmetric key in a public document is a leaked secret (or HS256 confusion bait):
	 * refuse the document, whatever its use or key_ops say. */
	if (strcmp(kty, "oct") == 0)
		return rg_auth_errf(err, errlen, -EINVAL,
				    "%s: kty \"oct\" (a symmetric secret) has no place in a JWKS",
				    where);

	/* Keys not meant for verifying signatures are someone else's business. */
	if (use && strcmp(use, "sig") != 0)
		return SKIP;
	ops = json_object_get(jwk, "key_ops");
	if (ops) {
		bool verify = false;
		size_t i;
		json_t *op;

		if (!json_is_array(ops))
			return rg_auth_errf(err, errlen, -EINVAL, "%s: key_ops is not an array",
					    where);
		json_array_foreach(ops, i, op)
			if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
				verify = true;
		if (!verify)
			return SKIP;
	}

	memset(k, 0, sizeof(*k));
	if (kid) {
		strcpy(k->kid, kid);
		k->has_kid = true;
	}
	if (strcmp(kty, "RSA") == 0) {
		if (alg && strcmp(alg, "RS256") != 0)
			return SKIP;	/* RS384, PS256, RSA-OAEP...: not ours */
		k->alg = RG_AUTH_ALG_RS256;
		return build_rsa(jwk, &k->pkey, err, errlen, where);
	}
	if (strcmp(kty, "EC") == 0) {
		if (!crv)
			return rg_auth_errf(err, errlen, -EINVAL, "%s: missing \"crv\"", where);
		if (strcmp(crv, "P-256") != 0)
			return SKIP;
		if (alg && strcmp(alg, "ES256") != 0) {
			rg_auth_sanitize(alg, strlen(alg), safe_alg, sizeof(safe_alg));
			return rg_auth_errf(err, errlen, -EINVAL,
					    "%s: alg \"%s\" does not fit a P-256 key", where,
					    safe_alg);
		}
		k->alg = RG_AUTH_ALG_ES256;
		return build_ec(jwk, &k->pkey, err, errlen, where);
	}
	if (strcmp(kty, "OKP") == 0) {
		if (!crv)
			return rg_auth_errf(err, errlen, -EINVAL, "%s: missing \"crv\"", where);
		if (strcmp(crv, "Ed25519") != 0)
			return SKIP;	/* Ed448, X25519, X448 */
		if (alg && strcmp(alg, "EdDSA") != 0) {
			rg_auth_sanitize(alg, strlen(alg), safe_alg, sizeof(safe_alg));
			return rg_auth_errf(err, errlen, -EINVAL,
					    "%s: alg \"%s\" does not fit an Ed25519 key", where,
					    safe_alg);
		}
		k->alg = RG_AUTH_ALG_EDDSA;
		return build_okp(jwk, &k->pkey, err, errlen, where);
	}
	return SKIP;	/* a kty newer than this code */
}

void rg_auth_keyset_free(struct rg_auth_keyset *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++)
		EVP_PKEY_free(ks->keys[i].pkey);
	free(ks);
}

int rg_auth_keyset_parse(const char *json, size_t len, struct rg_auth_keyset **out, char *err,
			 size_t errlen)
{
	struct rg_auth_keyset *ks = NULL;
	json_error_t jerr;
	json_t *doc, *keys, *jwk;
	size_t i, n;
	int ret;

	*out = NULL;
	if (len > RG_AUTH_MAX_JWKS)
		return rg_auth_errf(err, errlen, -EINVAL, "JWKS larger than %u bytes",
				    RG_AUTH_MAX_JWKS);
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		/* jansson quotes raw bytes of the (possibly fetched) document: sanitise them */
		char safe[81];

		rg_auth_sanitize(jerr.text, strnlen(jerr.text, sizeof(jerr.text)), safe,
				 sizeof(safe));
		return rg_auth_errf(err, errlen, -EINVAL, "JWKS is not JSON: %s (line %d)", safe,
				    jerr.line);
	}
	keys = json_is_object(doc) ? json_object_get(doc, "keys") : NULL;
	if (!json_is_array(keys)) {
		ret = rg_auth_errf(err, errlen, -EINVAL, "JWKS has no \"keys\" array");
		goto out;
	}
	n = json_array_size(keys);
	if (n > RG_AUTH_MAX_KEYS) {
		ret = rg_auth_errf(err, errlen, -EINVAL, "JWKS has %zu keys (at most %d)", n,
				   RG_AUTH_MAX_KEYS);
		goto out;
	}
	ks = calloc(1, sizeof(*ks) + n * sizeof(ks->keys[0]));
	if (!ks) {
		ret = rg_auth_errf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(keys, i, jwk) {
		struct rg_auth_key *k = &ks->keys[ks->n];

		ret = key_build(jwk, i, k, err, errlen);
		if (ret < 0)
			goto out;
		if (ret == SKIP) {
			ks->skipped++;
			continue;
		}
		for (size_t j = 0; k->has_kid && j < ks->n; j++) {
			if (ks->keys[j].has_kid && strcmp(ks->keys[j].kid, k->kid) == 0) {
				char safe[RG_AUTH_MAX_KID];

				rg_auth_sanitize(k->kid, strlen(k->kid), safe, sizeof(safe));
				EVP_PKEY_free(k->pkey);
				ret = rg_auth_errf(err, errlen, -EINVAL,
						   "keys[%zu]: duplicate kid \"%s\"", i, safe);
				goto out;
			}
		}
		ks->n++;
	}
	*out = ks;
	ks = NULL;
	ret = 0;
out:
	rg_auth_keyset_free(ks);
	json_decref(doc);
	return ret;
}

size_t rg_auth_keyset_count(const struct rg_auth_keyset *ks)
{
	return ks ? ks->n : 0;
}

size_t rg_auth_keyset_skipped(const struct rg_auth_keyset *ks)
{
	return ks ? ks->skipped : 0;
}

bool rg_auth_keyset_has_kid(const struct rg_auth_keyset *ks, const char *kid)
{
	for (size_t i = 0; ks && i < ks->n; i++)
		if (ks->keys[i].has_kid && strcmp(ks->keys[i].kid, kid) == 0)
			return true;
	return false;
}

int rg_auth_jwk_thumbprint_ec(const char *x, const char *y, char out[44])
{
	/* RFC 7638 3.2: required members only, lexicographic order, no whitespace. */
	char canon[256];
	uint8_t md[32];
	unsigned int mdlen = 0;
	int n;

	n = snprintf(canon, sizeof(canon), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
		     x, y);
	if (n < 0 || (size_t)n >= sizeof(canon))
		return -EINVAL;
	if (!EVP_Digest(canon, (size_t)n, md, &mdlen, EVP_sha256(), NULL))
		return -EIO;
	return rg_auth_b64url_encode(md, mdlen, out, 44) == 43 ? 0 : -EIO;
}
