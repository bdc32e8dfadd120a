/*
 * sign: append an Ed25519 signature to a compiled bundle. The signature covers the header
 * (with the SIGNED flag already set) and the body, so neither can be altered or the flag
 * stripped without the engine noticing. The private key never enters the bundle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "bundle_format.h"
#include "rulec.h"

int rulec_sign(struct rulec_buf *b, const char *key_pem_path, char *err, size_t errlen)
{
	int rc = -1;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	FILE *f = fopen(key_pem_path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot open signing key %s", key_pem_path);
		return -1;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "%s: not an Ed25519 private key in PEM "
				      "(create one with: openssl genpkey -algorithm ed25519)",
			 key_pem_path);
		goto out;
	}
	struct rg_bundle_header *h = (struct rg_bundle_header *)b->p;
	if (b->n < RG_BUNDLE_HEADER_SIZE || h->flags & RG_BUNDLE_F_SIGNED ||
	    b->n != RG_BUNDLE_HEADER_SIZE + h->body_len) {
		snprintf(err, errlen, "bundle already signed or malformed");
		goto out;
	}
	h->flags |= RG_BUNDLE_F_SIGNED;
	uint8_t sig[64];
	size_t siglen = sizeof(sig);
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, b->p, b->n) != 1 || siglen != 64) {
		h->flags &= ~RG_BUNDLE_F_SIGNED;
		snprintf(err, errlen, "signing failed");
		goto out;
	}
	if (b->n + RG_BUNDLE_SIG_SIZE > b->cap) {
		uint8_t *p = realloc(b->p, b->n + RG_BUNDLE_SIG_SIZE);
		if (!p) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		b->p = p;
		b->cap = b->n + RG_BUNDLE_SIG_SIZE;
	}
	memcpy(b->p + b->n, RG_BUNDLE_SIG_MAGIC, 8);
	memcpy(b->p + b->n + 8, sig, 64);
	b->n += RG_BUNDLE_SIG_SIZE;
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	return rc;
}
