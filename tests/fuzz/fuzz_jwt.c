/*
 * Fuzz target for auth's parsers. The first byte picks the parser, the rest is its input:
 *   0: JWKS document -> rg_auth_keyset_parse
 *   1: compact JWS   -> rg_auth_verify_with against a fixed ES256 key set (the corpus holds
 *                       a token validly signed by it, so mutations reach every stage)
 *   2: JSON claims   -> rg_auth_check_claims (reaches claim logic without a signature)
 *   3: SCRAM server-first, then server-final (split at the first NUL) -> SCRAM client
 * Must never crash, leak or read out of bounds, whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_int.h"

/* Public half of a throwaway dev-issuer key (its private key was discarded). */
static const char fixed_jwks[] =
	"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"reDdnTOwt26HxKb7ah4WcVUMc-I1kRIi2k9ECIf2FnQ\",\"y\":\"uLXuR5CZ7cNLSI1FUWeMTR-pcXBtC7t_HTLxaC36LDI\",\"kid\":\"hJ6BaduzZIMXTZsnoN0tORhqnaCWeTqJHdLrFYXCY_4\",\"alg\":\"ES256\",\"use\":\"sig\"}]}";
#define NOW 1795472232LL

static struct rg_auth_keyset *fixed;

static void fuzz_jwks(const uint8_t *d, size_t n)
{
	struct rg_auth_keyset *ks = NULL;
	char err[256];

	if (rg_auth_keyset_parse((const char *)d, n, &ks, err, sizeof(err)) == 0)
		rg_auth_keyset_free(ks);
}

static void fuzz_claims(const struct rg_auth_config *cfg, const uint8_t *d, size_t n)
{
	json_t *c = json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, NULL);
	struct rg_auth_identity id;
	struct rg_auth_fail why;

	if (json_is_object(c))
		rg_auth_check_claims(cfg, c, NOW, &id, &why);
	json_decref(c);
}

static void fuzz_scram(const uint8_t *d, size_t n)
{
	const uint8_t *nul = memchr(d, 0, n);
	size_t n1 = nul ? (size_t)(nul - d) : n;
	struct rg_auth_scram s;
	char out[512];
	size_t olen;

	if (rg_auth_scram_init(&s, "", "pw", 2, "rOprNGfwEbeRWgbNEkqO") ||
	    rg_auth_scram_client_first(&s, out, sizeof(out), &olen))
		return;
	if (rg_auth_scram_client_final(&s, (const char *)d, n1, out, sizeof(out), &olen) == 0 &&
	    nul)
		rg_auth_scram_verify_server_final(&s, (const char *)nul + 1, n - n1 - 1);
	rg_auth_scram_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const req[] = { "jti" };
	struct rg_auth_config cfg;
	struct rg_auth_identity id;
	struct rg_auth_fail why;
	char iss[64];

	if (!fixed) {
		char err[256];

		if (rg_auth_keyset_parse(fixed_jwks, strlen(fixed_jwks), &fixed, err, sizeof(err)))
			abort();
	}
	if (size < 1)
		return 0;
	rg_auth_config_init(&cfg);
	cfg.issuer = "https://fuzz.example";
	cfg.audience = "ringgate";
	cfg.required_claims = req;
	cfg.n_required_claims = 1;
	switch (data[0] & 3) {
	case 0:
		fuzz_jwks(data + 1, size - 1);
		break;
	case 1:
		rg_auth_verify_with(&cfg, fixed, (const char *)data + 1, size - 1, NOW, &id, &why);
		rg_auth_peek_issuer((const char *)data + 1, size - 1, iss, sizeof(iss));
		break;
	case 2:
		fuzz_claims(&cfg, data + 1, size - 1);
		break;
	case 3:
		fuzz_scram(data + 1, size - 1);
		break;
	}
	return 0;
}
