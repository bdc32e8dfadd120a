/*
 * Unit tests for the gateway's target addresses (targets.c): a DNS-named target follows DNS.
 * The lookup is replaced through rg_gw_set_lookup (test only) by a fake that answers set A,
 * then set B, then fails, with a re-resolve interval of a few ms; rg_gw_target_addr must
 * give A, then B (eventually, within 2 s: no other timing is asserted), then still B. Also:
 * attempt numbers wrap, duplicates are dropped and the set is capped, a reordered answer is
 * not a change, readers racing the resolver only ever see a whole published set (checked
 * for torn copies; TSan is not set up), IP literals and unix sockets never start the
 * resolver thread, a name that
 * does not resolve at startup is a config error with its line:col, and a real getaddrinfo
 * of localhost (no network needed) works end to end.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include <cmocka.h>

#include "config.h"
#include "gateway-int.h"

#define LISTENERS                                                                                  \
	"version: 1\n"                                                                             \
	"listeners:\n"                                                                             \
	"  - name: pg\n"                                                                           \
	"    address: 127.0.0.1:6432\n"                                                            \
	"    protocol: postgres\n"                                                                 \
	"targets:\n"
#define TARGET(name, addr)                                                                         \
	"  - name: " name "\n"                                                                     \
	"    protocol: postgres\n"                                                                 \
	"    address: " addr "\n"                                                                  \
	"    database: app\n"                                                                      \
	"    user: app\n"                                                                          \
	"    password_env: PW\n"                                                                   \
	"    tls: { mode: disable }\n"

enum { PHASE_A, PHASE_B, PHASE_FAIL, PHASE_MANY, PHASE_A_REVERSED };

struct fake {
	atomic_int phase;
	atomic_uint calls;
	atomic_uint fails;
};

static void put(struct sockaddr_storage *ss, socklen_t *len, const char *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
		*len = sizeof(*s4);
	}
}

static const char *const set_a[] = {"10.0.0.1", "10.0.0.2", "fd00::1"};
static const char *const set_b[] = {"10.0.1.7", "fd00::7"};

static int fake_lookup(void *arg, const char *host, uint16_t port, struct sockaddr_storage *out,
		       socklen_t *lens, unsigned max, char *err, size_t errlen)
{
	struct fake *f = arg;
	unsigned i, n = 0;

	(void)host;
	atomic_fetch_add(&f->calls, 1);
	switch (atomic_load(&f->phase)) {
	case PHASE_A:
		for (i = 0; i < 3; i++, n++)
			put(&out[n], &lens[n], set_a[i], port);
		break;
	case PHASE_A_REVERSED:
		for (i = 0; i < 3; i++, n++)
			put(&out[n], &lens[n], set_a[2 - i], port);
		break;
	case PHASE_B:
		for (i = 0; i < 2; i++, n++)
			put(&out[n], &lens[n], set_b[i], port);
		break;
	case PHASE_MANY: /* .1 .1 .2 .2 .3 .4 ... .14: the first 8 distinct survive */
		for (i = 0; i < max; i++, n++) {
			char ip[32];

			snprintf(ip, sizeof(ip), "192.0.2.%u", i < 4 ? 1 + i / 2 : i - 1);
			put(&out[n], &lens[n], ip, port);
		}
		break;
	default:
		atomic_fetch_add(&f->fails, 1);
		snprintf(err, errlen, "Temporary failure in name resolution");
		return -1;
	}
	return (int)n;
}

/* "ip port" of an address, for comparisons. */
static const char *fmt(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s %u", ip, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s %u", ip, ntohs(s6->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		snprintf(buf, size, "unix %.64s", ((const struct sockaddr_un *)ss)->sun_path);
	} else {
		snprintf(buf, size, "family %u", ss->ss_family);
	}
	return buf;
}

/* The target's address number attempt as "ip port"; *n gets the count. */
static const char *addr_of(const struct rg_gw_target *t, unsigned attempt, int *n, char *buf,
			   size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;

	*n = rg_gw_target_addr(t, attempt, &ss, &len);
	assert_true(len > 0 && len <= sizeof(ss));
	return fmt(&ss, buf, size);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct fixture {
	struct rg_config *cfg;
	struct rg_gw *gw;
	struct fake fake;
};

/* Parse yaml and build a gateway with the fake lookup (interval 3 ms) from its targets;
 * returns the error of the first target that failed (0: all added), its text in err. */
static int build(struct fixture *fx, const char *yaml, bool use_fake, char *err, size_t errlen)
{
	size_t i;
	int ret;

	memset(fx, 0, sizeof(*fx));
	assert_int_equal(rg_config_parse(yaml, strlen(yaml), "t.yaml", "/etc/rg", &fx->cfg, stderr),
			 0);
	assert_int_equal(rg_gw_new(fx->cfg, 1, &fx->gw), 0);
	if (use_fake)
		rg_gw_set_lookup(fx->gw, fake_lookup, &fx->fake, 3);
	err[0] = 0;
	for (i = 0; i < fx->cfg->n_targets; i++) {
		ret = rg_gw_add_target(fx->gw, &fx->cfg->targets[i], NULL, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* The gateway with one DNS-named target "db" resolved through the fake lookup. */
static const struct rg_gw_target *start_db(struct fixture *fx)
{
	char err[256];

	assert_int_equal(build(fx, LISTENERS TARGET("db", "db.example.internal:5432"), true, err,
			       sizeof(err)),
			 0);
	return rg_gw_target(fx->gw, "db");
}

static void teardown_fx(struct fixture *fx)
{
	rg_gw_free(fx->gw);
	rg_config_free(fx->cfg);
}

/* Poll (1 ms) until the target's first address is want, for at most 2 s. */
static bool eventually_first(const struct rg_gw_target *t, const char *want)
{
	double until = now_s() + 2.0;
	char buf[80];
	int n;

	do {
		if (strcmp(addr_of(t, 0, &n, buf, sizeof(buf)), want) == 0)
			return true;
		sleep_ms(1);
	} while (now_s() < until);
	return false;
}

static void test_dns_target_follows_a_then_b_and_keeps_b_on_failure(void **state)
{
	struct fixture fx;
	const struct rg_gw_target *t;
	char buf[80];
	unsigned calls;
	int n;

	(void)state;
	t = start_db(&fx);
	assert_true(rg_gw_resolver_running(fx.gw));
	assert_non_null(t);
	/* set A at startup, in the resolver's order */
	assert_string_equal(addr_of(t, 0, &n, buf, sizeof(buf)), "10.0.0.1 5432");
	assert_int_equal(n, 3);
	assert_string_equal(addr_of(t, 1, &n, buf, sizeof(buf)), "10.0.0.2 5432");
	assert_string_equal(addr_of(t, 2, &n, buf, sizeof(buf)), "fd00::1 5432");

	atomic_store(&fx.fake.phase, PHASE_B);
	assert_true(eventually_first(t, "10.0.1.7 5432"));
	assert_string_equal(addr_of(t, 1, &n, buf, sizeof(buf)), "fd00::7 5432");
	assert_int_equal(n, 2);

	/* failures keep B: wait for a few failed lookups, then look again */
	atomic_store(&fx.fake.phase, PHASE_FAIL);
	calls = atomic_load(&fx.fake.fails);
	{
		double until = now_s() + 2.0;

		while (atomic_load(&fx.fake.fails) < calls + 3 && now_s() < until)
			sleep_ms(1);
	}
	assert_true(atomic_load(&fx.fake.fails) >= calls + 3);
	assert_string_equal(addr_of(t, 0, &n, buf, sizeof(buf)), "10.0.1.7 5432");
	assert_string_equal(addr_of(t, 1, &n, buf, sizeof(buf)), "fd00::7 5432");
	assert_int_equal(n, 2);

	/* and it recovers */
	atomic_store(&fx.fake.phase, PHASE_A);
	assert_true(eventually_first(t, "10.0.0.1 5432"));
	teardown_fx(&fx);
}

static void test_attempt_numbers_wrap(void **state)
{
	struct fixture fx;
	const struct rg_gw_target *t;
	char buf[80];
	unsigned i;
	int n;

	(void)state;
	t = start_db(&fx);
	for (i = 0; i < 7; i++) {
		char want[80];

		snprintf(want, sizeof(want), "%s 5432", set_a[i % 3]);
		assert_string_equal(addr_of(t, i, &n, buf, sizeof(buf)), want);
		assert_int_equal(n, 3);
	}
	assert_string_equal(addr_of(t, 0xffffffffu, &n, buf, sizeof(buf)), "10.0.0.1 5432");
	teardown_fx(&fx);
}

static void test_duplicates_dropped_and_set_capped_at_8(void **state)
{
	struct fixture fx;
	const struct rg_gw_target *t;
	char buf[80], want[80];
	unsigned i;
	int n;

	(void)state;
	t = start_db(&fx);
	atomic_store(&fx.fake.phase, PHASE_MANY);
	assert_true(eventually_first(t, "192.0.2.1 5432"));
	assert_string_equal(addr_of(t, 0, &n, buf, sizeof(buf)), "192.0.2.1 5432");
	for (i = 0; i < 8; i++) {
		snprintf(want, sizeof(want), "192.0.2.%u 5432", i + 1);
		assert_string_equal(addr_of(t, i, &n, buf, sizeof(buf)), want);
		assert_int_equal(n, 8);
	}
	teardown_fx(&fx);
}

static void test_reordered_answer_is_not_a_change(void **state)
{
	struct fixture fx;
	const struct rg_gw_target *t;
	char buf[80];
	unsigned calls;
	int n;

	(void)state;
	t = start_db(&fx);
	atomic_store(&fx.fake.phase, PHASE_A_REVERSED);
	calls = atomic_load(&fx.fake.calls);
	while (atomic_load(&fx.fake.calls) < calls + 3)
		sleep_ms(1);
	assert_string_equal(addr_of(t, 0, &n, buf, sizeof(buf)), "10.0.0.1 5432");
	assert_string_equal(addr_of(t, 2, &n, buf, sizeof(buf)), "fd00::1 5432");
	teardown_fx(&fx);
}

struct reader {
	const struct rg_gw_target *t;
	atomic_bool *stop;
	unsigned seen_a, seen_b, bad;
};

/* Every copy must be whole and belong to the set whose count came with it. */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	unsigned attempt = 0;
	char buf[80], want[80];
	int n;

	while (!atomic_load(r->stop)) {
		struct sockaddr_storage ss;
		socklen_t len;

		n = rg_gw_target_addr(r->t, attempt, &ss, &len);
		fmt(&ss, buf, sizeof(buf));
		if (n == 3) {
			snprintf(want, sizeof(want), "%s 5432", set_a[attempt % 3]);
			r->seen_a++;
		} else if (n == 2) {
			snprintf(want, sizeof(want), "%s 5432", set_b[attempt % 2]);
			r->seen_b++;
		} else {
			want[0] = 0;
		}
		if (strcmp(buf, want) ||
		    len != (ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
						    : sizeof(struct sockaddr_in6)))
			r->bad++;
		attempt++;
	}
	return NULL;
}

static void test_readers_racing_the_resolver_see_whole_sets(void **state)
{
	struct fixture fx;
	struct reader rd[4];
	pthread_t th[4];
	atomic_bool stop = false;
	const struct rg_gw_target *t;
	double until;
	unsigned i, flips = 0;

	(void)state;
	t = start_db(&fx);
	for (i = 0; i < 4; i++) {
		rd[i] = (struct reader){.t = t, .stop = &stop};
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
	}
	until = now_s() + 0.3;
	while (now_s() < until) {
		atomic_store(&fx.fake.phase, flips++ % 2 ? PHASE_A : PHASE_B);
		sleep_ms(4);
	}
	atomic_store(&stop, true);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(rd[i].bad, 0);
		assert_true(rd[i].seen_a + rd[i].seen_b > 0);
	}
	teardown_fx(&fx);
}

static void test_numeric_and_unix_targets_never_start_the_thread(void **state)
{
	struct fixture fx;
	const struct rg_gw_target *t;
	char err[256], buf[80];
	unsigned i;
	int n;

	(void)state;
	assert_int_equal(build(&fx,
			       LISTENERS TARGET("v4", "127.0.0.1:5432") TARGET("v6", "'[::1]:5433'")
				   TARGET("sock", "/run/pg/.s.PGSQL.5432"),
			       true, err, sizeof(err)),
			 0);
	assert_false(rg_gw_resolver_running(fx.gw));
	sleep_ms(20);
	assert_int_equal(atomic_load(&fx.fake.calls), 0);
	for (i = 0; i < 3; i++) {
		t = rg_gw_target(fx.gw, "v4");
		assert_string_equal(addr_of(t, i, &n, buf, sizeof(buf)), "127.0.0.1 5432");
		assert_int_equal(n, 1);
		t = rg_gw_target(fx.gw, "v6");
		assert_string_equal(addr_of(t, i, &n, buf, sizeof(buf)), "::1 5433");
		t = rg_gw_target(fx.gw, "sock");
		assert_string_equal(addr_of(t, i, &n, buf, sizeof(buf)),
				    "unix /run/pg/.s.PGSQL.5432");
		assert_int_equal(n, 1);
	}
	teardown_fx(&fx);
}

static void test_unresolvable_name_at_startup_is_a_config_error(void **state)
{
	struct fixture fx;
	char err[256];

	(void)state;
	memset(&fx, 0, sizeof(fx));
	assert_int_equal(rg_config_parse(LISTENERS TARGET("db", "db.example.internal:5432"),
					 strlen(LISTENERS TARGET("db", "db.example.internal:5432")),
					 "t.yaml", "/etc/rg", &fx.cfg, stderr),
			 0);
	assert_int_equal(rg_gw_new(fx.cfg, 1, &fx.gw), 0);
	atomic_store(&fx.fake.phase, PHASE_FAIL);
	rg_gw_set_lookup(fx.gw, fake_lookup, &fx.fake, 3);
	assert_true(rg_gw_add_target(fx.gw, &fx.cfg->targets[0], NULL, err, sizeof(err)) < 0);
	assert_string_equal(err, "7:5: target db: cannot resolve db.example.internal: Temporary "
				 "failure in name resolution");
	assert_false(rg_gw_resolver_running(fx.gw));
	assert_null(rg_gw_target(fx.gw, "db"));
	teardown_fx(&fx);
}

static void test_localhost_resolves_with_the_real_resolver(void **state)
{
	struct fixture fx;
	const struct rg_gw_target *t;
	char err[256], buf[80];
	double t0;
	int i, n;

	(void)state;
	assert_int_equal(
	    build(&fx, LISTENERS TARGET("local", "localhost:54329"), false, err, sizeof(err)), 0);
	assert_true(rg_gw_resolver_running(fx.gw));
	t = rg_gw_target(fx.gw, "local");
	addr_of(t, 0, &n, buf, sizeof(buf));
	assert_true(n >= 1 && n <= 8);
	for (i = 0; i < n; i++) {
		addr_of(t, (unsigned)i, &n, buf, sizeof(buf));
		if (strcmp(buf, "127.0.0.1 54329") && strcmp(buf, "::1 54329"))
			fail_msg("localhost resolved to %s", buf);
	}
	/* the resolver sleeps 30 s between rounds: stopping it must not wait for that */
	t0 = now_s();
	teardown_fx(&fx);
	assert_true(now_s() - t0 < 2.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dns_target_follows_a_then_b_and_keeps_b_on_failure),
	    cmocka_unit_test(test_attempt_numbers_wrap),
	    cmocka_unit_test(test_duplicates_dropped_and_set_capped_at_8),
	    cmocka_unit_test(test_reordered_answer_is_not_a_change),
	    cmocka_unit_test(test_readers_racing_the_resolver_see_whole_sets),
	    cmocka_unit_test(test_numeric_and_unix_targets_never_start_the_thread),
	    cmocka_unit_test(test_unresolvable_name_at_startup_is_a_config_error),
	    cmocka_unit_test(test_localhost_resolves_with_the_real_resolver),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
