/*
 * Test kit implementation: OpenSSL key generation, JWK export, JWS signing (ES256 turned
 * from DER into raw R||S as RFC 7518 requires). Mirrors what a real issuer does, written
 * independently of the code under test except for the base64url encoder.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include "auth.h"
#include "kit.h"

static void die(const char *what)
{
	fprintf(stderr, "kit: %s failed\n", what);
	abort();
}

char *kit_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		die("vasprintf");
	va_end(ap);
	return s;
}

char *kit_b64(const char *s, size_t n)
{
	char *out = malloc(n * 4 / 3 + 4);

	if (!out || rg_auth_b64url_encode((const uint8_t *)s, n, out, n * 4 / 3 + 4) < 0)
		die("b64");
	return out;
}

EVP_PKEY *kit_key(enum kit_kind kind)
{
	EVP_PKEY *pk = NULL;

	switch (kind) {
	case KIT_RSA:
		pk = EVP_RSA_gen(2048);
		break;
	case KIT_EC:
		pk = EVP_EC_gen("P-256");
		break;
	case KIT_ED25519:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (!pk)
		die("keygen");
	return pk;
}

static char *bn_b64(EVP_PKEY *pk, const char *param)
{
	BIGNUM *bn = NULL;
	uint8_t buf[1024];
	int n;

	if (!EVP_PKEY_get_bn_param(pk, param, &bn))
		die("get_bn_param");
	n = BN_bn2bin(bn, buf);
	BN_free(bn);
	return kit_b64((const char *)buf, (size_t)n);
}

char *kit_jwk(EVP_PKEY *pk, const char *kid, const char *alg, const char *use)
{
	char *body, *out, *x, *y;
	uint8_t pt[65];
	size_t len = 0;

	if (EVP_PKEY_is_a(pk, "RSA")) {
		x = bn_b64(pk, OSSL_PKEY_PARAM_RSA_N);
		y = bn_b64(pk, OSSL_PKEY_PARAM_RSA_E);
		body = kit_fmt("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"", x, y);
		free(x);
		free(y);
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		if (!EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
						     sizeof(pt), &len) ||
		    len != 65)
			die("ec point");
		x = kit_b64((const char *)pt + 1, 32);
		y = kit_b64((const char *)pt + 33, 32);
		body = kit_fmt("\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"", x, y);
		free(x);
		free(y);
	} else {
		len = 32;
		if (!EVP_PKEY_get_raw_public_key(pk, pt, &len))
			die("raw pub");
		x = kit_b64((const char *)pt, len);
		body = kit_fmt("\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"", x);
		free(x);
	}
	out = kit_fmt("{%s%s%s%s%s%s%s%s%s%s}", body, kid ? ",\"kid\":\"" : "", kid ? kid : "",
		      kid ? "\"" : "", alg ? ",\"alg\":\"" : "", alg ? alg : "", alg ? "\"" : "",
		      use ? ",\"use\":\"" : "", use ? use : "", use ? "\"" : "");
	free(body);
	return out;
}

char *kit_jwks(int n, ...)
{
	va_list ap;
	char *acc = kit_fmt("{\"keys\":[");

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		char *next = kit_fmt("%s%s%s", acc, i ? "," : "", va_arg(ap, const char *));

		free(acc);
		acc = next;
	}
	va_end(ap);
	char *out = kit_fmt("%s]}", acc);

	free(acc);
	return out;
}

char *kit_sign(EVP_PKEY *pk, const char *sign_alg, const char *header_json,
	       const char *payload_json)
{
	char *h = kit_b64(header_json, strlen(header_json));
	char *p = kit_b64(payload_json, strlen(payload_json));
	char *input = kit_fmt("%s.%s", h, p);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t sig[1024], raw[64];
	size_t slen = sizeof(sig);
	const uint8_t *s = sig;
	char *sb, *out;

	if (EVP_DigestSignInit(m, NULL, strcmp(sign_alg, "EdDSA") ? EVP_sha256() : NULL, NULL,
			       pk) != 1 ||
	    EVP_DigestSign(m, sig, &slen, (const uint8_t *)input, strlen(input)) != 1)
		die("sign");
	if (strcmp(sign_alg, "ES256") == 0) {
		const uint8_t *d = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &d, (long)slen);

		if (!es || BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) != 32 ||
		    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) != 32)
			die("der->raw");
		ECDSA_SIG_free(es);
		s = raw;
		slen = 64;
	}
	sb = kit_b64((const char *)s, slen);
	out = kit_fmt("%s.%s", input, sb);
	free(h);
	free(p);
	free(input);
	free(sb);
	EVP_MD_CTX_free(m);
	return out;
}

char *kit_claims(const char *iss, const char *aud, const char *sub, int64_t now, int64_t ttl)
{
	return kit_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"iat\":%lld,"
		       "\"nbf\":%lld,\"exp\":%lld,\"groups\":[\"dev\",\"oncall\"],"
		       "\"jti\":\"j-1\"}",
		       iss, aud, sub, (long long)now, (long long)now, (long long)(now + ttl));
}
