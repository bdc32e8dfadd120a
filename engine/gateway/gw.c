/*
 * gw.c: the gateway's shared object (struct rg_gw), built once at startup from the config and
 * handed to every protocol module: the issuers' verifiers (each refreshes its own JWKS,
 * engine/auth), the targets (targets.c), the admission counters (admit.c), the policy
 * bundle in force with each worker's context for it (policy.c) and each protocol module's
 * per-worker counters (counters.c).
 *
 * Everything here is built before the workers start and read-only afterwards, except what
 * targets.c and admit.c say of their own parts. Verifiers are safe from any thread (a worker
 * verifying an agent's token, the admin listener a reviewer's). Never logs secrets.
 */
#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "gateway-int.h"

int rg_gw_new(const struct rg_config *cfg, unsigned workers, struct rg_gw **out)
{
	struct rg_gw *gw = calloc(1, sizeof(*gw));

	*out = NULL;
	if (!gw)
		return -ENOMEM;
	gw->cfg = cfg;
	gw->workers = workers ? workers : 1;
	/* session ids stay unique across restarts (the audit trail and recordings outlive a
	 * run): the start second, then a counter (2^20 sessions per second of the run's life) */
	atomic_init(&gw->next_id, (uint64_t)time(NULL) << 20);
	if (gw_targets_init(gw) || gw_policy_init(gw)) {
		rg_gw_free(gw);
		return -ENOMEM;
	}
	gw->max_sessions = cfg ? cfg->limits.max_sessions : 0;
	gw->max_pending = cfg ? cfg->limits.max_pending_logins : 0;
	gw->max_pending_addr = cfg ? cfg->limits.max_pending_per_address : 0;
	if (gw->max_pending_addr) {
		gw->addr_pending = calloc(RG_GW_ADDR_BUCKETS, sizeof(*gw->addr_pending));
		if (!gw->addr_pending ||
		    RAND_bytes((unsigned char *)gw->addr_key, sizeof(gw->addr_key)) != 1) {
			rg_gw_free(gw);
			return -ENOMEM;
		}
	}
	*out = gw;
	return 0;
}

unsigned rg_gw_workers(const struct rg_gw *gw)
{
	return gw->workers;
}

int rg_gw_add_issuer(struct rg_gw *gw, const char *issuer, struct rg_auth_verifier *v)
{
	struct gw_issuer *n = realloc(gw->issuers, sizeof(*n) * (gw->n_issuers + 1));

	if (!n)
		return -ENOMEM;
	gw->issuers = n;
	n[gw->n_issuers].iss = issuer;
	n[gw->n_issuers].v = v;
	gw->n_issuers++;
	return 0;
}

struct rg_auth_verifier *rg_gw_verifier(const struct rg_gw *gw, const char *iss)
{
	size_t i;

	for (i = 0; i < gw->n_issuers; i++)
		if (strcmp(gw->issuers[i].iss, iss) == 0)
			return gw->issuers[i].v;
	return NULL;
}

int rg_gw_verify_token(const struct rg_gw *gw, const char *token, size_t len,
		       struct rg_auth_identity *id, struct rg_auth_fail *why)
{
	struct rg_auth_verifier *v;
	char iss[RG_AUTH_MAX_ISS];

	memset(why, 0, sizeof(*why));
	if (rg_auth_peek_issuer(token, len, iss, sizeof(iss)))
		return RG_AUTH_E_MALFORMED;
	v = rg_gw_verifier(gw, iss);
	if (!v)
		return RG_AUTH_E_BAD_ISSUER;
	return rg_auth_verify(v, token, len, (int64_t)time(NULL), id, why);
}

void rg_gw_free(struct rg_gw *gw)
{
	size_t i;

	if (!gw)
		return;
	gw_targets_free(gw); /* first: it stops the resolver thread, which reads the targets */
	for (i = 0; i < gw->n_issuers; i++)
		rg_auth_verifier_free(gw->issuers[i].v);
	free(gw->issuers);
	free(gw->addr_pending);
	gw_policy_free(gw);
	free(gw->watch);
	gw_counters_free(gw);
	free(gw);
}
