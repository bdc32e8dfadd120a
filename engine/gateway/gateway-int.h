/*
 * gateway-int.h: the gateway object's fields, shared by the files of engine/gateway (not part
 * of its public API; unit tests read the admission counters through it).
 */
#ifndef RG_GATEWAY_INT_H
#define RG_GATEWAY_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway.h"

struct gw_resolver; /* targets.c: the thread re-resolving DNS-named targets */
struct gw_policy_gen; /* policy.c: one loaded bundle and its hmac key */
struct gw_wpol;	      /* policy.c: a worker's policy context */

/* A protocol module's counters (rg_gw_counters_add). */
struct gw_counters {
	const char *protocol;
	struct rg_gw_counters *cnt; /* [workers] */
};

/* A protocol module told of each new bundle (rg_gw_policy_watch). */
struct gw_policy_watch {
	rg_gw_policy_fn fn;
	void *arg;
};

struct gw_issuer {
	const char *iss;
	struct rg_auth_verifier *v;
};

struct rg_gw {
	const struct rg_config *cfg;
	unsigned workers;
	struct gw_issuer *issuers;
	size_t n_issuers;
	struct rg_gw_target **targets; /* each allocated on its own: pointers stay valid */
	size_t n_targets, cap_targets;
	struct gw_resolver *resolver; /* re-resolves DNS-named targets (one thread, targets.c) */
	/* Admission (admit.c). */
	uint32_t max_sessions; /* logged-in sessions (0: no cap) */
	atomic_uint_fast32_t nsessions;
	uint32_t max_pending, max_pending_addr; /* 0: no cap */
	atomic_uint_fast32_t npending;
	_Atomic uint32_t *addr_pending; /* [RG_GW_ADDR_BUCKETS], NULL without a per-address cap */
	uint64_t addr_key[2];		/* random: where an address lands is not predictable */
	atomic_uint_fast64_t next_id;
	/* the policy bundle in force (policy.c): NULL or a generation whose bundle may be NULL
	 * (pass-through); workers build their own context for it */
	_Atomic(struct gw_policy_gen *) policy;
	struct gw_wpol *wpol; /* [workers] */
	uint64_t policy_gen;  /* reloader only: the last generation number given */
	struct gw_policy_gen *retired[RG_GW_POLICY_RETIRED_MAX]; /* reloader only */
	size_t nretired;
	struct gw_policy_watch *watch; /* [nwatch]: set before the first bundle */
	size_t nwatch;
	struct gw_counters *counters; /* [ncounters] (counters.c): one per protocol module */
	size_t ncounters;
};

/* targets.c: the resolver (before any target is added) / the targets and the resolver. */
int gw_targets_init(struct rg_gw *gw);
void gw_targets_free(struct rg_gw *gw);
/* policy.c: the per-worker contexts (no bundle yet) / every context and generation. */
int gw_policy_init(struct rg_gw *gw);
void gw_policy_free(struct rg_gw *gw);
/* counters.c: every protocol module's counters. */
void gw_counters_free(struct rg_gw *gw);

#endif /* RG_GATEWAY_INT_H */
