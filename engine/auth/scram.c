/*
 * Upstream password exchanges, pure (no I/O): the SCRAM-SHA-256 client of RFC 5802 / RFC
 * 7677 as PostgreSQL speaks it -- with tls-server-end-point channel binding (RFC 5929,
 * SCRAM-SHA-256-PLUS) when the caller passes the target certificate's hash, else gs2 header
 * "n,," (no TLS) or "y,," (TLS, -PLUS not offered) -- the md5 response and the cleartext
 * response. The SCRAM client is an explicit state machine; any protocol
 * violation moves it to FAILED and wipes its secrets. It refuses fewer than 4096
 * iterations or more than the caller's cap (PBKDF2 runs on the caller's thread), a server
 * nonce that does not extend ours, and above all a server-final signature that does not
 * verify: that is the only proof the upstream knows the password. Given the credential, it
 * reuses the credential's cached salted password for a salt and count it has seen.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth_int.h"

static const char *const scram_errs[] = {
	[RG_AUTH_SCRAM_OK] = "ok",
	[RG_AUTH_SCRAM_E_STATE] = "SCRAM call out of sequence",
	[RG_AUTH_SCRAM_E_MALFORMED] = "malformed SCRAM server message",
	[RG_AUTH_SCRAM_E_EXTENSION] = "server requires an unsupported SCRAM extension",
	[RG_AUTH_SCRAM_E_NONCE] = "server nonce does not extend the client nonce",
	[RG_AUTH_SCRAM_E_ITERATIONS] = "SCRAM iteration count out of the accepted range",
	[RG_AUTH_SCRAM_E_SERVER_ERROR] = "server reported a SCRAM error",
	[RG_AUTH_SCRAM_E_SIGNATURE] = "server signature does not verify",
	[RG_AUTH_SCRAM_E_NOSPC] = "SCRAM output buffer too small",
	[RG_AUTH_SCRAM_E_INTERNAL] = "SCRAM internal error",
};

const char *rg_auth_scram_strerror(enum rg_auth_scram_err e)
{
	if ((unsigned)e >= sizeof(scram_errs) / sizeof(scram_errs[0]))
		return "unknown SCRAM error";
	return scram_errs[e];
}

void rg_auth_scram_clear(struct rg_auth_scram *s)
{
	if (s->password) {
		OPENSSL_cleanse(s->password, s->password_len);
		free(s->password);
	}
	OPENSSL_cleanse(s, sizeof(*s));
}

static enum rg_auth_scram_err fail(struct rg_auth_scram *s, enum rg_auth_scram_err e)
{
	rg_auth_scram_clear(s);
	s->state = RG_AUTH_SCRAM_FAILED;
	return e;
}

/* RFC 5802 printable: %x21-2B / %x2D-7E (no comma). */
static bool nonce_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	return n > 0;
}

/* The gs2 header of each channel binding choice (RFC 5802 section 7, gs2-header). */
static const char *gs2_header(enum rg_auth_scram_cb cb)
{
	switch (cb) {
	case RG_AUTH_SCRAM_CB_NOT_OFFERED:
		return "y,,";
	case RG_AUTH_SCRAM_CB_SERVER_END_POINT:
		return "p=tls-server-end-point,,";
	default:
		return "n,,";
	}
}

const char *rg_auth_scram_mechanism(const struct rg_auth_scram *s)
{
	return s->cb == RG_AUTH_SCRAM_CB_SERVER_END_POINT ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
}

enum rg_auth_scram_err rg_auth_scram_init(struct rg_auth_scram *s, const char *user,
					  const char *password, size_t pwlen, const char *nonce)
{
	return rg_auth_scram_init_opts(s, user, password, pwlen, nonce, NULL);
}

enum rg_auth_scram_err rg_auth_scram_init_opts(struct rg_auth_scram *s, const char *user,
					       const char *password, size_t pwlen,
					       const char *nonce,
					       const struct rg_auth_scram_opts *opt)
{
	size_t o = 0;
	int n;

	memset(s, 0, sizeof(*s));
	if (opt) {
		switch (opt->cb) {
		case RG_AUTH_SCRAM_CB_NONE:
		case RG_AUTH_SCRAM_CB_NOT_OFFERED:
			break;
		case RG_AUTH_SCRAM_CB_SERVER_END_POINT:
			/* Binding to nothing would look bound and prove nothing. */
			if (!opt->cb_data || opt->cb_len == 0 || opt->cb_len > sizeof(s->cb_data))
				return fail(s, RG_AUTH_SCRAM_E_INTERNAL);
			memcpy(s->cb_data, opt->cb_data, opt->cb_len);
			s->cb_len = opt->cb_len;
			break;
		default:
			return fail(s, RG_AUTH_SCRAM_E_INTERNAL);
		}
		s->cb = opt->cb;
		if (opt->max_iterations > RG_AUTH_SCRAM_MAX_ITERATIONS ||
		    (opt->max_iterations && opt->max_iterations < RG_AUTH_SCRAM_MIN_ITERATIONS))
			return fail(s, RG_AUTH_SCRAM_E_INTERNAL);
		s->max_iterations = opt->max_iterations;
		s->cred = opt->cred;
	}
	if (!s->max_iterations)
		s->max_iterations = RG_AUTH_SCRAM_DEFAULT_MAX_ITERATIONS;
	if (nonce) {
		if (strlen(nonce) >= sizeof(s->cnonce) || !nonce_ok(nonce, strlen(nonce)))
			return fail(s, RG_AUTH_SCRAM_E_INTERNAL);
		strcpy(s->cnonce, nonce);
	} else {
		uint8_t rnd[18];

		if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
		    rg_auth_b64std_encode(rnd, sizeof(rnd), s->cnonce, sizeof(s->cnonce)) !=
			    RG_AUTH_SCRAM_NONCE_LEN)
			return fail(s, RG_AUTH_SCRAM_E_INTERNAL);
	}
	/* saslname: ',' and '=' are escaped as =2C and =3D. */
	n = snprintf(s->client_first_bare, sizeof(s->client_first_bare), "n=");
	o = (size_t)n;
	for (const char *u = user; *u; u++) {
		const char *esc = *u == ',' ? "=2C" : *u == '=' ? "=3D" : NULL;
		size_t len = esc ? 3 : 1;

		if (o + len + 1 >= sizeof(s->client_first_bare))
			return fail(s, RG_AUTH_SCRAM_E_NOSPC);
		memcpy(s->client_first_bare + o, esc ? esc : u, len);
		o += len;
	}
	n = snprintf(s->client_first_bare + o, sizeof(s->client_first_bare) - o, ",r=%s",
		     s->cnonce);
	if (n < 0 || (size_t)n >= sizeof(s->client_first_bare) - o)
		return fail(s, RG_AUTH_SCRAM_E_NOSPC);
	s->client_first_bare_len = o + (size_t)n;
	s->password = malloc(pwlen + 1);
	if (!s->password)
		return fail(s, RG_AUTH_SCRAM_E_INTERNAL);
	memcpy(s->password, password, pwlen);
	s->password[pwlen] = '\0';
	s->password_len = pwlen;
	s->state = RG_AUTH_SCRAM_INIT;
	return RG_AUTH_SCRAM_OK;
}

enum rg_auth_scram_err rg_auth_scram_client_first(struct rg_auth_scram *s, char *out, size_t cap,
						  size_t *outlen)
{
	const char *gs2 = gs2_header(s->cb);
	size_t gl = strlen(gs2);

	if (s->state != RG_AUTH_SCRAM_INIT)
		return fail(s, RG_AUTH_SCRAM_E_STATE);
	if (s->client_first_bare_len + gl + 1 > cap)
		return RG_AUTH_SCRAM_E_NOSPC;
	memcpy(out, gs2, gl);
	memcpy(out + gl, s->client_first_bare, s->client_first_bare_len + 1);
	*outlen = s->client_first_bare_len + gl;
	s->state = RG_AUTH_SCRAM_AWAIT_SERVER_FIRST;
	return RG_AUTH_SCRAM_OK;
}

static bool hmac(const uint8_t *key, size_t klen, const void *msg, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	return HMAC(EVP_sha256(), key, (int)klen, msg, n, out, &len) && len == 32;
}

/* Attribute "X=" at p; returns the value's end (next ',' or end of message). */
static const char *attr_end(const char *p, const char *end)
{
	const char *c = memchr(p, ',', (size_t)(end - p));

	return c ? c : end;
}

enum rg_auth_scram_err rg_auth_scram_client_final(struct rg_auth_scram *s, const char *sf,
						  size_t n, char *out, size_t cap, size_t *outlen)
{
	const char *end = sf + n, *p = sf, *e, *nonce;
	uint8_t salt[128], client_key[32], stored_key[32], client_sig[32], proof[32];
	uint8_t server_key[32], cbind[32 + RG_AUTH_SCRAM_CB_MAX], salt_key[32];
	char auth_msg[1600], cbind64[4 * ((sizeof(cbind) + 2) / 3) + 1];
	const char *gs2 = gs2_header(s->cb);
	size_t gl = strlen(gs2);
	size_t nonce_len, am_len;
	ssize_t salt_len;
	unsigned long iter = 0;
	enum rg_auth_scram_err ret;
	int w;

	if (s->state != RG_AUTH_SCRAM_AWAIT_SERVER_FIRST)
		return fail(s, RG_AUTH_SCRAM_E_STATE);
	if (n >= sizeof(s->server_first) || memchr(sf, '\0', n))
		return fail(s, RG_AUTH_SCRAM_E_MALFORMED);
	if (n >= 2 && memcmp(sf, "m=", 2) == 0)
		return fail(s, RG_AUTH_SCRAM_E_EXTENSION);
	/* r=<nonce> */
	if (end - p < 2 || memcmp(p, "r=", 2) != 0)
		return fail(s, RG_AUTH_SCRAM_E_MALFORMED);
	nonce = p + 2;
	e = attr_end(nonce, end);
	nonce_len = (size_t)(e - nonce);
	if (!nonce_ok(nonce, nonce_len))
		return fail(s, RG_AUTH_SCRAM_E_MALFORMED);
	if (nonce_len <= strlen(s->cnonce) || memcmp(nonce, s->cnonce, strlen(s->cnonce)) != 0)
		return fail(s, RG_AUTH_SCRAM_E_NONCE);
	/* ,s=<base64 salt> */
	p = e;
	if (end - p < 3 || memcmp(p, ",s=", 3) != 0)
		return fail(s, RG_AUTH_SCRAM_E_MALFORMED);
	p += 3;
	e = attr_end(p, end);
	salt_len = rg_auth_b64std_decode(p, (size_t)(e - p), salt, sizeof(salt));
	if (salt_len <= 0)
		return fail(s, RG_AUTH_SCRAM_E_MALFORMED);
	/* ,i=<iterations> */
	p = e;
	if (end - p < 4 || memcmp(p, ",i=", 3) != 0)
		return fail(s, RG_AUTH_SCRAM_E_MALFORMED);
	p += 3;
	e = attr_end(p, end);
	if (e == p || e - p > 9 || *p == '0')
		return fail(s, e - p > 9 ? RG_AUTH_SCRAM_E_ITERATIONS : RG_AUTH_SCRAM_E_MALFORMED);
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return fail(s, RG_AUTH_SCRAM_E_MALFORMED);
		iter = iter * 10 + (unsigned long)(*p - '0');
	}
	if (iter < RG_AUTH_SCRAM_MIN_ITERATIONS || iter > s->max_iterations)
		return fail(s, RG_AUTH_SCRAM_E_ITERATIONS);
	/* Anything after is optional extensions, which we may ignore (RFC 5802 5.1). */

	memcpy(s->server_first, sf, n);
	s->server_first[n] = '\0';
	s->server_first_len = n;
	/* c= is base64(gs2 header || cb data): "biws" for "n,,", "eSws" for "y,,". */
	memcpy(cbind, gs2, gl);
	memcpy(cbind + gl, s->cb_data, s->cb_len);
	if (rg_auth_b64std_encode(cbind, gl + s->cb_len, cbind64, sizeof(cbind64)) <= 0)
		return fail(s, RG_AUTH_SCRAM_E_INTERNAL);
	w = snprintf(s->client_final_wo_proof, sizeof(s->client_final_wo_proof), "c=%s,r=%.*s",
		     cbind64, (int)nonce_len, nonce);
	if (w < 0 || (size_t)w >= sizeof(s->client_final_wo_proof))
		return fail(s, RG_AUTH_SCRAM_E_MALFORMED);
	s->client_final_wo_proof_len = (size_t)w;
	w = snprintf(auth_msg, sizeof(auth_msg), "%s,%s,%s", s->client_first_bare,
		     s->server_first, s->client_final_wo_proof);
	if (w < 0 || (size_t)w >= sizeof(auth_msg))
		return fail(s, RG_AUTH_SCRAM_E_MALFORMED);
	am_len = (size_t)w;

	ret = RG_AUTH_SCRAM_E_INTERNAL;
	/* PBKDF2 is the expensive part (iterations x 2 HMACs, on the caller's thread): a
	 * credential remembers its result per (salt, iterations), which PostgreSQL keeps until
	 * the role's password changes. */
	if (s->cred && !EVP_Digest(salt, (size_t)salt_len, salt_key, NULL, EVP_sha256(), NULL))
		goto out;
	s->cache_hit = s->cred && rg_auth_cred_salted_get(s->cred, salt_key, (uint32_t)iter,
							  s->salted_password);
	if (!s->cache_hit) {
		if (PKCS5_PBKDF2_HMAC(s->password, (int)s->password_len, salt, (int)salt_len,
				      (int)iter, EVP_sha256(), 32, s->salted_password) != 1)
			goto out;
		if (s->cred)
			rg_auth_cred_salted_put(s->cred, salt_key, (uint32_t)iter,
						s->salted_password);
	}
	if (!hmac(s->salted_password, 32, "Client Key", 10, client_key) ||
	    !EVP_Digest(client_key, 32, stored_key, NULL, EVP_sha256(), NULL) ||
	    !hmac(stored_key, 32, auth_msg, am_len, client_sig) ||
	    !hmac(s->salted_password, 32, "Server Key", 10, server_key) ||
	    !hmac(server_key, 32, auth_msg, am_len, s->server_signature))
		goto out;
	for (int i = 0; i < 32; i++)
		proof[i] = client_key[i] ^ client_sig[i];
	ret = RG_AUTH_SCRAM_E_NOSPC;
	if (s->client_final_wo_proof_len + 3 + 44 + 1 > cap)
		goto out;
	memcpy(out, s->client_final_wo_proof, s->client_final_wo_proof_len);
	memcpy(out + s->client_final_wo_proof_len, ",p=", 3);
	w = (int)rg_auth_b64std_encode(proof, 32, out + s->client_final_wo_proof_len + 3, 45);
	*outlen = s->client_final_wo_proof_len + 3 + (size_t)w;
	s->state = RG_AUTH_SCRAM_AWAIT_SERVER_FINAL;
	ret = RG_AUTH_SCRAM_OK;
out:
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(stored_key, sizeof(stored_key));
	OPENSSL_cleanse(client_sig, sizeof(client_sig));
	OPENSSL_cleanse(proof, sizeof(proof));
	OPENSSL_cleanse(server_key, sizeof(server_key));
	/* The password is no longer needed once salted. */
	if (ret == RG_AUTH_SCRAM_OK) {
		OPENSSL_cleanse(s->password, s->password_len);
		free(s->password);
		s->password = NULL;
		s->password_len = 0;
		return ret;
	}
	return fail(s, ret);
}

enum rg_auth_scram_err rg_auth_scram_verify_server_final(struct rg_auth_scram *s,
							 const char *sf, size_t n)
{
	const char *end = sf + n, *e;
	uint8_t sig[33];
	ssize_t len;

	if (s->state != RG_AUTH_SCRAM_AWAIT_SERVER_FINAL)
		return fail(s, RG_AUTH_SCRAM_E_STATE);
	if (n >= 2 && memcmp(sf, "e=", 2) == 0)
		return fail(s, RG_AUTH_SCRAM_E_SERVER_ERROR);
	if (n < 2 || memcmp(sf, "v=", 2) != 0)
		return fail(s, RG_AUTH_SCRAM_E_MALFORMED);
	e = attr_end(sf + 2, end);
	len = rg_auth_b64std_decode(sf + 2, (size_t)(e - sf - 2), sig, sizeof(sig));
	if (len != 32)
		return fail(s, RG_AUTH_SCRAM_E_SIGNATURE);
	if (CRYPTO_memcmp(sig, s->server_signature, 32) != 0)
		return fail(s, RG_AUTH_SCRAM_E_SIGNATURE);
	OPENSSL_cleanse(s->salted_password, sizeof(s->salted_password));
	s->state = RG_AUTH_SCRAM_DONE;
	return RG_AUTH_SCRAM_OK;
}

static void hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int rg_auth_md5_response(const char *user, const char *password, size_t pwlen,
			 const uint8_t salt[4], char out[RG_AUTH_MD5_RESPONSE_LEN])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t md[16];
	char inner[33];
	int ret = -EIO;

	if (!c)
		return -ENOMEM;
	if (EVP_DigestInit_ex(c, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(c, password, pwlen) != 1 ||
	    EVP_DigestUpdate(c, user, strlen(user)) != 1 || EVP_DigestFinal_ex(c, md, NULL) != 1)
		goto out;
	hex(md, 16, inner);
	if (EVP_DigestInit_ex(c, EVP_md5(), NULL) != 1 || EVP_DigestUpdate(c, inner, 32) != 1 ||
	    EVP_DigestUpdate(c, salt, 4) != 1 || EVP_DigestFinal_ex(c, md, NULL) != 1)
		goto out;
	memcpy(out, "md5", 3);
	hex(md, 16, out + 3);
	ret = 0;
out:
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(md, sizeof(md));
	EVP_MD_CTX_free(c);
	return ret;
}
