/*
 * DEVELOPMENT token issuer: `dev-issuer init` creates an EC P-256 signing key and its JWKS
 * in a directory; `token` prints ES256 JWTs signed with it, for trying ringgate locally and
 * for tests. It is NOT a production identity provider: no key protection beyond file mode
 * 0600, no revocation, no rotation, tokens for any subject on request.
 * Files: issuer.key (PKCS#8 PEM, 0600), jwks.json (public JWK, kid = RFC 7638 thumbprint,
 * alg ES256, use sig), issuer.json ({"issuer": URL}).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "auth.h"
#include "ctl.h"

#define DEV_WARNING "DEVELOPMENT issuer: for local testing only, never for production"
#define MAX_TTL (24 * 3600)

void ctl_dev_issuer_init_help(FILE *out)
{
	fprintf(out,
		"usage: ringgatectl dev-issuer init --dir D --issuer URL [--force]\n\n"
		"  " DEV_WARNING ".\n\n"
		"Creates in D (mode 0700 if created):\n"
		"  issuer.key   EC P-256 private key, PKCS#8 PEM, mode 0600\n"
		"  jwks.json    its public JWK (kid = RFC 7638 thumbprint, alg ES256, use sig);\n"
		"               point ringgate's jwks_file at it\n"
		"  issuer.json  {\"issuer\": URL}; configure the same issuer in ringgate\n\n"
		"  --dir D        directory to create or reuse\n"
		"  --issuer URL   the iss claim of every token this issuer signs\n"
		"  --force        replace an existing issuer.key (old tokens stop verifying)\n");
}

void ctl_token_help(FILE *out)
{
	fprintf(out,
		"usage: ringgatectl token --dir D --sub S --audience A [--groups a,b]\n"
		"                         [--ttl 10m] [--claim k=v]...\n\n"
		"  " DEV_WARNING ".\n\n"
		"Prints an ES256 JWT signed by the issuer in D (see dev-issuer init) with\n"
		"iss, sub, aud, iat, nbf, exp, jti and groups. Use it as the PostgreSQL password.\n\n"
		"  --dir D          issuer directory\n"
		"  --sub S          subject (the agent's identity)\n"
		"  --audience A     aud claim; must equal ringgate's configured audience\n"
		"  --groups a,b     comma-separated groups claim (omitted when not given)\n"
		"  --ttl T          lifetime: N, Ns, Nm, Nh (default 10m, at most 24h)\n"
		"  --claim k=v      extra string claim; registered claims cannot be overridden\n");
}

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* x and y of an EC P-256 key as base64url, and its RFC 7638 thumbprint. */
static int ec_public(EVP_PKEY *pk, char x[44], char y[44], char kid[44])
{
	uint8_t pt[65];
	size_t len = 0;

	if (!EVP_PKEY_is_a(pk, "EC") ||
	    !EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
					     sizeof(pt), &len) ||
	    len != 65 || pt[0] != 0x04)
		return -EINVAL;
	if (rg_auth_b64url_encode(pt + 1, 32, x, 44) != 43 ||
	    rg_auth_b64url_encode(pt + 33, 32, y, 44) != 43)
		return -EINVAL;
	return rg_auth_jwk_thumbprint_ec(x, y, kid);
}

static int write_json(const char *path, json_t *doc, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) != 0 || json_dumpfd(doc, fd, JSON_INDENT(2)) != 0 ||
	    write(fd, "\n", 1) != 1)
		ret = -EIO;
	if (close(fd) != 0 && !ret)
		ret = -errno;
	return ret;
}

static int write_key(const char *path, EVP_PKEY *pk, bool force)
{
	int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
	int fd = open(path, flags, 0600);
	FILE *f;
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) != 0) {
		close(fd);
		return -errno;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -errno;
	}
	if (PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) != 1)
		ret = -EIO;
	if (fclose(f) != 0 && !ret)
		ret = -EIO;
	return ret;
}

int ctl_dev_issuer_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	const char *dir = NULL, *issuer = NULL;
	char *kp = NULL, *jp = NULL, *ip = NULL;
	char x[44], y[44], kid[44];
	json_t *jwks = NULL, *iss = NULL;
	EVP_PKEY *pk = NULL;
	bool force = false;
	int c, ret = 1, err;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'i': issuer = optarg; break;
		case 'f': force = true; break;
		default: ctl_dev_issuer_init_help(stderr); return 2;
		}
	}
	if (!dir || !issuer || optind != argc) {
		ctl_dev_issuer_init_help(stderr);
		return 2;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "dev-issuer init: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	kp = path_in(dir, "issuer.key");
	jp = path_in(dir, "jwks.json");
	ip = path_in(dir, "issuer.json");
	if (!kp || !jp || !ip)
		goto out;
	pk = EVP_EC_gen("P-256");
	if (!pk || ec_public(pk, x, y, kid) != 0) {
		fprintf(stderr, "dev-issuer init: key generation failed\n");
		goto out;
	}
	err = write_key(kp, pk, force);
	if (err) {
		fprintf(stderr, "dev-issuer init: %s: %s%s\n", kp, strerror(-err),
			err == -EEXIST ? " (use --force to replace it)" : "");
		goto out;
	}
	jwks = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s}]}", "keys", "kty", "EC", "crv",
			 "P-256", "x", x, "y", y, "kid", kid, "alg", "ES256", "use", "sig");
	iss = json_pack("{s:s}", "issuer", issuer);
	if (!jwks || !iss || (err = write_json(jp, jwks, 0644)) ||
	    (err = write_json(ip, iss, 0644))) {
		fprintf(stderr, "dev-issuer init: cannot write %s: %s\n", dir,
			strerror(err ? -err : ENOMEM));
		goto out;
	}
	fprintf(stderr, "%s\nwrote %s, %s (kid %s), %s\n", DEV_WARNING, kp, jp, kid, ip);
	ret = 0;
out:
	json_decref(jwks);
	json_decref(iss);
	EVP_PKEY_free(pk);
	free(kp);
	free(jp);
	free(ip);
	return ret;
}

static long parse_ttl(const char *s)
{
	char *end;
	long v, mul = 1;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || v <= 0)
		return -1;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mul = 60, end++;
	else if (*end == 'h')
		mul = 3600, end++;
	if (*end || v > MAX_TTL / mul)
		return -1;
	return v * mul;
}

static bool reserved_claim(const char *k)
{
	static const char *const r[] = { "iss", "sub", "aud", "exp", "nbf", "iat", "jti",
					 "groups" };

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (strcmp(k, r[i]) == 0)
			return true;
	return false;
}

/* ES256 signature over input as base64url of raw R||S. */
static int sign_es256(EVP_PKEY *pk, const char *input, char out[90])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t der[80], raw[64];
	const uint8_t *d = der;
	size_t dlen = sizeof(der);
	ECDSA_SIG *es = NULL;
	int ret = -EIO;

	if (!m || EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestSign(m, der, &dlen, (const uint8_t *)input, strlen(input)) != 1)
		goto out;
	es = d2i_ECDSA_SIG(NULL, &d, (long)dlen);
	if (!es || BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) != 32)
		goto out;
	if (rg_auth_b64url_encode(raw, 64, out, 90) == 86)
		ret = 0;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(m);
	return ret;
}

static char *b64_json(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	size_t n = s ? strlen(s) : 0;
	char *out = s ? malloc(n * 4 / 3 + 4) : NULL;

	if (out && rg_auth_b64url_encode((uint8_t *)s, n, out, n * 4 / 3 + 4) < 0) {
		free(out);
		out = NULL;
	}
	free(s);
	return out;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *pk;

	if (!f) {
		fprintf(stderr, "token: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!pk)
		fprintf(stderr, "token: %s: not a PEM private key\n", path);
	return pk;
}

int ctl_token(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "sub", required_argument, NULL, 's' },
		{ "audience", required_argument, NULL, 'a' },
		{ "groups", required_argument, NULL, 'g' },
		{ "ttl", required_argument, NULL, 't' },
		{ "claim", required_argument, NULL, 'c' },
		{ 0 },
	};
	const char *dir = NULL, *sub = NULL, *aud = NULL, *groups = NULL, *ttl_s = "10m";
	json_t *extra = json_object(), *hdr = NULL, *pay = NULL, *idoc = NULL, *iss;
	char *kp = NULL, *ip = NULL, *hb = NULL, *pb = NULL, *input = NULL;
	char x[44], y[44], kid[44], sig[90], jti[32];
	uint8_t rnd[16];
	EVP_PKEY *pk = NULL;
	json_error_t jerr;
	long ttl;
	int c, ret = 2;
	time_t now = time(NULL);

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': sub = optarg; break;
		case 'a': aud = optarg; break;
		case 'g': groups = optarg; break;
		case 't': ttl_s = optarg; break;
		case 'c': {
			char *eq = strchr(optarg, '=');

			if (!eq || eq == optarg) {
				fprintf(stderr, "token: --claim wants k=v, got \"%s\"\n", optarg);
				goto out;
			}
			*eq = '\0';
			if (reserved_claim(optarg)) {
				fprintf(stderr, "token: --claim cannot set registered claim %s\n",
					optarg);
				goto out;
			}
			json_object_set_new(extra, optarg, json_string(eq + 1));
			break;
		}
		default: ctl_token_help(stderr); goto out;
		}
	}
	if (!dir || !sub || !aud || optind != argc || !extra) {
		ctl_token_help(stderr);
		goto out;
	}
	ttl = parse_ttl(ttl_s);
	if (ttl < 0) {
		fprintf(stderr, "token: bad --ttl \"%s\" (N, Ns, Nm or Nh, at most 24h)\n", ttl_s);
		goto out;
	}
	ret = 1;
	kp = path_in(dir, "issuer.key");
	ip = path_in(dir, "issuer.json");
	if (!kp || !ip)
		goto out;
	idoc = json_load_file(ip, JSON_REJECT_DUPLICATES, &jerr);
	iss = json_object_get(idoc, "issuer");
	if (!json_is_string(iss)) {
		fprintf(stderr, "token: %s: no issuer (run dev-issuer init first)\n", ip);
		goto out;
	}
	pk = load_key(kp);
	if (!pk)
		goto out;
	if (ec_public(pk, x, y, kid) != 0) {
		fprintf(stderr, "token: %s is not an EC P-256 key\n", kp);
		goto out;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 || rg_auth_b64url_encode(rnd, 16, jti, 32) < 0)
		goto out;

	hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "kid", kid);
	pay = json_pack("{s:O, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", iss, "sub", sub, "aud",
			aud, "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
			(json_int_t)(now + ttl), "jti", jti);
	if (!hdr || !pay)
		goto out;
	if (groups) {
		json_t *arr = json_array();
		char *copy = strdup(groups), *save = NULL;

		for (char *g = strtok_r(copy, ",", &save); g; g = strtok_r(NULL, ",", &save))
			json_array_append_new(arr, json_string(g));
		free(copy);
		json_object_set_new(pay, "groups", arr);
	}
	json_object_update(pay, extra);
	hb = b64_json(hdr);
	pb = b64_json(pay);
	if (!hb || !pb || asprintf(&input, "%s.%s", hb, pb) < 0) {
		input = NULL;
		goto out;
	}
	if (sign_es256(pk, input, sig) != 0) {
		fprintf(stderr, "token: signing failed\n");
		goto out;
	}
	printf("%s.%s\n", input, sig);
	ret = 0;
out:
	json_decref(extra);
	json_decref(hdr);
	json_decref(pay);
	json_decref(idoc);
	EVP_PKEY_free(pk);
	free(kp);
	free(ip);
	free(hb);
	free(pb);
	free(input);
	return ret;
}
