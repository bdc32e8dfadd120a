/*
 * Unit tests for the protocol modules' counters (counters.c): each module that adds counters
 * gets one zeroed block per worker under its protocol name, in the order added; a sum is per
 * module, over every worker or one; statements decided by a rule are counted by rule id,
 * merged across workers by id, the first verdict kept, ids too long for a slot counted as
 * "other".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateway.h"

static const struct rg_gw_rule_cnt *rule(const struct rg_gw_counters *c, const char *id)
{
	for (unsigned k = 0; k < RG_GW_RULE_SLOTS; k++)
		if (c->rules[k].used && !strcmp(c->rules[k].id, id))
			return &c->rules[k];
	return NULL;
}

static void test_each_protocol_sums_its_own_workers(void **state)
{
	struct rg_gw_counters *pg, *my, out;
	struct rg_gw *gw;

	(void)state;
	assert_int_equal(rg_gw_new(NULL, 2, &gw), 0);
	assert_int_equal(rg_gw_counters_protocols(gw), 0);
	assert_int_equal(rg_gw_counters_add(gw, "postgres", &pg), 0);
	assert_int_equal(rg_gw_counters_add(gw, "mysql", &my), 0);
	assert_int_equal(rg_gw_counters_protocols(gw), 2);
	assert_int_equal((uintptr_t)pg % 64, 0);
	assert_int_equal(pg[1].sessions, 0); /* zeroed */
	pg[0].sessions = 2;
	pg[1].sessions = 1;
	pg[1].auth_fail_by[3] = 4;
	my[1].sessions = 7;
	rg_gw_lat_observe(&my[0].stmt_lat, 3); /* bucket 1: [2, 4) µs */
	assert_string_equal(rg_gw_counters_sum(gw, 0, -1, &out), "postgres");
	assert_int_equal(out.sessions, 3);
	assert_int_equal(out.auth_fail_by[3], 4);
	assert_int_equal(out.stmt_lat.count, 0);
	assert_string_equal(rg_gw_counters_sum(gw, 0, 1, &out), "postgres");
	assert_int_equal(out.sessions, 1);
	assert_string_equal(rg_gw_counters_sum(gw, 1, -1, &out), "mysql");
	assert_int_equal(out.sessions, 7);
	assert_int_equal(out.stmt_lat.count, 1);
	assert_int_equal(out.stmt_lat.bucket[1], 1);
	assert_int_equal(out.stmt_lat.sum_us, 3);
	rg_gw_free(gw);
}

static void test_rules_are_counted_by_id_across_workers(void **state)
{
	char long_id[80];
	struct rg_gw_counters *c, out;
	const struct rg_gw_rule_cnt *r;
	struct rg_gw *gw;

	(void)state;
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(rg_gw_new(NULL, 2, &gw), 0);
	assert_int_equal(rg_gw_counters_add(gw, "postgres", &c), 0);
	rg_gw_count_rule(&c[0], "base.no-drop", RG_GW_VERDICT_DENY);
	rg_gw_count_rule(&c[0], "base.no-drop", RG_GW_VERDICT_DENY);
	rg_gw_count_rule(&c[1], "base.no-drop", RG_GW_VERDICT_DENY);
	rg_gw_count_rule(&c[1], "t.audit", RG_GW_VERDICT_LOG);
	rg_gw_count_rule(&c[1], long_id, RG_GW_VERDICT_DENY);
	rg_gw_counters_sum(gw, 0, -1, &out);
	assert_non_null(r = rule(&out, "base.no-drop"));
	assert_int_equal(r->n, 3);
	assert_int_equal(r->verdict, RG_GW_VERDICT_DENY);
	assert_non_null(r = rule(&out, "t.audit"));
	assert_int_equal(r->n, 1);
	assert_int_equal(r->verdict, RG_GW_VERDICT_LOG);
	assert_int_equal(out.rule_other, 1);
	rg_gw_free(gw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_protocol_sums_its_own_workers),
	    cmocka_unit_test(test_rules_are_counted_by_id_across_workers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
