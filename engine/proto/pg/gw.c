/*
 * gw.c: the pg gateway's shared, startup-built state: issuers' verifiers, targets (address
 * resolved once, credential, TLS client context), listeners (TLS server context), limits,
 * the cancel registry and the per-worker counters.
 *
 * Everything here is built before the workers start and read-only afterwards, except the
 * counters (each worker writes its own cache line) and the session count (one atomic per
 * accept). DNS names of targets are resolved here, at startup, so a worker never blocks on a
 * resolver; a changed DNS record needs a restart (docs/pg.md). Never logs secrets.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "pg-int.h"
#include "tls.h"

/* Streamed (never held whole) when at least this large: bulk data the gateway does not
 * need to see as one piece. Query and Parse are always held whole (the statement hook
 * needs the full text). */
#define PG_STREAM_MIN (256u * 1024)
/* PasswordMessage carries the token: allow up to the verifier's default maximum. */
#define PG_PASSWORD_MAX (64u * 1024)

void rg_pg_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

static enum rg_pg_hook_verdict noop_stmt(void *arg, const struct rg_pg_sess_info *si,
					 enum rg_pg_stmt_kind kind, const char *stmt_name,
					 const char *sql, size_t len, struct rg_pg_deny *deny)
{
	(void)arg, (void)si, (void)kind, (void)stmt_name, (void)sql, (void)len, (void)deny;
	return RG_PG_HOOK_ALLOW;
}

static void noop_row(void *arg, const struct rg_pg_sess_info *si, const struct rg_pg_msg *rowdesc,
		     struct rg_pg_msg *row)
{
	(void)arg, (void)si, (void)rowdesc, (void)row;
}

int rg_pg_gw_new(const struct rg_config *cfg, unsigned workers, struct rg_pg_gw **out)
{
	struct rg_pg_gw *gw = calloc(1, sizeof(*gw));

	*out = NULL;
	if (!gw)
		return -ENOMEM;
	gw->cfg = cfg;
	gw->workers = workers ? workers : 1;
	gw->cnt = aligned_alloc(64, sizeof(*gw->cnt) * gw->workers);
	gw->cancel = rg_pg_cancel_reg_new();
	if (!gw->cnt || !gw->cancel) {
		rg_pg_gw_free(gw);
		return -ENOMEM;
	}
	memset(gw->cnt, 0, sizeof(*gw->cnt) * gw->workers);
	rg_pg_gw_set_hooks(gw, NULL, NULL, NULL);
	rg_pg_limits_init(&gw->fe_lim, RG_PG_FE, 0, 0);
	gw->fe_lim.max[RG_PG_FE_PASSWORD] = PG_PASSWORD_MAX;
	rg_pg_limits_init(&gw->be_lim, RG_PG_BE, 0, 0);
	gw->fe_stream[RG_PG_FE_COPY_DATA] = gw->fe_stream[RG_PG_FE_BIND] = true;
	gw->fe_stream[RG_PG_FE_FUNCTION_CALL] = true;
	gw->be_stream[RG_PG_BE_COPY_DATA] = gw->be_stream[RG_PG_BE_DATA_ROW] = true;
	gw->be_stream[RG_PG_BE_FUNCTION_RESULT] = true;
	gw->max_sessions = cfg ? cfg->limits.max_sessions : 0;
	gw->stream_min = PG_STREAM_MIN;
	*out = gw;
	return 0;
}

int rg_pg_gw_add_issuer(struct rg_pg_gw *gw, const char *issuer, struct rg_auth_verifier *v)
{
	struct pg_issuer *n = realloc(gw->issuers, sizeof(*n) * (gw->n_issuers + 1));

	if (!n)
		return -ENOMEM;
	gw->issuers = n;
	n[gw->n_issuers].iss = issuer;
	n[gw->n_issuers].v = v;
	gw->n_issuers++;
	return 0;
}

static int resolve(const struct rg_config_addr *a, struct pg_target *t, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char port[8];
	int r;

	if (a->numeric) {
		memcpy(&t->sa, &a->sa, a->salen);
		t->salen = a->salen;
		return 0;
	}
	snprintf(port, sizeof(port), "%u", a->port);
	r = getaddrinfo(a->host, port, &hints, &res);
	if (r || !res) {
		snprintf(err, errlen, "cannot resolve %s: %s", a->host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	memcpy(&t->sa, res->ai_addr, res->ai_addrlen);
	t->salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int rg_pg_gw_add_target(struct rg_pg_gw *gw, const struct rg_config_target *tc,
			struct rg_auth_cred *cred, char *err, size_t errlen)
{
	struct pg_target *t;
	char why[256] = "";
	int ret;

	if (gw->n_targets == gw->cap_targets) {
		size_t cap = gw->cap_targets ? gw->cap_targets * 2 : 4;
		struct pg_target *n = realloc(gw->targets, sizeof(*n) * cap);

		if (!n)
			return -ENOMEM;
		gw->targets = n;
		gw->cap_targets = cap;
	}
	t = &gw->targets[gw->n_targets];
	memset(t, 0, sizeof(*t));
	t->cfg = tc;
	ret = resolve(&tc->address, t, why, sizeof(why));
	if (ret)
		goto fail;
	if (tc->tls.mode != RG_CONFIG_TLS_DISABLE) {
		t->server_name = tc->tls.server_name ? tc->tls.server_name : tc->address.host;
		ret = rg_tls_client_ctx_new(tc->tls.mode == RG_CONFIG_TLS_VERIFY_FULL
						? RG_TLS_VERIFY_FULL
						: RG_TLS_NO_VERIFY,
					    tc->tls.ca, &t->tls, why, sizeof(why));
		if (ret)
			goto fail;
	}
	t->cred = cred;
	gw->n_targets++;
	return 0;
fail:
	snprintf(err, errlen, "%u:%u: target %s: %s", tc->loc.line, tc->loc.col, tc->name, why);
	return ret;
}

void rg_pg_gw_set_hooks(struct rg_pg_gw *gw, rg_pg_stmt_hook stmt, rg_pg_row_hook row, void *arg)
{
	gw->stmt_hook = stmt ? stmt : noop_stmt;
	gw->row_hook = row ? row : noop_row;
	gw->row_hook_set = row != NULL;
	gw->hook_arg = arg;
}

void rg_pg_counters(const struct rg_pg_gw *gw, int worker, struct rg_pg_counters *out)
{
	unsigned i, j;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < gw->workers; i++) {
		const volatile struct rg_pg_counters *c = &gw->cnt[i];

		if (worker >= 0 && (unsigned)worker != i)
			continue;
#define RG_PG_CNT_SUM(f) out->f += c->f;
		RG_PG_COUNTER_FIELDS(RG_PG_CNT_SUM)
#undef RG_PG_CNT_SUM
		for (j = 0; j < RG_PG_AUTH_REASONS; j++)
			out->auth_fail_by[j] += c->auth_fail_by[j];
		out->unknown_database += c->unknown_database;
	}
}

const struct pg_target *rg_pg_gw_target(const struct rg_pg_gw *gw, const char *name)
{
	size_t i;

	for (i = 0; i < gw->n_targets; i++)
		if (strcmp(gw->targets[i].cfg->name, name) == 0)
			return &gw->targets[i];
	return NULL;
}

struct rg_auth_verifier *rg_pg_gw_verifier(const struct rg_pg_gw *gw, const char *iss)
{
	size_t i;

	for (i = 0; i < gw->n_issuers; i++)
		if (strcmp(gw->issuers[i].iss, iss) == 0)
			return gw->issuers[i].v;
	return NULL;
}

void rg_pg_gw_free(struct rg_pg_gw *gw)
{
	size_t i;

	if (!gw)
		return;
	for (i = 0; i < gw->n_issuers; i++)
		rg_auth_verifier_free(gw->issuers[i].v);
	free(gw->issuers);
	for (i = 0; i < gw->n_targets; i++) {
		rg_auth_cred_free(gw->targets[i].cred);
		rg_tls_ctx_free(gw->targets[i].tls);
	}
	free(gw->targets);
	rg_pg_cancel_reg_free(gw->cancel);
	free(gw->cnt);
	free(gw);
}

int rg_pg_listener_new(struct rg_pg_gw *gw, const struct rg_config_listener *lc,
		       struct rg_pg_listener **out, char *err, size_t errlen)
{
	struct rg_pg_listener *l = calloc(1, sizeof(*l));
	char why[256] = "";
	int ret;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->gw = gw;
	l->cfg = lc;
	if (lc->tls_enabled) {
		ret = rg_tls_server_ctx_new(lc->tls.cert, lc->tls.key, &l->tls, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "%u:%u: listener %s: tls: %s", lc->loc.line,
				 lc->loc.col, lc->name, why);
			free(l);
			return ret;
		}
	}
	*out = l;
	return 0;
}

void rg_pg_listener_free(struct rg_pg_listener *l)
{
	if (!l)
		return;
	rg_tls_ctx_free(l->tls);
	free(l);
}

bool rg_pg_param_forwarded(const char *key)
{
	static const char *const ok[] = {
	    "application_name", "client_encoding", "DateStyle",
	    "TimeZone",		"IntervalStyle",   "extra_float_digits",
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcasecmp(key, ok[i]) == 0)
			return true;
	return false;
}
