/*
 * policy.c: the policy bundle as every protocol module uses it: which bundle is in force (one
 * generation for the whole process), each worker's own policy context, hot reload, and the
 * verdict for one statement of a session (a protocol module turns it into its own wire).
 *
 * A loaded bundle (struct rg_policy) is immutable; everything mutable lives in a per-thread
 * rg_policy_ctx. The gateway publishes the bundle in force as one generation pointer; each
 * worker keeps the context it built for the generation it last saw and switches between
 * messages: when it judges a statement and finds a newer generation, or when the reloader
 * posts it a switch (so idle workers switch too). A generation is freed by the reloader once
 * every worker has acknowledged a newer one: no lock and no reference count on the data
 * path, one atomic load per statement. No bundle at all is pass-through, said once at start.
 *
 * Fail closed: a verdict that cannot be computed (out of memory, no context) is a denial.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "gateway-int.h"
#include "policy.h"

struct gw_policy_gen {
	struct rg_policy *p; /* NULL: pass-through */
	uint64_t gen;
	uint32_t nmasks; /* p's mask rules, read once here rather than per masked row */
	size_t hmac_len;
	uint8_t hmac[]; /* the hmac mask style's key, cleansed at free */
};

/* One per worker, written by that worker only (acked is read by the reloader). */
struct gw_wpol {
	struct gw_policy_gen *gen; /* the generation ctx was built for */
	struct rg_policy_ctx *ctx;
	_Atomic uint64_t acked; /* gen->gen once switched */
} __attribute__((aligned(64)));

/* The reloader's deadline clock: CLOCK_MONOTONIC in milliseconds. */
static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void gen_free(struct gw_policy_gen *g)
{
	if (!g)
		return;
	rg_policy_free(g->p);
	OPENSSL_cleanse(g->hmac, g->hmac_len);
	free(g);
}

int gw_policy_init(struct rg_gw *gw)
{
	gw->wpol = aligned_alloc(64, sizeof(*gw->wpol) * gw->workers);
	if (!gw->wpol)
		return -ENOMEM;
	memset(gw->wpol, 0, sizeof(*gw->wpol) * gw->workers);
	atomic_init(&gw->policy, NULL);
	return 0;
}

void gw_policy_free(struct rg_gw *gw)
{
	unsigned i;

	for (i = 0; gw->wpol && i < gw->workers; i++)
		rg_policy_ctx_free(gw->wpol[i].ctx);
	free(gw->wpol);
	gw->wpol = NULL;
	gen_free(atomic_load(&gw->policy));
	for (i = 0; i < gw->nretired; i++)
		gen_free(gw->retired[i]);
	gw->nretired = 0;
}

/* On worker w: build the context for the generation in force if it is not the one ours was
 * built for. Returns the generation (never NULL once a policy was set) in *gen. */
static struct rg_policy_ctx *worker_ctx(struct rg_gw *gw, unsigned w, struct gw_policy_gen **gen)
{
	struct gw_wpol *wp = &gw->wpol[w];
	struct gw_policy_gen *g = atomic_load_explicit(&gw->policy, memory_order_acquire);

	if (g != wp->gen) {
		rg_policy_ctx_free(wp->ctx);
		wp->ctx = g && g->p ? rg_policy_ctx_new(g->p, g->hmac_len ? g->hmac : NULL,
							g->hmac_len)
				    : NULL;
		wp->gen = g;
		atomic_store_explicit(&wp->acked, g ? g->gen : 0, memory_order_release);
	}
	*gen = g;
	return wp->ctx;
}

static void switch_msg(struct rg_worker *w, void *arg)
{
	struct rg_gw *gw = arg;
	struct gw_policy_gen *g;
	unsigned id = rg_worker_id(w);

	if (id < gw->workers)
		(void)worker_ctx(gw, id, &g);
}

int rg_gw_policy_watch(struct rg_gw *gw, rg_gw_policy_fn fn, void *arg)
{
	struct gw_policy_watch *n = realloc(gw->watch, sizeof(*n) * (gw->nwatch + 1));

	if (!n)
		return -ENOMEM;
	gw->watch = n;
	n[gw->nwatch].fn = fn;
	n[gw->nwatch].arg = arg;
	gw->nwatch++;
	return 0;
}

int rg_gw_set_policy(struct rg_gw *gw, struct rg_core *core, struct rg_policy *p,
		     const uint8_t *hmac, size_t hmac_len)
{
	struct gw_policy_gen *g, *old;
	uint64_t deadline;
	bool all = true;
	unsigned w;
	size_t i;

	if (gw->nretired == RG_GW_POLICY_RETIRED_MAX)
		return -EBUSY; /* workers have not let go of earlier bundles yet */
	g = calloc(1, sizeof(*g) + hmac_len);
	if (!g)
		return -ENOMEM;
	for (i = 0; i < gw->nwatch; i++)
		if (gw->watch[i].fn(gw->watch[i].arg, p)) {
			/* those told before go back to the bundle that stays in force */
			old = atomic_load(&gw->policy);
			while (i--)
				(void)gw->watch[i].fn(gw->watch[i].arg, old ? old->p : NULL);
			free(g);
			return -ENOMEM;
		}
	g->p = p;
	g->gen = ++gw->policy_gen;
	if (p) {
		struct rg_policy_info info;

		rg_policy_get_info(p, &info);
		g->nmasks = info.nmasks;
	}
	g->hmac_len = hmac_len;
	if (hmac_len)
		memcpy(g->hmac, hmac, hmac_len);
	old = atomic_exchange_explicit(&gw->policy, g, memory_order_acq_rel);
	if (old)
		gw->retired[gw->nretired++] = old;
	/* Idle workers switch too, between messages; once every worker runs on g, nothing
	 * uses an older generation. Before the workers start there is nothing to wait for. */
	deadline = mono_ms() + 5000;
	for (w = 0; core && w < gw->workers; w++) {
		int r;

		while ((r = rg_core_post(core, w, switch_msg, gw)) == -EAGAIN && mono_ms() < deadline)
			sched_yield();
		if (r == -ESHUTDOWN || r == -EINVAL)
			atomic_store(&gw->wpol[w].acked, g->gen); /* that worker is gone */
	}
	for (w = 0; core && w < gw->workers; w++) {
		while (atomic_load_explicit(&gw->wpol[w].acked, memory_order_acquire) < g->gen &&
		       mono_ms() < deadline)
			sched_yield();
		if (atomic_load_explicit(&gw->wpol[w].acked, memory_order_acquire) < g->gen)
			all = false;
	}
	if (all) {
		for (i = 0; i < gw->nretired; i++)
			gen_free(gw->retired[i]);
		gw->nretired = 0;
	}
	return 0;
}

uint64_t rg_gw_policy_gen(struct rg_gw *gw)
{
	struct gw_policy_gen *g = atomic_load(&gw->policy);

	return g && g->p ? g->gen : 0;
}

enum rg_gw_verdict rg_gw_policy_judge(struct rg_gw *gw, unsigned w, const struct rg_request *req,
				      const char *sql, size_t len, bool approvals,
				      struct rg_gw_deny *d, struct rg_gw_judgement *j)
{
	struct gw_policy_gen *g;
	struct rg_policy_ctx *ctx = worker_ctx(gw, w, &g);
	struct rg_decision dec;

	memset(j, 0, sizeof(*j));
	if (!g || !g->p)
		return RG_GW_VERDICT_PASS;
	j->gen = g->gen;
	if (!ctx || rg_policy_verdict(ctx, req, sql, len, &dec)) {
		memcpy(d->sqlstate, "53200", 6);
		snprintf(d->message, sizeof(d->message),
			 "ringgate could not judge this statement (out of memory); denied");
		j->rule = "-";
		return RG_GW_VERDICT_DENY;
	}
	if (dec.shadow_verdict > dec.verdict)
		for (size_t i = 0; i < dec.nrules; i++)
			if (!dec.rules[i]->enforce && dec.rules[i]->action == dec.shadow_verdict) {
				j->shadow_rule = dec.rules[i]->id;
				j->shadow = dec.shadow_verdict;
				break;
			}
	j->rule = dec.rule ? dec.rule->id : NULL;
	switch (dec.verdict) {
	case RG_VERDICT_ALLOW:
		return RG_GW_VERDICT_ALLOW;
	case RG_VERDICT_LOG:
		return RG_GW_VERDICT_LOG;
	case RG_VERDICT_HOLD:
		memcpy(d->sqlstate, dec.rule && dec.rule->sqlstate[0] ? dec.rule->sqlstate : "42501",
		       6);
		if (approvals && dec.rule) {
			j->approval_group = dec.rule->approval_group;
			j->approval_ttl_s = dec.rule->approval_ttl_s;
			j->approval_expire_s = dec.rule->approval_expire_s;
			j->approval_scope = (int)dec.rule->approval_scope;
			snprintf(d->message, sizeof(d->message),
				 "statement requires approval (rule %s)", dec.rule->id);
			return RG_GW_VERDICT_HOLD;
		}
		/* without a control store, a statement that needs approval never runs */
		snprintf(d->message, sizeof(d->message),
			 "statement requires approval (rule %s), and approvals are not available "
			 "on this gateway",
			 dec.rule ? dec.rule->id : "-");
		return RG_GW_VERDICT_DENY;
	case RG_VERDICT_DENY:
		break;
	}
	memcpy(d->sqlstate, dec.rule && dec.rule->sqlstate[0] ? dec.rule->sqlstate : "42501", 6);
	if (dec.rule)
		snprintf(d->message, sizeof(d->message), "denied by policy rule %s: %s",
			 dec.rule->id, dec.rule->message && dec.rule->message[0]
					   ? dec.rule->message
					   : "statement not allowed");
	else
		snprintf(d->message, sizeof(d->message), "denied by policy");
	return RG_GW_VERDICT_DENY;
}

int rg_gw_policy_limits(struct rg_gw *gw, unsigned w, const struct rg_request *req,
			struct rg_limits *out)
{
	struct gw_policy_gen *g;

	memset(out, 0, sizeof(*out));
	(void)worker_ctx(gw, w, &g); /* this worker's generation stays alive while we read it */
	if (!g || !g->p)
		return 0;
	return rg_policy_limits(g->p, req, out);
}

_Static_assert(RG_GW_LIMITS == RG_LIMIT__COUNT, "struct rg_gw_limits");

int rg_gw_limits_start(struct rg_gw *gw, unsigned w, const struct rg_request *req,
		       uint64_t now_ms, struct rg_gw_limits **out)
{
	struct rg_limits rl;
	struct rg_gw_limits *l;

	*out = NULL;
	if (rg_gw_policy_limits(gw, w, req, &rl) <= 0)
		return 0;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	for (unsigned k = 0; k < RG_LIMIT__COUNT; k++) {
		if (!rl.v[k].id)
			continue;
		l->value[k] = rl.v[k].value;
		snprintf(l->id[k], sizeof(l->id[k]), "%s", rl.v[k].id[0] ? rl.v[k].id : "-");
	}
	l->start_ms = l->last_stmt_ms = now_ms;
	*out = l;
	return 0;
}

/* Limit k counted from `from`: 1 reached, else 0 with *left_ms lowered to its time left. */
static int time_due(const struct rg_gw_limits *l, unsigned k, uint64_t from, uint64_t now_ms,
		    int64_t *left_ms)
{
	int64_t x;

	if (!l->id[k][0])
		return 0;
	x = (int64_t)(from + l->value[k] * 1000) - (int64_t)now_ms;
	if (x <= 0)
		return 1;
	if (x < *left_ms)
		*left_ms = x;
	return 0;
}

bool rg_gw_limits_rows_run(struct rg_gw_limits *l, uint64_t rows, uint64_t bytes)
{
	if (!l)
		return true;
	if ((l->id[RG_LIMIT_ROWS][0] && l->count[RG_LIMIT_ROWS] + rows > l->value[RG_LIMIT_ROWS]) ||
	    (l->id[RG_LIMIT_BYTES][0] && l->count[RG_LIMIT_BYTES] + bytes > l->value[RG_LIMIT_BYTES]))
		return false;
	l->count[RG_LIMIT_ROWS] += rows;
	l->count[RG_LIMIT_BYTES] += bytes;
	return true;
}

int rg_gw_limits_due(const struct rg_gw_limits *l, uint64_t now_ms, int64_t *left_ms)
{
	*left_ms = INT64_MAX;
	if (time_due(l, RG_LIMIT_SESSION_DURATION, l->start_ms, now_ms, left_ms))
		return RG_LIMIT_SESSION_DURATION;
	if (time_due(l, RG_LIMIT_IDLE_TIMEOUT, l->last_stmt_ms, now_ms, left_ms))
		return RG_LIMIT_IDLE_TIMEOUT;
	return -1;
}

int rg_gw_limits_reason(const struct rg_gw_limits *l, unsigned k, char *buf, size_t len)
{
	char v[32];

	rg_limit_format_value((enum rg_limit_kind)k, l->value[k], v, sizeof(v));
	return snprintf(buf, len, "%s %s (limit %s) exceeded", rg_limit_name((enum rg_limit_kind)k),
			v, l->id[k]);
}

bool rg_gw_policy_masking(struct rg_gw *gw, unsigned w, struct rg_policy_ctx **ctx, uint64_t *gen)
{
	struct gw_policy_gen *g;

	*ctx = worker_ctx(gw, w, &g);
	*gen = g ? g->gen : 0;
	return g && g->p && g->nmasks > 0;
}
