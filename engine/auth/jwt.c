/*
 * JWT verification (RFC 7519 over compact JWS, RFC 7515): split, strict base64url, header,
 * key choice, signature, then claims, in that order. Nothing in the payload is looked at
 * before the signature verifies, so log details about claims only ever describe tokens the
 * issuer really signed. Pure: no I/O, no locks, no global state; the key set is read-only.
 * Only RS256, ES256 (raw R||S, RFC 7518 3.4) and EdDSA/Ed25519 (RFC 8037) are accepted, and
 * only with a key of the matching type: "none", HS* and everything else are refused.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>

#include "auth_int.h"

#define DEFAULT_MAX_TOKEN 16384
#define MAX_NUMERIC_DATE 1e15	/* far beyond any real date; keeps int64 math exact */

void rg_auth_config_init(struct rg_auth_config *c)
{
	memset(c, 0, sizeof(*c));
	c->jwks_refresh_ms = 300000;
	c->unknown_kid_refresh_ms = 30000;
	c->fetch_timeout_ms = 5000;
	c->clock_skew_ms = 60000;
	c->groups_claim = "groups";
	c->max_token_len = DEFAULT_MAX_TOKEN;
}

struct jws_parts {
	const char *hdr, *pay, *sig;
	size_t hdr_len, pay_len, sig_len;
};

static enum rg_auth_err split(const char *t, size_t len, struct jws_parts *p,
			      struct rg_auth_fail *why)
{
	const char *d1 = memchr(t, '.', len), *d2;

	if (!d1)
		return rg_auth_fail_set(why, RG_AUTH_E_MALFORMED, "not a compact JWS (no '.')");
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t));
	if (!d2)
		return rg_auth_fail_set(why, RG_AUTH_E_MALFORMED, "not a compact JWS (one '.')");
	if (memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - t)))
		return rg_auth_fail_set(why, RG_AUTH_E_MALFORMED,
					"more than three parts (JWE or garbage)");
	p->hdr = t;
	p->hdr_len = (size_t)(d1 - t);
	p->pay = d1 + 1;
	p->pay_len = (size_t)(d2 - p->pay);
	p->sig = d2 + 1;
	p->sig_len = len - (size_t)(p->sig - t);
	if (!p->hdr_len || !p->pay_len)
		return rg_auth_fail_set(why, RG_AUTH_E_MALFORMED, "empty header or payload");
	return RG_AUTH_OK;
}

/* Decode a base64url part and parse it as a JSON object. */
static enum rg_auth_err part_json(const char *s, size_t n, const char *what, json_t **out,
				  struct rg_auth_fail *why)
{
	size_t cap = n / 4 * 3 + 3;
	uint8_t *buf = malloc(cap);
	json_error_t jerr;
	ssize_t dn;

	*out = NULL;
	if (!buf)
		return rg_auth_fail_set(why, RG_AUTH_E_INTERNAL, "out of memory");
	dn = rg_auth_b64url_decode(s, n, buf, cap);
	if (dn < 0) {
		free(buf);
		return rg_auth_fail_set(why, RG_AUTH_E_MALFORMED, "%s is not strict base64url",
					what);
	}
	*out = json_loadb((const char *)buf, (size_t)dn, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (!*out) {
		/* jansson quotes the offending token's raw bytes ('"x\" y"'): token bytes */
		char safe[81];

		rg_auth_sanitize(jerr.text, strnlen(jerr.text, sizeof(jerr.text)), safe,
				 sizeof(safe));
		return rg_auth_fail_set(why, RG_AUTH_E_MALFORMED, "%s is not JSON: %s", what,
					safe);
	}
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return rg_auth_fail_set(why, RG_AUTH_E_MALFORMED, "%s is not a JSON object",
					what);
	}
	return RG_AUTH_OK;
}

static const char *const alg_names[] = {
	[RG_AUTH_ALG_RS256] = "RS256",
	[RG_AUTH_ALG_ES256] = "ES256",
	[RG_AUTH_ALG_EDDSA] = "EdDSA",
};

static enum rg_auth_err choose_key(const struct rg_auth_keyset *ks, json_t *hdr,
				   const struct rg_auth_key **out, struct rg_auth_fail *why)
{
	json_t *jalg = json_object_get(hdr, "alg"), *jkid = json_object_get(hdr, "kid");
	char safe[64];
	const char *alg;
	int want = -1;

	if (!json_is_string(jalg))
		return rg_auth_fail_set(why, RG_AUTH_E_MALFORMED, "header has no string alg");
	alg = json_string_value(jalg);
	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
		if (strcmp(alg, alg_names[i]) == 0)
			want = (int)i;
	if (want < 0) {
		rg_auth_sanitize(alg, json_string_length(jalg), safe, 24);
		return rg_auth_fail_set(why, RG_AUTH_E_ALG_NOT_ALLOWED, "alg \"%s\" not allowed",
					safe);
	}
	/* RFC 7515 4.1.11: extensions we do not understand must be refused. */
	if (json_object_get(hdr, "crit"))
		return rg_auth_fail_set(why, RG_AUTH_E_MALFORMED,
					"header has crit (no extension is supported)");
	if (jkid && !json_is_string(jkid))
		return rg_auth_fail_set(why, RG_AUTH_E_MALFORMED, "header kid is not a string");
	if (!ks || ks->n == 0)
		return rg_auth_fail_set(why, RG_AUTH_E_NO_KEYS, "no key set loaded");

	if (jkid) {
		const char *kid = json_string_value(jkid);

		for (size_t i = 0; i < ks->n; i++) {
			const struct rg_auth_key *k = &ks->keys[i];

			if (!k->has_kid || strcmp(k->kid, kid) != 0)
				continue;
			if ((int)k->alg != want) {
				rg_auth_sanitize(kid, json_string_length(jkid), safe, sizeof(safe));
				return rg_auth_fail_set(why, RG_AUTH_E_ALG_NOT_ALLOWED,
							"alg %s does not match key \"%s\" (%s)",
							alg_names[want], safe, alg_names[k->alg]);
			}
			*out = k;
			return RG_AUTH_OK;
		}
		rg_auth_sanitize(kid, json_string_length(jkid), safe, sizeof(safe));
		return rg_auth_fail_set(why, RG_AUTH_E_UNKNOWN_KID, "kid \"%s\" not in key set",
					safe);
	}
	/* No kid: acceptable only when exactly one key can verify this alg. */
	size_t matches = 0;

	for (size_t i = 0; i < ks->n; i++) {
		if ((int)ks->keys[i].alg == want) {
			*out = &ks->keys[i];
			matches++;
		}
	}
	if (matches != 1)
		return rg_auth_fail_set(why, RG_AUTH_E_UNKNOWN_KID,
					"token has no kid and %zu %s keys match", matches,
					alg_names[want]);
	return RG_AUTH_OK;
}

/* ES256 signatures are raw R||S (32 bytes each); OpenSSL wants DER. */
static int es256_to_der(const uint8_t *sig, uint8_t **der, int *der_len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);

	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -ENOMEM;
	}
	*der = NULL;
	*der_len = i2d_ECDSA_SIG(es, der);
	ECDSA_SIG_free(es);
	return *der_len > 0 ? 0 : -ENOMEM;
}

static enum rg_auth_err check_sig(const struct rg_auth_key *k, const struct jws_parts *p,
				  struct rg_auth_fail *why)
{
	uint8_t sig[1024 + 3];
	uint8_t *der = NULL;
	const uint8_t *vs = sig;
	size_t vslen;
	ssize_t n;
	EVP_MD_CTX *mctx = NULL;
	enum rg_auth_err ret;
	int der_len;

	n = rg_auth_b64url_decode(p->sig, p->sig_len, sig, sizeof(sig));
	if (n < 0)
		return rg_auth_fail_set(why, RG_AUTH_E_MALFORMED,
					"signature is not strict base64url");
	vslen = (size_t)n;
	switch (k->alg) {
	case RG_AUTH_ALG_RS256:
		if (vslen != (size_t)EVP_PKEY_get_size(k->pkey))
			return rg_auth_fail_set(why, RG_AUTH_E_BAD_SIGNATURE,
						"RS256 signature is %zu bytes, key needs %d",
						vslen, EVP_PKEY_get_size(k->pkey));
		break;
	case RG_AUTH_ALG_ES256:
		if (vslen != 64)
			return rg_auth_fail_set(why, RG_AUTH_E_BAD_SIGNATURE,
						"ES256 signature is %zu bytes, not 64", vslen);
		if (es256_to_der(sig, &der, &der_len) < 0)
			return rg_auth_fail_set(why, RG_AUTH_E_INTERNAL, "out of memory");
		vs = der;
		vslen = (size_t)der_len;
		break;
	case RG_AUTH_ALG_EDDSA:
		if (vslen != 64)
			return rg_auth_fail_set(why, RG_AUTH_E_BAD_SIGNATURE,
						"EdDSA signature is %zu bytes, not 64", vslen);
		break;
	}
	mctx = EVP_MD_CTX_new();
	if (!mctx) {
		ret = rg_auth_fail_set(why, RG_AUTH_E_INTERNAL, "out of memory");
		goto out;
	}
	/* EdDSA hashes internally: no digest, one-shot only. */
	if (EVP_DigestVerifyInit(mctx, NULL, k->alg == RG_AUTH_ALG_EDDSA ? NULL : EVP_sha256(),
				 NULL, k->pkey) != 1) {
		ret = rg_auth_fail_set(why, RG_AUTH_E_INTERNAL, "EVP_DigestVerifyInit failed");
		goto out;
	}
	/* The signing input is the ASCII header.payload exactly as received. */
	if (EVP_DigestVerify(mctx, vs, vslen, (const uint8_t *)p->hdr,
			     p->hdr_len + 1 + p->pay_len) != 1) {
		ret = rg_auth_fail_set(why, RG_AUTH_E_BAD_SIGNATURE, "%s signature does not verify",
				       alg_names[k->alg]);
		goto out;
	}
	ret = RG_AUTH_OK;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(der);
	return ret;
}

/* NumericDate (RFC 7519 2): a JSON number of seconds, possibly non-integer. */
static enum rg_auth_err numeric_date(json_t *claims, const char *name, bool *present,
				     int64_t *out, struct rg_auth_fail *why)
{
	json_t *v = json_object_get(claims, name);
	double d;

	*present = v != NULL;
	if (!v)
		return RG_AUTH_OK;
	if (!json_is_number(v))
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM, "%s is not a number", name);
	d = json_number_value(v);
	if (!(d > -MAX_NUMERIC_DATE && d < MAX_NUMERIC_DATE))
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM, "%s is out of range", name);
	*out = (int64_t)floor(d);
	return RG_AUTH_OK;
}

static enum rg_auth_err check_audience(const struct rg_auth_config *cfg, json_t *aud,
				       struct rg_auth_fail *why)
{
	char safe[64];

	if (json_is_string(aud)) {
		if (strcmp(json_string_value(aud), cfg->audience) == 0)
			return RG_AUTH_OK;
		rg_auth_sanitize(json_string_value(aud), json_string_length(aud), safe,
				 sizeof(safe));
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_AUDIENCE, "aud \"%s\" is not ours",
					safe);
	}
	if (json_is_array(aud)) {
		size_t i;
		json_t *a;

		json_array_foreach(aud, i, a) {
			if (!json_is_string(a))
				return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM,
							"aud[%zu] is not a string", i);
			if (strcmp(json_string_value(a), cfg->audience) == 0)
				return RG_AUTH_OK;
		}
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_AUDIENCE,
					"none of the %zu aud values is ours", json_array_size(aud));
	}
	return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM, "aud is neither string nor array");
}

static enum rg_auth_err add_group(struct rg_auth_identity *id, size_t *used, json_t *g,
				  struct rg_auth_fail *why)
{
	size_t n;

	if (!json_is_string(g))
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM, "a group is not a string");
	n = json_string_length(g);
	if (n == 0)
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM, "a group is empty");
	if (id->n_groups >= RG_AUTH_MAX_GROUPS)
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM, "more than %d groups",
					RG_AUTH_MAX_GROUPS);
	if (*used + n + 1 > sizeof(id->group_buf))
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM, "groups exceed %d bytes",
					RG_AUTH_GROUP_BUF);
	id->group_off[id->n_groups++] = (uint16_t)*used;
	memcpy(id->group_buf + *used, json_string_value(g), n + 1);
	*used += n + 1;
	return RG_AUTH_OK;
}

enum rg_auth_err rg_auth_check_claims(const struct rg_auth_config *cfg, json_t *claims,
				      int64_t now, struct rg_auth_identity *id,
				      struct rg_auth_fail *why)
{
	struct rg_auth_identity scratch;
	int64_t skew = (int64_t)((cfg->clock_skew_ms + 999) / 1000);
	int64_t exp = 0, nbf = 0, iat = 0;
	bool has_exp, has_nbf, has_iat;
	json_t *iss, *aud, *sub, *jti, *groups;
	const char *gclaim = cfg->groups_claim ? cfg->groups_claim : "groups";
	enum rg_auth_err e;
	char safe[64];
	size_t used = 0;

	if (!id)
		id = &scratch;
	memset(id, 0, sizeof(*id));

	iss = json_object_get(claims, "iss");
	if (!iss)
		return rg_auth_fail_set(why, RG_AUTH_E_MISSING_CLAIM, "missing claim iss");
	if (!json_is_string(iss) || strcmp(json_string_value(iss), cfg->issuer) != 0) {
		if (json_is_string(iss))
			rg_auth_sanitize(json_string_value(iss), json_string_length(iss), safe,
					 sizeof(safe));
		else
			strcpy(safe, "(not a string)");
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_ISSUER, "iss \"%s\" is not ours", safe);
	}
	aud = json_object_get(claims, "aud");
	if (!aud)
		return rg_auth_fail_set(why, RG_AUTH_E_MISSING_CLAIM, "missing claim aud");
	e = check_audience(cfg, aud, why);
	if (e)
		return e;

	if ((e = numeric_date(claims, "exp", &has_exp, &exp, why)) ||
	    (e = numeric_date(claims, "nbf", &has_nbf, &nbf, why)) ||
	    (e = numeric_date(claims, "iat", &has_iat, &iat, why)))
		return e;
	if (!has_exp)
		return rg_auth_fail_set(why, RG_AUTH_E_MISSING_CLAIM, "missing claim exp");
	if (now >= exp + skew)
		return rg_auth_fail_set(why, RG_AUTH_E_EXPIRED,
					"expired %lld s ago (skew %lld s)",
					(long long)(now - exp), (long long)skew);
	if (has_nbf && nbf > now + skew)
		return rg_auth_fail_set(why, RG_AUTH_E_NOT_YET_VALID, "nbf is %lld s ahead",
					(long long)(nbf - now));
	if (has_iat && iat > now + skew)
		return rg_auth_fail_set(why, RG_AUTH_E_IAT_IN_FUTURE, "iat is %lld s ahead",
					(long long)(iat - now));
	if (cfg->max_token_lifetime_ms) {
		/* Compared in ms so that a limit that is not whole seconds stays exact. */
		uint64_t max = cfg->max_token_lifetime_ms;

		if (!has_iat)
			return rg_auth_fail_set(why, RG_AUTH_E_MISSING_CLAIM,
						"missing claim iat (max_token_lifetime is set)");
		if (exp > iat && (uint64_t)(exp - iat) * 1000 > max)
			return rg_auth_fail_set(why, RG_AUTH_E_LIFETIME_TOO_LONG,
						"exp - iat is %lld s, max_token_lifetime %llu s",
						(long long)(exp - iat),
						(unsigned long long)(max / 1000));
		/* No skew here: however the issuer dated it, the token may not be usable for
		 * longer than the limit from now. */
		if (exp > now && (uint64_t)(exp - now) * 1000 > max)
			return rg_auth_fail_set(why, RG_AUTH_E_LIFETIME_TOO_LONG,
						"exp is %lld s ahead, max_token_lifetime %llu s",
						(long long)(exp - now),
						(unsigned long long)(max / 1000));
	}

	sub = json_object_get(claims, "sub");
	if (!sub)
		return rg_auth_fail_set(why, RG_AUTH_E_MISSING_CLAIM, "missing claim sub");
	if (!json_is_string(sub) || json_string_length(sub) == 0 ||
	    json_string_length(sub) >= sizeof(id->sub))
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM,
					"sub must be a string of 1..%zu bytes",
					sizeof(id->sub) - 1);
	for (size_t i = 0; i < cfg->n_required_claims; i++) {
		if (!json_object_get(claims, cfg->required_claims[i])) {
			rg_auth_sanitize(cfg->required_claims[i], strlen(cfg->required_claims[i]),
					 safe, sizeof(safe));
			return rg_auth_fail_set(why, RG_AUTH_E_MISSING_CLAIM,
						"missing required claim %s", safe);
		}
	}
	jti = json_object_get(claims, "jti");
	if (jti && (!json_is_string(jti) || json_string_length(jti) >= sizeof(id->jti)))
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM,
					"jti must be a string of at most %zu bytes",
					sizeof(id->jti) - 1);

	groups = json_object_get(claims, gclaim);
	if (json_is_array(groups)) {
		size_t i;
		json_t *g;

		json_array_foreach(groups, i, g)
			if ((e = add_group(id, &used, g, why)))
				return e;
	} else if (json_is_string(groups)) {
		if ((e = add_group(id, &used, groups, why)))
			return e;
	} else if (groups) {
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM,
					"groups claim is neither string nor array of strings");
	}

	/* iss fits: it equals cfg->issuer, which the caller sized; still be safe. */
	if (json_string_length(iss) >= sizeof(id->iss))
		return rg_auth_fail_set(why, RG_AUTH_E_BAD_CLAIM, "iss too long");
	strcpy(id->iss, json_string_value(iss));
	strcpy(id->sub, json_string_value(sub));
	if (jti)
		strcpy(id->jti, json_string_value(jti));
	id->exp = exp;
	return RG_AUTH_OK;
}

enum rg_auth_err rg_auth_verify_with(const struct rg_auth_config *cfg,
				     const struct rg_auth_keyset *ks, const char *token,
				     size_t len, int64_t now, struct rg_auth_identity *id,
				     struct rg_auth_fail *why)
{
	size_t max = cfg->max_token_len ? cfg->max_token_len : DEFAULT_MAX_TOKEN;
	const struct rg_auth_key *key = NULL;
	json_t *hdr = NULL, *claims = NULL;
	struct jws_parts p;
	enum rg_auth_err e;

	if (why) {
		why->err = RG_AUTH_OK;
		why->refresh_pending = false;
		why->detail[0] = '\0';
	}
	if (!cfg->issuer || !cfg->audience)
		return rg_auth_fail_set(why, RG_AUTH_E_INTERNAL, "issuer/audience not configured");
	if (len > max)
		return rg_auth_fail_set(why, RG_AUTH_E_TOO_LARGE, "token is %zu bytes (max %zu)",
					len, max);
	if ((e = split(token, len, &p, why)))
		return e;
	if ((e = part_json(p.hdr, p.hdr_len, "header", &hdr, why)))
		goto out;
	if ((e = choose_key(ks, hdr, &key, why)))
		goto out;
	if (p.sig_len == 0) {
		e = rg_auth_fail_set(why, RG_AUTH_E_BAD_SIGNATURE, "empty signature");
		goto out;
	}
	if ((e = check_sig(key, &p, why)))
		goto out;
	if ((e = part_json(p.pay, p.pay_len, "payload", &claims, why)))
		goto out;
	e = rg_auth_check_claims(cfg, claims, now, id, why);
out:
	json_decref(hdr);
	json_decref(claims);
	return e;
}

int rg_auth_peek_issuer(const char *token, size_t len, char *iss, size_t cap)
{
	struct jws_parts p;
	json_t *claims = NULL, *v;
	int ret = -EINVAL;

	if (len > DEFAULT_MAX_TOKEN * 4 || split(token, len, &p, NULL) ||
	    part_json(p.pay, p.pay_len, "payload", &claims, NULL))
		return -EINVAL;
	v = json_object_get(claims, "iss");
	if (json_is_string(v) && json_string_length(v) < cap) {
		memcpy(iss, json_string_value(v), json_string_length(v) + 1);
		ret = 0;
	}
	json_decref(claims);
	return ret;
}
