/*
 * auth.c: the client side of the MySQL / MariaDB authentication methods ringgate speaks to
 * targets with their real credentials, as pure computations over the server's scramble
 * (no I/O, no state): mysql_native_password, caching_sha2_password (fast-path scramble,
 * cleartext over TLS, RSA-OAEP with a public key pinned in the config), MariaDB's
 * client_ed25519, and reading mysql_clear_password, the method agents use to hand their JWT
 * to ringgate (inside TLS only: the session decides that, not this file).
 *
 * Why here and not in engine/auth: these functions only transform protocol bytes (a
 * scramble in, an auth response out) and belong with the packets that carry them; keeping
 * them in the protocol module leaves engine/auth's header (shared by every protocol)
 * untouched and confines libsodium to the one module that needs it. The credential store
 * that supplies the password stays engine/auth's.
 *
 * Ed25519 uses libsodium's scalar and point primitives, not a signing API: MariaDB expands
 * the whole password with SHA-512 where RFC 8032 expands a 32-byte seed, so neither
 * OpenSSL's nor libsodium's Ed25519 signer (both seed-only) can produce its signatures.
 * Secrets on the stack are wiped before returning.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "wire-int.h"

static int digest(const EVP_MD *md, const void *a, size_t alen, const void *b, size_t blen,
		  uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len;
	int ok;

	if (!ctx)
		return RG_MY_E_CRYPTO;
	ok = EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, a, alen) &&
	     (!blen || EVP_DigestUpdate(ctx, b, blen)) && EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : RG_MY_E_CRYPTO;
}

int rg_my_native_password(const uint8_t *scramble, size_t scramble_len, const char *pw,
			  size_t pw_len, uint8_t out[RG_MY_NATIVE_LEN])
{
	uint8_t h1[20], h2[20], h3[20];
	int rc;

	if (scramble_len < RG_MY_SCRAMBLE_LEN)
		return RG_MY_E_ARG;
	if (!pw_len)
		return 0;
	rc = digest(EVP_sha1(), pw, pw_len, NULL, 0, h1);
	if (!rc)
		rc = digest(EVP_sha1(), h1, 20, NULL, 0, h2);
	if (!rc)
		rc = digest(EVP_sha1(), scramble, RG_MY_SCRAMBLE_LEN, h2, 20, h3);
	if (!rc)
		for (int i = 0; i < 20; i++)
			out[i] = h1[i] ^ h3[i];
	OPENSSL_cleanse(h1, sizeof(h1));
	OPENSSL_cleanse(h2, sizeof(h2));
	OPENSSL_cleanse(h3, sizeof(h3));
	return rc ? rc : RG_MY_NATIVE_LEN;
}

int rg_my_sha2_scramble(const uint8_t *scramble, size_t scramble_len, const char *pw, size_t pw_len,
			uint8_t out[RG_MY_SHA2_LEN])
{
	uint8_t h1[32], h2[32], h3[32];
	int rc;

	if (scramble_len < RG_MY_SCRAMBLE_LEN)
		return RG_MY_E_ARG;
	if (!pw_len)
		return 0;
	rc = digest(EVP_sha256(), pw, pw_len, NULL, 0, h1);
	if (!rc)
		rc = digest(EVP_sha256(), h1, 32, NULL, 0, h2);
	if (!rc)
		rc = digest(EVP_sha256(), h2, 32, scramble, RG_MY_SCRAMBLE_LEN, h3);
	if (!rc)
		for (int i = 0; i < 32; i++)
			out[i] = h1[i] ^ h3[i];
	OPENSSL_cleanse(h1, sizeof(h1));
	OPENSSL_cleanse(h2, sizeof(h2));
	OPENSSL_cleanse(h3, sizeof(h3));
	return rc ? rc : RG_MY_SHA2_LEN;
}

int rg_my_sha2_cleartext(const char *pw, size_t pw_len, uint8_t *out, size_t cap)
{
	if (pw_len >= cap || !no_nul(pw, pw_len))
		return RG_MY_E_ARG;
	memcpy(out, pw, pw_len);
	out[pw_len] = 0;
	return (int)pw_len + 1;
}

int rg_my_sha2_rsa(const char *pem, size_t pem_len, const uint8_t *scramble, size_t scramble_len,
		   const char *pw, size_t pw_len, uint8_t *out, size_t cap)
{
	BIO *bio = NULL;
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *plain = NULL;
	size_t outlen = cap;
	int rc = RG_MY_E_CRYPTO;

	if (scramble_len < RG_MY_SCRAMBLE_LEN || pem_len > INT32_MAX || pw_len > 4096 ||
	    !no_nul(pw, pw_len))
		return RG_MY_E_ARG;
	plain = OPENSSL_malloc(pw_len + 1);
	if (!plain)
		goto out;
	memcpy(plain, pw, pw_len);
	plain[pw_len] = 0;
	for (size_t i = 0; i <= pw_len; i++)
		plain[i] ^= scramble[i % RG_MY_SCRAMBLE_LEN];
	bio = BIO_new_mem_buf(pem, (int)pem_len);
	if (!bio)
		goto out;
	key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		goto out;
	if ((size_t)EVP_PKEY_get_size(key) > cap) {
		rc = RG_MY_E_ARG;
		goto out;
	}
	ctx = EVP_PKEY_CTX_new(key, NULL);
	if (!ctx || EVP_PKEY_encrypt_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) <= 0 ||
	    EVP_PKEY_encrypt(ctx, out, &outlen, plain, pw_len + 1) <= 0)
		goto out;
	rc = (int)outlen;
out:
	if (plain) {
		OPENSSL_cleanse(plain, pw_len + 1);
		OPENSSL_free(plain);
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return rc;
}

int rg_my_sha2_answer(const uint8_t *data, size_t n, bool tls, const char *pem, size_t pem_len,
		      const uint8_t *scramble, size_t scramble_len, const char *pw, size_t pw_len,
		      uint8_t *out, size_t cap)
{
	if (n != 1)
		return RG_MY_E_VALUE; /* a PEM key we did not ask for, or garbage */
	if (data[0] == RG_MY_SHA2_FAST_AUTH_OK)
		return 0;
	if (data[0] != RG_MY_SHA2_FULL_AUTH)
		return RG_MY_E_VALUE;
	if (tls)
		return rg_my_sha2_cleartext(pw, pw_len, out, cap);
	if (!pem)
		return RG_MY_E_PROTOCOL;
	return rg_my_sha2_rsa(pem, pem_len, scramble, scramble_len, pw, pw_len, out, cap);
}

int rg_my_read_clear_password(const uint8_t *p, size_t n, struct rg_my_str *pw)
{
	if (!n || p[n - 1] != 0)
		return RG_MY_E_NO_NUL;
	if (memchr(p, 0, n - 1))
		return RG_MY_E_VALUE;
	pw->p = p;
	pw->len = n - 1;
	pw->off = 0;
	return 0;
}

/* az = SHA-512(password) with the RFC 8032 clamping of its first half. */
static int ed25519_expand(const char *pw, size_t pw_len, uint8_t az[64])
{
	if (sodium_init() < 0)
		return RG_MY_E_CRYPTO;
	crypto_hash_sha512(az, (const unsigned char *)pw, pw_len);
	az[0] &= 248;
	az[31] &= 63;
	az[31] |= 64;
	return 0;
}

int rg_my_ed25519_pubkey(const char *pw, size_t pw_len, uint8_t pk[RG_MY_ED25519_PK_LEN])
{
	uint8_t az[64];
	int rc = ed25519_expand(pw, pw_len, az);

	if (!rc && crypto_scalarmult_ed25519_base_noclamp(pk, az) != 0)
		rc = RG_MY_E_CRYPTO;
	sodium_memzero(az, sizeof(az));
	return rc;
}

int rg_my_ed25519_sign(const uint8_t *scramble, size_t scramble_len, const char *pw, size_t pw_len,
		       uint8_t sig[RG_MY_ED25519_SIG_LEN])
{
	uint8_t az[64], a[64] = {0}, ared[32], nonce[64], r[32], A[32], hram[64], h[32], ha[32];
	crypto_hash_sha512_state st;
	int rc;

	if (scramble_len < RG_MY_ED25519_SCRAMBLE_LEN)
		return RG_MY_E_ARG;
	rc = ed25519_expand(pw, pw_len, az);
	if (rc)
		goto out;
	rc = RG_MY_E_CRYPTO;
	/* A = a.B with the clamped (unreduced) scalar, as the reference code computes it. */
	if (crypto_scalarmult_ed25519_base_noclamp(A, az) != 0)
		goto out;
	/* r = SHA-512(az[32..64) || M) mod L; R = r.B */
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, az + 32, 32);
	crypto_hash_sha512_update(&st, scramble, RG_MY_ED25519_SCRAMBLE_LEN);
	crypto_hash_sha512_final(&st, nonce);
	crypto_core_ed25519_scalar_reduce(r, nonce);
	if (crypto_scalarmult_ed25519_base_noclamp(sig, r) != 0)
		goto out;
	/* S = (SHA-512(R || A || M) mod L) * a + r mod L */
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, sig, 32);
	crypto_hash_sha512_update(&st, A, 32);
	crypto_hash_sha512_update(&st, scramble, RG_MY_ED25519_SCRAMBLE_LEN);
	crypto_hash_sha512_final(&st, hram);
	crypto_core_ed25519_scalar_reduce(h, hram);
	memcpy(a, az, 32);
	crypto_core_ed25519_scalar_reduce(ared, a);
	crypto_core_ed25519_scalar_mul(ha, h, ared);
	crypto_core_ed25519_scalar_add(sig + 32, ha, r);
	rc = RG_MY_ED25519_SIG_LEN;
out:
	sodium_memzero(az, sizeof(az));
	sodium_memzero(a, sizeof(a));
	sodium_memzero(ared, sizeof(ared));
	sodium_memzero(nonce, sizeof(nonce));
	sodium_memzero(r, sizeof(r));
	sodium_memzero(ha, sizeof(ha));
	sodium_memzero(&st, sizeof(st));
	return rc;
}
