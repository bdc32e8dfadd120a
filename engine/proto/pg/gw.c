/*
 * gw.c: the pg gateway's shared, startup-built state: issuers' verifiers, targets (address,
 * credential, TLS client context), listeners (TLS server context), limits, the cancel
 * registry, the per-worker counters, and the resolver that keeps DNS-named targets current.
 *
 * Everything here is built before the workers start and read-only afterwards, except the
 * counters (each worker writes its own cache line), the admission counters (sessions,
 * pending logins in total and per client address: atomics, see "admission" below) and the
 * address sets of DNS-named targets, which one resolver thread re-resolves
 * in the background and publishes lock-free (see "targets' DNS names" below). A worker never
 * blocks on a resolver and never takes a lock to read an address. Never logs secrets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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

/* ---- targets' DNS names: re-resolved in the background -----------------------------------
 *
 * A target written as dns-name:port keeps every address its name resolved to (IPv4 and
 * IPv6, in the resolver's order, duplicates dropped, at most PG_ADDRS_MAX) in a pg_dns. One
 * thread per gateway, the resolver, starts with the first DNS-named target and is stopped
 * and joined by rg_pg_gw_free; every PG_RESOLVE_INTERVAL_MS it resolves each name again and
 * publishes the new set when it differs (as a set: a DNS server rotating its answers is not a
 * change). A failed lookup keeps the previous set and logs a line: a set is never emptied.
 * The interval is a constant, not a config key (rg_pg_gw_set_lookup overrides it for tests
 * only).
 *
 * Publication: two slots per target, one writer (the resolver), any number of readers (the
 * workers, in rg_pg_target_addr), no lock and no allocation after startup.
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
#define PG_ADDRS_MAX 8
#define PG_LOOKUP_MAX 16 /* asked of the lookup: duplicates are dropped before the cap */
#define PG_RESOLVE_INTERVAL_MS 30000u

union pg_inaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct pg_addrs {
	unsigned n; /* 1..PG_ADDRS_MAX once published */
	socklen_t len[PG_ADDRS_MAX];
	union pg_inaddr a[PG_ADDRS_MAX];
};

struct pg_dns {
	const struct rg_config_target *cfg; /* name and address.host / port */
	atomic_uint cur;		    /* the published slot, 0 or 1 */
	atomic_uint readers[2];		    /* readers inside slot[i] */
	struct pg_addrs slot[2];
	unsigned failures; /* consecutive failed lookups (resolver thread only) */
};

struct pg_resolver {
	pthread_mutex_t mu; /* guards stop and dns/n/cap; never taken by a worker, never held
			     * during a lookup */
	pthread_cond_t cv;  /* signalled on stop (CLOCK_MONOTONIC) */
	pthread_t thread;
	bool running, stop;
	struct pg_dns **dns; /* owned; the targets point at them */
	size_t n, cap;
	/* set before the thread starts, read-only afterwards */
	rg_pg_lookup_fn lookup;
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

static bool inaddr_eq(const union pg_inaddr *a, const union pg_inaddr *b)
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

static bool addrs_has(const struct pg_addrs *s, const union pg_inaddr *a)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		if (inaddr_eq(&s->a[i], a))
			return true;
	return false;
}

/* Same addresses, in any order (both sets hold no duplicates). */
static bool addrs_same(const struct pg_addrs *x, const struct pg_addrs *y)
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
static void addrs_fmt(const struct pg_addrs *s, char *buf, size_t size)
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

/* Resolve d's name into out (IPv4/IPv6 only, no duplicates, at most PG_ADDRS_MAX). */
static int dns_lookup(const struct pg_resolver *r, const struct pg_dns *d, struct pg_addrs *out,
		      char *err, size_t errlen)
{
	const struct rg_config_addr *a = &d->cfg->address;
	struct sockaddr_storage got[PG_LOOKUP_MAX];
	socklen_t lens[PG_LOOKUP_MAX];
	char why[200] = "";
	int i, n;

	n = r->lookup(r->lookup_arg, a->host, a->port, got, lens, PG_LOOKUP_MAX, why, sizeof(why));
	if (n > PG_LOOKUP_MAX)
		n = PG_LOOKUP_MAX;
	memset(out, 0, sizeof(*out));
	for (i = 0; i < n && out->n < PG_ADDRS_MAX; i++) {
		union pg_inaddr x = {0};

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

int rg_pg_target_addr(const struct pg_target *t, unsigned attempt, struct sockaddr_storage *out,
		      socklen_t *len)
{
	struct pg_dns *d = t->dns;
	const struct pg_addrs *s;
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
static void dns_publish(struct pg_dns *d, const struct pg_addrs *next)
{
	unsigned j = 1 - atomic_load_explicit(&d->cur, memory_order_relaxed); /* our own store */

	while (atomic_load(&d->readers[j]))
		sched_yield();
	d->slot[j] = *next;
	atomic_store(&d->cur, j);
}

/* Resolver thread: resolve d again; publish a changed set, keep the old one on failure. */
static void dns_refresh(const struct pg_resolver *r, struct pg_dns *d)
{
	const struct pg_addrs *cur = &d->slot[atomic_load_explicit(&d->cur, memory_order_relaxed)];
	struct pg_addrs next;
	char why[256] = "", was[PG_ADDRS_MAX * (INET6_ADDRSTRLEN + 1)];
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
	struct pg_resolver *r = arg;
	struct timespec due;
	size_t i;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		/* the first round waits too: the names were just resolved at startup */
		deadline_in(&due, r->interval_ms);
		while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &due) != ETIMEDOUT)
			;
		/* the mutex is dropped around each lookup: rg_pg_gw_free's stop is seen
		 * within one lookup, and no lock is ever held across getaddrinfo */
		for (i = 0; !r->stop && i < r->n; i++) {
			struct pg_dns *d = r->dns[i];

			pthread_mutex_unlock(&r->mu);
			dns_refresh(r, d);
			pthread_mutex_lock(&r->mu);
		}
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static struct pg_resolver *resolver_new(void)
{
	struct pg_resolver *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	r->lookup = lookup_getaddrinfo;
	r->interval_ms = PG_RESOLVE_INTERVAL_MS;
	return r;
}

/* Hand d over to the resolver (which then owns it), starting its thread if needed. */
static int resolver_add(struct pg_resolver *r, struct pg_dns *d, char *err, size_t errlen)
{
	int ret = 0;

	pthread_mutex_lock(&r->mu);
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;
		struct pg_dns **n = realloc(r->dns, sizeof(*n) * cap);

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

static void resolver_free(struct pg_resolver *r)
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

void rg_pg_gw_set_lookup(struct rg_pg_gw *gw, rg_pg_lookup_fn fn, void *arg, unsigned interval_ms)
{
	struct pg_resolver *r = gw->resolver;

	r->lookup = fn ? fn : lookup_getaddrinfo;
	r->lookup_arg = fn ? arg : NULL;
	r->interval_ms = interval_ms ? interval_ms : PG_RESOLVE_INTERVAL_MS;
}

bool rg_pg_gw_resolver_running(const struct rg_pg_gw *gw)
{
	return gw->resolver->running;
}

/* The target's address at startup: an IP literal or unix socket as parsed into t->sa, a DNS
 * name resolved now (an error here is a config error) into a pg_dns not yet handed over. */
static int resolve(struct rg_pg_gw *gw, struct pg_target *t, char *err, size_t errlen)
{
	const struct rg_config_addr *a = &t->cfg->address;
	struct pg_dns *d;
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

int rg_pg_gw_new(const struct rg_config *cfg, unsigned workers, struct rg_pg_gw **out)
{
	struct rg_pg_gw *gw = calloc(1, sizeof(*gw));

	*out = NULL;
	if (!gw)
		return -ENOMEM;
	gw->cfg = cfg;
	gw->workers = workers ? workers : 1;
	/* session ids stay unique across restarts (the audit trail and recordings outlive a
	 * run): the start second, then a counter (2^20 sessions per second of the run's life) */
	atomic_init(&gw->next_id, (uint64_t)time(NULL) << 20);
	gw->cnt = aligned_alloc(64, sizeof(*gw->cnt) * gw->workers);
	gw->lex = calloc(gw->workers, sizeof(*gw->lex));
	gw->cancel = rg_pg_cancel_reg_new();
	gw->resolver = resolver_new();
	if (!gw->cnt || !gw->lex || !gw->cancel || !gw->resolver || pg_policy_init(gw) ||
	    pg_catalog_new(gw, &gw->catalog) || pg_approvals_new(gw, &gw->approvals)) {
		rg_pg_gw_free(gw);
		return -ENOMEM;
	}
	memset(gw->cnt, 0, sizeof(*gw->cnt) * gw->workers);
	rg_pg_gw_set_hooks(gw, NULL, NULL, NULL);
	rg_pg_limits_init(&gw->fe_lim, RG_PG_FE, 0, 0);
	gw->fe_lim.max[RG_PG_FE_PASSWORD] = RG_PG_PASSWORD_MAX;
	rg_pg_password_limits(&gw->pw_lim);
	rg_pg_limits_init(&gw->be_lim, RG_PG_BE, 0, 0);
	gw->fe_stream[RG_PG_FE_COPY_DATA] = gw->fe_stream[RG_PG_FE_BIND] = true;
	gw->fe_stream[RG_PG_FE_FUNCTION_CALL] = true;
	gw->be_stream[RG_PG_BE_COPY_DATA] = gw->be_stream[RG_PG_BE_DATA_ROW] = true;
	gw->be_stream[RG_PG_BE_FUNCTION_RESULT] = true;
	gw->max_sessions = cfg ? cfg->limits.max_sessions : 0;
	gw->stream_min = PG_STREAM_MIN;
	gw->max_pending = cfg ? cfg->limits.max_pending_logins : 0;
	gw->max_pending_addr = cfg ? cfg->limits.max_pending_per_address : 0;
	gw->password_timeout_ms = cfg ? (uint32_t)cfg->limits.password_timeout_ms : 10000;
	gw->login_timeout_ms = cfg ? (uint32_t)cfg->limits.login_timeout_ms : 60000;
	if (gw->max_pending_addr) {
		gw->addr_pending = calloc(RG_PG_ADDR_BUCKETS, sizeof(*gw->addr_pending));
		if (!gw->addr_pending ||
		    RAND_bytes((unsigned char *)gw->addr_key, sizeof(gw->addr_key)) != 1) {
			rg_pg_gw_free(gw);
			return -ENOMEM;
		}
	}
	*out = gw;
	return 0;
}

/* ---- admission: pending logins and sessions ----------------------------------------------
 *
 * Why a separate cap for logins in progress: before its token is verified a connection is
 * anyone's, and letting it take a max_sessions slot lets unauthenticated clients lock every
 * agent out. A pending login is short (a few round trips; password_timeout bounds the slow
 * ones), so the cap on them is small, and per address smaller still. Counters are atomics
 * shared by the workers, touched once when a connection arrives and once when it stops being
 * pending: never per message. A counter is incremented first and given back if that went
 * over the cap, so a cap is never exceeded, even by racing workers.
 */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

uint32_t rg_pg_gw_addr_bucket(const struct rg_pg_gw *gw, const struct sockaddr_storage *peer)
{
	uint64_t hi, lo;

	if (peer->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)peer;

		hi = 4;
		lo = ntohl(a->sin_addr.s_addr);
	} else if (peer->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)peer;
		const uint8_t *b = a->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) { /* the IPv4 client it is */
			hi = 4;
			lo = (uint64_t)b[12] << 24 | (uint64_t)b[13] << 16 | (uint64_t)b[14] << 8 |
			     b[15];
		} else { /* a /64: one host commonly has a whole one to pick addresses from */
			hi = 6;
			memcpy(&lo, b, 8);
		}
	} else {
		return RG_PG_NO_BUCKET;
	}
	return (uint32_t)(mix64(mix64(hi ^ gw->addr_key[0]) ^ lo ^ gw->addr_key[1]) %
			  RG_PG_ADDR_BUCKETS);
}

enum rg_pg_admit rg_pg_gw_pending_enter(struct rg_pg_gw *gw, const struct sockaddr_storage *peer,
					uint32_t *bucket)
{
	uint32_t b = RG_PG_NO_BUCKET;

	*bucket = RG_PG_NO_BUCKET;
	if (gw->max_pending && atomic_fetch_add(&gw->npending, 1) >= gw->max_pending) {
		atomic_fetch_sub(&gw->npending, 1);
		return RG_PG_ADMIT_PENDING_FULL;
	}
	if (gw->addr_pending)
		b = rg_pg_gw_addr_bucket(gw, peer);
	if (b != RG_PG_NO_BUCKET &&
	    atomic_fetch_add(&gw->addr_pending[b], 1) >= gw->max_pending_addr) {
		atomic_fetch_sub(&gw->addr_pending[b], 1);
		if (gw->max_pending)
			atomic_fetch_sub(&gw->npending, 1);
		return RG_PG_ADMIT_ADDRESS_FULL;
	}
	*bucket = b;
	return RG_PG_ADMIT_OK;
}

void rg_pg_gw_pending_leave(struct rg_pg_gw *gw, uint32_t bucket)
{
	if (gw->max_pending)
		atomic_fetch_sub(&gw->npending, 1);
	if (bucket != RG_PG_NO_BUCKET && gw->addr_pending)
		atomic_fetch_sub(&gw->addr_pending[bucket], 1);
}

bool rg_pg_gw_session_enter(struct rg_pg_gw *gw)
{
	if (!gw->max_sessions)
		return true;
	if (atomic_fetch_add(&gw->nsessions, 1) >= gw->max_sessions) {
		atomic_fetch_sub(&gw->nsessions, 1);
		return false;
	}
	return true;
}

void rg_pg_gw_session_leave(struct rg_pg_gw *gw)
{
	if (gw->max_sessions)
		atomic_fetch_sub(&gw->nsessions, 1);
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
	gw->n_targets++;
	return 0;
fail:
	if (t->dns) {
		/* not handed over to the resolver: still ours */
		free(t->dns);
		t->dns = NULL;
	}
	rg_tls_ctx_free(t->tls);
	t->tls = NULL;
	snprintf(err, errlen, "%u:%u: target %s: %s", tc->loc.line, tc->loc.col, tc->name, why);
	return ret;
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
		for (j = 0; j < 8; j++)
			out->appr_by[j] += c->appr_by[j];
		for (j = 0; j < 32; j++)
			out->mask_det[j] += c->mask_det[j];
		out->rule_other += c->rule_other;
		/* rules by id: merged into out's table by the same id */
		for (j = 0; j < RG_PG_RULE_SLOTS; j++) {
			const volatile struct rg_pg_rule_cnt *r = &c->rules[j];
			unsigned k;

			if (!__atomic_load_n(&r->used, __ATOMIC_ACQUIRE))
				continue;
			for (k = 0; k < RG_PG_RULE_SLOTS; k++) {
				struct rg_pg_rule_cnt *o = &out->rules[k];

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
			if (k == RG_PG_RULE_SLOTS)
				out->rule_other += r->n;
		}
		for (j = 0; j < RG_PG_LAT_BUCKETS; j++) {
			out->stmt_lat.bucket[j] += c->stmt_lat.bucket[j];
			out->login_lat.bucket[j] += c->login_lat.bucket[j];
		}
		out->stmt_lat.count += c->stmt_lat.count;
		out->stmt_lat.sum_us += c->stmt_lat.sum_us;
		out->login_lat.count += c->login_lat.count;
		out->login_lat.sum_us += c->login_lat.sum_us;
	}
}

size_t rg_pg_gw_targets(const struct rg_pg_gw *gw)
{
	return gw->n_targets;
}

const char *rg_pg_gw_target_sessions(const struct rg_pg_gw *gw, size_t i, uint64_t *total,
				     uint64_t *active)
{
	const struct pg_target *t = &gw->targets[i];

	*total = *active = 0;
	for (unsigned w = 0; w < gw->workers; w++) {
		*total += ((const volatile struct pg_tcnt *)&t->wcnt[w])->sessions;
		*active += ((const volatile struct pg_tcnt *)&t->wcnt[w])->active;
	}
	return t->cfg->name;
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

int rg_pg_gw_verify_token(const struct rg_pg_gw *gw, const char *token, size_t len,
			  struct rg_auth_identity *id, struct rg_auth_fail *why)
{
	struct rg_auth_verifier *v;
	char iss[RG_AUTH_MAX_ISS];

	memset(why, 0, sizeof(*why));
	if (rg_auth_peek_issuer(token, len, iss, sizeof(iss)))
		return RG_AUTH_E_MALFORMED;
	v = rg_pg_gw_verifier(gw, iss);
	if (!v)
		return RG_AUTH_E_BAD_ISSUER;
	return rg_auth_verify(v, token, len, (int64_t)time(NULL), id, why);
}

void rg_pg_gw_free(struct rg_pg_gw *gw)
{
	size_t i;

	if (!gw)
		return;
	/* first: the resolver thread reads the targets' pg_dns, which it owns and frees; the
	 * catalog thread reads the targets too */
	resolver_free(gw->resolver);
	pg_catalog_free(gw->catalog);
	pg_approvals_free(gw->approvals);
	for (i = 0; i < gw->n_issuers; i++)
		rg_auth_verifier_free(gw->issuers[i].v);
	free(gw->issuers);
	for (i = 0; i < gw->n_targets; i++) {
		for (size_t k = 0; k < gw->targets[i].n_roles; k++)
			rg_auth_cred_free(gw->targets[i].roles[k].cred);
		free(gw->targets[i].roles);
		rg_auth_cred_free(gw->targets[i].cred);
		rg_tls_ctx_free(gw->targets[i].tls);
		free(gw->targets[i].wcnt);
	}
	free(gw->targets);
	rg_pg_cancel_reg_free(gw->cancel);
	pg_policy_free(gw);
	for (i = 0; gw->lex && i < gw->workers; i++)
		rg_sqlclass_free(gw->lex[i]);
	free(gw->lex);
	free(gw->cnt);
	free(gw->addr_pending);
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
