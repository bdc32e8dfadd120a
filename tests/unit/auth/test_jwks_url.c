/*
 * JWKS over HTTP: a minimal HTTP/1.1 server thread on 127.0.0.1 (an ephemeral port) serves
 * a document the test changes at will and counts requests. Checks the initial fetch, key
 * rotation through the unknown-kid refresh, periodic refresh, the unknown-kid rate limit,
 * and that a failing fetch keeps the previous key set.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "kit.h"

#define ISS "https://issuer.example"
#define AUD "ringgate"

static struct {
	int fd;
	int port;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t mu;
	char *doc;
	int status;
	atomic_int hits;
} srv = { .mu = PTHREAD_MUTEX_INITIALIZER };

static EVP_PKEY *k1, *k2;

static void serve_one(int c)
{
	char req[4096], *resp;
	size_t n = 0;

	while (n < sizeof(req) - 1) {
		ssize_t r = read(c, req + n, sizeof(req) - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	atomic_fetch_add(&srv.hits, 1);
	pthread_mutex_lock(&srv.mu);
	resp = kit_fmt("HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
		       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		       srv.status, strlen(srv.doc), srv.doc);
	pthread_mutex_unlock(&srv.mu);
	if (write(c, resp, strlen(resp)) < 0)
		perror("write");
	free(resp);
	close(c);
}

static void *serve(void *arg)
{
	(void)arg;
	while (!atomic_load(&srv.stop)) {
		struct pollfd p = { .fd = srv.fd, .events = POLLIN };

		if (poll(&p, 1, 50) == 1) {
			int c = accept(srv.fd, NULL, NULL);

			if (c >= 0)
				serve_one(c);
		}
	}
	return NULL;
}

static void set_doc(int status, const char *doc)
{
	pthread_mutex_lock(&srv.mu);
	free(srv.doc);
	srv.doc = strdup(doc);
	srv.status = status;
	pthread_mutex_unlock(&srv.mu);
}

static int setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	(void)state;
	k1 = kit_key(KIT_EC);
	k2 = kit_key(KIT_ED25519);
	srv.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv.fd < 0 || bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(srv.fd, 16) != 0 || getsockname(srv.fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	srv.port = ntohs(a.sin_port);
	set_doc(200, "{\"keys\":[]}");
	return pthread_create(&srv.thread, NULL, serve, NULL);
}

static int teardown(void **state)
{
	(void)state;
	atomic_store(&srv.stop, true);
	pthread_join(srv.thread, NULL);
	close(srv.fd);
	free(srv.doc);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	return 0;
}

static char *token(EVP_PKEY *pk, const char *alg, const char *kid)
{
	char *h = kit_fmt("{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid);
	char *p = kit_claims(ISS, AUD, "agent", time(NULL), 300);
	char *t = kit_sign(pk, alg, h, p);

	free(h);
	free(p);
	return t;
}

static char *url;
static struct rg_auth_config cfg;

static int reset(void **state)
{
	(void)state;
	free(url);
	url = kit_fmt("http://127.0.0.1:%d/jwks.json", srv.port);
	rg_auth_config_init(&cfg);
	cfg.issuer = ISS;
	cfg.audience = AUD;
	cfg.jwks_url = url;
	cfg.fetch_timeout_ms = 2000;
	return 0;
}

static enum rg_auth_err verify(struct rg_auth_verifier *v, const char *t, struct rg_auth_fail *w)
{
	return rg_auth_verify(v, t, strlen(t), time(NULL), NULL, w);
}

static void test_jwks_url_rotation_is_picked_up_after_unknown_kid(void **state)
{
	char *j1 = kit_jwk(k1, "old", NULL, NULL), *j2 = kit_jwk(k2, "new", NULL, NULL);
	char *d1 = kit_jwks(1, j1), *d2 = kit_jwks(2, j1, j2);
	char *t1 = token(k1, "ES256", "old"), *t2 = token(k2, "EdDSA", "new");
	struct rg_auth_verifier *v;
	struct rg_auth_fail why;
	char err[256];
	uint64_t gen;

	(void)state;
	set_doc(200, d1);
	cfg.unknown_kid_refresh_ms = 0;
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	assert_int_equal(verify(v, t1, &why), RG_AUTH_OK);

	set_doc(200, d2);	/* the issuer publishes a new key */
	gen = rg_auth_verifier_generation(v);
	assert_int_equal(verify(v, t2, &why), RG_AUTH_E_UNKNOWN_KID);
	assert_true(why.refresh_pending);
	assert_int_equal(rg_auth_verifier_wait_refresh(v, gen, 5000), 0);
	assert_int_equal(verify(v, t2, &why), RG_AUTH_OK);
	assert_int_equal(verify(v, t1, &why), RG_AUTH_OK);
	rg_auth_verifier_free(v);
	free(j1);
	free(j2);
	free(d1);
	free(d2);
	free(t1);
	free(t2);
}

static void test_unknown_kid_refresh_is_rate_limited(void **state)
{
	char *j1 = kit_jwk(k1, "old", NULL, NULL), *d1 = kit_jwks(1, j1);
	char *bogus = token(k2, "EdDSA", "bogus");
	struct rg_auth_verifier *v;
	struct rg_auth_fail why;
	char err[256];
	int before;

	(void)state;
	set_doc(200, d1);
	cfg.unknown_kid_refresh_ms = 60000;
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	before = atomic_load(&srv.hits);
	for (int i = 0; i < 50; i++)
		assert_int_equal(verify(v, bogus, &why), RG_AUTH_E_UNKNOWN_KID);
	usleep(300 * 1000);
	assert_int_equal(atomic_load(&srv.hits), before);	/* no fetch within the window */
	rg_auth_verifier_free(v);
	free(j1);
	free(d1);
	free(bogus);
}

static void test_periodic_refresh_replaces_keys(void **state)
{
	char *j1 = kit_jwk(k1, "old", NULL, NULL), *j2 = kit_jwk(k2, "new", NULL, NULL);
	char *d1 = kit_jwks(1, j1), *d2 = kit_jwks(1, j2);
	char *t2 = token(k2, "EdDSA", "new");
	struct rg_auth_verifier *v;
	struct rg_auth_fail why;
	char err[256];

	(void)state;
	set_doc(200, d1);
	cfg.jwks_refresh_ms = 100;
	cfg.unknown_kid_refresh_ms = 3600000;	/* only the periodic refresh may act */
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	set_doc(200, d2);
	assert_int_equal(rg_auth_verifier_wait_refresh(v, rg_auth_verifier_generation(v), 5000), 0);
	assert_int_equal(verify(v, t2, &why), RG_AUTH_OK);
	rg_auth_verifier_free(v);
	free(j1);
	free(j2);
	free(d1);
	free(d2);
	free(t2);
}

static void test_failed_fetch_keeps_previous_keys(void **state)
{
	char *j1 = kit_jwk(k1, "old", NULL, NULL), *d1 = kit_jwks(1, j1);
	char *t1 = token(k1, "ES256", "old");
	struct rg_auth_verifier *v;
	struct rg_auth_fail why;
	char err[256];
	uint64_t gen;

	(void)state;
	set_doc(200, d1);
	cfg.unknown_kid_refresh_ms = 0;
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	set_doc(503, "{\"keys\":[]}");
	gen = rg_auth_verifier_generation(v);
	rg_auth_verifier_request_refresh(v);
	assert_int_equal(rg_auth_verifier_wait_refresh(v, gen, 5000), 0);
	assert_int_equal(verify(v, t1, &why), RG_AUTH_OK);
	rg_auth_verifier_free(v);
	free(j1);
	free(d1);
	free(t1);
}

static void test_unreachable_or_failing_url_fails_at_startup(void **state)
{
	struct rg_auth_verifier *v;
	char err[256];

	(void)state;
	set_doc(404, "nope");
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "HTTP status 404"));
	set_doc(200, "{\"keys\":[{\"kty\":\"EC\"}]}");
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "missing \"crv\""));
}

/* What a login waiting on a worker thread does: it never blocks, it reads the generation
 * from a timer until the refresh its unknown kid asked for is counted, then verifies once. */
static void test_generation_poll_sees_the_kid_triggered_refresh(void **state)
{
	char *j1 = kit_jwk(k1, "old", NULL, NULL), *j2 = kit_jwk(k2, "new", NULL, NULL);
	char *d1 = kit_jwks(1, j1), *d2 = kit_jwks(2, j1, j2);
	char *t2 = token(k2, "EdDSA", "new");
	struct rg_auth_verifier *v;
	struct rg_auth_fail why;
	char err[256];
	uint64_t gen;
	int polls = 0;

	(void)state;
	set_doc(200, d1);
	cfg.unknown_kid_refresh_ms = 0;
	cfg.jwks_refresh_ms = 3600000; /* only the kid-triggered refresh may act */
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	assert_int_equal(rg_auth_verifier_fetch_timeout_ms(v), 2000);

	set_doc(200, d2);
	gen = rg_auth_verifier_generation(v); /* read before verifying: no refresh is missed */
	assert_int_equal(verify(v, t2, &why), RG_AUTH_E_UNKNOWN_KID);
	assert_true(why.refresh_pending);
	while (rg_auth_verifier_generation(v) == gen && polls++ < 200)
		usleep(25 * 1000);
	assert_true(rg_auth_verifier_generation(v) > gen);
	assert_int_equal(verify(v, t2, &why), RG_AUTH_OK);
	rg_auth_verifier_free(v);
	free(j1);
	free(j2);
	free(d1);
	free(d2);
	free(t2);
}

static void test_fetch_timeout_getter_reports_the_default(void **state)
{
	char *j1 = kit_jwk(k1, "old", NULL, NULL), *d1 = kit_jwks(1, j1);
	struct rg_auth_verifier *v;
	char err[256];

	(void)state;
	set_doc(200, d1);
	cfg.fetch_timeout_ms = 0; /* 0 takes the default */
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	assert_int_equal(rg_auth_verifier_fetch_timeout_ms(v), 5000);
	rg_auth_verifier_free(v);
	free(j1);
	free(d1);
}

/* An unknown kid whose refresh is rate-limited (unknown_kid_refresh far off) must not move
 * the periodic refresh: that one is how a removed (revoked) key goes away on time. */
static void test_pending_kid_refresh_does_not_postpone_the_periodic_one(void **state)
{
	char *j1 = kit_jwk(k1, "old", NULL, NULL), *j2 = kit_jwk(k2, "new", NULL, NULL);
	char *d1 = kit_jwks(1, j1), *d2 = kit_jwks(1, j2);
	char *t1 = token(k1, "ES256", "old"), *bogus = token(k2, "EdDSA", "bogus");
	struct rg_auth_verifier *v;
	struct rg_auth_fail why;
	char err[256];
	uint64_t gen;

	(void)state;
	set_doc(200, d1);
	cfg.jwks_refresh_ms = 400;
	cfg.unknown_kid_refresh_ms = 3600000;
	assert_int_equal(rg_auth_verifier_new(&cfg, &v, err, sizeof(err)), 0);
	gen = rg_auth_verifier_generation(v);
	/* asks for a refresh the rate limit defers by an hour */
	assert_int_equal(verify(v, bogus, &why), RG_AUTH_E_UNKNOWN_KID);
	assert_true(why.refresh_pending);
	set_doc(200, d2); /* the issuer drops "old" */
	assert_int_equal(rg_auth_verifier_wait_refresh(v, gen, 4000), 0);
	assert_int_equal(verify(v, t1, &why), RG_AUTH_E_UNKNOWN_KID);
	rg_auth_verifier_free(v);
	free(j1);
	free(j2);
	free(d1);
	free(d2);
	free(t1);
	free(bogus);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_jwks_url_rotation_is_picked_up_after_unknown_kid),
		T(test_unknown_kid_refresh_is_rate_limited),
		T(test_periodic_refresh_replaces_keys),
		T(test_failed_fetch_keeps_previous_keys),
		T(test_unreachable_or_failing_url_fails_at_startup),
		T(test_generation_poll_sees_the_kid_triggered_refresh),
		T(test_fetch_timeout_getter_reports_the_default),
		T(test_pending_kid_refresh_does_not_postpone_the_periodic_one),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);

	free(url);
	return rc;
}
