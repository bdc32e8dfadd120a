/*
 * Test kit for auth: generates keys with OpenSSL, exports their public JWK, and signs
 * tokens the way an issuer would, so the tests exercise rg_auth against independently
 * built inputs. Test-only: aborts on any failure, leaks nothing (callers free results).
 */
#ifndef RG_AUTH_TEST_KIT_H
#define RG_AUTH_TEST_KIT_H

#include <stdint.h>

#include <openssl/evp.h>

enum kit_kind { KIT_RSA, KIT_EC, KIT_ED25519 };

EVP_PKEY *kit_key(enum kit_kind kind);
/* Public JWK object text; alg/use omitted when NULL. */
char *kit_jwk(EVP_PKEY *pk, const char *kid, const char *alg, const char *use);
/* {"keys":[a,b,...]} from n JWK texts. */
char *kit_jwks(int n, ...);
/* Signed compact JWS. header_json and payload_json are complete JSON objects. The
 * signature is made with pk according to sign_alg ("RS256", "ES256", "EdDSA"). */
char *kit_sign(EVP_PKEY *pk, const char *sign_alg, const char *header_json,
	       const char *payload_json);
/* Standard claims: iss, aud, sub, iat=now, nbf=now, exp=now+ttl, groups [g1,g2]. */
char *kit_claims(const char *iss, const char *aud, const char *sub, int64_t now, int64_t ttl);
/* base64url of a string, malloc'd. */
char *kit_b64(const char *s, size_t n);
/* printf into a malloc'd string. */
char *kit_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
