/*
 * Unit tests for the /metrics families of the protocol modules' counters (telemetry.c): one
 * sample per protocol module, labelled protocol="postgres" / "mysql" in the order the modules
 * added their counters, each family's HELP and TYPE once; families without a protocol label
 * sum every protocol; the policy generation is the gateway's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway.h"
#include "telemetry.h"

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_every_protocol_gets_its_own_samples(void **state)
{
	struct rg_gw_counters *pg, *my;
	struct rg_telemetry_src src = {.version = "t"};
	struct rg_gw *gw;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(rg_gw_new(NULL, 2, &gw), 0);
	assert_int_equal(rg_gw_counters_add(gw, "postgres", &pg), 0);
	assert_int_equal(rg_gw_counters_add(gw, "mysql", &my), 0);
	pg[0].sessions = 2;
	pg[1].sessions = 1;
	my[1].sessions = 5;
	pg[0].stmt_denied = 1;
	my[0].stmt_denied = 4;
	pg[1].lexing_denied = 2;
	my[0].lexing_denied = 3;
	rg_gw_count_rule(&my[1], "base.no-drop", RG_GW_VERDICT_DENY);
	src.svc = gw;
	assert_int_equal(rg_telemetry_render(&src, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "ringgate_sessions_total{protocol=\"postgres\"} 3\n"
				     "ringgate_sessions_total{protocol=\"mysql\"} 5\n"));
	assert_non_null(strstr(text, "ringgate_statements_total{protocol=\"postgres\","
				     "verdict=\"deny\"} 1\n"));
	assert_non_null(strstr(text, "ringgate_statements_total{protocol=\"mysql\","
				     "verdict=\"deny\"} 4\n"));
	assert_non_null(strstr(text, "ringgate_rule_statements_total{protocol=\"mysql\","
				     "rule=\"base.no-drop\",verdict=\"deny\"} 1\n"));
	assert_non_null(strstr(text, "\nringgate_lexing_denied_total 5\n"));
	assert_non_null(strstr(text, "\nringgate_policy_generation 0\n"));
	assert_int_equal(count(text, "# TYPE ringgate_sessions_total "), 1);
	assert_int_equal(count(text, "# TYPE ringgate_statement_duration_seconds "), 1);
	assert_int_equal(count(text, "ringgate_statement_duration_seconds_count{protocol="), 2);
	free(text);
	rg_gw_free(gw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_protocol_gets_its_own_samples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
