/*
 * counters.c: each protocol module's per-worker counters (struct rg_gw_counters), summed by
 * protocol for /metrics (engine/telemetry).
 *
 * A block is written by its worker only, with plain stores (no atomics, no locks on the data
 * path); a scrape reads them from another thread and may see values slightly stale. Only a
 * rule slot's id needs ordering: it is written once, then `used` is set with release.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway-int.h"

int rg_gw_counters_add(struct rg_gw *gw, const char *protocol, struct rg_gw_counters **out)
{
	struct gw_counters *n = realloc(gw->counters, sizeof(*n) * (gw->ncounters + 1));
	struct rg_gw_counters *c;

	*out = NULL;
	if (!n)
		return -ENOMEM;
	gw->counters = n;
	c = aligned_alloc(64, sizeof(*c) * gw->workers);
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c) * gw->workers);
	n[gw->ncounters].protocol = protocol;
	n[gw->ncounters].cnt = c;
	gw->ncounters++;
	*out = c;
	return 0;
}

size_t rg_gw_counters_protocols(const struct rg_gw *gw)
{
	return gw->ncounters;
}

const char *rg_gw_counters_sum(const struct rg_gw *gw, size_t mod, int worker,
			       struct rg_gw_counters *out)
{
	const struct rg_gw_counters *cnt = gw->counters[mod].cnt;
	unsigned i, j;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < gw->workers; i++) {
		const volatile struct rg_gw_counters *c = &cnt[i];

		if (worker >= 0 && (unsigned)worker != i)
			continue;
#define RG_GW_CNT_SUM(f) out->f += c->f;
		RG_GW_COUNTER_FIELDS(RG_GW_CNT_SUM)
#undef RG_GW_CNT_SUM
		for (j = 0; j < RG_GW_AUTH_REASONS; j++)
			out->auth_fail_by[j] += c->auth_fail_by[j];
		out->unknown_database += c->unknown_database;
		for (j = 0; j < 8; j++)
			out->appr_by[j] += c->appr_by[j];
		for (j = 0; j < 32; j++)
			out->mask_det[j] += c->mask_det[j];
		out->rule_other += c->rule_other;
		/* rules by id: merged into out's table by the same id */
		for (j = 0; j < RG_GW_RULE_SLOTS; j++) {
			const volatile struct rg_gw_rule_cnt *r = &c->rules[j];
			unsigned k;

			if (!__atomic_load_n(&r->used, __ATOMIC_ACQUIRE))
				continue;
			for (k = 0; k < RG_GW_RULE_SLOTS; k++) {
				struct rg_gw_rule_cnt *o = &out->rules[k];

				if (!o->used) {
					memcpy(o->id, (const char *)r->id, sizeof(o->id));
					o->id[sizeof(o->id) - 1] = '\0';
					o->verdict = r->verdict;
					o->used = 1;
				}
				if (!strcmp(o->id, (const char *)r->id)) {
					o->n += r->n;
					break;
				}
			}
			if (k == RG_GW_RULE_SLOTS)
				out->rule_other += r->n;
		}
		for (j = 0; j < RG_GW_LAT_BUCKETS; j++) {
			out->stmt_lat.bucket[j] += c->stmt_lat.bucket[j];
			out->login_lat.bucket[j] += c->login_lat.bucket[j];
		}
		out->stmt_lat.count += c->stmt_lat.count;
		out->stmt_lat.sum_us += c->stmt_lat.sum_us;
		out->login_lat.count += c->login_lat.count;
		out->login_lat.sum_us += c->login_lat.sum_us;
	}
	return gw->counters[mod].protocol;
}

void rg_gw_count_rule(struct rg_gw_counters *c, const char *id, enum rg_gw_verdict v)
{
	uint32_t h = 2166136261u;

	for (const char *p = id; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (unsigned k = 0; k < RG_GW_RULE_SLOTS; k++) {
		struct rg_gw_rule_cnt *r = &c->rules[(h + k) % RG_GW_RULE_SLOTS];

		if (!__atomic_load_n(&r->used, __ATOMIC_RELAXED)) {
			if (strlen(id) >= sizeof(r->id))
				break;
			memcpy(r->id, id, strlen(id) + 1);
			r->verdict = (uint32_t)v;
			r->n = 1;
			__atomic_store_n(&r->used, 1, __ATOMIC_RELEASE);
			return;
		}
		if (!strcmp(r->id, id)) {
			r->n++;
			return;
		}
	}
	c->rule_other++;
}

void gw_counters_free(struct rg_gw *gw)
{
	size_t k;

	for (k = 0; k < gw->ncounters; k++)
		free(gw->counters[k].cnt);
	free(gw->counters);
	gw->counters = NULL;
	gw->ncounters = 0;
}
