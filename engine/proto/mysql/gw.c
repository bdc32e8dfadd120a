/*
 * gw.c: the MySQL module's startup-built state: its targets (the gateway's, engine/gateway,
 * with the pinned RSA public key read from server_public_key_file) and its listeners (TLS
 * server context). Issuers, addresses, credentials, admission and the event log are the
 * gateway's. Everything here is built before the workers start and read-only afterwards.
 * Never logs secrets.
 */
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "my-int.h"

int rg_mysql_new(const struct rg_config *cfg, struct rg_gw *svc, struct rg_mysql **out)
{
	struct rg_mysql *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->cfg = cfg;
	m->svc = svc;
	m->workers = rg_gw_workers(svc);
	m->password_timeout_ms = cfg ? (uint32_t)cfg->limits.password_timeout_ms : 10000;
	m->login_timeout_ms = cfg ? (uint32_t)cfg->limits.login_timeout_ms : 60000;
	m->cls = calloc(m->workers ? m->workers : 1, sizeof(*m->cls));
	if (!m->cls || rg_gw_counters_add(svc, "mysql", &m->cnt)) {
		free(m->cls);
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void rg_mysql_set_approvals(struct rg_mysql *m, struct rg_approvals *ap)
{
	m->approvals = ap;
}

void rg_mysql_free(struct rg_mysql *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_targets; i++)
		free(m->targets[i].pem);
	free(m->targets);
	my_policy_free(m);
	free(m);
}

const struct my_target *my_target_by_name(const struct rg_mysql *m, const char *name, size_t len)
{
	for (size_t i = 0; i < m->n_targets; i++) {
		const char *n = m->targets[i].cfg->name;

		if (strlen(n) == len && !memcmp(n, name, len))
			return &m->targets[i];
	}
	return NULL;
}

/* The pinned key: a PEM public key that OpenSSL reads as RSA (what caching_sha2_password's
 * full authentication encrypts to). Errors name the config entry. */
static int read_pem(const struct rg_config_target *t, char **out, size_t *len)
{
	FILE *f = fopen(t->server_public_key_file, "rb");
	char buf[16384];
	size_t n;
	BIO *bio;
	EVP_PKEY *k;
	int ok;

	if (!f) {
		fprintf(stderr, "%u:%u: target %s: server_public_key_file %s: %s\n", t->loc.line,
			t->loc.col, t->name, t->server_public_key_file, strerror(errno));
		return -EINVAL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	bio = BIO_new_mem_buf(buf, (int)n);
	k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	ok = k && EVP_PKEY_base_id(k) == EVP_PKEY_RSA;
	EVP_PKEY_free(k);
	BIO_free(bio);
	if (!ok) {
		fprintf(stderr, "%u:%u: target %s: server_public_key_file %s: not a PEM RSA public "
				"key\n",
			t->loc.line, t->loc.col, t->name, t->server_public_key_file);
		return -EINVAL;
	}
	*out = malloc(n + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, buf, n + 1);
	*len = n;
	return 0;
}

static int proto_target_add(void *mod, const struct rg_gw_target *gt)
{
	struct rg_mysql *m = mod;
	struct my_target *n, t = {.cfg = gt->cfg, .gt = gt};
	int ret;

	if (gt->cfg->protocol != RG_CONFIG_PROTO_MYSQL)
		return -EINVAL;
	if (gt->cfg->server_public_key_file && (ret = read_pem(gt->cfg, &t.pem, &t.pem_len)))
		return ret;
	n = realloc(m->targets, sizeof(*n) * (m->n_targets + 1));
	if (!n) {
		free(t.pem);
		return -ENOMEM;
	}
	m->targets = n;
	n[m->n_targets++] = t;
	return 0;
}

static int proto_listener_new(void *mod, const struct rg_config_listener *lc, void **ctx,
			      char *err, size_t errlen)
{
	struct my_listener *l = calloc(1, sizeof(*l));
	char why[256] = "";
	int ret;

	*ctx = NULL;
	if (!l)
		return -ENOMEM;
	l->m = mod;
	l->cfg = lc;
	if (lc->tls_enabled) {
		ret = rg_tls_server_ctx_new(lc->tls.cert, lc->tls.key, &l->tls, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "%u:%u: listener %s: tls: %s", lc->loc.line,
				 lc->loc.col, lc->name, why);
			free(l);
			return ret;
		}
	} else {
		/* config.c allows a plaintext mysql listener only on loopback with
		 * insecure_plaintext: checked again, the token's safety rests on it */
		l->plaintext_ok = lc->insecure_plaintext && rg_config_addr_is_loopback(&lc->address);
	}
	*ctx = l;
	return 0;
}

static void proto_listener_free(void *ctx)
{
	struct my_listener *l = ctx;

	if (!l)
		return;
	rg_tls_ctx_free(l->tls);
	free(l);
}

const struct rg_gw_proto rg_mysql_proto = {
    .name = "mysql",
    .ops = &rg_mysql_ops,
    .target_add = proto_target_add,
    .listener_new = proto_listener_new,
    .listener_free = proto_listener_free,
};
