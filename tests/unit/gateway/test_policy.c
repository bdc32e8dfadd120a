/*
 * Unit tests for the policy bundle in force as every protocol module uses it (policy.c):
 * without a bundle every statement passes and the generation is 0; one bundle judges the
 * statements of a postgres and of a mysql request alike, on any worker, with the rule's
 * id, SQLSTATE and message in a denial; require_approval holds only where the module can
 * hold, else it is a denial that says why; a protocol module watching the bundle sees each
 * one before it is in force and can refuse it, the one in force then stays; masking and
 * limits come from the same generation; a session's limits block (rg_gw_limits) holds only
 * what applies to its request, counts past a limit, finds the time limits due and says which
 * limit ended it. Reload with running workers (posted switches,
 * freeing once every worker let go) is covered by the integration tests (test_pg_enforce).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway.h"
#include "policy.h"
#include "rulec.h"

static struct rg_policy *compile(const char *yaml)
{
	struct rulec_program prog;
	struct rulec_diags d = {0};
	struct rulec_buf b = {0};
	struct rg_policy *p = NULL;
	char err[256] = "";
	int rc;

	memset(&prog, 0, sizeof(prog));
	rc = rulec_parse_buffer("t.yaml", yaml, strlen(yaml), &prog, &d);
	if (!rc)
		rc = rulec_check_program(&prog, &d);
	if (d.n)
		rulec_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(rulec_compile(&prog, &b, &d), 0);
	rulec_diags_free(&d);
	rulec_program_free(&prog);
	assert_int_equal(rg_policy_load_mem(b.p, b.n, NULL, &p, err, sizeof(err)), 0);
	rulec_buf_free(&b);
	return p;
}

static const char rules[] = "version: 1\n"
			    "pack: t\n"
			    "rules:\n"
			    "  - id: t.no-drop\n"
			    "    sql:\n"
			    "      operation: drop\n"
			    "    action: deny\n"
			    "    message: no drops here\n"
			    "  - id: t.writes\n"
			    "    sql:\n"
			    "      operation: [update, delete]\n"
			    "      tables: [customers]\n"
			    "    action: require_approval\n"
			    "    approval:\n"
			    "      group: reviewers\n"
			    "      ttl: 15m\n"
			    "      scope: once\n"
			    "      expires: 5m\n";

static const struct rg_request pg_req = {.protocol = "postgres", .target = "db"};
static const struct rg_request my_req = {.protocol = "mysql", .target = "db"};

static enum rg_gw_verdict judge(struct rg_gw *gw, unsigned w, const struct rg_request *req,
				const char *sql, bool approvals, struct rg_gw_deny *d,
				struct rg_gw_judgement *j)
{
	memset(d, 0, sizeof(*d));
	return rg_gw_policy_judge(gw, w, req, sql, strlen(sql), approvals, d, j);
}

static void test_no_bundle_passes_every_statement(void **state)
{
	struct rg_gw_judgement j;
	struct rg_gw_deny d;
	struct rg_gw *gw;

	(void)state;
	assert_int_equal(rg_gw_new(NULL, 2, &gw), 0);
	/* before any bundle was set, and once pass-through was set explicitly */
	assert_int_equal(judge(gw, 0, &pg_req, "DROP TABLE t", false, &d, &j), RG_GW_VERDICT_PASS);
	assert_int_equal(rg_gw_set_policy(gw, NULL, NULL, NULL, 0), 0);
	assert_int_equal(rg_gw_policy_gen(gw), 0);
	assert_int_equal(judge(gw, 1, &my_req, "DROP TABLE t", false, &d, &j), RG_GW_VERDICT_PASS);
	assert_int_equal(j.gen, 0);
	assert_null(j.rule);
	assert_string_equal(d.message, "");
	rg_gw_free(gw);
}

static void test_one_bundle_judges_every_protocol_on_every_worker(void **state)
{
	struct rg_gw_judgement j;
	struct rg_gw_deny d;
	struct rg_gw *gw;
	unsigned w;

	(void)state;
	assert_int_equal(rg_gw_new(NULL, 3, &gw), 0);
	assert_int_equal(rg_gw_set_policy(gw, NULL, compile(rules), NULL, 0), 0);
	assert_int_equal(rg_gw_policy_gen(gw), 1);
	for (w = 0; w < 3; w++) {
		assert_int_equal(judge(gw, w, &pg_req, "DROP TABLE t", false, &d, &j),
				 RG_GW_VERDICT_DENY);
		assert_int_equal(j.gen, 1);
		assert_string_equal(j.rule, "t.no-drop");
		assert_string_equal(d.sqlstate, "42501");
		assert_string_equal(d.message, "denied by policy rule t.no-drop: no drops here");
		assert_int_equal(judge(gw, w, &my_req, "DROP TABLE `t`", false, &d, &j),
				 RG_GW_VERDICT_DENY);
		assert_string_equal(j.rule, "t.no-drop");
		assert_int_equal(judge(gw, w, &pg_req, "SELECT 1", false, &d, &j),
				 RG_GW_VERDICT_ALLOW);
		assert_int_equal(judge(gw, w, &my_req, "SELECT 1", false, &d, &j),
				 RG_GW_VERDICT_ALLOW);
		assert_int_equal(j.gen, 1);
	}
	rg_gw_free(gw);
}

static void test_approval_holds_only_where_the_module_can_hold(void **state)
{
	const char *sql = "DELETE FROM customers WHERE id = 1";
	struct rg_gw_judgement j;
	struct rg_gw_deny d;
	struct rg_gw *gw;

	(void)state;
	assert_int_equal(rg_gw_new(NULL, 1, &gw), 0);
	assert_int_equal(rg_gw_set_policy(gw, NULL, compile(rules), NULL, 0), 0);
	assert_int_equal(judge(gw, 0, &pg_req, sql, true, &d, &j), RG_GW_VERDICT_HOLD);
	assert_string_equal(j.rule, "t.writes");
	assert_string_equal(j.approval_group, "reviewers");
	assert_int_equal(j.approval_ttl_s, 15 * 60);
	assert_int_equal(j.approval_expire_s, 5 * 60);
	assert_string_equal(d.message, "statement requires approval (rule t.writes)");
	assert_int_equal(judge(gw, 0, &my_req, sql, false, &d, &j), RG_GW_VERDICT_DENY);
	assert_null(j.approval_group);
	assert_string_equal(d.sqlstate, "42501");
	assert_string_equal(d.message, "statement requires approval (rule t.writes), and "
				       "approvals are not available on this gateway");
	rg_gw_free(gw);
}

struct seen {
	int calls, refuse;
	const struct rg_policy *last;
};

static int watch(void *arg, const struct rg_policy *p)
{
	struct seen *s = arg;

	s->calls++;
	s->last = p;
	return s->refuse ? -ENOMEM : 0;
}

static void test_watchers_see_each_bundle_first_and_may_refuse_it(void **state)
{
	struct seen a = {0}, b = {0};
	struct rg_gw_judgement j;
	struct rg_gw_deny d;
	struct rg_policy *p, *first;
	struct rg_gw *gw;

	(void)state;
	assert_int_equal(rg_gw_new(NULL, 1, &gw), 0);
	assert_int_equal(rg_gw_policy_watch(gw, watch, &a), 0);
	assert_int_equal(rg_gw_policy_watch(gw, watch, &b), 0);
	first = p = compile(rules);
	assert_int_equal(rg_gw_set_policy(gw, NULL, p, NULL, 0), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_ptr_equal(a.last, p);
	assert_ptr_equal(b.last, p);
	/* refused: the caller keeps the bundle, the one in force stays, and a watcher told of
	 * the refused one is told of the one in force again */
	b.refuse = 1;
	p = compile(rules);
	assert_int_equal(rg_gw_set_policy(gw, NULL, p, NULL, 0), -ENOMEM);
	assert_int_equal(a.calls, 3);
	assert_ptr_equal(a.last, first);
	assert_int_equal(b.calls, 2);
	assert_ptr_equal(b.last, p);
	rg_policy_free(p);
	assert_int_equal(rg_gw_policy_gen(gw), 1);
	assert_int_equal(judge(gw, 0, &pg_req, "DROP TABLE t", false, &d, &j), RG_GW_VERDICT_DENY);
	assert_int_equal(j.gen, 1);
	rg_gw_free(gw);
}

static void test_masking_and_limits_follow_the_bundle_in_force(void **state)
{
	struct rg_policy_ctx *ctx;
	struct rg_limits lim;
	struct rg_gw *gw;
	uint64_t gen = 99;

	(void)state;
	assert_int_equal(rg_gw_new(NULL, 2, &gw), 0);
	assert_false(rg_gw_policy_masking(gw, 1, &ctx, &gen));
	assert_null(ctx);
	assert_int_equal(gen, 0);
	assert_int_equal(rg_gw_policy_limits(gw, 1, &pg_req, &lim), 0);
	assert_int_equal(rg_gw_set_policy(gw, NULL,
					  compile("version: 1\n"
						  "pack: t\n"
						  "masks:\n"
						  "  - id: t.mail\n"
						  "    detector: email\n"
						  "    style: redact\n"),
					  (const uint8_t *)"k", 1),
			 0);
	assert_true(rg_gw_policy_masking(gw, 1, &ctx, &gen));
	assert_non_null(ctx);
	assert_int_equal(gen, 1);
	assert_int_equal(rg_gw_policy_limits(gw, 1, &my_req, &lim), 0);
	rg_gw_free(gw);
}

static void test_session_limits_count_and_fall_due(void **state)
{
	struct rg_gw_limits *l = NULL;
	struct rg_gw *gw;
	int64_t left;
	char why[160];

	(void)state;
	assert_int_equal(rg_gw_new(NULL, 1, &gw), 0);
	assert_int_equal(rg_gw_limits_start(gw, 0, &pg_req, 1000, &l), 0);
	assert_null(l); /* no bundle: nothing to enforce, nothing allocated */
	assert_int_equal(rg_gw_set_policy(gw, NULL,
					  compile("version: 1\n"
						  "pack: t\n"
						  "limits:\n"
						  "  - id: t.my\n"
						  "    match: {protocol: mysql}\n"
						  "    max_rows: 2\n"
						  "    idle_timeout: 5s\n"
						  "    max_session_duration: 1m\n"),
					  NULL, 0),
			 0);
	assert_int_equal(rg_gw_limits_start(gw, 0, &pg_req, 1000, &l), 0);
	assert_null(l); /* the entry matches mysql requests only */
	assert_int_equal(rg_gw_limits_start(gw, 0, &my_req, 1000, &l), 0);
	assert_non_null(l);
	assert_string_equal(l->id[RG_LIMIT_ROWS], "t.my");
	assert_string_equal(l->id[RG_LIMIT_STATEMENTS], "");
	assert_false(rg_gw_limits_add(l, RG_LIMIT_ROWS, 2));
	assert_true(rg_gw_limits_add(l, RG_LIMIT_ROWS, 1));
	assert_false(rg_gw_limits_add(l, RG_LIMIT_STATEMENTS, 1000000)); /* not set */
	assert_int_equal(rg_gw_limits_due(l, 3000, &left), -1);
	assert_int_equal(left, 3000); /* idle: 5 s from the login at 1000 */
	l->last_stmt_ms = 59000;
	assert_int_equal(rg_gw_limits_due(l, 60000, &left), -1);
	assert_int_equal(left, 1000); /* the duration's minute is nearer */
	assert_int_equal(rg_gw_limits_due(l, 61000, &left), RG_LIMIT_SESSION_DURATION);
	assert_int_equal(rg_gw_limits_due(l, 64000, &left), RG_LIMIT_SESSION_DURATION);
	l->start_ms = 60000;
	assert_int_equal(rg_gw_limits_due(l, 64000, &left), RG_LIMIT_IDLE_TIMEOUT);
	rg_gw_limits_reason(l, RG_LIMIT_IDLE_TIMEOUT, why, sizeof(why));
	assert_string_equal(why, "idle_timeout 5s (limit t.my) exceeded");
	free(l);
	rg_gw_free(gw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_bundle_passes_every_statement),
	    cmocka_unit_test(test_one_bundle_judges_every_protocol_on_every_worker),
	    cmocka_unit_test(test_approval_holds_only_where_the_module_can_hold),
	    cmocka_unit_test(test_watchers_see_each_bundle_first_and_may_refuse_it),
	    cmocka_unit_test(test_masking_and_limits_follow_the_bundle_in_force),
	    cmocka_unit_test(test_session_limits_count_and_fall_due),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
