/*
 * targets.c: the configured targets every protocol module connects to: each one's address
 * (kept current by the resolver when it is a DNS name), its credential, its TLS client
 * context, and its session counts per worker (GET /metrics). A protocol module finds its
 * targets here and extends each with what only it needs (pg: roles, catalog).
 *
 * Everything here is built before the workers start and read-only afterwards, except the
 * session counts (each worker writes its own cache line) and the address sets of DNS-named
 * targets, which one resolver thread re-resolves in the background and publishes lock-free
 * (see "targets' DNS names" below). A worker never blocks on a resolver and never takes a
 * lock to read an address. Never logs secrets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "gateway-int.h"
#include "tls.h"

/* ---- targets' DNS names: re-resolved in the background -----------------------------------
 *
 * A target written as dns-name:port keeps every address its name resolved to (IPv4 and
 * IPv6, in the resolver's order, duplicates dropped, at most GW_ADDRS_MAX) in an rg_gw_dns.
 * One thread per gateway, the resolver, starts with the first DNS-named target and is stopped
 * and joined by rg_gw_free; every GW_RESOLVE_INTERVAL_MS it resolves each name again and
 * publishes the new set when it differs (as a set: a DNS server rotating its answers is not a
 * change). A failed lookup keeps the previous set and logs a line: a set is never emptied.
 * The interval is a constant, not a config key (rg_gw_set_lookup overrides it for tests
 * only).
 *
 * Publication: two slots per target, one writer (the resolver), any number of readers (the
 * workers, in rg_gw_target_addr), no lock and no allocation after startup.
 *   reader: i = cur; readers[i]++; if (cur != i) { readers[i]--; retry; }
 *           copy one address out of slot[i]; readers[i]--
 *   writer: j = 1 - cur; wait until readers[j] == 0; fill slot[j]; cur = j
 * All accesses to cur and readers[] are seq_cst except the reader's release decrements and
 * the writer's relaxed reads of cur (it is the only thread storing cur). Why a reader never
 * sees a slot being written: the writer fills slot j only after its own store cur = 1 - j
 * (or cur = 0 from startup, before any thread) and its load readers[j] == 0, both seq_cst.
 * If that load precedes a reader's
 * increment of readers[j] in the single total order, the reader's later load of cur comes
 * after the store cur = 1 - j, so it reads 1 - j (and retries without touching slot j) or
 * the writer's next store cur = j, which the writer makes only after filling slot j and
 * which (release/acquire) makes those writes visible. If the load follows the increment, it
 * sees readers[j] > 0 and the writer waits for the decrement, a release read by the writer's
 * load: the reader's copy happens before the writer's next writes. The writer's wait is
 * bounded by a reader's copy of one address (or a retrying reader's two atomics); it yields
 * the CPU meanwhile. Readers never wait for the writer. The address the reader copies is
 * then its own: a connect in flight is unaffected by a later change.
 */
#define GW_ADDRS_MAX 8
#define GW_LOOKUP_MAX 16 /* asked of the lookup: duplicates are dropped before the cap */
#define GW_RESOLVE_INTERVAL_MS 30000u

union gw_inaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct gw_addrs {
	unsigned n; /* 1..GW_ADDRS_MAX once published */
	socklen_t len[GW_ADDRS_MAX];
	union gw_inaddr a[GW_ADDRS_MAX];
};

struct rg_gw_dns {
	const struct rg_config_target *cfg; /* name and address.host / port */
	atomic_uint cur;		    /* the published slot, 0 or 1 */
	atomic_uint readers[2];		    /* readers inside slot[i] */
	struct gw_addrs slot[2];
	unsigned failures; /* consecutive failed lookups (resolver thread only) */
};

struct gw_resolver {
	pthread_mutex_t mu; /* guards stop and dns/n/cap; never taken by a worker, never held
			     * during a lookup */
	pthread_cond_t cv;  /* signalled on stop (CLOCK_MONOTONIC) */
	pthread_t thread;
	bool running, stop;
	struct rg_gw_dns **dns; /* owned; the targets point at them */
	size_t n, cap;
	/* set before the thread starts, read-only afterwards */
	rg_gw_lookup_fn lookup;
	void *lookup_arg;
	unsigned interval_ms;
};

static int lookup_getaddrinfo(void *arg, const char *host, uint16_t port,
			      struct sockaddr_storage *out, socklen_t *lens, unsigned max,
			      char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char serv[8];
	unsigned n = 0;
	int r;

	(void)arg;
	snprintf(serv, sizeof(serv), "%u", port);
	r = getaddrinfo(host, serv, &hints, &res);
	if (r || !res) {
		snprintf(err, errlen, "%s", r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai && n < max; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(*out))
			continue;
		memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
		lens[n++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	return (int)n;
}

static bool inaddr_eq(const union gw_inaddr *a, const union gw_inaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return a->in6.sin6_port == b->in6.sin6_port &&
	       a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
	       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr)) == 0;
}

static bool addrs_has(const struct gw_addrs *s, const union gw_inaddr *a)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		if (inaddr_eq(&s->a[i], a))
			return true;
	return false;
}

/* Same addresses, in any order (both sets hold no duplicates). */
static bool addrs_same(const struct gw_addrs *x, const struct gw_addrs *y)
{
	unsigned i;

	if (x->n != y->n)
		return false;
	for (i = 0; i < x->n; i++)
		if (!addrs_has(y, &x->a[i]))
			return false;
	return true;
}

/* "10.0.0.1,fd00::1" for log lines. */
static void addrs_fmt(const struct gw_addrs *s, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	size_t off = 0;
	unsigned i;

	buf[0] = 0;
	for (i = 0; i < s->n && off < size; i++) {
		const void *src = s->a[i].sa.sa_family == AF_INET
				      ? (const void *)&s->a[i].in.sin_addr
				      : (const void *)&s->a[i].in6.sin6_addr;

		if (!inet_ntop(s->a[i].sa.sa_family, src, ip, sizeof(ip)))
			snprintf(ip, sizeof(ip), "?");
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "," : "", ip);
	}
}

/* Resolve d's name into out (IPv4/IPv6 only, no duplicates, at most GW_ADDRS_MAX). */
static int dns_lookup(const struct gw_resolver *r, const struct rg_gw_dns *d, struct gw_addrs *out,
		      char *err, size_t errlen)
{
	const struct rg_config_addr *a = &d->cfg->address;
	struct sockaddr_storage got[GW_LOOKUP_MAX];
	socklen_t lens[GW_LOOKUP_MAX];
	char why[200] = "";
	int i, n;

	n = r->lookup(r->lookup_arg, a->host, a->port, got, lens, GW_LOOKUP_MAX, why, sizeof(why));
	if (n > GW_LOOKUP_MAX)
		n = GW_LOOKUP_MAX;
	memset(out, 0, sizeof(*out));
	for (i = 0; i < n && out->n < GW_ADDRS_MAX; i++) {
		union gw_inaddr x = {0};

		if (got[i].ss_family == AF_INET && lens[i] == sizeof(x.in))
			memcpy(&x.in, &got[i], sizeof(x.in));
		else if (got[i].ss_family == AF_INET6 && lens[i] == sizeof(x.in6))
			memcpy(&x.in6, &got[i], sizeof(x.in6));
		else
			continue;
		if (addrs_has(out, &x))
			continue;
		out->len[out->n] = lens[i];
		out->a[out->n++] = x;
	}
	if (!out->n) {
		snprintf(err, errlen, "cannot resolve %s: %s", a->host,
			 n < 0 ? why : "no IPv4 or IPv6 address");
		return -EHOSTUNREACH;
	}
	return 0;
}

int rg_gw_target_addr(const struct rg_gw_target *t, unsigned attempt, struct sockaddr_storage *out,
		      socklen_t *len)
{
	struct rg_gw_dns *d = t->dns;
	const struct gw_addrs *s;
	unsigned i, k, n;

	if (!d) {
		memcpy(out, &t->sa, t->salen);
		*len = t->salen;
		return 1;
	}
	for (;;) {
		i = atomic_load(&d->cur);
		atomic_fetch_add(&d->readers[i], 1);
		if (atomic_load(&d->cur) == i)
			break;
		atomic_fetch_sub_explicit(&d->readers[i], 1, memory_order_release);
	}
	s = &d->slot[i];
	n = s->n;
	k = attempt % n;
	memset(out, 0, sizeof(*out));
	memcpy(out, &s->a[k], s->len[k]);
	*len = s->len[k];
	atomic_fetch_sub_explicit(&d->readers[i], 1, memory_order_release);
	return (int)n;
}

/* Resolver thread: publish next in d's free slot (see the head of this section). */
static void dns_publish(struct rg_gw_dns *d, const struct gw_addrs *next)
{
	unsigned j = 1 - atomic_load_explicit(&d->cur, memory_order_relaxed); /* our own store */

	while (atomic_load(&d->readers[j]))
		sched_yield();
	d->slot[j] = *next;
	atomic_store(&d->cur, j);
}

/* Resolver thread: resolve d again; publish a changed set, keep the old one on failure. */
static void dns_refresh(const struct gw_resolver *r, struct rg_gw_dns *d)
{
	const struct gw_addrs *cur = &d->slot[atomic_load_explicit(&d->cur, memory_order_relaxed)];
	struct gw_addrs next;
	char why[256] = "", was[GW_ADDRS_MAX * (INET6_ADDRSTRLEN + 1)];
	char now[sizeof(was)];

	if (dns_lookup(r, d, &next, why, sizeof(why))) {
		d->failures++;
		addrs_fmt(cur, was, sizeof(was));
		rg_log("event=target_resolve_fail target=%s failures=%u kept=%s detail=\"%s\"",
		       d->cfg->name, d->failures, was, why);
		return;
	}
	d->failures = 0;
	if (addrs_same(&next, cur))
		return;
	addrs_fmt(cur, was, sizeof(was));
	addrs_fmt(&next, now, sizeof(now));
	dns_publish(d, &next);
	rg_log("event=target_resolved target=%s host=%s addrs=%s was=%s", d->cfg->name,
	       d->cfg->address.host, now, was);
}

/* Deadline now + ms on CLOCK_MONOTONIC, the clock of the resolver's condition variable. */
static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void *resolver_main(void *arg)
{
	struct gw_resolver *r = arg;
	struct timespec due;
	size_t i;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		/* the first round waits too: the names were just resolved at startup */
		deadline_in(&due, r->interval_ms);
		while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &due) != ETIMEDOUT)
			;
		/* the mutex is dropped around each lookup: rg_gw_free's stop is seen
		 * within one lookup, and no lock is ever held across getaddrinfo */
		for (i = 0; !r->stop && i < r->n; i++) {
			struct rg_gw_dns *d = r->dns[i];

			pthread_mutex_unlock(&r->mu);
			dns_refresh(r, d);
			pthread_mutex_lock(&r->mu);
		}
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static struct gw_resolver *resolver_new(void)
{
	struct gw_resolver *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	r->lookup = lookup_getaddrinfo;
	r->interval_ms = GW_RESOLVE_INTERVAL_MS;
	return r;
}

/* Hand d over to the resolver (which then owns it), starting its thread if needed. */
static int resolver_add(struct gw_resolver *r, struct rg_gw_dns *d, char *err, size_t errlen)
{
	int ret = 0;

	pthread_mutex_lock(&r->mu);
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;
		struct rg_gw_dns **n = realloc(r->dns, sizeof(*n) * cap);

		if (!n) {
			ret = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		r->dns = n;
		r->cap = cap;
	}
	if (!r->running) {
		ret = -pthread_create(&r->thread, NULL, resolver_main, r);
		if (ret) {
			snprintf(err, errlen, "cannot start the DNS resolver thread: %s",
				 strerror(-ret));
			goto out;
		}
		r->running = true;
	}
	r->dns[r->n++] = d;
out:
	pthread_mutex_unlock(&r->mu);
	return ret;
}

static void resolver_free(struct gw_resolver *r)
{
	size_t i;

	if (!r)
		return;
	if (r->running) {
		/* joins within one lookup: getaddrinfo cannot be interrupted, so a stop
		 * during a slow DNS query waits for the resolver's own timeout */
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
	}
	for (i = 0; i < r->n; i++)
		free(r->dns[i]);
	free(r->dns);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void rg_gw_set_lookup(struct rg_gw *gw, rg_gw_lookup_fn fn, void *arg, unsigned interval_ms)
{
	struct gw_resolver *r = gw->resolver;

	r->lookup = fn ? fn : lookup_getaddrinfo;
	r->lookup_arg = fn ? arg : NULL;
	r->interval_ms = interval_ms ? interval_ms : GW_RESOLVE_INTERVAL_MS;
}

bool rg_gw_resolver_running(const struct rg_gw *gw)
{
	return gw->resolver->running;
}

/* The target's address at startup: an IP literal or unix socket as parsed into t->sa, a DNS
 * name resolved now (an error here is a config error) into an rg_gw_dns not yet handed over. */
static int resolve(struct rg_gw *gw, struct rg_gw_target *t, char *err, size_t errlen)
{
	const struct rg_config_addr *a = &t->cfg->address;
	struct rg_gw_dns *d;
	int ret;

	if (a->numeric) {
		memcpy(&t->sa, &a->sa, a->salen);
		t->salen = a->salen;
		return 0;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = t->cfg;
	ret = dns_lookup(gw->resolver, d, &d->slot[0], err, errlen);
	if (ret) {
		free(d);
		return ret;
	}
	t->dns = d;
	return 0;
}

int rg_gw_add_target(struct rg_gw *gw, const struct rg_config_target *tc,
		     struct rg_auth_cred *cred, char *err, size_t errlen)
{
	struct rg_gw_target *t;
	char why[256] = "";
	int ret;

	if (gw->n_targets == gw->cap_targets) {
		size_t cap = gw->cap_targets ? gw->cap_targets * 2 : 4;
		struct rg_gw_target **n = realloc(gw->targets, sizeof(*n) * cap);

		if (!n)
			return -ENOMEM;
		gw->targets = n;
		gw->cap_targets = cap;
	}
	/* each on its own: protocol modules keep pointers to targets while more are added */
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = tc;
	t->index = gw->n_targets;
	ret = resolve(gw, t, why, sizeof(why));
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
	if (t->dns) {
		ret = resolver_add(gw->resolver, t->dns, why, sizeof(why));
		if (ret)
			goto fail;
	}
	t->wcnt = aligned_alloc(64, sizeof(*t->wcnt) * gw->workers);
	if (!t->wcnt) {
		ret = -ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
		goto fail;
	}
	memset(t->wcnt, 0, sizeof(*t->wcnt) * gw->workers);
	t->cred = cred;
	gw->targets[gw->n_targets++] = t;
	return 0;
fail:
	if (t->dns) {
		/* not handed over to the resolver: still ours */
		free(t->dns);
		t->dns = NULL;
	}
	rg_tls_ctx_free(t->tls);
	free(t);
	snprintf(err, errlen, "%u:%u: target %s: %s", tc->loc.line, tc->loc.col, tc->name, why);
	return ret;
}

size_t rg_gw_targets(const struct rg_gw *gw)
{
	return gw->n_targets;
}

const struct rg_gw_target *rg_gw_target_at(const struct rg_gw *gw, size_t i)
{
	return i < gw->n_targets ? gw->targets[i] : NULL;
}

const char *rg_gw_target_sessions(const struct rg_gw *gw, size_t i, uint64_t *total,
				  uint64_t *active)
{
	const struct rg_gw_target *t = gw->targets[i];

	*total = *active = 0;
	for (unsigned w = 0; w < gw->workers; w++) {
		*total += ((const volatile struct rg_gw_tcnt *)&t->wcnt[w])->sessions;
		*active += ((const volatile struct rg_gw_tcnt *)&t->wcnt[w])->active;
	}
	return t->cfg->name;
}

const struct rg_gw_target *rg_gw_target(const struct rg_gw *gw, const char *name)
{
	size_t i;

	for (i = 0; i < gw->n_targets; i++)
		if (strcmp(gw->targets[i]->cfg->name, name) == 0)
			return gw->targets[i];
	return NULL;
}

int gw_targets_init(struct rg_gw *gw)
{
	gw->resolver = resolver_new();
	return gw->resolver ? 0 : -ENOMEM;
}

void gw_targets_free(struct rg_gw *gw)
{
	size_t i;

	/* first: the resolver thread reads the targets' rg_gw_dns, which it owns and frees */
	resolver_free(gw->resolver);
	for (i = 0; i < gw->n_targets; i++) {
		rg_auth_cred_free(gw->targets[i]->cred);
		rg_tls_ctx_free(gw->targets[i]->tls);
		free(gw->targets[i]->wcnt);
		free(gw->targets[i]);
	}
	free(gw->targets);
}
