/*
 * gw.c: the pg gateway's startup-built state: its targets (the gateway's, engine/gateway,
 * with their roles), listeners (TLS server context), limits and the cancel registry.
 * Issuers, target addresses and credentials, admission, the per-worker counters (svc's block
 * for "postgres") and the event log are the gateway's (engine/gateway), shared with every
 * protocol.
 *
 * Everything here is built before the workers start and read-only afterwards. Never logs
 * secrets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "pg-int.h"
#include "sqlclass.h"
#include "tls.h"

/* Streamed (never held whole) when at least this large: bulk data the gateway does not
 * need to see as one piece. Query and Parse are always held whole (the statement hook
 * needs the full text). */
#define PG_STREAM_MIN (256u * 1024)

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

int rg_pg_gw_new(const struct rg_config *cfg, struct rg_gw *svc, struct rg_pg_gw **out)
{
	struct rg_pg_gw *gw = calloc(1, sizeof(*gw));

	*out = NULL;
	if (!gw)
		return -ENOMEM;
	gw->cfg = cfg;
	gw->svc = svc;
	gw->workers = rg_gw_workers(svc);
	gw->lex = calloc(gw->workers, sizeof(*gw->lex));
	gw->cancel = rg_pg_cancel_reg_new();
	if (rg_gw_counters_add(svc, "postgres", &gw->cnt) || !gw->lex || !gw->cancel ||
	    pg_policy_init(gw) || pg_catalog_new(gw, &gw->catalog)) {
		rg_pg_gw_free(gw);
		return -ENOMEM;
	}
	rg_pg_gw_set_hooks(gw, NULL, NULL, NULL);
	rg_pg_limits_init(&gw->fe_lim, RG_PG_FE, 0, 0);
	gw->fe_lim.max[RG_PG_FE_PASSWORD] = RG_PG_PASSWORD_MAX;
	rg_pg_password_limits(&gw->pw_lim);
	rg_pg_limits_init(&gw->be_lim, RG_PG_BE, 0, 0);
	gw->fe_stream[RG_PG_FE_COPY_DATA] = gw->fe_stream[RG_PG_FE_BIND] = true;
	gw->fe_stream[RG_PG_FE_FUNCTION_CALL] = true;
	gw->be_stream[RG_PG_BE_COPY_DATA] = gw->be_stream[RG_PG_BE_DATA_ROW] = true;
	gw->be_stream[RG_PG_BE_FUNCTION_RESULT] = true;
	gw->stream_min = PG_STREAM_MIN;
	gw->password_timeout_ms = cfg ? (uint32_t)cfg->limits.password_timeout_ms : 10000;
	gw->login_timeout_ms = cfg ? (uint32_t)cfg->limits.login_timeout_ms : 60000;
	*out = gw;
	return 0;
}

int rg_pg_gw_add_target(struct rg_pg_gw *gw, const struct rg_gw_target *gt)
{
	struct pg_target *n;

	if (gt->cfg->protocol != RG_CONFIG_PROTO_POSTGRES)
		return -EINVAL;
	n = realloc(gw->targets, sizeof(*n) * (gw->n_targets + 1));
	if (!n)
		return -ENOMEM;
	gw->targets = n;
	memset(&n[gw->n_targets], 0, sizeof(*n));
	n[gw->n_targets].cfg = gt->cfg;
	n[gw->n_targets].gt = gt;
	gw->n_targets++;
	return 0;
}

int rg_pg_gw_add_role(struct rg_pg_gw *gw, const char *target, const struct rg_config_role *rc,
		      struct rg_auth_cred *cred)
{
	struct pg_target *t = (struct pg_target *)rg_pg_gw_target(gw, target);
	struct pg_role *r;

	if (!t)
		return -ENOENT;
	r = realloc(t->roles, sizeof(*r) * (t->n_roles + 1));
	if (!r)
		return -ENOMEM;
	t->roles = r;
	r[t->n_roles].cfg = rc;
	r[t->n_roles].cred = cred;
	t->n_roles++;
	return 0;
}

void rg_pg_gw_set_hooks(struct rg_pg_gw *gw, rg_pg_stmt_hook stmt, rg_pg_row_hook row, void *arg)
{
	gw->stmt_hook = stmt ? stmt : noop_stmt;
	gw->row_hook = row ? row : noop_row;
	gw->row_hook_set = row != NULL;
	gw->hook_arg = arg;
}

const struct pg_target *rg_pg_gw_target(const struct rg_pg_gw *gw, const char *name)
{
	size_t i;

	for (i = 0; i < gw->n_targets; i++)
		if (strcmp(gw->targets[i].cfg->name, name) == 0)
			return &gw->targets[i];
	return NULL;
}

void rg_pg_gw_set_approvals(struct rg_pg_gw *gw, struct rg_approvals *ap)
{
	gw->approvals = ap;
}

void rg_pg_gw_free(struct rg_pg_gw *gw)
{
	size_t i;

	if (!gw)
		return;
	/* first: the catalog thread reads the targets */
	pg_catalog_free(gw->catalog);
	for (i = 0; i < gw->n_targets; i++) {
		for (size_t k = 0; k < gw->targets[i].n_roles; k++)
			rg_auth_cred_free(gw->targets[i].roles[k].cred);
		free(gw->targets[i].roles);
	}
	free(gw->targets);
	rg_pg_cancel_reg_free(gw->cancel);
	pg_policy_free(gw);
	for (i = 0; gw->lex && i < gw->workers; i++)
		rg_sqlclass_free(gw->lex[i]);
	free(gw->lex);
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

int rg_pg_gw_catalog_listener(struct rg_pg_gw *gw, struct rg_pg_listener **out)
{
	/* plaintext on loopback, no TLS: what it carries is the catalog's own query and the
	 * secret, which only this process knows */
	static const struct rg_config_listener internal_cfg = {.name = "internal-catalog"};
	struct rg_pg_listener *l = calloc(1, sizeof(*l));

	*out = l;
	if (!l)
		return -ENOMEM;
	l->gw = gw;
	l->cfg = &internal_cfg;
	l->internal = true;
	return 0;
}

int rg_pg_gw_catalog_start(struct rg_pg_gw *gw, struct rg_core *core, uint16_t port,
			   uint64_t ttl_ms)
{
	return pg_catalog_start(gw->catalog, core, port, ttl_ms);
}

void rg_pg_gw_catalog_stop(struct rg_pg_gw *gw)
{
	pg_catalog_stop(gw->catalog);
}

void rg_pg_listener_free(struct rg_pg_listener *l)
{
	if (!l)
		return;
	rg_tls_ctx_free(l->tls);
	free(l);
}

/* ---- the module as main.c starts it (gateway.h) ---------------------------------------- */

static int proto_target_add(void *mod, const struct rg_gw_target *t)
{
	return rg_pg_gw_add_target(mod, t);
}

static int proto_listener_new(void *mod, const struct rg_config_listener *lc, void **ctx,
			      char *err, size_t errlen)
{
	struct rg_pg_listener *l = NULL;
	int ret = rg_pg_listener_new(mod, lc, &l, err, errlen);

	*ctx = l;
	return ret;
}

static void proto_listener_free(void *ctx)
{
	rg_pg_listener_free(ctx);
}

const struct rg_gw_proto rg_pg_proto = {
    .name = "postgres",
    .ops = &rg_pg_ops,
    .target_add = proto_target_add,
    .listener_new = proto_listener_new,
    .listener_free = proto_listener_free,
};
