/*
 * Verifier: one issuer's configuration, its current key set and the refresher thread that
 * replaces it. Key set swap (docs/auth.md): key sets are immutable; the current one is an
 * atomic pointer. Readers enter a two-counter epoch read section (SRCU-like): they count
 * themselves in readers[epoch & 1], load the pointer, verify, and leave. The refresher
 * publishes a new set with one atomic exchange, flips the epoch, waits until the old
 * epoch's counter drains to zero, then frees the old set. Readers never lock, never wait
 * and never allocate for the swap; only the refresher waits, for at most one verification.
 * The refresher is the only thread that does I/O (file read or libcurl fetch).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "auth_int.h"

struct rg_auth_verifier {
	struct rg_auth_config cfg;	/* strings below are owned copies */
	char *issuer, *audience, *jwks_file, *jwks_url, *groups_claim;
	char **required;
	struct Curl_URL *url;		/* jwks_url as checked by rg_auth_url_parse, fetched as is */

	_Atomic(struct rg_auth_keyset *) keys;
	atomic_uint epoch;
	atomic_uint readers[2];

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;		/* guards everything below */
	pthread_cond_t cond;		/* wakes the refresher; CLOCK_MONOTONIC */
	pthread_cond_t gen_cond;	/* wakes wait_refresh callers */
	bool stop;
	atomic_bool want;		/* an unknown kid asked for a refresh */
	uint64_t last_fetch_ms;		/* monotonic, of the last attempt */
	uint64_t next_periodic_ms;
	atomic_uint_fast64_t generation;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void logf_(struct rg_auth_verifier *v, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void logf_(struct rg_auth_verifier *v, bool error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!v->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->cfg.log(v->cfg.log_arg, error, msg);
}

/* ---------------------------------------------------------------- fetching */

static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, ret;

	/* Whoever can write this file can mint any identity: the password file's checks,
	 * except that others may read public keys. On every load, not just the first. */
	ret = rg_auth_open_protected(path, "jwks_file", 022, &fd, &st, err, errlen);
	if (ret)
		return ret;
	if (st.st_size > RG_AUTH_MAX_JWKS) {
		ret = rg_auth_errf(err, errlen, -EFBIG, "%s: larger than %u bytes", path,
				   RG_AUTH_MAX_JWKS);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = rg_auth_errf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*outlen = n;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

struct membuf {
	char *p;
	size_t n;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct membuf *m = arg;
	size_t add = size * nmemb;
	char *np;

	if (m->n + add > RG_AUTH_MAX_JWKS) {
		m->too_big = true;
		return 0;	/* aborts the transfer */
	}
	np = realloc(m->p, m->n + add + 1);
	if (!np)
		return 0;
	memcpy(np + m->n, data, add);
	m->p = np;
	m->n += add;
	return add;
}

/* url is the handle rg_auth_url_parse checked; name only names it in messages. */
static int fetch_url(CURLU *url, const char *name, uint64_t timeout_ms, char **out,
		     size_t *outlen, char *err, size_t errlen)
{
	struct membuf m = { 0 };
	CURL *c = curl_easy_init();
	CURLcode rc;
	long status = 0;
	int ret;

	if (!c)
		return rg_auth_errf(err, errlen, -ENOMEM, "curl_easy_init failed");
	curl_easy_setopt(c, CURLOPT_CURLU, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);	/* we are not the main thread */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ringgate-jwks/0.1");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		ret = rg_auth_errf(err, errlen, m.too_big ? -EFBIG : -EIO, "%s: %s", name,
				   m.too_big ? "JWKS too large" : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		ret = rg_auth_errf(err, errlen, -EIO, "%s: HTTP status %ld", name, status);
		goto out;
	}
	*out = m.p ? m.p : strdup("");
	*outlen = m.n;
	m.p = NULL;
	ret = *out ? 0 : -ENOMEM;
out:
	free(m.p);
	curl_easy_cleanup(c);
	return ret;
}

static int load_keys(struct rg_auth_verifier *v, struct rg_auth_keyset **out, char *err,
		     size_t errlen)
{
	char *doc = NULL;
	size_t n = 0;
	int ret;

	if (v->jwks_file)
		ret = read_file(v->jwks_file, &doc, &n, err, errlen);
	else
		ret = fetch_url(v->url, v->jwks_url, v->cfg.fetch_timeout_ms, &doc, &n, err,
				errlen);
	if (ret)
		return ret;
	ret = rg_auth_keyset_parse(doc, n, out, err, errlen);
	free(doc);
	return ret;
}

/* ---------------------------------------------------------------- epoch swap */

static unsigned read_enter(struct rg_auth_verifier *v)
{
	for (;;) {
		unsigned e = atomic_load(&v->epoch) & 1;

		atomic_fetch_add(&v->readers[e], 1);
		/* If the epoch flipped meanwhile, the writer may already have seen our old
		 * counter at zero: back out and count ourselves in the new one. */
		if ((atomic_load(&v->epoch) & 1) == e)
			return e;
		atomic_fetch_sub(&v->readers[e], 1);
	}
}

static void read_leave(struct rg_auth_verifier *v, unsigned e)
{
	atomic_fetch_sub(&v->readers[e], 1);
}

/* Refresher only (and free). Publishes ks, waits for readers of the old one, frees it. */
static void publish(struct rg_auth_verifier *v, struct rg_auth_keyset *ks)
{
	struct rg_auth_keyset *old = atomic_exchange(&v->keys, ks);
	unsigned e = atomic_fetch_add(&v->epoch, 1) & 1;

	while (atomic_load(&v->readers[e]) != 0) {
		struct timespec ts = { 0, 100000 };

		nanosleep(&ts, NULL);
	}
	rg_auth_keyset_free(old);
}

/* ---------------------------------------------------------------- refresher */

static void refresh_once(struct rg_auth_verifier *v)
{
	struct rg_auth_keyset *ks = NULL;
	char err[256];

	if (load_keys(v, &ks, err, sizeof(err)) == 0) {
		logf_(v, false, "jwks for %s refreshed: %zu keys (%zu skipped)", v->issuer,
		      rg_auth_keyset_count(ks), rg_auth_keyset_skipped(ks));
		publish(v, ks);
	} else {
		logf_(v, true, "jwks for %s: refresh failed, keeping previous keys: %s",
		      v->issuer, err);
	}
}

static void *refresher(void *arg)
{
	struct rg_auth_verifier *v = arg;

	pthread_mutex_lock(&v->mu);
	for (;;) {
		uint64_t now = mono_ms(), wake;
		struct timespec ts;

		if (v->stop)
			break;
		bool kid_due = atomic_load(&v->want) &&
			       now >= v->last_fetch_ms + v->cfg.unknown_kid_refresh_ms;

		if (now < v->next_periodic_ms && !kid_due) {
			/* The earlier of the two deadlines: a pending unknown-kid refresh that is
			 * rate-limited must never postpone the periodic one (revocation). */
			wake = v->next_periodic_ms;
			if (atomic_load(&v->want) &&
			    v->last_fetch_ms + v->cfg.unknown_kid_refresh_ms < wake)
				wake = v->last_fetch_ms + v->cfg.unknown_kid_refresh_ms;
			ts.tv_sec = (time_t)(wake / 1000);
			ts.tv_nsec = (long)(wake % 1000) * 1000000;
			pthread_cond_timedwait(&v->cond, &v->mu, &ts);
			continue;
		}
		atomic_store(&v->want, false);
		v->last_fetch_ms = now;
		pthread_mutex_unlock(&v->mu);

		refresh_once(v);

		pthread_mutex_lock(&v->mu);
		v->next_periodic_ms = mono_ms() + v->cfg.jwks_refresh_ms;
		atomic_fetch_add(&v->generation, 1);
		pthread_cond_broadcast(&v->gen_cond);
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

/* ---------------------------------------------------------------- public */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int rg_auth_verifier_new(const struct rg_auth_config *cfg, struct rg_auth_verifier **out,
			 char *err, size_t errlen)
{
	struct rg_auth_verifier *v;
	struct rg_auth_keyset *ks = NULL;
	pthread_condattr_t ca;
	bool oom = false;
	int ret;

	*out = NULL;
	if (!cfg->issuer || !cfg->audience)
		return rg_auth_errf(err, errlen, -EINVAL, "issuer and audience are required");
	if (!cfg->jwks_file == !cfg->jwks_url)
		return rg_auth_errf(err, errlen, -EINVAL,
				    "exactly one of jwks_file and jwks_url is required");
	v = calloc(1, sizeof(*v));
	if (!v)
		return rg_auth_errf(err, errlen, -ENOMEM, "out of memory");
	if (cfg->jwks_url) {
		ret = rg_auth_url_parse(cfg->jwks_url, &v->url, err, errlen);
		if (ret) {
			free(v);
			return ret;
		}
	}
	v->cfg = *cfg;
	v->issuer = dup_opt(cfg->issuer, &oom);
	v->audience = dup_opt(cfg->audience, &oom);
	v->jwks_file = dup_opt(cfg->jwks_file, &oom);
	v->jwks_url = dup_opt(cfg->jwks_url, &oom);
	v->groups_claim = dup_opt(cfg->groups_claim ? cfg->groups_claim : "groups", &oom);
	v->required = calloc(cfg->n_required_claims + 1, sizeof(char *));
	oom |= !v->required;
	for (size_t i = 0; !oom && i < cfg->n_required_claims; i++)
		v->required[i] = dup_opt(cfg->required_claims[i], &oom);
	v->cfg.issuer = v->issuer;
	v->cfg.audience = v->audience;
	v->cfg.jwks_file = v->jwks_file;
	v->cfg.jwks_url = v->jwks_url;
	v->cfg.groups_claim = v->groups_claim;
	v->cfg.required_claims = (const char *const *)v->required;
	if (!v->cfg.jwks_refresh_ms)
		v->cfg.jwks_refresh_ms = 300000;
	if (!v->cfg.fetch_timeout_ms)
		v->cfg.fetch_timeout_ms = 5000;
	pthread_mutex_init(&v->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&v->cond, &ca);
	pthread_cond_init(&v->gen_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (oom) {
		ret = rg_auth_errf(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	if (v->jwks_url)
		pthread_once(&curl_once, curl_init);

	ret = load_keys(v, &ks, err, errlen);
	if (ret)
		goto fail;
	atomic_store(&v->keys, ks);
	v->last_fetch_ms = mono_ms();
	v->next_periodic_ms = v->last_fetch_ms + v->cfg.jwks_refresh_ms;
	ret = -pthread_create(&v->thread, NULL, refresher, v);
	if (ret) {
		rg_auth_errf(err, errlen, ret, "cannot start the JWKS refresher: %s",
			     strerror(-ret));
		goto fail;
	}
	v->thread_started = true;
	*out = v;
	return 0;
fail:
	rg_auth_verifier_free(v);
	return ret;
}

void rg_auth_verifier_free(struct rg_auth_verifier *v)
{
	if (!v)
		return;
	if (v->thread_started) {
		pthread_mutex_lock(&v->mu);
		v->stop = true;
		pthread_cond_broadcast(&v->cond);
		pthread_mutex_unlock(&v->mu);
		pthread_join(v->thread, NULL);
	}
	rg_auth_keyset_free(atomic_load(&v->keys));
	pthread_mutex_destroy(&v->mu);
	pthread_cond_destroy(&v->cond);
	pthread_cond_destroy(&v->gen_cond);
	free(v->issuer);
	free(v->audience);
	free(v->jwks_file);
	free(v->jwks_url);
	curl_url_cleanup(v->url);
	free(v->groups_claim);
	for (size_t i = 0; v->required && i < v->cfg.n_required_claims; i++)
		free(v->required[i]);
	free(v->required);
	free(v);
}

void rg_auth_verifier_request_refresh(struct rg_auth_verifier *v)
{
	/* Only the caller that raises the flag signals: a flood of unknown kids costs one
	 * atomic exchange each and one wake-up in total. */
	if (atomic_exchange(&v->want, true))
		return;
	pthread_mutex_lock(&v->mu);
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->mu);
}

enum rg_auth_err rg_auth_verify(struct rg_auth_verifier *v, const char *token, size_t len,
				int64_t now, struct rg_auth_identity *id, struct rg_auth_fail *why)
{
	struct rg_auth_fail local;
	enum rg_auth_err e;
	unsigned ep;

	if (!why)
		why = &local;
	ep = read_enter(v);
	e = rg_auth_verify_with(&v->cfg, atomic_load(&v->keys), token, len, now, id, why);
	read_leave(v, ep);
	if (e == RG_AUTH_E_UNKNOWN_KID || e == RG_AUTH_E_NO_KEYS) {
		rg_auth_verifier_request_refresh(v);
		why->refresh_pending = true;
	}
	return e;
}

uint64_t rg_auth_verifier_generation(struct rg_auth_verifier *v)
{
	return atomic_load(&v->generation);
}

uint64_t rg_auth_verifier_fetch_timeout_ms(const struct rg_auth_verifier *v)
{
	return v->cfg.fetch_timeout_ms;
}

bool rg_auth_verifier_session_outlives_token(const struct rg_auth_verifier *v)
{
	return v->cfg.session_outlives_token;
}

uint64_t rg_auth_verifier_clock_skew_ms(const struct rg_auth_verifier *v)
{
	return v->cfg.clock_skew_ms;
}

int64_t rg_auth_verifier_session_end_ms(const struct rg_auth_verifier *v,
					const struct rg_auth_principal *p)
{
	/* The same rounding as rg_auth_check_claims: the last accepted second, exclusive. */
	int64_t skew = (int64_t)((v->cfg.clock_skew_ms + 999) / 1000);

	if (v->cfg.session_outlives_token)
		return 0;
	return (rg_auth_principal_exp(p) + skew) * 1000;
}

int rg_auth_verifier_wait_refresh(struct rg_auth_verifier *v, uint64_t gen, uint64_t timeout_ms)
{
	uint64_t deadline = mono_ms() + timeout_ms;
	struct timespec ts = { (time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000 };
	int ret = 0;

	pthread_mutex_lock(&v->mu);
	while (atomic_load(&v->generation) <= gen) {
		if (pthread_cond_timedwait(&v->gen_cond, &v->mu, &ts) == ETIMEDOUT) {
			ret = atomic_load(&v->generation) > gen ? 0 : -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&v->mu);
	return ret;
}
