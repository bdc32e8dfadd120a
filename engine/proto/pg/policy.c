/*
 * policy.c: the policy bundle as the pg session uses it. Which bundle is in force, each
 * worker's policy context, hot reload and the verdict are the gateway's (engine/gateway,
 * one generation for every protocol); this file adds what is pg's: the catalog's column
 * globs follow each new bundle, a verdict is put in the session's terms (enum pg_verdict,
 * struct rg_pg_deny, struct pg_judgement), and each worker's masking scratch for rows.c.
 *
 * Fail closed: a verdict that cannot be computed (out of memory, no context) is a denial.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg-int.h"
#include "policy.h"

/* One per worker, written by that worker only. */
struct pg_wpol {
	struct rg_pg_rowmask rm; /* masking scratch (rows.c), grows to the widest row */
} __attribute__((aligned(64)));

_Static_assert((int)PG_VERDICT_PASS == (int)RG_GW_VERDICT_PASS &&
		   (int)PG_VERDICT_ALLOW == (int)RG_GW_VERDICT_ALLOW &&
		   (int)PG_VERDICT_LOG == (int)RG_GW_VERDICT_LOG &&
		   (int)PG_VERDICT_DENY == (int)RG_GW_VERDICT_DENY &&
		   (int)PG_VERDICT_HOLD == (int)RG_GW_VERDICT_HOLD,
	       "pg verdicts are the gateway's");
_Static_assert(sizeof(((struct rg_pg_deny *)0)->sqlstate) ==
		       sizeof(((struct rg_gw_deny *)0)->sqlstate) &&
		   sizeof(((struct rg_pg_deny *)0)->message) ==
		       sizeof(((struct rg_gw_deny *)0)->message),
	       "a pg denial holds the gateway's");

/* A new bundle (NULL: none): the catalog reads its targets again for its column globs. */
static int bundle_watch(void *arg, const struct rg_policy *p)
{
	struct rg_pg_gw *gw = arg;

	return pg_catalog_set_globs(gw->catalog, p);
}

int pg_policy_init(struct rg_pg_gw *gw)
{
	gw->wpol = aligned_alloc(64, sizeof(*gw->wpol) * gw->workers);
	if (!gw->wpol)
		return -ENOMEM;
	memset(gw->wpol, 0, sizeof(*gw->wpol) * gw->workers);
	return rg_gw_policy_watch(gw->svc, bundle_watch, gw);
}

void pg_policy_free(struct rg_pg_gw *gw)
{
	unsigned i;

	for (i = 0; gw->wpol && i < gw->workers; i++)
		rg_pg_rowmask_free(&gw->wpol[i].rm);
	free(gw->wpol);
	gw->wpol = NULL;
}

enum pg_verdict pg_policy_judge(struct rg_pg_gw *gw, unsigned w, const struct rg_request *req,
				const char *sql, size_t len, struct rg_pg_deny *d,
				struct pg_judgement *j)
{
	struct rg_gw_judgement gj;
	struct rg_gw_deny gd;
	enum rg_gw_verdict v =
	    rg_gw_policy_judge(gw->svc, w, req, sql, len, rg_approvals_enabled(gw->approvals), &gd, &gj);

	*j = (struct pg_judgement){.gen = gj.gen,
				   .rule = gj.rule,
				   .shadow_rule = gj.shadow_rule,
				   .shadow = gj.shadow,
				   .approval_group = gj.approval_group,
				   .approval_ttl_s = gj.approval_ttl_s,
				   .approval_expire_s = gj.approval_expire_s,
				   .approval_scope = gj.approval_scope};
	if (v == RG_GW_VERDICT_DENY || v == RG_GW_VERDICT_HOLD) {
		memcpy(d->sqlstate, gd.sqlstate, sizeof(d->sqlstate));
		memcpy(d->message, gd.message, strnlen(gd.message, sizeof(gd.message) - 1) + 1);
	}
	return (enum pg_verdict)v;
}

bool pg_policy_masking(struct rg_pg_gw *gw, unsigned w, struct rg_policy_ctx **ctx,
		       struct rg_pg_rowmask **rm, uint64_t *gen)
{
	*rm = &gw->wpol[w].rm;
	return rg_gw_policy_masking(gw->svc, w, ctx, gen);
}
