/*
 * Unit tests for the control store (engine/control) on a SQLite file in a temp dir: a request
 * round-trips; only a member of its reviewer group who is not its requester decides it, once
 * (the second decision and every later end lose); a decision past the expiry expires it; a
 * fingerprint-scoped approval leaves a grant for the same identity, target and fingerprint
 * until its TTL; expiry, withdrawal and a node's abandonment each end pending requests and
 * notify; the file survives a reopen.
 * With RG_CONTROL_PG set to a libpq conninfo the same cases run against that PostgreSQL
 * (integ test_control_pg starts one): notifications then come through LISTEN/NOTIFY.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <time.h>

#include "control.h"

struct fx {
	char dir[64], path[96];
	const char *pg; /* RG_CONTROL_PG, or NULL: SQLite */
	struct rg_control *c;
	pthread_mutex_t mu;
	int notified;
	enum rg_appr_status last;
};

static void on_change(void *arg, const struct rg_appr *a)
{
	struct fx *x = arg;

	pthread_mutex_lock(&x->mu);
	x->notified++;
	x->last = a->status;
	pthread_mutex_unlock(&x->mu);
}

/* The notify count once it reached n (PostgreSQL: it comes from the LISTEN thread). */
static int notified(struct fx *x, int n)
{
	for (int i = 0; i < 500; i++) {
		int v;

		pthread_mutex_lock(&x->mu);
		v = x->notified;
		pthread_mutex_unlock(&x->mu);
		if (v >= n || !x->pg)
			return v;
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	return x->notified;
}

static int open_store(struct fx *x)
{
	char err[256];

	return x->pg ? rg_control_open_pg(x->pg, &x->c, err, sizeof(err))
		     : rg_control_open_sqlite(x->path, &x->c, err, sizeof(err));
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	pthread_mutex_init(&x->mu, NULL);
	x->pg = getenv("RG_CONTROL_PG");
	snprintf(x->dir, sizeof(x->dir), "/tmp/rg-control-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->path, sizeof(x->path), "%s/control.db", x->dir);
	if (x->pg) { /* every case on empty tables */
		PGconn *pc = PQconnectdb(x->pg);

		assert_int_equal(PQstatus(pc), CONNECTION_OK);
		PQclear(PQexec(pc, "SET client_min_messages = warning; DROP TABLE IF EXISTS "
				   "ringgate_approvals, ringgate_grants"));
		PQfinish(pc);
	}
	assert_int_equal(open_store(x), 0);
	rg_control_set_notify(x->c, on_change, x);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char p[128];

	rg_control_close(x->c);
	unlink(x->path);
	snprintf(p, sizeof(p), "%s-wal", x->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", x->path);
	unlink(p);
	rmdir(x->dir);
	pthread_mutex_destroy(&x->mu);
	free(x);
	return 0;
}

static char *groups_agent[] = {"agents"};

static void request_fp(struct fx *x, struct rg_appr *a, enum rg_appr_scope scope, int64_t now,
		       const char *fp)
{
	memset(a, 0, sizeof(*a));
	assert_int_equal(rg_control_new_id(a->id), 0);
	snprintf(a->node, sizeof(a->node), "node-a");
	a->scope = scope;
	a->grant_ttl_s = 60;
	a->created_ms = now;
	a->expires_ms = now + 300000;
	a->issuer = "https://iss/";
	a->subject = "agent-1";
	a->groups = groups_agent;
	a->ngroups = 1;
	a->peer = "127.0.0.1:5000";
	a->target = "demo";
	a->rule = "approvals.customers-writes";
	a->reviewers = "reviewers";
	a->sql = "UPDATE customers SET note = 'x' WHERE name = 'Ada'";
	a->fingerprint = (char *)fp;
	assert_int_equal(rg_control_insert(x->c, a), 0);
}

static void request(struct fx *x, struct rg_appr *a, enum rg_appr_scope scope, int64_t now)
{
	request_fp(x, a, scope, now, "0123456789abcdef");
}

static const char *const reviewer_groups[] = {"staff", "reviewers"};
static const char *const other_groups[] = {"staff"};

static void test_round_trip_and_list(void **state)
{
	struct fx *x = *state;
	struct rg_appr a, *got, **v;
	size_t n;

	request(x, &a, RG_APPR_SCOPE_ONCE, 1000);
	assert_int_equal(rg_control_get(x->c, a.id, &got), 0);
	assert_string_equal(got->id, a.id);
	assert_int_equal(got->status, RG_APPR_PENDING);
	assert_string_equal(got->sql, a.sql);
	assert_string_equal(got->subject, "agent-1");
	assert_int_equal(got->ngroups, 1);
	assert_string_equal(got->groups[0], "agents");
	assert_int_equal(got->expires_ms, 301000);
	assert_null(got->decided_by);
	rg_appr_free(got);
	assert_int_equal(rg_control_get(x->c, "nope", &got), RG_CONTROL_E_NOT_FOUND);
	assert_int_equal(rg_control_list(x->c, RG_APPR_PENDING, 0, &v, &n), 0);
	assert_int_equal(n, 1);
	rg_appr_list_free(v, n);
	assert_int_equal(rg_control_list(x->c, RG_APPR_APPROVED, 0, &v, &n), 0);
	assert_int_equal(n, 0);
	rg_appr_list_free(v, n);
	assert_int_equal(rg_control_next_expiry(x->c), 301000);
}

static void test_who_decides_and_only_once(void **state)
{
	struct fx *x = *state;
	struct rg_appr a, *got;

	request(x, &a, RG_APPR_SCOPE_ONCE, 1000);
	/* the requester, even in the group, cannot */
	assert_int_equal(rg_control_decide(x->c, a.id, true, "https://iss/", "agent-1",
					   reviewer_groups, 2, "ok", 2000, NULL),
			 RG_CONTROL_E_SELF);
	assert_int_equal(rg_control_decide(x->c, a.id, true, "https://iss/", "bob", other_groups,
					   1, "ok", 2000, NULL),
			 RG_CONTROL_E_NOT_REVIEWER);
	assert_int_equal(notified(x, 0), 0);
	assert_int_equal(rg_control_decide(x->c, a.id, false, "https://iss/", "alice",
					   reviewer_groups, 2, "not today", 2000, &got),
			 0);
	assert_int_equal(got->status, RG_APPR_DENIED);
	assert_string_equal(got->decided_by, "alice");
	assert_string_equal(got->reason, "not today");
	assert_int_equal(got->decided_ms, 2000);
	rg_appr_free(got);
	assert_int_equal(notified(x, 1), 1);
	assert_int_equal(x->last, RG_APPR_DENIED);
	/* a second decision, and any other end, lose */
	assert_int_equal(rg_control_decide(x->c, a.id, true, "https://iss/", "carol",
					   reviewer_groups, 2, "", 2100, NULL),
			 RG_CONTROL_E_NOT_PENDING);
	assert_int_equal(rg_control_finish(x->c, a.id, RG_APPR_WITHDRAWN, 2200),
			 RG_CONTROL_E_NOT_PENDING);
	if (x->pg)
		nanosleep(&(struct timespec){0, 200000000}, NULL); /* nothing more comes */
	assert_int_equal(notified(x, 1), 1);
	assert_int_equal(rg_control_next_expiry(x->c), INT64_MAX);
}

static void test_late_decision_expires(void **state)
{
	struct fx *x = *state;
	struct rg_appr a, *got;

	request(x, &a, RG_APPR_SCOPE_ONCE, 1000);
	assert_int_equal(rg_control_decide(x->c, a.id, true, "https://iss/", "alice",
					   reviewer_groups, 2, "ok", 301000, NULL),
			 RG_CONTROL_E_EXPIRED);
	assert_int_equal(rg_control_get(x->c, a.id, &got), 0);
	assert_int_equal(got->status, RG_APPR_EXPIRED);
	rg_appr_free(got);
	assert_int_equal(notified(x, 1), 1);
	assert_int_equal(x->last, RG_APPR_EXPIRED);
}

static void test_fingerprint_grant(void **state)
{
	struct fx *x = *state;
	struct rg_appr a, b;

	request(x, &a, RG_APPR_SCOPE_FINGERPRINT, 1000);
	assert_int_equal(rg_control_granted(x->c, "https://iss/", "agent-1", "demo",
					    "0123456789abcdef", 2000),
			 0);
	assert_int_equal(rg_control_decide(x->c, a.id, true, "https://iss/", "alice",
					   reviewer_groups, 2, "backfill", 2000, NULL),
			 0);
	assert_int_equal(rg_control_granted(x->c, "https://iss/", "agent-1", "demo",
					    "0123456789abcdef", 2001),
			 1);
	/* another identity, target or fingerprint, or after the TTL (60 s): no */
	assert_int_equal(rg_control_granted(x->c, "https://iss/", "agent-2", "demo",
					    "0123456789abcdef", 2001),
			 0);
	assert_int_equal(rg_control_granted(x->c, "https://iss/", "agent-1", "prod",
					    "0123456789abcdef", 2001),
			 0);
	assert_int_equal(rg_control_granted(x->c, "https://iss/", "agent-1", "demo",
					    "fedcba9876543210", 2001),
			 0);
	assert_int_equal(rg_control_granted(x->c, "https://iss/", "agent-1", "demo",
					    "0123456789abcdef", 62000),
			 0);
	/* a once-scoped approval leaves none */
	request_fp(x, &b, RG_APPR_SCOPE_ONCE, 1000, "1111111111111111");
	assert_int_equal(rg_control_decide(x->c, b.id, true, "https://iss/", "alice",
					   reviewer_groups, 2, "", 2000, NULL),
			 0);
	assert_int_equal(rg_control_granted(x->c, "https://iss/", "agent-1", "demo",
					    "1111111111111111", 2001),
			 0);
}

static void test_expire_withdraw_abandon(void **state)
{
	struct fx *x = *state;
	struct rg_appr a, b, c, *got;

	request(x, &a, RG_APPR_SCOPE_ONCE, 1000);    /* expires at 301000 */
	request(x, &b, RG_APPR_SCOPE_ONCE, 100000);  /* 400000 */
	request(x, &c, RG_APPR_SCOPE_ONCE, 200000);  /* 500000 */
	assert_int_equal(rg_control_expire(x->c, 300999), 0);
	assert_int_equal(rg_control_expire(x->c, 301000), 1);
	assert_int_equal(notified(x, 1), 1);
	assert_int_equal(x->last, RG_APPR_EXPIRED);
	assert_int_equal(rg_control_finish(x->c, b.id, RG_APPR_WITHDRAWN, 301500), 0);
	assert_int_equal(notified(x, 2), 2);
	assert_int_equal(x->last, RG_APPR_WITHDRAWN);
	assert_int_equal(rg_control_finish(x->c, b.id, RG_APPR_APPROVED, 301500),
			 RG_CONTROL_E_INVALID);
	/* the store outlives the process: reopen, then the node abandons what it held */
	rg_control_close(x->c);
	assert_int_equal(open_store(x), 0);
	rg_control_set_notify(x->c, on_change, x);
	assert_int_equal(rg_control_abandon_node(x->c, "node-b", 302000), 0);
	assert_int_equal(rg_control_abandon_node(x->c, "node-a", 302000), 1);
	assert_int_equal(rg_control_get(x->c, c.id, &got), 0);
	assert_int_equal(got->status, RG_APPR_ABANDONED);
	rg_appr_free(got);
	assert_int_equal(rg_control_get(x->c, a.id, &got), 0);
	assert_int_equal(got->status, RG_APPR_EXPIRED);
	rg_appr_free(got);
}

static void test_status_names(void **state)
{
	(void)state;
	for (int i = 0; i < RG_APPR__COUNT; i++)
		assert_int_equal(rg_appr_status_parse(rg_appr_status_name((enum rg_appr_status)i)),
				 i);
	assert_int_equal(rg_appr_status_parse("nope"), -1);
	assert_int_equal(rg_appr_status_parse(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T_(test_round_trip_and_list),	  T_(test_who_decides_and_only_once),
	    T_(test_late_decision_expires),	  T_(test_fingerprint_grant),
	    T_(test_expire_withdraw_abandon), cmocka_unit_test(test_status_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
