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
};

/* targets.c: the resolver (before any target is added) / the targets and the resolver. */
int gw_targets_init(struct rg_gw *gw);
void gw_targets_free(struct rg_gw *gw);

#endif /* RG_GATEWAY_INT_H */
